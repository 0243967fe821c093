r"""A common affine standardisation of point clouds, safe at any offset and scale.

The sample estimators (neural critics, k-NN KL, classifier JS) and the exact
critic work on :math:`u = (z - c) / s` with one centre :math:`c` and one scale
:math:`s` shared by all the samples, and report their answer in the data's
units.  KL and JS are invariant under such a map, and :math:`W_1` and every
1-Lipschitz critic scale with :math:`s` (a critic :math:`g` of the standardised
points gives :math:`f(z) = s\, g((z - c)/s)`, with the same Lipschitz
constant), so the answer does not depend on where the data sit or on their
units: offsets of :math:`10^8`, scales from :math:`10^{-300}` to
:math:`10^{300}`.
"""

from __future__ import annotations

import numpy as np

__all__ = ["common_scale", "standardise"]


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
    and :math:`10^{300}`.  When every point is the same, :math:`s = 1`.

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
    center = center + (pooled - center).mean(axis=0)  # one refinement: round-off of the mean
    dev = pooled - center
    spread = float(np.abs(dev).max())
    if spread == 0.0:
        return center, 1.0
    per_coordinate = float(np.sqrt(np.mean((dev / spread) ** 2)))
    if radius:
        per_coordinate *= float(np.sqrt(pooled.shape[1]))
    return center, spread * per_coordinate


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
