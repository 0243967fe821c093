r"""The debiased Sinkhorn divergence :math:`S_\varepsilon` (Feydy et al. 2019)."""

from __future__ import annotations

import warnings

import torch

from .._validation import check_order
from .._warnings import ConvergenceWarning, external_stacklevel
from ..costs import distances
from ..sample import as_sample
from ._softmin import TILE_ENTRIES, cost_bound
from .samples import SAMPLES_TOL, PointProblem, gradient_term, solve
from .solver import DEFAULT_SCALING, SinkhornOptions, warn_not_converged

__all__ = ["sinkhorn_divergence"]


def _dual_value(problem, eps, backend, options, scale, *, symmetric=False):
    r"""``(OT_ε + zero-valued gradient term, marginal error)`` in the local frame.

    The value is the dual :math:`\langle a, f\rangle + \langle b, g\rangle` of a
    pair with exact column marginals (``g`` a full soft-min of ``f``), hence
    accurate to second order in the distance to the optimum, also at large ε
    where one sweep already meets the marginal tolerance.
    """
    op, f, g, _, err = solve(problem, eps, backend, options, symmetric=symmetric, cost_scale=scale)
    if err > options.tol:
        warn_not_converged("sinkhorn_divergence", options, problem.input_reg(eps), err)
    b = problem.a if symmetric else problem.b
    value = (problem.a.detach() * f).sum() + (b.detach() * g).sum()
    return value + gradient_term(problem, op, eps, f, g, symmetric=symmetric), err


def _coupling_moments(x, a, y, b, order):
    r"""``(m, v)``: :math:`m = \langle a\otimes b, C\rangle`, :math:`v = \lVert \tilde C\rVert^2_{a\otimes b}`.

    :math:`\tilde C_{ij} = C_{ij} - r_i - c_j + m` is the cost minus its best
    additive approximation (row means :math:`r = C b`, column means
    :math:`c = C^\top a`), so
    :math:`v = \sum_{ij} a_i b_j C_{ij}^2 - \langle a, r^2\rangle - \langle b, c^2\rangle + m^2`.
    Streamed over row blocks; differentiable.
    """
    step = max(1, TILE_ENTRIES // y.shape[0])
    rows_mean, cols_mean, second = [], 0.0, 0.0
    for start in range(0, x.shape[0], step):
        block = slice(start, start + step)
        C = distances(x[block], y)
        C = C if order == 1 else C ** order
        rows_mean.append(C @ b)
        cols_mean = cols_mean + a[block] @ C
        second = second + a[block] @ ((C * C) @ b)
    r = torch.cat(rows_mean)
    m = a @ r
    return m, second - a @ (r * r) - b @ (cols_mean * cols_mean) + m * m


def _large_eps_divergence(problem, eps):
    r"""Second-order expansion of :math:`S_\varepsilon` in :math:`1/\varepsilon`.

    :math:`\mathrm{OT}_\varepsilon(\alpha, \beta) = \langle a\otimes b, C\rangle
    - \lVert \tilde C\rVert^2_{a\otimes b} / (2\varepsilon) + O(\varepsilon^{-2})`
    (expand the dual to second order: the potentials are the best additive
    approximation of :math:`C` in :math:`L^2(a\otimes b)`), and the same for
    the symmetric terms.
    """
    p = problem
    m_xy, v_xy = _coupling_moments(p.xl, p.a, p.yl, p.b, p.order)
    m_xx, v_xx = _coupling_moments(p.xl, p.a, p.xl, p.a, p.order)
    m_yy, v_yy = _coupling_moments(p.yl, p.b, p.yl, p.b, p.order)
    return (m_xy - 0.5 * (m_xx + m_yy)) - (v_xy - 0.5 * (v_xx + v_yy)) / (2 * eps)


def _same_measure(problem) -> bool:
    """Whether both samples are the same points with the same weights (bit for bit)."""
    p = problem
    return (p.x.shape == p.y.shape and torch.equal(p.x.detach(), p.y.detach())
            and torch.equal(p.a.detach(), p.b.detach()))


def _swapped(problem):
    """The same problem with the roles of the two samples exchanged (same frame)."""
    return problem.swapped()


def sinkhorn_divergence(p, q, *, a=None, b=None, reg: float | None = None, order: float = 1,
                        tol: float = SAMPLES_TOL, max_iter: int | None = None,
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
        Their weights, normalised to sum 1; uniform by default.
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
    All three terms are solved in one frame (:mod:`otlab.entropic.samples`),
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
    problem = PointProblem.build(as_sample(p, "p", weights=a, weights_name="a"),
                                 as_sample(q, "q", weights=b, weights_name="b"), order, ("p", "q"))
    options = SinkhornOptions.build(tol=tol, max_iter=max_iter, scaling=scaling,
                                    acceleration=acceleration)
    return divergence(problem, reg, backend, options)


def divergence(problem, reg, backend: str, options: SinkhornOptions):
    """:math:`S_\varepsilon` of a built problem (the body of :func:`sinkhorn_divergence`,
    shared with :func:`otlab.distributed.sharded_sinkhorn_divergence`)."""
    eps = problem.local_reg(reg)
    if _same_measure(problem):
        zero = sum((v * 0).sum() for v in (problem.x, problem.a, problem.y, problem.b))
        return problem.out.cost(zero)
    ulp = torch.finfo(problem.xl.dtype).eps
    scale = cost_bound(problem.xl.detach(), problem.yl.detach(), problem.order)
    if eps > ulp ** (-1 / 3) * scale:
        value = _large_eps_divergence(problem, eps)
        bound = 64 * ulp * scale
    else:
        ot_xy, err_xy = _dual_value(problem, eps, backend, options, scale)
        ot_xx, err_xx = _dual_value(problem, eps, backend, options, scale, symmetric=True)
        ot_yy, err_yy = _dual_value(_swapped(problem), eps, backend, options, scale, symmetric=True)
        value = ot_xy - 0.5 * (ot_xx + ot_yy)
        bound = eps * (err_xy + 0.5 * (err_xx + err_yy)) + 64 * ulp * float(
            ot_xy.detach().abs() + 0.5 * (ot_xx.detach().abs() + ot_yy.detach().abs()))
    computed = float(value.detach())
    if computed < 0:
        if computed < -bound:
            warnings.warn(
                f"sinkhorn_divergence came out at {float(problem.out.cost(value.detach())):.3g}, "
                f"below 0 by more than its error bound {float(problem.out.cost(torch.tensor(bound))):.2g}; "
                "returned 0. Use a smaller tol.", ConvergenceWarning, stacklevel=external_stacklevel())
        value = value - value.detach()  # 0, keeping the gradient
    return problem.out.cost(value)
