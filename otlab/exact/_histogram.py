"""Exact discrete optimal transport: the linear programme and its certificate.

The LP is solved by POT's network simplex; otlab adds input validation, an
iteration cap that grows with the problem, re-solves with clipped costs where the
simplex cannot resolve the plan's costs beside much larger ones, a result object
with the dual potentials and an optimality certificate that is checked, and
errors instead of POT's silent zero on infeasible input.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from functools import cached_property
from typing import NamedTuple

import numpy as np

from .._backend import to_numpy
from .._dot import dot
from .._memory import check_dense_memory
from .._warnings import ConvergenceWarning
from .._validation import (as_cost_matrix, as_histogram, check_positive_int, check_same_mass,
                           safe_total)
from ..frames import power_of_two_at_least

__all__ = ["emd", "EMDResult", "default_max_iter", "check_max_iter", "MAX_ITER_LIMIT",
           "marginal_l1", "max_excess"]

#: Relative tolerance on the difference of total masses accepted by :func:`emd`.
MASS_RTOL = 1e-6
#: A plan whose L1 marginal error is at most this times the total mass is called feasible.
FEASIBILITY_RTOL = 1e-9
#: A plan is reported converged only when its certificate (duality gap plus dual violation
#: times the mass) is at most this share of its cost (or below the LP's round-off:
#: :data:`CERT_ROUNDOFF`).
CERT_RTOL = 1e-6
#: ... of the largest cost the LP was given: the network simplex tells costs apart to about
#: 1e-14 of it.
CERT_ROUNDOFF = 1e-12
#: A plan whose costs are all below this share of the largest cost the LP was given is not
#: resolved by the network simplex: it is solved again with the costs clipped.
RESOLVED = 1e-6
#: The clip: this many times the plan's costs (raised by this factor again while a plan
#: uses a clipped pair).  A plan that uses no clipped pair is optimal for the costs
#: unclipped: clipping only lowers costs.
CLIP = 1e4
#: Solves of one problem at most (the first and its re-solves with clipped costs).
MAX_SOLVES = 8
#: What to use when the dense problem does not fit in memory.
DENSE_ALTERNATIVE = (
    "For point clouds use otlab.emd_points(x, y, a, b), the sparse exact solver whose "
    "memory grows like n + m, or an entropic approximation (otlab.sinkhorn)."
)


def default_max_iter(n: int, m: int) -> int:
    """Iteration cap used by :func:`emd` when ``max_iter`` is not given.

    The network simplex typically needs a small multiple of ``n * m`` pivots in
    the worst case; POT's fixed default of 100 000 is too small from
    ``n ~ 500`` on.  The cap is only a guard against cycling, so it is generous.

    >>> default_max_iter(10, 10)
    100000
    >>> default_max_iter(1000, 1000)
    20000000
    """
    return max(100_000, 20 * n * m)


#: Largest pivot cap the network simplex solvers count (larger requests are clipped to it).
MAX_ITER_LIMIT = 2**62


def check_max_iter(max_iter, n: int, m: int) -> int:
    """``max_iter`` as an int >= 1 (``None``: :func:`default_max_iter`), clipped at
    :data:`MAX_ITER_LIMIT`.

    >>> check_max_iter(2**70, 2, 2) == MAX_ITER_LIMIT, check_max_iter(None, 10, 10)
    (True, 100000)
    """
    if max_iter is None:
        max_iter = default_max_iter(n, m)
    return min(check_positive_int(max_iter, "max_iter"), MAX_ITER_LIMIT)


@dataclass(frozen=True)
class EMDResult:
    r"""Solution of the exact OT problem :math:`\min_P \langle P, M\rangle`.

    Attributes
    ----------
    plan : ndarray, shape (n, m)
        Optimal transport plan :math:`P`, with :math:`P 1 = a` and :math:`P^T 1 = b`.
    cost : float
        Optimal value :math:`\langle P, M \rangle` (for ``M = C_k`` this is
        :math:`W_k^k`, not :math:`W_k`).
    f, g : ndarray, shapes (n,) and (m,)
        Dual potentials (Kantorovich potentials), centred so that
        :math:`\langle a, f\rangle = \langle b, g\rangle`, with
        :math:`f_i + g_j \le M_{ij}` and :math:`\langle a, f\rangle + \langle b, g\rangle = \text{cost}`.
    converged : bool
        True when the certificate holds: the duality gap plus the dual violation
        (times the mass) is at most ``1e-6`` of the cost, or within the LP's
        round-off (``1e-12`` of the largest cost it was given).  False when the
        network simplex hit ``max_iter`` before optimality or its plan is not
        certified; then see :attr:`feasible`.
    max_iter : int
        The iteration cap the solver ran with.
    a, b, M : ndarray
        The (validated) problem data; ``b`` rescaled to the mass of ``a``.
    n_iter : None
        POT's network simplex does not report its pivot count; kept for a
        uniform result interface with the iterative solvers.
    """

    plan: np.ndarray
    cost: float
    f: np.ndarray
    g: np.ndarray
    converged: bool
    max_iter: int
    a: np.ndarray
    b: np.ndarray
    M: np.ndarray
    n_iter: None = None

    @cached_property
    def dual_violation(self) -> float:
        r"""Largest dual-feasibility violation :math:`\max(0, \max_{ij} f_i + g_j - M_{ij})`."""
        return max_excess(self.f, self.g, self.M)

    @cached_property
    def duality_gap(self) -> float:
        r"""Primal minus dual objective, :math:`\langle P, M\rangle - \langle a, f\rangle - \langle b, g\rangle`."""
        return float(self.cost - dot(self.a, self.f) - dot(self.b, self.g))

    @cached_property
    def marginal_error(self) -> float:
        r"""L1 deviation of the plan's marginals, :math:`\lVert P1 - a\rVert_1 + \lVert P^\top 1 - b\rVert_1`.

        The same measure as ``SinkhornResult.marginal_error``.
        """
        return marginal_l1(self.plan, self.a, self.b)

    @property
    def feasible(self) -> bool:
        """Whether the plan meets its marginals (L1 error at most ``1e-9`` of the mass).

        A feasible plan's cost is an upper bound on the optimal cost; an
        infeasible plan's cost is no bound at all.
        """
        return self.marginal_error <= FEASIBILITY_RTOL * safe_total(self.a)

    def certificate(self) -> dict:
        """The optimality certificate: dual violation, duality gap, marginal error.

        All three are zero up to floating-point round-off for an optimal plan.
        """
        return {
            "dual_violation": self.dual_violation,
            "duality_gap": self.duality_gap,
            "marginal_error": self.marginal_error,
        }


def emd(a, b, M, *, max_iter: int | None = None, mass_rtol: float = MASS_RTOL) -> EMDResult:
    r"""Solve the exact (earth mover's) optimal transport linear programme.

    .. math::

        \min_{P \ge 0} \; \langle P, M \rangle
        \quad \text{s.t.} \quad P \mathbf 1 = a, \; P^\top \mathbf 1 = b

    and its dual :math:`\max_{f_i + g_j \le M_{ij}} \langle a, f\rangle + \langle b, g\rangle`.

    Parameters
    ----------
    a : array-like, shape (n,)
        Source histogram: finite, non-negative, positive total mass.
    b : array-like, shape (m,)
        Target histogram, with the same total mass as ``a`` (relative
        tolerance ``mass_rtol``); it is rescaled to exactly that mass.
    M : array-like, shape (n, m)
        Finite cost matrix.
    max_iter : int, optional
        Cap on network-simplex pivots; by default :func:`default_max_iter`.
    mass_rtol : float, default 1e-6
        Accepted relative difference between the masses of ``a`` and ``b``.

    Returns
    -------
    EMDResult
        Plan, cost, dual potentials and the optimality certificate.

    Raises
    ------
    ValueError
        On invalid histograms or cost matrix (see :mod:`otlab._validation`).
    MemoryError
        Before solving, when the dense solver would need more memory than the
        process may use (about 34 bytes per pair beyond ``M``); the message
        says how much and what to use instead.
    RuntimeError
        If the solver reports the problem infeasible or unbounded (which
        valid input cannot be).

    Warns
    -----
    ConvergenceWarning
        When ``max_iter`` pivots were not enough, or the plan's certificate
        does not hold; the result then has ``converged=False``.  The warning
        says what is true of the plan returned: feasible (its cost is an upper
        bound on the optimum) or infeasible (it moves only part of the mass;
        its cost is no bound).

    Notes
    -----
    The network simplex tells costs apart to about :math:`10^{-14}` of the
    largest one it is given.  When the costs the plan uses span less than
    :math:`10^{-6}` of the matrix's (costs of 1 beside "forbidden" pairs at
    :math:`10^{20}`), the problem is solved again with the costs clipped
    :math:`10^4` times that span above the smallest, in units of the clip; a
    plan that uses no clipped pair is optimal for ``M`` itself, and the
    potentials of the clipped problem are feasible for ``M``.  Then the
    certificate is checked on ``M``.

    References
    ----------
    N. Bonneel, M. van de Panne, S. Paris, W. Heidrich (2011). Displacement
    interpolation using Lagrangian mass transport. ACM Trans. Graph. 30(6).

    Examples
    --------
    Moving half the mass one unit costs one half:

    >>> import numpy as np
    >>> M = np.array([[0.0, 1.0], [1.0, 0.0]])
    >>> res = emd([0.5, 0.5], [1.0, 0.0], M)
    >>> res.cost
    0.5
    >>> res.plan
    array([[0.5, 0. ],
           [0.5, 0. ]])
    >>> res.duality_gap == 0.0
    True
    """
    a = to_numpy(as_histogram(a, "a"))
    b = to_numpy(as_histogram(b, "b"))
    ready = isinstance(M, np.ndarray) and M.dtype == np.float64 and M.flags.c_contiguous
    check_dense_memory(a.shape[0], b.shape[0], with_cost_matrix=not ready,
                       alternative=DENSE_ALTERNATIVE)
    M = np.ascontiguousarray(to_numpy(as_cost_matrix(M, (a.shape[0], b.shape[0]), "M")))
    check_same_mass(a, b, rtol=mass_rtol)
    max_iter = check_max_iter(max_iter, a.shape[0], b.shape[0])
    units = _mass_units(a)
    a_unit, b_unit = a / units[0] / units[1], b / units[0] / units[1]
    b_unit = b_unit * (a_unit.sum() / b_unit.sum())
    lp = _solve_clipped(a_unit, b_unit, M, max_iter)
    with np.errstate(over="ignore"):  # a value beyond the float range is inf: the true value
        # units are powers of two: their product as one exponent (2**1023 times 2 alone
        # overflowed: a cost of 0.6e308 came out inf, measured)
        cost = float(np.ldexp(dot(lp.plan.ravel(), M.ravel()),
                              sum(math.frexp(u)[1] - 1 for u in units)))
    certified = lp.code == 1 and not lp.clipped and _certified(a_unit, b_unit, lp)
    with np.errstate(over="ignore"):
        f, g = lp.f * lp.unit, lp.g * lp.unit
    result = EMDResult(
        plan=lp.plan * units[1] * units[0],
        cost=cost,
        f=f,
        g=g,
        converged=certified,
        max_iter=max_iter,
        a=a,
        b=b_unit * units[1] * units[0],
        M=M,
    )
    if not certified:
        warnings.warn(_unconverged_message(result, lp.code == 1, lp.clipped), ConvergenceWarning,
                      stacklevel=2)
    return result


class _ClippedLP(NamedTuple):
    """The last LP of :func:`_solve_clipped`: its plan, potentials in units ``unit`` of ``M``,
    the costs it solved (``M`` in those units, clipped or not), whether its plan uses a
    clipped pair, and the largest magnitude among those costs."""

    plan: np.ndarray
    f: np.ndarray
    g: np.ndarray
    unit: float
    costs: np.ndarray
    code: int
    clipped: bool
    largest: float


def _solve_clipped(a, b, M, max_iter) -> _ClippedLP:
    """POT's network simplex on ``M``, then on ``M`` clipped while the plan is unresolved.

    The simplex tells costs apart to about 1e-14 of the largest one it is given: with a
    cost matrix reaching 1e20 (a "forbidden" pair, or points far away) beside costs of 1,
    its plan among the small costs was 16-90 % off and reported optimal (measured).  When
    the costs the plan uses span less than :data:`RESOLVED` of the costs given, they are
    clipped at :data:`CLIP` times that span above the smallest cost and the problem is
    solved again in units of the clip (as :func:`otlab.emd_points` does in finer units);
    while a plan uses a clipped pair the clip is raised.  The potentials of a clipped
    problem are feasible for the costs unclipped (they are larger).  Every decision reads
    ``M`` itself: in the units of its largest entry, entries 1e-490 of it underflow to 0.

    Returns the last LP (:class:`_ClippedLP`).
    """
    from ot.lp import emd as _pot_emd

    lo, top = float(M.min()), float(M.max())
    unit = _cost_unit(M)
    costs, clip = (M if unit == 1.0 else M / unit), math.inf
    for _ in range(MAX_SOLVES):
        # on costs from their least (POT called a problem with every cost below -1 infeasible:
        # see _non_negative); half the shift back on each potential
        solved, shift = _non_negative(costs)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # POT's result warnings are replaced by ours
            plan, log = _pot_emd(a, b, solved, numItermax=max_iter, log=True,
                                 check_marginals=False)
        code = int(log["result_code"])
        if code in (0, 2):
            raise RuntimeError(f"network simplex failed: {log['warning']} (result code {code})")
        f = np.asarray(log["u"], dtype=np.float64) + shift / 2
        g = np.asarray(log["v"], dtype=np.float64) + shift / 2
        largest = max(abs(lo), abs(min(top, clip))) / unit
        if code != 1:
            return _ClippedLP(plan, f, g, unit, costs, code, False, largest)
        used = float(M[plan > 0].max(initial=lo))
        if used >= clip:  # the plan uses a clipped pair: raise the clip
            clip = lo + CLIP * (clip - lo)
        elif used - lo < RESOLVED * (min(top, clip) - lo) and used > lo:
            clip = used + CLIP * (used - lo)  # unresolved: clip close above the plan's costs
        else:
            return _ClippedLP(plan, f, g, unit, costs, code, False, largest)
        # in units of a power of two near the clip (exact): costs of order 1, which the
        # simplex resolves (a clip of 1e-196 left the plan as wrong as before)
        unit = power_of_two_at_least(max(abs(lo), abs(clip)))
        with np.errstate(under="ignore"):
            costs = np.minimum(M, clip) / unit
    return _ClippedLP(plan, f, g, unit, costs, code, True, largest)


def _certified(a, b, lp: _ClippedLP) -> bool:
    """Whether the duality gap plus the dual violation times the mass is at most
    :data:`CERT_RTOL` of the cost, or :data:`CERT_ROUNDOFF` of the largest cost times the
    mass (the LP's own round-off; costs near 0), on the costs the LP solved.

    Where those were clipped the plan uses no clipped pair, so its cost and the
    potentials' excess are the same or smaller on ``M`` itself: the certificate holds there.
    """
    mass = float(a.sum())
    cost = dot(lp.plan.ravel(), lp.costs.ravel())
    error = abs(cost - dot(a, lp.f) - dot(b, lp.g)) + max_excess(lp.f, lp.g, lp.costs) * mass
    return bool(error <= CERT_RTOL * abs(cost) or error <= CERT_ROUNDOFF * lp.largest * mass)


def max_excess(f, g, M, *, block: int = 2**20) -> float:
    """``max(0, max_ij f_i + g_j - M_ij)``, in blocks of rows; NaN if any term is NaN.

    >>> max_excess(np.array([0.0, 1.0]), np.array([0.5]), np.array([[1.0], [1.0]]))
    0.5
    """
    rows = max(1, block // max(M.shape[1], 1))
    tops = [np.max(f[i:i + rows, None] + g[None, :] - M[i:i + rows])
            for i in range(0, M.shape[0], rows)]
    top = float(np.max(tops)) if tops else 0.0
    return top if top != top else max(0.0, top)


#: Costs above this are solved in units of a power of two near the largest (see :func:`_cost_unit`).
HUGE_COST = 2.0 ** 512


def _cost_unit(M: np.ndarray) -> float:
    """1, or a power of two near the largest entry for tiny or huge cost matrices.

    POT's network simplex tells reduced costs apart only down to a fixed
    absolute size: on costs of order 1e-10 its optimum was off by 1e-6, on
    costs of order 1e-20 and below by a factor of two, reported as optimal.
    At the other end its potentials and reduced costs, sums of costs along
    the spanning tree, overflow (a 2 x 2 matrix of 1.7e308 was reported
    infeasible).  Matrices whose entries are all below 1 or reach
    :data:`HUGE_COST` are solved in units of a power of two (exact), with
    costs of order 1, and cost and potentials are multiplied back.  Costs in
    between are resolved well and are left alone (no copy of ``M``).

    >>> _cost_unit(np.array([[0.0, 3.0]])), _cost_unit(np.array([[1e-9]])) == 2.0 ** -29
    (1.0, True)
    >>> _cost_unit(np.array([[1.7e308]])) == 2.0 ** 1023  # the largest power of two below
    True
    """
    top = float(np.abs(M).max()) if M.size else 0.0
    if 0.0 < top < 1.0:
        return power_of_two_at_least(top)
    if top >= HUGE_COST:
        return 2.0 ** (math.frexp(top)[1] - 1)  # the entries become at most 2: no overflow
    return 1.0


def _non_negative(M: np.ndarray) -> tuple[np.ndarray, float]:
    """``(M - c, c)`` with ``c = min M`` when some cost is negative, else ``(M, 0)``.

    POT's network simplex prices its artificial arcs at ``(max M + 1)(n + m)``,
    which is below the real arcs once the costs are negative enough: a feasible
    problem with every cost below -1 was reported infeasible (``M - 5`` on
    costs in [0, 1]).  A constant moves every plan's cost by the same amount
    (``c`` times the mass), so the plan of ``M - c`` is optimal for ``M``.
    ``M`` here is in the LP's cost unit (:func:`_cost_unit`: entries below
    ``2**512``), so ``M - c`` does not overflow.

    >>> _non_negative(np.array([[-5.0, -4.0]]))
    (array([[0., 1.]]), -5.0)
    """
    low = float(M.min()) if M.size else 0.0
    return (M - low, low) if low < 0 else (M, 0.0)


def _mass_units(a) -> tuple[float, float]:
    """Two powers of two whose product is about the mass of ``a``, computed without overflow.

    POT's network simplex needs histograms of moderate mass: it reports a
    feasible problem infeasible from a total mass of about 1e15 on and crashes
    below about 1e-200.  Dividing by these powers of two (exact) gives a
    histogram of mass in (1/2, 1]; plan and cost are multiplied back
    (potentials do not depend on the mass).
    """
    top = power_of_two_at_least(float(a.max()))
    return top, power_of_two_at_least(float((a / top).sum()))


def marginal_l1(plan, a, b) -> float:
    """``||P 1 - a||_1 + ||P^T 1 - b||_1`` for a dense array or a scipy.sparse plan."""
    rows = np.asarray(plan.sum(axis=1)).ravel()
    cols = np.asarray(plan.sum(axis=0)).ravel()
    return float(np.abs(rows - a).sum() + np.abs(cols - b).sum())


def _unconverged_message(res: EMDResult, optimal: bool = False, clipped: bool = False) -> str:
    """What is true of a plan returned after ``max_iter`` pivots, or not certified."""
    if clipped:
        return (f"emd: the costs span more than float64's network simplex resolves; after "
                f"{MAX_SOLVES} solves with the largest costs clipped the plan still uses a "
                f"clipped pair, so it is not certified optimal for M: its cost {res.cost:.6g} "
                "is an upper bound on the optimal cost (marginal error "
                f"{res.marginal_error:.3g}).")
    if optimal:
        return (f"emd: the network simplex stopped, but its certificate does not hold: duality "
                f"gap {res.duality_gap:.3g} and dual violation {res.dual_violation:.3g} against a "
                f"cost of {res.cost:.6g} (M spans [{float(res.M.min()):.3g}, "
                f"{float(res.M.max()):.3g}]); the cost is an upper bound on the optimal cost "
                "when the plan is feasible (marginal error "
                f"{res.marginal_error:.3g}), not the optimum.")
    head = f"emd stopped after max_iter={res.max_iter} pivots before reaching optimality; "
    if res.feasible:
        return head + (
            f"the plan is feasible (marginal error {res.marginal_error:.3g}) but may not be "
            f"optimal: its cost {res.cost:.6g} is an upper bound on the optimal cost. "
            "Increase max_iter."
        )
    moved = safe_total(res.plan)
    return head + (
        f"the plan is NOT feasible: it moves mass {moved:.6g} of {safe_total(res.a):.6g} "
        f"(L1 marginal error {res.marginal_error:.3g}), so its cost {res.cost:.6g} is "
        "neither the optimal cost nor a bound on it. Increase max_iter."
    )
