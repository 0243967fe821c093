r"""The measures of a generator shared by the families: exact :math:`W_1`, mode metrics.

The exact distance between ``n`` real and ``n`` generated samples (uniform
weights) is the optimal value of the transport LP with the Euclidean cost,

.. math::

    W_1(\hat P_r, \hat P_g) = \min_{\pi \in \Pi(\frac1n 1, \frac1n 1)}
    \sum_{ij} \pi_{ij} \|x_i - y_j\|,

solved by POT's network simplex through :func:`otlab.wasserstein` (exact
costs, validation, and a warning if the iteration cap is hit).  POT releases the GIL inside
the solver, so a worker *thread* computes it while the training loop goes on
(:class:`otlab.gan.evaluator.BackgroundEvaluator`).
"""

from __future__ import annotations

import numpy as np

from .._validation import as_points, check_positive, check_positive_int
from ..distance import wasserstein
from .data import make_sampler

__all__ = ["exact_w1", "mode_counts", "mode_metrics", "mode_capture_metrics", "evaluate_samples",
           "sampling_floor", "QUALITY_SIGMAS", "MIN_COUNT", "MODE_CAPTURE_KEYS"]

#: A generated sample is *high quality* within this many standard deviations of its mode.
QUALITY_SIGMAS = 3.0
#: A mode is *covered* (otlab's stricter rule, :func:`mode_metrics`) with at least this many
#: high-quality samples; the published rule (:func:`mode_capture_metrics`) asks for one.
MIN_COUNT = 20
#: The keys of :func:`mode_capture_metrics`, in every evaluation and summary of a mixture run.
MODE_CAPTURE_KEYS = ("modes", "high_quality_fraction", "reverse_kl")


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


def mode_capture_metrics(samples, modes, std: float) -> dict:
    r"""The three mode-collapse measures of VEEGAN and PacGAN's Table 1, as published.

    Each sample goes to its nearest mode :math:`k(x)` and is *high quality*
    when :math:`\lVert x - \mu_{k(x)} \rVert \le 3\sigma`.  With :math:`n`
    samples, :math:`K` modes and :math:`c_k` the high-quality samples of mode :math:`k`:

    .. math::

        \text{modes} = \#\{k : c_k \ge 1\}, \qquad
        \text{high\_quality\_fraction} = \frac{1}{n} \sum_k c_k, \qquad
        \text{reverse\_kl} = \mathrm{KL}(q \,\|\, U) = \sum_{k:\, q_k > 0} q_k \log(K q_k),
        \quad q_k = \frac{c_k}{\sum_j c_j}.

    A mode is *captured* when at least one high-quality sample falls in it
    (Srivastava et al. 2017, Sec. 5.1: "the number of mixture components whose
    mean is nearest to at least one high quality sample"; Lin et al. 2018,
    Sec. 3.1, where a mode is lost when no sample lies within three standard
    deviations of its centre).  The reverse KL compares the histogram
    :math:`q` of the high-quality samples over the modes with the uniform law
    :math:`U` of the real data's modes, the histogram the PacGAN authors' released
    evaluation builds: samples outside every :math:`3\sigma` ball are left out
    of :math:`q` (they lower ``high_quality_fraction`` instead), and an empty
    mode adds :math:`0 \log 0 = 0`, so the value stays finite when modes are
    missing and reaches :math:`\log K` when every high-quality sample sits in
    one mode.  With no high-quality sample at all, :math:`q` does not exist and
    ``reverse_kl`` is ``None``.  Distances are Euclidean (the mixtures are
    isotropic with one :math:`\sigma`, so this is the Mahalanobis rule of the
    released code).  The published table uses 2500 samples.

    Parameters
    ----------
    samples : array_like, shape (n, d)
        Generated points.
    modes : array_like, shape (K, d)
        Means of the mixture.
    std : float
        Standard deviation :math:`\sigma` of every component.

    Returns
    -------
    dict
        ``modes`` (int), ``high_quality_fraction`` (in [0, 1]) and
        ``reverse_kl`` (float in :math:`[0, \log K]`, or ``None``).

    Examples
    --------
    Half the samples on each of two modes, half of them far from both:

    >>> modes = np.array([[0.0, 0.0], [10.0, 0.0]])
    >>> x = np.array([[0.0, 0.0], [10.0, 0.0], [5.0, 5.0], [5.0, -5.0]])
    >>> mode_capture_metrics(x, modes, 0.1)
    {'modes': 2, 'high_quality_fraction': 0.5, 'reverse_kl': 0.0}
    """
    samples, modes = as_points(samples, "samples"), as_points(modes, "modes")
    if samples.shape[1] != modes.shape[1]:
        raise ValueError(f"samples and modes must have the same dimension; got samples of shape "
                         f"{tuple(samples.shape)} and modes of shape {tuple(modes.shape)}")
    std = check_positive(std, "std")
    _, good, counts = mode_counts(samples, modes, std)
    total = int(counts.sum())
    if total == 0:
        kl = None
    else:
        q = counts[counts > 0] / total
        kl = float(np.sum(q * np.log(len(counts) * q)))
        kl = max(kl, 0.0)  # KL >= 0; a uniform histogram rounds to +-1e-16
    return {"modes": int((counts >= 1).sum()), "high_quality_fraction": float(good.mean()),
            "reverse_kl": kl}


def evaluate_samples(real, fake, *, modes=None, std: float = 0.0,
                     max_iter: int = 100_000_000) -> dict:
    r"""Exact :math:`W_1` of ``real`` vs ``fake`` and, for mixtures, the mode metrics.

    Returns a dict with ``exact_w1`` (:func:`exact_w1`, the optimal cost
    :math:`\min_\pi \sum_{ij} \pi_{ij} \lVert x_i - y_j \rVert`) and, when
    ``modes`` is given, the entries of :func:`mode_metrics` and of
    :func:`mode_capture_metrics` (``modes``, ``high_quality_fraction``,
    ``reverse_kl``) for ``fake``.

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
        result.update(mode_capture_metrics(fake, modes, std))
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
