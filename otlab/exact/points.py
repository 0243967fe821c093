r"""Exact OT between point clouds, dense or sparse, with a certificate over all pairs.

:func:`emd_points` solves

.. math::

    W_k^k(\mu, \nu) = \min_{P \in \Pi(a, b)} \sum_{ij} P_{ij} \lVert x_i - y_j \rVert^k

for :math:`\mu = \sum_i a_i \delta_{x_i}`, :math:`\nu = \sum_j b_j \delta_{y_j}`
without forming the :math:`n \times m` cost matrix (``solver="sparse"``, see
:mod:`otlab.exact._multiscale`), or with it (``solver="dense"``, POT's
network simplex).  Either way the answer is certified over the *full*
problem: primal feasibility (L1 marginal error), dual feasibility
:math:`f_i + g_j \le c_{ij}` checked on every pair, tile by tile in
:math:`O(n + m)` memory (:mod:`otlab.exact._scan`), and the duality gap.

Numerics.  Both solvers work in the common frame of :mod:`otlab.costs`
(centre and power-of-two scale: coordinates in :math:`[-1, 1]^d`), with
costs formed from coordinate differences by :class:`otlab.costs.PowerCost`.
The network simplex compares costs to about :math:`10^{-14}` of the largest
one it is given, so when the plan's cost lies far below that (large orders,
or nearly equal samples at order 2 and more) the LP is solved again with the
costs in units :math:`u` of the longest distance the plan uses, clipped at
:data:`CLIP` (:func:`_solve_resolved`).  A plan
that uses no clipped pair is optimal for the unclipped costs too, and the
certificate is checked on the costs the LP was given.  :math:`W_k` itself is
taken from the plan's distances by :func:`otlab.costs.power_sum`, so
``order=500`` or coordinates near :math:`10^{-300}` give finite, exact values.

Point clouds in low dimension.  Before the sparse solve the points are
renumbered along the leaves of a k-d tree (:func:`_solve_in_space_order`; the
answer comes back in the input's order), and the network simplex prices
blocks of :data:`CLOUD_BLOCK_FACTOR` :math:`\sqrt{A}` of its :math:`A` pairs
instead of :math:`\sqrt{A}`.  Candidate pairs are listed by source, so with
points in space order a pricing block holds the pairs of a few dozen
neighbouring sources: each pivot picks the best pair of a small region, its
cycle in the spanning tree is short, and fewer pivots are needed.  Measured
(2-D uniform, :math:`W_1`, one thread, CPU time, 2-core machine at load 5-7):
at :math:`n = 2\cdot10^4` the finest level's first round went from 186 000
pivots walking cycles of 356 nodes (2.4 s) to 141 000 pivots and 150 nodes
(0.8 s), the solve from 6.0 s to 3.9 s; at :math:`10^5`, from 1 220 000
pivots at 43 us (52 s) to 822 000 at 19 us (16 s), the solve from 85 s to
35 s (with the compiled pair check of :mod:`otlab.exact._scan`, 2.7 s and
see ``benchmarks/reports/exact_scale.md``).  Blocks of 0.3 and 3 times
:math:`\sqrt{A}` gave 4.0 s and 8.2 s at :math:`2\cdot10^4`; 0.03 no
better than 0.1; on clustered clouds (:math:`W_1`, :math:`5\cdot10^4`, load 2)
0.03, 0.1 and 0.3 took 18.8, 17.7 and 17.4 s, within the noise.  From
``coarse_dim`` dimensions on neither applies.

Grids keep the simplex's default block, and their pixels are solved along a
Z-curve (:func:`~otlab.exact._grid_geometry.space_order`, :data:`GRID_SPACE_ORDER`)
rather than in C order: a pricing block then holds the pairs of a compact
patch of pixels instead of a strip of a few rows.  At 128 x 128, k = 2, the
pivots stayed within -3.2 % to +1.3 % (14 pairs, two of each class of
``benchmarks/exact_grid.py``) but the second round's pivots shifted fewer
potentials (smooth field 3 545 -> 3 226 a pivot, Cauchy densities 2 759 ->
2 309, white noise 4 526 -> 3 750), and the simplex took 0.87-0.99x the time
(five classes, two runs each, load 2).
Together with the nearest pixels of :mod:`otlab.exact._grid_geometry`, the same
14 pairs took a median 0.92x the CPU time of the engine before (0.81-1.02x;
shapes on a zero background, 0.06-0.14 s, 1.2x), the two engines run one
after the other on each class, three runs each, load 1.7-2.2; k = 1 0.97x
(0.68-1.37x, within that load's noise; pivots -11 % to +0.6 %).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, replace

import numpy as np

from .._backend import to_numpy
from .._dot import dot
from .._memory import available_memory_bytes, check_dense_memory, dense_memory_bytes
from .._validation import check_choice, check_order, check_positive_int
from .._warnings import ConvergenceWarning, CostOverflowWarning, external_stacklevel
from ..costs import PowerCost, power_sum
from ..frames import Frame, common_frame, power_of_two_at_least, scale_by_power
from ..sample import sample_pair
from ._far_points import LARGEST as _LARGEST
from ._far_points import checked_c_transform, far_zero_weight
from ._geometry import Leaves, merge_duplicates
from ._grid_dual import GridPricer
from ._grid_geometry import GridGeometry, space_order
from ._histogram import (CERT_RTOL, CLIP, FEASIBILITY_RTOL, MAX_SOLVES, RESOLVED, check_max_iter,
                         marginal_l1)
from ._multiscale import SolverOptions, solve_points
from ._progress import check_progress, progress_reporter
from ._restricted import Restricted
from ._scan import scan_excess
from .duals import SCAN_LEAF, local_c_transform

__all__ = ["emd_points", "PointsEMDResult", "choose_exact_solver", "solve_validated",
           "overflow_message", "validate_points", "SOLVERS", "DENSE_SPEED_LIMIT", "RESOLVED", "CLIP"]

#: Values accepted by ``solver``.
SOLVERS = ("auto", "dense", "sparse")
#: Problems with more pairs than this go to the sparse solver: it is as fast or
#: faster from about 400 x 400 points on (2-D, W_1 and W_2, CPU time; dense/sparse
#: 1.0-1.2 at 300, 1.1-1.3 at 400, 1.5-2.1 at 600, 2.9-5.4 at 1000:
#: benchmarks/reports/exact_engine.md).
DENSE_SPEED_LIMIT = 160_000
_SPARSE_HINT = "Use solver='sparse' (memory O(n + m)) or solver='auto'."
#: Points that carry mass spanning less than this share of the frame (far points beside
#: them) are not resolved: their squared distances underflow (:func:`_mass_unresolved`).
#: Measured beside data of size 1: a weight-0 point at 1e100 (2**-332) left W_k within
#: 8.3e-16; a pair of weight 1e-300 at 1e160 (2**-531) moved W_1 by 3.6e-5, at 1e300 to 0.0
#: (those points carry mass: caught by :func:`_plan_unresolved`).  Was 2**-400; since the
#: re-solves in finer units divide the coordinates first (:func:`_in_units`), a weight-0
#: point at 1e100 to 1e150 beside data of size 1 (and data of size 1e-140 beside one at 1e-40
#: to 1e10) is solved exactly, orders 1, 2 and 3.5, both solvers (measured; was
#: converged=False from 1e130 on).
MASS_EXTENT = 2.0**-500
#: A pair the plan uses whose distance in the frame is below this has a squared distance
#: outside the normal range (2**-1000): its cost came out 0 or subnormal
#: (:func:`_plan_unresolved`).
UNDERFLOW_DISTANCE = 2.0**-500
#: ... and is not reported converged while that distance exceeds this share of its points'
#: sizes (so that it is a value of the data, not of its round-off).
OWN_PRECISION = 2.0**-40
#: A plan is reported converged only when its certificate (duality gap plus dual violation)
#: is at most CERT_RTOL of its cost, or bounds W_k to CERT_ATOL (:func:`_bounds_w`) ...
#: ... of the size of the data that carry the mass (:func:`_mass_size`): W_k known to this
#: absolute accuracy.  About
#: sqrt(eps): W_2 of two images equal but for the round-off of their normalisation (A and 3A)
#: is 3e-9 (cost 1.1e-17, certificate 2.3e-16, measured) and only bounded above.
CERT_ATOL = 1e-7
#: Orders whose costs in the frame could exceed 2**SAFE_EXPONENT start in units of the
#: frame's diameter, where no cost exceeds 1.
SAFE_EXPONENT = 256


def choose_exact_solver(n: int, m: int, d: int = 2, order: float = 1, *,
                        available: int | None = None) -> str:
    """The faster exact solver for an ``n x m`` problem that fits in memory.

    ``"dense"`` (POT's network simplex on the full cost matrix) while
    ``n * m <= DENSE_SPEED_LIMIT`` and its memory (:func:`dense_memory_bytes`)
    fits in ``available`` bytes (default: what the process may still
    allocate); ``"sparse"`` otherwise.  The crossover (about 400 x 400
    points) was measured in 2-D for :math:`W_1`; ``d`` and ``order`` are part
    of the signature so that a measured dependence can be added, and do not
    change the choice today.

    >>> choose_exact_solver(100, 100), choose_exact_solver(20_000, 20_000)
    ('dense', 'sparse')
    >>> choose_exact_solver(300, 300, available=10**6)
    'sparse'
    """
    del d, order  # see the docstring: not used by the measured rule
    if n * m > DENSE_SPEED_LIMIT:
        return "sparse"
    if available is None:
        available = available_memory_bytes()
    if available is not None and dense_memory_bytes(n, m) > available:
        return "sparse"
    return "dense"


@dataclass(frozen=True)
class PointsEMDResult:
    r"""Exact OT between two point clouds, with its certificate.

    Attributes
    ----------
    plan : scipy.sparse.csr_array, shape (n, m)
        The optimal plan (at most :math:`n + m - 1` non-zeros).
    cost : float
        :math:`W_k^k = \sum_{ij} P_{ij} \lVert x_i - y_j\rVert^k` in data
        units (``inf`` or 0 only where :math:`W_k^k` itself is out of the
        float range; :attr:`distance` never is).
    distance : float
        :math:`W_k`, the k-th root of ``cost``, taken from the plan's
        distances without under- or overflow (:func:`otlab.costs.power_sum`).
    f, g : ndarray, shapes (n,) and (m,)
        Dual potentials, :math:`f_i + g_j \le \lVert x_i - y_j \rVert^k` for
        *all* pairs, centred so that :math:`\langle a, f\rangle = \langle b, g\rangle`.
        Points of weight 0 get the c-transform (:func:`~otlab.exact.c_transform`);
        where it exceeds the float range (a weight-0 point at 1e300, ``order=2``)
        the largest float, which lies below it and so stays dual feasible.
    converged : bool
        True when the certificate holds: the plan meets its marginals, no
        pair violates dual feasibility beyond the round-off tolerance, and
        :attr:`error_bound` is at most :data:`CERT_RTOL` of the cost (or pins
        :math:`W_k` down to :data:`CERT_ATOL` of the size of the data that carry
        the mass: their mass-weighted median distance from the frame's centre).
    order : float
        The order ``k``.
    a, b : ndarray
        The weights, normalised to sum 1.
    solver : str
        ``"dense"`` or ``"sparse"``.
    rounds : int
        Pricing rounds of the sparse solver at the finest level (1 for dense).
    n_pairs : int
        Pairs in the last restricted problem (``n * m`` for dense).
    dual_violation, duality_gap, marginal_error : float
        The certificate, in data units (see :meth:`certificate`).
    frame : otlab.costs.Frame
        The solver's coordinates :math:`x' = (x - c)/s`: centre :math:`c` and
        power-of-two scale :math:`s`.
    unit : float
        The length unit :math:`u` of the LP's costs in the frame: 1, except
        where the LP was solved again in finer units (module notes).
    unit_cost, unit_f, unit_g : float and ndarray
        The LP's optimum and potentials in units of :attr:`scale` to the
        power k: ``cost`` is ``unit_cost * scale**order`` where both are
        representable, and likewise ``f`` and ``g``.
    """

    plan: object
    cost: float
    distance: float
    f: np.ndarray
    g: np.ndarray
    converged: bool
    order: float
    a: np.ndarray
    b: np.ndarray
    solver: str
    rounds: int
    n_pairs: int
    dual_violation: float
    duality_gap: float
    marginal_error: float
    frame: Frame
    unit: float
    unit_cost: float
    unit_f: np.ndarray
    unit_g: np.ndarray

    @property
    def scale(self) -> float:
        """The LP's unit of length in data units: the frame's scale times :attr:`unit`."""
        return self.frame.scale * self.unit

    @property
    def feasible(self) -> bool:
        """Whether the plan meets its marginals (L1 error at most ``1e-9``)."""
        return self.marginal_error <= FEASIBILITY_RTOL

    @property
    def error_bound(self) -> float:
        r"""Certified bound on :math:`\text{cost} - W_k^k`: ``duality_gap + dual_violation``.

        Holds for a feasible plan: (f, g - violation) is dual feasible, so
        :math:`W_k^k \ge \langle a, f\rangle + \langle b, g\rangle - \text{violation}`.
        """
        return abs(self.duality_gap) + self.dual_violation

    def certificate(self) -> dict:
        """Dual violation (max over all n x m pairs), duality gap, L1 marginal error."""
        return {"dual_violation": self.dual_violation, "duality_gap": self.duality_gap,
                "marginal_error": self.marginal_error}


@dataclass(frozen=True)
class _Problem:
    """The problem in the frame, reduced to distinct points."""

    x: np.ndarray  # distinct points (frame coordinates)
    y: np.ndarray
    wx: np.ndarray  # their weights (some may be 0)
    wy: np.ndarray
    inv_x: np.ndarray  # original index -> distinct index
    inv_y: np.ndarray


def _reduce(x, a, y, b, *, distinct: bool = False) -> _Problem:
    """The problem on distinct points; ``distinct`` says they are already (pixel centres)."""
    if distinct:
        return _Problem(x, y, a, b, np.arange(x.shape[0]), np.arange(y.shape[0]))
    ux, wx, inv_x = merge_duplicates(x, a)
    uy, wy, inv_y = merge_duplicates(y, b)
    return _Problem(ux, uy, wx, wy, inv_x, inv_y)


def _grid_pricer(p: _Problem, cost: PowerCost, shapes, *, in_space_order: bool = False):
    """The grid's O(n) pricing (:mod:`._grid_dual`) where it applies, else None.

    Its rows and columns are the positive pixels, in C order or, with
    ``in_space_order``, along a Z-curve (:func:`~._grid_geometry.space_order`).
    """
    if shapes is None or p.inv_x.shape[0] != p.x.shape[0] or p.inv_y.shape[0] != p.y.shape[0]:
        return None
    if not (np.array_equal(p.inv_x, np.arange(p.x.shape[0]))
            and np.array_equal(p.inv_y, np.arange(p.y.shape[0]))):
        return None  # not the pixels in C order
    rows, cols = np.nonzero(p.wx > 0)[0], np.nonzero(p.wy > 0)[0]
    if in_space_order:
        rows, cols = rows[space_order(rows, shapes[0])], cols[space_order(cols, shapes[1])]
    return GridPricer.build(p.x, p.y, rows, cols, shapes, cost)


def _solve_reduced(p: _Problem, cost: PowerCost, solver, max_iter, max_rounds, report,
                   tuning=None, shapes=None, complete=True):
    """Solve on the positive-weight points; potentials of zero-weight points by c-transform.

    With ``complete=False`` the zero-weight points get potential 0 (no c-transform).
    """
    px, py = p.wx > 0, p.wy > 0
    xs, ys = p.x[px], p.y[py]
    a, b = p.wx[px] / p.wx[px].sum(), p.wy[py] / p.wy[py].sum()
    dense_pairs = xs.shape[0] * ys.shape[0] if solver == "dense" else 0
    clouds = {} if shapes is not None or p.x.shape[1] >= SolverOptions.coarse_dim else {
        "block_factor": CLOUD_BLOCK_FACTOR}
    pricer = _grid_pricer(p, cost, shapes, in_space_order=GRID_SPACE_ORDER)
    orders = None
    if pricer is not None:  # the LP's rows and columns in the pricer's order
        orders = (np.searchsorted(np.nonzero(px)[0], pricer.rows),
                  np.searchsorted(np.nonzero(py)[0], pricer.cols))
    opts = SolverOptions(cost=cost, max_iter=max_iter, max_rounds=max_rounds, report=report,
                         dense_pairs=max(dense_pairs, SolverOptions.dense_pairs),
                         sparse_top=solver == "sparse", pricer=pricer,
                         grid=GridGeometry.of_pricer(pricer) if pricer is not None else None,
                         **{**clouds, **(tuning or {})})
    sol = _solve_in_space_order(xs, a, ys, b, opts, spatial=shapes is None, orders=orders)
    f, g = np.zeros(p.x.shape[0]), np.zeros(p.y.shape[0])
    f[px], g[py] = sol.plan.f, sol.plan.g
    if complete:
        _complete_potentials(p, f, g, ys, cost, opts.pricer)
    ix, iy = np.nonzero(px)[0], np.nonzero(py)[0]
    keep = sol.plan.flows > 0
    plan = Restricted(rows=ix[sol.plan.rows[keep]], cols=iy[sol.plan.cols[keep]],
                      flows=sol.plan.flows[keep], cost=sol.plan.cost, f=f, g=g,
                      code=sol.plan.code)
    return plan, sol


def _complete_potentials(p: _Problem, f, g, ys, cost: PowerCost, pricer) -> None:
    """Potentials of the zero-weight points by the c-transform, in place.

    On a grid with squared Euclidean costs by the grid's c-transform (:mod:`._grid_dual`,
    O(n) per axis), else by the pruned scan of :func:`local_c_transform`.
    """
    px, py = p.wx > 0, p.wy > 0
    if px.all() and py.all():
        return
    if pricer is not None and not pricer.euclidean:
        f[~px] = pricer.c_transform_rows(g[pricer.cols])[~px]
        g[~py] = pricer.c_transform_cols(f)[~py]
        return
    f[~px] = local_c_transform(p.x[~px], ys, g[py], cost)
    g[~py] = local_c_transform(p.y[~py], p.x, f, cost)


#: Leaf size of the k-d tree whose order renumbers the points (module notes).
ORDER_LEAF = 8
#: Whether point clouds below ``coarse_dim`` dimensions are solved in space order.
SPACE_ORDER = True
#: Whether the pixels of a grid problem are solved along a Z-curve (module notes), not in C order.
GRID_SPACE_ORDER = True
#: Pricing block of the network simplex on point clouds below ``coarse_dim`` dimensions, in
#: units of the square root of the number of pairs (module notes).
CLOUD_BLOCK_FACTOR = 0.1


def _space_order(points):
    """An order of the points along the leaves of a balanced k-d tree (neighbours close)."""
    return Leaves(points, ORDER_LEAF).perm


def _solve_in_space_order(x, a, y, b, opts: SolverOptions, *, spatial: bool, orders=None):
    """:func:`solve_points` on the points renumbered in space order, answered in the given order.

    ``orders`` (two permutations) gives that order; without it the points are
    renumbered along the leaves of a k-d tree where ``spatial`` says so.
    """
    if orders is not None:
        ox, oy = orders
    elif not (spatial and SPACE_ORDER) or x.shape[1] >= opts.coarse_dim:
        return solve_points(x, a, y, b, opts)
    else:
        ox, oy = _space_order(x), _space_order(y)
    sol = solve_points(x[ox], a[ox], y[oy], b[oy], opts)
    f, g = np.empty_like(sol.plan.f), np.empty_like(sol.plan.g)
    f[ox], g[oy] = sol.plan.f, sol.plan.g
    plan = replace(sol.plan, rows=ox[sol.plan.rows], cols=oy[sol.plan.cols], f=f, g=g)
    scan = sol.scan
    if scan is not None:
        row_max = np.empty_like(scan.row_max)
        row_max[ox] = scan.row_max
        scan = replace(scan, row_max=row_max, rows=ox[scan.rows], cols=oy[scan.cols])
    return replace(sol, plan=plan, scan=scan)


def _first_unit(order: float, dim: int) -> float:
    """1, or where costs in the frame could overflow, a power of two beyond its diameter."""
    diameter = 2.0 * math.sqrt(dim)  # of the box [-1, 1]^d
    return 1.0 if order * math.log2(diameter) <= SAFE_EXPONENT else power_of_two_at_least(diameter)


def _solve_resolved(p: _Problem, order, solver, max_iter, max_rounds, report, tuning=None,
                    shapes=None, complete=True):
    r"""The LP, solved again in finer units until the plan's cost is resolved.

    The network simplex resolves costs to about :math:`10^{-14}` of the
    largest one it is given.  When the plan's cost is below :data:`RESOLVED`
    of that, the costs are put in units :math:`u` of the longest distance the
    plan uses and clipped at :data:`CLIP` (a plan costing at most 1 puts at
    most :math:`1/\text{CLIP}` of its mass there), and the LP is solved
    again, in units of the longest distance of each new plan (shorter or
    longer than the last unit), until the plan's cost is resolved; while a plan
    uses a clipped pair, the clip is raised.  The simplex resolves costs to
    about :math:`10^{-14}` of its artificial cost :math:`8(c_{\max} + 1)`, so
    "resolved" is measured against :math:`\max(c_{\max}, 1)`: at order 300 in
    2-D the first unit lies beyond the diameter and every cost is below
    :math:`10^{-90}`.  Returns ``(plan, solution, cost, clipped)``: ``cost``
    the costs that plan was solved with; ``clipped`` says that the last plan
    still uses a clipped pair, so that it is not certified for the true costs.

    Before the re-solves also took units longer than the first one and
    measured against :math:`\max(c_{\max}, 1)`, orders 50-500 returned plans
    whose cost the simplex had not resolved (:math:`W_{100}` 15-36 % too large,
    a duality gap of the whole cost) with ``converged=True``; since, the
    converged solves of 80 random 5-point problems at each of the orders 40-1000
    matched the best matching within 7.2e-14.
    """
    following = PowerCost(order, unit=_first_unit(order, p.x.shape[1]))
    for _ in range(MAX_SOLVES):
        cost = following  # the costs of the plan returned
        solved = _in_units(p, cost, solver)
        plan, sol = _solve_reduced(*solved, max_iter, max_rounds, report, tuning, shapes,
                                   complete)
        clipped = cost.clip < math.inf and bool(
            (solved[1].pairs(solved[0].x, solved[0].y, plan.rows, plan.cols)
             >= cost.clip).any())
        if not sol.converged:
            break
        if clipped:
            following = replace(cost, clip=cost.clip * CLIP)
            continue
        # the scaled norm: a pair 1e-223 apart beside points of size 1 has a squared
        # distance that underflows, and its plain distance 0 ended the re-solves there
        used = float(_plan_distances(p.x[plan.rows], p.y[plan.cols]).max(initial=0.0))
        resolved = used == 0 or plan.cost >= RESOLVED * max(sol.max_cost, 1.0)
        if resolved or used == cost.unit:  # resolved, or no better unit
            break
        following = PowerCost(order, unit=used, clip=CLIP)
    return plan, sol, cost, clipped, solved


#: Units below this are solved with the coordinates divided by a power of two near them
#: (:func:`_in_units`): the squares of distances near them would underflow.
TINY_UNIT = 2.0**-400
#: ... down to this for the sparse solver and for points of weight 0 (coordinates up to
#: 2**500: squares stay finite).
SPARSE_TINY_UNIT = 2.0**-500


def _in_units(p: _Problem, cost: PowerCost, solver: str) -> tuple[_Problem, PowerCost, str]:
    """The problem and costs to solve: coordinates divided by a power of two near a tiny unit.

    :class:`~otlab.costs.PowerCost` squares coordinate differences before it divides by
    its unit, and below :data:`TINY_UNIT` those squares underflow: beside points of size 1,
    points 1e-223 apart all cost 0, and a sample against itself came back with W_1 =
    1.3e-223, not 0 (and not certified).  Frame coordinates lie within [-1, 1], so divided by
    a normal power of two they stay finite; the distances far above the unit overflow in
    their squares to inf and are clipped.  The costs, the plan and the potentials are the
    same numbers as in the problem's own coordinates.  The sparse solver's geometry (k-d
    trees, nearest neighbours, bounds of the pair scan), and the c-transform that gives
    points of weight 0 their potentials, need finite squared distances between all points,
    so they take units down to :data:`SPARSE_TINY_UNIT` only; below, a problem of at most
    :data:`DENSE_SPEED_LIMIT` pairs with positive weights is solved densely (the solver
    returned third), a larger one as it is (its plan then is not certified).
    """
    if cost.unit >= TINY_UNIT:
        return p, cost, solver
    s = max(power_of_two_at_least(cost.unit), 2.0**-1021)  # 1 / s stays finite
    if s < SPARSE_TINY_UNIT and solver != "dense":  # squares of other distances would overflow
        if not (p.x.shape[0] * p.y.shape[0] <= DENSE_SPEED_LIMIT and p.wx.all() and p.wy.all()):
            return p, cost, solver
        solver = "dense"
    elif s < SPARSE_TINY_UNIT and not (p.wx.all() and p.wy.all()):
        return p, cost, solver
    return replace(p, x=p.x / s, y=p.y / s), replace(cost, unit=cost.unit / s), solver


def _split_rows(rows, cols, flows, inverse, weights, n_unique):
    """Share each distinct point's flows among its copies in proportion to their weights."""
    total = np.bincount(inverse, weights=weights, minlength=n_unique)
    copies = np.argsort(inverse, kind="stable")
    counts = np.bincount(inverse, minlength=n_unique)
    first = np.cumsum(counts) - counts
    reps = counts[rows]
    block = np.repeat(np.arange(rows.shape[0]), reps)
    orig = copies[first[rows[block]] + np.arange(reps.sum()) - np.repeat(np.cumsum(reps) - reps,
                                                                          reps)]
    share = weights[orig] / total[rows[block]]  # total > 0: the row carries flow
    keep = share > 0
    return orig[keep], cols[block][keep], (flows[block] * share)[keep]


def _expand_plan(plan: Restricted, p: _Problem, a, b):
    from scipy.sparse import csr_array

    r, c, v = _split_rows(plan.rows, plan.cols, plan.flows, p.inv_x, a, p.x.shape[0])
    c, r, v = _split_rows(c, r, v, p.inv_y, b, p.y.shape[0])
    return csr_array((v, (r, c)), shape=(a.shape[0], b.shape[0]))


def validate_points(x, y, a, b, order, solver, max_iter, max_rounds):
    order = check_order(order)
    check_choice(solver, "solver", SOLVERS)
    sx, sy = sample_pair(x, y, a, b, names=("x", "y"))
    max_iter = check_max_iter(max_iter, sx.n, sy.n)
    check_positive_int(max_rounds, "max_rounds")
    a, b = _float64_weights(sx, a), _float64_weights(sy, b)
    return to_numpy(sx.points), a, to_numpy(sy.points), b, order, max_iter


def _float64_weights(sample, given) -> np.ndarray:
    """The sample's weights normalised in float64, from the values given where there are some.

    A tensor's weights are normalised in its dtype by :class:`~otlab.Sample`; float32 weights
    ``[1, 2, 3]`` then moved W_k of three equally long pairs by 1.5e-9 relative (measured).
    ``given`` has been validated with the sample, so it holds finite non-negative numbers.
    """
    w = to_numpy(sample.probabilities if given is None else given)
    w = w / w.max()  # no overflow near 1e308
    return w / w.sum()


def _not_exact_message(res: PointsEMDResult, clipped: bool, name: str = "emd_points", *,
                       unresolved: bool = False, underflow: bool = False) -> str:
    head = (f"{name} ({res.solver}) did not certify optimality: dual violation "
            f"{res.dual_violation:.3g}, duality gap {res.duality_gap:.3g}; ")
    if unresolved:
        head += (f"the points that carry mass span less than {MASS_EXTENT:.3g} of the extent "
                 "of all points (points of weight 0 very far away?), so their squared "
                 "distances underflow in the solver's frame and W_k is not resolved: leave "
                 "out far points of weight 0; ")
    if underflow:
        head += ("the plan uses pairs whose squared distance underflows in the solver's frame "
                 "(the points span scales that no float64 frame holds: data of size 1 beside "
                 "points near 1e300?), so their costs and W_k are not resolved: solve the "
                 "clusters apart, or rescale; ")
    if clipped:
        head += (f"the plan uses pairs whose cost was capped after {MAX_SOLVES} solves in finer "
                 "units (a very large order?); ")
    if res.feasible and (unresolved or underflow):  # the plan's costs are the underflowed ones
        return head + (f"the plan is feasible, but its cost {res.cost:.6g} is formed from costs "
                       "below the true ones: no upper bound on W_k^k.")
    if res.feasible:
        return head + (f"the plan is feasible, so its cost {res.cost:.6g} is an upper bound on "
                       "W_k^k. Increase max_iter or max_rounds.")
    return head + (f"the plan is NOT feasible (L1 marginal error {res.marginal_error:.3g}): its "
                   f"cost {res.cost:.6g} is no bound on W_k^k. Increase max_iter.")


def emd_points(x, y, a=None, b=None, *, order: float = 1, solver: str = "auto",
               max_iter: int | None = None, max_rounds: int = 100,
               progress="auto") -> PointsEMDResult:
    r"""Exact optimal transport between two weighted point clouds, certified over all pairs.

    .. math::

        W_k^k = \min_{P \ge 0,\; P 1 = a,\; P^\top 1 = b}
        \sum_{ij} P_{ij} \lVert x_i - y_j \rVert_2^k
        = \max_{f_i + g_j \le \lVert x_i - y_j \rVert^k} \langle a, f\rangle + \langle b, g\rangle

    ``solver="sparse"`` never forms the :math:`n \times m` cost matrix: it
    solves the LP on candidate pairs from a coarse-scale solution and nearest
    neighbours, checks *every* pair for a violated dual constraint and adds
    the violators until none is left (column generation; Schmitzer 2016).
    Memory grows like :math:`n + m`.  ``solver="dense"`` is POT's network
    simplex on the full cost matrix (41 bytes per pair); ``"auto"`` picks the
    faster one that fits (:func:`choose_exact_solver`).

    Parameters
    ----------
    x : array-like, Tensor or Sample, shape (n, d) or (n,)
        Source points (numpy, torch, lists, or an :class:`otlab.Sample` with
        its weights; computed in float64).
    y : array-like, Tensor or Sample, shape (m, d) or (m,)
        Target points.
    a, b : array-like, optional
        Non-negative weights, normalised to sum 1; uniform when omitted.
    order : float, default 1
        The order ``1 <= k <= 1000`` of the cost :math:`\lVert x - y\rVert^k` (beyond,
        float64 cannot resolve the costs).
    solver : {"auto", "dense", "sparse"}, default "auto"
    max_iter : int, optional
        Cap on the pivots of each network-simplex solve (default
        :func:`~otlab.exact.default_max_iter`).
    max_rounds : int, default 100
        Cap on the pricing rounds of the sparse solver.
    progress : {"auto", None, True, False}, default "auto"
        A tqdm line on stderr (pricing rounds, pairs, violations, elapsed
        time), updated after each round of the sparse solver.  ``"auto"``
        (or ``None``): it appears by itself once a solve has run a few
        seconds (3 s) and stderr is a terminal, so tests, pipes and CI stay silent; ``True``: always;
        ``False``: never.  At 10^5 points a solve takes minutes.

    Returns
    -------
    PointsEMDResult
        Sparse plan, :math:`W_k^k` (``cost``) and :math:`W_k` (``distance``),
        potentials ``f, g`` and the certificate.

    Raises
    ------
    ValueError, TypeError
        On invalid points, weights or options.
    MemoryError
        With ``solver="dense"`` when the dense problem does not fit.

    Warns
    -----
    ConvergenceWarning
        When the certificate does not hold (``converged=False``); the message
        says whether the plan is feasible (its cost is then an upper bound).

    Notes
    -----
    Both solvers work in the common frame of :mod:`otlab.costs` (centre and
    power-of-two scale) with costs formed from differences, so offsets such as
    :math:`10^8` and coordinates from :math:`10^{-300}` to :math:`10^{300}`
    lose no accuracy; when the plan's cost lies below what the network simplex
    resolves (``order=500``, nearly equal samples) the LP is solved again in
    units of the plan's longest distance (module notes).  Coinciding points
    are merged and zero weights left out of the LP (their potentials come from
    the c-transform).  Points of weight 0 more than
    :data:`~otlab.exact._far_points.FAR_FACTOR` times the mass's reach from its
    centre are left out of the solver's frame too (a weight-0 point at 1e200
    beside data of size 1 left the data's squared differences to underflow):
    the value, plan and certificate are those of the problem without them, with
    zero rows and columns for them in the plan; their potentials are
    c-transforms in data units, one pass over the other side per far point,
    capped at the largest float where they overflow and lowered until each of
    their pairs checks in float64 (:mod:`otlab.exact._far_points`), and that
    check joins ``dual_violation``.  ``dual_violation`` is the largest
    :math:`f_i + g_j - c_{ij}` over all :math:`nm` pairs, of the order of the
    simplex's round-off; :attr:`PointsEMDResult.error_bound` turns it into a
    certified bound on the error of ``cost``.

    References
    ----------
    B. Schmitzer (2016). A sparse multiscale algorithm for dense optimal
    transport. J. Math. Imaging Vision 56(2), 238-259.

    Examples
    --------
    Three points moved by (3, 4): W_1 = W_2 = 5.

    >>> import numpy as np
    >>> x = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0]])
    >>> res = emd_points(x, x + [3.0, 4.0], order=2)
    >>> res.cost, res.distance, res.converged
    (25.0, 5.0, True)
    >>> res.plan.toarray() * 3
    array([[1., 0., 0.],
           [0., 1., 0.],
           [0., 0., 1.]])
    """
    return solve_validated(*validate_points(x, y, a, b, order, solver, max_iter, max_rounds),
                           solver=solver, max_rounds=max_rounds, progress=progress)


def solve_validated(x, a, y, b, order, max_iter, *, solver, max_rounds, progress,
                    tuning=None, shapes=None, certify=True,
                    name: str = "emd_points") -> PointsEMDResult:
    """:func:`emd_points` on validated input.

    ``tuning`` overrides :class:`SolverOptions` fields; ``shapes`` (two grid
    shapes) says that ``x`` and ``y`` are all the pixel centres of two grids in
    C order, which lets squared Euclidean costs be priced and certified by the
    grid's c-transform (:mod:`otlab.exact._grid_dual`).  ``certify=False`` is
    for callers that certify a problem of their own: the potentials of
    zero-weight points are NaN and ``dual_violation`` is NaN (``converged``
    then only says that the LP was solved and its plan is feasible).  ``name``
    is the entry point that the progress line and the warnings name.
    """
    progress = check_progress(progress)
    if shapes is None:  # pixels lie within their grids: never far
        far_x, far_y = far_zero_weight(x, a, y, b)
        if far_x.any() or far_y.any():
            return _without_far_points(x, a, y, b, order, max_iter, far_x, far_y,
                                       solver=solver, max_rounds=max_rounds, progress=progress,
                                       tuning=tuning, certify=certify, name=name)
    n, m = x.shape[0], y.shape[0]
    if solver == "auto":
        solver = choose_exact_solver(n, m, x.shape[1], order)
    if solver == "dense":
        check_dense_memory(n, m, with_cost_matrix=True, alternative=_SPARSE_HINT)
    frame = _frame(x, a, y, b, grid=shapes is not None)
    unresolved = _mass_unresolved(x, a, y, b, frame)
    p = _reduce(frame.local(x), a, frame.local(y), b, distinct=shapes is not None)
    report = progress_reporter(progress, name)
    try:
        plan, sol, cost, clipped, solved = _solve_resolved(p, order, solver, max_iter,
                                                           max_rounds, report, tuning, shapes,
                                                           certify)
    finally:
        if report is not None:
            report.close()
    underflow = _plan_unresolved(p, plan, order, frame, cost.unit / solved[1].unit)
    result = _result(plan, sol, cost, clipped or unresolved or underflow, p, frame, a, b, solver,
                     _grid_pricer(p, cost, shapes), certify, solved)
    if result.converged and not math.isfinite(result.cost):
        result = replace(result, converged=False)
        warnings.warn(overflow_message(name, result), CostOverflowWarning,
                      stacklevel=external_stacklevel())
    elif not result.converged:
        warnings.warn(_not_exact_message(result, clipped, name, unresolved=unresolved,
                                         underflow=underflow),
                      ConvergenceWarning, stacklevel=external_stacklevel())
    return result


def _without_far_points(x, a, y, b, order, max_iter, far_x, far_y, *, certify, name,
                        **options) -> PointsEMDResult:
    """:func:`solve_validated` without the far points of weight 0, answered at full size.

    The problem without them has the same value (:mod:`otlab.exact._far_points`); the plan
    gets zero rows and columns for them, and their potentials are c-transforms in data units
    (capped at the largest float, lowered until every pair they take part in checks in
    float64), whose largest excess joins ``dual_violation``.  With ``certify=False`` their
    potentials are NaN, like those of every point of weight 0.
    """
    from scipy.sparse import csr_array

    keep_x, keep_y = ~far_x, ~far_y
    sub = solve_validated(x[keep_x], a[keep_x], y[keep_y], b[keep_y], order, max_iter,
                          certify=certify, name=name, **options)
    if certify:
        f_far, over_x = checked_c_transform(x[far_x], y[keep_y], sub.g, order)
        g_far, over_y = checked_c_transform(y[far_y], np.concatenate([x[keep_x], x[far_x]]),
                                            np.concatenate([sub.f, f_far]), order)
        excess = float(np.max([over_x, over_y]))  # 0, or positive or NaN where not checked
    else:
        f_far, g_far, excess = np.full(far_x.sum(), np.nan), np.full(far_y.sum(), np.nan), 0.0
    f, g = np.empty(x.shape[0]), np.empty(y.shape[0])
    f[keep_x], f[far_x], g[keep_y], g[far_y] = sub.f, f_far, sub.g, g_far
    unit_f, unit_g = f.copy(), g.copy()
    with np.errstate(over="ignore", under="ignore"):  # in the LP's units, finite like f and g
        unit_f[far_x] = np.clip(scale_by_power(f_far, sub.scale, -order), -_LARGEST, _LARGEST)
        unit_g[far_y] = np.clip(scale_by_power(g_far, sub.scale, -order), -_LARGEST, _LARGEST)
    unit_f[keep_x], unit_g[keep_y] = sub.unit_f, sub.unit_g
    plan = sub.plan.tocoo()
    rows, cols = np.nonzero(keep_x)[0][plan.row], np.nonzero(keep_y)[0][plan.col]
    plan = csr_array((plan.data, (rows, cols)), shape=(x.shape[0], y.shape[0]))
    violation = sub.dual_violation if excess == 0 else np.max([excess, sub.dual_violation])
    result = replace(sub, plan=plan, f=f, g=g, a=a, b=b, unit_f=unit_f, unit_g=unit_g,
                     dual_violation=float(violation), converged=sub.converged and excess == 0)
    if sub.converged and not result.converged:
        warnings.warn(f"{name}: the potentials of the far points of weight 0 do not check in "
                      f"float64 (largest excess {excess:.3g}); the plan and W_k are those of the "
                      "problem without them", ConvergenceWarning, stacklevel=external_stacklevel())
    return result


def _mass_unresolved(x, a, y, b, frame: Frame) -> bool:
    """Whether the points that carry mass span less than :data:`MASS_EXTENT` of the frame.

    Their coordinates in the frame are then below 2**-400, their squared differences near
    or below the float range (2**-1022), and the LP's costs of them 0 or subnormal.
    """
    mass = np.concatenate([x[a > 0], y[b > 0]])
    half_side = float((mass.max(0) / 2 - mass.min(0) / 2).max())
    return 0 < half_side < MASS_EXTENT * frame.scale


def _plan_unresolved(p: _Problem, plan: Restricted, order: float, frame: Frame,
                     solved_in: float = 1.0) -> bool:
    """Whether the plan moves mass along a pair whose cost underflowed in the frame.

    ``solved_in``: the power of two the coordinates were divided by for the LP
    (:func:`_in_units`); distances are compared with :data:`UNDERFLOW_DISTANCE` there.

    Costs are formed from squared differences in the frame (:class:`~otlab.costs.PowerCost`):
    a pair less than :data:`UNDERFLOW_DISTANCE` apart has cost 0 or a subnormal one.  Where
    the pair's points lie within ``1 / OWN_PRECISION`` times that distance of the origin
    (in data units), the distance is far above their round-off, so its cost is a value of the
    data that the LP did not see: far points set the frame's scale (a light pair at 1e300
    beside data of size 1, pairs one apart at +-1.7e308), and W_k came out 0.0 with
    converged=True.  Pairs whose distance lies below their points' round-off (parallel lines
    5e-324 apart, points of size 1) are exact to that round-off and pass.  Costs that
    underflow on pairs the plan does not use lie below the true ones, so the duals stay
    feasible for the true costs.  Pairs whose costs are a negligible share of the plan's
    (:data:`CERT_RTOL`) pass too.

    There is no absolute floor: an earlier one (:data:`CERT_ATOL` of the mass-weighted k-th
    moment) was set by far points, and a pair one apart at 1e200 beside data of size 1 left
    W_k^k 40-170 % off with converged=True, whatever the far pair's weight (1e-3 to 1e-300,
    orders 1 and 2, both solvers; measured).
    """
    used = plan.flows > 0
    if not used.any():
        return False
    xs, ys, flows = p.x[plan.rows[used]], p.y[plan.cols[used]], plan.flows[used]
    gap = np.abs(xs - ys).max(1)
    near = (gap > 0) & (gap < UNDERFLOW_DISTANCE * solved_in)
    if near.any():  # the points' sizes in data units (the origin's frame), over the scale
        origin = 0.0 if frame.centre is None else np.asarray(frame.centre) / frame.scale
        size = np.maximum(np.abs(xs + origin).max(1), np.abs(ys + origin).max(1))
        near &= gap > OWN_PRECISION * size
    if not near.any():
        return False
    # The LP saw those pairs' costs as 0 (or below), so the plan is optimal only to within
    # their true costs, at most mass * (sqrt(d) * longest gap)**k of W_k^k: not reported
    # converged unless that is below CERT_RTOL of the plan's cost.
    total, top = power_sum(flows, _plan_distances(xs, ys), order)
    mass = float(flows[near].sum())
    longest = math.sqrt(xs.shape[1]) * float(gap[near].max())
    with np.errstate(over="ignore", under="ignore"):
        return not mass * (longest / top) ** order <= CERT_RTOL * total


def _plan_distances(xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Distances between matched rows, those whose squares underflow by a scaled norm.

    Distances of :data:`UNDERFLOW_DISTANCE` and more are :class:`~otlab.costs.PowerCost`'s
    (bitwise as before); below, the squares of the coordinate differences lose digits or
    underflow (pairs one apart at +-1.7e308 have W_1 = 1, 2**-1023 in the frame, and got
    0.0), so those rows are divided by their largest difference before squaring.
    """
    out = PowerCost(1).matched(xs, ys)
    tiny = out < UNDERFLOW_DISTANCE
    if tiny.any():
        diff = xs[tiny] - ys[tiny]
        top = np.abs(diff).max(1)
        unit = np.where(top > 0, top, 1.0)
        out[tiny] = top * np.sqrt(((diff / unit[:, None]) ** 2).sum(1))
    return out


def _frame(x, a, y, b, *, grid: bool) -> Frame:
    """The solver's frame: centred on the median of the points that carry mass.

    The midpoint of the bounding box of all points (:func:`~otlab.frames.common_frame`)
    lies far from the data when a few points are far away: x - centre then keeps only the
    far points' digits.  A pair of weight 1e-12 at 1e10 beside data of size 1 moved W_1 by
    7e-9 relative, at 1e100 (or a weight-0 point at 1e300) every point that carries mass had
    the same coordinates and W_k was 0.0 with converged=True (measured).  From the median,
    each point's offset is exact to its own precision, and the power-of-two scale (the
    farthest offset) keeps it so.  Pixels lie within their grid: the box's midpoint.
    """
    frame = common_frame(x, y)
    if grid:
        return frame
    centre = np.median(np.concatenate([x[a > 0], y[b > 0]]), axis=0)
    with np.errstate(over="ignore"):
        reach = max(float(np.abs(x - centre).max()), float(np.abs(y - centre).max()))
    if not math.isfinite(reach):  # offsets beyond the float range: only the midpoint fits
        return frame
    return Frame(centre=centre, scale=power_of_two_at_least(reach))


def overflow_message(name: str, res: PointsEMDResult) -> str:
    """Why a solved plan is not reported as converged: W_k^k leaves the float64 range."""
    return (f"{name}: the plan was solved in internal units, but W_k^k = {res.cost} does not fit "
            f"in float64 (W_k = {res.distance:.6g}, order {res.order:g}); cost, potentials and "
            "certificate cannot be given in data units, so converged=False. Rescale the data "
            "(W_k scales with it) and scale the distance back.")


def _bounds_w(value: float, error_bound: float, cost: PowerCost, p: _Problem) -> bool:
    r"""Whether a feasible plan's certificate pins :math:`W_k` down, in the LP's units.

    The plan's cost ``value`` :math:`= c` is an upper bound on :math:`W_k^k` and
    :math:`c - e` (``error_bound`` :math:`= e`, duality gap plus dual violation) a lower
    one.  Certified when :math:`e \le` :data:`CERT_RTOL` :math:`c`, or when the interval
    :math:`[(c - e)_+^{1/k}, c^{1/k}]` of :math:`W_k` is at most :data:`CERT_ATOL` of
    the size of ``p``'s data long (two samples equal to round-off; :func:`_mass_size`,
    frame units, only computed then).

    >>> def pair(size):  # one point a side, ``size`` from the frame's centre
    ...     return _Problem(np.array([[size]]), np.array([[-size]]), np.ones(1), np.ones(1),
    ...                     None, None)
    >>> unit = PowerCost(2)
    >>> _bounds_w(1.0, 1e-7, unit, pair(1.0)), _bounds_w(1e-18, 1e-16, unit, pair(1.0))
    (True, True)
    >>> _bounds_w(1e-18, 1e-16, unit, pair(1e-12))  # W_2 <= 1e-9: not small beside 1e-12
    False
    """
    if error_bound <= CERT_RTOL * value:  # not when NaN
        return True
    lower = max(value - error_bound, 0.0)
    width = cost.unit * (value ** (1.0 / cost.order) - lower ** (1.0 / cost.order))
    return width <= CERT_ATOL * _mass_size(p)


def _mass_size(p: _Problem) -> float:
    """The size of the data that carry the mass: the median distance to the frame's centre.

    The mass-weighted median, over both sides (each side's weights summing to one) and the
    points off the centre, of the largest coordinate: far points of little mass do not move it, where the
    frame's half-width (the farthest point) or a moment would be theirs.  With the frame's
    half-width as the size, a pair of weight 1e-12 at 1e10 beside data of size 1 had W_2^2
    reported 1.4e4 times too large with converged=True: 3e-16 of mass (the flows' round-off)
    crossed to the far point, and its cost, 1e-8 of the frame, passed as round-off.  0 when
    all the mass sits at the centre (then a feasible plan costs 0).

    >>> p = _Problem(np.array([[0.0], [1.0], [3.0], [1e10]]), np.array([[2.0]]),
    ...              np.array([0.2, 0.3, 0.5 - 1e-12, 1e-12]), np.array([1.0]), None, None)
    >>> float(_mass_size(p))
    2.0
    """
    size = np.abs(np.concatenate([p.x, p.y])).max(1)
    weights = np.concatenate([p.wx / p.wx.sum(), p.wy / p.wy.sum()])
    keep = (size > 0) & (weights > 0)
    if not keep.any():
        return 0.0
    size, weights = size[keep], weights[keep]
    order = np.argsort(size, kind="stable")
    cumulative = np.cumsum(weights[order])
    return float(size[order][np.searchsorted(cumulative, cumulative[-1] / 2)])


def _result(plan: Restricted, sol, cost: PowerCost, clipped, p: _Problem, frame: Frame, a, b,
            solver, grid=None, certify=True, solved=None) -> PointsEMDResult:
    """Centre the potentials, complete the certificate, and put everything in data units.

    ``solved``: the problem and costs the LP was solved on (:func:`_in_units`), where the
    dual check runs; by default ``p`` and ``cost``.
    """
    fu, gu = plan.f, plan.g
    shift = (dot(p.wy, gu) - dot(p.wx, fu)) / 2  # centre: <a, f> = <b, g>
    fu, gu = fu + shift, gu - shift
    if not certify:  # the caller certifies: no completed potentials, no violation
        violation = np.nan
    elif sol.scan is not None and p.wx.all() and p.wy.all():
        violation = sol.scan.max_excess
    elif grid is not None:  # every pixel pair, by the grid's c-transform
        everything = GridPricer(grid.source, grid.target, np.arange(p.x.shape[0]),
                                np.arange(p.y.shape[0]))
        violation = everything(fu, gu, np.inf).max_excess
    else:  # dense solve, or potentials completed by the c-transform: scan everything
        sp, sc = solved[:2] if solved is not None else (p, cost)
        violation = scan_excess(sp.x, sp.y, fu, gu, Leaves(sp.x, SCAN_LEAF),
                                Leaves(sp.y, SCAN_LEAF), sc, tol=np.inf).max_excess
    plan_csr = _expand_plan(plan, p, a, b)
    marginal = marginal_l1(plan_csr, a, b)
    total, top = power_sum(plan.flows, _plan_distances(p.x[plan.rows], p.y[plan.cols]),
                           cost.order)
    scale = frame.scale * cost.unit
    gap = plan.cost - dot(p.wx, fu) - dot(p.wy, gu)
    certified = not certify or _bounds_w(plan.cost, abs(gap) + violation, cost, p)
    if not certify:
        fu, gu = np.where(p.wx > 0, fu, np.nan), np.where(p.wy > 0, gu, np.nan)
    return PointsEMDResult(
        plan=plan_csr, cost=scale_by_power(total, top * frame.scale, cost.order),
        distance=top * total ** (1.0 / cost.order) * frame.scale,
        f=scale_by_power(fu[p.inv_x], scale, cost.order),
        g=scale_by_power(gu[p.inv_y], scale, cost.order),
        converged=bool(sol.converged and not clipped and marginal <= FEASIBILITY_RTOL
                       and certified),
        order=cost.order, a=a, b=b, solver=solver, rounds=sol.rounds, n_pairs=sol.n_pairs,
        dual_violation=scale_by_power(violation, scale, cost.order),
        duality_gap=scale_by_power(gap, scale, cost.order),
        marginal_error=marginal, frame=frame, unit=cost.unit, unit_cost=plan.cost,
        unit_f=fu[p.inv_x], unit_g=gu[p.inv_y])
