r"""Points of weight 0 far from the mass, left out of :func:`~otlab.entropic.sinkhorn_samples`.

A point of weight 0 changes no transport cost, but kept in the problem it sets the
common frame: beside data of size 1, one at (1e100, 1e100) left the data at one
point of the frame, where every cost with mass is 0 (refused, 'points of weight 0
set the frame').  The points of weight 0 beyond
:data:`~otlab.exact._far_points.FAR_FACTOR` times the mass's reach
(:func:`~otlab.exact._far_points.far_zero_weight`, as the exact solver) are left out,
the problem is solved without them, and the result is filled back to full size: their
rows or columns of the plan are 0, and their potentials are the entropic c-transform
(soft-min) of the other side's,

.. math::

    f_i = -\varepsilon \log \sum_j b_j \exp\big((g_j - c(x_i, y_j))/\varepsilon\big),

in the caller's units, from costs formed in float64 data units
(:func:`~otlab.exact._far_points.data_costs`), capped at the dtype's largest float
where they overflow (then still below the true value, and finite); their weight
gradient, :math:`f_i` (the first variation), is capped lower still, at
:data:`~otlab.entropic.solver.INFINITE_GRADIENT` times the largest float, so that
the weights' normalisation keeps it finite.  The value, the plan's
entries with mass and the gradients in the kept points and weights are those of
the problem without the far points.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch

__all__ = ["far_masks", "without_far_points"]


def _float64(v) -> np.ndarray:
    if isinstance(v, torch.Tensor):
        return v.detach().cpu().to(torch.float64).numpy()
    return np.asarray(v, dtype=np.float64)


def far_masks(sp, sq):
    """Masks ``(far_x, far_y)`` of the far points of weight 0 of two samples, or ``None``."""
    from ..exact._far_points import far_zero_weight

    a, b = _float64(sp.probabilities), _float64(sq.probabilities)
    if bool((a > 0).all() and (b > 0).all()):
        return None
    far_x, far_y = far_zero_weight(_float64(sp.points), a, _float64(sq.points), b)
    return (far_x, far_y) if far_x.any() or far_y.any() else None


def _soft_c_transform(points, others, weights, pot, eps, order, largest):
    """:math:`-\\varepsilon \\log \\sum_j w_j e^{(h_j - c(p_i, q_j))/\\varepsilon}`, capped."""
    from ..exact._far_points import data_costs

    mass = weights > 0
    values = data_costs(points, others[mass], order) - pot[mass][None, :]
    low = values.min(1)
    with np.errstate(invalid="ignore", over="ignore", under="ignore", divide="ignore"):
        terms = np.log(weights[mass])[None, :] - (values - low[:, None]) / eps
        top = terms.max(1)
        u = low - eps * (top + np.log(np.exp(terms - top[:, None]).sum(1)))
    u = np.where(np.isfinite(low), u, np.inf)
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


def without_far_points(solve, sp, sq, masks, order):
    """``solve(x, y, a, b)`` on the samples without the far points, filled back to full size.

    ``solve`` returns a :class:`~otlab.entropic.SinkhornResult` in the caller's units.
    """
    far_x, far_y = masks
    keep_x, keep_y = ~far_x, ~far_y
    x, a, y, b = sp.points, sp.probabilities, sq.points, sq.probabilities
    res = solve(_take(x, keep_x), _take(y, keep_y), _take(a, keep_x), _take(b, keep_y))
    xs, ys = _float64(x), _float64(y)
    f_kept, g_kept = _float64(res.f), _float64(res.g)
    is_torch = isinstance(res.f, torch.Tensor)
    dtype = res.f.dtype
    largest = float(torch.finfo(dtype).max if is_torch else np.finfo(dtype).max)
    f_far = _soft_c_transform(xs[far_x], ys[keep_y], _float64(b)[keep_y], g_kept, res.reg,
                              order, largest)
    g_far = _soft_c_transform(ys[far_y], xs[keep_x], _float64(a)[keep_x], f_kept, res.reg,
                              order, largest)

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
        term = _term(a, f, far_x) + _term(b, g, far_y)
        cost, objective = cost + term, objective + term
    s = res._solution
    dev = s.f.device
    op = _Embedded(s.op, torch.as_tensor(np.flatnonzero(keep_x), device=dev),
                   torch.as_tensor(np.flatnonzero(keep_y), device=dev), keep_x.size, keep_y.size)
    return replace(res, f=f, g=g, cost=cost, objective=objective, _solution=replace(s, op=op))


def _needs(w, mask) -> bool:
    return isinstance(w, torch.Tensor) and w.requires_grad and bool(mask.any())


def _term(w, pot, mask):
    if not _needs(w, mask):
        return 0.0
    from .solver import INFINITE_GRADIENT

    idx = torch.as_tensor(mask, device=w.device)
    part = w[idx]
    # capped below the largest float, with room for the weights' normalisation
    grad = pot[idx].to(part.dtype).clamp(max=torch.finfo(part.dtype).max * INFINITE_GRADIENT)
    return (grad * (part - part.detach())).sum()
