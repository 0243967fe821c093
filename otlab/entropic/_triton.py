r"""Fused CUDA soft-min in Triton: costs computed in registers inside an online log-sum-exp.

For each row block the kernel streams over column blocks of ``y``, forms
:math:`c_{ij} = \lVert x_i - y_j\rVert^k` from the coordinates, and keeps a running
maximum and a rescaled running sum (the online log-sum-exp), so memory is
:math:`O(n + m)` and the :math:`n \times m` costs never reach global memory.

The points it receives are in the local frame of :mod:`otlab.costs` (coordinates
of order 1), and the costs are formed from coordinate differences, as in every
other back-end, so the fused kernel agrees with the dense and tiled ones at any
offset and scale.  triton is imported lazily;
:func:`otlab.entropic.backend.choose_backend` falls back to the tiled torch
back-end when it is missing.  On CPU tensors the kernel
runs only under the Triton interpreter (``TRITON_INTERPRET=1``), which the tests
use to check it against the dense operator.
"""

from __future__ import annotations

import torch

from .operators import TiledOperator

__all__ = ["TritonOperator"]

_KERNEL = None


def _build_kernel():
    import triton
    import triton.language as tl

    @triton.jit
    def softmin_kernel(X, Y, H, OUT, n, m, eps, D: tl.constexpr, ORDER: tl.constexpr,
                       BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr):
        pid = tl.program_id(0)
        rows = pid * BLOCK_M + tl.arange(0, BLOCK_M)
        rmask = rows < n
        zero = tl.load(H) * 0.0  # a scalar of the input dtype
        run_max = tl.full((BLOCK_M,), float("-inf"), tl.float32).to(zero.dtype)
        run_sum = tl.zeros((BLOCK_M,), tl.float32).to(zero.dtype)
        for start in range(0, m, BLOCK_N):
            cols = start + tl.arange(0, BLOCK_N)
            cmask = cols < m
            sq = tl.zeros((BLOCK_M, BLOCK_N), tl.float32).to(zero.dtype)
            for k in tl.static_range(D):
                xk = tl.load(X + rows * D + k, mask=rmask, other=0.0)
                yk = tl.load(Y + cols * D + k, mask=cmask, other=0.0)
                diff = xk[:, None] - yk[None, :]
                sq += diff * diff
            if ORDER == 2.0:
                cost = sq
            elif ORDER == 1.0:
                cost = tl.sqrt(sq)
            else:
                cost = tl.where(sq > 0, tl.exp(tl.log(sq) * (ORDER / 2.0)), 0.0)
            h = tl.load(H + cols, mask=cmask, other=float("-inf"))
            val = h[None, :] - cost / eps
            new_max = tl.maximum(run_max, tl.max(val, 1))
            safe_max = tl.where(new_max == float("-inf"), 0.0, new_max)
            run_sum = run_sum * tl.exp(run_max - safe_max) + tl.sum(tl.exp(val - safe_max[:, None]), 1)
            run_max = new_max
        safe_max = tl.where(run_max == float("-inf"), 0.0, run_max)
        out = -eps * (safe_max + tl.log(run_sum))
        tl.store(OUT + rows, out, mask=rmask)

    return softmin_kernel


def _kernel():
    global _KERNEL
    if _KERNEL is None:
        _KERNEL = _build_kernel()
    return _KERNEL


class TritonOperator(TiledOperator):
    """Soft-min by the fused Triton kernel; plan reductions as in :class:`TiledOperator`.

    Only the two soft-min maps, called at every iteration, are fused (and
    stream: no kernel is cached); the one-off passes (plan sums, gradients,
    :math:`P v`) reuse the tiled torch code.
    """

    name = "triton"
    block_m = 64
    block_n = 64

    def __init__(self, x, y, order: float, **kwargs):
        super().__init__(x.contiguous(), y.contiguous(), order, keep=None, **kwargs)

    def _softmin(self, a_pts, b_pts, eps, h):
        out = torch.empty(a_pts.shape[0], dtype=a_pts.dtype, device=a_pts.device)
        n, m = a_pts.shape[0], b_pts.shape[0]
        grid = ((n + self.block_m - 1) // self.block_m,)
        _kernel()[grid](a_pts, b_pts, h.contiguous(), out, n, m, float(eps), D=a_pts.shape[1],
                        ORDER=float(self.order), BLOCK_M=self.block_m, BLOCK_N=self.block_n)
        return out

    def softmin_rows(self, eps, h):
        return self._softmin(self.x, self.y, eps, h)

    def softmin_cols(self, eps, h):
        return self._softmin(self.y, self.x, eps, h)
