"""Joining the process group that ``torchrun`` prepared, for the demos and scripts.

``torchrun --nproc_per_node N -m otlab.demo wgan ...`` starts ``N`` copies of
the command with ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR`` and
``MASTER_PORT`` in their environment.  :func:`process_group` reads them,
initialises ``torch.distributed`` (NCCL for CUDA devices, Gloo for the CPU),
gives each process its own GPU (``cuda:LOCAL_RANK``) and yields the
trainer's replica; without ``torchrun`` it yields a lone
:class:`otlab.gan.Replica` and touches nothing.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from datetime import timedelta

import torch
import torch.distributed as dist

from .replica import current_replica

__all__ = ["launched_by_torchrun", "process_group", "backend_for", "DEFAULT_TIMEOUT"]

#: How long a collective may wait for the other ranks before it fails (not hangs).
DEFAULT_TIMEOUT = timedelta(minutes=10)

_TORCHRUN_VARIABLES = ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")


def launched_by_torchrun(environ=None) -> bool:
    """Whether the environment holds a ``torchrun`` (or compatible) launch's variables.

    >>> launched_by_torchrun({"RANK": "0", "WORLD_SIZE": "2", "MASTER_ADDR": "127.0.0.1",
    ...                       "MASTER_PORT": "29500"})
    True
    >>> launched_by_torchrun({})
    False
    """
    environ = os.environ if environ is None else environ
    return all(name in environ for name in _TORCHRUN_VARIABLES)


def backend_for(device) -> str:
    """``"nccl"`` for a CUDA device, ``"gloo"`` otherwise.

    >>> backend_for("cpu"), backend_for("cuda")
    ('gloo', 'nccl')
    """
    return "nccl" if torch.device(device).type == "cuda" else "gloo"


def _claim_gpu(device: str) -> None:
    """Give this process the GPU ``LOCAL_RANK`` of its machine (``device="cuda"``)."""
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    local_size = int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
    if torch.device(device).index is not None and local_size > 1:
        raise ValueError(
            f"device must be 'cuda' under torchrun with {local_size} processes per machine "
            f"(each takes cuda:LOCAL_RANK); got device={device!r}, which would put them all "
            f"on one GPU")
    if not torch.cuda.is_available():
        raise RuntimeError(f"device {device!r} requested but CUDA is not available")
    torch.cuda.set_device(local_rank if torch.device(device).index is None
                          else torch.device(device).index)


@contextmanager
def process_group(device="cpu", *, timeout: timedelta = DEFAULT_TIMEOUT):
    """Join ``torchrun``'s process group for the ``with`` block; yield the trainer's replica.

    Under ``torchrun`` the group is initialised from the environment with
    :func:`backend_for` ``device`` (a CUDA ``device`` also selects the GPU
    ``LOCAL_RANK``, so ``"cuda"`` then means this process's GPU), and
    destroyed at the end of the block, after a barrier (without one when the
    block raised).  A group initialised before is used
    as it is and left alone.  Without ``torchrun`` the block gets a lone
    :class:`otlab.gan.Replica` (rank 0 of 1).

    Parameters
    ----------
    device : str
        The training device: ``"cpu"``, ``"cuda"`` (one GPU per process) or
        ``"cuda:N"`` (only with one process per machine).
    timeout : datetime.timedelta
        How long a collective waits for the other ranks before raising.

    Yields
    ------
    otlab.gan.Replica
        :class:`DistributedReplica` in a group, else a lone replica.

    Examples
    --------
    >>> with process_group("cpu") as replica:  # no torchrun here: alone
    ...     replica.rank, replica.world_size
    (0, 1)
    """
    created = False
    if launched_by_torchrun() and dist.is_available() and not dist.is_initialized():
        if backend_for(device) == "nccl":
            _claim_gpu(str(device))
        dist.init_process_group(backend_for(device), timeout=timeout)
        created = True
    try:
        yield current_replica()
    except BaseException:
        if created:  # no barrier: the other ranks may never reach it (torchrun stops them)
            dist.destroy_process_group()
        raise
    if created:
        # Every rank has left the block (rank 0 may have evaluated alone after the last
        # collective): the group is torn down by all ranks together, not by one while another
        # still holds it.  Once, under heavy load, a rank that destroyed its group first aborted
        # in gloo's teardown ("terminate called without an active exception").
        dist.barrier()
        dist.destroy_process_group()
