"""Checks of the data-parallel trainer, run on every rank of a Gloo group (see _group.py)."""

from __future__ import annotations

import warnings

import numpy as np
import torch
import torch.distributed as dist

from otlab.distributed import DistributedReplica
from otlab.gan import CheckpointError, Replica, TrainConfig, UnconditionalGAN, train
from otlab.gan.record import read_checkpoint

TINY = dict(hidden=16, depth=1, batch_size=32, n_critic=2, eval_samples=64, log_every=2,
            lr_d=1e-3, lr_g=1e-3, progress=False, seed=5)


class KeepModels(UnconditionalGAN):
    """The default family, keeping the models it builds (to compare them across ranks)."""

    def build_models(self):
        self.models = super().build_models()
        return self.models


def _flat_parameters(models) -> torch.Tensor:
    return torch.cat([p.detach().reshape(-1) for m in models for p in m.parameters()])


def _same_on_every_rank(t: torch.Tensor) -> bool:
    parts = [torch.empty_like(t) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, t)
    return all(torch.equal(parts[0], p) for p in parts)


def _run(cfg, **kwargs):
    family = KeepModels(cfg)
    history = train(cfg, family=family, **kwargs)
    return history, family.models


def _config(folder, rank, name, **changes):
    # rank > 0 gets a folder of its own: it must stay empty (rank 0 alone writes files)
    out = folder / (name if rank == 0 else f"{name}-rank{rank}")
    return TrainConfig.for_loss("wgan-gp", out=out, **{**TINY, **changes})


def hooks_average_gradients_and_or_flags(rank, world_size, folder):
    replica = DistributedReplica()
    assert (replica.rank, replica.world_size) == (rank, world_size)
    grads = [torch.full((2, 3), float(rank + 1)), torch.full((4,), -2.0 * rank)]
    replica.reduce_gradients(grads)
    mean = (world_size + 1) / 2
    np.testing.assert_allclose(grads[0].numpy(), np.full((2, 3), mean))
    np.testing.assert_allclose(grads[1].numpy(), np.full(4, -(world_size - 1.0)))
    flags = torch.tensor([rank == world_size - 1, False])
    assert replica.any(flags).tolist() == [True, False]
    assert replica.gather({"rank": rank}) == [{"rank": r} for r in range(world_size)]


def averaged_gradient_is_the_gradient_on_the_global_batch(rank, world_size, folder):
    cfg = TrainConfig.for_loss("wgan-gp", **TINY)
    torch.manual_seed(cfg.seed)
    family = UnconditionalGAN(cfg)
    generator, critic = family.build_models()
    torch.manual_seed(100 + rank)  # every rank its own batch
    real, fake, alpha = family.critic_batches(generator, 1)[0]
    params = list(critic.parameters())
    grads = list(torch.autograd.grad(family.critic_loss(critic, real, fake, alpha)[0], params))
    DistributedReplica().reduce_gradients(grads)
    gathered = []
    for t in (real, fake, alpha):
        parts = [torch.empty_like(t) for _ in range(world_size)]
        dist.all_gather(parts, t)
        gathered.append(torch.cat(parts))
    loss = family.critic_loss(critic, *gathered)[0]
    for g, full in zip(grads, torch.autograd.grad(loss, params)):
        np.testing.assert_allclose(g.numpy(), full.numpy(), rtol=1e-4, atol=1e-6)


def rank0_writes_and_replicas_stay_identical(rank, world_size, folder):
    cfg = _config(folder, rank, "run", iters=6, eval_every=3, checkpoint_every=3)
    history, models = _run(cfg)  # no replica given: the initialised group is detected
    assert _same_on_every_rank(_flat_parameters(models))
    losses = torch.tensor([row["d_loss"] for row in history if row["d_loss"] is not None])
    assert not _same_on_every_rank(losses), "every rank should draw its own batches"
    if rank == 0:
        state = read_checkpoint(cfg.out / "checkpoint.pt")
        assert state["iteration"] == 6 and len(state["rng"]) == world_size
        assert [r["iteration"] for r in history if r["exact_w1"] is not None] == [0, 3, 6]
        assert (cfg.out / "history.jsonl").exists()
    else:
        assert not cfg.out.exists(), "only rank 0 writes files"
        assert all(row["exact_w1"] is None for row in history), "only rank 0 evaluates"


def resume_with_the_same_world_size_ends_where_the_uninterrupted_run_ends(
        rank, world_size, folder):
    full, full_models = _run(_config(folder, rank, "full", iters=8, eval_every=4,
                                     checkpoint_every=4))
    _run(_config(folder, rank, "half", iters=4, eval_every=4, checkpoint_every=4))
    resumed, models = _run(_config(folder, rank, "half", iters=8, eval_every=4,
                                   checkpoint_every=4, resume=True))
    if rank == 0:  # (the rows of ranks > 0 are rank 0's once resumed)
        assert resumed == full
    assert torch.equal(_flat_parameters(models), _flat_parameters(full_models))


def resume_with_another_world_size_warns_and_continues(rank, world_size, folder):
    cfg = _config(folder, rank, "alone", iters=4, eval_every=0, checkpoint_every=4)
    if rank == 0:  # a one-process checkpoint, written by rank 0 alone
        train(cfg, replica=Replica())
    dist.barrier()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history, models = _run(cfg.replace(iters=6, resume=True))
    told = [str(w.message) for w in caught if "processes and this run has" in str(w.message)]
    if rank == 0:
        assert len(told) == 1 and f"written by 1 processes and this run has {world_size}" \
            in told[0], told
        assert "effective batch changes from 32 to 64" in told[0], told
    else:
        assert not told
    assert history[-1]["iteration"] == 6
    assert _same_on_every_rank(_flat_parameters(models))


def a_refused_checkpoint_raises_on_every_rank(rank, world_size, folder):
    cfg = _config(folder, rank, "refused", iters=2, eval_every=0, checkpoint_every=2)
    train(cfg)
    try:
        train(cfg.replace(iters=4, resume=True, lr_d=5e-4))
    except CheckpointError as exc:
        assert "differing settings: lr_d" in str(exc), str(exc)
    else:
        raise AssertionError("resuming with another lr_d should raise CheckpointError")
