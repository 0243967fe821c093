r"""Which Sinkhorn back-end solves a problem, by the memory it needs and the memory there is.

* :func:`choose_backend` resolves ``backend="auto"`` (and ``"triton"`` where
  triton is missing) for an :math:`n \times m` problem: dense while its three
  :math:`n \times m` arrays fit in :data:`MEMORY_FRACTION` of the available
  memory, else the fused Triton kernel on CUDA, else tiled;
* :func:`make_operator` builds the soft-min operator
  (:mod:`otlab.entropic.operators`) of the chosen back-end, telling the tiled
  operator what it may keep within the same budget;
* :func:`available_memory` is the budget's base: free GPU memory, or on the
  host :func:`otlab.exact.available_memory_bytes` (the one reader of the
  process's memory headroom for both solvers).
"""

from __future__ import annotations

import os

import torch

from .._validation import check_choice
from .operators import DenseOperator, TiledOperator

__all__ = ["choose_backend", "make_operator", "available_memory", "BACKENDS", "MEMORY_FRACTION"]

#: Back-ends accepted by :func:`otlab.entropic.sinkhorn_samples`.
BACKENDS = ("auto", "dense", "tiled", "triton")
#: Share of the available memory (host RAM, or free GPU memory) that ``backend="auto"``
#: lets the dense operator (costs and two kernels) or the tiled operator's kernels use.
MEMORY_FRACTION = 0.25


def available_memory(device) -> int:
    """Bytes available on ``device``: free GPU memory, or what this process may still allocate.

    On the host this is :func:`otlab.exact.available_memory_bytes` (the tightest of
    ``MemAvailable``, the cgroup limit and the rlimits, as the exact solvers use), falling
    back to the free physical pages reported by ``os.sysconf`` where none of those can be
    read, and to 1 GiB where neither is known.
    """
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    from .._memory import available_memory_bytes

    host = available_memory_bytes()
    if host is not None:
        return host
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return 1 << 30


def _triton_usable(device) -> bool:
    if device.type != "cuda" and os.environ.get("TRITON_INTERPRET") != "1":
        return False
    try:
        import triton  # noqa: F401
    except ImportError:
        return False
    return True


def choose_backend(backend: str, n: int, m: int, device, dtype=torch.float64, *,
                   available: int | None = None) -> str:
    r"""Resolve ``backend`` for an n×m problem, by the memory it would need.

    ``"auto"`` is ``"dense"`` when its three :math:`n \times m` arrays (costs
    and the two absorbed kernels) fit in :data:`MEMORY_FRACTION` of the
    available memory (:func:`available_memory`, or ``available`` bytes), else
    ``"triton"`` on CUDA when triton is installed, else ``"tiled"`` (which
    keeps its two kernels when they fit the same budget, see
    :func:`make_operator`).  ``"triton"`` falls back to ``"tiled"`` when triton
    is not importable; an explicit ``"dense"`` or ``"tiled"`` is kept.

    Examples
    --------
    >>> import torch
    >>> cpu = torch.device("cpu")
    >>> choose_backend("auto", 1000, 1000, cpu, available=8 << 30)
    'dense'
    >>> choose_backend("auto", 10**5, 10**5, cpu, available=8 << 30)
    'tiled'
    """
    check_choice(backend, "backend", BACKENDS)
    if backend == "triton":
        return "triton" if _triton_usable(device) else "tiled"
    if backend != "auto":
        return backend
    if _bytes(n, m, dtype, 3) <= _budget(device, available):
        return "dense"
    return "triton" if device.type == "cuda" and _triton_usable(device) else "tiled"


def _bytes(n, m, dtype, arrays) -> int:
    return arrays * n * m * (torch.finfo(dtype).bits // 8)


def _budget(device, available) -> float:
    return MEMORY_FRACTION * (available_memory(device) if available is None else available)


def make_operator(x, y, order, backend, *, available: int | None = None):
    """The soft-min operator of the named back-end on (local) points ``x``, ``y``.

    The tiled operator keeps, within :data:`MEMORY_FRACTION` of the available
    memory, its costs and kernels (three n×m arrays), else its two kernels,
    else nothing (see :class:`~otlab.entropic.operators.TiledOperator`).
    """
    if backend == "dense":
        return DenseOperator.from_points(x, y, order)
    if backend == "triton":
        from ._triton import TritonOperator

        return TritonOperator(x, y, order)
    n, m, budget = x.shape[0], y.shape[0], _budget(x.device, available)
    keep = next((keep for keep, arrays in (("all", 3), ("kernels", 2))
                 if _bytes(n, m, x.dtype, arrays) <= budget), None)
    return TiledOperator(x, y, order, keep=keep)
