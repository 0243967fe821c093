"""The memory budget: what the dense exact solver needs, and what the process may still use.

Both solvers import it downward: the exact solvers refuse (or route around)
a dense problem that does not fit, and the entropic back-end choice sizes its
host budget from :func:`available_memory_bytes`.

POT's dense network simplex keeps, besides the float64 cost matrix, its own
copy of the costs, the flows, arc states and the dense float64 plan it
returns: measured at 33 bytes per pair beyond the cost matrix (n = 2000 and
4000, POT 0.9.7), 41 with the matrix.  A dense problem that does not fit is
refused up front with a :class:`MemoryError` instead of aborting in native
code (``std::bad_alloc``) after minutes.
"""

from __future__ import annotations

import os
import resource

__all__ = ["SOLVER_BYTES_PER_PAIR", "COST_BYTES_PER_PAIR", "dense_memory_bytes",
           "available_memory_bytes", "check_dense_memory"]

#: Bytes per pair that POT's dense network simplex allocates beyond the cost matrix.
SOLVER_BYTES_PER_PAIR = 34
#: Bytes per pair of a float64 cost matrix.
COST_BYTES_PER_PAIR = 8


def dense_memory_bytes(n: int, m: int, *, with_cost_matrix: bool = True) -> int:
    """Bytes the dense exact solver needs for an ``n x m`` problem.

    >>> dense_memory_bytes(1000, 1000) / 1e6
    42.0
    >>> dense_memory_bytes(1000, 1000, with_cost_matrix=False) / 1e6
    34.0
    """
    per_pair = SOLVER_BYTES_PER_PAIR + (COST_BYTES_PER_PAIR if with_cost_matrix else 0)
    return int(n) * int(m) * per_pair


def _meminfo_available() -> int | None:
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def _cgroup_available() -> int | None:
    try:
        with open("/sys/fs/cgroup/memory.max") as fh:
            limit = fh.read().strip()
        if limit == "max":
            return None
        with open("/sys/fs/cgroup/memory.current") as fh:
            return int(limit) - int(fh.read().strip())
    except (OSError, ValueError):
        return None


def _status_bytes(field: str) -> int | None:
    try:
        with open(f"/proc/{os.getpid()}/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def _rlimit_available() -> int | None:
    """Headroom under ``ulimit -v`` (address space) and ``ulimit -d`` (data segment)."""
    headroom = []
    for limit, field in ((resource.RLIMIT_AS, "VmSize"), (resource.RLIMIT_DATA, "VmData")):
        soft, _ = resource.getrlimit(limit)
        used = _status_bytes(field)
        if soft != resource.RLIM_INFINITY and used is not None:
            headroom.append(soft - used)
    return min(headroom) if headroom else None


def available_memory_bytes() -> int | None:
    """Bytes this process may still allocate: the tightest of free memory, cgroup and rlimits.

    ``None`` where none of them can be read (non-Linux systems).
    """
    known = [v for v in (_meminfo_available(), _cgroup_available(), _rlimit_available())
             if v is not None]
    return max(0, min(known)) if known else None


def _gib(nbytes: float) -> str:
    return f"{nbytes / 2**30:.2f} GiB"


def check_dense_memory(n: int, m: int, *, with_cost_matrix: bool, available: int | None = None,
                       alternative: str) -> None:
    """Raise :class:`MemoryError` when the dense solver would not fit in memory.

    ``available`` defaults to :func:`available_memory_bytes`; the message says
    how much is needed, how much is available and what to use instead.
    """
    need = dense_memory_bytes(n, m, with_cost_matrix=with_cost_matrix)
    if available is None:
        available = available_memory_bytes()
    if available is not None and need > available:
        per_pair = need // (n * m)
        raise MemoryError(
            f"dense exact OT on a {n} x {m} problem needs about {_gib(need)} "
            f"({per_pair} bytes per pair); only {_gib(available)} is available. "
            f"{alternative}"
        )
