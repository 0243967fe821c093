"""``otlab.wasserstein``: the one entry point for W_k between two samples."""

from __future__ import annotations

from ._backend import common_backend, is_torch, result_like, working_dtype
from ._validation import check_choice, check_order, check_positive_int
from .exact import wasserstein_exact
from .exact._progress import check_progress
from .one_d import wasserstein_1d
from .sample import sample_pair, with_mass

__all__ = ["wasserstein", "METHODS"]

#: Methods accepted by :func:`wasserstein`.
METHODS = ("auto", "exact", "1d", "sinkhorn")
#: Keyword options that only ``method="sinkhorn"`` takes.
SINKHORN_OPTIONS = ("reg", "tol", "scaling", "backend", "acceleration")


def _closed_form(sp, sq, order):
    """W_k of two 1-D samples by the closed form on sorted samples."""
    data = common_backend(sp.points, sp.probabilities, sq.points, sq.probabilities)
    x, wx, y, wy = (v.to(working_dtype(v.dtype)) for v in data) if is_torch(data[0]) else data
    # the closed form's cumulative weights end at 1 only to round-off, and the tail segment
    # (2e-16 long) went to the last point in sorted order: a weight-0 point at 1e300 gave
    # W_1 = 2e284 for samples of size 1 (measured)
    x, wx = with_mass(x, wx)
    y, wy = with_mass(y, wy)
    value = wasserstein_1d(x[:, 0], wx, y[:, 0], wy, order=order,
                           uniform=sp.uniform and sq.uniform)
    return result_like(value, data[0])


def wasserstein(p, q, *, a=None, b=None, order: float = 1, method: str = "auto",
                max_iter: int | None = None, progress="auto", **options):
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
        The order ``1 <= k <= 1000`` (beyond, float64 cannot resolve :math:`d^k`).
    method : {"auto", "exact", "1d", "sinkhorn"}, default "auto"
        ``"exact"``: the LP (:func:`otlab.exact.wasserstein_exact`): the
        network simplex on the dense cost matrix for small samples, the
        certified sparse solver of :func:`otlab.emd_points` (memory
        :math:`O(n + m)`) for large ones.
        ``"1d"``: the closed form on sorted samples, for d = 1 only.
        ``"auto"``: ``"1d"`` when d = 1, otherwise ``"exact"``.
        ``"sinkhorn"``: entropic approximation
        (:func:`otlab.entropic.wasserstein_sinkhorn`).
    max_iter : int, optional
        Iteration cap passed to the chosen solver (network-simplex pivots
        per solve for ``"exact"``); checked also where unused (the 1-D closed form).
    progress : {"auto", None, True, False}, default "auto"
        For the exact LP: a progress line on stderr for long solves, shown by
        itself after a few seconds when stderr is a terminal (``"auto"``),
        always (``True``) or never (``False``); see :func:`otlab.emd_points`.
        Other methods show none.
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
        On invalid samples or weights, mismatched dimensions, ``order`` outside [1, 1000],
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
    if max_iter is not None:  # checked on every path, also where it is not used (1-D)
        max_iter = check_positive_int(max_iter, "max_iter")
    progress = check_progress(progress)
    if options and method != "sinkhorn":
        names = sorted(options)
        hint = ('; entropic options such as reg= need method="sinkhorn"'
                if set(names) & set(SINKHORN_OPTIONS) else "")
        raise TypeError(f"wasserstein(method={method!r}) takes no options {names}{hint}")
    sp, sq = sample_pair(p, q, a, b)
    if method == "sinkhorn":
        from .entropic import wasserstein_sinkhorn

        return wasserstein_sinkhorn(sp, sq, order=order, max_iter=max_iter, **options)
    if method == "1d" and sp.dim != 1:
        raise ValueError(f"method='1d' needs one-dimensional samples; got d={sp.dim}")
    if method in ("1d", "auto") and sp.dim == 1:
        return _closed_form(sp, sq, order)
    return wasserstein_exact(sp, sq, order=order, max_iter=max_iter, progress=progress)
