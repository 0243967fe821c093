r""":math:`W_k^k` between two weighted samples, exact, differentiable for torch input.

:func:`exact_power` is the exact path of :func:`otlab.wasserstein`: it solves
the LP with :func:`~otlab.exact.emd_points` (dense or sparse, chosen by size
and memory) in float64, and for tensors attaches the gradient given by the
envelope theorem: with the optimal plan :math:`P` and potentials
:math:`(f, g)` held fixed,

.. math::

    \frac{\partial W_k^k}{\partial x_i} = \sum_j P_{ij} \nabla_x c(x_i, y_j),
    \qquad \frac{\partial W_k^k}{\partial a_i} = f_i ,
    \qquad \frac{\partial W_k^k}{\partial b_j} = g_j ,

so no gradient flows through the solver.
"""

from __future__ import annotations

import warnings

import numpy as np

from .._backend import is_torch, to_numpy
from ..costs import pairwise_cost
from ._histogram import ConvergenceWarning
from .points import emd_points

__all__ = ["exact_power"]


def _requires_grad(*xs) -> bool:
    return any(is_torch(v) and v.requires_grad for v in xs)


def _attach_gradient(value: float, res, x, wx, y, wy):
    """``value`` forward, the envelope-theorem gradient backward (a 0-dim tensor)."""
    import torch

    plan = res.plan.tocoo()
    rows = torch.as_tensor(plan.row.astype(np.int64), device=x.device)
    cols = torch.as_tensor(plan.col.astype(np.int64), device=x.device)
    mass = torch.as_tensor(plan.data, dtype=x.dtype, device=x.device)
    expr = (mass * pairwise_cost(x[rows], y[cols], order=res.order)).sum()
    f = torch.as_tensor(res.f, dtype=x.dtype, device=x.device)
    g = torch.as_tensor(res.g, dtype=x.dtype, device=x.device)
    if is_torch(wx):
        expr = expr + (f * (wx - wx.detach())).sum()
    if is_torch(wy):
        expr = expr + (g * (wy - wy.detach())).sum()
    return value + (expr - expr.detach())


def exact_power(x, wx, y, wy, order: float = 1, max_iter: int | None = None, *,
                solver: str = "auto"):
    r"""Exact :math:`W_k^k` between the samples ``(x, wx)`` and ``(y, wy)``.

    Drop-in for the exact branch of :func:`otlab.wasserstein`: the arguments
    are the validated samples (points of shape (n, d), weights summing to 1,
    all numpy or all torch on one device).

    Parameters
    ----------
    x, y : ndarray or Tensor, shapes (n, d) and (m, d)
    wx, wy : ndarray or Tensor, shapes (n,) and (m,)
    order : float, default 1
    max_iter : int, optional
        Network-simplex pivot cap per solve (see :func:`emd_points`).
    solver : {"auto", "dense", "sparse"}, default "auto"

    Returns
    -------
    float or Tensor
        :math:`W_k^k` as a Python float, or, when any input requires grad, a
        0-dim tensor holding the exact float64 value (cast to ``x``'s dtype)
        whose gradient is the envelope-theorem gradient.  ``nan`` (with a
        :class:`~otlab.exact.ConvergenceWarning`) when the solver stopped
        with an infeasible plan, whose cost is no value of :math:`W_k^k`.

    Examples
    --------
    >>> import numpy as np
    >>> exact_power(np.zeros((2, 1)), np.full(2, 0.5), np.full((2, 1), 3.0), np.full(2, 0.5),
    ...             order=2)
    9.0
    """
    res = emd_points(to_numpy(x), to_numpy(y), to_numpy(wx), to_numpy(wy), order=order,
                     solver=solver, max_iter=max_iter)
    if not res.feasible:
        warnings.warn("exact_power: the LP stopped with an infeasible plan; returning nan "
                      "instead of its cost. Increase max_iter.", ConvergenceWarning, stacklevel=2)
        return float("nan")
    if not _requires_grad(x, wx, y, wy):
        return res.cost
    return _attach_gradient(res.cost, res, x, wx, y, wy)
