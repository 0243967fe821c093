"""``otlab.wasserstein``: the one entry point for W_k between two samples."""

from __future__ import annotations

import warnings

import numpy as np

from ._backend import is_torch, reference_tensor, to_numpy, working_dtype
from ._validation import check_choice, check_order
from .costs import common_frame, distances, pairwise_cost, power_cost, power_mean
from .exact import emd
from .one_d import wasserstein_1d
from .sample import as_sample

__all__ = ["wasserstein", "METHODS"]

#: Methods accepted by :func:`wasserstein`.
METHODS = ("auto", "exact", "1d", "sinkhorn")
#: Keyword options that only ``method="sinkhorn"`` takes.
SINKHORN_OPTIONS = ("reg", "tol", "scaling", "backend", "acceleration")


def _to_common_backend(x, wx, y, wy):
    """Make all four arrays numpy, or all tensors on the first tensor's device and dtype."""
    ref = reference_tensor(x, wx, y, wy)
    if ref is None:
        return x, wx, y, wy
    import torch

    dtype = ref.dtype if torch.is_floating_point(ref) else torch.get_default_dtype()
    return tuple(torch.as_tensor(v, dtype=dtype, device=ref.device) for v in (x, wx, y, wy))


def _requires_grad(*xs) -> bool:
    return any(is_torch(v) and v.requires_grad for v in xs)


#: The network simplex compares costs to about 1e-14 of its largest entry.  When the plan's
#: cost is below this share of the largest entry, it is solved again with the costs
#: normalised by the largest distance the plan uses and clipped at ``_CLIP`` times that.
_RESOLVED = 1e-6
_CLIP = 1e4


def _solve_lp(dist, wx, wy, order, max_iter):
    r"""The LP on :math:`(D/u)^k`, with :math:`u` refined until the plan's cost is resolved.

    With :math:`u = \max D` the plan's costs may lie far below the largest
    entry (large orders, or nearly equal samples at order 3 and more), where
    the network simplex cannot tell them apart.  :math:`u` is then set to the
    largest distance the plan uses and the costs clipped at ``_CLIP`` (a plan
    costing at most 1 cannot put more than ``1/_CLIP`` of mass there; if the
    new plan does use a clipped entry the clip is raised), and the LP solved
    again.  Returns ``(result, u)``.
    """
    unit, clip = float(dist.max()), np.inf
    for _ in range(8):
        with np.errstate(over="ignore", under="ignore"):
            M = np.minimum(power_cost(dist / unit, order), clip)
        res = emd(wx, wy, M, max_iter=max_iter)
        support = res.plan > 0
        if np.isfinite(clip) and (M[support] >= clip).any():
            clip *= _CLIP
            continue
        used = float(dist[support].max())
        if res.cost >= _RESOLVED * M.max() or not 0 < used < unit:
            return res, unit
        unit, clip = used, _CLIP
    return res, unit


def _exact(x, wx, y, wy, order, max_iter):
    r"""W_k by the LP, in a power-of-two frame; differentiable for tensors.

    Distances come from coordinate differences of the points divided by a
    common power of two (:mod:`otlab.costs`), so they neither under- nor
    overflow; the LP runs on normalised costs (:func:`_solve_lp`) and the
    value is the k-th root of the plan's cost taken by
    :func:`otlab.costs.power_mean`.
    """
    xn, yn = to_numpy(x), to_numpy(y)
    frame = common_frame(xn, yn, centre=False)
    dist = distances(frame.local(xn), frame.local(yn))
    if not dist.max() > 0:  # every point of p on every point of q
        res, unit = emd(to_numpy(wx), to_numpy(wy), dist, max_iter=max_iter), 1.0
    else:
        res, unit = _solve_lp(dist, to_numpy(wx), to_numpy(wy), order, max_iter)
    rows, cols = np.nonzero(res.plan)
    mass = res.plan[rows, cols]
    if not _requires_grad(x, wx, y, wy):
        return float(power_mean(mass, dist[rows, cols] / unit, order) * unit) * frame.scale
    import torch

    # Envelope theorem: with the optimal plan P and potentials (f, g) fixed, the gradient
    # of W_k^k is that of sum_ij P_ij c(x_i, y_j) in the points, f and g in the weights;
    # the root's derivative W / (k W^k) is applied to the weight terms explicitly.
    dtype, device = torch.float64, x.device
    xs = x.to(dtype) / frame.scale / unit
    ys = y.to(dtype) / frame.scale / unit
    pairs = pairwise_cost(xs[torch.as_tensor(rows, device=device)],
                          ys[torch.as_tensor(cols, device=device)], order=1)
    value = power_mean(torch.as_tensor(mass, dtype=dtype, device=device), pairs, order)
    if res.cost > 0:
        coef = float(value.detach()) / (order * res.cost)
        f, g = (torch.as_tensor(v, dtype=dtype, device=device) for v in (res.f, res.g))
        value = value + coef * ((f * (wx - wx.detach())).sum() + (g * (wy - wy.detach())).sum())
    elif wx.requires_grad or wy.requires_grad:
        warnings.warn(f"at order={order:g} the k-th powers of the distances underflow; the "
                      "gradient with respect to the weights is returned as 0", RuntimeWarning,
                      stacklevel=3)
    return (value * unit) * frame.scale


def wasserstein(p, q, *, a=None, b=None, order: float = 1, method: str = "auto",
                max_iter: int | None = None, **options):
    r"""Wasserstein distance :math:`W_k` between two (weighted) samples.

    .. math::

        W_k(\mu, \nu) = \Big( \min_{P \in \Pi(a, b)} \sum_{ij} P_{ij}
        \lVert x_i - y_j \rVert_2^k \Big)^{1/k}

    with the Euclidean ground metric.  The value returned is :math:`W_k`
    itself, the k-th root, not :math:`W_k^k`.

    Parameters
    ----------
    p, q : array-like, Tensor or Sample
        The samples' points, shape (n, d) or (n,) (numpy, torch, nested lists
        or tuples, read as :func:`numpy.asarray` reads them), or
        :class:`otlab.Sample` objects that carry weights.
    a, b : array-like or Tensor, optional
        Weights of the points of ``p`` and ``q`` (POT's names), non-negative,
        normalised to sum 1; without them every point has mass 1/n.  Weights
        are never read from a tuple: see :mod:`otlab.sample`.
    order : float, default 1
        The order ``k >= 1``.
    method : {"auto", "exact", "1d", "sinkhorn"}, default "auto"
        ``"exact"``: the network-simplex LP (:func:`otlab.emd`).
        ``"1d"``: the closed form on sorted samples, for d = 1 only.
        ``"auto"``: ``"1d"`` when d = 1, otherwise ``"exact"``.
        ``"sinkhorn"``: entropic approximation
        (:func:`otlab.entropic.wasserstein_sinkhorn`).
    max_iter : int, optional
        Iteration cap passed to the chosen solver.
    **options
        ``reg``, ``tol``, ``scaling``, ``backend``, ``acceleration`` for
        ``method="sinkhorn"``; any option with another method is a TypeError.

    Returns
    -------
    float or Tensor
        :math:`W_k`.  A Python float for numpy or list input; for torch input
        a 0-dim tensor on the input's device and in its dtype, differentiable
        with respect to the points and the weights (through the optimal plan
        and the dual potentials: the envelope theorem).

    Raises
    ------
    ValueError
        On invalid samples or weights, mismatched dimensions, ``order < 1``,
        an unknown ``method``, or ``method="1d"`` with d > 1.
    TypeError
        Solver options with a method that takes none (``reg=`` without
        ``method="sinkhorn"``), non-numeric or complex input, or a
        ``(points, weights)`` tuple.

    Notes
    -----
    Distances are formed from coordinate differences after dividing all
    points by a common power of two (:mod:`otlab.costs`), so :math:`W_k` is
    exact to round-off under translation (offsets of 1e8 and more) and scale
    (coordinates from 1e-300 to 1e300), and the k-th root is taken without
    forming :math:`W_k^k` where it would under- or overflow (``order=500``).
    Half-precision tensors are computed in float64 (exact) or float32
    (Sinkhorn) and the result is returned in the input's dtype.

    See Also
    --------
    emd : the LP on histograms and a cost matrix, with plan and duals.
    otlab.Sample : a sample with its weights.

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
    >>> wasserstein([0.0, 1.0], [0.0], a=[3, 1], order=2)  # sqrt(1/4)
    0.5
    """
    order = check_order(order)
    check_choice(method, "method", METHODS)
    if options and method != "sinkhorn":
        names = sorted(options)
        hint = ('; entropic options such as reg= need method="sinkhorn"'
                if set(names) & set(SINKHORN_OPTIONS) else "")
        raise TypeError(f"wasserstein(method={method!r}) takes no options {names}{hint}")
    sp = as_sample(p, "p", weights=a, weights_name="a")
    sq = as_sample(q, "q", weights=b, weights_name="b")
    if sp.dim != sq.dim:
        raise ValueError(f"p and q must have the same dimension; got d={sp.dim} and d={sq.dim}")
    if method == "sinkhorn":
        from .entropic import wasserstein_sinkhorn

        return wasserstein_sinkhorn(sp, sq, order=order, max_iter=max_iter, **options)
    x, wx, y, wy = _to_common_backend(sp.points, sp.probabilities, sq.points, sq.probabilities)
    if method == "1d" and x.shape[1] != 1:
        raise ValueError(f"method='1d' needs one-dimensional samples; got d={x.shape[1]}")
    if method in ("1d", "auto") and x.shape[1] == 1:
        dtype = working_dtype(x.dtype) if is_torch(x) else None
        cast = (lambda v: v.to(dtype)) if is_torch(x) else (lambda v: v)
        value = wasserstein_1d(cast(x[:, 0]), cast(wx), cast(y[:, 0]), cast(wy), order=order,
                               uniform=sp.uniform and sq.uniform)
    else:
        value = _exact(x, wx, y, wy, order, max_iter)
    if is_torch(x):
        import torch

        if not is_torch(value):
            value = torch.tensor(value, dtype=torch.float64, device=x.device)
        return value.to(x.dtype)
    return float(value)
