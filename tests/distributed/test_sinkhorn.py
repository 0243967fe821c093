"""The sharded Sinkhorn solvers on Gloo groups of 2 and 3 processes against one process."""

import numpy as np
import pytest

from otlab.distributed import sharded_sinkhorn

from ._group import failures
from ._checklist import SOLVER, SOLVER_CHECKS


@pytest.mark.parametrize("check", SOLVER_CHECKS)
def test_sharded_solver_on_two_ranks(world2, check):
    assert failures(world2[0], f"{SOLVER}:{check}") == ""


@pytest.mark.parametrize("check", SOLVER_CHECKS)
def test_sharded_solver_on_three_ranks_with_uneven_shards(world3, check):
    assert failures(world3[0], f"{SOLVER}:{check}") == ""


def test_without_a_process_group_the_solver_says_how_to_start_one():
    with pytest.raises(RuntimeError, match="need an initialised process group: launch with "
                                           "torchrun"):
        sharded_sinkhorn(np.zeros((2, 1)), np.ones((2, 1)))
