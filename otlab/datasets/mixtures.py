r"""Two-dimensional toy distributions of the WGAN-GP paper (Gulrajani et al. 2017).

**Scale convention.** The reference WGAN-GP code draws 8 Gaussians on a circle of radius 2 with
standard deviation 0.02, and 25 Gaussians on the grid :math:`2\{-2,\dots,2\}^2`
with standard deviation 0.05, and then divides the whole sample by 1.414
(resp. 2.828, :data:`REFERENCE_DIVISOR`).  otlab does **not** rescale afterwards: the
arguments are the final geometry of the sample.  The defaults are the reference code's data
before its division, so modes and widths are as above (radius 2, grid spacing
2).  The reference scale is ``eight_gaussians(n, radius=2 / 1.414,
std=0.02 / 1.414)`` and ``twenty_five_gaussians(n, spacing=2 / 2.828,
std=0.05 / 2.828)``; the named mixture ``"25gaussians-ref"`` is the latter
(grid spacing :math:`2/2.828 \approx 0.707`, standard deviation
:math:`0.05/2.828 \approx 0.0177`), the data the reference code trains on.
:func:`gaussian_mixture_modes` with the same ``scale`` (the radius, resp. the
spacing) returns exactly the means the samplers use, and
:data:`MIXTURE_DEFAULTS` the default scale and standard deviation of each named
mixture, so mode-coverage metrics stay consistent with the samples.
"""

from __future__ import annotations

import math
from types import MappingProxyType

import numpy as np

from .._validation import check_choice, check_positive, check_positive_int
from ._seed import as_generator

__all__ = [
    "MIXTURE_DEFAULTS",
    "REFERENCE_DIVISOR",
    "gaussian_mixture_modes",
    "eight_gaussians",
    "twenty_five_gaussians",
    "ring",
    "swiss_roll",
    "RING_DEFAULTS",
    "SWISS_ROLL_DEFAULTS",
    "ring_points",
    "swiss_roll_points",
]

#: The number the reference WGAN-GP toy code divides its whole sample by, per mixture.
REFERENCE_DIVISOR = MappingProxyType({"8gaussians": 1.414, "25gaussians": 2.828})

#: Default ``scale`` (radius or grid spacing) and ``std`` of each named mixture;
#: ``"25gaussians-ref"`` is ``"25gaussians"`` divided by ``REFERENCE_DIVISOR["25gaussians"]``.
MIXTURE_DEFAULTS = MappingProxyType({
    "8gaussians": MappingProxyType({"scale": 2.0, "std": 0.02}),
    "25gaussians": MappingProxyType({"scale": 2.0, "std": 0.05}),
    "25gaussians-ref": MappingProxyType({"scale": 2.0 / REFERENCE_DIVISOR["25gaussians"],
                                         "std": 0.05 / REFERENCE_DIVISOR["25gaussians"]}),
})

#: Layout of the means of each named mixture: on a circle or on the 5 x 5 grid.
_LAYOUT = MappingProxyType({"8gaussians": "circle", "25gaussians": "grid",
                            "25gaussians-ref": "grid"})


#: Radius and noise of the ``"ring"`` data set.
RING_DEFAULTS = MappingProxyType({"radius": 2.0, "std": 0.02})

#: Noise (before scaling) and the divisor of the ``"swissroll"`` data set.
SWISS_ROLL_DEFAULTS = MappingProxyType({"noise": 0.25, "divisor": 7.5})


def ring_points(phi, eps, *, radius=RING_DEFAULTS["radius"], std=RING_DEFAULTS["std"], xp=np):
    r"""The ring's map :math:`r(\cos\phi, \sin\phi) + \sigma\varepsilon` of drawn numbers.

    Written once for every array library: ``xp`` is :mod:`numpy` (for
    :func:`ring`) or :mod:`torch` (for the trainer's sampler on the device);
    ``phi`` has shape ``(n,)`` and ``eps`` shape ``(n, 2)``.

    Examples
    --------
    >>> ring_points(np.array([0.0, np.pi / 2]), np.zeros((2, 2))).round(12)
    array([[2., 0.],
           [0., 2.]])
    """
    return radius * xp.stack([xp.cos(phi), xp.sin(phi)], axis=1) + std * eps


def swiss_roll_points(u, eps, *, noise=SWISS_ROLL_DEFAULTS["noise"], xp=np):
    r"""The Swiss roll's map of drawn numbers ``u`` (uniform on [0, 1]) and ``eps`` (normal).

    :math:`t = \tfrac{3\pi}{2}(1 + 2u)`,
    :math:`X = ((t\cos t, t\sin t) + \eta\varepsilon) / 7.5`; ``xp`` is
    :mod:`numpy` or :mod:`torch` (see :func:`ring_points`).

    Examples
    --------
    >>> x = swiss_roll_points(np.array([0.0]), np.zeros((1, 2)))
    >>> np.testing.assert_allclose(x, [[0.0, -1.5 * np.pi / 7.5]], atol=1e-15)
    """
    t = 1.5 * math.pi * (1.0 + 2.0 * u)
    roll = xp.stack([t * xp.cos(t), t * xp.sin(t)], axis=1)
    return (roll + noise * eps) / SWISS_ROLL_DEFAULTS["divisor"]


def gaussian_mixture_modes(name, *, scale=None):
    r"""Means of the named Gaussian mixture.

    - ``"8gaussians"``: :math:`r(\cos\phi_k, \sin\phi_k)` with
      ``phi = np.linspace(0, 2*pi, 8, endpoint=False)`` (with the endpoint
      the first and last angles coincide and only 7 modes are distinct);
    - ``"25gaussians"``, ``"25gaussians-ref"``: :math:`s\,(i, j)` for
      :math:`i, j \in \{-2, \dots, 2\}`, ordered with ``i`` major.

    Parameters
    ----------
    name : {"8gaussians", "25gaussians", "25gaussians-ref"}
        The mixture.
    scale : float, optional
        Radius :math:`r` (8 Gaussians) or grid spacing :math:`s` (25
        Gaussians); default ``MIXTURE_DEFAULTS[name]["scale"]`` (2, or
        :math:`2/2.828` for ``"25gaussians-ref"``).

    Returns
    -------
    modes : ndarray, shape (8, 2) or (25, 2)

    Examples
    --------
    >>> gaussian_mixture_modes("8gaussians", scale=1.0)[:3].round(3)
    array([[1.   , 0.   ],
           [0.707, 0.707],
           [0.   , 1.   ]])
    >>> gaussian_mixture_modes("25gaussians").shape
    (25, 2)
    >>> gaussian_mixture_modes("25gaussians-ref")[[0, 1, 24]].round(4)
    array([[-1.4144, -1.4144],
           [-1.4144, -0.7072],
           [ 1.4144,  1.4144]])
    """
    check_choice(name, "name", tuple(MIXTURE_DEFAULTS))
    scale = MIXTURE_DEFAULTS[name]["scale"] if scale is None else check_positive(scale, "scale")
    if _LAYOUT[name] == "circle":
        phi = np.linspace(0.0, 2.0 * np.pi, 8, endpoint=False)
        return scale * np.column_stack([np.cos(phi), np.sin(phi)])
    grid = np.arange(-2, 3, dtype=np.float64)
    ii, jj = np.meshgrid(grid, grid, indexing="ij")
    return scale * np.column_stack([ii.ravel(), jj.ravel()])


def _sample_mixture(modes, n, std, seed, return_labels):
    rng = as_generator(seed)
    labels = rng.integers(0, len(modes), n)
    x = modes[labels] + std * rng.standard_normal((n, 2))
    return (x, labels) if return_labels else x


def eight_gaussians(n, *, radius=2.0, std=0.02, seed=None, return_labels=False):
    r"""Equal mixture of 8 isotropic Gaussians on a circle.

    .. math::

        X = r(\cos\phi_K, \sin\phi_K) + \sigma \varepsilon, \quad
        K \sim U\{0..7\},\ \phi_k = 2\pi k / 8,\ \varepsilon \sim \mathcal{N}(0, I_2).

    Parameters
    ----------
    n : int
        Number of points.
    radius : float, default 2.0
        Radius :math:`r` of the circle of means (no rescaling afterwards; see
        the module notes for the WGAN-GP scale).
    std : float, default 0.02
        Standard deviation :math:`\sigma` of each component.
    seed : None, int or numpy.random.Generator, optional
        Randomness.
    return_labels : bool, default False
        Also return the component index of each point.

    Returns
    -------
    x : ndarray, shape (n, 2)
    labels : ndarray of int, shape (n,)
        Only with ``return_labels=True``; indexes
        ``gaussian_mixture_modes("8gaussians", scale=radius)``.

    Examples
    --------
    >>> x = eight_gaussians(1000, seed=0)
    >>> x.shape, round(float(abs(np.linalg.norm(x, axis=1) - 2).max()), 1)
    ((1000, 2), 0.1)
    """
    n = check_positive_int(n, "n")
    radius = check_positive(radius, "radius")
    std = check_positive(std, "std", allow_zero=True)
    modes = gaussian_mixture_modes("8gaussians", scale=radius)
    return _sample_mixture(modes, n, std, seed, return_labels)


def twenty_five_gaussians(n, *, spacing=2.0, std=0.05, seed=None, return_labels=False):
    r"""Equal mixture of 25 isotropic Gaussians on the grid :math:`s\{-2,\dots,2\}^2`.

    Parameters
    ----------
    n : int
        Number of points.
    spacing : float, default 2.0
        Grid spacing :math:`s` (the WGAN-GP data before its division by 2.828;
        ``2 / 2.828`` gives the reference scale, ``"25gaussians-ref"``).
    std : float, default 0.05
        Standard deviation of each component (``0.05 / 2.828`` at the
        reference scale).
    seed : None, int or numpy.random.Generator, optional
        Randomness.
    return_labels : bool, default False
        Also return the component index of each point (indexing
        ``gaussian_mixture_modes("25gaussians", scale=spacing)``).

    Returns
    -------
    x : ndarray, shape (n, 2)
    labels : ndarray of int, shape (n,)
        Only with ``return_labels=True``.

    Examples
    --------
    >>> x, k = twenty_five_gaussians(500, seed=0, return_labels=True)
    >>> modes = gaussian_mixture_modes("25gaussians")
    >>> bool(np.abs(x - modes[k]).max() < 0.3)
    True
    """
    n = check_positive_int(n, "n")
    spacing = check_positive(spacing, "spacing")
    std = check_positive(std, "std", allow_zero=True)
    modes = gaussian_mixture_modes("25gaussians", scale=spacing)
    return _sample_mixture(modes, n, std, seed, return_labels)


def ring(n, *, radius=RING_DEFAULTS["radius"], std=RING_DEFAULTS["std"], seed=None):
    r"""Points on a circle with uniform angle and isotropic Gaussian noise.

    :math:`X = r(\cos\phi, \sin\phi) + \sigma\varepsilon`,
    :math:`\phi \sim U[0, 2\pi)`.

    Parameters
    ----------
    n : int
        Number of points.
    radius : float, default 2.0
        Radius :math:`r`.
    std : float, default 0.02
        Noise standard deviation :math:`\sigma`.
    seed : None, int or numpy.random.Generator, optional
        Randomness.

    Returns
    -------
    x : ndarray, shape (n, 2)

    Examples
    --------
    >>> x = ring(200, std=0.0, seed=1)
    >>> np.testing.assert_allclose(np.linalg.norm(x, axis=1), 2.0)
    """
    n = check_positive_int(n, "n")
    radius = check_positive(radius, "radius")
    std = check_positive(std, "std", allow_zero=True)
    rng = as_generator(seed)
    phi = rng.uniform(0.0, 2.0 * np.pi, n)
    return ring_points(phi, rng.standard_normal((n, 2)), radius=radius, std=std)


def swiss_roll(n, *, noise=SWISS_ROLL_DEFAULTS["noise"], seed=None):
    r"""The 2-D Swiss roll of the WGAN-GP experiments.

    With :math:`t = \tfrac{3\pi}{2}(1 + 2u)`, :math:`u \sim U[0, 1]`,

    .. math::

        X = \tfrac{1}{7.5}\big(t\cos t + \eta\varepsilon_1,\; t \sin t + \eta\varepsilon_2\big),
        \quad \varepsilon \sim \mathcal{N}(0, I_2),

    the same law as ``sklearn.datasets.make_swiss_roll(n, noise=eta)[0][:, [0, 2]] / 7.5``
    (the noise is added before the division by 7.5, as there).

    Parameters
    ----------
    n : int
        Number of points.
    noise : float, default 0.25
        Noise standard deviation :math:`\eta` before scaling.
    seed : None, int or numpy.random.Generator, optional
        Randomness.

    Returns
    -------
    x : ndarray, shape (n, 2)

    Examples
    --------
    >>> x = swiss_roll(1000, noise=0.0, seed=0)
    >>> bool(np.linalg.norm(x, axis=1).max() <= 4.5 * np.pi / 7.5)
    True
    """
    n = check_positive_int(n, "n")
    noise = check_positive(noise, "noise", allow_zero=True)
    rng = as_generator(seed)
    return swiss_roll_points(rng.uniform(0.0, 1.0, n), rng.standard_normal((n, 2)), noise=noise)
