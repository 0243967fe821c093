r"""The soft-min operator, the one primitive every Sinkhorn back-end implements.

For a cost matrix :math:`C` and a temperature :math:`\varepsilon`, the soft-min
over the columns of a vector :math:`h` (log-weights plus scaled potential) is

.. math::

    \operatorname{softmin}_\varepsilon(h)_i
    = -\varepsilon \log \sum_j \exp\big(h_j - C_{ij} / \varepsilon\big),

and the same over the rows for the transposed problem.  The Sinkhorn loop
(:mod:`otlab.entropic.solver`) is written once in terms of these two maps; the
back-ends differ only in where :math:`C` comes from:

* :class:`DenseOperator` holds the matrix (given by the user, or formed from
  points);
* :class:`TiledOperator` recomputes blocks of :math:`C` from the points, so
  memory is :math:`O(\text{block} \times m)` instead of :math:`O(nm)`;
* :class:`otlab.entropic._triton.TritonOperator` fuses the cost and the
  log-sum-exp in one CUDA kernel (costs never leave the registers).

Besides the soft-min, an operator evaluates the few reductions of the plan
:math:`P_{ij} = a_i b_j \exp((f_i + g_j - C_{ij})/\varepsilon)` that the
results need (its cost, its product with a matrix, the gradient of the cost
with respect to the points) by streaming over the same blocks.

All arrays here are torch tensors; numpy input is converted at the public entry
points.
"""

from __future__ import annotations

import math

import torch

__all__ = ["DenseOperator", "TiledOperator", "squared_distances", "power_cost"]

#: Default number of cost entries held at once by the tiled back-end (32 Mi).
TILE_ENTRIES = 1 << 25


def squared_distances(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Matrix of squared Euclidean distances, clipped at 0 against round-off."""
    if x.shape[1] == 1:
        return (x - y.T).square()
    sq = (x * x).sum(1)[:, None] + (y * y).sum(1)[None, :] - 2.0 * (x @ y.T)
    return sq.clamp_min_(0.0)


def power_cost(sq: torch.Tensor, order: float) -> torch.Tensor:
    r"""Turn squared distances into :math:`\lVert x - y\rVert^k` (in place when possible)."""
    if order == 2:
        return sq
    if order == 1:
        return sq.sqrt_()
    return sq.pow_(order / 2)


def _exp_shifted(logits: torch.Tensor):
    """``(exp(logits - top), top)`` row-wise, in place, with ``top`` the row maximum.

    Arguments below log(smallest normal float) are clamped to it before the
    exponential: those entries are below 1e-307 (float64) or 1e-37 (float32)
    times the row maximum, so no sum changes, and the CPU exponential's slow
    path for results that underflow (several times slower, and met at every
    small ε) is avoided.
    """
    top = logits.amax(dim=1)
    top = torch.where(torch.isfinite(top), top, torch.zeros_like(top))
    floor = math.log(torch.finfo(logits.dtype).tiny)
    return logits.sub_(top[:, None]).clamp_min_(floor).exp_(), top


def exp_normalized_rows(logits: torch.Tensor):
    r"""``(K, r)``: :math:`r = \mathrm{LSE}(\text{logits})` row-wise and :math:`K = e^{\text{logits} - r}`.

    The rows of ``K`` sum to 1; ``logits`` is overwritten (see :func:`_exp_shifted`).
    """
    kernel, top = _exp_shifted(logits)
    total = kernel.sum(dim=1)
    return kernel.div_(total[:, None]), top + total.log()


def logsumexp_rows(logits: torch.Tensor) -> torch.Tensor:
    """``torch.logsumexp(logits, dim=1)``, overwriting ``logits`` (see :func:`_exp_shifted`)."""
    shifted, top = _exp_shifted(logits)
    return top + shifted.sum(dim=1).log()


def _cost_gradient_weights(plan_block: torch.Tensor, sq: torch.Tensor, order: float) -> torch.Tensor:
    r"""Weights :math:`W_{ij} = P_{ij}\, k \lVert x_i - y_j\rVert^{k-2}` (0 where the distance is 0).

    With them :math:`\sum_j P_{ij} \nabla_{x_i} c(x_i, y_j) = x_i \sum_j W_{ij} - \sum_j W_{ij} y_j`.
    """
    if order == 2:
        return 2.0 * plan_block
    positive = sq > 0
    safe = torch.where(positive, sq, torch.ones_like(sq))
    return torch.where(positive, plan_block * order * safe.pow(order / 2 - 1), torch.zeros_like(sq))


class DenseOperator:
    """Soft-min and plan reductions on a cost matrix held in memory.

    Parameters
    ----------
    C : Tensor, shape (n, m)
        Cost matrix.
    x, y : Tensor, optional
        The points ``C`` was formed from (needed only for gradients with
        respect to the points), with ``order`` the cost exponent.
    """

    name = "dense"

    def __init__(self, C: torch.Tensor, *, x=None, y=None, order: float | None = None):
        self.C = C
        self.x, self.y, self.order = x, y, order
        self.shape = tuple(C.shape)

    @classmethod
    def from_points(cls, x, y, order: float) -> "DenseOperator":
        return cls(power_cost(squared_distances(x, y), order), x=x, y=y, order=order)

    def max_cost(self) -> float:
        return float(self.C.max())

    # -- the soft-min pair used by the Sinkhorn loop --------------------------------------
    #: Largest |h - h_ref| for which the cached (absorbed) kernel is reused.
    absorb_threshold = 30.0

    def _lse(self, key, neg_c, eps, h):
        r"""``log sum_j exp(h_j + neg_c[i, j])`` with an absorbed kernel (Schmitzer 2019).

        The kernel :math:`K_{ij} = \exp(h^0_j + \text{neg\_c}_{ij} - r^0_i)`, with
        :math:`r^0 = \mathrm{LSE}(h^0 + \text{neg\_c})`, has rows summing to 1 and is
        recomputed (one exp pass) whenever ε changes or :math:`\lVert h - h^0\rVert_\infty`
        exceeds :attr:`absorb_threshold`; in between the log-sum-exp is the matrix-vector
        product :math:`r^0_i + \log \sum_j K_{ij} e^{h_j - h^0_j}`, exact in the log
        domain and free of overflow.
        """
        cache = self.__dict__.setdefault("_cache", {})
        ref = cache.get(key)
        finite = torch.isfinite(h)
        if ref is not None and ref[0] == eps:
            diff = torch.where(finite, h - ref[1], torch.zeros_like(h))
            if float(diff.abs().max()) <= self.absorb_threshold:
                return ref[2] + torch.log(ref[3] @ torch.where(finite, diff.exp(), torch.zeros_like(h)))
        kernel, r0 = exp_normalized_rows(neg_c + h[None, :])
        cache[key] = (eps, h.clone(), r0, kernel)
        return r0

    def _scaled(self, eps: float):
        """``-C / eps`` and its contiguous transpose, cached for the current ε."""
        if getattr(self, "_eps", None) != eps:
            self._eps = eps
            self._neg_c = self.C / -eps
            self._neg_ct = self._neg_c.T.contiguous()
        return self._neg_c, self._neg_ct

    def softmin_rows(self, eps: float, h: torch.Tensor) -> torch.Tensor:
        """:math:`-\\varepsilon \\log \\sum_j \\exp(h_j - C_{ij}/\\varepsilon)`, shape (n,)."""
        return -eps * self._lse("rows", self._scaled(eps)[0], eps, h)

    def softmin_cols(self, eps: float, h: torch.Tensor) -> torch.Tensor:
        """:math:`-\\varepsilon \\log \\sum_i \\exp(h_i - C_{ij}/\\varepsilon)`, shape (m,)."""
        return -eps * self._lse("cols", self._scaled(eps)[1], eps, h)

    # -- reductions of the plan ----------------------------------------------------------
    def _log_plan(self, rows, C, eps, f, g, log_a, log_b):
        return (log_a[rows, None] + log_b[None, :]) + (f[rows, None] + g[None, :] - C) / eps

    def plan(self, eps, f, g, log_a, log_b) -> torch.Tensor:
        """The dense plan :math:`P` (n, m)."""
        return self._log_plan(slice(None), self.C, eps, f, g, log_a, log_b).exp()

    def _row_blocks(self):
        """Yield ``(rows, C[rows], sq[rows] or None)``; one block for the dense operator."""
        sq = None
        if self.x is not None and self.order != 2:
            sq = squared_distances(self.x, self.y)
        elif self.x is not None:
            sq = self.C
        yield slice(None), self.C, sq

    def transport_cost(self, eps, f, g, log_a, log_b) -> torch.Tensor:
        r""":math:`\langle P, C\rangle`, streamed over row blocks."""
        total = torch.zeros((), dtype=f.dtype, device=f.device)
        for rows, C, _ in self._row_blocks():
            total = total + (self._log_plan(rows, C, eps, f, g, log_a, log_b).exp() * C).sum()
        return total

    def apply_plan(self, eps, f, g, log_a, log_b, v: torch.Tensor) -> torch.Tensor:
        """:math:`P v` for ``v`` of shape (m,) or (m, k), streamed over row blocks."""
        parts = [self._log_plan(rows, C, eps, f, g, log_a, log_b).exp() @ v
                 for rows, C, _ in self._row_blocks()]
        return torch.cat(parts, dim=0)

    def point_gradients(self, eps, f, g, log_a, log_b):
        r"""Gradients of :math:`\langle P, C(x, y)\rangle` with :math:`P` frozen.

        Returns :math:`(\sum_j P_{ij}\nabla_x c(x_i, y_j), \sum_i P_{ij}\nabla_y c(x_i, y_j))`,
        which by the envelope theorem are the gradients of the entropic
        objective with respect to the points.
        """
        if self.x is None:
            raise ValueError("point gradients need an operator built from points")
        x, y = self.x, self.y
        gx = torch.empty_like(x)
        gy = torch.zeros_like(y)
        for rows, C, sq in self._row_blocks():
            P = self._log_plan(rows, C, eps, f, g, log_a, log_b).exp()
            W = _cost_gradient_weights(P, sq, self.order)
            xr = x[rows]
            gx[rows] = xr * W.sum(1, keepdim=True) - W @ y
            gy += y * W.sum(0)[:, None] - W.T @ xr
        return gx, gy


class TiledOperator(DenseOperator):
    """Soft-min on costs recomputed block by block from the points (never n×m in memory).

    Parameters
    ----------
    x, y : Tensor, shapes (n, d) and (m, d)
    order : float
        Cost exponent ``k`` in :math:`\\lVert x - y\\rVert^k`.
    tile_entries : int
        Cost entries per block; blocks have ``max(1, tile_entries // m)`` rows.
    """

    name = "tiled"

    def __init__(self, x, y, order: float, *, tile_entries: int = TILE_ENTRIES):
        self.x, self.y, self.order = x, y, float(order)
        self.shape = (x.shape[0], y.shape[0])
        self.C = None
        self.tile_entries = int(tile_entries)

    def max_cost(self) -> float:
        # Bounding-box diagonal: an upper bound on every distance, no pass over pairs.
        lo = torch.minimum(self.x.min(0).values, self.y.min(0).values)
        hi = torch.maximum(self.x.max(0).values, self.y.max(0).values)
        return float(torch.linalg.vector_norm(hi - lo)) ** self.order

    def _blocks(self, a_pts, b_pts):
        step = max(1, self.tile_entries // max(1, b_pts.shape[0]))
        for start in range(0, a_pts.shape[0], step):
            rows = slice(start, min(start + step, a_pts.shape[0]))
            sq = squared_distances(a_pts[rows], b_pts)
            C = power_cost(sq.clone() if self.order != 2 else sq, self.order)
            yield rows, C, sq

    def _row_blocks(self):
        return self._blocks(self.x, self.y)

    def softmin_rows(self, eps, h):
        return torch.cat([-eps * logsumexp_rows(h[None, :] - C / eps)
                          for _, C, _ in self._blocks(self.x, self.y)])

    def softmin_cols(self, eps, h):
        return torch.cat([-eps * logsumexp_rows(h[None, :] - C / eps)
                          for _, C, _ in self._blocks(self.y, self.x)])

    def plan(self, eps, f, g, log_a, log_b):
        n, m = self.shape
        if n * m > 4 * self.tile_entries:
            raise MemoryError(
                f"the {n}x{m} plan is too large to form; use apply_plan (result.apply) instead"
            )
        return torch.cat([self._log_plan(rows, C, eps, f, g, log_a, log_b).exp()
                          for rows, C, _ in self._row_blocks()])


def diameter(x: torch.Tensor, y: torch.Tensor) -> float:
    """Diagonal of the bounding box of both samples (an upper bound on all distances)."""
    lo = torch.minimum(x.min(0).values, y.min(0).values)
    hi = torch.maximum(x.max(0).values, y.max(0).values)
    value = float(torch.linalg.vector_norm(hi - lo))
    return value if math.isfinite(value) else 0.0
