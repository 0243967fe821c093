r"""Common frames: one translation and one scale shared by two (or more) point clouds.

Two frames, each with its use, both safe at any offset and scale:

* **the power-of-two frame** (:func:`common_frame`, :class:`Frame`): both
  clouds translated by the midpoint of their bounding box and divided by a
  power of two ``s``, an exact operation, so coordinates lie in
  :math:`[-1, 1]` whatever their offset (1e8) or magnitude (1e-300, 1e300).
  The solvers (exact, 1-D, Sinkhorn) compute their costs there and scale
  results back by ``s`` or :math:`s^k` (:func:`scale_by_power`), so
  :math:`W(cx, cy) = |c|\, W(x, y)` holds to round-off.  :func:`median_frame`
  centres it on the median of the points with mass instead, so that a few far
  points (or points of weight 0) leave the others their digits (sliced
  distances, MMD).
* **the moment frame** (:func:`common_scale`, :func:`standardise`): the sample
  estimators (neural critics, k-NN KL, classifier JS) and the exact critic work
  on :math:`u = (z - c) / s` with :math:`c` the pooled mean and :math:`s` the
  pooled RMS deviation, and report their answer in the data's units.  KL and
  JS are invariant under such a map, and :math:`W_1` and every 1-Lipschitz
  critic scale with :math:`s` (a critic :math:`g` of the standardised points
  gives :math:`f(z) = s\, g((z - c)/s)`, with the same Lipschitz constant), so
  the answer does not depend on where the data sit or on their units.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ._backend import is_torch

__all__ = ["Frame", "common_frame", "median_frame", "power_of_two_at_least", "scale_by_power",
           "common_scale", "standardise", "anchored_standardise"]


def power_of_two_at_least(r: float) -> float:
    """The smallest power of two >= ``r`` (1 for ``r == 0``; 2**1023 at the top of the range).

    >>> power_of_two_at_least(3.0), power_of_two_at_least(4.0), power_of_two_at_least(1e-300) < 2e-300
    (4.0, 4.0, True)
    """
    r = float(r)
    if not r > 0:
        return 1.0
    mantissa, exponent = math.frexp(r)  # r = mantissa * 2**exponent, mantissa in [0.5, 1)
    if mantissa == 0.5:
        exponent -= 1
    return math.ldexp(1.0, min(exponent, 1023))


def scale_by_power(value, scale: float, order: float):
    r"""``value * scale**order`` without forming ``scale**order``.

    Costs computed in a frame of scale :math:`s` are in units of :math:`s^k`;
    :math:`s^k` alone may overflow (:math:`s = 2^{600}`, :math:`k = 2`) where
    the product does not.  For a power of two ``scale`` this is a change of
    exponent, exact for integer orders; any other positive scale is written
    :math:`s = \rho\, 2^e` with :math:`\rho \in (1/2, 1]`, and ``value`` is
    multiplied by :math:`\rho^k \ge 2^{-k}` first.  Works on floats, numpy
    arrays and tensors.

    >>> scale_by_power(3.0, 2.0**-300, 2) == 3.0 * 2.0**-600
    True
    >>> scale_by_power(2.0**-1000, 2.0**600, 2) == 2.0**200  # (2**600)**2 alone overflows
    True
    >>> scale_by_power(2.0**-1000, 3 * 2.0**600, 2) == 9 * 2.0**200
    True
    """
    top = power_of_two_at_least(scale)
    if scale != top:
        value = value * (scale / top) ** order
    exponent = (math.frexp(top)[1] - 1) * order
    whole = math.floor(exponent)
    if exponent != whole:
        value = value * 2.0 ** (exponent - whole)
    if is_torch(value):
        import torch

        out = torch.ldexp(value, torch.tensor(whole, device=value.device))
        if value.requires_grad:  # torch.ldexp's gradient is 0 for whole < 0 (torch 2.13)
            out = out.detach() + _times_power_of_two(value - value.detach(), whole)
        return out
    with np.errstate(over="ignore", under="ignore"):  # out of range is inf or 0: the true value
        out = np.ldexp(value, whole)
    return float(out) if isinstance(value, float) else out


def _times_power_of_two(t, exponent: int):
    r"""``t * 2**exponent`` for a tensor, differentiable, as products by powers of two in range.

    :func:`torch.ldexp` forms its gradient as ``2**exponent`` in integers: 0 for negative
    exponents and wrong from 63 on (measured on torch 2.13), so that costs below 0.5 in
    :func:`otlab.sinkhorn` and :func:`otlab.entropic.sinkhorn_samples` had a gradient of 0.
    Each factor stays within the dtype's range, so the gradient is the true one wherever it
    is a finite float.
    """
    import torch

    step = math.frexp(torch.finfo(t.dtype).max)[1] - 2  # 1022 in float64, 126 in float32
    while exponent:
        part = max(-step, min(step, exponent))
        t = t * 2.0**part
        exponent -= part
    return t


@dataclass(frozen=True)
class Frame:
    """A common translation and power-of-two scale: ``local(z) = (z - centre) / scale``.

    Attributes
    ----------
    centre : ndarray, Tensor or None
        Subtracted from every point (``None``: no translation).
    scale : float
        A power of two, so dividing by it is exact (barring underflow of
        coordinates more than 1e-308 times smaller than the cloud).
    """

    centre: object
    scale: float

    def local(self, z):
        """Coordinates of the points ``z`` (n, d) in this frame."""
        if self.centre is not None:
            z = z - self.centre
        return z / self.scale


def common_frame(x, y, *, centre: bool = True) -> Frame:
    r"""The frame in which both clouds have coordinates in :math:`[-1, 1]`.

    The centre is the midpoint of the bounding box of both clouds and the
    scale the smallest power of two at least half its largest side, both
    computed without overflow (the sides are formed as ``hi/2 - lo/2``).

    Parameters
    ----------
    x, y : ndarray or Tensor, shapes (n, d) and (m, d)
        Validated, finite points.
    centre : bool, default True
        Translate as well as scale.  The exact path does not translate: its
        differences are already translation-exact, and scaling alone keeps
        them so.

    Examples
    --------
    >>> import numpy as np
    >>> frame = common_frame(np.array([[1e8, 0.0]]), np.array([[1e8 + 3.0, 4.0]]))
    >>> frame.scale, frame.local(np.array([[1e8 + 3.0, 4.0]])).tolist()
    (2.0, [[0.75, 1.0]])
    """
    if is_torch(x):
        import torch

        xd, yd = x.detach(), y.detach()
        lo = torch.minimum(xd.amin(0), yd.amin(0))
        hi = torch.maximum(xd.amax(0), yd.amax(0))
    else:
        lo = np.minimum(x.min(0), y.min(0))
        hi = np.maximum(x.max(0), y.max(0))
    half_side = float((hi / 2 - lo / 2).max())
    return Frame(centre=(lo / 2 + hi / 2) if centre else None,
                 scale=power_of_two_at_least(half_side))


def median_frame(x, wx, y, wy) -> Frame:
    r"""The common frame centred on the coordinate-wise median of the points that carry mass.

    The midpoint of the bounding box (:func:`common_frame`) lies far from the
    data when a few points are far away, and ``z - centre`` then keeps only
    the far points' digits: a pair of weight 1e-3 at 1e16 beside data of size
    1 moved the sliced :math:`W_1` by 6.5 %, a weight-0 point at 1e300 made
    it 0.  From the median of the points of positive weight each offset is
    exact to its own precision; the scale, the power of two at or above the
    farthest offset, keeps every coordinate in :math:`[-1, 1]`.  Where an
    offset overflows (points near both ends of the float range) this is
    :func:`common_frame`.

    Parameters
    ----------
    x, y : ndarray or Tensor, shapes (n, d) and (m, d)
        Validated, finite points.
    wx, wy : ndarray or Tensor, shapes (n,) and (m,)
        Their non-negative weights, not all zero.

    Examples
    --------
    >>> w = np.array([0.5, 0.5, 0.0])
    >>> frame = median_frame(np.array([[1.0], [2.0], [1e300]]), w, np.array([[3.0]]), np.ones(1))
    >>> frame.centre.tolist(), frame.local(np.array([[3.0]])).tolist()[0][0] * frame.scale
    ([2.0], 1.0)
    """
    if is_torch(x):
        import torch

        xd, yd = x.detach(), y.detach()
        heavy = torch.cat([xd[wx.detach() > 0], yd[wy.detach() > 0]])
        centre = heavy.median(dim=0).values
        reach = max(float((xd - centre).abs().max()), float((yd - centre).abs().max()))
    else:
        centre = np.median(np.concatenate([x[wx > 0], y[wy > 0]]), axis=0)
        with np.errstate(over="ignore", invalid="ignore"):
            reach = max(float(np.abs(x - centre).max()), float(np.abs(y - centre).max()))
    if not math.isfinite(reach):  # offsets beyond the float range: only the midpoint fits
        return common_frame(x, y)
    return Frame(centre=centre, scale=power_of_two_at_least(reach))


def common_scale(*samples: np.ndarray, radius: bool = False) -> tuple[np.ndarray, float]:
    r"""Centre :math:`c` (pooled mean) and scale :math:`s` (pooled RMS deviation per coordinate).

    .. math::

        c = \frac1N \sum_i z_i, \qquad
        s = \Big(\frac{1}{N d} \sum_i \lVert z_i - c \rVert^2\Big)^{1/2}

    over the :math:`N` rows of all ``samples`` (float64 arrays of shape
    (n, d)); with ``radius=True``, :math:`\sqrt d\, s`, the RMS distance to
    the centre (the scale of Euclidean geometry, which does not shrink the
    way a coordinate's spread does when few directions of a high-dimensional
    space are used).  Both are computed on data divided by their largest
    magnitude, so nothing overflows or underflows between :math:`10^{-300}`
    and :math:`10^{300}`, nor when the offsets from the mean reach the float
    range (points near :math:`\pm 10^{307}`).  When every point is the same,
    :math:`s = 1`; a ValueError when the offsets themselves overflow (points
    at both ends of the float range).

    Examples
    --------
    >>> c, s = common_scale(np.array([[1e200], [3e200]]), np.array([[5e200]]))
    >>> c / 1e200, round(s / 1e200, 12), round(float(np.sqrt(8 / 3)), 12)
    (array([3.]), 1.632993161855, 1.632993161855)
    """
    pooled = np.concatenate(samples)
    top = float(np.abs(pooled).max()) if pooled.size else 0.0
    if top == 0.0:
        return np.zeros(pooled.shape[1]), 1.0
    center = (pooled / top).mean(axis=0) * top
    with np.errstate(over="ignore", invalid="ignore"):
        dev = pooled - center
    spread = float(np.abs(dev).max())
    if not math.isfinite(spread):
        raise ValueError(f"the points span more than the float range (coordinates from "
                         f"{float(pooled.min()):.3g} to {float(pooled.max()):.3g}): their "
                         "offsets from the mean overflow")
    if spread == 0.0:
        return center, 1.0
    # one refinement (the round-off of the mean), summed in units of the spread: a plain
    # sum of offsets of order 1e307 overflows
    center = center + (dev / spread).mean(axis=0) * spread
    dev = pooled - center
    spread = float(np.abs(dev).max())
    if spread == 0.0:
        return center, 1.0
    per_coordinate = float(np.sqrt(np.mean((dev / spread) ** 2)))
    if radius:
        per_coordinate *= float(np.sqrt(pooled.shape[1]))
    # A spread among the smallest subnormals can round the product to 0: keep s > 0.
    return center, max(spread * per_coordinate, spread * 2.0**-64, 5e-324)


def standardise(*samples: np.ndarray, radius: bool = False
                ) -> tuple[list[np.ndarray], np.ndarray, float]:
    """``([(z - c) / s for each sample], c, s)`` with :func:`common_scale`.

    Examples
    --------
    >>> (u, v), c, s = standardise(np.array([[1e8 + 1.0]]), np.array([[1e8 - 1.0]]))
    >>> u, v, c, s
    (array([[1.]]), array([[-1.]]), array([1.e+08]), 1.0)
    """
    center, scale = common_scale(*samples, radius=radius)
    return [(z - center) / scale for z in samples], center, scale


def anchored_standardise(*samples: np.ndarray, radius: bool = False):
    r"""``([((z - o) - t) / s for each sample], o, t, s)``: :func:`standardise` from an anchor.

    The anchor :math:`o` is the pooled lower median of each coordinate (a data
    value), :math:`t` and :math:`s` are :func:`common_scale` of the offsets
    :math:`z - o`, so :math:`o + t` is the pooled mean.  A translation of every
    sample that float64 holds exactly moves :math:`o` by itself and leaves the
    offsets, :math:`t`, :math:`s` and the standardised points bitwise unchanged
    (a centre formed as one number, :math:`o + t`, is rounded at the offset's
    magnitude: at an offset of 1e100 the standardised points moved by 1e-8).

    Examples
    --------
    >>> (u, v), o, t, s = anchored_standardise(np.array([[1e100 + 2**333]]), np.array([[1e100]]))
    >>> u.tolist(), v.tolist(), o.tolist() == [1e100], round(s / 2.0**332, 12)
    ([[1.0]], [[-1.0]], True, 1.0)
    """
    pooled = np.concatenate(samples)
    anchor = np.sort(pooled, axis=0)[(pooled.shape[0] - 1) // 2]
    with np.errstate(over="ignore", invalid="ignore"):
        offsets = [z - anchor for z in samples]
    if not all(np.isfinite(o).all() for o in offsets):
        raise ValueError(f"the points span more than the float range (coordinates from "
                         f"{float(pooled.min()):.3g} to {float(pooled.max()):.3g}): their "
                         "offsets overflow")
    shift, scale = common_scale(*offsets, radius=radius)
    return [(o - shift) / scale for o in offsets], anchor, shift, scale
