r"""The soft-min protocol, the one primitive every Sinkhorn back-end implements.

For a cost matrix :math:`C` and a temperature :math:`\varepsilon`, the soft-min
over the columns of a vector :math:`h` (log-weights plus scaled potential) is

.. math::

    \operatorname{softmin}_\varepsilon(h)_i
    = -\varepsilon \log \sum_j \exp\big(h_j - C_{ij} / \varepsilon\big),

and the same over the rows for the transposed problem.  The Sinkhorn loop
(:mod:`otlab.entropic.solver`) is written once in terms of these two maps and
of one pass over the plan :math:`P_{ij} = a_i b_j e^{(f_i + g_j - C_{ij})/\varepsilon}`.
An operator (:class:`SoftminOperator`) provides

* ``softmin_rows(eps, h)`` — ``h`` the full column vector, shape (m,); returns (n,);
* ``softmin_cols(eps, h)`` — ``h`` the full row vector, shape (n,); returns (m,);
* ``plan_sums(eps, f, g, log_a, log_b)`` — :math:`\langle P, C\rangle`,
  :math:`P\mathbf 1` and :math:`P^\top \mathbf 1` in one streamed pass;
* ``apply_plan(...)`` (:math:`P v`), ``plan(...)`` (the dense plan), and for
  operators built from points ``point_gradients(...)``;
* ``cost_scale()``, an upper bound on the costs, and ``name``, ``shape``.

The back-ends differ only in where :math:`C` comes from:

* :class:`DenseOperator` holds the matrix;
* :class:`TiledOperator` recomputes row blocks of :math:`C` from the points
  (:func:`otlab.costs.distances`, by coordinate differences), so the costs are
  never all in memory;
* :class:`otlab.entropic._triton.TritonOperator` fuses the cost and the
  log-sum-exp in one CUDA kernel.

Soft-mins are evaluated with absorbed kernels (Schmitzer 2019): after an exact
log-sum-exp pass, :math:`K_{ij} = \exp(h^0_j - C_{ij}/\varepsilon - r^0_i)`
(rows summing to 1; one kernel per direction) is kept, and until ε changes
the soft-min is :math:`r^0_i + \log \sum_j K_{ij} e^{h_j - h^0_j}`: one
matrix-vector product instead of an exponential per entry.  The kernel is
recomputed when ε changes or when a sum falls so low that entries dropped to 0
could matter (below :math:`m\,\text{tiny}/\text{eps}` of the float type).
The dense operator always keeps its kernels; the tiled one keeps them, block
by block, when they fit its memory budget, and otherwise streams an exact
log-sum-exp over the blocks at every call.  A sharded operator only needs to
implement the same methods on its shard.

All arrays here are torch tensors in the working dtype (float32 or float64),
in the local frame of :mod:`otlab.costs`; the public entry points convert.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import torch

from ..costs import distances, power_cost

__all__ = ["SoftminOperator", "PlanSums", "DenseOperator", "TiledOperator", "TILE_ENTRIES",
           "logsumexp_rows", "exp_normalized_rows", "cost_bound"]

#: Cost entries per block of the tiled operator (and of the dense operator's reductions):
#: 2^20 entries, 8 MiB in float64, small enough to stay in cache between the passes.
TILE_ENTRIES = 1 << 20


@runtime_checkable
class SoftminOperator(Protocol):
    """What the Sinkhorn loop needs from a back-end (see the module notes)."""

    name: str
    shape: tuple

    def softmin_rows(self, eps: float, h: torch.Tensor) -> torch.Tensor: ...

    def softmin_cols(self, eps: float, h: torch.Tensor) -> torch.Tensor: ...

    def plan_sums(self, eps, f, g, log_a, log_b) -> "PlanSums": ...

    def apply_plan(self, eps, f, g, log_a, log_b, v) -> torch.Tensor: ...

    def plan(self, eps, f, g, log_a, log_b) -> torch.Tensor: ...

    def cost_scale(self) -> float: ...


@dataclass(frozen=True)
class PlanSums:
    r"""One pass over the plan: :math:`\langle P, C\rangle`, :math:`P\mathbf 1`, :math:`P^\top\mathbf 1`."""

    cost: torch.Tensor
    rows: torch.Tensor
    cols: torch.Tensor

    def marginal_error(self, a: torch.Tensor, b: torch.Tensor) -> float:
        r""":math:`\lVert P\mathbf 1 - a\rVert_1 + \lVert P^\top\mathbf 1 - b\rVert_1`."""
        return float((self.rows - a).abs().sum() + (self.cols - b).abs().sum())


def _exp_shifted(logits: torch.Tensor, dim: int = 1):
    """``(exp(logits - top), top)`` along ``dim``, in place, with ``top`` the maximum.

    Arguments below log(smallest normal float) are clamped to it before the
    exponential: those entries are below 1e-307 (float64) or 1e-37 (float32)
    times the maximum, so no sum changes, and the CPU exponential's slow path
    for results that underflow (several times slower, met at every small ε)
    is avoided.
    """
    top = logits.amax(dim=dim)
    top = torch.where(torch.isfinite(top), top, torch.zeros_like(top))
    floor = math.log(torch.finfo(logits.dtype).tiny)
    return logits.sub_(top.unsqueeze(dim)).clamp_min_(floor).exp_(), top


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


def _shift(h: torch.Tensor, ref: torch.Tensor):
    """``(exp(z - s), s)`` for ``z = h - ref`` (``-inf`` where ``h`` is), ``s = max z``."""
    z = torch.where(torch.isneginf(h), h, h - ref)
    s = float(z.max())
    return (z - s).exp_(), s


class _AbsorbedKernels:
    """The two absorbed kernels (one per soft-min direction), held in row blocks.

    ``cost_blocks()`` yields ``(rows, C[rows])`` over all row blocks; kernels
    are stored in the same blocks, so the rows soft-min is a product with each
    block and the columns soft-min a sum of transposed products.
    """

    def __init__(self, cost_blocks, shape, dtype):
        self._cost_blocks = cost_blocks
        self.shape = shape
        finfo = torch.finfo(dtype)
        n, m = shape
        self._floor = (finfo.tiny * m / finfo.eps, finfo.tiny * n / finfo.eps)
        self._state = {}  # direction -> (eps, h0, r0, blocks)
        self.refreshes = 0

    def lse(self, direction: str, eps: float, h: torch.Tensor) -> torch.Tensor:
        """``log sum exp(h - C/eps)`` over the columns (``"rows"``) or the rows (``"cols"``)."""
        state = self._state.get(direction)
        if state is not None and state[0] == eps:
            _, h0, r0, blocks = state
            v, s = _shift(h, h0)
            if math.isfinite(s):
                if direction == "rows":
                    sums = torch.cat([k @ v for _, k in blocks])
                else:
                    sums = sum(k.T @ v[rows] for rows, k in blocks)
                floor = self._floor[0 if direction == "rows" else 1]
                if float(sums.min()) >= floor:
                    return r0 + s + sums.log()
        return self._refresh(direction, eps, h)

    def _refresh(self, direction, eps, h):
        self.refreshes += 1
        self._state.pop(direction, None)  # free the stale kernel before forming the new one
        blocks = []
        if direction == "rows":
            parts = []
            for rows, C in self._cost_blocks():
                kernel, r = exp_normalized_rows(torch.add(h[None, :], C, alpha=-1.0 / eps))
                blocks.append((rows, kernel))
                parts.append(r)
            r0 = torch.cat(parts)
        else:  # a column log-sum-exp accumulated over the row blocks, then normalised
            top = total = None
            for rows, C in self._cost_blocks():
                logits = torch.add(h[rows, None], C, alpha=-1.0 / eps)
                new_top = logits.amax(0) if top is None else torch.maximum(top, logits.amax(0))
                new_top = torch.where(torch.isfinite(new_top), new_top, torch.zeros_like(new_top))
                floor = math.log(torch.finfo(logits.dtype).tiny)
                kernel = logits.sub_(new_top).clamp_min_(floor).exp_()
                total = kernel.sum(0) if total is None else (
                    total * (top - new_top).exp() + kernel.sum(0))
                top = new_top
                blocks.append((rows, kernel, new_top))
            r0 = top + total.log()
            blocks = [(rows, k.mul_((used - r0).exp())) for rows, k, used in blocks]
        self._state[direction] = (eps, h.clone(), r0, blocks)
        return r0


class _PlanReductions:
    """Plan reductions streamed over row blocks ``(rows, C[rows])`` of :meth:`_blocks`."""

    def _blocks(self):
        raise NotImplementedError

    @staticmethod
    def _log_plan(rows, C, eps, f, g, log_a, log_b):
        return (log_a[rows, None] + log_b[None, :]) + (f[rows, None] + g[None, :] - C) / eps

    def plan_sums(self, eps, f, g, log_a, log_b) -> PlanSums:
        """Cost and both marginals of the plan of ``(f, g)``, in one streamed pass."""
        cost = torch.zeros((), dtype=f.dtype, device=f.device)
        rows_sum = torch.empty_like(f)
        cols_sum = torch.zeros_like(g)
        for rows, C in self._blocks():
            P = self._log_plan(rows, C, eps, f, g, log_a, log_b).exp_()
            cost = cost + (P * C).sum()
            rows_sum[rows] = P.sum(1)
            cols_sum += P.sum(0)
        return PlanSums(cost, rows_sum, cols_sum)

    def apply_plan(self, eps, f, g, log_a, log_b, v: torch.Tensor) -> torch.Tensor:
        """:math:`P v` for ``v`` of shape (m,) or (m, k), streamed over row blocks."""
        return torch.cat([self._log_plan(rows, C, eps, f, g, log_a, log_b).exp_() @ v
                          for rows, C in self._blocks()], dim=0)

    def plan(self, eps, f, g, log_a, log_b) -> torch.Tensor:
        """The dense plan :math:`P` (n, m)."""
        return torch.cat([self._log_plan(rows, C, eps, f, g, log_a, log_b).exp_()
                          for rows, C in self._blocks()])

    def point_gradients(self, eps, f, g, log_a, log_b):
        r"""Gradients of :math:`\langle P, C(x, y)\rangle` with :math:`P` frozen.

        Returns :math:`(\sum_j P_{ij}\nabla_x c(x_i, y_j), \sum_i P_{ij}\nabla_y c(x_i, y_j))`,
        which by the envelope theorem are the gradients of the entropic
        objective with respect to the points.  With
        :math:`W_{ij} = P_{ij}\, k \lVert x_i - y_j\rVert^{k-2}` (0 where the
        distance is 0), :math:`\sum_j P_{ij} \nabla_{x_i} c = x_i \sum_j W_{ij} - \sum_j W_{ij} y_j`.
        """
        x, y, order = self.x, self.y, self.order
        if x is None:
            raise ValueError("point gradients need an operator built from points")
        gx = torch.empty_like(x)
        gy = torch.zeros_like(y)
        for rows, C in self._blocks():
            W = self._log_plan(rows, C, eps, f, g, log_a, log_b).exp_()
            if order != 2:
                dist = distances(x[rows], y)
                positive = dist > 0
                scale = torch.where(positive, dist, torch.ones_like(dist)).pow_(order - 2)
                W = torch.where(positive, W * scale, torch.zeros_like(W))
            W = W.mul_(order)
            xr = x[rows]
            gx[rows] = xr * W.sum(1, keepdim=True) - W @ y
            gy += y * W.sum(0)[:, None] - W.T @ xr
        return gx, gy


def cost_bound(x: torch.Tensor, y: torch.Tensor, order: float) -> float:
    """The bounding-box diagonal of both clouds to the power ``order``: a bound on every cost."""
    lo = torch.minimum(x.amin(0), y.amin(0))
    hi = torch.maximum(x.amax(0), y.amax(0))
    return float(torch.linalg.vector_norm(hi - lo)) ** order


def mass_cost_bound(x: torch.Tensor, a: torch.Tensor, y: torch.Tensor, b: torch.Tensor,
                    order: float) -> float:
    """:func:`cost_bound` of the points with mass: the largest cost an entry of the plan holds.

    The points of weight 0 (kept for their weights' gradient, or for a plan of every point)
    enter no entry; with every weight positive, or no mass on one side, :func:`cost_bound`.
    """
    keep_x, keep_y = a > 0, b > 0
    if bool(keep_x.all() and keep_y.all()) or not bool(keep_x.any() and keep_y.any()):
        return cost_bound(x, y, order)
    return cost_bound(x[keep_x], y[keep_y], order)


def resolution_bound(x: torch.Tensor, a: torch.Tensor, y: torch.Tensor, b: torch.Tensor,
                     order: float) -> float:
    r"""The cost scale whose round-off the plan sees: that of the costs between points with mass.

    With every weight positive, :func:`cost_bound`.  A point of weight 0 (kept for its
    weight's gradient, or for a plan of every point) enters no entry of the plan; the
    round-off of its own costs moves its potential by that relative amount only.  Where
    it lies sets the frame's centre, though, so each coordinate of the points with mass
    carries round-off of an ulp of its size :math:`E` (their largest norm in the frame),
    and their costs, of diameter :math:`D`, that of :math:`D^{k-1} E`: the bound is
    :math:`\max(D^k, 2 D^{k-1} E)`, :math:`D^k` as when every weight is positive unless
    such a point lies out (then :math:`E > D/2`).

    Parameters
    ----------
    x, y : Tensor, shapes (n, d) and (m, d)
        Points in the local frame.
    a, b : Tensor, shapes (n,) and (m,)
        Their weights.
    order : float
        The cost exponent ``k``.

    Returns
    -------
    float
        The cost scale for :func:`~otlab.entropic.solver.check_resolution`.
    """
    keep_x, keep_y = a > 0, b > 0
    if bool(keep_x.all() and keep_y.all()) or not bool(keep_x.any() and keep_y.any()):
        return cost_bound(x, y, order)
    xm, ym = x[keep_x], y[keep_y]
    reach = float(torch.linalg.vector_norm(torch.cat([xm, ym]), dim=1).max())
    # their coordinates carry round-off of an ulp of E: a diameter below it is no measure of
    # theirs (data collapsed to one point by the frame gave D = 0, a bound of 0 at order 2)
    diameter = max(cost_bound(xm, ym, 1.0), torch.finfo(x.dtype).eps * reach)
    return max(diameter ** order, 2.0 * diameter ** (order - 1) * reach)


def _row_step(n_cols: int, tile_entries: int) -> int:
    return max(1, tile_entries // max(1, n_cols))


class DenseOperator(_PlanReductions):
    """Soft-min and plan reductions on a cost matrix held in memory, with absorbed kernels.

    Parameters
    ----------
    C : Tensor, shape (n, m)
        Cost matrix.
    x, y : Tensor, optional
        The points ``C`` was formed from, with ``order`` the cost exponent
        (needed only for gradients with respect to the points).
    tile_entries : int
        Entries per row block of the kernels and of the plan reductions.

    Memory: the costs and two kernels, three :math:`n \\times m` arrays.
    """

    name = "dense"

    def __init__(self, C: torch.Tensor, *, x=None, y=None, order: float | None = None,
                 tile_entries: int = TILE_ENTRIES):
        self.C = C
        self.x, self.y, self.order = x, y, order
        self.shape = tuple(C.shape)
        self._step = _row_step(self.shape[1], tile_entries)
        self.kernels = _AbsorbedKernels(self._blocks, self.shape, C.dtype)

    @classmethod
    def from_points(cls, x, y, order: float, **kwargs) -> "DenseOperator":
        return cls(power_cost(distances(x, y), order), x=x, y=y, order=order, **kwargs)

    def _blocks(self):
        for start in range(0, self.shape[0], self._step):
            rows = slice(start, min(start + self._step, self.shape[0]))
            yield rows, self.C[rows]

    def cost_scale(self) -> float:
        """Largest absolute cost (for points, the bounding-box bound, as for the tiled operator)."""
        if self.x is not None:
            return cost_bound(self.x, self.y, self.order)
        return float(self.C.abs().max())

    def softmin_rows(self, eps: float, h: torch.Tensor) -> torch.Tensor:
        """:math:`-\\varepsilon \\log \\sum_j \\exp(h_j - C_{ij}/\\varepsilon)`, shape (n,)."""
        return -eps * self.kernels.lse("rows", eps, h)

    def softmin_cols(self, eps: float, h: torch.Tensor) -> torch.Tensor:
        """:math:`-\\varepsilon \\log \\sum_i \\exp(h_i - C_{ij}/\\varepsilon)`, shape (m,)."""
        return -eps * self.kernels.lse("cols", eps, h)


class TiledOperator(_PlanReductions):
    r"""Soft-min on costs recomputed block by block from the points, keeping what fits.

    Parameters
    ----------
    x, y : Tensor, shapes (n, d) and (m, d)
        Points in the local frame (:func:`otlab.frames.common_frame`).
    order : float
        Cost exponent ``k`` in :math:`\lVert x - y\rVert^k`.
    tile_entries : int
        Cost entries per block; blocks have ``max(1, tile_entries // m)`` rows.
    keep : {None, "kernels", "all"}
        What is kept between soft-mins, by the memory there is
        (:func:`otlab.entropic.backend.make_operator` decides): ``"kernels"``
        keeps the two absorbed kernels (two :math:`n \times m` arrays, in
        blocks), so each soft-min is a matrix-vector product as in the dense
        operator and the costs are recomputed only when a kernel is;
        ``"all"`` keeps the cost blocks too, once computed (the dense
        operator's memory, three arrays); ``None`` keeps nothing, and every
        soft-min recomputes the costs and an exponential per entry.
    """

    name = "tiled"
    KEEP = (None, "kernels", "all")

    def __init__(self, x, y, order: float, *, tile_entries: int = TILE_ENTRIES, keep=None):
        if keep not in self.KEEP:
            raise ValueError(f"keep must be one of {self.KEEP}; got {keep!r}")
        self.x, self.y, self.order = x, y, float(order)
        self.shape = (x.shape[0], y.shape[0])
        self.tile_entries = int(tile_entries)
        self._kept_costs = [] if keep == "all" else None
        self.kernels = _AbsorbedKernels(self._blocks, self.shape, x.dtype) if keep else None

    def _cost_blocks(self, a_pts, b_pts):
        step = _row_step(b_pts.shape[0], self.tile_entries)
        for start in range(0, a_pts.shape[0], step):
            rows = slice(start, min(start + step, a_pts.shape[0]))
            yield rows, power_cost(distances(a_pts[rows], b_pts), self.order)

    def _blocks(self):
        if self._kept_costs is None:
            return self._cost_blocks(self.x, self.y)
        if not self._kept_costs:
            self._kept_costs.extend(self._cost_blocks(self.x, self.y))
        return iter(self._kept_costs)

    def cost_scale(self) -> float:
        """The bounding-box bound on every cost (no pass over the pairs)."""
        return cost_bound(self.x, self.y, self.order)

    def _streamed(self, a_pts, b_pts, eps, h):
        return torch.cat([logsumexp_rows(C.mul_(-1.0 / eps).add_(h[None, :]))
                          for _, C in self._cost_blocks(a_pts, b_pts)])

    def softmin_rows(self, eps, h):
        if self.kernels is not None:
            return -eps * self.kernels.lse("rows", eps, h)
        return -eps * self._streamed(self.x, self.y, eps, h)

    def softmin_cols(self, eps, h):
        if self.kernels is not None:
            return -eps * self.kernels.lse("cols", eps, h)
        return -eps * self._streamed(self.y, self.x, eps, h)

    def plan(self, eps, f, g, log_a, log_b):
        n, m = self.shape
        if n * m > 64 * self.tile_entries:
            raise MemoryError(
                f"the {n}x{m} plan is too large to form; use apply_plan (result.apply) instead"
            )
        return super().plan(eps, f, g, log_a, log_b)
