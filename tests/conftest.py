"""Shared test configuration: hypothesis profiles and the GPU marker.

Profiles: ``ci`` (the default, 25 examples per property: what the README's test
line and CI run, on two cores) and ``thorough`` (1000 examples).  Choose one
with ``--hypothesis-profile NAME`` or the ``HYPOTHESIS_PROFILE`` environment
variable.
"""

import os

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "thorough", max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def _limit_torch_threads() -> None:
    """One torch thread: the many tiny tensors of the tests run faster and the same on
    every machine (results of threaded reductions can differ in the last bits)."""
    try:
        import torch
    except ImportError:
        return
    torch.set_num_threads(1)


_limit_torch_threads()


def _cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


def pytest_collection_modifyitems(config, items):
    if _cuda_available():
        return
    skip = pytest.mark.skip(reason="needs CUDA")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)
