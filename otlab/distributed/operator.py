r"""The soft-min operator of a problem whose rows are spread over the ranks.

Rank :math:`r` holds the rows :math:`I_r` of the source points and all the
target points; its *local operator* (dense, tiled or Triton, chosen by the
size of its block as in :func:`otlab.entropic.sinkhorn_samples`) sees only
the block :math:`C_{I_r, :}` of the cost matrix, which no other rank holds.
The two soft-min maps the Sinkhorn loop calls then read

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
do, so :func:`otlab.entropic.solver.sinkhorn_loop` (ε-scaling, Anderson
acceleration, stopping rule) runs unchanged on every rank; the vectors are
bitwise identical on all ranks, so every rank takes the same decisions.

Per iteration a rank computes :math:`|I_r| \times m` costs and exchanges
:math:`n + N m` numbers (:math:`N` ranks): the row potential's slices and the
column partials.
"""

from __future__ import annotations

import torch

from ..entropic.samples import choose_backend, make_operator

__all__ = ["ShardedOperator"]


class ShardedOperator:
    """Soft-min and plan reductions of a row-sharded cost :math:`\\lVert x_i - y_j\\rVert^k`.

    Parameters
    ----------
    x_local : Tensor, shape (n_r, d)
        This rank's source points (rows ``rows`` of the global problem).
    y_all : Tensor, shape (m, d)
        All target points.
    order : float
        The cost exponent ``k``.
    backend : str
        The local back-end, as in :func:`otlab.entropic.sinkhorn_samples`
        (``"auto"`` decides by the size of this rank's block).
    shards : otlab.distributed._shards.Shards
        The collectives.
    row_sizes : list of int
        Rows held by each rank; ``y_cols`` (a slice) are this rank's own targets.
    """

    def __init__(self, x_local, y_all, order, backend, shards, row_sizes, y_cols):
        name = choose_backend(backend, x_local.shape[0], y_all.shape[0], x_local.device)
        self.local = make_operator(x_local, y_all, order, name)
        self.name = f"sharded-{self.local.name}"
        self.shards, self.row_sizes, self.y_cols = shards, list(row_sizes), y_cols
        start = sum(self.row_sizes[:shards.rank])
        self.rows = slice(start, start + self.row_sizes[shards.rank])
        self.shape = (sum(self.row_sizes), y_all.shape[0])

    # -- the soft-min pair used by the Sinkhorn loop -------------------------------------
    def softmin_rows(self, eps: float, h: torch.Tensor) -> torch.Tensor:
        """All ``n`` row soft-mins: this rank's rows locally, then gathered."""
        return self.shards.cat(self.local.softmin_rows(eps, h), self.row_sizes, "rows")

    def softmin_cols(self, eps: float, h: torch.Tensor) -> torch.Tensor:
        """All ``m`` column soft-mins from every rank's log-sum-exp over its rows."""
        partial = self.local.softmin_cols(eps, h[self.rows]) / -eps
        return -eps * self.shards.logsumexp(partial)

    # -- reductions of the plan ----------------------------------------------------------
    def transport_cost(self, eps, f, g, log_a, log_b) -> torch.Tensor:
        r""":math:`\langle P, C\rangle`: every rank's block, summed in rank order."""
        rows = self.rows
        return self.shards.total(self.local.transport_cost(eps, f[rows], g, log_a[rows], log_b))

    def point_gradients(self, eps, f, g, log_a, log_b):
        r"""This rank's slices of :math:`\sum_j P_{ij}\nabla_x c` and :math:`\sum_i P_{ij}\nabla_y c`.

        The first is local (this rank's rows); the second sums every rank's
        rows (an all-reduce) and is sliced to this rank's own targets.
        """
        rows = self.rows
        gx, gy_partial = self.local.point_gradients(eps, f[rows], g, log_a[rows], log_b)
        return gx, self.shards.all_reduce_sum(gy_partial)[self.y_cols]

    def plan(self, eps, f, g, log_a, log_b):
        raise NotImplementedError(
            "the plan of a sharded problem is never formed (no rank holds all of it)")
