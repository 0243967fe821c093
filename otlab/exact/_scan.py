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
from differences, a few thousand pairs at a time.  Near-optimal potentials
leave only the blocks near the transport plan, a small fraction of all pairs.
Memory: :math:`O(n + m)` plus one tile.

For orders 1 and 2 in unit length without a clip (the costs of every plain
solve), the bounds and the blocks are evaluated by one compiled kernel
(:mod:`otlab.exact._scan_kernels`, numba), which computes each cost from the
coordinate differences as the tiles do and keeps each row's ``top_k`` largest
violations as it goes; other costs go through numpy tiles.  Measured (2-D
uniform, :math:`W_1`, potentials of the first round, one thread, load 5-7):
:math:`n = 2\cdot10^4`, 0.59 s to 0.20 s per check (3.8 % of the pairs
evaluated), later rounds 0.25-0.37 s to 0.12 s; the leaf-pair bounds, an
:math:`O((n/32)^2)` array in numpy, are now computed on the fly.  The kernel
then bounds each point against each kept target leaf too (its own potential
and its least cost to the leaf's box, instead of the leaf's largest potential
and box), and for :math:`k = 1` compares squared distances instead of taking
a square root per bound: at :math:`n = 10^5` (:math:`W_1`, optimal
potentials, load 3.7) 0.61 % -> 0.22 % of the pairs evaluated and 1.05 s ->
0.53 s per check, the same violations and positive row maxima; the whole
solve 0.90x the CPU time (two runs each, interleaved).

Planes.  Where the potentials slope steeply across a leaf (clouds moved far,
as clustered clouds are), the largest potential of a leaf and the least cost
to its box bound the excess loosely: within a leaf of radius :math:`r` the
potential varies by about :math:`|\nabla g|\,r` and the cost by as much, so
at :math:`n = 10^5` (20 clusters, :math:`W_2`, optimal potentials) every point
was evaluated against the whole target cluster, 4 % of all pairs.  Each leaf
now also gets a plane above its potentials (least-squares slope :math:`w_b`
about the box centre :math:`c_b`, offset :math:`A_b = \max_j h_j - w_b \cdot
(y_j - c_b)`, with :math:`h_j = g_j - |y_j - c_b|^2` for the squared distance),
and the cost is expanded about :math:`c_b` (exactly for the squared distance,
by the norm's tangent plane for the distance), so that

.. math::

    \max_{j \in b} e_{ij} \le f_i - c(x_i, c_b) + A_b
    + \sum_k |w_{bk} - \partial_{y_k} c(x_i, c_b)|\, r_{bk},

whose slack is the slope's *mismatch* times :math:`r`, small near the
transport plan where the bound matters; the same with both leaves' planes
bounds a pair of leaves, and target leaves are bounded sixteen at a time
first (:data:`GROUP_LEAVES`), so that the leaf pairs are no longer all
visited.  Once a row holds its ``top_k`` violations, blocks whose bound is
below the smallest of them are skipped too (they change neither the row's top
nor its maximum; ``n_violations`` then counts what was evaluated).  Measured
(one thread, the same potentials, load 2): :math:`n = 10^5` clustered
:math:`W_2` 2.56 -> 2.24 s (first round) and 1.72 -> 1.05 s (optimal
potentials), 4 % -> 0.7 % of the pairs evaluated; :math:`5\cdot10^4`
clustered :math:`W_1` 0.99 -> 0.54 s and 0.74 -> 0.72 s; :math:`10^5` uniform
:math:`W_1` 0.57 -> 0.41 s and 0.48 -> 0.34 s; the same violations kept and
the same row maxima.  Whole solves (interleaved, two runs each): :math:`10^5`
clustered :math:`W_2` 0.92-0.96x the CPU time, :math:`5\cdot10^4` clustered
:math:`W_1` 0.93-0.99x, :math:`10^5` uniform within the noise (0.97-1.04x).

Leaf size and vector loops.  The kernel evaluates a leaf's pairs for one
point in branch-free loops over the leaf's targets, their coordinates stored
column by column (:func:`~otlab.exact._scan_kernels._leaf_excess`), which the
compiler vectorises, square roots included; the violations are then picked
from that buffer.  A pair then costs about 3 ns instead of 10-12 ns, and the
bounds per point and leaf became the larger part, so the leaves hold
:data:`SCAN_LEAF` = 128 points instead of 32 (more pairs evaluated, far fewer
bounds).  Measured (one thread, the finest level's scans of a whole solve,
5*10^4 points, load 2): clustered :math:`W_1` 5.3 -> 3.2 s (32 -> 128 points
a leaf; 16 and 8 points were slower, 8.6 and 18.4 s, with the former loop),
clustered :math:`W_2` 1.9 -> 1.2 s, uniform :math:`W_2` 0.36 -> 0.16 s (and
uniform :math:`W_1` 0.58 s with the vector loops at 32 points, 0.33 s at
128); on clustered :math:`W_1`, leaves of 64 and 256 points took 3.2 and 3.1 s
and sources of 64 against targets of 128 points 3.0 s, against 2.9 s.  Whole solves at
:math:`10^5` points (the engines one after the other, load 2): clustered
:math:`W_2` 29.5 -> 26.5 s, clustered :math:`W_1` 70.1 -> 62.3 s, uniform
:math:`W_1` 13.1 -> 12.3 s, uniform :math:`W_2` 12.4 -> 12.3 s; ``emd_grid`` at
128², :math:`k = 1`, five classes 4.42 -> 4.32 s; the same values bitwise.

From :data:`GEMM_DIM` dimensions on the boxes prune nothing, and the scan
reads every pair through one matrix product of *lifted* points
(:func:`_lifted_scan`).  For :math:`k = 2` the excess is linear in the lifted
coordinates,

.. math::

    e_{ij} = F_i + G_j + 2\,x_i \cdot y_j, \qquad
    F_i = f_i - |x_i|^2,\ G_j = g_j - |y_j|^2 ,

so one product of :math:`(x_i, F_i, 1)` and :math:`(2y_j, 1, G_j + \delta)`
gives an upper bound of every excess, with :math:`\delta` a bound on the
round-off of the product and of :math:`F, G` themselves: a sum of
:math:`d + 2` products errs by at most :math:`\gamma_{d+2} \sum_t |u_t v_t|`,
:math:`2|x\cdot y| \le |x|^2 + |y|^2` and :math:`|x|^2` errs by
:math:`\gamma_d |x|^2`, about :math:`(2d + 2)\,\epsilon\,(|x|^2 + |y|^2) +
(d + 4)\,\epsilon\,(|F| + |G|)` in all; :math:`\delta = 4(d + 4)\,\epsilon\,
(\max|x|^2 + \max|y|^2 + \max|F| + \max|G|)` leaves a factor 2.  Other
orders take a lower bound of the squared distance from
:math:`(x_i, |x_i|^2, 1) \cdot (-2y_j, 1, |y_j|^2)` the same way (its terms
bound its error by :math:`(3d + 4)\,\epsilon\,(|x|^2 + |y|^2)`).  Only the
pairs whose bound is positive (a few per row near the optimum) are evaluated
from differences; the tile is read three times (product, row maxima, the
positive entries) instead of about a dozen.  Measured (d = 64, n = 5000,
k = 2, one thread): 0.8 s to 0.25 s per check of all pairs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..costs import PowerCost
from ._geometry import Leaves, box_gaps

__all__ = ["ScanResult", "scan_excess", "SCAN_LEAF"]

#: Points per leaf of the scans' k-d trees (module notes: "Leaf size").
SCAN_LEAF = 128
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
        Number of pairs with excess above ``tol`` found: all of them for the
        tiles and the lifted scan; the compiled scan skips the blocks that cannot
        enter a row's full top, so there it is at least one per violated row and
        at most all of them.
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
    """Excess of the pairs of a tile (below :data:`GEMM_DIM` dimensions)."""
    return f[rows, None] + g[None, cols] - cost.tile(x[rows], y[cols])


def _lifted(x, y, f, g, cost: PowerCost):
    """Lifted points whose products bound the excess (k = 2) or the squared distance from below.

    Returns ``(u, v, linear, delta)``: with ``linear`` the products ``u @ v.T``
    are upper bounds of the excesses; otherwise they are squared distances,
    ``delta`` above the true ones at most.
    """
    eps = np.finfo(float).eps
    sx, sy = np.einsum("ij,ij->i", x, x), np.einsum("ij,ij->i", y, y)
    ones_x, ones_y = np.ones((x.shape[0], 1)), np.ones((y.shape[0], 1))
    scale = float(sx.max(initial=0.0) + sy.max(initial=0.0))
    if cost.order == 2.0 and cost.unit == 1.0 and cost.clip == np.inf:
        big_f, big_g = f - sx, g - sy
        scale += float(np.abs(big_f).max(initial=0.0) + np.abs(big_g).max(initial=0.0))
        delta = 4.0 * (x.shape[1] + 4) * eps * scale
        u = np.hstack([x, big_f[:, None], ones_x])
        v = np.hstack([2.0 * y, ones_y, (big_g + delta)[:, None]])
        return u, v, True, delta
    delta = 4.0 * (x.shape[1] + 4) * eps * scale
    u = np.hstack([x, sx[:, None], ones_x])
    v = np.hstack([-2.0 * y, ones_y, sy[:, None]])
    return u, v, False, delta


def _lifted_scan(x, y, f, g, cost: PowerCost, *, tol: float, top_k: int) -> ScanResult:
    """Every pair through products of lifted points (module notes), tile by tile."""
    n, m = x.shape[0], y.shape[0]
    u, v, linear, delta = _lifted(x, y, f, g, cost)
    vt = np.ascontiguousarray(v.T)
    # the sum f_i + g_j - c of the other orders rounds too: a margin of its size
    slack = 0.0 if linear else 4.0 * np.finfo(float).eps * float(
        np.abs(f).max(initial=0.0) + np.abs(g).max(initial=0.0))
    row_max = np.empty(n)
    found_r, found_c, found_e = [], [], []
    step = max(1, TILE_PAIRS // max(1, m))
    for start in range(0, n, step):
        stop = min(n, start + step)
        bound = u[start:stop] @ vt
        if not linear:
            bound -= delta
            np.maximum(bound, 0.0, out=bound)
            bound = f[start:stop, None] + g[None, :] - cost.of_squared(bound)
        top = bound.max(axis=1)
        row_max[start:stop] = np.minimum(top + slack, 0.0)
        open_rows = np.nonzero(top > -slack)[0]
        if open_rows.size == 0:
            continue
        if open_rows.size < stop - start:  # near the optimum every row holds its plan's pairs
            bound = bound[open_rows]
        else:
            open_rows = np.arange(stop - start)
        near_r, near_c = np.nonzero(bound > -slack)
        rows = start + open_rows[near_r]
        exact = f[rows] + g[near_c] - cost.matched(x[rows], y[near_c])
        found_r.append(rows)
        found_c.append(near_c)
        found_e.append(exact)
    empty = np.empty(0, dtype=np.int64)
    if not found_r:
        return ScanResult(row_max=row_max, rows=empty, cols=empty, n_violations=0,
                          n_evaluated=n * m)
    rows, cols, exact = (np.concatenate(found_r), np.concatenate(found_c),
                         np.concatenate(found_e))
    positive = exact > 0
    np.maximum.at(row_max, rows[positive], exact[positive])
    bad = exact > tol
    rows, cols, exact = rows[bad], cols[bad], exact[bad]
    order = np.lexsort((-exact, rows))  # by row, the largest first
    rows, cols = rows[order], cols[order]
    first = np.searchsorted(rows, rows, side="left")
    keep = np.arange(rows.shape[0]) - first < top_k
    return ScanResult(row_max=row_max, rows=rows[keep], cols=cols[keep],
                      n_violations=int(bad.sum()), n_evaluated=n * m)


def _block_bounds(x, f, g, leaves_x: Leaves, leaves_y: Leaves, cost: PowerCost):
    """Chunks of source leaves and the bounds of their blocks' excess against every target leaf."""
    max_f, max_g = leaves_x.leaf_max(f), leaves_y.leaf_max(g)
    chunk = max(1, BOUND_PAIRS // max(1, leaves_y.count * x.shape[1]))
    for first in range(0, leaves_x.count, chunk):
        block = np.arange(first, min(first + chunk, leaves_x.count))
        yield block, max_f[block, None] + max_g[None, :] - box_gaps(
            leaves_x.lo[block], leaves_x.hi[block], leaves_y.lo, leaves_y.hi, cost)


def _f64(values):
    """Contiguous float64 (the tiles' ``cdist`` computes in float64 too)."""
    return np.ascontiguousarray(values, dtype=np.float64)


def _plane_margin(x, y, *sides) -> float:
    r"""A bound, with room to spare, on the round-off of the plane bounds of the compiled scan.

    Their terms are at most the offsets :math:`|A|` (which hold the potentials), the
    squared extent of the two clouds and :math:`(|w| + 2\,\text{extent})\,\text{extent}`,
    each formed in a few operations of relative round-off :math:`\epsilon`.
    """
    if x.shape[0] == 0 or y.shape[0] == 0:
        return 0.0
    both = np.concatenate([x, y])
    extent = float(np.max(both.max(axis=0) - both.min(axis=0))) * np.sqrt(x.shape[1])
    terms = (1.0 + extent) ** 2 + sum(np.max(np.abs(offset)) + np.max(np.abs(top))
                                      + np.max(np.abs(slope)) * extent * x.shape[1]
                                      for _, _, top, _, slope, offset in sides)
    return float(64 * (x.shape[1] + 4) * np.finfo(np.float64).eps * terms)


#: Consecutive target leaves bounded together before each leaf is (the compiled scan).
GROUP_LEAVES = 16


def _box_side(points, values, starts, lo, hi, root):
    """``(lo, hi, top, centre, slope, offset)`` of the boxes ``starts`` of sorted points."""
    from ._scan_kernels import leaf_planes

    lo, hi = _f64(lo), _f64(hi)
    centre, slope, offset = np.empty_like(lo), np.empty_like(lo), np.empty(lo.shape[0])
    leaf_planes(points, values, starts, lo, hi, root, centre, slope, offset)
    return lo, hi, np.maximum.reduceat(values, starts[:-1]), centre, slope, offset


def _compiled_scan(x, y, f, g, leaves_x: Leaves, leaves_y: Leaves, cost: PowerCost, *,
                   tol: float, top_k: int) -> ScanResult:
    """The leaf-block scan, bounds and blocks in one compiled kernel (orders 1 and 2)."""
    from ._scan_kernels import scan_leaves

    n = x.shape[0]
    root = cost.order == 1.0
    row_max = np.full(n, -np.inf)
    out_rows = np.empty(n * top_k, np.int64)
    out_cols = np.empty(n * top_k, np.int64)
    y_sorted, g_sorted = _f64(y[leaves_y.perm]), _f64(g[leaves_y.perm])
    side_y = _box_side(y_sorted, g_sorted, leaves_y.start, leaves_y.lo, leaves_y.hi, root)
    side_x = _box_side(_f64(x[leaves_x.perm]), _f64(f[leaves_x.perm]), leaves_x.start,
                       leaves_x.lo, leaves_x.hi, root)
    first = np.arange(0, leaves_y.count, GROUP_LEAVES)
    groups = _box_side(y_sorted, g_sorted, np.append(leaves_y.start[first], y.shape[0]),
                       np.minimum.reduceat(leaves_y.lo, first), np.maximum.reduceat(leaves_y.hi, first),
                       root)
    n_out, n_bad, n_eval = scan_leaves(
        _f64(x), _f64(f), y_sorted, g_sorted, leaves_y.perm, leaves_y.start, leaves_x.perm,
        leaves_x.start, side_x, side_y, groups, GROUP_LEAVES,
        _plane_margin(x, y, side_x, side_y, groups), root, float(tol), int(top_k), row_max,
        out_rows, out_cols)
    return ScanResult(row_max=row_max, rows=out_rows[:n_out], cols=out_cols[:n_out],
                      n_violations=n_bad, n_evaluated=n_eval)


def scan_excess(x, y, f, g, leaves_x: Leaves, leaves_y: Leaves, cost: PowerCost, *,
                tol: float, top_k: int = 5) -> ScanResult:
    """Scan every pair ``(i, j)`` for a positive excess ``f_i + g_j - c(x_i, y_j)``.

    Returns the row maxima of the excess (exact wherever it is positive) and
    the largest violations above ``tol`` of each row, to add to a restricted
    problem.  From :data:`GEMM_DIM` dimensions on, through products of lifted
    points (module notes); the leaves are not used there.
    """
    if x.shape[1] >= GEMM_DIM:
        return _lifted_scan(x, y, f, g, cost, tol=tol, top_k=top_k)
    if cost.unit == 1.0 and cost.clip == np.inf and cost.order in (1.0, 2.0):
        return _compiled_scan(x, y, f, g, leaves_x, leaves_y, cost, tol=tol, top_k=top_k)
    return _tiled_scan(x, y, f, g, leaves_x, leaves_y, cost, tol=tol, top_k=top_k)


def _tiled_scan(x, y, f, g, leaves_x: Leaves, leaves_y: Leaves, cost: PowerCost, *,
                tol: float, top_k: int) -> ScanResult:
    """The leaf-block scan in numpy tiles (any cost)."""
    n = x.shape[0]
    row_max = np.full(n, -np.inf)
    found_r, found_c = [], []
    n_bad = n_eval = 0
    for block, bound in _block_bounds(x, f, g, leaves_x, leaves_y, cost):
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
