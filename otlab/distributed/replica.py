r"""The trainer's data-parallel replica on ``torch.distributed``.

:func:`otlab.gan.train` calls three collective hooks of a :class:`Replica`
(this process's part in a run; the default, alone, does nothing; also
``otlab.gan.Replica``); :class:`DistributedReplica` implements them on an
initialised process group:

``reduce_gradients(grads)``
    Between ``torch.autograd.grad`` and the optimiser step: the gradients of
    every rank, flattened into one buffer, are summed with one
    ``all_reduce`` and divided by the world size.  Every rank draws its own
    batch of ``batch_size`` points, and the losses are batch means, so the
    averaged gradient is the gradient on the *global* batch of
    ``world_size * batch_size`` points,

    .. math::

        \nabla_\theta \frac{1}{N}\sum_{r=1}^{N} \frac1B \sum_{i \in \mathcal B_r}
        \ell(\theta; z_i) = \frac1N \sum_{r=1}^{N} \nabla_\theta L_r(\theta),

    and, since the all-reduce gives every rank the same sum, every rank takes
    the same optimiser step: the models stay identical without broadcasts.
``any(flags)``
    Element-wise OR (an all-reduce with ``MAX``) of the NaN flags and of the
    stop request (Ctrl-C on any rank stops every rank at the same iteration).
``gather(obj)``
    ``all_gather_object``: the RNG states of every rank for the checkpoint,
    and the checkpoint itself on resume (read by rank 0, shared with all).

Why not :class:`torch.nn.parallel.DistributedDataParallel`: the loop takes
gradients with ``torch.autograd.grad`` (fresh tensors, safe inside a CUDA
graph), and the gradient penalties differentiate twice; DDP's reducer hooks
``backward`` into ``.grad`` accumulation, which neither path uses.  One
flattened all-reduce per optimiser step is what DDP would do for models this
small (a single bucket), without its hooks.
"""

from __future__ import annotations

import time

import torch
import torch.distributed as dist

__all__ = ["Replica", "DistributedReplica", "current_replica"]


class Replica:
    """This process's part in a data-parallel run; the default is a run alone.

    A ``torch.distributed`` wrapper overrides the three hooks (all are
    collective: every rank calls them at the same point of the loop).
    """

    rank = 0
    world_size = 1

    def reduce_gradients(self, grads: list[torch.Tensor]) -> None:
        """Average ``grads`` in place over the replicas (alone: nothing to do)."""

    def any(self, flags: torch.Tensor) -> torch.Tensor:
        """Element-wise OR of boolean ``flags`` over the replicas."""
        return flags

    def gather(self, obj) -> list:
        """``obj`` of every rank, in rank order."""
        return [obj]


def _communication_device(group) -> torch.device:
    """Where tensors must live for the group's backend: the current GPU for NCCL, else the CPU."""
    if dist.get_backend(group) == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


class DistributedReplica(Replica):
    """This process's part in a data-parallel run over an initialised process group.

    Parameters
    ----------
    group : ProcessGroup, optional
        The group to train over (default: the world).

    Attributes
    ----------
    rank, world_size : int
        This process's rank in ``group`` and the number of processes.
    communication_seconds : float
        Wall time spent in :meth:`reduce_gradients` (all-reduce, including
        waiting for the slowest rank); the benchmark reads it.

    Raises
    ------
    RuntimeError
        When no process group is initialised.

    Examples
    --------
    Outside a process group there is nothing to replicate:

    >>> DistributedReplica()  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    RuntimeError: DistributedReplica needs an initialised process group...
    """

    def __init__(self, group=None):
        if not (dist.is_available() and dist.is_initialized()):
            raise RuntimeError(
                "DistributedReplica needs an initialised process group: launch with torchrun "
                "and call torch.distributed.init_process_group (or use otlab.distributed."
                "process_group()) first")
        self.group = group
        self.rank = dist.get_rank(group)
        self.world_size = dist.get_world_size(group)
        self.device = _communication_device(group)
        self.communication_seconds = 0.0

    def reduce_gradients(self, grads: list[torch.Tensor]) -> None:
        """Average ``grads`` in place over the ranks (one all-reduce of one flat buffer)."""
        if self.world_size == 1 or not grads:
            return
        start = time.perf_counter()
        flat = torch.cat([g.reshape(-1) for g in grads]).to(self.device)
        dist.all_reduce(flat, op=dist.ReduceOp.SUM, group=self.group)
        flat.div_(self.world_size)
        offset = 0
        for g in grads:
            g.copy_(flat[offset:offset + g.numel()].view_as(g))
            offset += g.numel()
        self.communication_seconds += time.perf_counter() - start

    def any(self, flags: torch.Tensor) -> torch.Tensor:
        """Element-wise OR of boolean ``flags`` over the ranks."""
        if self.world_size == 1:
            return flags
        as_int = flags.to(device=self.device, dtype=torch.int32)
        dist.all_reduce(as_int, op=dist.ReduceOp.MAX, group=self.group)
        return as_int.to(flags.device).bool()

    def gather(self, obj) -> list:
        """``obj`` of every rank, in rank order (pickled; keep it small)."""
        if self.world_size == 1:
            return [obj]
        out = [None] * self.world_size
        dist.all_gather_object(out, obj, group=self.group)
        return out


def current_replica() -> Replica:
    """A :class:`DistributedReplica` inside an initialised process group, else a lone :class:`Replica`.

    :func:`otlab.gan.train` calls this when no replica is given, so that
    ``train(config)`` under ``torchrun`` (with the group initialised) trains
    data-parallel; pass ``replica=otlab.gan.Replica()`` to train alone anyway.

    >>> type(current_replica()).__name__  # no process group here
    'Replica'
    """
    if dist.is_available() and dist.is_initialized():
        return DistributedReplica()
    return Replica()
