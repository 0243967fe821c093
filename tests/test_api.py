"""The public API: every name in ``__all__`` exists and is documented."""

import importlib

import pytest

import otlab

PUBLIC_MODULES = ["otlab", "otlab.costs", "otlab.exact", "otlab.one_d", "otlab.distance"]


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_every_name_in_all_exists_and_has_a_docstring(module_name):
    module = importlib.import_module(module_name)
    assert module.__all__, f"{module_name}.__all__ is empty"
    for name in module.__all__:
        obj = getattr(module, name)
        if callable(obj):
            assert obj.__doc__, f"{module_name}.{name} has no docstring"


def test_version_is_a_string():
    assert isinstance(otlab.__version__, str)
