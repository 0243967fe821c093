r"""Log-domain Sinkhorn with ε-scaling: the loop (written once), its options and the honest status.

The loop only calls the two soft-min maps of an operator
(:class:`otlab.entropic._softmin.SoftminOperator`: dense, tiled or fused
Triton), so every back-end shares the same iterations, acceleration
(:mod:`otlab.entropic.acceleration`), stopping rule, final check and warnings.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np
import torch

from .._backend import any_torch, is_torch, working_dtype
from .._validation import (
    as_cost_matrix,
    as_histogram,
    check_positive,
    check_positive_int,
    check_same_mass,
)
from .._warnings import ConvergenceWarning, external_stacklevel
from ..costs import power_of_two_at_least
from .acceleration import ACCELERATIONS, Anderson, as_acceleration
from ._softmin import DenseOperator
from .result import Output, SinkhornResult, _Solution

__all__ = ["sinkhorn", "SinkhornResult", "SinkhornOptions", "ACCELERATIONS", "DEFAULT_MAX_ITER",
           "DEFAULT_SCALING", "RESOLUTION_ULPS", "LARGEST_REG_ULPS", "epsilon_schedule"]

#: Iteration cap at the target ε (the ε-scaling steps come on top).
DEFAULT_MAX_ITER = 1000
#: Ratio between successive temperatures of the ε-scaling schedule.
DEFAULT_SCALING = 0.5
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
        L1 marginal tolerance.
    max_iter : int
        Cap on iterations at the target ε.
    scaling : float in (0, 1) or None
        Ratio of the ε-scaling schedule; ``None`` starts at the target ε.
    acceleration : Anderson, Overrelaxation or None
        See :mod:`otlab.entropic.acceleration`.
    """

    tol: float = 1e-6
    max_iter: int = DEFAULT_MAX_ITER
    scaling: float | None = DEFAULT_SCALING
    acceleration: object = field(default_factory=Anderson)

    @classmethod
    def build(cls, *, tol, max_iter, scaling, acceleration) -> "SinkhornOptions":
        """Validate user values (names in messages); ``max_iter=None`` is the default cap."""
        tol = check_positive(tol, "tol")
        max_iter = DEFAULT_MAX_ITER if max_iter is None else check_positive_int(max_iter, "max_iter")
        if scaling is not None:
            scaling = check_positive(scaling, "scaling")
            if scaling >= 1:
                raise ValueError(f"scaling must be in (0, 1) or None; got {scaling!r}")
        return cls(tol, max_iter, scaling, as_acceleration(acceleration))


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


def check_resolution(eps: float, cost_scale: float, dtype, *, reg: float, cost_unit) -> None:
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
    caller's units.
    """
    ulp = torch.finfo(dtype).eps
    name = str(dtype).replace("torch.", "")
    largest = float(cost_unit(cost_scale))
    if cost_scale > 0 and not eps <= LARGEST_REG_ULPS / ulp * cost_scale:
        ceiling = float(cost_unit(LARGEST_REG_ULPS / ulp * cost_scale))
        raise ValueError(
            f"reg={reg:g} is too large for {name} at these costs (largest {largest:.3g}): "
            "exp(-cost/reg) is 1 to within round-off, so the plan is the independent coupling "
            f"a x b and the potentials have no correct digit. Use reg <= {ceiling:.2g}.")
    if eps < RESOLUTION_ULPS * ulp * cost_scale:
        floor = float(cost_unit(RESOLUTION_ULPS * ulp * cost_scale))
        raise ValueError(
            f"reg={reg:g} is below what {name} resolves for these costs: costs up to "
            f"{largest:.3g} carry round-off of about {ulp * largest:.2g}, so exp(-cost/reg) has "
            f"no correct digit. Use reg >= {floor:.2g} ({RESOLUTION_ULPS} ulps of the largest "
            "cost), float64 input if it is float32, or the exact solver otlab.emd.")


def _row_error(a, f_old, f_new, eps):
    """L1 row-marginal error of the plan of ``(f_old, g)`` given ``f_new = softmin(g)``."""
    return float((a * torch.expm1((f_old - f_new) / eps)).abs().sum())


def _dual(a, b, f, g):
    r"""The dual objective :math:`\langle a, f\rangle + \langle b, g\rangle`.

    For ``g = softmin_cols(f)`` the plan has the column marginals ``b``, so this
    is the entropic dual :math:`D(f, g)` up to a constant.
    """
    return float(a @ f + b @ g)


def _dual_rounding(a, b, f, g):
    r"""Rounding error of :func:`_dual`: 8 ulps of :math:`\langle a, |f|\rangle + \langle b, |g|\rangle`."""
    return 8.0 * torch.finfo(f.dtype).eps * float(a @ f.abs() + b @ g.abs())


def _check_finite(err, eps):
    if not math.isfinite(err):
        raise FloatingPointError(f"sinkhorn diverged at reg={eps:g}: marginal error {err}")


def _symmetric_loop(op, a, schedule, options):
    r"""The averaged fixed point :math:`f \leftarrow (f + T(f))/2` for ``a = b`` on the same points.

    Returns the pair :math:`(f, T(f))`, not :math:`(f, f)`: its column
    marginals are exact, so its dual value :math:`\langle a, f + T(f)\rangle`
    is accurate to second order in the distance to the fixed point, even
    when the loop stops at once (large ε), and its row error is measured.
    """
    log_a = a.log()
    f = op.softmin_rows(schedule[0], log_a)
    n_iter = 1
    for eps in schedule[1:]:
        f = 0.5 * (f + op.softmin_rows(eps, log_a + f / eps))
        n_iter += 1
    eps = schedule[-1]
    for _ in range(options.max_iter):
        f_new = op.softmin_rows(eps, log_a + f / eps)
        err = _row_error(a, f, f_new, eps)
        _check_finite(err, eps)
        if err <= options.tol:
            break
        f = 0.5 * (f + f_new)
        n_iter += 1
    g = op.softmin_cols(eps, log_a + f / eps)
    err = _row_error(a, f, op.softmin_rows(eps, log_a + g / eps), eps)
    _check_finite(err, eps)
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


def sinkhorn_loop(op, a, b, schedule, options: SinkhornOptions, *, symmetric=False):
    r"""Alternate the two soft-min updates along an ε schedule.

    At each annealing temperature one sweep is made; at the final ε the state
    is always a pair with ``g = softmin_cols(f)`` (column marginals exact), and
    sweeps repeat until the L1 row-marginal error is at most ``tol`` or
    ``max_iter`` column updates were made.  The next ``f`` is proposed by the
    acceleration (:mod:`otlab.entropic.acceleration`); a safeguarded one
    (Anderson) is kept only if the dual objective
    :math:`\langle a, f\rangle + \langle b, g\rangle` does not decrease (beyond
    rounding); otherwise the history is cleared and the plain update, which
    never decreases it, is taken (the refused proposal costs one column update),
    and the next proposals wait 1, 2, 4, ... plain updates while they keep
    being refused.

    With ``symmetric=True`` (``a = b`` on the same points) the averaged fixed
    point :math:`f \leftarrow (f + T(f))/2` is iterated instead.

    Returns ``(f, g, n_iter, marginal_error)``, ``n_iter`` counting column
    updates (ε-scaling steps and refused proposals included).
    """
    if symmetric:
        return _symmetric_loop(op, a, schedule, options)
    log_a, log_b = a.log(), b.log()
    g = torch.zeros_like(b)
    for eps in schedule:  # one sweep per temperature, the target ε included
        f = op.softmin_rows(eps, log_b + g / eps)
        g = op.softmin_cols(eps, log_a + f / eps)
    n_iter, updates = len(schedule), 0  # column updates so far
    acceleration = options.acceleration
    stepper = acceleration.start(a, eps) if acceleration is not None else None
    guard = stepper is not None and acceleration.safeguarded
    backoff = _Backoff()
    if guard:
        dual, slack = _dual(a, b, f, g), _dual_rounding(a, b, f, g)
    while True:
        f_map = op.softmin_rows(eps, log_b + g / eps)
        err = _row_error(a, f, f_map, eps)
        _check_finite(err, eps)
        if err <= options.tol or updates >= options.max_iter:
            return f, g, n_iter + updates, err
        f_next = f_map if stepper is None or backoff.waiting() else stepper.propose(f, f_map)
        g_next = op.softmin_cols(eps, log_a + f_next / eps)
        updates += 1
        if guard:
            dual_next = _dual(a, b, f_next, g_next)
            if f_next is not f_map and not dual_next >= dual - slack:  # NaN is refused too
                stepper.reset()
                backoff.refused()
                f_next = f_map
                g_next = op.softmin_cols(eps, log_a + f_next / eps)
                updates += 1
                dual_next = _dual(a, b, f_next, g_next)
                slack = _dual_rounding(a, b, f_next, g_next)
            elif f_next is not f_map:
                backoff.accepted()
            dual = dual_next
        f, g = f_next, g_next


def warn_not_converged(name, options, reg, err, *, cost=None):
    """The ConvergenceWarning: what was reached, what it means, what to change."""
    detail = "" if cost is None else (
        f" The returned plan misses its marginals by that much (L1), so its cost {cost:.6g} is "
        "not that of a feasible plan.")
    warnings.warn(
        f"{name} did not converge within max_iter={options.max_iter} iterations at reg={reg:g}: "
        f"marginal error {err:.3g} > tol={options.tol:g}.{detail} Increase max_iter, use a larger "
        f"reg (faster and better conditioned) or a looser tol.",
        ConvergenceWarning,
        stacklevel=external_stacklevel(),
    )


def finish(op, a, b, f, g, eps, err_loop, options, *, name, reg, out):
    """Measure the returned plan (cost and both marginals) and decide ``converged`` honestly.

    Returns ``(cost, marginal_error, converged)`` with ``cost`` in the solver's
    units.  ``converged`` needs the measured L1 marginal error within ``tol``
    and a finite cost; otherwise a ConvergenceWarning states what is true.
    """
    sums = op.plan_sums(eps, f, g, a.log(), b.log())
    err = max(sums.marginal_error(a, b), 0.0)
    converged = err <= options.tol and math.isfinite(float(sums.cost))
    if not converged:
        if not math.isfinite(err):
            err = err_loop if math.isfinite(err_loop) else err
        warn_not_converged(name, options, reg, err, cost=float(out.cost(sums.cost.detach())))
    return sums.cost, err, converged


def envelope_terms(f, g, a, b, *, M=None, plan=None, x=None, y=None, grads=None):
    """A zero-valued expression whose gradient is the envelope-theorem gradient.

    ``⟨f, a - a.detach()⟩ + ⟨g, b - b.detach()⟩`` plus ``⟨P, M - M.detach()⟩``
    for a cost matrix, or ``⟨G_x, x - x.detach()⟩ + ⟨G_y, y - y.detach()⟩`` for
    points with precomputed gradients ``grads = (G_x, G_y)``.
    """
    term = (f * (a - a.detach())).sum() + (g * (b - b.detach())).sum()
    if M is not None and M.requires_grad:
        term = term + (plan * (M - M.detach())).sum()
    if grads is not None:
        gx, gy = grads
        term = term + (gx * (x - x.detach())).sum() + (gy * (y - y.detach())).sum()
    return term


def _histogram_tensors(a, b, M):
    """Validated histograms and cost matrix as tensors in one working dtype and device."""
    use_numpy = not any_torch(a, b, M)
    a = as_histogram(a, "a")
    b = as_histogram(b, "b")
    M = as_cost_matrix(M, (a.shape[0], b.shape[0]), "M")
    ref = next((v for v in (M, a, b) if is_torch(v)), None)
    if ref is not None:
        dtype, device = ref.dtype, ref.device
    else:
        dtype, device = (torch.float32 if M.dtype == np.float32 else torch.float64), torch.device("cpu")
    work = working_dtype(dtype)
    a_t, b_t, M_t = (v.to(dtype=work, device=device) if is_torch(v) else
                     torch.from_numpy(np.ascontiguousarray(v)).to(dtype=work, device=device)
                     for v in (a, b, M))
    return a_t, b_t, M_t, Output(numpy=use_numpy, dtype=dtype)


def sinkhorn(a, b, M, reg, *, tol: float = 1e-6, max_iter: int | None = None,
             scaling: float | None = DEFAULT_SCALING, mass_rtol: float = MASS_RTOL,
             acceleration="anderson") -> SinkhornResult:
    r"""Entropic optimal transport between histograms, in the log domain, with ε-scaling.

    Solves

    .. math::

        \mathrm{OT}_\varepsilon(a, b) = \min_{P \in \Pi(a, b)}
        \langle P, M\rangle + \varepsilon\, \mathrm{KL}(P \,\|\, a \otimes b)

    by alternating the soft-min updates

    .. math::

        f_i \leftarrow -\varepsilon \log \sum_j b_j e^{(g_j - M_{ij})/\varepsilon},
        \qquad
        g_j \leftarrow -\varepsilon \log \sum_i a_i e^{(f_i - M_{ij})/\varepsilon},

    first along the temperatures :math:`\varepsilon_0 = \max M - \min M,\
    \varepsilon_0 s,\ \varepsilon_0 s^2, \dots` down to ``reg`` (one update
    each), then at ``reg`` until the L1 marginal error is at most ``tol``,
    with the f-update accelerated (see Notes).  Everything is in the log
    domain, so tiny ``reg`` gives neither NaN nor underflow to 0; ``M`` is
    divided by a power of two near its largest entry (exactly) first, so costs
    near 1e-300 or 1e300 are handled alike.

    Parameters
    ----------
    a : array-like or Tensor, shape (n,)
        Source histogram (finite, non-negative, positive mass).
    b : array-like or Tensor, shape (m,)
        Target histogram with the same total mass as ``a`` (relative tolerance
        ``mass_rtol``); rescaled to exactly that mass.
    M : array-like or Tensor, shape (n, m)
        Finite cost matrix.
    reg : float
        The entropic regularisation ε > 0, absolute, in the units of ``M``
        (as in POT); at least :data:`RESOLUTION_ULPS` ulps of ``max |M|``.
    tol : float, default 1e-6
        Stop when :math:`\lVert P 1 - a\rVert_1 + \lVert P^\top 1 - b\rVert_1 \le` ``tol``.
        In float32, round-off limits the reachable error to about
        :math:`10^{-7} \max|f| / \varepsilon`; use a larger ``tol`` there.
    max_iter : int, optional
        Cap on iterations at the target ε (default 1000); the ε-scaling steps,
        about :math:`\log(\max M / \varepsilon) / \log(1/s)`, come on top.
    scaling : float in (0, 1) or None, default 0.5
        The ratio ``s`` of the ε-scaling schedule; ``None`` starts at ``reg``.
    mass_rtol : float, default 1e-6
        Accepted relative difference between the masses of ``a`` and ``b``.
    acceleration : "anderson", "overrelaxation", None, or an instance, default "anderson"
        How the iterations at the target ε are accelerated
        (:mod:`otlab.entropic.acceleration`): safeguarded Anderson mixing
        (``Anderson(memory=...)`` sets its memory); a fixed over-relaxation
        :math:`f \leftarrow f + 1.5\,(T(f) - f)`; or ``None``, plain
        Sinkhorn.  All have the same fixed point and the same stopping rule.

    Returns
    -------
    SinkhornResult
        Potentials, plan, ``cost`` :math:`\langle P, M\rangle`, ``objective``,
        ``n_iter``, ``marginal_error``, ``converged``.  numpy in, numpy out;
        torch in, torch out on the input's device and in its dtype
        (float16/bfloat16 are computed in float32).

    Raises
    ------
    ValueError
        ``reg <= 0`` or below the resolution of the dtype at the cost scale,
        NaN or infinite entries, negative weights, masses that differ, or a
        cost matrix whose shape does not match the histograms; the message
        names the argument.
    TypeError
        Complex or non-numeric input.

    Warns
    -----
    ConvergenceWarning
        When the returned plan misses its marginals by more than ``tol`` (after
        ``max_iter`` iterations, or because round-off at this ``reg`` keeps it
        there); the warning states the error measured on the plan and what to
        change (``max_iter``, ``reg``, ``tol``), and the result has
        ``converged=False``.

    Notes
    -----
    Write one sweep as a map on the row potential,
    :math:`T(f) = \operatorname{softmin}_\text{rows}(\operatorname{softmin}_\text{cols}(f))`,
    and keep :math:`g = \operatorname{softmin}_\text{cols}(f)`, so that the
    column marginals are exact and the error is the row error
    :math:`\sum_i a_i \lvert e^{(f_i - T(f)_i)/\varepsilon} - 1\rvert`.
    Plain Sinkhorn, :math:`f \leftarrow T(f)`, is block-coordinate ascent on
    the concave dual

    .. math::

        D(f, g) = \langle a, f\rangle + \langle b, g\rangle
        - \varepsilon \sum_{ij} a_i b_j \big(e^{(f_i + g_j - M_{ij})/\varepsilon} - 1\big),

    and slows down badly when the optimal plan is nearly non-unique (a
    cost that is not strictly convex, e.g. :math:`W_1` between a sample and
    its translate): a few potentials must still move by tens of ε while
    the marginal error, exponentially small in that distance, barely pushes
    them, and the error decays like :math:`1/k`.  Over-relaxation, fixed or
    with the factor :math:`2/(1 + \sqrt{1 - \vartheta})` fitted to the
    observed rate :math:`\vartheta`, does not change that; a quasi-Newton
    step does.  ``"anderson"`` proposes

    .. math::

        f_{k+1} = T(f_k) - \sum_{l} \gamma_l \big(T(f_{l+1}) - T(f_l)\big),
        \qquad
        \gamma = \arg\min_\gamma \Big\lVert r_k - \sum_l \gamma_l (r_{l+1} - r_l)\Big\rVert_a^2
        + \lambda \operatorname{tr}(H) \lVert\gamma\rVert^2,

    with :math:`r = (T(f) - f)/\varepsilon`, the last 5 differences, and
    :math:`\lambda = 10^{-3}` (:mod:`otlab.entropic._anderson`).  As a
    safeguard the proposal is kept only if :math:`D(f, g)` does not decrease
    (beyond rounding); otherwise the history is cleared and the plain update,
    which never decreases :math:`D`, is taken instead.  The dual thus
    increases monotonically, as in plain Sinkhorn, and the fixed point is the
    same; only the path to it changes.  ``benchmarks/reports/sinkhorn_convergence.md``
    measures the iteration counts of the three choices.

    After the iterations the plan is formed once more and its cost and both
    marginals measured; ``converged`` is True only if that measured error is
    within ``tol`` and the cost is finite.

    See Also
    --------
    otlab.entropic.sinkhorn_samples : the same on point clouds, without forming ``M``.
    otlab.emd : the exact (ε = 0) problem.

    References
    ----------
    M. Cuturi (2013). Sinkhorn distances: lightspeed computation of optimal
    transport. NeurIPS.

    B. Schmitzer (2019). Stabilized sparse scaling algorithms for entropy
    regularized transport problems. SIAM J. Sci. Comput. 41(3).

    A. Thibault, L. Chizat, C. Dossal, N. Papadakis (2017). Overrelaxed
    Sinkhorn-Knopp algorithm for regularized optimal transport. arXiv:1711.01851.

    T. Lehmann, M.-K. von Renesse, A. Sambale, A. Uschmajew (2022). A note on
    overrelaxation in the Sinkhorn algorithm. Optim. Lett. 16.

    D. G. Anderson (1965). Iterative procedures for nonlinear integral
    equations. J. ACM 12(4).  H. F. Walker, P. Ni (2011). Anderson
    acceleration for fixed-point iterations. SIAM J. Numer. Anal. 49(4).

    J. Feydy (2020). Geometric data analysis, beyond convolutions. PhD thesis,
    ENS Paris-Saclay (ε-scaling, symmetric updates).

    Examples
    --------
    Two Diracs at distance 1 must exchange all their mass, whatever ε:

    >>> import numpy as np
    >>> res = sinkhorn([1.0], [1.0], [[1.0]], reg=0.1)
    >>> res.cost, res.converged
    (1.0, True)
    >>> M = np.array([[0.0, 1.0], [1.0, 0.0]])
    >>> res = sinkhorn([0.5, 0.5], [0.5, 0.5], M, reg=1e-3)
    >>> round(res.cost, 12)
    0.0
    >>> res.plan.round(6)
    array([[0.5, 0. ],
           [0. , 0.5]])
    """
    a_t, b_t, M_t, out = _histogram_tensors(a, b, M)
    check_same_mass(a_t, b_t, rtol=mass_rtol)
    reg = check_positive(reg, "reg")
    options = SinkhornOptions.build(tol=tol, max_iter=max_iter, scaling=scaling,
                                    acceleration=acceleration)
    b_t = b_t * (a_t.sum() / b_t.sum())
    scale = power_of_two_at_least(float(M_t.detach().abs().max()))
    out = Output(numpy=out.numpy, dtype=out.dtype, scale=scale)
    eps = reg / scale

    with torch.no_grad():
        aa, bb = a_t.detach(), b_t.detach()
        op = DenseOperator(M_t.detach() / scale)
        check_resolution(eps, op.cost_scale(), M_t.dtype, reg=reg, cost_unit=lambda c: c * scale)
        span = float(op.C.max() - op.C.min())
        schedule = epsilon_schedule(max(span, eps), eps, options.scaling)
        f, g, n_iter, err = sinkhorn_loop(op, aa, bb, schedule, options)
        cost, err, converged = finish(op, aa, bb, f, g, eps, err, options, name="sinkhorn",
                                      reg=reg, out=out)
        mass = aa.sum()
        objective = (aa * f).sum() + (bb * g).sum() - eps * (mass - mass * mass)
    log_a, log_b = aa.log(), bb.log()
    if any(v.requires_grad for v in (a_t, b_t, M_t)):
        plan = op.plan(eps, f, g, log_a, log_b) if M_t.requires_grad else None
        term = envelope_terms(f, g, a_t, b_t, M=M_t / scale, plan=plan)
        cost, objective = cost + term, objective + term
    return SinkhornResult(
        f=out.cost(f), g=out.cost(g), cost=out.cost(cost), objective=out.cost(objective),
        n_iter=n_iter, marginal_error=err, converged=converged, reg=reg, backend=op.name,
        _solution=_Solution(op, f, g, eps, log_a, log_b, out),
    )
