r"""Distributions supported on low-dimensional manifolds of :math:`\mathbb{R}^D`.

Arjovsky & Bottou (2017) show that when two distributions live on
low-dimensional manifolds that do not perfectly align, a discriminator can
separate them perfectly, the JS divergence is the constant :math:`\log 2`
and its gradient vanishes, whereas :math:`W_1` still varies smoothly.  Adding
*instance noise* :math:`\mathcal{N}(0, \sigma^2 I_D)` to both samples gives
them full support again, and the divergences become informative.

:func:`manifold_pair` draws two such samples: a manifold (segment, circle or
flat :math:`k`-dimensional patch), randomly rotated into :math:`\mathbb{R}^D`,
and the same manifold translated by ``shift`` along a direction orthogonal to
it.  A translation by a vector :math:`v` moves every Wasserstein distance by
exactly :math:`\lVert v\rVert` (the translation coupling attains the lower
bound :math:`\lVert \mathbb{E}X - \mathbb{E}Y\rVert`), so between the
populations :math:`W_1 = W_2 = |\text{shift}|`, and for ``shift != 0`` the
supports are disjoint.
"""

from __future__ import annotations

import numpy as np

from .._validation import check_choice, check_positive, check_positive_int
from ._seed import as_generator, check_real

__all__ = ["MANIFOLDS", "manifold_pair", "random_rotation"]

#: Kinds of manifold accepted by :func:`manifold_pair`.
MANIFOLDS = ("segment", "circle", "subspace")


def random_rotation(dim, seed=None):
    r"""A Haar-distributed random rotation of :math:`\mathbb{R}^{dim}`.

    The Q factor of the QR decomposition of a standard Gaussian matrix, with
    the signs fixed so that its distribution is uniform (Haar) on the
    orthogonal group (Mezzadri 2007), then one column flipped if needed so
    that :math:`\det R = +1`.

    Parameters
    ----------
    dim : int
        Dimension, >= 1.
    seed : None, int or numpy.random.Generator, optional
        Randomness.

    Returns
    -------
    R : ndarray, shape (dim, dim)
        Orthogonal, :math:`R^T R = I`, with determinant +1.

    Examples
    --------
    >>> import numpy as np
    >>> R = random_rotation(3, seed=0)
    >>> bool(np.allclose(R.T @ R, np.eye(3))), round(float(np.linalg.det(R)), 12)
    (True, 1.0)
    """
    dim = check_positive_int(dim, "dim")
    rng = as_generator(seed)
    q, r = np.linalg.qr(rng.standard_normal((dim, dim)))
    q = q * np.where(np.diag(r) < 0, -1.0, 1.0)
    if np.linalg.slogdet(q)[0] < 0:
        q[:, 0] = -q[:, 0]
    return q


def _span_dim(kind: str, intrinsic_dim: int) -> int:
    """Number of ambient axes the canonical (unrotated) manifold occupies."""
    if kind == "subspace":
        return intrinsic_dim
    if intrinsic_dim != 1:
        raise ValueError(f"intrinsic_dim must be 1 for kind={kind!r}; got {intrinsic_dim}")
    return 2 if kind == "circle" else 1


def _canonical_points(kind: str, n: int, span_dim: int, rng) -> np.ndarray:
    """Points of the manifold in its own ``span_dim`` coordinates."""
    if kind == "segment":
        return rng.uniform(0.0, 1.0, (n, 1))
    if kind == "circle":
        phi = rng.uniform(0.0, 2.0 * np.pi, n)
        return np.column_stack([np.cos(phi), np.sin(phi)])
    return rng.uniform(0.0, 1.0, (n, span_dim))


def manifold_pair(kind, n, *, ambient_dim, intrinsic_dim=1, shift=0.0, noise=0.0, seed=None):
    r"""Two samples on a rotated low-dimensional manifold and on its shifted copy.

    The canonical manifolds, in the first coordinates of :math:`\mathbb{R}^D`:

    - ``"segment"``: :math:`t e_1`, :math:`t \sim U[0, 1]` (one axis);
    - ``"circle"``: :math:`\cos\varphi\, e_1 + \sin\varphi\, e_2`,
      :math:`\varphi \sim U[0, 2\pi)` (unit circle, two axes);
    - ``"subspace"``: :math:`\sum_{i \le k} t_i e_i`, :math:`t \sim U[0,1]^k`
      (a unit cube in a :math:`k`-dimensional linear subspace, :math:`k` =
      ``intrinsic_dim``).

    Let :math:`s` be the number of axes used and :math:`R` a random rotation
    (:func:`random_rotation`).  Then :math:`x_i = R u_i + \sigma \varepsilon_i`
    and :math:`y_j = R (u'_j + \text{shift}\; e_{s+1}) + \sigma \varepsilon'_j`,
    with independent manifold points :math:`u, u'` and
    :math:`\varepsilon \sim \mathcal{N}(0, I_D)`.  The shift is orthogonal to
    the manifold's span, so for ``shift != 0`` and ``noise == 0`` the supports
    are disjoint (and at distance ``|shift|``), and between the populations
    :math:`W_1 = |\text{shift}|` whatever ``noise`` is.

    Parameters
    ----------
    kind : {"segment", "circle", "subspace"}
        The manifold.
    n : int
        Points per sample.
    ambient_dim : int
        :math:`D`; must exceed the number of axes of the manifold (1, 2 or
        ``intrinsic_dim``) so that an orthogonal shift direction exists.
    intrinsic_dim : int, default 1
        :math:`k` for ``"subspace"``; must be 1 for the segment and the circle.
    shift : float, default 0.0
        Distance between the manifold and its copy.
    noise : float, default 0.0
        Instance-noise standard deviation :math:`\sigma \ge 0`, added to both
        samples in all :math:`D` coordinates.
    seed : None, int or numpy.random.Generator, optional
        Randomness: the rotation, then ``x``, then ``y``, then the noise.

    Returns
    -------
    x, y : ndarray, shape (n, ambient_dim)
        The two samples, float64.

    Raises
    ------
    TypeError, ValueError
        On an unknown ``kind``, a non-integer or too small ``n``,
        ``ambient_dim`` or ``intrinsic_dim``, a non-finite ``shift`` or a
        negative ``noise``; messages name the argument.

    References
    ----------
    M. Arjovsky and L. Bottou, "Towards principled methods for training
    generative adversarial networks", ICLR 2017.

    Examples
    --------
    >>> import numpy as np
    >>> x, y = manifold_pair("segment", 50, ambient_dim=10, shift=0.3, seed=0)
    >>> x.shape, y.shape
    ((50, 10), (50, 10))
    >>> d = np.linalg.norm(x[:, None] - y[None], axis=-1)
    >>> bool(d.min() >= 0.3 - 1e-12)   # disjoint supports, 0.3 apart
    True
    """
    check_choice(kind, "kind", MANIFOLDS)
    n = check_positive_int(n, "n")
    ambient_dim = check_positive_int(ambient_dim, "ambient_dim")
    intrinsic_dim = check_positive_int(intrinsic_dim, "intrinsic_dim")
    shift = check_real(shift, "shift")
    noise = check_positive(noise, "noise", allow_zero=True)
    span = _span_dim(kind, intrinsic_dim)
    if ambient_dim <= span:
        raise ValueError(
            f"ambient_dim must be > {span} for kind={kind!r} with intrinsic_dim={intrinsic_dim} "
            f"(the shift must be orthogonal to the manifold); got {ambient_dim}"
        )
    rng = as_generator(seed)
    rotation = random_rotation(ambient_dim, rng)
    basis = rotation[:, :span]              # orthonormal frame of the manifold
    direction = rotation[:, span]           # unit vector orthogonal to it
    x = _canonical_points(kind, n, span, rng) @ basis.T
    y = _canonical_points(kind, n, span, rng) @ basis.T + shift * direction
    if noise > 0:
        x = x + noise * rng.standard_normal(x.shape)
        y = y + noise * rng.standard_normal(y.shape)
    return x, y
