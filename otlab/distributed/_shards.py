"""The collectives of a sharded problem, combined in rank order so every rank gets the same bits.

A sharded Sinkhorn loop runs on every rank at once and decides on every rank
when to stop and whether to keep an accelerated step.  Those decisions are
taken on replicated vectors, so the vectors must be *bitwise* the same on
every rank.  :class:`Shards` therefore combines partial results by gathering
them (``all_gather``) and reducing them locally in rank order: every rank
performs the same floating-point operations on the same numbers.  Each
gather also says what it gathers (one of :data:`KINDS`), so ranks that fell
out of step (one gathers row potentials while another gathers column
partials) raise :class:`OutOfStepError` instead of mixing data.
"""

from __future__ import annotations

import time

import torch
import torch.distributed as dist

__all__ = ["Shards", "OutOfStepError", "KINDS"]

#: What a gather may carry; the index travels with the data and must agree on every rank.
KINDS = ("points", "weights", "rows", "cols", "total", "plan")


class OutOfStepError(RuntimeError):
    """The ranks reached different collectives (their inputs or software differ)."""


class Shards:
    """Rank, world size and in-order collectives over a process group.

    Parameters
    ----------
    group : ProcessGroup, optional
        Default: the world.

    Attributes
    ----------
    seconds : float
        Wall time spent in collectives (waiting for slower ranks included).
    """

    def __init__(self, group=None):
        if not (dist.is_available() and dist.is_initialized()):
            raise RuntimeError(
                "the sharded solvers need an initialised process group: launch with torchrun "
                "and call torch.distributed.init_process_group on every rank first")
        self.group = group
        self.rank = dist.get_rank(group)
        self.world_size = dist.get_world_size(group)
        nccl = dist.get_backend(group) == "nccl"
        self.device = torch.device("cuda", torch.cuda.current_device()) if nccl else \
            torch.device("cpu")
        self.seconds = 0.0

    def objects(self, obj) -> list:
        """``obj`` of every rank, in rank order (``all_gather_object``)."""
        out = [None] * self.world_size
        start = time.perf_counter()
        dist.all_gather_object(out, obj, group=self.group)
        self.seconds += time.perf_counter() - start
        return out

    def stack(self, local: torch.Tensor, kind: str) -> torch.Tensor:
        """Every rank's ``local`` (same shape on every rank), stacked: shape ``(world_size, ...)``.

        ``kind`` (one of :data:`KINDS`) says what is gathered; it must be
        the same on every rank, or :class:`OutOfStepError` is raised on all.
        """
        flat = local.reshape(-1)
        send = torch.empty(flat.numel() + 1, dtype=local.dtype, device=self.device)
        send[:-1] = flat
        send[-1] = KINDS.index(kind)
        parts = [torch.empty_like(send) for _ in range(self.world_size)]
        start = time.perf_counter()
        dist.all_gather(parts, send, group=self.group)
        self.seconds += time.perf_counter() - start
        stacked = torch.stack(parts)
        kinds = [KINDS[int(k)] if 0 <= k < len(KINDS) else "?" for k in stacked[:, -1].tolist()]
        if any(k != kind for k in kinds):
            listing = ", ".join(f"rank {r}: {k}" for r, k in enumerate(kinds))
            raise OutOfStepError(
                f"the ranks are out of step: one all_gather met different collectives "
                f"({listing}). Every rank must call the sharded solver with the same options "
                f"and run the same software on the same kind of device")
        return stacked[:, :-1].reshape(self.world_size, *local.shape).to(local.device)

    def cat(self, local: torch.Tensor, sizes, kind: str) -> torch.Tensor:
        """Every rank's ``local`` (``sizes[r]`` rows on rank ``r``), concatenated in rank order."""
        pad = max(sizes) - local.shape[0]
        if pad:
            local = torch.cat([local, local.new_zeros((pad, *local.shape[1:]))])
        stacked = self.stack(local, kind)
        return torch.cat([stacked[r, :n] for r, n in enumerate(sizes)])

    def logsumexp(self, local: torch.Tensor) -> torch.Tensor:
        r""":math:`\log \sum_r e^{\ell_r}` of every rank's log-sum-exp partial :math:`\ell_r`.

        The maximum over the ranks is taken out before the exponentials (the
        rescaled sum), so no partial overflows or underflows to 0 for it.
        """
        return torch.logsumexp(self.stack(local, "cols"), dim=0)

    def total(self, local: torch.Tensor) -> torch.Tensor:
        """The sum over the ranks of ``local``, in rank order (the same bits on every rank)."""
        return self.stack(local, "total").sum(dim=0)
