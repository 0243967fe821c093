r"""Log-domain Sinkhorn with ε-scaling: the loop (written once), its options and the honest status.

:func:`sinkhorn_loop` iterates on an operator; :func:`finish` measures the
returned plan and decides ``converged``; :func:`solve` and :func:`solve_problem`
run both on a built :class:`~otlab.entropic.problem.PointProblem` (the body of
the sample entry points in :mod:`otlab.entropic.api`, also used by
:mod:`otlab.distributed`).

The loop only calls the two soft-min maps of an operator
(:class:`otlab.entropic.operators.SoftminOperator`: dense, tiled or fused
Triton), so every back-end shares the same iterations, acceleration
(:mod:`otlab.entropic.acceleration`), stopping rule, final check and warnings.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import torch

from .._validation import check_positive, check_positive_int
from .._warnings import ConvergenceWarning, external_stacklevel
from ._roundoff import (
    RESOLVABLE_TOL,
    marginal_floor,
    resolves,
    stopping_threshold,
    warn_below_floor,
)
from ._threads import loop_threads
from .acceleration import ACCELERATIONS, Anderson, as_acceleration
from .penalty import phi, weighted
from .result import SinkhornResult, _Solution
from .operators import PlanSums, mass_cost_bound, resolution_bound

__all__ = ["SinkhornResult", "SinkhornOptions", "ACCELERATIONS", "DEFAULT_MAX_ITER",
           "DEFAULT_SCALING", "DEFAULT_TOL", "SAMPLES_TOL", "RESOLUTION_ULPS", "LARGEST_REG_ULPS", "epsilon_schedule",
           "sinkhorn_loop", "finish", "report", "warn_not_converged", "envelope_terms", "check_resolution",
           "solve", "solve_problem", "gradient_term", "marginal_targets"]

#: Default marginal tolerance of :func:`~otlab.entropic.sinkhorn` (raised to what the dtype certifies).
DEFAULT_TOL = 1e-6
#: Iteration cap at the target ε (the ε-scaling steps come on top).
DEFAULT_MAX_ITER = 1000
#: Ratio between successive temperatures of the ε-scaling schedule.
DEFAULT_SCALING = 0.5
#: Default marginal tolerance of the sample-based entry points.
SAMPLES_TOL = 1e-4
#: Accepted relative difference of the total masses of ``a`` and ``b``.
MASS_RTOL = 1e-6
#: Smallest ``reg`` accepted, in ulps of the largest cost: below, exp(-C/reg) has no correct digit.
RESOLUTION_ULPS = 16
#: Largest ``reg`` accepted, as ``LARGEST_REG_ULPS / ulp`` times the largest cost: the
#: potentials carry round-off of about ``ulp * reg``, here 1e-3 of the largest cost.
LARGEST_REG_ULPS = 1e-3


@dataclass(frozen=True)
class SinkhornOptions:
    """The solver's options, validated once and passed down as one object.

    Attributes
    ----------
    tol : float
        L1 marginal tolerance, relative to the total mass when that is below 1
        (:meth:`tol_at`).
    raise_tol : bool
        ``tol`` was not given: raise it to the smallest tolerance the dtype
        certifies for the problem when that is larger (:meth:`tol_at`).
    max_iter : int
        Cap on iterations at the target ε.
    scaling : float in (0, 1) or None
        Ratio of the ε-scaling schedule; ``None`` starts at the target ε.
    acceleration : Anderson, Overrelaxation or None
        See :mod:`otlab.entropic.acceleration`.
    """

    tol: float = DEFAULT_TOL
    max_iter: int = DEFAULT_MAX_ITER
    scaling: float | None = DEFAULT_SCALING
    acceleration: object = field(default_factory=Anderson)
    raise_tol: bool = False

    @classmethod
    def build(cls, *, tol, max_iter, scaling, acceleration,
              default_tol: float = DEFAULT_TOL) -> "SinkhornOptions":
        """Validate user values (names in messages); ``None`` is the default (``tol``: raised
        to what the dtype certifies, see :meth:`tol_at`; ``max_iter``: the default cap)."""
        raise_tol = tol is None
        tol = default_tol if raise_tol else check_positive(tol, "tol")
        max_iter = DEFAULT_MAX_ITER if max_iter is None else check_positive_int(max_iter, "max_iter")
        if scaling is not None:
            scaling = check_positive(scaling, "scaling")
            if scaling >= 1:
                raise ValueError(f"scaling must be in (0, 1) or None; got {scaling!r}")
        return cls(tol, max_iter, scaling, as_acceleration(acceleration), raise_tol)

    def tol_at(self, floor: float, mass: float = 1.0) -> float:
        """The tolerance in force for a problem whose marginal error has round-off ``floor``.

        The given ``tol`` times ``min(1, mass)`` (``mass``: the smaller total mass of the
        two marginals, :func:`unit_mass`), so that the L1 error is within ``tol`` and
        within ``tol`` relative to the mass: histograms of mass 1e-8 are solved as far as
        those of mass 1 instead of meeting an absolute ``tol`` at once.  A default one is
        raised to :data:`~otlab.entropic._roundoff.RESOLVABLE_TOL` times the floor when
        that is larger (float32 at small ε), so that a call without ``tol`` converges
        wherever the dtype can certify anything.

        >>> SinkhornOptions(tol=1e-6).tol_at(0.0, mass=1e-8)
        1e-14
        >>> SinkhornOptions(tol=1e-6).tol_at(0.0, mass=20.0)
        1e-06
        """
        tol = self.tol * min(1.0, mass)
        return max(tol, RESOLVABLE_TOL * floor) if self.raise_tol else tol


def unit_mass(a: torch.Tensor, b: torch.Tensor) -> float:
    """``min(1, sum a, sum b)``: the mass against which :meth:`SinkhornOptions.tol_at` scales."""
    return min(1.0, float(a.sum()), float(b.sum()))


def epsilon_schedule(eps_start: float, eps: float, scaling: float | None) -> list[float]:
    """Temperatures ``eps_start, eps_start * scaling, ...`` down to (and ending at) ``eps``.

    >>> epsilon_schedule(1.0, 0.1, 0.5)
    [1.0, 0.5, 0.25, 0.125, 0.1]
    >>> epsilon_schedule(1.0, 0.1, None)
    [0.1]
    """
    if scaling is None or not eps_start > eps:
        return [eps]
    steps = math.ceil(math.log(eps_start / eps) / math.log(1.0 / scaling))
    schedule = [eps_start * scaling**t for t in range(steps)]
    return [e for e in schedule if e > eps] + [eps]


def check_resolution(eps: float, cost_scale: float, dtype, *, reg: float, cost_unit,
                     massless: bool = False, ceiling_scale: float | None = None) -> None:
    r"""Raise unless ``eps`` lies in the range the dtype resolves at this cost scale.

    Below :data:`RESOLUTION_ULPS` ulps of the largest cost, the costs' own
    round-off is comparable to ε and the kernel :math:`e^{-C/\varepsilon}`
    (hence the plan and its cost) has no correct digit, whatever the number
    of iterations.  Above :data:`LARGEST_REG_ULPS` / ulp times the largest
    cost, :math:`e^{-C/\varepsilon}` is 1 to within round-off: the
    potentials, which carry round-off of about ulp·ε, lose their digits (the
    plan is the independent coupling; :func:`~otlab.entropic.sinkhorn_divergence`
    uses its large-ε expansion there).  ``eps`` and ``cost_scale`` are in the
    solver's units; ``reg`` names ε and ``cost_unit`` converts costs to the
    caller's units.  ``massless``: points of weight 0 are present, and
    ``cost_scale`` is :func:`~otlab.entropic.operators.resolution_bound` (the
    message then names them).  ``ceiling_scale`` (default ``cost_scale``) is the
    largest cost between the points with mass, against which the upper end is
    checked: a point of weight 0 enters no entry of the plan, and with it in
    ``cost_scale`` (whose term :math:`2 D^{k-1} E` grows with its distance) a reg
    refused without it was accepted beside it.
    """
    ulp = torch.finfo(dtype).eps
    name = str(dtype).replace("torch.", "")
    ceiling_scale = cost_scale if ceiling_scale is None else ceiling_scale
    largest = float(cost_unit(ceiling_scale))
    if ceiling_scale > 0 and not eps <= LARGEST_REG_ULPS / ulp * ceiling_scale:
        ceiling = float(cost_unit(LARGEST_REG_ULPS / ulp * ceiling_scale))
        raise ValueError(
            f"reg={reg:g} is too large for {name} at these costs (largest {largest:.3g}): "
            "exp(-cost/reg) is 1 to within round-off, so the plan is the independent coupling "
            f"a x b and the potentials have no correct digit. Use reg <= {ceiling:.2g}.")
    if eps < RESOLUTION_ULPS * ulp * cost_scale:
        largest = float(cost_unit(cost_scale))
        floor = float(cost_unit(RESOLUTION_ULPS * ulp * cost_scale))
        if massless:
            raise ValueError(
                f"reg={reg:g} is below what {name} resolves for the costs between the points "
                f"with mass: points of weight 0 set the frame (they are kept for the gradient "
                f"in their weights, or for a plan of every point), so those costs carry "
                f"round-off of about {ulp * largest:.2g} and exp(-cost/reg) has no correct "
                f"digit. Use reg >= {floor:.2g}, or leave the points of weight 0 out (or "
                "detach the weights).")
        raise ValueError(
            f"reg={reg:g} is below what {name} resolves for these costs: costs up to "
            f"{largest:.3g} carry round-off of about {ulp * largest:.2g}, so exp(-cost/reg) has "
            f"no correct digit. Use reg >= {floor:.2g} ({RESOLUTION_ULPS} ulps of the largest "
            "cost), float64 input if it is float32, or the exact solver otlab.emd.")


def _row_error(a, f_old, f_new, eps, lam=1.0, rho=math.inf):
    r"""L1 row error of the plan of ``(f_old, g)`` given ``f_new = lam * softmin(g)``.

    The error is :math:`\lVert P\mathbf 1 - a e^{-f/\rho}\rVert_1`, the row marginal
    against its target (``a`` itself when balanced, ``lam = 1``):
    :math:`\sum_i a_i e^{-f_i/\rho} \lvert e^{(f_i - f^\text{new}_i)/(\lambda\varepsilon)} - 1\rvert`,
    since :math:`1/\varepsilon + 1/\rho = 1/(\lambda\varepsilon)`.  With
    penalties each term is formed as :math:`e^{s + \max(t, 0)}\,(1 - e^{-|t|})`
    (:math:`s = -f_i/\rho`, :math:`t = (f_i - f^\text{new}_i)/(\lambda\varepsilon)`),
    the same number without the :math:`0 \cdot \infty` of an underflowed target
    times an overflowed ratio (a plan whose mass underflows, costs far above ρ).
    """
    if lam == 1.0:
        terms = (a * torch.expm1((f_old - f_new) / eps)).abs()
    else:
        t = (f_old - f_new) / (lam * eps)
        terms = a * torch.exp(t.clamp(min=0) - f_old / rho) * -torch.expm1(-t.abs())
    # a point of weight 0 has no row: its potential, of the size of its costs, moves by their
    # round-off, which over eps overflows the exponential (0 * inf gave a NaN error)
    return float(torch.where(a > 0, terms, torch.zeros_like(terms)).sum())


def _dual(a, b, f, g, penalty=None, eps=None):
    r"""The dual objective for ``g`` a (damped) column soft-min of ``f``, up to a constant.

    Balanced: :math:`\langle a, f\rangle + \langle b, g\rangle` (the plan has the
    column marginals ``b``, so this is :math:`D(f, g)` up to a constant).  With
    KL penalties (:mod:`otlab.entropic.penalty`):
    :math:`\langle a, \varphi_{\rho_a}(f)\rangle + \langle b, \varphi_{\rho_b}(g)\rangle
    - \varepsilon \langle b, e^{-g/\rho_b}\rangle`, the last term being ε times the
    plan's mass (a constant when :math:`\rho_b = \infty`).
    """
    if penalty is None:
        return float(a @ f + b @ g)
    value = weighted(a, phi(f, penalty.rho_a)).sum() + weighted(b, phi(g, penalty.rho_b)).sum()
    if penalty.rho_b != math.inf:
        value = value - eps * weighted(b, torch.exp(-g / penalty.rho_b)).sum()
    return float(value)


def _dual_rounding(a, b, f, g, penalty=None, eps=None):
    r"""Rounding error of :func:`_dual`: 8 ulps of the sum of the absolute terms."""
    ulp = torch.finfo(f.dtype).eps
    if penalty is None:
        return 8.0 * ulp * float(a @ f.abs() + b @ g.abs())
    total = (weighted(a, phi(f, penalty.rho_a).abs()).sum()
             + weighted(b, phi(g, penalty.rho_b).abs()).sum())
    if penalty.rho_b != math.inf:
        total = total + eps * weighted(b, torch.exp(-g / penalty.rho_b)).sum()
    return 8.0 * ulp * float(total)


def _check_finite(err):
    """Raise if the marginal error at the final ε (the user's ``reg``) is not finite.

    The loop runs in cost units divided by the cost's own scale, so its ε is not
    the ``reg`` the user gave: the message names ``reg`` and not a value.
    """
    if not math.isfinite(err):
        raise FloatingPointError(f"sinkhorn diverged at the requested reg: the marginal error "
                                 f"is {err}; try a larger reg, or float64 data")


def _damped(lam: float, v: torch.Tensor) -> torch.Tensor:
    """``lam * v``, and ``v`` itself for ``lam = 1`` (the balanced update, bit for bit)."""
    return v if lam == 1.0 else lam * v


def _symmetric_loop(op, a, schedule, options, penalty=None):
    r"""The averaged fixed point :math:`f \leftarrow (f + T(f))/2` for ``a = b`` on the same points.

    :math:`T(f) = \lambda \operatorname{softmin}(f)` (:math:`\lambda = 1` when
    balanced).  Returns the pair :math:`(f, T(f))`, not :math:`(f, f)`: its column
    marginals are exact, so its dual value is accurate to second order in the
    distance to the fixed point, even when the loop stops at once (large ε),
    and its row error is measured.
    """
    log_a = a.log()
    rho = math.inf if penalty is None else penalty.rho_a

    def damping(eps):
        return 1.0 if penalty is None else penalty.damping(eps)[0]

    f = _damped(damping(schedule[0]), op.softmin_rows(schedule[0], log_a))
    n_iter = 1
    for eps in schedule[1:]:
        f = 0.5 * (f + _damped(damping(eps), op.softmin_rows(eps, log_a + f / eps)))
        n_iter += 1
    eps = schedule[-1]
    lam = damping(eps)
    mass = unit_mass(a, a)
    for _ in range(options.max_iter):
        f_new = _damped(lam, op.softmin_rows(eps, log_a + f / eps))
        err = _row_error(a, f, f_new, eps, lam, rho)
        _check_finite(err)
        floor = marginal_floor(a, a, f, f_new, eps, penalty=penalty)
        if err <= stopping_threshold(options.tol_at(floor, mass), floor):
            break
        f = 0.5 * (f + f_new)
        n_iter += 1
    g = _damped(lam, op.softmin_cols(eps, log_a + f / eps))
    err = _row_error(a, f, _damped(lam, op.softmin_rows(eps, log_a + g / eps)), eps, lam, rho)
    _check_finite(err)
    # A point of weight 0 enters no soft-min, and the stopping rule does not weigh it: its
    # averaged f lags the fixed point, while g, the soft-min of the potentials with mass, is
    # that fixed point.  Its f entered the derivative in its weight: sinkhorn_divergence's
    # was 1.7e-3 off at 10 and 9e-3 at 1e3 beside 12 and 10 points of size 1 (now 2e-5, 8e-6).
    f = torch.where(a > 0, f, g)
    return f, g, n_iter + 1, err


class _Backoff:
    """After a refused proposal, plain updates for 1, 2, 4, ... (at most 64) iterations.

    Consecutive refusals double the wait, an accepted proposal resets it; so a
    problem where the acceleration never helps runs at the speed of plain
    Sinkhorn (plus one wasted update per doubling), not at half of it.
    """

    def __init__(self):
        self.wait = self.left = 0

    def waiting(self) -> bool:
        if self.left > 0:
            self.left -= 1
            return True
        return False

    def refused(self) -> None:
        self.wait = min(max(1, 2 * self.wait), 64)
        self.left = self.wait

    def accepted(self) -> None:
        self.wait = 0


def sinkhorn_loop(op, a, b, schedule, options: SinkhornOptions, *, symmetric=False, penalty=None):
    r"""Alternate the two soft-min updates along an ε schedule.

    At each annealing temperature one sweep is made; at the final ε the state
    is always a pair with ``g = softmin_cols(f)`` (column marginals exact), and
    sweeps repeat until the L1 row-marginal error is at most ``tol`` minus
    the round-off floor :math:`F` of the final measurement
    (:mod:`otlab.entropic._roundoff`; the floor itself when ``tol`` is below
    what the dtype resolves) or ``max_iter`` column updates were made.  The next ``f`` is proposed by the
    acceleration (:mod:`otlab.entropic.acceleration`); a safeguarded one
    (Anderson) is kept only if the dual objective
    :math:`\langle a, f\rangle + \langle b, g\rangle` does not decrease (beyond
    rounding); otherwise the history is cleared and the plain update, which
    never decreases it, is taken (the refused proposal costs one column update),
    and the next proposals wait 1, 2, 4, ... plain updates while they keep
    being refused.

    With ``symmetric=True`` (``a = b`` on the same points) the averaged fixed
    point :math:`f \leftarrow (f + T(f))/2` is iterated instead.

    With KL marginal penalties (``penalty``, a
    :class:`~otlab.entropic.penalty.Penalty` in the operator's cost units) the
    same loop damps each update, :math:`f \leftarrow \lambda_a \operatorname{softmin}`,
    :math:`g \leftarrow \lambda_b \operatorname{softmin}`,
    :math:`\lambda = \rho/(\rho + \varepsilon)` at each temperature; the marginal
    targets become :math:`a e^{-f/\rho_a}` and :math:`b e^{-g/\rho_b}` (exact for the
    columns), and the safeguard uses the penalised dual (:func:`_dual`).
    ``penalty=None`` (or both ρ infinite) is the balanced loop, bit for bit.

    Returns ``(f, g, n_iter, marginal_error)``, ``n_iter`` counting column
    updates (ε-scaling steps and refused proposals included).
    """
    if penalty is not None and penalty.balanced:
        penalty = None
    if symmetric:
        return _symmetric_loop(op, a, schedule, options, penalty)
    log_a, log_b = a.log(), b.log()
    g = torch.zeros_like(b)
    lam_a = lam_b = 1.0
    for eps in schedule:  # one sweep per temperature, the target ε included
        if penalty is not None:
            lam_a, lam_b = penalty.damping(eps)
        f = _damped(lam_a, op.softmin_rows(eps, log_b + g / eps))
        g = _damped(lam_b, op.softmin_cols(eps, log_a + f / eps))
    rho_a = math.inf if penalty is None else penalty.rho_a
    n_iter, updates = len(schedule), 0  # column updates so far
    acceleration = options.acceleration
    stepper = acceleration.start(a, eps) if acceleration is not None else None
    guard = stepper is not None and acceleration.safeguarded
    backoff = _Backoff()
    mass = unit_mass(a, b)
    if guard:
        dual, slack = _dual(a, b, f, g, penalty, eps), _dual_rounding(a, b, f, g, penalty, eps)
    while True:
        f_map = _damped(lam_a, op.softmin_rows(eps, log_b + g / eps))
        err = _row_error(a, f, f_map, eps, lam_a, rho_a)
        _check_finite(err)
        floor = marginal_floor(a, b, f, g, eps, penalty=penalty)
        if updates >= options.max_iter or err <= stopping_threshold(options.tol_at(floor, mass),
                                                                     floor):
            return f, g, n_iter + updates, err
        f_next = f_map if stepper is None or backoff.waiting() else stepper.propose(f, f_map)
        g_next = _damped(lam_b, op.softmin_cols(eps, log_a + f_next / eps))
        updates += 1
        if guard:
            dual_next = _dual(a, b, f_next, g_next, penalty, eps)
            if f_next is not f_map and not dual_next >= dual - slack:  # NaN is refused too
                stepper.reset()
                backoff.refused()
                f_next = f_map
                g_next = _damped(lam_b, op.softmin_cols(eps, log_a + f_next / eps))
                updates += 1
                dual_next = _dual(a, b, f_next, g_next, penalty, eps)
                slack = _dual_rounding(a, b, f_next, g_next, penalty, eps)
            elif f_next is not f_map:
                backoff.accepted()
            dual = dual_next
        f, g = f_next, g_next


def warn_not_converged(name, options, reg, err, *, cost=None, tol=None):
    """The ConvergenceWarning: what was reached, what it means, what to change."""
    tol = options.tol if tol is None else tol
    detail = "" if cost is None else (
        f" The returned plan misses its marginals by that much (L1), so its cost {cost:.6g} is "
        "not that of a feasible plan.")
    warnings.warn(
        f"{name} did not converge within max_iter={options.max_iter} iterations at reg={reg:g}: "
        f"marginal error {err:.3g} > tol={tol:g}.{detail} Increase max_iter, use a larger "
        f"reg (faster and better conditioned) or a looser tol.",
        ConvergenceWarning,
        stacklevel=external_stacklevel(),
    )


def report(name, options, reg, err, floor, dtype, *, cost=None, mass: float = 1.0) -> bool:
    """``converged`` for a measured error ``err`` and round-off floor ``floor``; warn if not.

    True only when the tolerance in force (:meth:`SinkhornOptions.tol_at`) is
    one the dtype resolves for this problem
    (:func:`otlab.entropic._roundoff.resolves`) and ``err`` is within it;
    otherwise a ConvergenceWarning says which of the two failed.  ``mass`` is
    :func:`unit_mass` of the marginals.
    """
    tol = options.tol_at(floor, mass)
    if not resolves(tol, floor):
        warn_below_floor(name, tol, floor, err, dtype)
        return False
    if not err <= tol:
        warn_not_converged(name, options, reg, err, cost=cost, tol=tol)
        return False
    return True


def marginal_targets(a, b, f, g, penalty=None):
    r"""The marginals the plan must meet: ``(a, b)``, or :math:`(a e^{-f/\rho_a}, b e^{-g/\rho_b})`.

    With KL penalties these are the optimality conditions of the dual
    (:mod:`otlab.entropic.penalty`); a side with :math:`\rho = \infty` keeps its weights.
    """
    if penalty is None:
        return a, b
    ta = a if penalty.rho_a == math.inf else weighted(a, torch.exp(-f / penalty.rho_a))
    tb = b if penalty.rho_b == math.inf else weighted(b, torch.exp(-g / penalty.rho_b))
    return ta, tb


def finish(op, a, b, f, g, eps, err_loop, options, *, name, reg, out, penalty=None, sums=None):
    """Measure the returned plan (cost and both marginals) and decide ``converged`` honestly.

    Returns ``(cost, marginal_error, converged)`` with ``cost`` in the solver's
    units.  ``converged`` needs a tolerance that the dtype resolves for this
    problem, the measured L1 marginal error within it and a finite cost;
    otherwise a ConvergenceWarning states what is true (:func:`report`).
    With KL penalties the error is measured against :func:`marginal_targets`;
    ``sums`` passes a :class:`~otlab.entropic.operators.PlanSums` already measured.
    """
    if penalty is not None and penalty.balanced:
        penalty = None
    if sums is None:
        sums = op.plan_sums(eps, f, g, a.log(), b.log())
    err = max(sums.marginal_error(*marginal_targets(a, b, f, g, penalty)), 0.0)
    if not math.isfinite(err):
        err = err_loop if math.isfinite(err_loop) else err
    if penalty is None:
        sums = _at_the_marginals_mass(sums, a)
    cost = float(out.cost(sums.cost.detach()))
    floor = marginal_floor(a, b, f, g, eps, penalty=penalty)
    mass = unit_mass(a, b)
    tol = options.tol_at(floor, mass)
    if not math.isfinite(cost) and err <= tol and resolves(tol, floor):
        warn_cost_overflow(name, err, tol, cost)
        return sums.cost, err, False
    return sums.cost, err, report(name, options, reg, err, floor, f.dtype, cost=cost, mass=mass)


def _at_the_marginals_mass(sums, a):
    r"""The plan's cost rescaled to the marginals' mass: :math:`\langle P, C\rangle \sum a / \sum P`.

    The round-off of potentials of size :math:`\max C/\varepsilon` moves the plan's entries
    alike, and so its mass; the cost moves by that relative amount times the costs' size, not
    their spread.  Two float32 clouds of spread 0.1 at distance 1000 (ε = 0.01) gave a plan of
    mass 1 - 1.9e-3 and a cost of 998.07 for 1000.005; rescaled, 1000.0054 (measured).  A
    balanced plan has the marginals' mass, so the rescaling changes nothing else.
    """
    mass = sums.rows.sum()
    if not (float(mass) > 0 and math.isfinite(float(mass))):
        return sums
    return PlanSums(sums.cost * (a.sum() / mass), sums.rows, sums.cols)


def warn_cost_overflow(name, err, tol, cost):
    """The ConvergenceWarning for a plan that meets ``tol`` whose cost leaves the float range."""
    warnings.warn(
        f"{name}: the plan meets its marginals (error {err:.3g} <= tol={tol:g}), but its cost "
        f"in the units of the data overflows the float range ({cost}), so converged=False. "
        f"The solve ran in a rescaled frame; values computed there (such as the distance, the "
        f"k-th root of the cost) stay finite. Rescale the data (costs scale as the data to the "
        f"power k) to get a finite cost.",
        ConvergenceWarning,
        stacklevel=external_stacklevel(),
    )


#: Bound on an infinite gradient entry in the weights, as a fraction of the dtype's largest
#: float (room for the normalisation of the weights by their largest).
INFINITE_GRADIENT = 2.0**-32


def _finite_gradient(v):
    r"""``v`` with :math:`\pm\infty` replaced by :math:`\pm` :data:`INFINITE_GRADIENT` times the
    largest float (NaN kept).

    A point of weight 0 whose unbalanced gradient :math:`\varphi_\rho(f_i)` overflows (a
    point of weight 0 at a target while the mass, 30 away, is destroyed at ρ = 1) made the
    zero-valued term :math:`\infty \cdot 0` NaN: the value and every gradient entry NaN.
    """
    cap = torch.finfo(v.dtype).max * INFINITE_GRADIENT
    return torch.where(torch.isinf(v), torch.sign(v) * cap, v)


def envelope_terms(f, g, a, b, *, M=None, plan=None, x=None, y=None, grads=None):
    """A zero-valued expression whose gradient is the envelope-theorem gradient.

    ``⟨f, a - a.detach()⟩ + ⟨g, b - b.detach()⟩`` plus ``⟨P, M - M.detach()⟩``
    for a cost matrix, or ``⟨G_x, x - x.detach()⟩ + ⟨G_y, y - y.detach()⟩`` for
    points with precomputed gradients ``grads = (G_x, G_y)``.
    """
    f, g = _finite_gradient(f), _finite_gradient(g)
    term = (f * (a - a.detach())).sum() + (g * (b - b.detach())).sum()
    if M is not None and M.requires_grad:
        term = term + (plan * (M - M.detach())).sum()
    if grads is not None:
        gx, gy = grads
        term = term + (gx * (x - x.detach())).sum() + (gy * (y - y.detach())).sum()
    return term


def solve(problem: PointProblem, eps: float, backend: str, options: SinkhornOptions, *,
          symmetric: bool = False, available: int | None = None, cost_scale: float | None = None,
          ceiling_scale: float | None = None, penalty=None):
    """Run the loop in the local frame on detached data; return ``(op, f, g, n_iter, err)``.

    ``cost_scale`` is the cost scale against which ``eps`` is checked
    (:func:`~otlab.entropic.solver.check_resolution`), by default the
    operator's, or with points of weight 0 that of the costs between the points
    with mass (:func:`~otlab.entropic.operators.resolution_bound`): beside data of
    size 1, one 3e6 away (order 2, weights requiring a gradient) raised 'reg is
    below what float64 resolves' for the default reg.  ``ceiling_scale``, the
    largest cost between the points with mass
    (:func:`~otlab.entropic.operators.mass_cost_bound`, the default), bounds ``eps``
    from above: with the operator's scale there a point of weight 0 far away let
    through a reg refused without it.  The divergence passes those of the cross term
    for all three.
    ``penalty`` (local cost units) gives the unbalanced problem.
    """
    x, a = problem.xl.detach(), problem.a.detach()
    y, b = (x, a) if symmetric else (problem.yl.detach(), problem.b.detach())
    with torch.no_grad(), loop_threads((x.shape[0], y.shape[0]), x.device):
        op = problem.operator(x, y, backend, available=available)
        scale = op.cost_scale()
        massless = not bool((a > 0).all() and (b > 0).all())
        if cost_scale is None:  # the costs of points of weight 0 enter no entry of the plan
            cost_scale = resolution_bound(x, a, y, b, problem.order) if massless else scale
        if ceiling_scale is None:
            ceiling_scale = mass_cost_bound(x, a, y, b, problem.order) if massless else cost_scale
        check_resolution(eps, cost_scale, x.dtype, reg=problem.input_reg(eps),
                         cost_unit=problem.input_reg, massless=massless,
                         ceiling_scale=ceiling_scale)
        schedule = epsilon_schedule(max(scale, eps), eps, options.scaling)
        f, g, n_iter, err = sinkhorn_loop(op, a, b, schedule, options, symmetric=symmetric,
                                          penalty=penalty)
    return op, f, g, n_iter, err


def needs_grad(*vs) -> bool:
    return torch.is_grad_enabled() and any(v.requires_grad for v in vs)


def gradient_term(problem: PointProblem, op, eps, f, g, *, symmetric=False, plan_potentials=None):
    """The envelope-theorem term (zero-valued) of ⟨a, f⟩ + ⟨b, g⟩ in the local frame, or 0.

    ``f``, ``g`` are the gradients in the weights; the plan (for the gradients
    in the points) is that of ``plan_potentials``, by default ``(f, g)`` (they
    differ with KL marginal penalties).
    """
    p = problem
    y, b, yl = (p.x, p.a, p.xl) if symmetric else (p.y, p.b, p.yl)
    if not needs_grad(p.x, p.a, y, b):
        return 0.0
    grads = None
    if p.x.requires_grad or y.requires_grad:
        pf, pg = (f, g) if plan_potentials is None else plan_potentials
        grads = op.point_gradients(eps, pf, pg, p.a.detach().log(), b.detach().log())
    return envelope_terms(f, g, p.a, b, x=p.xl, y=yl, grads=grads)


def solve_problem(problem, reg, backend: str, options: SinkhornOptions, name: str):
    """Solve, measure the plan, attach gradients: the body of the sample entry points.

    Returns ``(cost, objective, n_iter, marginal_error, converged, eps, solution)``
    with ``cost`` and ``objective`` in the local frame's units (differentiable
    through the envelope term), ``eps`` the local ε and ``solution`` what
    :class:`~otlab.entropic.SinkhornResult` needs to apply the plan.  Shared with
    :func:`otlab.distributed.sharded_sinkhorn`.
    """
    eps = problem.local_reg(reg)
    op, f, g, n_iter, err = solve(problem, eps, backend, options)
    with torch.no_grad():
        a, b = problem.a.detach(), problem.b.detach()
        cost, err, converged = finish(op, a, b, f, g, eps, err, options, name=name,
                                      reg=problem.input_reg(eps), out=problem.out)
        objective = (a * f).sum() + (b * g).sum()
    term = gradient_term(problem, op, eps, f, g)
    solution = _Solution(op, f, g, eps, a.log(), b.log(), problem.out)
    return cost + term, objective + term, n_iter, err, converged, eps, solution
