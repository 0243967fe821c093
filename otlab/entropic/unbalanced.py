r"""The entry points of unbalanced entropic OT (KL marginal penalties), on the one Sinkhorn loop.

* :func:`unbalanced_sinkhorn` — histograms and a cost matrix (``reg`` = ε and
  ``rho`` = ρ absolute, in cost units, as POT's ``reg`` and ``reg_m``);
* :func:`unbalanced_sinkhorn_samples` — point clouds with masses, on the
  dense / tiled / Triton back-ends of :func:`~otlab.entropic.sinkhorn_samples`;
* :func:`unbalanced_sinkhorn_divergence` — the debiased divergence with its
  mass term (:mod:`otlab.entropic.divergence`).

Both run :func:`otlab.entropic.solver.sinkhorn_loop` with a
:class:`~otlab.entropic.penalty.Penalty` (damped soft-min updates); the
conventions of POT, GeomLoss and OTT-JAX and how to convert are in
:mod:`otlab.entropic.penalty`.  A dedicated entry point rather than a
``rho=`` option of :func:`~otlab.entropic.sinkhorn`: the masses of ``a`` and
``b`` may differ (the balanced solver rejects that), and the result carries
what only the unbalanced problem has (the KL terms, the plan's marginals and
mass, the dual value), as :func:`otlab.partial_wasserstein` is its own entry
point for partial transport.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, fields, replace

import numpy as np
import torch

from .._backend import is_torch
from .._validation import check_order, check_positive
from .._warnings import CostOverflowWarning, external_stacklevel
from ..frames import scale_by_power
from ..sample import sample_pair
from ._far_massless import (_needs, _take, far_masks, far_rows, without_far_points,
                            without_far_rows)
from ._threads import loop_threads
from .api import _dense_problem, _histogram_tensors
from .penalty import Penalty, check_rho, kl_divergence, phi, weighted
from .divergence import divergence
from .operators import PlanSums
from .problem import PointProblem
from .result import UnbalancedResult, _Solution
from .solver import (DEFAULT_SCALING, DEFAULT_TOL, SAMPLES_TOL, SinkhornOptions, envelope_terms,
                     finish, gradient_term, needs_grad, sinkhorn_loop, solve)

__all__ = ["unbalanced_sinkhorn", "unbalanced_sinkhorn_samples", "unbalanced_sinkhorn_divergence",
           "as_rho_pair", "MASS_EXPONENT_RANGE"]


def as_rho_pair(rho) -> tuple[float, float]:
    """``rho`` (one weight, or a pair ``(rho_a, rho_b)`` as POT's ``reg_m``) as two floats in (0, inf].

    >>> as_rho_pair(2.0)
    (2.0, 2.0)
    >>> as_rho_pair((1.0, math.inf))
    (1.0, inf)
    >>> as_rho_pair(-1.0)
    Traceback (most recent call last):
    ...
    ValueError: rho must be > 0 (math.inf for a hard marginal constraint); got -1.0
    """
    if isinstance(rho, (tuple, list)):
        if len(rho) != 2:
            raise ValueError(f"rho must be a number or a pair (rho_a, rho_b); got {rho!r}")
        return check_rho(rho[0], "rho[0]"), check_rho(rho[1], "rho[1]")
    value = check_rho(rho, "rho")
    return value, value


def _measure(op, a, b, f, g, eps, penalty, err, options, *, name, reg, out):
    """Cost, primal and dual values, marginals and status of the pair ``(f, g)`` (solver units)."""
    sums = op.plan_sums(eps, f, g, a.log(), b.log())
    cost, err, converged = finish(op, a, b, f, g, eps, err, options, name=name, reg=reg, out=out,
                                  penalty=penalty, sums=sums)
    mass, mass_a, mass_b = sums.rows.sum(), a.sum(), b.sum()
    entropic = eps * (mass_a * mass_b - mass)
    primal = sums.rows @ f + sums.cols @ g + entropic
    for rho, marginal, weights in ((penalty.rho_a, sums.rows, a), (penalty.rho_b, sums.cols, b)):
        if rho != math.inf:
            primal = primal + rho * kl_divergence(marginal, weights)
    dual = (weighted(a, phi(f, penalty.rho_a)).sum() + weighted(b, phi(g, penalty.rho_b)).sum()
            + entropic)
    return sums, cost, primal, dual, err, converged


def _gradient_potentials(a, b, f, g, eps, penalty, sums):
    r"""The gradients of :math:`\mathrm{UOT}` in ``a`` and ``b`` at the optimum (envelope theorem).

    :math:`\partial_{a_i} = \varphi_{\rho_a}(f_i) - \varepsilon\,((P\mathbf 1)_i / a_i - m_b)`,
    and the same for ``b``.
    """
    safe_a = torch.where(a > 0, a, torch.ones_like(a))
    safe_b = torch.where(b > 0, b, torch.ones_like(b))
    da = phi(f, penalty.rho_a) - eps * (sums.rows / safe_a - b.sum())
    db = phi(g, penalty.rho_b) - eps * (sums.cols / safe_b - a.sum())
    return da, db


def _value_dtype(out) -> str:
    """The dtype the values come back in: the tensors', float64 (Python floats) for numpy input.

    A float32 tensor overflows at 3.4e38, where the overflow warnings said float64.
    """
    return "float64" if out.numpy else str(out.dtype).replace("torch.", "")


def _result(out, f, g, cost, primal, dual, n_iter, err, converged, reg, rho, backend, sums, solution):
    values = {"mass": sums.rows.sum(), "cost": out.cost(cost), "objective": out.cost(primal),
              "dual": out.cost(dual)}
    over = [k for k, v in values.items() if not math.isfinite(float(torch.as_tensor(v).detach()))]
    if over and converged:  # masses near 1e155 and up: eps m_a m_b does not fit in float64
        converged = False
        warnings.warn(
            f"unbalanced OT at masses {float(solution.log_a.exp().sum()):.3g} and "
            f"{float(solution.log_b.exp().sum()):.3g}: the {', '.join(over)} overflow "
            f"{_value_dtype(out)} and are returned as inf; converged=False.", CostOverflowWarning,
            stacklevel=external_stacklevel())
    return UnbalancedResult(
        f=out.cost(f), g=out.cost(g), cost=out.cost(cost), objective=out.cost(primal),
        n_iter=n_iter, marginal_error=err, converged=converged, reg=reg, backend=backend,
        _solution=solution, rho=rho, dual=float(out.cost(dual.detach())),
        mass=float(sums.rows.sum()), row_marginal=out.plain(sums.rows),
        col_marginal=out.plain(sums.cols))


def unbalanced_sinkhorn(a, b, M, reg, *, rho, tol: float | None = None,
                        max_iter: int | None = None, scaling: float | None = DEFAULT_SCALING,
                        acceleration="anderson") -> UnbalancedResult:
    r"""Unbalanced entropic OT between histograms: KL marginal penalties instead of constraints.

    Solves

    .. math::

        \mathrm{UOT}_{\varepsilon,\rho}(a, b) = \min_{P \ge 0}
        \langle P, M\rangle + \varepsilon\, \mathrm{KL}(P \,\|\, a\otimes b)
        + \rho_a \mathrm{KL}(P\mathbf 1 \,\|\, a) + \rho_b \mathrm{KL}(P^\top\mathbf 1 \,\|\, b)

    (KL of positive measures, :math:`\sum p\log(p/q) - p + q`) by the
    Sinkhorn loop of :func:`~otlab.entropic.sinkhorn` with damped updates

    .. math::

        f \leftarrow \lambda_a \operatorname{softmin}_\varepsilon(g),\quad
        g \leftarrow \lambda_b \operatorname{softmin}_\varepsilon(f),\qquad
        \lambda = \frac{\rho}{\rho + \varepsilon},

    in the log domain, with the same ε-scaling, acceleration, round-off floor
    and honest status.  The masses of ``a`` and ``b`` may differ; mass is
    created or destroyed where moving it costs more than the penalty.

    Parameters
    ----------
    a, b : array-like or Tensor, shapes (n,) and (m,)
        Non-negative masses with positive totals (not normalised).
    M : array-like or Tensor, shape (n, m)
        Finite cost matrix.
    reg : float
        ε > 0, absolute, in the units of ``M`` (POT's ``reg``).
    rho : float or (float, float)
        The KL weights :math:`\rho_a, \rho_b > 0` in the units of ``M`` (POT's
        ``reg_m``); ``math.inf`` keeps that marginal as a hard constraint, and
        ``rho=math.inf`` is :func:`~otlab.entropic.sinkhorn` bit for bit.
        GeomLoss's ``reach`` and OTT-JAX's ``tau`` convert by
        :func:`~otlab.entropic.penalty.rho_from_reach` and
        :func:`~otlab.entropic.penalty.rho_from_tau`.
    tol : float, optional
        Stop when the marginals are within ``tol`` (L1) of the optimality
        conditions :math:`P\mathbf 1 = a e^{-f/\rho_a}`,
        :math:`P^\top\mathbf 1 = b e^{-g/\rho_b}`, times
        :math:`\min(1, \sum a, \sum b)` (relative to masses below 1); default
        1e-6, raised to what the dtype certifies (as in
        :func:`~otlab.entropic.sinkhorn`).
    max_iter, scaling, acceleration
        As in :func:`~otlab.entropic.sinkhorn`.

    Returns
    -------
    UnbalancedResult
        ``objective`` (the primal value with the KL terms), ``dual``, ``cost``
        :math:`\langle P, M\rangle`, ``row_marginal``, ``col_marginal``,
        ``mass``, potentials, ``converged``.  numpy in, numpy out; torch in,
        torch out, with ``cost`` and ``objective`` differentiable in ``a``,
        ``b`` and ``M`` (envelope theorem).

    Raises
    ------
    ValueError
        ``reg`` or ``rho`` not > 0, NaN or infinite entries, negative masses,
        a shape mismatch; with ``rho=math.inf`` masses that differ.

    Warns
    -----
    ConvergenceWarning
        When the measured marginal error exceeds ``tol`` (``converged=False``).

    Notes
    -----
    ``objective`` is the primal value of the returned plan, an upper bound on
    :math:`\mathrm{UOT}` (every :math:`P \ge 0` is feasible), and ``dual`` the
    dual value of its potentials, a lower bound; at convergence they agree to
    about ε times the marginal error.  As :math:`\rho \to \infty` the value
    tends to the balanced one, at most :math:`(\langle a, f^2\rangle + \langle b, g^2\rangle)/(2\rho)`
    below it (:math:`f, g` the balanced potentials); as ε → 0 it tends to the
    unregularised KL-penalised problem.

    The problem is not homogeneous in the masses, because the reference
    measure :math:`a\otimes b` of the entropy has mass :math:`m_a m_b`:
    putting :math:`P = sQ`,

    .. math::

        \mathrm{UOT}(s a, s b; M) = s\, \mathrm{UOT}(a, b; M - \varepsilon \log s)
        + \varepsilon\, m_a m_b (s^2 - s),

    with plan :math:`sQ` and the same potentials.  Masses whose geometric mean
    lies beyond :math:`2^{\pm 64}` (:data:`MASS_EXPONENT_RANGE`) are solved so,
    at unit scale (``tol`` then applies at that scale) and scaled back; a
    value that overflows float64 there (the objective at masses near 1e155,
    whose :math:`\varepsilon m_a m_b` does not fit) is returned as inf with a
    :class:`~otlab.CostOverflowWarning` and ``converged=False``.  Masses of
    1e300 gave "sinkhorn diverged" before.

    References
    ----------
    L. Chizat, G. Peyré, B. Schmitzer, F.-X. Vialard (2018). Scaling algorithms
    for unbalanced optimal transport problems. Math. Comp. 87.

    T. Séjourné, J. Feydy, F.-X. Vialard, A. Trouvé, G. Peyré (2019). Sinkhorn
    divergences for unbalanced optimal transport. arXiv:1910.12958.

    Examples
    --------
    Two Diracs at distance 1, unit masses: the potentials are
    :math:`f = g = \rho/(2\rho + \varepsilon)`, so the plan's mass is
    :math:`e^{-f/\rho} = e^{-1/(2\rho + \varepsilon)}`:

    >>> import numpy as np
    >>> res = unbalanced_sinkhorn([1.0], [1.0], [[1.0]], reg=0.1, rho=1.0)
    >>> res.converged, round(res.mass, 6), round(float(np.exp(-1 / 2.1)), 6)
    (True, 0.62114, 0.62114)

    Masses 1 and 2 at zero cost meet at :math:`2^{(\rho + \varepsilon)/(2\rho + \varepsilon)}`
    (:math:`\sqrt 2` as ε → 0):

    >>> res = unbalanced_sinkhorn([1.0], [2.0], [[0.0]], reg=0.1, rho=1.0)
    >>> round(res.mass, 6), round(2 ** (1.1 / 2.1), 6)
    (1.437747, 1.437747)
    """
    a_t, b_t, M_t, out = _histogram_tensors(a, b, M)
    reg = check_positive(reg, "reg")
    rho_pair = as_rho_pair(rho)
    if rho_pair == (math.inf, math.inf):
        from .api import sinkhorn

        res = sinkhorn(a, b, M, reg, tol=tol, max_iter=max_iter, scaling=scaling,
                       acceleration=acceleration)
        sums_rows, sums_cols = res.plan.sum(1), res.plan.sum(0)
        return UnbalancedResult(**{k: getattr(res, k) for k in (
            "f", "g", "cost", "objective", "n_iter", "marginal_error", "converged", "reg",
            "backend", "_solution")}, rho=rho_pair, dual=float(res.objective),
            mass=float(sums_rows.sum()), row_marginal=sums_rows, col_marginal=sums_cols)
    masks = far_rows(a_t, b_t, M_t)
    if masks is not None:  # rows of weight 0 whose costs would set the unit: solved without
        def solve(a, b, M):
            return unbalanced_sinkhorn(a, b, M, reg, rho=rho, tol=tol, max_iter=max_iter,
                                       scaling=scaling, acceleration=acceleration)
        return without_far_rows(solve, a, b, M, masks, b_t, rho=rho_pair)
    options = SinkhornOptions.build(tol=tol, max_iter=max_iter, scaling=scaling,
                                    acceleration=acceleration, default_tol=DEFAULT_TOL)
    s = _mass_unit(a_t.detach(), b_t.detach())
    if abs(math.log2(s)) <= MASS_EXPONENT_RANGE:
        return _solve_histograms(a_t, b_t, M_t, out, reg, rho_pair, options)
    # UOT(s a, s b; M) = s UOT(a, b; M - eps log s) + eps m_a m_b (s^2 - s), plan s P
    shift = reg * math.log(s)
    unit = _solve_histograms(a_t / s, b_t / s, M_t - shift, out, reg, rho_pair, options)
    return _rescaled(unit, s, shift, a_t, b_t, reg, out)


#: Masses whose geometric mean lies beyond 2**±MASS_EXPONENT_RANGE are solved at unit scale.
MASS_EXPONENT_RANGE = 64


def _mass_unit(a, b) -> float:
    """The power of two nearest the geometric mean of the masses (computed without overflow)."""
    exponents = []
    for w in (a, b):
        top = float(w.max())
        if not top > 0:
            return 1.0
        exponents.append(math.log2(top) + math.log2(float((w / top).sum())))
    return math.ldexp(1.0, round(0.5 * (exponents[0] + exponents[1])))


def _rescaled(unit, s: float, shift: float, a_t, b_t, reg: float, out, *,
              name: str = "unbalanced_sinkhorn") -> UnbalancedResult:
    r"""The result of masses ``s a, s b`` from that of ``a, b`` at the cost ``M - shift``.

    Plan, marginals, mass and marginal error scale by ``s``, the potentials stay; the
    transport cost is :math:`s(\langle P, M - \text{shift}\rangle + \text{shift}\, m)`,
    objective and dual gain :math:`\varepsilon\, m_a m_b (1 - 1/s)` (masses at scale ``s``).
    Where a value overflows float64 it is inf, with a warning and ``converged=False``.
    """
    ma, mb = a_t.sum(), b_t.sum()
    with np.errstate(over="ignore", invalid="ignore"):
        # eps m_a m_b (1 - 1/s) in the masses at scale s, as s times its unit-scale value
        constant = reg * (s - 1.0) * (float(ma.detach()) / s) * (float(mb.detach()) / s)
        cost = (unit.cost + shift * unit.mass) * s  # <P, M> at unit scale, times s
        objective = (unit.objective + constant) * s
        dual = (unit.dual + constant) * s
        mass, rows, cols = unit.mass * s, unit.row_marginal * s, unit.col_marginal * s
        error = unit.marginal_error * s
    if is_torch(cost) and (a_t.requires_grad or b_t.requires_grad):
        product = ma * mb  # the constant's gradient: eps (1 - 1/s) (m_b, m_a)
        term = (reg * (1.0 - 1.0 / s) * (product - product.detach())).to(cost.dtype)
        cost, objective = cost + term, objective + term
    sol = unit._solution
    solution = replace(sol, log_a=sol.log_a + math.log(s))
    values = {"mass": mass, "cost": cost, "objective": objective, "dual": dual}
    over = [k for k, v in values.items()
            if not math.isfinite(float(v.detach()) if is_torch(v) else float(v))]
    converged = unit.converged and not over
    if over:
        warnings.warn(
            f"{name}: at masses {float(ma.detach()):.3g} and {float(mb.detach()):.3g} "
            f"the {', '.join(over)} overflow {_value_dtype(out)} and are returned as inf (the "
            "objective holds eps m_a m_b); the problem was solved at unit mass (potentials "
            "exact, plan and marginals scaled back); converged=False.", CostOverflowWarning,
            stacklevel=external_stacklevel())
    return replace(unit, cost=cost, objective=objective, dual=dual, mass=mass, row_marginal=rows,
                   col_marginal=cols, marginal_error=error, converged=converged,
                   _solution=solution)


def _solve_histograms(a_t, b_t, M_t, out, reg, rho_pair, options) -> UnbalancedResult:
    """The body of :func:`unbalanced_sinkhorn` for finite ``rho``, at the given masses."""
    op, eps, schedule, out, scale, _ = _dense_problem(M_t, reg, options, out, weights=(a_t, b_t))
    penalty = Penalty(*rho_pair).scaled(1.0 / scale)
    with torch.no_grad(), loop_threads(tuple(M_t.shape), M_t.device):
        aa, bb = a_t.detach(), b_t.detach()
        f, g, n_iter, err = sinkhorn_loop(op, aa, bb, schedule, options, penalty=penalty)
        sums, cost, primal, dual, err, converged = _measure(
            op, aa, bb, f, g, eps, penalty, err, options, name="unbalanced_sinkhorn", reg=reg, out=out)
    log_a, log_b = aa.log(), bb.log()
    if any(v.requires_grad for v in (a_t, b_t, M_t)):
        da, db = _gradient_potentials(aa, bb, f, g, eps, penalty, sums)
        plan = op.plan(eps, f, g, log_a, log_b) if M_t.requires_grad else None
        term = envelope_terms(da, db, a_t, b_t, M=M_t / scale, plan=plan)
        cost, primal = cost + term, primal + term
    return _result(out, f, g, cost, primal, dual, n_iter, err, converged, reg, rho_pair, op.name,
                   sums, _Solution(op, f, g, eps, log_a, log_b, out))


def _masses(weights):
    """The total of sample weights (1 for uniform ones), kept differentiable for tensors."""
    if weights is None:
        return 1.0
    if is_torch(weights):
        return weights.sum()
    return float(np.sum(np.asarray(weights, dtype=np.float64)))


def _mass_problem(x, y, a, b, order, *, names):
    """The point problem with the weights' masses kept (samples normalise them)."""
    sp, sq = sample_pair(x, y, a, b, names=names)
    problem = PointProblem.build(sp, sq, order)
    mass_a, mass_b = _masses(a), _masses(b)
    if is_torch(mass_a) or is_torch(mass_b):
        mass_a, mass_b = (torch.as_tensor(m).to(problem.a) for m in (mass_a, mass_b))
    return replace(problem, a=problem.a * mass_a, b=problem.b * mass_b)


def _local_rho(problem, rho: float) -> float:
    return rho if rho == math.inf else scale_by_power(rho, problem.frame.scale, -problem.order)


def unbalanced_sinkhorn_samples(x, y, a=None, b=None, *, rho, reg: float | None = None,
                                order: float = 2, tol: float | None = None,
                                max_iter: int | None = None,
                                scaling: float | None = DEFAULT_SCALING, backend: str = "auto",
                                acceleration="anderson") -> UnbalancedResult:
    r"""Unbalanced entropic OT between weighted point clouds with masses.

    :func:`unbalanced_sinkhorn` with :math:`M_{ij} = \lVert x_i - y_j\rVert_2^k`,
    solved in the common frame of :func:`~otlab.entropic.sinkhorn_samples`
    (translation-invariant, scale-equivariant: ε and ρ scale like the cost,
    :math:`|c|^k`) on its dense, tiled or Triton back-end, so the cost matrix
    need not fit in memory.

    Parameters
    ----------
    x, y : array-like, Tensor or Sample, shapes (n, d) and (m, d)
        The points.
    a, b : array-like or Tensor, optional
        Their masses, **not** normalised (the totals matter); ``None`` gives
        ``1/n`` per point (total 1).
    rho : float or (float, float)
        KL weights in cost units (:func:`unbalanced_sinkhorn`); for GeomLoss's
        ``reach`` use :func:`~otlab.entropic.penalty.rho_from_reach`.
    reg : float, optional
        ε in cost units; default :func:`~otlab.entropic.default_reg` of the
        points with their weights normalised, a length scale of the data: the
        same for masses ``s * a``, ``s * b`` whatever ``s`` (as in
        :func:`unbalanced_sinkhorn_divergence`).
    order : float, default 2
        The exponent ``k`` of the cost.
    tol, max_iter, scaling, backend, acceleration
        As in :func:`~otlab.entropic.sinkhorn_samples` (``tol`` default 1e-4).

    Returns
    -------
    UnbalancedResult
        In the caller's units; torch input gives ``cost`` and ``objective``
        differentiable in the points and masses (envelope theorem).  Masses
        whose geometric mean lies beyond :math:`2^{\pm 64}` are solved at unit
        mass on the costs lowered by :math:`\varepsilon \log s` and scaled
        back, as :func:`unbalanced_sinkhorn` does (see its notes).  A value
        that overflows float64 (the objective holds :math:`\varepsilon m_a m_b`:
        masses near 1e155 and up) is inf, with a
        :class:`~otlab.CostOverflowWarning` and ``converged=False``.

    Examples
    --------
    An outlier far away is destroyed rather than transported:

    >>> import numpy as np
    >>> x = np.array([[0.0], [1.0], [100.0]])
    >>> res = unbalanced_sinkhorn_samples(x, x[:2], [0.5, 0.5, 0.5], [0.5, 0.5], rho=1.0, reg=0.01)
    >>> res.row_marginal.round(2)
    array([0.5, 0.5, 0. ])
    """
    order = check_order(order)
    rho_pair = as_rho_pair(rho)
    sp, sq = sample_pair(x, y, a, b, names=("x", "y"))
    masks = far_masks(sp, sq)
    if masks is not None:  # far points of weight 0 would set the frame: solved without them
        def solve(x, y, a, b):
            return unbalanced_sinkhorn_samples(
                x, y, a, b, rho=rho, reg=reg, order=order, tol=tol, max_iter=max_iter,
                scaling=scaling, backend=backend, acceleration=acceleration)
        return without_far_points(solve, sp, sq, masks, order, masses=(a, b), rho=rho_pair)
    problem = _mass_problem(x, y, a, b, order, names=("x", "y"))
    options = SinkhornOptions.build(tol=tol, max_iter=max_iter, scaling=scaling,
                                    acceleration=acceleration, default_tol=SAMPLES_TOL)
    s = _mass_unit(problem.a.detach(), problem.b.detach())
    if abs(math.log2(s)) <= MASS_EXPONENT_RANGE:
        return _solve_samples(problem, problem.local_reg(reg), rho_pair, backend, options)
    # as unbalanced_sinkhorn does: solved at unit mass on the costs minus eps log s, then
    # scaled back; masses of 1e300 gave 'sinkhorn diverged', of 1e-300 a plan's mass 70x too
    # small as converged (its entries subnormal)
    shifted, eps = _at_unit_mass(problem, s, reg)
    res = _solve_samples(shifted, eps, rho_pair, backend, options)
    return _rescaled(res, s, shifted.input_reg(eps) * math.log(s), problem.a, problem.b,
                     shifted.input_reg(eps), problem.out, name="unbalanced_sinkhorn_samples")


def _at_unit_mass(problem, s: float, reg):
    r"""``(problem at masses a/s, b/s on the costs lowered by eps log s, its local eps)``.

    ``reg`` (or the default rule, which reads the weights normalised: the same at any masses)
    is the caller's; the shift is in local cost units.
    """
    unit = replace(problem, a=problem.a / s, b=problem.b / s)
    eps = unit.local_reg(reg)
    shifted = _ShiftedProblem(**{k.name: getattr(unit, k.name) for k in fields(unit)},
                              shift=eps * math.log(s))
    return shifted, eps


class _ShiftedCost:
    r"""The soft-min operator of the costs ``C - shift`` (``shift`` a constant) on that of ``C``.

    A constant in the costs moves each soft-min by that constant, and the plan as a factor
    :math:`e^{\text{shift}/\varepsilon}` on ``a`` would; ``plan_sums`` reports
    :math:`\langle P, C - \text{shift}\rangle`, as a cost matrix ``M - shift`` gives.
    """

    def __init__(self, op, shift: float):
        self.op, self.shift = op, float(shift)
        self.name, self.shape = op.name, op.shape

    def softmin_rows(self, eps, h):
        return self.op.softmin_rows(eps, h) - self.shift

    def softmin_cols(self, eps, h):
        return self.op.softmin_cols(eps, h) - self.shift

    def plan_sums(self, eps, f, g, log_a, log_b) -> PlanSums:
        sums = self.op.plan_sums(eps, f, g, log_a + self.shift / eps, log_b)
        return PlanSums(sums.cost - self.shift * sums.rows.sum(), sums.rows, sums.cols)

    def apply_plan(self, eps, f, g, log_a, log_b, v):
        return self.op.apply_plan(eps, f, g, log_a + self.shift / eps, log_b, v)

    def plan(self, eps, f, g, log_a, log_b):
        return self.op.plan(eps, f, g, log_a + self.shift / eps, log_b)

    def point_gradients(self, eps, f, g, log_a, log_b):
        return self.op.point_gradients(eps, f, g, log_a + self.shift / eps, log_b)

    def cost_scale(self) -> float:
        return self.op.cost_scale() + abs(self.shift)


@dataclass(frozen=True)
class _ShiftedProblem(PointProblem):
    """A point problem whose costs are lowered by ``shift`` (local units): :class:`_ShiftedCost`."""

    shift: float = 0.0

    def operator(self, x, y, backend: str, *, available: int | None = None):
        return _ShiftedCost(super().operator(x, y, backend, available=available), self.shift)


def _solve_samples(problem, eps, rho_pair, backend, options) -> UnbalancedResult:
    """The body of :func:`unbalanced_sinkhorn_samples` at the problem's masses (local ``eps``)."""
    penalty = Penalty(*(_local_rho(problem, r) for r in rho_pair))
    name = "unbalanced_sinkhorn_samples"
    op, f, g, n_iter, err = solve(problem, eps, backend, options, penalty=penalty)
    aa, bb = problem.a.detach(), problem.b.detach()
    with torch.no_grad():
        sums, cost, primal, dual, err, converged = _measure(
            op, aa, bb, f, g, eps, penalty, err, options, name=name, reg=problem.input_reg(eps),
            out=problem.out)
    if needs_grad(problem.x, problem.a, problem.y, problem.b):
        da, db = _gradient_potentials(aa, bb, f, g, eps, penalty, sums)
        term = gradient_term(problem, op, eps, da, db, plan_potentials=(f, g))
        cost, primal = cost + term, primal + term
    out = problem.out
    return _result(out, f, g, cost, primal, dual, n_iter, err, converged, problem.input_reg(eps),
                   rho_pair, op.name, sums, _Solution(op, f, g, eps, aa.log(), bb.log(), out))


def unbalanced_sinkhorn_divergence(p, q, a=None, b=None, *, rho, reg: float | None = None,
                                   order: float = 1, tol: float | None = None,
                                   max_iter: int | None = None,
                                   scaling: float | None = DEFAULT_SCALING, backend: str = "auto",
                                   acceleration="anderson"):
    r"""Debiased unbalanced Sinkhorn divergence (Séjourné et al. 2019), with its mass term.

    .. math::

        S_{\varepsilon,\rho}(\alpha, \beta) = \mathrm{UOT}_{\varepsilon,\rho}(\alpha, \beta)
        - \tfrac12 \mathrm{UOT}_{\varepsilon,\rho}(\alpha, \alpha)
        - \tfrac12 \mathrm{UOT}_{\varepsilon,\rho}(\beta, \beta)
        + \tfrac\varepsilon2 (m_\alpha - m_\beta)^2,

    :math:`\mathrm{UOT}` as in :func:`unbalanced_sinkhorn` with
    :math:`C_{ij} = \lVert x_i - y_j\rVert^k`, each term its dual value
    (:func:`otlab.entropic.divergence.divergence`, the three solves of
    :func:`~otlab.entropic.sinkhorn_divergence`).  It is GeomLoss's
    ``SamplesLoss("sinkhorn", reach=..., debias=True)`` value times ``order``
    after converting (``reg = order * blur**order``, ``rho = order * reach**order``,
    :func:`~otlab.entropic.penalty.rho_from_reach`).  :math:`S \ge 0`, and 0 for
    equal measures.

    Parameters
    ----------
    p, q : array-like, Tensor or Sample
        The points.
    a, b : array-like or Tensor, optional
        Masses (not normalised; default ``1/n`` per point).
    rho : float
        The KL weight of both marginals, in cost units (> 0; ``math.inf``
        gives :func:`~otlab.entropic.sinkhorn_divergence` of the normalised
        measures).
    reg : float, optional
        ε in cost units; default :func:`~otlab.entropic.default_reg` of the
        points with their weights normalised, a length scale of the data: the
        same for masses ``s * a``, ``s * b`` whatever ``s`` (as in
        :func:`unbalanced_sinkhorn_samples`).
    order, tol, max_iter, scaling, backend, acceleration
        As in :func:`~otlab.entropic.sinkhorn_divergence`.

    Returns
    -------
    float or Tensor
        For torch input a 0-dim tensor, differentiable in points and masses.
        Where it overflows (masses near 1e300) inf, with a
        :class:`~otlab.CostOverflowWarning`.

    Notes
    -----
    Each term obeys :math:`\mathrm{UOT}(s a, s b; C) = s\, \mathrm{UOT}(a, b; C - \varepsilon \log s)
    + \varepsilon\, m_a m_b (s^2 - s)` (:func:`unbalanced_sinkhorn`), and the mass term
    :math:`\tfrac\varepsilon2 s^2 (m_a - m_b)^2` takes the :math:`\varepsilon (s^2 - s)`
    parts of the three back, so

    .. math::

        S_{\varepsilon,\rho}(s\alpha, s\beta; C) = s\, S_{\varepsilon,\rho}(\alpha, \beta;
        C - \varepsilon \log s).

    Masses whose geometric mean is not near 1 are solved so, at unit mass
    (:math:`s` the nearest power of two), where the terms are of the size of
    the value: solved as given, their :math:`\varepsilon s^2 m_a m_b` cancelled
    to round-off (masses 1e11 moved the value by 2.6e-6 of itself, 1e100 gave
    5.1e184 for 2.4e105, 1e300 "sinkhorn diverged").  ``tol`` then applies at
    unit mass; the default ``reg`` does not depend on the masses.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[0.0], [1.0]])
    >>> unbalanced_sinkhorn_divergence(x, x, rho=1.0)
    0.0
    >>> unbalanced_sinkhorn_divergence(x, x, [1.0, 1.0], [2.0, 2.0], rho=1.0, reg=0.1) > 0
    True
    """
    order = check_order(order)
    rho = check_rho(rho, "rho")
    if rho == math.inf:
        from .api import sinkhorn_divergence

        return sinkhorn_divergence(p, q, a=a, b=b, reg=reg, order=order, tol=tol,
                                   max_iter=max_iter, scaling=scaling, backend=backend,
                                   acceleration=acceleration)
    sp, sq = sample_pair(p, q, a, b, names=("p", "q"))
    masks = far_masks(sp, sq)
    if masks is not None and not (_needs(a, masks[0]) or _needs(b, masks[1])):
        # far points of weight 0 would set the frame; they change no term: left out (with a
        # gradient in their weights they are kept, and refused by name where they set it)
        keep_p, keep_q = ~masks[0], ~masks[1]
        a, b = (w.probabilities if m is None else m if is_torch(m) else np.asarray(m)
                for m, w in ((a, sp), (b, sq)))
        return unbalanced_sinkhorn_divergence(
            _take(sp.points, keep_p), _take(sq.points, keep_q), _take(a, keep_p),
            _take(b, keep_q), rho=rho, reg=reg, order=order, tol=tol, max_iter=max_iter,
            scaling=scaling, backend=backend, acceleration=acceleration)
    problem = _mass_problem(p, q, a, b, order, names=("p", "q"))
    options = SinkhornOptions.build(tol=tol, max_iter=max_iter, scaling=scaling,
                                    acceleration=acceleration, default_tol=SAMPLES_TOL)
    s = _mass_unit(problem.a.detach(), problem.b.detach())
    if s == 1.0:
        return divergence(problem, reg, backend, options, rho=_local_rho(problem, rho),
                          name="unbalanced_sinkhorn_divergence")
    # S(s a, s b; C) = s S(a, b; C - eps log s) (see the notes)
    shifted, eps = _at_unit_mass(problem, s, reg)
    value = divergence(shifted, shifted.input_reg(eps), backend, options,
                       rho=_local_rho(problem, rho), mass_scale=s,
                       name="unbalanced_sinkhorn_divergence")
    if not math.isfinite(float(value.detach() if is_torch(value) else value)):
        warnings.warn(
            f"unbalanced_sinkhorn_divergence: at masses {float(problem.a.detach().sum()):.3g} and "
            f"{float(problem.b.detach().sum()):.3g} the divergence, s = {s:.3g} times that at unit "
            f"mass on the costs lowered by eps log s, overflows {_value_dtype(problem.out)} and is "
            "returned as inf.", CostOverflowWarning, stacklevel=external_stacklevel())
    return value
