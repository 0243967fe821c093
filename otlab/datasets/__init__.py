"""Seeded toy data: parallel lines, low-dimensional manifolds, WGAN-GP mixtures, W_1 benchmark pairs.

Every generator takes a ``seed`` (``None``, an int or a
:class:`numpy.random.Generator`) and returns float64 numpy arrays.
"""

from .lines import parallel_lines
from .manifolds import MANIFOLDS, manifold_pair, random_rotation
from .mixtures import (
    MIXTURE_DEFAULTS,
    REFERENCE_DIVISOR,
    RING_DEFAULTS,
    SWISS_ROLL_DEFAULTS,
    eight_gaussians,
    gaussian_mixture_modes,
    ring,
    ring_points,
    swiss_roll,
    swiss_roll_points,
    twenty_five_gaussians,
)
from .w1_benchmark import W1BenchmarkPair, w1_benchmark

__all__ = [
    "MANIFOLDS",
    "MIXTURE_DEFAULTS",
    "REFERENCE_DIVISOR",
    "RING_DEFAULTS",
    "SWISS_ROLL_DEFAULTS",
    "eight_gaussians",
    "gaussian_mixture_modes",
    "manifold_pair",
    "parallel_lines",
    "random_rotation",
    "ring",
    "ring_points",
    "swiss_roll",
    "swiss_roll_points",
    "twenty_five_gaussians",
    "W1BenchmarkPair",
    "w1_benchmark",
]
