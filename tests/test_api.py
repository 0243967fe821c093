"""The public API: every name in ``__all__`` exists and is documented."""

import importlib
import subprocess
import sys

import pytest

import otlab

PUBLIC_MODULES = [
    "otlab", "otlab.costs", "otlab.exact", "otlab.one_d", "otlab.distance",
    "otlab.divergences", "otlab.estimators", "otlab.datasets", "otlab.entropic",
    "otlab.critics", "otlab.gan", "otlab.plotting", "otlab.demo",
]


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_every_name_in_all_exists_and_has_a_docstring(module_name):
    module = importlib.import_module(module_name)
    assert module.__all__, f"{module_name}.__all__ is empty"
    for name in module.__all__:
        obj = getattr(module, name)
        if callable(obj):
            assert obj.__doc__, f"{module_name}.{name} has no docstring"


def test_top_level_sinkhorn_is_the_function_not_the_package():
    assert callable(otlab.sinkhorn)
    assert otlab.sinkhorn.__module__.startswith("otlab.entropic")


def test_importing_otlab_does_not_import_torch():
    code = "import sys, otlab; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_unknown_attribute_raises_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'nonexistent'"):
        otlab.nonexistent  # noqa: B018


def test_version_is_a_string():
    assert isinstance(otlab.__version__, str)


def test_convergence_warning_is_public_under_its_short_path():
    import traceback
    import warnings

    import numpy as np

    from otlab.exact import ConvergenceWarning

    assert ConvergenceWarning is otlab.ConvergenceWarning
    assert issubclass(otlab.ConvergenceWarning, UserWarning)
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(60, 2)), rng.normal(size=(60, 2))
    u = np.full(60, 1 / 60)
    with warnings.catch_warnings():
        warnings.simplefilter("error", otlab.ConvergenceWarning)
        with pytest.raises(otlab.ConvergenceWarning) as caught:
            otlab.emd(u, u, otlab.cost_matrix(x, y), max_iter=2)
    shown = "".join(traceback.format_exception_only(caught.type, caught.value))
    assert shown.startswith("otlab.ConvergenceWarning: emd stopped"), shown
