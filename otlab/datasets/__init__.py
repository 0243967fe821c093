"""Seeded toy data: parallel lines, low-dimensional manifolds, WGAN-GP mixtures.

Every generator takes a ``seed`` (``None``, an int or a
:class:`numpy.random.Generator`) and returns float64 numpy arrays.
"""

from .lines import parallel_lines
from .manifolds import MANIFOLDS, manifold_pair, random_rotation
from .mixtures import (
    MIXTURE_DEFAULTS,
    REFERENCE_DIVISOR,
    eight_gaussians,
    gaussian_mixture_modes,
    ring,
    swiss_roll,
    twenty_five_gaussians,
)

__all__ = [
    "MANIFOLDS",
    "MIXTURE_DEFAULTS",
    "REFERENCE_DIVISOR",
    "eight_gaussians",
    "gaussian_mixture_modes",
    "manifold_pair",
    "parallel_lines",
    "random_rotation",
    "ring",
    "swiss_roll",
    "twenty_five_gaussians",
]
