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


def test_cost_overflow_warning_is_public_next_to_convergence_warning():
    # three docstrings linked otlab.CostOverflowWarning, which otlab did not export
    import warnings

    from otlab._warnings import CostOverflowWarning

    assert "CostOverflowWarning" in otlab.__all__
    assert otlab.CostOverflowWarning is CostOverflowWarning
    assert issubclass(otlab.CostOverflowWarning, otlab.ConvergenceWarning)
    with warnings.catch_warnings(record=True) as caught:  # masses 1e300: the value overflows
        warnings.simplefilter("always")
        res = otlab.unbalanced_sinkhorn([1e300], [1e300], [[1.0]], 0.1, rho=1.0)
    assert not res.converged
    overflow = [w for w in caught if w.category is otlab.CostOverflowWarning]
    assert overflow
    assert otlab.CostOverflowWarning.__module__ == "otlab"  # tracebacks show the public path


def test_every_otlab_name_the_docstrings_and_docs_link_exists():
    # :class:`~otlab.CostOverflowWarning` was linked from three docstrings but not exported
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    pattern = re.compile(r":(?:class|func|data|exc|mod|meth|attr):`~?otlab\.([A-Za-z_]\w*)")
    names = set()
    for path in [*(root / "otlab").rglob("*.py"), *(root / "docs").rglob("*.rst")]:
        names.update(pattern.findall(path.read_text(encoding="utf-8")))
    missing = []
    for name in sorted(names):
        try:
            getattr(otlab, name)
        except AttributeError:
            try:
                importlib.import_module(f"otlab.{name}")
            except ImportError:
                missing.append(name)
    assert not missing, f"linked as otlab.NAME but not there: {missing}"
