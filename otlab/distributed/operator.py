r"""The soft-min operator of a problem whose rows are spread over the ranks.

Rank :math:`r` holds the rows :math:`I_r` of the source points; its *local
operator* (dense, tiled or Triton, chosen by the size of its block as
:func:`otlab.entropic.sinkhorn_samples` chooses) holds or recomputes only the
block :math:`C_{I_r, :}` of the cost matrix, which no other rank holds.  The
two soft-min maps of the protocol (:class:`otlab.entropic.operators.SoftminOperator`)
then read

.. math::

    \operatorname{softmin}_\text{rows}(h)_{I_r}
      = -\varepsilon \log \sum_{j} e^{h_j - C_{ij}/\varepsilon}
      \quad\text{(local: the block has every column), gathered over the ranks;}

    \operatorname{softmin}_\text{cols}(h)_j
      = -\varepsilon \log \sum_{r} e^{\ell_{r j}},
      \qquad
      \ell_{r j} = \log \sum_{i \in I_r} e^{h_i - C_{ij}/\varepsilon},

the per-rank log-sum-exp partials :math:`\ell_{rj}` combined with their
maximum taken out (:meth:`otlab.distributed._shards.Shards.logsumexp`).  Both
maps take and return *full* vectors, exactly as the single-process operators
do, so the Sinkhorn loop (:func:`otlab.entropic.solver.sinkhorn_loop`:
ε-scaling, acceleration, stopping rule) and the final check
(:func:`otlab.entropic.solver.finish`) run unchanged on every rank; the vectors
are bitwise identical on all ranks, so every rank takes the same decisions.

Per iteration a rank computes :math:`|I_r| \times m` soft-min terms and
exchanges :math:`n + N m` numbers (:math:`N` ranks): the row potential's
slices and the column partials.
"""

from __future__ import annotations

import torch

from ..entropic.operators import PlanSums, TiledOperator, cost_bound
from ..entropic.backend import choose_backend, make_operator

__all__ = ["ShardedOperator", "rank_slice"]


def rank_slice(sizes, rank: int) -> slice:
    """The rows of rank ``rank`` when rank ``r`` holds ``sizes[r]`` rows, in rank order.

    >>> rank_slice([3, 1, 4], 2)
    slice(4, 8, None)
    """
    start = sum(sizes[:rank])
    return slice(start, start + sizes[rank])


class _EmptyBlock:
    """The local operator of a rank that holds no row (its points all had weight 0)."""

    def __init__(self, name: str, y):
        self.name, self.y = name, y

    def softmin_rows(self, eps, h):
        return h.new_empty(0)

    def softmin_cols(self, eps, h):  # -eps * log of an empty sum: its partial is -inf
        return torch.full((self.y.shape[0],), float("inf"), dtype=self.y.dtype,
                          device=self.y.device)

    def plan_sums(self, eps, f, g, log_a, log_b) -> PlanSums:
        zero = self.y.new_zeros(())
        return PlanSums(zero, self.y.new_zeros(0), self.y.new_zeros(self.y.shape[0]))

    def apply_plan(self, eps, f, g, log_a, log_b, v):
        return self.y.new_zeros(0)

    def point_gradients(self, eps, f, g, log_a, log_b):
        return self.y.new_zeros((0, self.y.shape[1])), torch.zeros_like(self.y)


class ShardedOperator:
    """The soft-min protocol for a cost :math:`\\lVert x_i - y_j\\rVert^k` whose rows are sharded.

    Parameters
    ----------
    x, y : Tensor, shapes (n, d) and (m, d)
        All points, in the problem's local frame (every rank holds them).
    order : float
        The cost exponent ``k``.
    backend : str
        This rank's local back-end, as in :func:`otlab.entropic.sinkhorn_samples`
        (``"auto"`` decides by the size of the rank's block and its memory).
    shards : otlab.distributed._shards.Shards
        The collectives.
    row_sizes : sequence of int
        Rows of ``x`` held by each rank.
    own_cols : slice
        This rank's own rows of ``y`` (where it takes the gradients for ``y``).
        A rank may hold no row (its points of weight 0 were left out): its
        block is empty and its column partials are :math:`-\\infty`.
    available : int, optional
        Bytes the local back-end may plan with (default: what the machine has).
    """

    def __init__(self, x, y, order, backend, shards, row_sizes, own_cols, *, available=None):
        self.shards, self.row_sizes = shards, list(row_sizes)
        self.rows, self.own_cols = rank_slice(self.row_sizes, shards.rank), own_cols
        self.x, self.y, self.order = x, y, float(order)
        self.shape = (x.shape[0], y.shape[0])
        x_mine = x[self.rows]
        name = choose_backend(backend, x_mine.shape[0], y.shape[0], x.device, x.dtype,
                              available=available)
        self.local = (make_operator(x_mine, y, order, name, available=available)
                      if x_mine.shape[0] else _EmptyBlock(name, y))
        self.name = f"sharded-{self.local.name}"
        self._scale = cost_bound(x, y, self.order)

    def cost_scale(self) -> float:
        """The bounding-box bound on every cost, over all points (as on one process)."""
        return self._scale

    # -- the soft-min pair used by the Sinkhorn loop -------------------------------------
    def softmin_rows(self, eps: float, h: torch.Tensor) -> torch.Tensor:
        """All ``n`` row soft-mins: this rank's rows locally, then gathered."""
        return self.shards.cat(self.local.softmin_rows(eps, h), self.row_sizes, "rows")

    def softmin_cols(self, eps: float, h: torch.Tensor) -> torch.Tensor:
        """All ``m`` column soft-mins from every rank's log-sum-exp over its rows."""
        partial = self.local.softmin_cols(eps, h[self.rows]) / -eps
        return -eps * self.shards.logsumexp(partial)

    # -- reductions of the plan ----------------------------------------------------------
    def plan_sums(self, eps, f, g, log_a, log_b) -> PlanSums:
        r""":math:`\langle P, C\rangle`, :math:`P\mathbf 1`, :math:`P^\top\mathbf 1` of the global plan.

        Each rank sums its rows; the cost and the column sums are added up in
        rank order and the row sums gathered, so every rank gets the same bits.
        """
        rows = self.rows
        mine = self.local.plan_sums(eps, f[rows], g, log_a[rows], log_b)
        totals = self.shards.total(torch.cat([mine.cost.reshape(1), mine.cols]))
        return PlanSums(totals[0], self.shards.cat(mine.rows, self.row_sizes, "plan"), totals[1:])

    def apply_plan(self, eps, f, g, log_a, log_b, v: torch.Tensor) -> torch.Tensor:
        """:math:`P v` (all ``n`` rows): this rank's rows locally, then gathered."""
        rows = self.rows
        return self.shards.cat(self.local.apply_plan(eps, f[rows], g, log_a[rows], log_b, v),
                               self.row_sizes, "plan")

    def point_gradients(self, eps, f, g, log_a, log_b):
        r"""The envelope gradients for this rank's own points, zero elsewhere (no communication).

        :math:`\sum_j P_{ij}\nabla_x c(x_i, y_j)` for the rank's rows of
        :math:`x` comes from its block; :math:`\sum_i P_{ij}\nabla_y c(x_i, y_j)`
        for its own rows of :math:`y` from the column block
        :math:`C_{:, J_r}`, streamed in tiles from all of :math:`x`.
        """
        rows, cols = self.rows, self.own_cols
        gx, gy = torch.zeros_like(self.x), torch.zeros_like(self.y)
        gx[rows] = self.local.point_gradients(eps, f[rows], g, log_a[rows], log_b)[0]
        columns = TiledOperator(self.x, self.y[cols], self.order)
        gy[cols] = columns.point_gradients(eps, f, g[cols], log_a, log_b[cols])[1]
        return gx, gy

    def plan(self, eps, f, g, log_a, log_b):
        raise NotImplementedError(
            "the plan of a sharded problem is never formed (no rank holds all of it); "
            "use apply_plan")
