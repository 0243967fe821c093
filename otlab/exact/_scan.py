r"""Dual feasibility over all n x m pairs, tile by tile, in memory independent of n * m.

For potentials :math:`(f, g)` the *excess* of a pair is
:math:`e_{ij} = f_i + g_j - c(x_i, y_j)`; the potentials are dual feasible
when no excess is positive.  The scan visits the pairs leaf block by leaf
block (:class:`~otlab.exact._geometry.Leaves`).  For leaves :math:`A, B`

.. math::

    \max_{i \in A, j \in B} e_{ij} \le \max_A f + \max_B g
    - \min_{u \in \mathrm{box}(A), v \in \mathrm{box}(B)} \lVert u - v \rVert^k ,

so a block whose bound is :math:`\le 0` holds no positive excess and is
skipped unseen; the other blocks are evaluated exactly, with costs formed
from differences, a few thousand pairs at a time.  From :data:`GEMM_DIM`
dimensions on (where boxes prune little) a tile is first bounded with
squared distances from a matrix product, :math:`|x|^2 + |y|^2 - 2x\cdot y`,
lowered by a bound on its round-off, :math:`4(d + 2)\,\epsilon\,(|x|^2 + |y|^2)`;
only the pairs whose excess bound is positive are evaluated from differences.  Near-optimal potentials
leave only the blocks near the transport plan, a small fraction of all pairs.
Memory: :math:`O(n + m)` plus one tile.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..costs import PowerCost
from ._geometry import Leaves, box_gaps

__all__ = ["ScanResult", "scan_excess"]

#: Largest number of pairs evaluated at once (8 bytes each, a few arrays of it).
TILE_PAIRS = 1 << 21
#: Leaf blocks bounded at once (one float per leaf pair and coordinate).
BOUND_PAIRS = 1 << 21
#: From this dimension on, tiles are screened with a matrix product (module notes).
GEMM_DIM = 9


@dataclass(frozen=True)
class ScanResult:
    """What a scan found.

    Attributes
    ----------
    row_max : ndarray, shape (n,)
        :math:`\\max_j e_{ij}` over the pairs evaluated; ``-inf`` where every
        block of row ``i`` was proven to hold no positive excess.
    rows, cols : ndarray
        Pairs with excess above ``tol``: the ``top_k`` largest of each row.
    n_violations : int
        Number of pairs with excess above ``tol`` (all of them, not only the top).
    n_evaluated : int
        Number of pairs whose cost was computed.
    round_off : float
        A bound on the error of ``row_max`` from below (0 for the scan, which
        evaluates each excess; positive for the grid's c-transform,
        :mod:`otlab.exact._grid_dual`): the true maxima are at most
        ``row_max + round_off``.
    """

    row_max: np.ndarray
    rows: np.ndarray
    cols: np.ndarray
    n_violations: int
    n_evaluated: int
    round_off: float = 0.0

    @property
    def max_excess(self) -> float:
        """:math:`\\max(0, \\max_{ij} e_{ij})` over all pairs (plus ``round_off``)."""
        return max(0.0, float(self.row_max.max(initial=-np.inf)) + self.round_off)


def _top_violators(excess, rows, cols, tol, top_k):
    """The ``top_k`` largest excesses above ``tol`` of each row of a tile."""
    bad_rows = np.nonzero((excess > tol).any(axis=1))[0]
    if bad_rows.size == 0:
        return None
    sub = excess[bad_rows]
    k = min(top_k, sub.shape[1])
    top = np.argpartition(-sub, k - 1, axis=1)[:, :k]
    keep_r, keep_k = np.nonzero(np.take_along_axis(sub, top, axis=1) > tol)
    return rows[bad_rows[keep_r]], cols[top[keep_r, keep_k]]


def _tile_excess(x, y, f, g, rows, cols, cost: PowerCost):
    """Excess of the pairs of a tile: exact where it may be positive, an upper bound <= 0 elsewhere."""
    xr, yc = x[rows], y[cols]
    if x.shape[1] < GEMM_DIM:
        return f[rows, None] + g[None, cols] - cost.tile(xr, yc)
    sx, sy = np.einsum("ij,ij->i", xr, xr), np.einsum("ij,ij->i", yc, yc)
    both = sx[:, None] + sy[None, :]
    sq = both - 2.0 * (xr @ yc.T)
    sq -= (4.0 * (x.shape[1] + 2) * np.finfo(float).eps) * both  # below the true value
    np.maximum(sq, 0.0, out=sq)
    excess = f[rows, None] + g[None, cols] - cost.of_squared(sq)  # above the true excess
    near_r, near_c = np.nonzero(excess > 0)
    if near_r.size:
        excess[near_r, near_c] = (f[rows[near_r]] + g[cols[near_c]]
                                  - cost.matched(xr[near_r], yc[near_c]))
    return excess


def scan_excess(x, y, f, g, leaves_x: Leaves, leaves_y: Leaves, cost: PowerCost, *,
                tol: float, top_k: int = 5) -> ScanResult:
    """Scan every pair ``(i, j)`` for a positive excess ``f_i + g_j - c(x_i, y_j)``.

    Returns the row maxima of the excess (exact wherever it is positive) and
    the largest violations above ``tol`` of each row, to add to a restricted
    problem.
    """
    n = x.shape[0]
    row_max = np.full(n, -np.inf)
    found_r, found_c = [], []
    n_bad = n_eval = 0
    max_f, max_g = leaves_x.leaf_max(f), leaves_y.leaf_max(g)
    chunk = max(1, BOUND_PAIRS // max(1, leaves_y.count * x.shape[1]))
    for first in range(0, leaves_x.count, chunk):
        block = np.arange(first, min(first + chunk, leaves_x.count))
        bound = max_f[block, None] + max_g[None, :] - box_gaps(
            leaves_x.lo[block], leaves_x.hi[block], leaves_y.lo, leaves_y.hi, cost)
        for k, leaf in enumerate(block):
            near = np.nonzero(bound[k] > 0)[0]
            if near.size == 0:
                continue
            rows = leaves_x.members(np.array([leaf]))
            cols_all = leaves_y.members(near)
            step = max(1, TILE_PAIRS // rows.shape[0])
            for start in range(0, cols_all.shape[0], step):
                cols = cols_all[start:start + step]
                excess = _tile_excess(x, y, f, g, rows, cols, cost)
                n_eval += excess.size
                row_max[rows] = np.maximum(row_max[rows], excess.max(axis=1))
                n_bad += int(np.count_nonzero(excess > tol))
                top = _top_violators(excess, rows, cols, tol, top_k)
                if top is not None:
                    found_r.append(top[0])
                    found_c.append(top[1])
    empty = np.empty(0, dtype=np.int64)
    return ScanResult(
        row_max=row_max,
        rows=np.concatenate(found_r) if found_r else empty,
        cols=np.concatenate(found_c) if found_c else empty,
        n_violations=n_bad,
        n_evaluated=n_eval,
    )
