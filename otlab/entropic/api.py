r"""The entry points of entropic OT: histograms, point clouds, :math:`W_k`, :math:`S_\varepsilon`.

* :func:`sinkhorn` — histograms and a cost matrix (``reg`` = absolute ε, as POT);
* :func:`sinkhorn_samples` — point clouds (:mod:`otlab.entropic.problem`), with
  the back-end chosen by memory (:mod:`otlab.entropic.backend`);
* :func:`wasserstein_sinkhorn` — the engine of ``otlab.wasserstein(method="sinkhorn")``;
* :func:`sinkhorn_divergence` — the debiased :math:`S_\varepsilon`
  (:mod:`otlab.entropic.divergence`).

Each validates its input, builds the problem and the options, runs the one
loop (:mod:`otlab.entropic.solver`) and returns a result
(:mod:`otlab.entropic.result`) in the caller's units and kind.
"""

from __future__ import annotations

import numpy as np
import torch

from .._backend import any_torch, is_torch, working_dtype
from .._validation import as_cost_matrix, as_histogram, check_order, check_positive, check_same_mass
from ..frames import power_of_two_at_least
from ..sample import sample_pair
from ._far_massless import far_masks, far_rows, without_far_points, without_far_rows
from ._threads import loop_threads
from .divergence import divergence
from .operators import DenseOperator
from .problem import PointProblem
from .result import Output, SinkhornResult, _Solution
from .solver import (DEFAULT_SCALING, DEFAULT_TOL, MASS_RTOL, SAMPLES_TOL, SinkhornOptions,
                     check_resolution, envelope_terms, epsilon_schedule, finish, sinkhorn_loop, solve_problem)

__all__ = ["sinkhorn", "sinkhorn_samples", "wasserstein_sinkhorn", "sinkhorn_divergence"]


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


def _check_held_digits(M, weights, held, eps: float, reg: float) -> None:
    """Raise when the unit set by rows of weight 0 leaves the costs with mass or ε no digit.

    The unit is that of every entry, so that no cost overflows; rows or columns of weight 0
    costing 1e300 beside costs with mass of size 1e-10 (float64), or 3e38 beside 1
    (float32), left ε subnormal in it, where 1/ε overflows: the solver raised
    ZeroDivisionError, FloatingPointError ('try a larger reg') or RuntimeError, or
    (unbalanced) returned a marginal error of 4e306 (measured).  ε must be at least the
    reciprocal of the largest float, and the largest cost with mass keep half its digits
    (subnormal ones lose digits).
    """
    info = torch.finfo(held.dtype)
    name = str(held.dtype).replace("torch.", "")
    top = float(M[weights[0] > 0][:, weights[1] > 0].abs().max())
    largest = float(M.abs().max())
    subnormal = info.smallest_normal * info.eps  # the spacing of the subnormal floats
    if top > 0 and not float(held.abs().max()) * info.eps**0.5 >= subnormal:
        raise ValueError(
            f"M: its rows or columns of weight 0 hold costs up to {largest:.3g}, so far above "
            f"the costs between rows and columns with mass (largest {top:.3g}) that in {name} "
            "units of the former the latter lose their digits. Leave the rows and columns of "
            "weight 0 out: they enter no entry of the plan.")
    if not eps * info.max >= 1.0:
        raise ValueError(
            f"reg={reg:g} underflows {name} in units of M's largest entry {largest:.3g}, that of "
            f"a row or column of weight 0 (the costs with mass reach {top:.3g}). Leave the rows "
            "and columns of weight 0 out: they enter no entry of the plan.")


def _dense_problem(M_t, reg, options, out, *, from_least: bool = False, weights=None):
    """A histogram problem in the cost's power-of-two unit.

    Returns the dense operator on :math:`C / s`, :math:`\\varepsilon / s`, the
    ε-scaling schedule, the output record carrying :math:`s` and :math:`s`
    itself, with :math:`s` the power of two at or above :math:`\\max |C|`.
    With ``from_least`` (balanced problems only, whose plan a constant in the
    costs does not change) the operator holds :math:`C/s - c` with
    :math:`c = \\min C/s`, also returned (else 0): the potentials then have
    the size of the costs' spread, not of the costs, and so has their
    round-off.  Costs in [1000, 1001] at ε = 0.01 in float32 left a marginal
    error of 0.028 (potentials of 1e5 ε carry round-off 0.012 ε) and a cost
    2.5 too low.  ``reg`` is still checked against the costs' own size,
    whose round-off the input carries: that of the entries between rows and
    columns with mass, where ``weights`` ``(a, b)`` are given.  A row of weight 0
    enters no entry of the plan, and its costs (given, exactly divided by
    :math:`s`) leave the others their digits: beside data with costs near 1, a row
    of weight 0 costing 1e12 refused reg=1e-3 as below what float64 resolves, and
    accepted reg=1e16, refused without it (measured).  The least cost and the
    spread that starts the ε-scaling are those entries' too: with that row's
    spread the schedule began 12 decades above the data's costs, and at reg=1e-2
    (order-2 costs near 1) 1000 iterations did not reach reg.
    """
    scale = power_of_two_at_least(float(M_t.detach().abs().max()))
    out = Output(numpy=out.numpy, dtype=out.dtype, scale=scale)
    eps = reg / scale
    C = M_t.detach() / scale
    held = C if weights is None else C[weights[0] > 0][:, weights[1] > 0]
    if not held.numel():  # no mass on one side: every entry
        held = C
    elif held.numel() < C.numel():
        _check_held_digits(M_t.detach(), weights, held, eps, reg)
    check_resolution(eps, float(held.abs().max()), M_t.dtype, reg=reg,
                     cost_unit=lambda c: c * scale)
    least = float(held.min()) if from_least else 0.0
    op = DenseOperator(C - least if least else C)
    span = float(held.max() - held.min())
    schedule = epsilon_schedule(max(span, eps), eps, options.scaling)
    return op, eps, schedule, out, scale, least

def sinkhorn(a, b, M, reg, *, tol: float | None = None, max_iter: int | None = None,
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
    near 1e-300 or 1e300 are handled alike, and solved from its smallest entry
    (a constant added to every cost changes no plan), so costs in [1000, 1001]
    are resolved as well as costs in [0, 1].  The potentials returned share
    that constant equally.  Rows and columns of weight 0 whose costs exceed 256
    times the largest cost between rows and columns with mass are left out of
    the solve (they change no plan entry, but would set the unit): their plan
    entries are 0, their potentials the soft-min of the other side's
    (:mod:`otlab.entropic._far_massless`).

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
    tol : float, optional
        Stop when :math:`\lVert P 1 - a\rVert_1 + \lVert P^\top 1 - b\rVert_1 \le`
        ``tol`` :math:`\cdot \min(1, \sum a)`: within ``tol``, and within ``tol``
        relative to a total mass below 1 (histograms of mass :math:`10^{-8}` are
        solved as far as those of mass 1).  That error is measured in the working dtype, with a round-off floor
        :math:`F \approx 2\,\text{ulp}\,((\max|f| + \max|g|)/\varepsilon + \sqrt{n + m})`
        (:mod:`otlab.entropic._roundoff`; about :math:`10^{-13}` in float64
        and :math:`10^{-4}` in float32 at :math:`\max M/\varepsilon = 1000`):
        a ``tol`` below :math:`2F` cannot be certified, so the iterations stop
        at the floor and the result has ``converged=False`` with a
        ConvergenceWarning saying so.  Default 1e-6, raised to :math:`2F`
        when that is larger.
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
                                    acceleration=acceleration, default_tol=DEFAULT_TOL)
    b_t = b_t * (a_t.sum() / b_t.sum())
    masks = far_rows(a_t, b_t, M_t)
    if masks is not None:  # rows of weight 0 whose costs would set the unit: solved without
        def solve(a, b, M):
            return sinkhorn(a, b, M, reg, tol=tol, max_iter=max_iter, scaling=scaling,
                            mass_rtol=mass_rtol, acceleration=acceleration)
        return without_far_rows(solve, a, b, M, masks, b_t)
    op, eps, schedule, out, scale, least = _dense_problem(M_t, reg, options, out, from_least=True,
                                                          weights=(a_t, b_t))

    with torch.no_grad(), loop_threads(tuple(M_t.shape), M_t.device):
        aa, bb = a_t.detach(), b_t.detach()
        f, g, n_iter, err = sinkhorn_loop(op, aa, bb, schedule, options)
        cost, err, converged = finish(op, aa, bb, f, g, eps, err, options, name="sinkhorn",
                                      reg=reg, out=out)
        mass = aa.sum()
        objective = (aa * f).sum() + (bb * g).sum() - eps * (mass - mass * mass)
        # The costs were solved from their least, `least`: every plan moves `mass`, so cost
        # and objective gain least * mass, and each potential half of least.
        cost, objective = cost + least * mass, objective + least * mass
    f_out, g_out = f + least / 2, g + least / 2
    log_a, log_b = aa.log(), bb.log()
    if any(v.requires_grad for v in (a_t, b_t, M_t)):
        plan = op.plan(eps, f, g, log_a, log_b) if M_t.requires_grad else None
        term = envelope_terms(f_out, g_out, a_t, b_t, M=M_t / scale, plan=plan)
        cost, objective = cost + term, objective + term
    return SinkhornResult(
        f=out.cost(f_out), g=out.cost(g_out), cost=out.cost(cost), objective=out.cost(objective),
        n_iter=n_iter, marginal_error=err, converged=converged, reg=reg, backend=op.name,
        _solution=_Solution(op, f, g, eps, log_a, log_b, out),
    )


def sinkhorn_samples(x, y, a=None, b=None, *, reg: float | None = None, order: float = 2,
                     tol: float | None = None, max_iter: int | None = None,
                     scaling: float | None = DEFAULT_SCALING, backend: str = "auto",
                     acceleration="anderson") -> SinkhornResult:
    r"""Entropic OT between weighted point clouds, without forming the cost matrix if large.

    Solves :func:`otlab.entropic.sinkhorn` with :math:`M_{ij} = \lVert x_i - y_j\rVert_2^k`,
    in a common frame (see the module notes), where the back-end computes the
    costs from coordinate differences:

    * ``"dense"``: the :math:`n \times m` matrix, formed once, and two absorbed
      kernels (three :math:`n \times m` arrays);
    * ``"tiled"``: row blocks of costs recomputed when needed; the two kernels
      are kept (in blocks) when they fit the memory budget, so each soft-min
      is a matrix-vector product as for ``"dense"``, and otherwise every
      soft-min streams an exponential per entry;
    * ``"triton"``: a fused CUDA kernel (costs and log-sum-exp in registers);
      falls back to ``"tiled"`` where triton is not installed;
    * ``"auto"``: dense when its arrays fit in a quarter of the available
      memory (:func:`choose_backend`); beyond, triton on CUDA, else tiled.

    Parameters
    ----------
    x, y : array-like, Tensor or Sample, shapes (n, d) and (m, d)
        The points (1-D input is read as points on the line).
    a, b : array-like or Tensor, optional
        Weights, normalised to sum 1; uniform by default.  Points of weight 0
        are kept (the plan and the potentials have a row or column for each),
        but those farther from the mass than 16 times its reach are left out
        of the solve, where they would only set the frame: their plan entries
        are 0 and their potentials the soft-min of the other side's
        (:mod:`otlab.entropic._far_massless`).
    reg : float, optional
        ε in cost units; by default :func:`default_reg`, :math:`0.004\, m_2^{k/2}`.
    order : float, default 2
        The exponent ``k`` of the cost.
    tol : float, optional
        L1 marginal tolerance, as in :func:`otlab.entropic.sinkhorn` (a
        ``tol`` below what the dtype resolves for the problem gives
        ``converged=False``).  Default 1e-4, looser than
        :func:`~otlab.entropic.sinkhorn`'s 1e-6: it bounds the cost error by
        about ``tol * max cost``, far below the entropic bias; raised to the
        smallest tolerance the dtype certifies when that is larger (float32
        at the default ε).
    max_iter, scaling, acceleration
        As in :func:`otlab.entropic.sinkhorn`.
    backend : {"auto", "dense", "tiled", "triton"}, default "auto"

    Returns
    -------
    SinkhornResult
        For torch input with ``requires_grad``, ``cost`` and ``objective``
        are differentiable with respect to points and weights through the
        potentials (envelope theorem).  ``result.apply(v)`` computes
        :math:`P v` without forming :math:`P`.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[0.0, 0.0], [1.0, 0.0]])
    >>> res = sinkhorn_samples(x, x + [0.0, 2.0], order=2)
    >>> round(res.cost, 6)  # every point moves by 2: cost 2^2
    4.0
    """
    order = check_order(order)
    sp, sq = sample_pair(x, y, a, b, names=("x", "y"))
    masks = far_masks(sp, sq)
    if masks is not None:  # far points of weight 0 would set the frame: solved without them
        def solve(x, y, a, b):
            return sinkhorn_samples(x, y, a, b, reg=reg, order=order, tol=tol,
                                    max_iter=max_iter, scaling=scaling, backend=backend,
                                    acceleration=acceleration)
        return without_far_points(solve, sp, sq, masks, order)
    problem = PointProblem.build(sp, sq, order)
    options = SinkhornOptions.build(tol=tol, max_iter=max_iter, scaling=scaling,
                                    acceleration=acceleration, default_tol=SAMPLES_TOL)
    cost, objective, n_iter, err, converged, eps, solution = solve_problem(
        problem, reg, backend, options, "sinkhorn_samples")
    out = problem.out
    return SinkhornResult(
        f=out.cost(solution.f), g=out.cost(solution.g), cost=out.cost(cost),
        objective=out.cost(objective), n_iter=n_iter, marginal_error=err, converged=converged,
        reg=problem.input_reg(eps), backend=solution.op.name, _solution=solution,
    )


def wasserstein_sinkhorn(p, q, *, a=None, b=None, order: float = 1, max_iter: int | None = None,
                         reg: float | None = None, tol: float | None = None,
                         scaling: float | None = DEFAULT_SCALING, backend: str = "auto",
                         acceleration="anderson"):
    r"""Entropic estimate of :math:`W_k`: the k-th root of the entropic plan's cost.

    .. math::

        W_{k,\varepsilon} = \langle P_\varepsilon, C_k\rangle^{1/k}
        \ge W_k, \qquad C_k = \lVert x_i - y_j\rVert_2^k,

    where :math:`P_\varepsilon` solves the entropic problem.  This is what
    ``otlab.wasserstein(p, q, method="sinkhorn", ...)`` returns; with the
    default ε (:func:`default_reg`) it is within 1 % of the exact :math:`W_1`
    and :math:`W_2` on samples of a few thousand points.  The root is taken
    in the common frame and scaled back by its power of two, so the value is
    finite wherever :math:`W_k` is, even when :math:`W_k^k` is not.

    Parameters
    ----------
    p, q : array-like, Tensor or Sample
        The samples, as in :func:`otlab.wasserstein`.
    a, b : array-like or Tensor, optional
        Their weights (normalised to sum 1; uniform by default); points of
        weight 0 are left out, as in :func:`sinkhorn_divergence`.
    order : float, default 1
    max_iter : int or None
    reg, tol, scaling, backend, acceleration
        As in :func:`sinkhorn_samples`.

    Returns
    -------
    float or Tensor
        A float for numpy input; a 0-dim tensor on the input's device and in
        its dtype for torch input, whose gradient is that of
        :math:`\mathrm{OT}_\varepsilon^{1/k}` (envelope theorem; it tends to
        :math:`\nabla W_k` as ε → 0).

    Examples
    --------
    >>> import numpy as np
    >>> x = np.zeros((3, 2))
    >>> round(wasserstein_sinkhorn(x, x + [3.0, 4.0]), 6)
    5.0
    """
    order = check_order(order)
    problem = PointProblem.build(*sample_pair(p, q, a, b), order, massless="drop")
    options = SinkhornOptions.build(tol=tol, max_iter=max_iter, scaling=scaling,
                                    acceleration=acceleration, default_tol=SAMPLES_TOL)
    cost, *_ = solve_problem(problem, reg, backend, options, "wasserstein(method='sinkhorn')")
    cost = cost.clamp_min(0)
    value = (cost if order == 1 else cost ** (1.0 / order)) * problem.frame.scale
    return float(value) if problem.out.numpy else value.to(problem.out.dtype)


def sinkhorn_divergence(p, q, *, a=None, b=None, reg: float | None = None, order: float = 1,
                        tol: float | None = None, max_iter: int | None = None,
                        scaling: float | None = DEFAULT_SCALING, backend: str = "auto",
                        acceleration="anderson"):
    r"""Debiased Sinkhorn divergence between two samples.

    .. math::

        S_\varepsilon(\alpha, \beta) = \mathrm{OT}_\varepsilon(\alpha, \beta)
        - \tfrac12 \mathrm{OT}_\varepsilon(\alpha, \alpha)
        - \tfrac12 \mathrm{OT}_\varepsilon(\beta, \beta),

    with :math:`\mathrm{OT}_\varepsilon(\alpha, \beta) = \min_{P \in \Pi(a, b)}
    \langle P, C\rangle + \varepsilon \mathrm{KL}(P \,\|\, a \otimes b)` and
    :math:`C_{ij} = \lVert x_i - y_j\rVert_2^k`.  For these costs
    :math:`S_\varepsilon \ge 0`, with equality iff :math:`\alpha = \beta`; it
    interpolates between :math:`W_k^k` (ε → 0) and half the energy distance
    :math:`\langle \alpha\otimes\beta, C\rangle - \tfrac12\langle\alpha\otimes\alpha, C\rangle
    - \tfrac12\langle\beta\otimes\beta, C\rangle` (ε → ∞).  The value is in
    cost units (no k-th root).

    Parameters
    ----------
    p, q : array-like, Tensor or Sample
        Samples of shape (n, d) / (m, d) (or (n,)), as in :func:`otlab.wasserstein`.
    a, b : array-like or Tensor, optional
        Their weights, normalised to sum 1; uniform by default.  Points of
        weight 0 are left out (they carry no mass, but where they lie would
        set the frame and the cost scale), unless the weights require a
        gradient: then they are kept, and a ``ValueError`` says so if they lie
        more than ``2**26`` times farther out than the points with mass.
    reg : float, optional
        ε in cost units; default :func:`otlab.entropic.default_reg`, :math:`0.004\, m_2^{k/2}`.
    order : float, default 1
        The exponent ``k``.
    tol, max_iter, scaling, backend, acceleration
        As in :func:`otlab.entropic.sinkhorn_samples` (``acceleration`` applies to
        the cross term; the symmetric terms need none).

    Returns
    -------
    float or Tensor
        :math:`S_\varepsilon \ge 0`; for torch input a 0-dim tensor on the
        input's device and in its dtype, differentiable with respect to points
        and weights through the potentials (envelope theorem).

    Warns
    -----
    ConvergenceWarning
        When a term misses ``tol``, or when the computed value is negative by
        more than its error bound (it is then returned as 0, and the warning
        gives the negative value).

    Notes
    -----
    All three terms are solved in one frame (:mod:`otlab.entropic.problem`),
    so the value is translation-invariant and scales as :math:`|c|^k`.  Beyond
    :math:`\varepsilon = \text{ulp}^{-1/3} \max C` (1.6e5 times the largest cost in
    float64), where the potentials' round-off (ulp·ε) would exceed it, the
    second-order expansion
    :math:`\mathrm{OT}_\varepsilon = \langle a\otimes b, C\rangle - \lVert\tilde C\rVert^2/(2\varepsilon)`
    (:math:`\tilde C` the doubly centred cost) is used instead, accurate to
    :math:`O(\max C^3/\varepsilon^2)`.  Each
    term is the dual value of a pair whose column marginals are exact — the
    symmetric terms end with a full soft-min after the averaged iterations, as
    GeomLoss's final extrapolation does — so its error is second order in the
    marginal error, which keeps the difference of three nearly equal numbers
    accurate down to the MMD limit (ε → ∞).  The same points with the same
    weights give exactly 0, and a value below 0 by less than the terms' error
    bound (ε times their marginal errors, plus round-off) is returned as 0.

    References
    ----------
    J. Feydy, T. Séjourné, F.-X. Vialard, S. Amari, A. Trouvé, G. Peyré (2019).
    Interpolating between optimal transport and MMD using Sinkhorn
    divergences. AISTATS.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x, y = rng.normal(size=(50, 2)), rng.normal(size=(40, 2)) + 2.0
    >>> sinkhorn_divergence(x, x)
    0.0
    >>> sinkhorn_divergence(x, y, order=2) > 0
    True
    """
    order = check_order(order)
    problem = PointProblem.build(*sample_pair(p, q, a, b), order, massless="drop")
    options = SinkhornOptions.build(tol=tol, max_iter=max_iter, scaling=scaling,
                                    acceleration=acceleration, default_tol=SAMPLES_TOL)
    return divergence(problem, reg, backend, options)
