"""One spawned Gloo group per world size for all distributed checks (spawns cost seconds)."""

import pytest

from ._checklist import SOLVER, SOLVER_CHECKS, TRAINER, TRAINER_CHECKS
from ._group import run_checks


@pytest.fixture(scope="session")
def world2(tmp_path_factory):
    """Results of the solver and trainer checks on 2 Gloo ranks, and their folder."""
    folder = tmp_path_factory.mktemp("world2")
    names = [f"{SOLVER}:{c}" for c in SOLVER_CHECKS] + [f"{TRAINER}:{c}" for c in TRAINER_CHECKS]
    return run_checks(2, names, folder), folder


@pytest.fixture(scope="session")
def world3(tmp_path_factory):
    """Results of the solver checks on 3 Gloo ranks (uneven shards, a rank with one point)."""
    folder = tmp_path_factory.mktemp("world3")
    return run_checks(3, [f"{SOLVER}:{c}" for c in SOLVER_CHECKS], folder), folder
