r"""How many CPU threads the Sinkhorn loop uses: one per :data:`ENTRIES_PER_THREAD` costs.

Each Sinkhorn iteration is a few parallel regions (two matrix-vector products
with the absorbed kernels, a handful of vector operations); every region ends
at a barrier where all of torch's threads must have run.  On a machine where
another process is busy, one of them is often descheduled, and each barrier
waits for a time slice of the scheduler: on a shared two-core machine (load
20-27) with one CPU-burning neighbour, ``otlab.wasserstein(x, y,
method="sinkhorn")`` took 22.6 s at n = 1000 and 210 s at n = 4000 with
torch's two threads against 2.5 s and 47 s with one
(``benchmarks/reports/sinkhorn_busy.md``).  A region pays off on several
threads only when its own work is long against such a wait: a
matrix-vector product with :math:`10^7` float64 entries takes about 10 ms.

So the loop runs with :math:`\min(T, \lceil nm / E\rceil)` threads, :math:`T`
the caller's torch setting and :math:`E` = :data:`ENTRIES_PER_THREAD`, and
the caller's setting is restored afterwards (also on error).  On CUDA the
host threads only launch kernels and are left alone.
"""

from __future__ import annotations

import math
from contextlib import contextmanager

import torch

__all__ = ["ENTRIES_PER_THREAD", "loop_threads", "threads_for"]

#: Cost entries per CPU thread in the Sinkhorn loop (see the module notes); ``None``
#: leaves torch's thread setting alone.
ENTRIES_PER_THREAD: int | None = 1 << 24


def threads_for(shape, available: int) -> int:
    """Threads for an ``(n, m)`` problem when ``available`` are set: one per :data:`ENTRIES_PER_THREAD`.

    >>> threads_for((1000, 1000), 8), threads_for((8192, 8192), 8), threads_for((10**5, 10**5), 8)
    (1, 4, 8)
    """
    if ENTRIES_PER_THREAD is None:
        return available
    n, m = shape
    return max(1, min(available, math.ceil(n * m / ENTRIES_PER_THREAD)))


@contextmanager
def loop_threads(shape, device):
    """Run the enclosed Sinkhorn iterations with :func:`threads_for` CPU threads; restore after."""
    before = torch.get_num_threads()
    wanted = before if torch.device(device).type != "cpu" else threads_for(shape, before)
    if wanted == before:
        yield
        return
    torch.set_num_threads(wanted)
    try:
        yield
    finally:
        torch.set_num_threads(before)
