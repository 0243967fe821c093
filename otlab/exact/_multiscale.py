r"""Coarse-to-fine column generation for exact OT between point clouds.

One level (Schmitzer 2016, with the shielding neighbourhoods replaced by a
full dual check):

1. *Coarse problem.*  Both clouds are cut into the leaves of a balanced k-d
   tree (about ``coarse_leaf`` points each); the leaves' weighted centroids and
   masses form an OT problem ``coarse_leaf`` times smaller, solved by the same
   method (recursively, down to a dense problem).
2. *Candidate pairs.*  Every pair of points whose leaves exchange mass in the
   coarse plan, the ``knn`` nearest neighbours of each point in the other
   cloud, and the monotone coupling along the first coordinate (which alone
   makes the restricted problem feasible for any weights).
3. *Restricted LP.*  Solved exactly by otlab's network simplex
   (:mod:`._simplex`) on the candidate pairs, starting from the coarse plan
   refined into a feasible plan between the points (:mod:`._refine`): its
   support is a forest, hung from the artificial root as the first basis.
4. *Pricing.*  Every one of the :math:`nm` pairs is checked for a violated
   dual constraint :math:`f_i + g_j > c_{ij} + \tau` (:mod:`._scan`).  The most
   violated pairs of each row and the neighbours of each point's current
   partners join the candidates *and the simplex keeps its basis*: the new
   pairs enter at flow 0, the tree stays primal feasible, and the next round
   costs the pivots the new pairs bring; when no pair is violated the plan is
   optimal for the full problem.

Measured (``benchmarks/reports/exact_engine.md``: the finest level's LPs of
real solves replayed round by round, CPU time, 2-core machine at load 1.8 to
1.9, after the unsigned indices of :mod:`._simplex_kernels`).  From cold,
POT's sparse simplex (LEMON's) was faster than otlab's per solve (about 1.4 to
2.0x; since the potential shifts walk eight chains, :mod:`._simplex`, otlab's runs at
0.96-1.99x POT's speed there); otlab's wins are the kept basis in the later rounds (a round that adds
a thousand pairs costs a few dozen pivots: 0.0009 s against 0.007 s for POT
warm-started from potentials and 0.026 s for POT cold at n = 2000) and the
seeded first round.  End to end (``emd_points``, one
thread, 64 x 64 grid pairs of random fields) the solve went from 4.0-5.9 s to
0.7-1.0 s of CPU against the previous pipeline (POT re-solving each round,
warm-started from an OR-Tools flow), and 2-D uniform n = 20 000 from 12.3 s to
8.9 s of CPU.  The simplex now keeps its tree as a thread (preorder list,
subtree sizes and last nodes, as in LEMON; :mod:`._simplex`): the same pivots
cost 1.8-2.3x less (POT was then 1.3-1.8x faster from cold).  Not done:
Schmitzer's shielding neighbourhoods as a provable candidate set (the
candidate sets are still the coarse blocks, nearest neighbours and the
monotone coupling; global optimality comes from the full check).  What
shielding would save is the check, and the check is not where the time goes
(10^5 2-D points, one thread, load 1.5, CPU time of the whole solve /
of all checks / of the simplex, every level): uniform W_2 9.6 / 0.38 /
7.3 s, clustered W_2 20.8 / 4.4 / 13.9 s, clustered W_1 47.1 / 8.4 / 34.7 s.
In the clustered W_1 solve about 15*10^9 potentials are shifted at 2 ns
each (:mod:`._simplex`, "Large shifts"; about 1 ns since the shifts walk eight
chains, "Eight chains"): the pivots, not the candidates.

High dimensions.  From ``coarse_dim`` (9) dimensions on there is no coarse
level: leaves of a k-d tree hold points that are far apart, their centroids'
plan seeds the simplex badly and its blocks are poor candidates.  The
candidates are the nearest neighbours and the monotone coupling, the
simplex starts cold, and the rounds add the violated pairs only, not the
neighbours of the partners (measured, d = 64, n = 5000, k = 2, one thread:
133 000 first-round pivots seeded against 34 000 cold; the solve 5.9 s to
3.3 s of CPU, and 2.7 s without the partners' neighbours, in as many rounds).

Clustered clouds (20 Gaussian clusters of width 0.02 per cloud, at different centres) need
more rounds: at 2*10^4 points the first check finds 4-5 million violated pairs (uniform
clouds: 29 000), and 5-6 rounds follow.  Tried without gain (2*10^4, k = 1 and 2): the 20
most violated pairs per row instead of 5, 16 nearest neighbours instead of 8, coarse leaves of
4 points, and the pairs that the c-transform of the coarse potentials (spread over their
leaves) makes tight, one per point on each side, among the first candidates (round-one
violations 5.2 -> 4.1 million, the same 5 rounds, more time).  Where the violations lie
(5*10^4 points, W_2, pairs sampled with the first round's potentials): 97 % join a source
cluster to a target cluster that exchange mass at the optimum (73 of the 400 cluster pairs),
with excesses up to 0.08; the potentials within a moved cluster are wrong, not the offsets
between clusters.  The neighbours of the seed's partners among the first candidates (the
pairs that make a translated block's potentials right) cut the round-one violations from
about 53 million to 64 000, but the first round then takes 454 000 pivots instead of
149 000 and the total (715 000 against 780 000 at 5*10^4; 1.49 against 1.63 million at 10^5)
and the CPU time stay the same (11.5 / 11.1 s; 39.4 / 40.0 s).  The pivots are the cost:
about 16 a point, and in 4-6 % of them the cut subtree holds more than a twentieth of the
nodes, which makes 80 % of the potentials shifted (on 128² grids, k = 2, 42 % of the
finest level's pivots do).  Larger pricing blocks (0.3 and 1 times the square root of the
pairs instead of 0.1) were slower (12.6 and 14.3 s against 11.1 s at 5*10^4).

How much better candidates could give, clustered W_1 (5*10^4 points, one thread, load
about 1; the finest level of a solve, then the same solve again with the first solve's
optimal pairs added to the first candidates, an oracle).  The seed costs 0.07 % above the
optimum and the first round's restricted optimum 0.03 %, yet 80 209 of the 89 424 optimal
pairs are not among the first candidates: between far clusters :math:`\lVert x - y\rVert`
is nearly linear in the points, so the optimal partner of a point lies a cluster's width
away from the coarse block's partner, along the direction of transport (median 0.020 along,
0.0012 across), one of many nearly tied vertices.  Without the oracle the finest level takes
8 rounds, 1.63 million pivots and 2.56*10^9 shifted potentials; with it 7 rounds, 0.67
million pivots (0.66 million in the first) and 1.46*10^9: the whole solve 11.5 -> 8.7 s of
CPU.  So even perfect candidates would not bring 10^5 clustered W_1 points from about 49 s
to 30 s.  Candidates along the ray (the 8 targets within 0.06 of the seed's partner closest
to the line of transport) covered 14 % of the optimal pairs instead of 10 % and made the
solve slower (1.71 million pivots).

What the pivots are for (the same 5*10^4 clustered W_1 points; the finest level's first
LP, 1.37 million candidate pairs, or that LP with the optimal pairs added; one thread,
CPU time, load about 2).  It is the seed's *structure*, not its cost or its dual:

* Seeded with the optimal plan's support instead of the refined coarse plan, the LP with
  the optimal pairs added took 12 994 pivots (all degenerate: they join the support's
  components) and 0.42 s, against 1.59 million pivots and 35.6 s from the coarse seed,
  whose cost is only 0.03 % above.
* The coarse seed's 26 628 forest components joined, before the first pivot, by the
  zero-flow candidate pairs of least reduced cost under the *optimal* potentials (a
  strongly feasible spanning tree: each component hung by one pair from its source to an
  earlier component's target) saved little: 198 000 pivots instead of 237 000 on the
  first LP.
* Coarser and finer hierarchies do not transfer the structure either: every level takes
  about 20-33 pivots a point whatever the leaves (8 points, the default: 1.64 million at
  the finest level, 12.7 s in all; 4 points: 1.21 million, 11.6 s; 2 points, each level
  seeded from the optimum of one with half the points: 0.93 million, 16.6 s).
* Nor does a seed that is optimal piece by piece: the refined seed's forest components,
  grouped in space order into 7 (or 26) closed problems of about 8000 (2000) sources, each
  solved exactly by this solver, their plans joined as the seed: 1.11 (1.26) million
  pivots at the finest level, and 22.0 (19.4) s in all against 12.7 s.  On the first LP
  alone the same grouping took 110 000-160 000 pivots after the groups' 130 000-190 000
  (cheap: small trees), 1.55-1.87 s against 2.28-2.56 s, but the later rounds undo it.
* Within each coarse block the seed's pieces are sorted along the arc's direction; sorted
  across it (the second-order term of :math:`\lVert x - y\rVert` between far blocks) the
  solve was the same (1.62 against 1.64 million pivots).
* Cost scaling inside the simplex (the LP solved with costs rounded to :math:`10^{-3}`,
  then :math:`10^{-4}` ... of the largest, each phase from the last basis, then exactly):
  435 000 to 847 000 pivots in all against 237 000 exactly at once.
* OR-Tools' cost-scaling min-cost flow (``SimpleMinCostFlow``, costs rounded to integers
  at :math:`2^{-40}` of the largest, unit supplies): 4.65 s on the first LP against 1.77 s
  for this simplex from the seed, with no basis or potentials to keep.

Leaves of large levels.  A level with at least ``large_level`` (75 000) points on a side
is cut into leaves of ``large_leaf`` (4) points, smaller levels into leaves of 8: the
large level's seed then comes from a problem 4 times smaller instead of 8, which saves
more of its pivots than the larger coarse problem costs.  Measured (one thread, CPU time
of the whole solve, the variants run one after the other on the same clouds, load 2-3;
2-D unless said; leaves of 8 at every level -> this rule):

* 10^5 points: clustered W_1 50.5 -> 41.7 s, uniform W_2 9.11 -> 7.57 s, weighted
  (weights :math:`U^3`) W_1 26.2 -> 21.6 s, 3-D uniform W_1 32.8 -> 24.5 s;
* 2*10^5 points: uniform W_1 41.7 -> 30.4 s, uniform W_2 33.6 -> 23.7 s, clustered W_2
  60.5 -> 51.3 s, clustered W_1 132.4 and 137.4 -> 138.0 and 139.0 s (two runs each);
* leaves of 4 at *every* level, at 10^5: clustered W_1 51.2 -> 44.2 s, clustered W_2
  20.0 -> 17.3 s, uniform W_1 9.80 -> 8.15 s, uniform W_2 9.21 -> 7.27 s, weighted W_1
  24.2 -> 18.4 s, 3-D uniform W_1 30.7 -> 25.5 s, 3-D clustered W_2 46.7 -> 38.3 s; at
  5*10^4 mixed (3-D uniform W_1 6.0 -> 6.6 s, weighted W_1 7.8 -> 5.6 s, clustered W_1
  12.1 -> 12.0 s, 3-D clustered W_2 16.4 -> 12.5 s) and at 2*10^4 slower (clustered W_1
  2.0 -> 2.3-2.4 s, 5-D uniform W_2 3.2 -> 3.6 s): hence the threshold.
* 10^6 points (``benchmarks/reports/exact_scale.md``; the "before" rows on the engine
  before this rule, other changes in between): uniform W_2 1039 -> 500 s, clustered W_1
  5428 -> 3943 s (14 -> 13 rounds, 141 -> 135 million candidate pairs).
* Tried at 10^5 clustered W_1 with this rule (40.0 s, one thread, load 2-3), no gain: the
  5 most violated pairs a row -> 10 or 3 (41.7, 45.2 s), 8 nearest neighbours -> 4 or 12
  (41.2, 42.1 s), pricing blocks of 0.5 instead of 0.1 times the square root of the pairs
  (42.8 s), the coarse levels stopped after 4 or 2 pricing rounds (38.7, 56.4 s).
* Where the time goes as n grows (clustered W_1, one thread; the finest level's simplex
  rounds and all scans; measured before the shifts walked eight chains, which took the
  10^5 solve from 41.4 to 29.3 s, :mod:`._simplex`).  10^5 points (load about 1): 41.6 s in all, the finest simplex
  22.7 s (2.78 million pivots, 9.6*10^9 shifted potentials), its 8 scans 8.5 s (1.0 s
  each, whether they find 64 million violated pairs or none), the coarse level (32 768
  points) 5.0 s of simplex.  4*10^5 points (load about 2): 501 s in all, the finest
  simplex 315 s (15.9 million pivots, 148*10^9 shifted potentials: 9 300 a pivot against
  3 500 at 10^5; round 2 alone 5.4 million pivots and 108 s), its 11 scans 92 s (7-9 s
  each), the coarse level (131 072 points) 45 s of simplex and 13 s of scans.  12 times
  the time for 4 times the points: the shifts grow with the pivots *and* with the size of
  the moved subtrees.
* Not a simplex for the first rounds: a forward auction (Gauss-Seidel bids, epsilon
  scaling by 6 from a quarter of the largest cost to :math:`10^{-7}` of it; the
  assignment case, n = m and equal weights) on the same candidates, with the same scan
  adding violated pairs to it, then this simplex seeded with the auction's assignment.
  At 2*10^4 clustered W_1 points (about 2.0 s for this solver): the auction's rounds took
  4.4 s (18 rounds; restarted at the final epsilon only, one round took 705 million bids
  and 124 s, so each round starts again from half its largest violation), and the
  simplex after it still 96 000 pivots and 2.4 s: the assignment is nearly optimal, but
  the 76 000 degenerate pivots that join it into a tree give potentials other than the
  auction's prices, and their scans found 13 000, 1 900 and 42 violated pairs.  9.8 s in
  all.  The structure of a W_1 plan between far clusters is decided by differences of
  about :math:`10^{-6}` of the cost (the transverse offsets squared over the distance),
  which is where epsilon scaling has to go and where its bids pile up.

Grids (:func:`otlab.emd_grid`).  The pixels are solved with 2 x 2 blocks per
coarse point (``coarse_leaf=4``), coarse levels stopped after 2 pricing rounds
(``coarse_rounds``: their plan only seeds the next level) and 4 nearest
neighbours, found at the finest level by grid offsets (``grid``,
:mod:`otlab.exact._grid_geometry`), and with
:math:`k = 2` the finest level is priced by a ``pricer``
(:class:`~otlab.exact._grid_dual.GridPricer`): the c-transform on the grid,
axis by axis, gives every row's largest excess over *all* pixels and the
pixel attaining it in :math:`O(n)` per axis, and it certifies the result
with an explicit round-off bound.  Where the pair scan priced the rows, each
row now gets its one most violated pair (and the neighbours of its
partners).  Measured at 128² (smooth random fields, one thread): the
simplex dominates, 80 000 to 140 000 pivots at the finest level over
16 384 pixels whatever the candidate sets (coarse blocks with 8 or 4 points,
with or without the shielding-style pairs "partners of the neighbours" from
the seed), each pivot relabelling 1 500 (first round) to 7 000 (later
rounds) nodes of the moved subtree: the work per pivot, not the number of
pivots or of candidate pairs, is what keeps 128² at seconds (profile, and
what else was tried: :mod:`otlab.exact.grid`).

Bookkeeping.  The candidates are kept as sorted keys (``row * m + col``); each round's
new pairs are found and merged into them by one compiled pass over the two sorted arrays
(:func:`~._pair_kernels.absent_and_union`).  A binary search per new key and ``np.insert``
(several passes over the keys) took 2.0 s of a 29 s solve at 10^5 clustered :math:`W_1`
points (cProfile, one thread), the merge pass 0.4 s: the whole solve 29.1-29.3 s ->
27.9-28.5 s of CPU, the same value.

Tolerance :math:`\tau`.  The simplex stops when no reduced cost is below
:math:`-2.2\cdot10^{-15}` times the magnitude of the cost and potentials
involved, with potentials recomputed from the tree, whose depth sets their
round-off.  The
largest excess :math:`\eta` that the returned potentials show on the
candidate pairs (pairs the solver has certified) measures that round-off, and
:math:`\tau = \max(4\eta, 10^{-13} c_{\max})`.  A pair outside the candidates
violated by less than :math:`\tau` could lower the cost by at most
:math:`\tau` times the mass: the reported ``dual_violation`` keeps that bound
(:math:`W^* \ge \langle a, f\rangle + \langle b, g\rangle - \text{violation}`).
Potentials that show an excess above :data:`ETA_LIMIT` of the costs on their
own pairs are not certified (``converged=False``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from ..costs import PowerCost
from ._geometry import Leaves
from ._refine import refine_plan
from ._restricted import Restricted, solve_dense
from ._scan import SCAN_LEAF, ScanResult, scan_excess
from ._simplex import OPTIMAL, NetworkSimplex

__all__ = ["SolverOptions", "Solution", "solve_points"]

#: Floor of the pricing tolerance, relative to the largest candidate cost.
TOL_FLOOR = 1e-13
#: Largest excess the potentials may show on the candidate pairs (relative to the largest
#: candidate cost) for the solve to count as optimal: far above the simplex's round-off,
#: far below any real violation.
ETA_LIMIT = 1e-9


@dataclass(frozen=True)
class SolverOptions:
    """Settings of the coarse-to-fine solver (see the module docstring)."""

    cost: PowerCost
    max_iter: int
    max_rounds: int = 100
    dense_pairs: int = 160_000  # below this a level is solved densely: faster there
    coarse_leaf: int = 8
    #: a level with at least ``large_level`` points on a side is cut into leaves of
    #: ``large_leaf`` points instead (module notes, "Leaves of large levels")
    large_level: int = 75_000
    large_leaf: int = 4
    scan_leaf: int = SCAN_LEAF
    knn: int = 8
    top_k: int = 5
    sparse_top: bool = False  # solve the finest level sparsely whatever its size
    #: from this dimension on no coarse level: nearest neighbours and a cold start (module notes)
    coarse_dim: int = 9
    report: object = None  # callable(dict) or None
    #: callable(f, g, tol) -> ScanResult pricing the finest level instead of the scan (grids)
    pricer: object = None
    #: the finest level's pixels on their grids (:class:`~._grid_geometry.GridGeometry`):
    #: their nearest neighbours found by grid offsets, without k-d trees
    grid: object = None
    #: pricing block of the network simplex, in units of the square root of the pair count
    block_factor: float = 1.0
    #: pricing rounds of a coarse level (its plan only seeds the next one); None: max_rounds
    coarse_rounds: int | None = None


@dataclass(frozen=True)
class Solution:
    """Plan and potentials of the full problem, and how they were found."""

    plan: Restricted
    scan: ScanResult | None
    rounds: int
    n_pairs: int
    converged: bool
    max_cost: float  # the largest cost the last LP was given


def _keys(rows, cols, m):
    return rows.astype(np.int64) * m + cols


def _sorted_unique(keys):
    """Sorted distinct keys (a sort and a mask: much faster than hashing for ~10^6 int64)."""
    keys = np.sort(keys)
    if keys.size:
        keep = np.empty(keys.shape[0], dtype=bool)
        keep[0] = True
        np.not_equal(keys[1:], keys[:-1], out=keep[1:])
        keys = keys[keep]
    return keys


def _missing(keys, sorted_keys):
    """Distinct entries of ``keys`` absent from the sorted distinct ``sorted_keys``."""
    from ._pair_kernels import absent_and_union

    return absent_and_union(sorted_keys, _sorted_unique(keys), False)[0]


def _add_missing(sorted_keys, keys):
    """The distinct ``keys`` absent from ``sorted_keys``, and the sorted union of the two.

    >>> new, union = _add_missing(np.array([1, 4, 9]), np.array([10, 0, 4, 5, 0]))
    >>> new.tolist(), union.tolist()
    ([0, 5, 10], [0, 1, 4, 5, 9, 10])
    """
    from ._pair_kernels import absent_and_union

    return absent_and_union(sorted_keys, _sorted_unique(keys), True)


def _expand_blocks(lx: Leaves, ly: Leaves, leaf_rows, leaf_cols, m):
    """Keys of all point pairs in the leaf pairs ``(leaf_rows[k], leaf_cols[k])``."""
    na, nb = lx.sizes[leaf_rows], ly.sizes[leaf_cols]
    sizes = na * nb
    block = np.repeat(np.arange(sizes.shape[0]), sizes)
    local = np.arange(sizes.sum()) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    ia, jb = local // nb[block], local % nb[block]
    rows = lx.perm[lx.start[leaf_rows[block]] + ia]
    cols = ly.perm[ly.start[leaf_cols[block]] + jb]
    return _keys(rows, cols, m)


def _monotone_keys(x, a, y, b, m):
    """Support of the north-west-corner coupling along the first coordinate (feasible)."""
    ox, oy = np.argsort(x[:, 0], kind="stable"), np.argsort(y[:, 0], kind="stable")
    ca, cb = np.cumsum(a[ox]), np.cumsum(b[oy])
    cb[-1] = ca[-1] = max(ca[-1], cb[-1])
    cuts = _sorted_unique(np.concatenate([ca, cb]))
    i = np.minimum(np.searchsorted(ca, cuts, side="left"), ox.shape[0] - 1)
    j = np.minimum(np.searchsorted(cb, cuts, side="left"), oy.shape[0] - 1)
    # every segment [cut_{t-1}, cut_t] lies in one row interval and one column interval
    return _keys(ox[i], oy[j], m)


#: From this dimension on, nearest neighbours are found by brute force (matrix products):
#: a k-d tree prunes almost nothing there and is slower.
BRUTE_DIM = 9


def _nearest(points, queries, k):
    """Indices of the ``k`` nearest ``points`` of each query (heuristic candidates only)."""
    from scipy.spatial import cKDTree

    if points.shape[1] < BRUTE_DIM:
        return cKDTree(points).query(queries, k)[1].reshape(queries.shape[0], k)
    out = np.empty((queries.shape[0], k), dtype=np.int64)
    sq_p = np.einsum("ij,ij->i", points, points)
    step = max(1, (1 << 22) // max(1, points.shape[0]))
    for start in range(0, queries.shape[0], step):
        q = queries[start:start + step]
        dist = sq_p[None, :] - 2.0 * (q @ points.T)  # + |q|^2, the same for the whole row
        part = np.argpartition(dist, k - 1, axis=1)[:, :k]
        order = np.argsort(np.take_along_axis(dist, part, axis=1), axis=1)
        out[start:start + step] = np.take_along_axis(part, order, axis=1)
    return out


def _knn_keys(x, y, k, m, grid=None):
    n = x.shape[0]
    kx, ky = min(k, m), min(k, n)
    if grid is not None:
        to_y, to_x = grid.nearest(0, 1, kx, x, y), grid.nearest(1, 0, ky, y, x)
    else:
        to_y, to_x = _nearest(y, x, kx), _nearest(x, y, ky)
    return np.concatenate([(np.arange(n)[:, None] * m + to_y).ravel(),
                           (to_x * m + np.arange(m)[:, None]).ravel()])


def _partner_keys(keys, near_x, near_y, m):
    """Pairs joining the two points of each pair ``keys`` to the neighbours of the other."""
    rows, cols = keys // m, keys % m
    return np.concatenate([(rows[:, None] * m + near_y[cols]).ravel(),
                           (near_x[rows] * m + cols[:, None]).ravel()])


def _neighbours(points, k, grid=None, side=0):
    if k == 0:
        return np.empty((points.shape[0], 0), dtype=np.int64)
    if grid is not None:
        return grid.nearest(side, side, min(k + 1, points.shape[0]), points, points)
    return _nearest(points, points, min(k + 1, points.shape[0]))


def _initial_candidates(x, a, y, b, opts: SolverOptions, level: int):
    """Sorted candidate keys, and the coarse plan refined into a feasible plan on them."""
    m = y.shape[0]
    if x.shape[1] >= opts.coarse_dim:
        return _sorted_unique(np.concatenate([_monotone_keys(x, a, y, b, m),
                                              _knn_keys(x, y, max(opts.knn, 1), m)])), None
    grid = opts.grid if level == 0 else None
    leaf = opts.large_leaf if max(x.shape[0], m) >= opts.large_level else opts.coarse_leaf
    lx, ly = Leaves(x, leaf), Leaves(y, leaf)
    cx, ca = lx.weighted_centres(x, a)
    cy, cb = ly.weighted_centres(y, b)
    coarse = solve_points(cx, ca, cy, cb, opts, level=level + 1).plan
    keys = [_expand_blocks(lx, ly, coarse.rows, coarse.cols, m),
            _monotone_keys(x, a, y, b, m)]
    if opts.knn:
        keys.append(_knn_keys(x, y, opts.knn, m, grid))
    seed = refine_plan(lx, ly, x, a, y, b, cx, cy, coarse.rows, coarse.cols, coarse.flows)
    return _sorted_unique(np.concatenate(keys)), seed


def _pair_costs(cost: PowerCost, x, y, rows, cols):
    """``cost.pairs(x, y, rows, cols)`` by a compiled loop (no gathered coordinate arrays)."""
    from ._pair_kernels import squared_distances

    sq = squared_distances(np.ascontiguousarray(x, dtype=np.float64),
                           np.ascontiguousarray(y, dtype=np.float64), rows, cols,
                           np.empty(rows.shape[0]))
    return cost.of_squared(sq)


def _report(opts, **fields):
    if opts.report is not None:
        opts.report(fields)


def _solve_dense_level(x, a, y, b, opts: SolverOptions, level: int) -> Solution:
    """All pairs at once: POT's dense simplex for the user's own problem, otlab's for a coarse one.

    A coarse level (``level > 0``) of a sparse solve runs otlab's network
    simplex on the complete graph: POT's was 1.5-2x faster from cold (10-25 ms
    more per solve at 256 x 256 points, the coarsest level of a 128² grid,
    measured before the eight chains of :mod:`._simplex`),
    but importing POT imports torch and scikit-learn: a one-off 64 x 64 grid
    solve in a fresh process took 6.0 s of wall time with POT's coarse level
    against 2.0 s without (0.35 s once everything is loaded; 2-core machine
    at load 3).  Where POT's simplex stops at the pivot cap, otlab's solves the
    level again: on degenerate problems POT's can stall where otlab's does not
    (3000 weighted points on a line against 2: POT's stopped at its cap of
    100 000 pivots, otlab's reached the optimum).
    """
    costs = opts.cost.tile(x, y)
    plan = solve_dense(a, b, costs, max_iter=opts.max_iter) if level == 0 else None
    if plan is None or plan.code != OPTIMAL:
        n, m = costs.shape
        rows, cols = np.repeat(np.arange(n), m), np.tile(np.arange(m), n)
        ns = _seeded_simplex(a, b, None, rows, cols, costs.ravel(), seed=None)
        plan = _restricted(ns, ns.solve(max_iter=opts.max_iter))
    return Solution(plan=plan, scan=None, rounds=1, n_pairs=x.shape[0] * y.shape[0],
                    converged=plan.code == OPTIMAL, max_cost=float(costs.max()))


def _restricted(ns: NetworkSimplex, status) -> Restricted:
    """The simplex's plan (positive flows), cost and potentials."""
    rows, cols, flows = ns.plan()
    f, g = ns.potentials()
    return Restricted(rows=rows, cols=cols, flows=flows, cost=ns.cost(), f=f, g=g, code=status)


def _seeded_simplex(a, b, keys, rows, cols, costs, seed, block_factor=1.0) -> NetworkSimplex:
    """The simplex on the candidates, its basis seeded from the refined coarse plan."""
    ns = NetworkSimplex(a, b)
    ns.block_factor = block_factor
    ns.add_arcs(rows, cols, costs)
    if seed is None:
        return ns
    seed_keys = _keys(seed[0], seed[1], b.shape[0])
    at = np.searchsorted(keys, seed_keys)
    if at.size and np.all(keys[np.minimum(at, keys.shape[0] - 1)] == seed_keys):
        ns.seed(at, seed[2])  # a cycle in the support (not expected): stays cold
    return ns


def solve_points(x, a, y, b, opts: SolverOptions, *, level: int = 0) -> Solution:
    """Exact OT between weighted clouds (distinct points, positive weights summing alike)."""
    n, m = x.shape[0], y.shape[0]
    small = n * m <= opts.dense_pairs and not (opts.sparse_top and level == 0)
    if small or min(n, m) <= opts.coarse_leaf:
        return _solve_dense_level(x, a, y, b, opts, level)
    start = time.perf_counter()
    keys, seed = _initial_candidates(x, a, y, b, opts, level)
    pricer = opts.pricer if level == 0 else None
    if pricer is None:
        scan_x, scan_y = Leaves(x, opts.scan_leaf), Leaves(y, opts.scan_leaf)
    # partners' neighbours: from coarse_dim on they did not save a round and cost a search
    high = x.shape[1] >= opts.coarse_dim
    k_near = 0 if high else opts.knn
    grid = opts.grid if level == 0 else None
    near_x, near_y = _neighbours(x, k_near, grid, 0), _neighbours(y, k_near, grid, 1)
    # The pairs live in the simplex alone (17 bytes each); here only their sorted keys.
    rows, cols = keys // m, keys % m
    ns = _seeded_simplex(a, b, keys, rows, cols, _pair_costs(opts.cost, x, y, rows, cols), seed,
                         opts.block_factor)
    del rows, cols
    # Plan pairs whose partners' neighbours are candidates already: pairs are never removed, so
    # each plan pair's neighbours are looked up once (the same candidates as looking up every
    # plan pair each round, without sorting and searching them again in later rounds).
    expanded = np.empty(0, np.int64)
    max_rounds = opts.max_rounds
    if level > 0 and opts.coarse_rounds is not None:
        max_rounds = min(max_rounds, opts.coarse_rounds)
    for round_ in range(1, max_rounds + 1):
        status = ns.solve(max_iter=opts.max_iter)
        plan = _restricted(ns, status)
        if status != OPTIMAL:
            return Solution(plan=plan, scan=None, rounds=round_, n_pairs=ns.n_arcs,
                            converged=False, max_cost=ns.max_cost)
        eta = max(0.0, ns.max_excess(plan.f, plan.g))
        tol = max(4.0 * eta, TOL_FLOOR * ns.max_cost)
        if pricer is not None:
            scan = pricer(plan.f, plan.g, tol)
        else:
            scan = scan_excess(x, y, plan.f, plan.g, scan_x, scan_y, opts.cost, tol=tol,
                               top_k=opts.top_k)
        new = _missing(_keys(scan.rows, scan.cols, m), keys)
        _report(opts, level=level, n=n, m=m, round=round_, pairs=ns.n_arcs,
                violations=scan.n_violations, max_violation=scan.max_excess, tol=tol,
                cost=plan.cost, seconds=time.perf_counter() - start)
        if new.size == 0:
            return Solution(plan=plan, scan=scan, rounds=round_, n_pairs=ns.n_arcs,
                            converged=eta <= ETA_LIMIT * ns.max_cost, max_cost=ns.max_cost)
        fresh, expanded = _add_missing(expanded, _keys(plan.rows, plan.cols, m))
        new, keys = _add_missing(keys, np.concatenate([new, _partner_keys(fresh, near_x,
                                                                           near_y, m)]))
        new_rows, new_cols = new // m, new % m
        ns.add_arcs(new_rows, new_cols, _pair_costs(opts.cost, x, y, new_rows, new_cols))
        del new, new_rows, new_cols  # the basis is kept
    return Solution(plan=plan, scan=scan, rounds=max_rounds, n_pairs=ns.n_arcs,
                    converged=False, max_cost=ns.max_cost)
