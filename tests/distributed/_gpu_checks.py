"""Checks on CUDA devices over NCCL, one GPU per rank (see test_gpu.py)."""

from __future__ import annotations

import numpy as np
import torch

from otlab.distributed import sharded_sinkhorn, sharded_sinkhorn_divergence
from otlab.entropic import sinkhorn_divergence, sinkhorn_samples

from ._sinkhorn_checks import RTOL, TIGHT, _data, _mine, _same_everywhere
from ._trainer_checks import _config, _flat_parameters, _run


def _cuda(values):
    return torch.tensor(values, device="cuda")


def sharded_solvers_on_cuda_equal_one_process(rank, world_size, folder):
    x, y, a, b = _data(3, weighted=True)
    sx = [len(x) - world_size + 1] + [1] * (world_size - 1)  # a rank with one point
    sy = [len(y) // world_size] * (world_size - 1)
    sy.append(len(y) - sum(sy))
    for backend in ("auto", "tiled"):
        res = sharded_sinkhorn(_cuda(_mine(x, sx, rank)), _cuda(_mine(y, sy, rank)), order=2,
                               a_local=_cuda(_mine(a, sx, rank)),
                               b_local=_cuda(_mine(b, sy, rank)), tol=TIGHT, backend=backend)
        one = sinkhorn_samples(_cuda(x), _cuda(y), _cuda(a), _cuda(b), order=2, tol=TIGHT)
        assert res.f.is_cuda and _same_everywhere(res.cost.item())
        np.testing.assert_allclose(res.cost.item(), one.cost.item(), rtol=RTOL)
    value = sharded_sinkhorn_divergence(_cuda(_mine(x, sx, rank)), _cuda(_mine(y, sy, rank)),
                                        tol=TIGHT)
    one = sinkhorn_divergence(_cuda(x), _cuda(y), tol=TIGHT)
    np.testing.assert_allclose(value.item(), one.item(), rtol=RTOL)


def data_parallel_training_on_cuda_keeps_replicas_identical(rank, world_size, folder):
    cfg = _config(folder, rank, "cuda-run", iters=6, eval_every=3, checkpoint_every=3,
                  device="cuda")
    history, models = _run(cfg)
    assert _same_on_every_rank_cuda(_flat_parameters(models))
    if rank == 0:
        assert (cfg.out / "checkpoint.pt").exists() and history[-1]["exact_w1"] is not None


def _same_on_every_rank_cuda(t):
    return _same_everywhere(t.cpu().numpy().tobytes())
