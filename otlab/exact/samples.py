r"""Exact :math:`W_k` between two samples, numpy or torch: the exact path of ``otlab.wasserstein``.

:func:`wasserstein_exact` solves the LP with :func:`~otlab.exact.emd_points`
(dense or sparse, chosen by size and memory) and returns :math:`W_k`.  For
tensors it attaches the gradient given by the envelope theorem: with the
optimal plan :math:`P` and potentials :math:`(f, g)` held fixed,

.. math::

    \frac{\partial W_k^k}{\partial x_i} = \sum_j P_{ij} \nabla_x c(x_i, y_j),
    \qquad \frac{\partial W_k^k}{\partial a_i} = f_i ,
    \qquad \frac{\partial W_k^k}{\partial b_j} = g_j ,

so no gradient flows through the solver.  The gradient is formed in float64
in the solver's frame (:attr:`PointsEMDResult.frame`), the root through
:func:`otlab.costs.power_mean` and the weights' terms with the potentials in
the LP's own units, so it is finite wherever :math:`W_k` is (``order=500``,
coordinates near :math:`10^{\pm 300}`).
"""

from __future__ import annotations

import warnings

import numpy as np

from .._backend import common_backend, is_torch, result_like, to_numpy
from .._validation import check_order
from .._warnings import ConvergenceWarning, CostOverflowWarning, external_stacklevel
from ..costs import pairwise_cost, power_mean
from ..sample import sample_pair
from .points import PointsEMDResult, emd_points

__all__ = ["wasserstein_exact"]


def _requires_grad(*xs) -> bool:
    return any(is_torch(v) and v.requires_grad for v in xs)


def _with_gradient(res: PointsEMDResult, x, wx, y, wy):
    """``res.distance`` forward, the envelope-theorem gradient backward (a float64 0-dim tensor)."""
    import torch

    plan, dev, f64 = res.plan.tocoo(), x.device, torch.float64
    rows = torch.as_tensor(plan.row.astype(np.int64), device=dev)
    cols = torch.as_tensor(plan.col.astype(np.int64), device=dev)
    mass = torch.as_tensor(plan.data, dtype=f64, device=dev)
    s = res.frame.scale  # a power of two: dividing by it is exact
    local = power_mean(mass, pairwise_cost(x.to(f64)[rows] / s, y.to(f64)[cols] / s), res.order)
    value = torch.tensor(res.distance, dtype=f64, device=dev) + s * (local - local.detach())
    if res.unit_cost > 0:
        # d W / d a_i = W / (k W^k) f_i, with W^k and f in the LP's units
        coef = s * float(local.detach()) / (res.order * res.unit_cost)
        value = value + ((_weight_gradient(res.unit_f, coef, wx) * (wx - wx.detach())).sum()
                         + (_weight_gradient(res.unit_g, coef, wy) * (wy - wy.detach())).sum())
    elif _requires_grad(wx, wy) and res.distance > 0:
        warnings.warn(f"at order={res.order:g} the k-th powers of the distances underflow; the "
                      "gradient with respect to the weights is returned as 0", RuntimeWarning,
                      stacklevel=external_stacklevel())
    return value


#: Bound on the gradient entries at points of weight 0, as a fraction of the largest float of
#: the weights' dtype: room for their normalisation's division by a total down to 2^-32.
MASSLESS_GRADIENT = 2.0**-32


def _weight_gradient(unit_pot, coef: float, w):
    """``coef * unit_pot`` in float64: the gradient of W_k in the weights ``w``.

    At a point of weight 0 its potential is any value at most the c-transform (all are
    optimal), so every such value is a subgradient; where the c-transform's is too large
    for the weights' dtype (a point of weight 0 at 1e300, order 1.5 in float64, or at 1e30,
    order 2 in float32) it is capped at :data:`MASSLESS_GRADIENT` times the dtype's largest
    float.  Uncapped, the infinity met the point's weight 0 in the normalisation's
    backward and made every entry of the weights' gradient NaN (measured).
    """
    import torch

    with np.errstate(over="ignore"):
        grad = coef * np.asarray(unit_pot, dtype=np.float64)
    cap = torch.finfo(w.dtype).max * MASSLESS_GRADIENT
    massless = to_numpy(w.detach()) == 0
    grad[massless] = np.clip(grad[massless], -cap, cap)
    return torch.as_tensor(grad, dtype=torch.float64, device=w.device)


def wasserstein_exact(p, q, *, a=None, b=None, order: float = 1, max_iter: int | None = None,
                      solver: str = "auto", progress="auto"):
    r"""Exact :math:`W_k` between two weighted samples, differentiable for torch input.

    .. math::

        W_k = \Big(\min_{P \in \Pi(a, b)} \sum_{ij} P_{ij} \lVert x_i - y_j\rVert^k\Big)^{1/k}

    This is ``otlab.wasserstein(p, q, method="exact")``.

    Parameters
    ----------
    p, q, a, b, order
        Samples, weights (optional, normalised to sum 1) and order ``k >= 1``,
        exactly as for :func:`otlab.wasserstein`.
    max_iter : int, optional
        Network-simplex pivot cap per solve (see :func:`emd_points`).
    solver : {"auto", "dense", "sparse"}, default "auto"
        ``"auto"``: the faster one that fits in memory (:func:`choose_exact_solver`).
    progress : {"auto", None, True, False}, default "auto"
        The progress line of long solves (see :func:`emd_points`).

    Returns
    -------
    float or Tensor
        :math:`W_k`: a Python float for numpy or list input; for torch input a
        0-dim tensor on the input's device and in its dtype (the value is the
        float64 one, rounded once), whose gradient in the points and the
        weights is the envelope-theorem gradient.  ``nan`` (with a
        :class:`~otlab.exact.ConvergenceWarning`) when the solver stopped with
        an infeasible plan, whose cost is no value of :math:`W_k^k`.

    Examples
    --------
    >>> import numpy as np
    >>> wasserstein_exact(np.zeros((2, 1)), np.full((2, 1), 3.0), order=2)
    3.0
    >>> wasserstein_exact([[0.0, 0.0]], [[20.0, 0.0]], order=500)  # 20**500 overflows
    20.0
    """
    order = check_order(order)
    sp, sq = sample_pair(p, q, a, b)
    with warnings.catch_warnings():
        # W_k is exact even where W_k^k overflows (order=500): only the cost cannot be given
        warnings.simplefilter("ignore", CostOverflowWarning)
        res = emd_points(sp, sq, order=order, solver=solver, max_iter=max_iter,
                         progress=progress)
    x, wx, y, wy = common_backend(sp.points, sp.probabilities, sq.points, sq.probabilities)
    if not res.feasible:
        warnings.warn("wasserstein: the LP stopped with an infeasible plan; returning nan "
                      "instead of its cost. Increase max_iter.", ConvergenceWarning,
                      stacklevel=external_stacklevel())
        value = float("nan")
    elif _requires_grad(x, wx, y, wy):
        value = _with_gradient(res, x, wx, y, wy)
    else:
        value = res.distance
    return result_like(value, x)
