"""Seed handling shared by the dataset generators."""

from __future__ import annotations

import numbers

import numpy as np

__all__ = ["as_generator", "check_real"]


def as_generator(seed) -> np.random.Generator:
    """Return a :class:`numpy.random.Generator` for ``seed``.

    ``seed`` may be ``None`` (fresh entropy), a non-negative integer, or a
    Generator, which is used (and advanced) as is.
    """
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None:
        return np.random.default_rng()
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"seed must be None, an int or a numpy Generator; got {seed!r}")
    if seed < 0:
        raise ValueError(f"seed must be non-negative; got {seed!r}")
    return np.random.default_rng(int(seed))


def check_real(value, name: str) -> float:
    """Return ``value`` as a finite float, or raise naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number; got {value!r}")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite; got {value!r}")
    return value
