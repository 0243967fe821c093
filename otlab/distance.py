"""``otlab.wasserstein``: the one entry point for W_k between two samples."""

from __future__ import annotations

import numpy as np

from ._backend import any_torch, is_torch, reference_tensor, to_numpy
from ._validation import check_choice, check_order, split_sample
from .costs import cost_matrix, pairwise_cost
from .exact import emd
from .one_d import wasserstein_1d_power

__all__ = ["wasserstein", "METHODS"]

#: Methods accepted by :func:`wasserstein`.
METHODS = ("auto", "exact", "1d", "sinkhorn")


def _to_common_backend(x, wx, y, wy):
    """Make all four arrays numpy, or all tensors on the first tensor's device."""
    ref = reference_tensor(x, wx, y, wy)
    if ref is None:
        return x, wx, y, wy
    import torch

    dtype = ref.dtype if torch.is_floating_point(ref) else torch.get_default_dtype()
    return tuple(torch.as_tensor(v, dtype=dtype, device=ref.device) for v in (x, wx, y, wy))


def _requires_grad(*xs) -> bool:
    return any(is_torch(v) and v.requires_grad for v in xs)


def _exact_power(x, wx, y, wy, order, max_iter):
    """W_k^k by the LP; differentiable for tensors through the plan and the duals."""
    x_np, y_np = to_numpy(x), to_numpy(y)
    res = emd(to_numpy(wx), to_numpy(wy), cost_matrix(x_np, y_np, order=order), max_iter=max_iter)
    if not _requires_grad(x, wx, y, wy):
        return res.cost
    import torch

    # Envelope theorem: with the optimal plan P and potentials (f, g) fixed,
    # d/dx sum_ij P_ij c(x_i, y_j) is the gradient of the value, and
    # d value / d a = f, d value / d b = g.
    rows, cols = np.nonzero(res.plan)
    mass = torch.as_tensor(res.plan[rows, cols], dtype=x.dtype, device=x.device)
    rows_t = torch.as_tensor(rows, device=x.device)
    cols_t = torch.as_tensor(cols, device=x.device)
    expr = (mass * pairwise_cost(x[rows_t], y[cols_t], order=order)).sum()
    f = torch.as_tensor(res.f, dtype=x.dtype, device=x.device)
    g = torch.as_tensor(res.g, dtype=x.dtype, device=x.device)
    expr = expr + (f * (wx - wx.detach())).sum() + (g * (wy - wy.detach())).sum()
    # Exact float64 value forward, the envelope gradient backward.
    return res.cost + (expr - expr.detach())


def wasserstein(p, q, *, order: float = 1, method: str = "auto", max_iter: int | None = None, **options):
    r"""Wasserstein distance :math:`W_k` between two (weighted) samples.

    .. math::

        W_k(\mu, \nu) = \Big( \min_{P \in \Pi(a, b)} \sum_{ij} P_{ij}
        \lVert x_i - y_j \rVert_2^k \Big)^{1/k}

    with the Euclidean ground metric.  The value returned is :math:`W_k`
    itself, the k-th root, not :math:`W_k^k`.

    Parameters
    ----------
    p, q : array-like or tuple
        Samples: arrays of shape (n, d) or (n,) (numpy, torch, nested lists),
        or ``(points, weights)`` pairs.  Weights are non-negative and are
        normalised to sum 1; without weights every point has mass 1/n.
    order : float, default 1
        The order ``k >= 1``.
    method : {"auto", "exact", "1d", "sinkhorn"}, default "auto"
        ``"exact"``: the network-simplex LP (:func:`otlab.emd`).
        ``"1d"``: the closed form on sorted samples, for d = 1 only.
        ``"auto"``: ``"1d"`` when d = 1, otherwise ``"exact"``.
        ``"sinkhorn"``: entropic approximation (:func:`otlab.sinkhorn`); see
        its documentation for ``reg`` and the other ``options``.
    max_iter : int, optional
        Iteration cap passed to the chosen solver.
    **options
        Solver options for ``method="sinkhorn"``; rejected by other methods.

    Returns
    -------
    float or Tensor
        :math:`W_k`.  A Python float for numpy or list input; for torch input
        a 0-dim tensor on the input's device, differentiable with respect to
        the points and the weights (through the optimal plan and the dual
        potentials: the envelope theorem).

    Raises
    ------
    ValueError
        On invalid samples or weights, mismatched dimensions, ``order < 1``,
        an unknown ``method``, or ``method="1d"`` with d > 1.

    See Also
    --------
    emd : the LP on histograms and a cost matrix, with plan and duals.

    Examples
    --------
    Two Diracs one unit apart, and the parallel lines at distance 0.5:

    >>> import numpy as np
    >>> wasserstein([0.0], [1.0])
    1.0
    >>> z = (np.arange(100) + 0.5) / 100
    >>> line0 = np.column_stack([np.zeros(100), z])
    >>> line1 = np.column_stack([np.full(100, 0.5), z])
    >>> round(wasserstein(line0, line1), 12)
    0.5
    >>> wasserstein(([0.0, 1.0], [3, 1]), [0.0], order=2)  # sqrt(1/4)
    0.5
    """
    order = check_order(order)
    check_choice(method, "method", METHODS)
    x, wx = split_sample(p, "p")
    y, wy = split_sample(q, "q")
    if x.shape[1] != y.shape[1]:
        raise ValueError(
            f"p and q must have the same dimension; got d={x.shape[1]} and d={y.shape[1]}"
        )
    x, wx, y, wy = _to_common_backend(x, wx, y, wy)
    if method == "sinkhorn":
        from .entropic import wasserstein_sinkhorn

        return wasserstein_sinkhorn(x, wx, y, wy, order=order, max_iter=max_iter, **options)
    if options:
        raise TypeError(f"method={method!r} takes no options {sorted(options)}")
    if method == "1d" and x.shape[1] != 1:
        raise ValueError(f"method='1d' needs one-dimensional samples; got d={x.shape[1]}")
    if method in ("1d", "auto") and x.shape[1] == 1:
        uniform = not isinstance(p, tuple) and not isinstance(q, tuple)
        power = wasserstein_1d_power(x[:, 0], wx, y[:, 0], wy, order=order, uniform=uniform)
    else:
        power = _exact_power(x, wx, y, wy, order, max_iter)
    return _root(power, order, like=x)


def _root(power, order, *, like):
    """k-th root of the k-th power, as a float (numpy) or a tensor (torch)."""
    if is_torch(like):
        import torch

        power = torch.as_tensor(power, dtype=like.dtype, device=like.device)
        power = power.clamp_min(0)
        return power if order == 1 else power ** (1.0 / order)
    power = max(float(power), 0.0)
    return power if order == 1 else power ** (1.0 / order)
