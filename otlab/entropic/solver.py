r"""Log-domain Sinkhorn with ε-scaling: the loop (written once) and the result object.

The loop only calls the two soft-min maps of an operator from
:mod:`otlab.entropic._softmin` (dense, tiled) or :mod:`otlab.entropic._triton`
(fused CUDA), so every back-end shares the same iterations, acceleration
(:mod:`otlab.entropic._anderson`), stopping rule and warnings.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import torch

from .._backend import any_torch, is_torch
from .._validation import (
    as_cost_matrix,
    as_histogram,
    check_choice,
    check_positive,
    check_positive_int,
    check_same_mass,
)
from ..exact import ConvergenceWarning
from ._anderson import AndersonMixer
from ._softmin import DenseOperator

__all__ = ["sinkhorn", "SinkhornResult", "ACCELERATIONS", "DEFAULT_ACCELERATION", "DEFAULT_MAX_ITER",
           "DEFAULT_SCALING", "OVERRELAXATION", "epsilon_schedule"]

#: Iteration cap at the target ε (the ε-scaling steps come on top).
DEFAULT_MAX_ITER = 1000
#: Ratio between successive temperatures of the ε-scaling schedule.
DEFAULT_SCALING = 0.5
#: Accelerations of the iterations at the target ε (see :func:`sinkhorn`).
ACCELERATIONS = ("anderson", "overrelaxation", None)
#: The default acceleration.
DEFAULT_ACCELERATION = "anderson"
#: Over-relaxation factor of the f-update with ``acceleration="overrelaxation"``.
OVERRELAXATION = 1.5
#: Accepted relative difference of the total masses of ``a`` and ``b``.
MASS_RTOL = 1e-6


@dataclass(frozen=True)
class SinkhornResult:
    r"""Solution of the entropic OT problem.

    .. math::

        \mathrm{OT}_\varepsilon(a, b) = \min_{P \ge 0,\, P 1 = a,\, P^\top 1 = b}
        \langle P, C\rangle + \varepsilon\, \mathrm{KL}(P \,\|\, a \otimes b),
        \qquad
        P_{ij} = a_i b_j \exp\big((f_i + g_j - C_{ij})/\varepsilon\big).

    Attributes follow the input: numpy arrays and floats for numpy input,
    tensors on the input's device for torch input.

    Attributes
    ----------
    f, g : ndarray or Tensor, shapes (n,) and (m,)
        Dual potentials (log-domain scalings times ε).
    cost : float or Tensor
        The linear transport cost :math:`\langle P, C\rangle` of the entropic
        plan (what ``ot.sinkhorn2`` returns); :math:`\ge` the exact OT cost.
    objective : float or Tensor
        The entropic objective :math:`\mathrm{OT}_\varepsilon`, computed as the
        dual value :math:`\langle a, f\rangle + \langle b, g\rangle` (minus
        :math:`\varepsilon(s - s^2)` for total mass :math:`s \ne 1`).
    n_iter : int
        Sinkhorn iterations performed (column soft-min updates), ε-scaling
        steps and refused Anderson proposals included.
    marginal_error : float
        :math:`\lVert P 1 - a\rVert_1 + \lVert P^\top 1 - b\rVert_1` at the
        returned potentials.
    converged : bool
        Whether ``marginal_error <= tol`` was reached within ``max_iter``.
    reg : float
        The ε used (absolute, in cost units).
    backend : str
        ``"dense"``, ``"tiled"`` or ``"triton"``.

    Notes
    -----
    For torch input, ``cost`` and ``objective`` carry gradients with respect to
    the weights, the cost matrix or the points, obtained from the potentials
    by the envelope theorem (:math:`\partial_a = f`, :math:`\partial_b = g`,
    :math:`\partial_C = P`), never by backpropagating through the iterations.
    ``cost`` carries the gradient of ``objective``, which tends to the
    gradient of the exact cost as ε → 0.
    """

    f: object
    g: object
    cost: object
    objective: object
    n_iter: int
    marginal_error: float
    converged: bool
    reg: float
    backend: str
    _operator: object = field(repr=False, compare=False)
    _log_a: object = field(repr=False, compare=False)
    _log_b: object = field(repr=False, compare=False)
    _numpy: bool = field(repr=False, compare=False)

    def _out(self, t):
        return t.detach().cpu().numpy() if self._numpy else t.detach()

    def _potentials(self):
        f = torch.as_tensor(self.f).detach()
        g = torch.as_tensor(self.g).detach()
        return f.to(self._log_a.device), g.to(self._log_a.device)

    @cached_property
    def plan(self):
        """The dense plan :math:`P`, shape (n, m). For large n use :meth:`apply`."""
        f, g = self._potentials()
        return self._out(self._operator.plan(self.reg, f, g, self._log_a, self._log_b))

    def apply(self, v):
        """The product :math:`P v` without forming :math:`P` (``v`` of shape (m,) or (m, k))."""
        f, g = self._potentials()
        v_t = torch.as_tensor(v, dtype=f.dtype, device=f.device)
        return self._out(self._operator.apply_plan(self.reg, f, g, self._log_a, self._log_b, v_t))


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


def _symmetric_loop(op, a, schedule, *, tol, max_iter):
    """The averaged fixed point ``f <- (f + T(f)) / 2`` for ``a = b`` on the same points."""
    log_a = a.log()
    f = op.softmin_rows(schedule[0], log_a)
    n_iter = 1
    for eps in schedule[1:-1]:
        f = 0.5 * (f + op.softmin_rows(eps, log_a + f / eps))
        n_iter += 1
    eps = schedule[-1]
    for it in range(max_iter + 1):
        f_new = op.softmin_rows(eps, log_a + f / eps)
        err = 2.0 * _row_error(a, f, f_new, eps)
        if not math.isfinite(err):
            raise FloatingPointError(f"sinkhorn diverged at reg={eps:g}: marginal error {err}")
        if err <= tol or it == max_iter:
            break
        f = 0.5 * (f + f_new)
        n_iter += 1
    return f, f, n_iter, err


def sinkhorn_loop(op, a, b, schedule, *, tol, max_iter, symmetric=False,
                  acceleration=DEFAULT_ACCELERATION):
    r"""Alternate the two soft-min updates along an ε schedule.

    At each annealing temperature one sweep is made; at the final ε the state
    is always a pair with ``g = softmin_cols(f)`` (column marginals exact), and
    sweeps repeat until the L1 row-marginal error is at most ``tol`` or
    ``max_iter`` column updates were made.  The next ``f`` is

    * ``"anderson"``: the Anderson-mixed proposal of
      :class:`~otlab.entropic._anderson.AndersonMixer`, kept only if the dual
      objective :math:`\langle a, f\rangle + \langle b, g\rangle` does not
      decrease (beyond rounding); otherwise the history is cleared and the
      plain update, which never decreases it, is taken (the refused proposal
      costs one column update);
    * ``"overrelaxation"``: :math:`f + \omega (T(f) - f)`, ``omega`` = 1.5;
    * ``None``: the plain update :math:`T(f)`.

    With ``symmetric=True`` (``a = b`` on the same points) the averaged fixed
    point :math:`f \leftarrow (f + T(f))/2` is iterated and ``g = f``.

    Returns ``(f, g, n_iter, marginal_error)``, ``n_iter`` counting column
    updates (ε-scaling steps and refused proposals included).
    """
    if symmetric:
        return _symmetric_loop(op, a, schedule, tol=tol, max_iter=max_iter)
    log_a, log_b = a.log(), b.log()
    g = torch.zeros_like(b)
    for eps in schedule:  # one sweep per temperature, the target ε included
        f = op.softmin_rows(eps, log_b + g / eps)
        g = op.softmin_cols(eps, log_a + f / eps)
    n_iter, updates = len(schedule), 0  # column updates so far
    mixer = AndersonMixer(a, eps) if acceleration == "anderson" else None
    if mixer is not None:
        dual, slack = _dual(a, b, f, g), _dual_rounding(a, b, f, g)
    while True:
        f_map = op.softmin_rows(eps, log_b + g / eps)
        err = _row_error(a, f, f_map, eps)
        if not math.isfinite(err):
            raise FloatingPointError(f"sinkhorn diverged at reg={eps:g}: marginal error {err}")
        if err <= tol or updates >= max_iter:
            return f, g, n_iter + updates, err
        if mixer is not None:
            f_next = mixer.propose(f, f_map)
        elif acceleration == "overrelaxation":
            f_next = f + OVERRELAXATION * (f_map - f)
        else:
            f_next = f_map
        g_next = op.softmin_cols(eps, log_a + f_next / eps)
        updates += 1
        if mixer is not None:
            dual_next = _dual(a, b, f_next, g_next)
            if f_next is not f_map and not dual_next >= dual - slack:  # NaN is refused too
                mixer.reset()
                f_next = f_map
                g_next = op.softmin_cols(eps, log_a + f_next / eps)
                updates += 1
                dual_next = _dual(a, b, f_next, g_next)
                slack = _dual_rounding(a, b, f_next, g_next)
            dual = dual_next
        f, g = f_next, g_next


def warn_not_converged(name, max_iter, reg, err, tol, stacklevel=3):
    warnings.warn(
        f"{name} did not converge within max_iter={max_iter} iterations at reg={reg:g}: "
        f"marginal error {err:.3g} > tol={tol:g}. Increase max_iter, use a larger reg "
        f"(faster and better conditioned) or a looser tol.",
        ConvergenceWarning,
        stacklevel=stacklevel,
    )


def check_options(reg, tol, max_iter, scaling, acceleration=DEFAULT_ACCELERATION):
    """Validate the shared solver options; return ``reg, tol, max_iter, scaling`` normalised."""
    check_choice(acceleration, "acceleration", ACCELERATIONS)
    reg = check_positive(reg, "reg")
    tol = check_positive(tol, "tol")
    max_iter = DEFAULT_MAX_ITER if max_iter is None else check_positive_int(max_iter, "max_iter")
    if scaling is not None:
        scaling = check_positive(scaling, "scaling")
        if scaling >= 1:
            raise ValueError(f"scaling must be in (0, 1) or None; got {scaling!r}")
    return reg, tol, max_iter, scaling


def to_tensor(v, *, dtype=None, device=None):
    """A tensor view of numpy data (no copy) or the tensor itself, cast if asked."""
    t = v if is_torch(v) else torch.from_numpy(np.ascontiguousarray(v))
    return t.to(dtype=dtype or t.dtype, device=device or t.device)


def make_result(op, f, g, cost, objective, *, n_iter, marginal_error, converged, reg, log_a,
                log_b, use_numpy) -> SinkhornResult:
    """Assemble a :class:`SinkhornResult`, as numpy and floats when the input was numpy."""
    if use_numpy:
        f, g, cost, objective = f.numpy(), g.numpy(), float(cost), float(objective)
    return SinkhornResult(
        f=f, g=g, cost=cost, objective=objective, n_iter=n_iter, marginal_error=marginal_error,
        converged=converged, reg=reg, backend=op.name, _operator=op, _log_a=log_a,
        _log_b=log_b, _numpy=use_numpy,
    )


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


def sinkhorn(a, b, M, reg, *, tol: float = 1e-6, max_iter: int | None = None,
             scaling: float | None = DEFAULT_SCALING, mass_rtol: float = MASS_RTOL,
             acceleration: str | None = DEFAULT_ACCELERATION) -> SinkhornResult:
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

    first along the temperatures :math:`\varepsilon_0 = \max M,\ \varepsilon_0 s,\
    \varepsilon_0 s^2, \dots` down to ``reg`` (one update each), then at
    ``reg`` until the L1 marginal error is at most ``tol``, with the
    f-update accelerated (see Notes).  Everything is in the log domain, so
    tiny ``reg`` gives neither NaN nor underflow to 0.

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
        (as in POT).
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
    acceleration : {"anderson", "overrelaxation", None}, default "anderson"
        How the iterations at the target ε are accelerated: safeguarded
        Anderson mixing (see Notes); a fixed over-relaxation
        :math:`f \leftarrow f + 1.5\,(T(f) - f)` (the default before
        Anderson mixing); or ``None``, plain Sinkhorn.  All three have the
        same fixed point and the same stopping rule.

    Returns
    -------
    SinkhornResult
        Potentials, plan, ``cost`` :math:`\langle P, M\rangle`, ``objective``,
        ``n_iter``, ``marginal_error``, ``converged``.  numpy in, numpy out;
        torch in, torch out on the input's device (float32 kept).

    Raises
    ------
    ValueError
        ``reg <= 0``, NaN or infinite entries, negative weights, masses that
        differ, or a cost matrix whose shape does not match the histograms;
        the message names the argument.

    Warns
    -----
    ConvergenceWarning
        When ``max_iter`` iterations did not bring the marginal error below
        ``tol``; the warning states the error reached and what to change
        (``max_iter``, ``reg``, ``tol``), and the result has ``converged=False``.

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
    use_numpy = not any_torch(a, b, M)
    a = as_histogram(a, "a")
    b = as_histogram(b, "b")
    M = as_cost_matrix(M, (a.shape[0], b.shape[0]), "M")
    check_same_mass(a, b, rtol=mass_rtol)
    reg, tol, max_iter, scaling = check_options(reg, tol, max_iter, scaling, acceleration)

    ref = next((v for v in (M, a, b) if is_torch(v)), None)
    dtype = ref.dtype if ref is not None else (
        torch.float32 if M.dtype == np.float32 else torch.float64)
    device = ref.device if ref is not None else torch.device("cpu")
    a_t, b_t, M_t = (to_tensor(v, dtype=dtype, device=device) for v in (a, b, M))
    b_scaled = b_t * (a_t.sum() / b_t.sum())

    with torch.no_grad():
        aa, bb, CC = a_t.detach(), b_scaled.detach(), M_t.detach()
        op = DenseOperator(CC)
        schedule = epsilon_schedule(max(float(CC.max() - CC.min()), reg), reg, scaling)
        f, g, n_iter, err = sinkhorn_loop(op, aa, bb, schedule, tol=tol, max_iter=max_iter,
                                          acceleration=acceleration)
        log_a, log_b = aa.log(), bb.log()
        cost = op.transport_cost(reg, f, g, log_a, log_b)
        mass = aa.sum()
        objective = (aa * f).sum() + (bb * g).sum() - reg * (mass - mass * mass)
    converged = err <= tol
    if not converged:
        warn_not_converged("sinkhorn", max_iter, reg, err, tol)

    if any(v.requires_grad for v in (a_t, b_scaled, M_t)):
        plan = op.plan(reg, f, g, log_a, log_b) if M_t.requires_grad else None
        term = envelope_terms(f, g, a_t, b_scaled, M=M_t, plan=plan)
        cost, objective = cost + term, objective + term
    return make_result(op, f, g, cost, objective, n_iter=n_iter, marginal_error=err,
                       converged=converged, reg=reg, log_a=log_a, log_b=log_b,
                       use_numpy=use_numpy)
