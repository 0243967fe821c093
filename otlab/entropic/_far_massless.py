r"""Points (and cost rows) of weight 0 far from the mass, left out of the Sinkhorn solve.

A point of weight 0 changes no transport cost, but kept in the problem it sets the
common frame: beside data of size 1, one at (1e100, 1e100) left the data at one
point of the frame, where every cost with mass is 0 (refused, 'points of weight 0
set the frame').  The points of weight 0 beyond
:data:`~otlab.costs.FAR_FACTOR` times the mass's reach
(:func:`~otlab.costs.far_zero_weight`, as the exact solver) are left out,
the problem is solved without them, and the result is filled back to full size: their
rows or columns of the plan are 0, and their potentials are the entropic c-transform
(soft-min) of the other side's,

.. math::

    f_i = -\varepsilon \log \sum_j b_j \exp\big((g_j - c(x_i, y_j))/\varepsilon\big),

in the caller's units, from costs formed in float64 data units
(:func:`~otlab.costs.data_costs`), capped at the dtype's largest float
where they overflow (then still below the true value, and finite); their weight
gradient, :math:`f_i` (the first variation), is capped lower still, at
:data:`~otlab.entropic.solver.INFINITE_GRADIENT` times the largest float, so that
the weights' normalisation keeps it finite.  The value, the plan's
entries with mass and the gradients in the kept points and weights are those of
the problem without the far points.

Histograms (:func:`~otlab.entropic.sinkhorn`): the costs' unit is that of every entry,
so a row or column of weight 0 costing 1e300 beside costs with mass of 1e-10 left those
without digits (refused, naming ``M`` or ``reg``).  Rows and columns of weight 0 with a
cost above :data:`FAR_COST` times the largest cost with mass are left out and filled
back the same way, from the given costs (:func:`far_rows`, :func:`without_far_rows`).

Unbalanced problems (:func:`~otlab.entropic.unbalanced_sinkhorn` at finite ``rho``,
:func:`~otlab.entropic.unbalanced_sinkhorn_samples`) are filled back alike, with their
masses kept (not normalised): the far potentials are the solver's damped update of that
row, :math:`\rho / (\rho + \varepsilon)` times the soft-min, the plan's marginals 0
there, and the weight gradient :math:`\varphi_\rho(f_i) + \varepsilon m_b`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch

from .._validation import as_cost_matrix, as_histogram

__all__ = ["far_masks", "without_far_points", "far_rows", "without_far_rows", "FAR_COST"]

#: A row or column of weight 0 of a cost matrix is left out of the solve when one of its
#: costs exceeds this many times the largest cost between rows and columns with mass
#: (the square of the points' FAR_FACTOR): its costs would otherwise set the unit.
FAR_COST = 256.0


def _float64(v) -> np.ndarray:
    if isinstance(v, torch.Tensor):
        return v.detach().cpu().to(torch.float64).numpy()
    return np.asarray(v, dtype=np.float64)


def far_masks(sp, sq):
    """Masks ``(far_x, far_y)`` of the far points of weight 0 of two samples, or ``None``."""
    from ..costs import far_zero_weight

    a, b = _float64(sp.probabilities), _float64(sq.probabilities)
    if bool((a > 0).all() and (b > 0).all()):
        return None
    far_x, far_y = far_zero_weight(_float64(sp.points), a, _float64(sq.points), b)
    return (far_x, far_y) if far_x.any() or far_y.any() else None


def _soft_c_transform(cost, weights, pot, eps, largest, damping=1.0):
    """:math:`-\\varepsilon \\log \\sum_j w_j e^{(h_j - c_{ij})/\\varepsilon}` over ``w > 0``, capped.

    ``cost`` (r, m) in float64 caller units, ``weights`` and ``pot`` (m,) those of the
    other side; times ``damping`` (unbalanced: :math:`\\rho / (\\rho + \\varepsilon)`)
    before the cap.
    """
    mass = weights > 0
    values = cost[:, mass] - pot[mass][None, :]
    low = values.min(1) if values.shape[0] else np.zeros(0)
    with np.errstate(invalid="ignore", over="ignore", under="ignore", divide="ignore"):
        terms = np.log(weights[mass])[None, :] - (values - low[:, None]) / eps
        top = terms.max(1) if values.shape[0] else np.zeros(0)
        u = low - eps * (top + np.log(np.exp(terms - top[:, None]).sum(1)))
    u = np.where(np.isfinite(low), damping * u, np.inf)
    return np.minimum(u, largest)


@dataclass(frozen=True)
class _Embedded:
    """An operator whose plans are put back at the kept rows and columns of a larger one."""

    op: object
    rows: torch.Tensor
    cols: torch.Tensor
    n: int
    m: int

    @property
    def name(self):
        return self.op.name

    def plan(self, eps, f, g, log_a, log_b):
        part = self.op.plan(eps, f, g, log_a, log_b)
        full = part.new_zeros((self.n, self.m))
        full[self.rows[:, None], self.cols[None, :]] = part
        return full

    def apply_plan(self, eps, f, g, log_a, log_b, v):
        part = self.op.apply_plan(eps, f, g, log_a, log_b, v[self.cols])
        full = part.new_zeros((self.n,) + tuple(part.shape[1:]))
        full[self.rows] = part
        return full


def _take(v, keep):
    return v[torch.as_tensor(keep, device=v.device)] if isinstance(v, torch.Tensor) else v[keep]


def without_far_points(solve, sp, sq, masks, order, *, masses=None, rho=None):
    """``solve(x, y, a, b)`` on the samples without the far points, filled back to full size.

    ``solve`` returns a :class:`~otlab.entropic.SinkhornResult` in the caller's units.
    Unbalanced problems give ``masses`` (the caller's weights ``(a, b)``, not normalised;
    ``None`` for uniform ones) and ``rho`` (the pair of KL weights in cost units).
    """
    from ..costs import data_costs

    far_x, far_y = masks
    keep_x, keep_y = ~far_x, ~far_y
    x, a, y, b = sp.points, sp.probabilities, sq.points, sq.probabilities
    if masses is not None:  # the totals matter: the caller's weights, not normalised
        a, b = (p if m is None else m if isinstance(m, torch.Tensor) else np.asarray(m)
                for m, p in zip(masses, (a, b)))
    res = solve(_take(x, keep_x), _take(y, keep_y), _take(a, keep_x), _take(b, keep_y))
    xs, ys = _float64(x), _float64(y)
    return _filled(res, a, b, masks, data_costs(xs[far_x], ys[keep_y], order),
                   data_costs(ys[far_y], xs[keep_x], order), rho=rho)


def far_rows(a, b, M):
    """Masks ``(rows, cols)`` of the rows and columns of weight 0 of ``M`` (tensors) with a
    cost above :data:`FAR_COST` times the largest cost with mass, or ``None``."""
    keep_a, keep_b = a.detach() > 0, b.detach() > 0
    if bool(keep_a.all() and keep_b.all()):
        return None
    C = M.detach().abs()
    limit = FAR_COST * float(C[keep_a][:, keep_b].max())
    rows = (~keep_a & ~(C.max(1).values <= limit)).cpu().numpy()
    cols = (~keep_b & ~(C.max(0).values <= limit)).cpu().numpy()
    return (rows, cols) if rows.any() or cols.any() else None


def without_far_rows(solve, a, b, M, masks, b_scaled, *, rho=None):
    """``solve(a, b, M)`` without the far rows and columns of weight 0, filled back.

    ``a``, ``b``, ``M`` are the caller's inputs (arrays or tensors, validated here as
    :func:`~otlab.sinkhorn` validates them); ``b_scaled``
    (tensor) is ``b`` at ``a``'s mass, the weights of the columns' soft-min (``b``
    itself for unbalanced problems, which give ``rho``, the pair of KL weights).
    """
    a, b = as_histogram(a, "a"), as_histogram(b, "b")
    M = as_cost_matrix(M, (a.shape[0], b.shape[0]), "M")
    rows, cols = masks
    keep_r, keep_c = ~rows, ~cols
    res = solve(_take(a, keep_r), _take(b, keep_c), _take(_take(M, keep_r).T, keep_c).T)
    Mf = _float64(M)
    return _filled(res, a, b, masks, Mf[rows][:, keep_c], Mf[keep_r][:, cols].T,
                   weights=(_float64(a), _float64(b_scaled)), rho=rho)


def _filled(res, a, b, masks, row_costs, col_costs, *, weights=None, rho=None):
    r"""The result ``res`` of the problem without the far entries, at full size.

    With KL weights ``rho`` (unbalanced, cost units) the potentials are the damped
    soft-min :math:`\lambda f_i`, :math:`\lambda = \rho / (\rho + \varepsilon)` (the
    solver's update of that row, once), the weight gradient
    :math:`\varphi_\rho(f_i) + \varepsilon m_b` (that of the unbalanced problem), and
    the plan's marginals are 0 there.
    """
    far_x, far_y = masks
    keep_x, keep_y = ~far_x, ~far_y
    wa, wb = weights if weights is not None else (_float64(a), _float64(b))
    f_kept, g_kept = _float64(res.f), _float64(res.g)
    is_torch = isinstance(res.f, torch.Tensor)
    dtype = res.f.dtype
    largest = float(torch.finfo(dtype).max if is_torch else np.finfo(dtype).max)
    lam_a, lam_b = (1.0, 1.0) if rho is None else (  # unbalanced: the solver's damped update
        1.0 if r == np.inf else r / (r + res.reg) for r in rho)
    f_far = _soft_c_transform(row_costs, wb[keep_y], g_kept, res.reg, largest, lam_a)
    g_far = _soft_c_transform(col_costs, wa[keep_x], f_kept, res.reg, largest, lam_b)

    def full(kept, far, keep, mask):
        if is_torch:
            out = kept.new_empty(keep.shape[0])
            out[torch.as_tensor(keep, device=out.device)] = kept.detach()
            out[torch.as_tensor(mask, device=out.device)] = torch.as_tensor(
                far, dtype=out.dtype, device=out.device)
            return out
        out = np.empty(keep.shape[0], dtype=kept.dtype)
        out[keep], out[mask] = kept, far
        return out

    f, g = full(res.f, f_far, keep_x, far_x), full(res.g, g_far, keep_y, far_y)
    cost, objective = res.cost, res.objective
    if is_torch and torch.is_grad_enabled() and (_needs(a, far_x) or _needs(b, far_y)):
        # the far points' weight gradient: their potentials (first variation), finite
        if rho is None:
            term = _term(a, f, far_x) + _term(b, g, far_y)
        else:
            term = (_term(a, f, far_x, rho=rho[0], eps_mass=res.reg * float(wb.sum()))
                    + _term(b, g, far_y, rho=rho[1], eps_mass=res.reg * float(wa.sum())))
        cost, objective = cost + term, objective + term
    extra = {}
    if rho is not None:  # the plan's marginals: 0 at the far entries
        extra = {"row_marginal": full(res.row_marginal, 0.0, keep_x, far_x),
                 "col_marginal": full(res.col_marginal, 0.0, keep_y, far_y)}
    s = res._solution
    dev = s.f.device
    op = _Embedded(s.op, torch.as_tensor(np.flatnonzero(keep_x), device=dev),
                   torch.as_tensor(np.flatnonzero(keep_y), device=dev), keep_x.size, keep_y.size)
    return replace(res, f=f, g=g, cost=cost, objective=objective, _solution=replace(s, op=op),
                   **extra)


def _needs(w, mask) -> bool:
    return isinstance(w, torch.Tensor) and w.requires_grad and bool(mask.any())


def _term(w, pot, mask, *, rho=None, eps_mass=0.0):
    if not _needs(w, mask):
        return 0.0
    from .penalty import phi
    from .solver import INFINITE_GRADIENT

    idx = torch.as_tensor(mask, device=w.device)
    part = w[idx]
    grad = pot[idx].to(torch.float64)
    if rho is not None:  # unbalanced: phi_rho(f) + eps m_b
        grad = phi(grad, rho) + eps_mass
    # capped below the largest float, with room for the weights' normalisation
    grad = grad.to(part.dtype).clamp(max=torch.finfo(part.dtype).max * INFINITE_GRADIENT)
    return (grad * (part - part.detach())).sum()
