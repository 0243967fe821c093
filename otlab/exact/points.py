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
"""

from __future__ import annotations

import sys
import warnings
from dataclasses import dataclass

import numpy as np

from .._backend import to_numpy
from .._validation import as_points, as_weights, check_choice, check_order, check_positive_int
from ._geometry import Leaves, merge_duplicates, normal_form
from ._histogram import FEASIBILITY_RTOL, ConvergenceWarning, default_max_iter
from ._memory import available_memory_bytes, check_dense_memory, dense_memory_bytes
from ._multiscale import SolverOptions, solve_points
from ._restricted import Restricted
from ._scan import scan_excess

__all__ = ["emd_points", "PointsEMDResult", "choose_exact_solver", "max_dual_violation",
           "SOLVERS", "DENSE_SPEED_LIMIT"]

#: Values accepted by ``solver``.
SOLVERS = ("auto", "dense", "sparse")
#: Problems with more pairs than this go to the sparse solver: it is as fast or
#: faster from about 400 x 400 points on (2-D, W_1; docs/guide/exact.rst).
DENSE_SPEED_LIMIT = 160_000
_SPARSE_HINT = "Use solver='sparse' (memory O(n + m)) or solver='auto'."


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
        units (``inf`` only if it overflows float64; :attr:`distance` does not).
    f, g : ndarray, shapes (n,) and (m,)
        Dual potentials, :math:`f_i + g_j \le \lVert x_i - y_j \rVert^k` for
        *all* pairs, centred so that :math:`\langle a, f\rangle = \langle b, g\rangle`.
    converged : bool
        True when the certificate holds: the plan meets its marginals and no
        pair violates dual feasibility beyond the round-off tolerance.
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
    scale, unit_cost : float
        The data were centred and divided by ``scale`` (a power of two);
        ``unit_cost`` is :math:`W_k^k` of the scaled data, so
        ``cost = unit_cost * scale**order``.
    """

    plan: object
    cost: float
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
    scale: float = 1.0
    unit_cost: float = float("nan")

    @property
    def distance(self) -> float:
        """:math:`W_k`, the k-th root of :attr:`cost`, computed without overflow."""
        return self.scale * max(self.unit_cost, 0.0) ** (1.0 / self.order)

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


def _print_progress(fields: dict) -> None:
    print(f"emd_points level {fields['level']} ({fields['n']} x {fields['m']}) round "
          f"{fields['round']}: {fields['pairs']} pairs, {fields['violations']} violations, "
          f"max violation {fields['max_violation']:.3g} (tol {fields['tol']:.3g}), "
          f"cost {fields['cost']:.12g}, {fields['seconds']:.1f} s", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class _Problem:
    """The problem in normal form, reduced to distinct points of positive weight."""

    x: np.ndarray  # distinct points (normal form)
    y: np.ndarray
    wx: np.ndarray  # their weights (some may be 0)
    wy: np.ndarray
    inv_x: np.ndarray  # original index -> distinct index
    inv_y: np.ndarray


def _reduce(x, a, y, b) -> tuple[_Problem, object]:
    nf = normal_form(x, y)
    ux, wx, inv_x = merge_duplicates(nf.x, a)
    uy, wy, inv_y = merge_duplicates(nf.y, b)
    return _Problem(ux, uy, wx, wy, inv_x, inv_y), nf


def _c_transform(points, others, pot_others, order):
    """:math:`\\min_j c(p_i, q_j) - h_j` for each point, by a pruned scan."""
    from scipy.spatial import cKDTree

    if points.shape[0] == 0:
        return np.empty(0)
    near = cKDTree(others).query(points, 1)[1]
    diff = points - others[near]
    upper = np.einsum("ij,ij->i", diff, diff) ** (order / 2) - pot_others[near]
    guess = upper + 1e-9 * (1.0 + np.abs(upper))  # keeps the nearest point's block unpruned
    scan = scan_excess(points, others, guess, pot_others, Leaves(points, 32),
                       Leaves(others, 32), order, tol=np.inf)
    return guess - scan.row_max


def _solve_reduced(p: _Problem, order, solver, max_iter, max_rounds, report):
    """Solve on the positive-weight points; potentials of zero-weight points by c-transform."""
    px, py = p.wx > 0, p.wy > 0
    xs, ys = p.x[px], p.y[py]
    a, b = p.wx[px] / p.wx[px].sum(), p.wy[py] / p.wy[py].sum()
    dense_pairs = xs.shape[0] * ys.shape[0] if solver == "dense" else 0
    opts = SolverOptions(order=order, max_iter=max_iter, max_rounds=max_rounds, report=report,
                         dense_pairs=max(dense_pairs, SolverOptions.dense_pairs),
                         sparse_top=solver == "sparse")
    sol = solve_points(xs, a, ys, b, opts)
    f, g = np.empty(p.x.shape[0]), np.empty(p.y.shape[0])
    f[px], g[py] = sol.plan.f, sol.plan.g
    f[~px] = _c_transform(p.x[~px], ys, sol.plan.g, order)
    g[~py] = _c_transform(p.y[~py], p.x, f, order)
    ix, iy = np.nonzero(px)[0], np.nonzero(py)[0]
    plan = Restricted(rows=ix[sol.plan.rows], cols=iy[sol.plan.cols], flows=sol.plan.flows,
                      cost=sol.plan.cost, f=f, g=g, code=sol.plan.code)
    return plan, sol


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


def _marginal_l1(plan, a, b) -> float:
    return float(np.abs(plan.sum(axis=1) - a).sum() + np.abs(plan.sum(axis=0) - b).sum())


def _validate(x, y, a, b, order, solver, max_iter):
    order = check_order(order)
    check_choice(solver, "solver", SOLVERS)
    x = np.asarray(to_numpy(as_points(x, "x")), dtype=np.float64)
    y = np.asarray(to_numpy(as_points(y, "y")), dtype=np.float64)
    if x.shape[1] != y.shape[1]:
        raise ValueError(
            f"x and y must have the same dimension; got d={x.shape[1]} and d={y.shape[1]}")
    a = to_numpy(as_weights(a, x.shape[0], "a"))
    b = to_numpy(as_weights(b, y.shape[0], "b"))
    if max_iter is None:
        max_iter = default_max_iter(x.shape[0], y.shape[0])
    return x, y, a, b, order, check_positive_int(max_iter, "max_iter")


def _not_exact_message(res: PointsEMDResult) -> str:
    head = (f"emd_points ({res.solver}) did not certify optimality: dual violation "
            f"{res.dual_violation:.3g}, duality gap {res.duality_gap:.3g}; ")
    if res.feasible:
        return head + (f"the plan is feasible, so its cost {res.cost:.6g} is an upper bound on "
                       "W_k^k. Increase max_iter or max_rounds.")
    return head + (f"the plan is NOT feasible (L1 marginal error {res.marginal_error:.3g}): its "
                   f"cost {res.cost:.6g} is no bound on W_k^k. Increase max_iter.")


def emd_points(x, y, a=None, b=None, *, order: float = 1, solver: str = "auto",
               max_iter: int | None = None, max_rounds: int = 100,
               progress: bool = False) -> PointsEMDResult:
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
    x : array-like, shape (n, d) or (n,)
        Source points (numpy, torch or lists; computed in float64).
    y : array-like, shape (m, d) or (m,)
        Target points.
    a, b : array-like, optional
        Non-negative weights, normalised to sum 1; uniform when omitted.
    order : float, default 1
        The order ``k >= 1`` of the cost :math:`\lVert x - y\rVert^k`.
    solver : {"auto", "dense", "sparse"}, default "auto"
    max_iter : int, optional
        Cap on the pivots of each network-simplex solve (default
        :func:`~otlab.exact.default_max_iter`).
    max_rounds : int, default 100
        Cap on the pricing rounds of the sparse solver.
    progress : bool, default False
        Print one line per pricing round to stderr (pairs, violations, largest
        violation, cost, elapsed time); useful from about 10^5 points, where a
        solve takes minutes.

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
    The solver works on centred, power-of-two-scaled data with costs formed
    from differences, so offsets such as :math:`10^8` and scales from
    :math:`10^{-150}` to :math:`10^{150}` lose no accuracy; coinciding points
    are merged and zero weights left out of the LP (their potentials come
    from the c-transform).  ``dual_violation`` is the largest
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
    x, y, a, b, order, max_iter = _validate(x, y, a, b, order, solver, max_iter)
    n, m = x.shape[0], y.shape[0]
    if solver == "auto":
        solver = choose_exact_solver(n, m, x.shape[1], order)
    if solver == "dense":
        check_dense_memory(n, m, with_cost_matrix=True, alternative=_SPARSE_HINT)
    p, nf = _reduce(x, a, y, b)
    plan, sol = _solve_reduced(p, order, solver, max_iter, max_rounds,
                               _print_progress if progress else None)
    fu, gu = plan.f, plan.g
    shift = (p.wy @ gu - p.wx @ fu) / 2  # centre: <a, f> = <b, g>
    fu, gu = fu + shift, gu - shift
    if sol.scan is not None and p.wx.all() and p.wy.all():
        violation = sol.scan.max_excess
    else:  # dense solve, or potentials completed by the c-transform: scan everything
        violation = scan_excess(p.x, p.y, fu, gu, Leaves(p.x, 32), Leaves(p.y, 32), order,
                                tol=np.inf).max_excess
    plan_csr = _expand_plan(plan, p, a, b)
    factor = nf.cost_factor(order)
    marginal = _marginal_l1(plan_csr, a, b)
    result = PointsEMDResult(
        plan=plan_csr, cost=plan.cost * factor, f=fu[p.inv_x] * factor, g=gu[p.inv_y] * factor,
        converged=bool(sol.converged and marginal <= FEASIBILITY_RTOL), order=order, a=a, b=b,
        solver=solver, rounds=sol.rounds, n_pairs=sol.n_pairs,
        dual_violation=violation * factor,
        duality_gap=(plan.cost - p.wx @ fu - p.wy @ gu) * factor,
        marginal_error=marginal, scale=nf.scale, unit_cost=plan.cost)
    if not result.converged:
        warnings.warn(_not_exact_message(result), ConvergenceWarning, stacklevel=2)
    return result


def max_dual_violation(x, y, f, g, *, order: float = 1) -> float:
    r"""Largest violation :math:`\max(0, \max_{ij} f_i + g_j - \lVert x_i - y_j\rVert^k)`.

    Checks candidate potentials against *every* pair, tile by tile in
    :math:`O(n + m)` memory (the check behind
    :attr:`PointsEMDResult.dual_violation`).

    Examples
    --------
    >>> import numpy as np
    >>> x, y = np.array([[0.0], [1.0]]), np.array([[0.0], [2.0]])
    >>> max_dual_violation(x, y, np.array([0.0, 0.0]), np.array([0.0, 1.0]))
    0.0
    >>> max_dual_violation(x, y, np.array([0.5, 0.0]), np.array([0.0, 1.0]))
    0.5
    """
    order = check_order(order)
    x = np.asarray(to_numpy(as_points(x, "x")), dtype=np.float64)
    y = np.asarray(to_numpy(as_points(y, "y")), dtype=np.float64)
    f, g = to_numpy(f).reshape(-1), to_numpy(g).reshape(-1)
    if f.shape[0] != x.shape[0] or g.shape[0] != y.shape[0]:
        raise ValueError(f"f and g must have one value per point: expected {x.shape[0]} and "
                         f"{y.shape[0]}, got {f.shape[0]} and {g.shape[0]}")
    nf = normal_form(x, y)
    factor = nf.cost_factor(order)
    scan = scan_excess(nf.x, nf.y, f / factor, g / factor, Leaves(nf.x, 32), Leaves(nf.y, 32),
                       order, tol=np.inf)
    return scan.max_excess * factor
