r"""Sliced and max-sliced Wasserstein distances: exact 1-D transport along directions.

For a direction :math:`\theta` on the unit sphere :math:`S^{d-1}` let
:math:`\theta_\# \mu` be the law of :math:`\langle \theta, X \rangle`,
:math:`X \sim \mu`.  The sliced and max-sliced distances of order :math:`k` are

.. math::

    SW_k(\mu, \nu) = \Big( \int_{S^{d-1}} W_k^k(\theta_\#\mu, \theta_\#\nu)\,
    d\sigma(\theta) \Big)^{1/k},
    \qquad
    \max SW_k(\mu, \nu) = \max_{\theta \in S^{d-1}} W_k(\theta_\#\mu, \theta_\#\nu),

with :math:`\sigma` the uniform probability on the sphere.  Each
:math:`W_k(\theta_\#\mu, \theta_\#\nu)` is computed exactly by the quantile
coupling (:mod:`otlab.one_d`); only the integral over directions is estimated.
Like :func:`otlab.wasserstein`, the values are the k-th roots (POT's
``sliced_wasserstein_distance`` uses the same convention:
:math:`(\text{mean}_j W_p^p)^{1/p}`).

**Directions.**  The ``n_projections`` directions are the columns of
independent uniformly random rotations (orthonormal frames of ``d``
directions each; ``n_projections`` is rounded up to whole frames; with fewer
than ten frames' worth, independent uniform directions): every direction is uniform on the
sphere, so the estimate of :math:`SW_k^k` is unbiased, and the directions of
one frame are orthogonal, which lowers the variance against independent
directions.  In 2-D the frames are replaced by ``n_projections`` equally spaced angles
turned by one random offset (a randomised quasi-Monte-Carlo rule, far more
accurate than random angles for the piecewise smooth integrands met here).

**Standard error.**  The frames are independent replicates; the standard
error of :math:`SW_k^k` is estimated from their spread and carried to
:math:`SW_k` by the delta method.  In 2-D the four interleaved quarter grids
(every fourth angle) stand in for the replicates: the estimate is
conservative (it measures the error of a grid a quarter the size; about 9x
the actual error between two sample lines with 100 angles).
``tol=`` adds projections until the standard error of :math:`SW_k` is below
it.  In one dimension every direction gives the same value: :math:`SW_k =
W_k` and the standard error is 0.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

from ._backend import common_backend, is_torch, result_like, working_dtype
from ._validation import check_order, check_positive, check_positive_int
from ._warnings import ConvergenceWarning, external_stacklevel
from .costs import kth_root
from .datasets._seed import as_generator
from .frames import median_frame, power_of_two_at_least
from .one_d import quantile_coupling
from .sample import as_sample, check_same_dimension, with_mass

__all__ = ["SlicedResult", "sliced_wasserstein", "max_sliced_wasserstein", "sphere_directions"]

#: Elements of one block of projected coordinates (bounds the memory per block).
_BLOCK_ELEMENTS = 1 << 23
#: Orthonormal frames are used from this many frames on (fewer replicates give no error bar).
_MIN_FRAMES = 10


@dataclass(frozen=True)
class SlicedResult:
    r"""A sliced Wasserstein value with its standard error.

    Attributes
    ----------
    value : float or Tensor
        :math:`SW_k` (or :math:`\max SW_k`); a 0-dim tensor for torch input,
        differentiable in the points and weights.
    standard_error : float
        Standard error of ``value`` over the random directions (0 in 1-D;
        ``inf`` when one frame gives no spread to estimate it from).  For the
        max-sliced value it is ``nan``: a maximum has no such error; the
        value is a lower bound of the maximum over the whole sphere.
    n_projections : int
        Number of directions used.
    converged : bool
        False only when ``tol`` (sliced) was asked for and not reached, or
        when the ascent (max-sliced) stopped at ``max_iter`` before a
        stationary direction.
    direction : ndarray, shape (d,)
        For :func:`max_sliced_wasserstein`, the best direction; else ``None``.
    n_iters : int
        Accepted ascent steps of :func:`max_sliced_wasserstein` (0 for the
        sliced distance).
    """

    value: object
    standard_error: float
    n_projections: int
    converged: bool = True
    direction: np.ndarray | None = None
    n_iters: int = 0

    def __float__(self) -> float:
        return float(self.value.detach()) if is_torch(self.value) else float(self.value)


def sphere_directions(dim: int, n_projections: int, *, seed=None) -> tuple[np.ndarray, np.ndarray]:
    r"""``n_projections`` unit directions in :math:`\mathbb{R}^d` and the replicate of each.

    In three or more dimensions, with ``n_projections >= 10 d`` (at least ten
    frames to estimate the error from; otherwise the directions are
    independent), the number is rounded up to whole orthonormal frames (a
    multiple of ``d``): a frame integrates every quadratic form over
    the sphere exactly, and a truncated one would add the variance of its
    lone directions.

    Returns ``(directions, groups)``: ``directions`` of shape
    ``(d, n_projections)`` (POT's layout for its ``projections=`` argument)
    and ``groups`` the index of the independent replicate each direction
    belongs to (see the module notes).

    Examples
    --------
    >>> theta, groups = sphere_directions(3, 31, seed=0)  # rounded up to 11 whole frames
    >>> theta.shape, groups[:7].tolist()
    ((3, 33), [0, 0, 0, 1, 1, 1, 2])
    >>> import numpy as np
    >>> np.allclose(theta[:, :3].T @ theta[:, :3], np.eye(3))  # one orthonormal frame
    True
    """
    dim = check_positive_int(dim, "dim")
    n_projections = check_positive_int(n_projections, "n_projections")
    rng = as_generator(seed)
    if dim == 1:
        return np.ones((1, n_projections)), np.zeros(n_projections, dtype=int)
    if dim == 2:
        # One grid of equally spaced angles in [0, pi) turned by a random offset; its even
        # quarters (every fourth angle) are the groups.
        angles = (np.arange(n_projections) + rng.random()) * math.pi / n_projections
        return np.vstack([np.cos(angles), np.sin(angles)]), np.arange(n_projections) % 4
    if n_projections < _MIN_FRAMES * dim:  # too few frames to estimate an error from:
        # independent uniform directions
        g = rng.standard_normal((dim, n_projections))
        return g / np.linalg.norm(g, axis=0), np.arange(n_projections)
    n_frames = -(-n_projections // dim)
    frames = []
    for _ in range(n_frames):
        q, r = np.linalg.qr(rng.standard_normal((dim, dim)))
        frames.append(q * np.sign(np.diag(r)))  # Haar-distributed rotation
    return np.hstack(frames), np.repeat(np.arange(n_frames), dim)


def _prepare(p, q, a, b, order):
    order = check_order(order)
    sp = as_sample(p, "p", weights=a, weights_name="a")
    sq = as_sample(q, "q", weights=b, weights_name="b")
    check_same_dimension(sp, sq)
    data = common_backend(sp.points, sp.probabilities, sq.points, sq.probabilities)
    like = data[0]
    if is_torch(data[0]):
        data = tuple(v.to(working_dtype(v.dtype)) for v in data)
    # points of weight 0 enter no sum; numpy samples leave them out, or a far one sets the
    # frame's scale and data of size 1e-263 beside one at 1e50 lost digits in subnormal
    # coordinates (SW_1 1.2e-11 off, measured)
    x, wx = with_mass(*data[:2])
    y, wy = with_mass(*data[2:])
    frame = median_frame(x, wx, y, wy)  # translation- and scale-exact coordinates of order 1
    return (order, frame.local(x), wx, frame.local(y), wy, frame.scale, sp.uniform and sq.uniform,
            like)


def _column_power_means(gaps, lengths, order):
    """Per column j: (sum_t lengths_t |gaps_tj|^k)^(1/k), without under- or overflow.

    Segments of length 0 (points of weight 0) are left out: their gaps set the unit
    otherwise, and a weight-0 point at 1e300 beside data of size 1 made every other gap
    underflow at order 2 (the sliced W_2 30-44 % low, measured).
    """
    xp = _xp(gaps)
    gaps = xp.where(lengths[:, None] > 0, gaps, xp.zeros_like(gaps))
    top = gaps.detach().abs().amax(0) if is_torch(gaps) else np.abs(gaps).max(0)
    unit = xp.exp2(xp.ceil(xp.log2(xp.where(top > 0, top, xp.ones_like(top)))))
    scaled = (gaps / unit).abs() if is_torch(gaps) else np.abs(gaps / unit)
    total = (lengths[:, None] * (scaled if order == 1 else scaled ** order)).sum(0)
    return unit * kth_root(total, order)


def _xp(v):
    if is_torch(v):
        import torch

        return torch
    return np


def _projected_distances(x, wx, y, wy, theta, order, uniform):
    """W_k between the projections of x and y on each column of ``theta`` (block by block)."""
    xp = _xp(x)
    if is_torch(x):
        import torch

        theta = torch.as_tensor(theta, dtype=x.dtype, device=x.device)
    per_block = max(1, _BLOCK_ELEMENTS // max(x.shape[0], y.shape[0]))
    values = []
    for start in range(0, theta.shape[1], per_block):
        block = theta[:, start:start + per_block]
        px, py = x @ block, y @ block
        if uniform and x.shape[0] == y.shape[0]:
            gaps = xp.sort(px, 0)[0] - xp.sort(py, 0)[0] if is_torch(x) else (
                np.sort(px, 0) - np.sort(py, 0))
            lengths = xp.full_like(gaps[:, 0], 1.0 / x.shape[0])
            values.append(_column_power_means(gaps, lengths, order))
            continue
        for j in range(block.shape[1]):
            lengths, gaps = quantile_coupling(px[:, j], wx, py[:, j], wy)
            values.append(_column_power_means(gaps[:, None], lengths, order))
    return xp.cat(values) if is_torch(x) else np.concatenate(values)


def _sliced_mean(w, groups, order):
    """(SW_k, its standard error) from per-direction W_k values and their replicate groups."""
    wd = (w.detach().cpu().numpy() if is_torch(w) else np.asarray(w)).astype(np.float64)
    unit = power_of_two_at_least(float(wd.max()))
    r = (wd / unit) ** order  # W_k^k in units of unit^k, in [0, 1]
    n, mean = len(r), r.mean()
    labels, sizes = np.unique(groups, return_counts=True)
    if len(labels) < 2:
        se_r = 0.0 if np.all(r == r[0]) else math.inf
    else:  # cluster (ratio) estimator of the variance of the mean over independent replicates
        sums = np.bincount(groups, weights=r)[labels]
        resid = sums - sizes * mean
        se_r = math.sqrt(len(labels) / (len(labels) - 1) * (resid ** 2).sum()) / n
    scaled = (w / unit) ** order
    value = unit * kth_root(scaled.mean(), order)
    se = unit * se_r / (order * mean ** (1 - 1 / order)) if mean > 0 else 0.0
    return value, float(se)


def sliced_wasserstein(p, q, *, a=None, b=None, order: float = 1, n_projections: int = 100,
                       seed=0, tol: float | None = None, max_projections: int = 100_000):
    r"""Sliced Wasserstein distance :math:`SW_k` between two (weighted) samples.

    .. math::

        SW_k(\mu, \nu) = \Big( \int_{S^{d-1}} W_k^k(\theta_\#\mu, \theta_\#\nu)
        \, d\sigma(\theta) \Big)^{1/k}
        \approx \Big( \frac1L \sum_{j=1}^L W_k^k(\theta_{j\#}\mu, \theta_{j\#}\nu) \Big)^{1/k}

    Each 1-D distance is exact; the directions :math:`\theta_j` are random
    orthonormal frames (equally spaced angles in 2-D), see the module notes.

    Parameters
    ----------
    p, q : array-like, Tensor or Sample
        The samples, as for :func:`otlab.wasserstein`.
    a, b : array-like or Tensor, optional
        Weights of the points of ``p`` and ``q``.
    order : float, default 1
        The order ``k >= 1``.
    n_projections : int, default 100
        Number of directions :math:`L` (the first round, with ``tol``),
        rounded up to a multiple of ``d`` for ``d >= 3`` and ``L >= 10 d``.
    seed : int, Generator or None, default 0
        Seed of the directions.
    tol : float, optional
        Target standard error of :math:`SW_k`: directions are added (about
        :math:`L \cdot (\text{se}/\text{tol})^2`) until it is met or
        ``max_projections`` is reached; then ``converged=False`` and a
        :class:`~otlab.ConvergenceWarning`.
    max_projections : int, default 100000
        Cap on the number of directions with ``tol``.

    Returns
    -------
    SlicedResult
        ``value`` (a float, or a 0-dim differentiable tensor for torch input,
        on its device and in its dtype), ``standard_error``,
        ``n_projections``, ``converged``.  ``float(result)`` is the value.

    Raises
    ------
    ValueError
        On invalid samples or weights, ``order < 1``, ``n_projections < 1``,
        ``tol <= 0`` or NaN.

    Notes
    -----
    The points are centred on the median of the points with mass and
    divided by a common power of two before projecting
    (:func:`otlab.frames.median_frame`), so the value is exact to
    round-off under translation and scale.  :math:`SW_k \le W_k` for every
    direction design (each 1-D coupling is a projection of a coupling of the
    samples), and in 2-D the two parallel lines at distance :math:`\theta`
    have :math:`SW_1 = 2|\theta|/\pi`.

    Examples
    --------
    >>> import numpy as np
    >>> z = (np.arange(200) + 0.5) / 200
    >>> lines = np.column_stack([np.zeros(200), z]), np.column_stack([np.full(200, 0.5), z])
    >>> res = sliced_wasserstein(*lines, n_projections=200)
    >>> abs(res.value - 1 / np.pi) < 1e-3, res.standard_error < 1e-3
    (True, True)
    >>> float(sliced_wasserstein([0.0, 1.0], [2.0, 3.0]))  # in 1-D it is W_1
    2.0
    """
    order, x, wx, y, wy, scale, uniform, like = _prepare(p, q, a, b, order)
    n_projections = check_positive_int(n_projections, "n_projections")
    max_projections = check_positive_int(max_projections, "max_projections")
    if tol is not None:
        tol = check_positive(tol, "tol")
    rng = as_generator(seed)
    dim = x.shape[1]
    theta, groups = sphere_directions(dim, n_projections, seed=rng)
    per_direction = _projected_distances(x, wx, y, wy, theta, order, uniform)
    value, se = _sliced_mean(per_direction, groups, order)
    converged = True
    while tol is not None and se * scale > tol:
        total = per_direction.shape[0]
        if total >= max_projections:
            converged = False
            warnings.warn(
                f"sliced_wasserstein: standard error {se * scale:.3g} > tol={tol:g} with "
                f"max_projections={max_projections} directions; the value is unbiased but "
                "less precise than asked", ConvergenceWarning, stacklevel=external_stacklevel())
            break
        # the ratio capped before squaring: (se / tol) ** 2 overflowed for tol = 1e-300
        wanted = math.ceil(total * min(min(se * scale / tol, 4.0) ** 2 * 1.2, 16.0))
        theta, groups = sphere_directions(dim, min(max(wanted, total + dim), max_projections),
                                          seed=rng)
        per_direction = _projected_distances(x, wx, y, wy, theta, order, uniform)
        value, se = _sliced_mean(per_direction, groups, order)
    return SlicedResult(value=result_like(value * scale, like), standard_error=se * scale,
                        n_projections=int(per_direction.shape[0]), converged=converged)


def _direction_objective(x, wx, y, wy, order, uniform):
    """``theta -> (W_k(theta_# p, theta_# q), its gradient in theta)`` on a detached torch copy."""
    import torch

    data = tuple(torch.as_tensor(v).detach() for v in (x, wx, y, wy))

    def value_and_gradient(theta):
        th = torch.tensor(theta, dtype=data[0].dtype, device=data[0].device, requires_grad=True)
        w = _projected_distances(data[0], data[1], data[2], data[3], th[:, None], order,
                                 uniform)[0]
        (grad,) = torch.autograd.grad(w, th)
        return float(w.detach()), grad.detach().cpu().double().numpy()

    return value_and_gradient


def _norm(v: np.ndarray) -> float:
    """The Euclidean norm without underflow: gradients of 1e-302 have squares below the floats.

    Values and gradients are those of the frame's units, as small as 1e-300 beside a far
    point; ``numpy.linalg.norm`` gave 0 there and the ascent stopped at its start, as
    converged (max-sliced W_1 off by 6.5e-5 relative, measured).
    """
    top = float(np.abs(v).max())
    return top * float(np.linalg.norm(v / top)) if top > 0 else 0.0


def _sphere_ascent(objective, theta, *, max_iter, step_tol, rtol=1e-12):
    r"""Projected gradient ascent on the sphere with backtracking along geodesics.

    From ``theta``, move by an angle ``t`` along the tangent gradient
    :math:`u = (I - \theta\theta^\top)\nabla f / \lVert\cdot\rVert`:
    :math:`\theta' = \cos t\,\theta + \sin t\,u`, accepted when
    :math:`f(\theta') \ge f(\theta) + 10^{-4}\, t\, \lVert (I - \theta\theta^\top)\nabla f\rVert`
    (Armijo); ``t`` doubles after an accepted step (up to :math:`\pi/4`) and halves
    after a rejected one.  Every accepted step increases ``f``.  Stops, converged, when no
    step of at least ``step_tol`` radians is accepted, the tangent gradient is 0, or a step
    gains less than ``rtol`` relatively; else after ``max_iter`` accepted steps.

    Returns ``(theta, f(theta), accepted steps, converged)``.
    """
    value, grad = objective(theta)
    step, n_iters = 0.1, 0
    while n_iters < max_iter:
        tangent = grad - (grad @ theta) * theta
        slope = _norm(tangent)
        if not slope > 0:
            return theta, value, n_iters, True
        u = tangent / slope
        while step >= step_tol:
            trial = math.cos(step) * theta + math.sin(step) * u
            trial /= np.linalg.norm(trial)
            trial_value, trial_grad = objective(trial)
            if trial_value >= value + 1e-4 * step * slope:
                break
            step /= 2
        else:
            return theta, value, n_iters, True
        gain = trial_value - value
        theta, value, grad, n_iters = trial, trial_value, trial_grad, n_iters + 1
        if gain <= rtol * value:
            return theta, value, n_iters, True
        step = min(2 * step, math.pi / 4)
    return theta, value, n_iters, False


def max_sliced_wasserstein(p, q, *, a=None, b=None, order: float = 1, n_projections: int = 100,
                           seed=0, max_iter: int = 200, step_tol: float = 1e-9):
    r"""Max-sliced Wasserstein distance: the best direction, by ascent on the sphere.

    .. math::

        \max SW_k(\mu, \nu) = \max_{\theta \in S^{d-1}} W_k(\theta_\#\mu, \theta_\#\nu)
        \;\le\; W_k(\mu, \nu)

    The maximum over the ``n_projections`` directions of
    :func:`sphere_directions` (the rule of POT's
    ``max_sliced_wasserstein_distance``, which stops there) is the starting
    point of a projected gradient ascent on the sphere (see Notes), so the
    value is at least POT's on the same directions and at least
    :func:`sliced_wasserstein` with the same ``n_projections`` and ``seed``.
    Each 1-D distance is exact.

    Parameters
    ----------
    p, q, a, b, order, n_projections, seed
        As for :func:`sliced_wasserstein`; ``n_projections`` is the size of
        the initial design.
    max_iter : int, default 200
        Accepted ascent steps at most.
    step_tol : float, default 1e-9
        The ascent stops when no geodesic step of at least this angle
        (radians) increases the value.

    Returns
    -------
    SlicedResult
        ``value`` (float or differentiable 0-dim tensor), ``direction``
        (the best direction, shape (d,), a unit vector), ``n_iters`` (ascent
        steps), ``converged`` (False when ``max_iter`` stopped the ascent,
        with a :class:`~otlab.ConvergenceWarning`), ``standard_error``
        ``nan``.

    Raises
    ------
    ValueError
        On invalid samples or weights, ``order < 1``, ``n_projections < 1``,
        ``max_iter < 1`` or ``step_tol <= 0``.

    Notes
    -----
    For a fixed coupling :math:`\pi` of the samples,
    :math:`g_\pi(\theta) = \sum_{ij} \pi_{ij} |\langle\theta, x_i - y_j\rangle|^k`
    is convex, and :math:`W_k^k(\theta_\#\mu, \theta_\#\nu) = \min_\pi
    g_\pi(\theta)` with the minimum at the sorted (quantile) coupling; its
    gradient is that of :math:`g_{\pi^*}` where the coupling is unique
    (Danskin).  The objective is neither convex nor concave: the ascent
    (backtracking, every accepted step an increase) finds a local maximum
    from the best direction of the design, so the value is a lower bound of
    the maximum over the sphere that is exact whenever the design's best
    direction lies in the basin of the global maximiser.  For torch input
    the value is differentiable in the points: its gradient is that of
    :math:`W_k` along the direction found, held fixed (the gradient of the
    maximum where the maximiser is unique and the objective smooth there,
    by the envelope theorem).

    Examples
    --------
    Two parallel segments 0.5 apart: the best direction is across them.

    >>> import numpy as np
    >>> z = (np.arange(50) + 0.5) / 50
    >>> lines = np.column_stack([np.zeros(50), z]), np.column_stack([np.full(50, 0.5), z])
    >>> res = max_sliced_wasserstein(*lines, n_projections=8)
    >>> round(float(res), 9), round(abs(float(res.direction[0])), 6)
    (0.5, 1.0)
    """
    order, x, wx, y, wy, scale, uniform, like = _prepare(p, q, a, b, order)
    n_projections = check_positive_int(n_projections, "n_projections")
    max_iter = check_positive_int(max_iter, "max_iter")
    step_tol = check_positive(step_tol, "step_tol")
    dim = x.shape[1]
    theta, _ = sphere_directions(dim, n_projections, seed=seed)
    per_direction = _projected_distances(x, wx, y, wy, theta, order, uniform)
    best = theta[:, int(per_direction.argmax())].copy()
    n_iters, converged = 0, True
    if dim > 1:
        objective = _direction_objective(x, wx, y, wy, order, uniform)
        best, _, n_iters, converged = _sphere_ascent(objective, best, max_iter=max_iter,
                                                     step_tol=step_tol)
        if not converged:
            warnings.warn(
                f"max_sliced_wasserstein: the ascent on the sphere made max_iter={max_iter} "
                "steps without reaching a stationary direction; the value is a lower bound of "
                "the maximum (still increasing)", ConvergenceWarning,
                stacklevel=external_stacklevel())
    value = _projected_distances(x, wx, y, wy, best[:, None], order, uniform)[0]
    return SlicedResult(value=result_like(value * scale, like), standard_error=math.nan,
                        n_projections=theta.shape[1], converged=converged, direction=best,
                        n_iters=n_iters)
