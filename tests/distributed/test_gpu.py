"""The sharded solvers and the data-parallel trainer on CUDA over NCCL (one GPU per rank)."""

import pytest

from ._group import failures, run_checks

GPU = "tests.distributed._gpu_checks"
CHECKS = ["sharded_solvers_on_cuda_equal_one_process",
          "data_parallel_training_on_cuda_keeps_replicas_identical"]


@pytest.fixture(scope="module")
def nccl_results(tmp_path_factory):
    import torch

    world_size = min(2, torch.cuda.device_count())  # NCCL wants a GPU of its own per rank
    folder = tmp_path_factory.mktemp("nccl")
    return run_checks(world_size, [f"{GPU}:{c}" for c in CHECKS], folder, backend="nccl")


@pytest.mark.gpu
@pytest.mark.parametrize("check", CHECKS)
def test_on_cuda_over_nccl(nccl_results, check):
    assert failures(nccl_results, f"{GPU}:{check}") == ""
