"""What the sample estimators share: validated samples and the half-sample standard error."""

from __future__ import annotations

import numpy as np

from .._backend import to_numpy
from .._validation import check_positive_int
from ..sample import sample_pair

__all__ = ["two_samples", "half_samples", "check_subsamples"]


def two_samples(x, y) -> tuple[np.ndarray, np.ndarray]:
    """Validate two unweighted samples (:func:`otlab.sample.sample_pair`) as numpy arrays.

    Shapes (n, d) and (m, d); a weighted :class:`otlab.Sample` is refused, since
    the estimators weigh every point alike.
    """
    sx, sy = sample_pair(x, y, names=("x", "y"))
    for sample, name in ((sx, "x"), (sy, "y")):
        if not sample.uniform:
            raise ValueError(f"{name} must be an unweighted sample: the estimators weigh every "
                             "point alike; got a weighted Sample")
    return to_numpy(sx.points), to_numpy(sy.points)


def check_subsamples(n_subsamples) -> int:
    """``n_subsamples`` as an int: 0 (no standard error) or at least 2."""
    if n_subsamples == 0:
        return 0
    n_subsamples = check_positive_int(n_subsamples, "n_subsamples")
    if n_subsamples < 2:
        raise ValueError(f"n_subsamples must be 0 or at least 2; got {n_subsamples}")
    return n_subsamples


def half_samples(x, y, n_subsamples: int, seed: int):
    r"""Yield ``n_subsamples`` pairs ``(x_half, y_half)``: random halves of both samples.

    Each draw keeps :math:`\lfloor n/2 \rfloor` rows of ``x`` and
    :math:`\lfloor m/2 \rfloor` of ``y``, without replacement.  This is the
    delete-half jackknife (Shao & Wu 1989): with half of each sample left out
    its variance factor :math:`(n - d)/d` is one, so the standard deviation of
    an estimator over the halves estimates the standard error of its
    full-sample value, for smooth and non-smooth statistics alike (the
    bootstrap, which repeats points, would break nearest-neighbour distances).
    Its mean over the halves is the estimator at half the sample size.

    References
    ----------
    J. Shao, C. F. J. Wu (1989). A general theory for jackknife variance
    estimation. Annals of Statistics 17(3), 1176–1197.
    """
    rng = np.random.default_rng(seed)
    n, m = x.shape[0], y.shape[0]
    for _ in range(n_subsamples):
        ix = np.sort(rng.choice(n, n // 2, replace=False))
        iy = np.sort(rng.choice(m, m // 2, replace=False))
        yield x[ix], y[iy]
