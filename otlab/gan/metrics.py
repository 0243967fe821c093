r"""The measures of a generator shared by the families: exact :math:`W_1`, mode metrics.

The exact distance between ``n`` real and ``n`` generated samples (uniform
weights) is the optimal value of the transport LP with the Euclidean cost,

.. math::

    W_1(\hat P_r, \hat P_g) = \min_{\pi \in \Pi(\frac1n 1, \frac1n 1)}
    \sum_{ij} \pi_{ij} \|x_i - y_j\|,

solved by POT's network simplex through :func:`otlab.wasserstein` (exact
costs, validation, and a warning if the iteration cap is hit).  POT releases the GIL inside
the solver, so a worker *thread* computes it while the training loop goes on
(:class:`otlab.gan.record.BackgroundEvaluator`).
"""

from __future__ import annotations

import numpy as np

from .._validation import check_positive_int
from ..distance import wasserstein
from .data import make_sampler

__all__ = ["exact_w1", "mode_counts", "mode_metrics", "evaluate_samples", "sampling_floor",
           "QUALITY_SIGMAS", "MIN_COUNT"]

#: A generated sample is *high quality* within this many standard deviations of its mode.
QUALITY_SIGMAS = 3.0
#: A mode is *covered* with at least this many high-quality samples (Srivastava et al. 2017).
MIN_COUNT = 20


def exact_w1(x, y, *, max_iter: int = 100_000_000) -> float:
    """Exact :math:`W_1` between two equally weighted point clouds (POT network simplex).

    >>> round(exact_w1(np.zeros((3, 2)), np.ones((3, 2))), 6)  # every point moves by sqrt(2)
    1.414214
    """
    return float(wasserstein(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64),
                             method="exact", max_iter=max_iter))


def mode_counts(samples, modes, std: float):
    r"""Nearest mode of each sample and the high-quality samples each mode gets.

    A sample goes to its nearest mode and is *high quality* when it lies within
    :data:`QUALITY_SIGMAS` :math:`\sigma` of it.

    Returns
    -------
    nearest : ndarray of int, shape (n,)
        Index of each sample's nearest mode.
    good : ndarray of bool, shape (n,)
        Whether each sample is high quality.
    counts : ndarray of int, shape (K,)
        High-quality samples per mode.

    >>> modes = np.array([[0.0, 0.0], [10.0, 0.0]])
    >>> mode_counts([[0.0, 0.1], [0.0, 1.0], [9.9, 0.0]], modes, 0.1)[2].tolist()
    [1, 1]
    """
    x = np.asarray(samples, dtype=np.float64)
    modes = np.asarray(modes, dtype=np.float64)
    d = np.linalg.norm(x[:, None, :] - modes[None, :, :], axis=2)
    nearest = d.argmin(axis=1)
    good = d[np.arange(len(x)), nearest] <= QUALITY_SIGMAS * std
    return nearest, good, np.bincount(nearest[good], minlength=len(modes))


def mode_metrics(samples, modes, std: float, *, min_count: int = MIN_COUNT) -> dict:
    r"""Mode coverage of samples from a Gaussian mixture.

    Each sample is assigned to its nearest mode; it is *high quality* when it
    lies within :math:`3\sigma` of that mode.  A mode is *covered* when it
    gets at least ``min_count`` high-quality samples (Srivastava et al. 2017)
    (:func:`mode_counts`).  ``mode_kl`` is the reverse KL divergence :math:`\mathrm{KL}(q \,\|\, U)
    = \sum_k q_k \log(K q_k)` of the histogram :math:`q` of nearest-mode
    assignments from the uniform law on the :math:`K` modes: 0 for a perfect
    spread, :math:`\log K` for total collapse.

    Returns
    -------
    dict with ``modes_covered`` (int), ``high_quality`` (percentage) and ``mode_kl``.

    >>> modes = np.array([[0.0, 0.0], [10.0, 0.0]])
    >>> x = np.repeat(modes, 50, axis=0)
    >>> m = mode_metrics(x, modes, 0.1)
    >>> m["modes_covered"], m["high_quality"], m["mode_kl"]
    (2, 100.0, 0.0)
    """
    nearest, good, counts = mode_counts(samples, modes, std)
    k = len(counts)
    q = np.bincount(nearest, minlength=k) / len(nearest)
    nz = q > 0
    kl = float(np.sum(q[nz] * np.log(k * q[nz])))
    return {"modes_covered": int((counts >= min_count).sum()),
            "high_quality": 100.0 * float(good.mean()),
            "mode_kl": abs(kl) if abs(kl) < 1e-12 else kl}


def evaluate_samples(real, fake, *, modes=None, std: float = 0.0,
                     max_iter: int = 100_000_000) -> dict:
    r"""Exact :math:`W_1` of ``real`` vs ``fake`` and, for mixtures, the mode metrics.

    Returns a dict with ``exact_w1`` (:func:`exact_w1`, the optimal cost
    :math:`\min_\pi \sum_{ij} \pi_{ij} \lVert x_i - y_j \rVert`) and, when
    ``modes`` is given, the entries of :func:`mode_metrics` for ``fake``.

    Examples
    --------
    Translating every point by :math:`v` costs exactly :math:`\lVert v \rVert`
    (the translation is an optimal coupling); here :math:`v = (0.1, 0)`, and
    every shifted sample stays within :math:`3\sigma = 0.3` of its mode.

    >>> modes = np.array([[0.0, 0.0], [10.0, 0.0]])
    >>> real = np.repeat(modes, 50, axis=0)
    >>> fake = real + [0.1, 0.0]
    >>> r = evaluate_samples(real, fake, modes=modes, std=0.1)
    >>> round(r["exact_w1"], 6), r["modes_covered"], r["high_quality"], r["mode_kl"]
    (0.1, 2, 100.0, 0.0)
    >>> list(evaluate_samples(real, fake))
    ['exact_w1']
    """
    result = {"exact_w1": exact_w1(real, fake, max_iter=max_iter)}
    if modes is not None:
        result.update(mode_metrics(fake, modes, std))
    return result


def sampling_floor(data: str, n_samples: int, *, draws: int = 5, seed: int = 0) -> np.ndarray:
    r"""Exact :math:`W_1` between independent sets of ``n_samples`` *real* points.

    A perfect generator (one that samples the data law itself) still scores
    :math:`\mathbb{E}\, W_1(\hat P_n, \hat P'_n) > 0` on finite samples: for
    a mixture, the mode counts of two samples differ by
    :math:`O(\sqrt{n})` and that mass must cross between modes.  This is the
    floor against which the final exact :math:`W_1` of a run is read.

    Parameters
    ----------
    data : str
        A data set of the registry :mod:`otlab.gan.data`.
    n_samples : int
        Points per set (the ``eval_samples`` of the run).
    draws : int, optional
        Independent pairs of sets.
    seed : int, optional
        Seed of the CPU generator the sets are drawn from.

    Returns
    -------
    numpy.ndarray of shape (draws,)
        One exact :math:`W_1` per pair.

    Examples
    --------
    >>> floor = sampling_floor("8gaussians", 256, draws=3)
    >>> floor.shape, bool((floor > 0).all() and (floor < 0.5).all())
    ((3,), True)
    """
    import torch

    draws, n_samples = check_positive_int(draws, "draws"), check_positive_int(n_samples, "n_samples")
    sampler, gen = make_sampler(data), torch.Generator().manual_seed(seed)
    return np.array([exact_w1(sampler(n_samples, generator=gen).numpy(),
                              sampler(n_samples, generator=gen).numpy()) for _ in range(draws)])
