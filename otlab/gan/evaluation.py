r"""Evaluation during training: exact :math:`W_1`, critic estimate, mode metrics.

The exact distance between ``n`` real and ``n`` generated samples (uniform
weights) is the optimal value of the transport LP with the Euclidean cost,

.. math::

    W_1(\hat P_r, \hat P_g) = \min_{\pi \in \Pi(\frac1n 1, \frac1n 1)}
    \sum_{ij} \pi_{ij} \|x_i - y_j\|,

solved by POT's network simplex through :func:`otlab.wasserstein` (exact
costs, validation, and a warning if the iteration cap is hit).  POT releases the GIL inside
the solver, so a worker *thread* computes it while the training loop goes on
(:class:`BackgroundEvaluator`).
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np

from .._validation import check_positive_int
from ..distance import wasserstein

__all__ = ["exact_w1", "mode_metrics", "evaluate_samples", "sampling_floor", "BackgroundEvaluator"]


def exact_w1(x, y, *, max_iter: int = 100_000_000) -> float:
    """Exact :math:`W_1` between two equally weighted point clouds (POT network simplex).

    >>> round(exact_w1(np.zeros((3, 2)), np.ones((3, 2))), 6)  # every point moves by sqrt(2)
    1.414214
    """
    return float(wasserstein(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64),
                             method="exact", max_iter=max_iter))


def mode_metrics(samples, modes, std: float, *, min_count: int = 20) -> dict:
    r"""Mode coverage of samples from a Gaussian mixture.

    Each sample is assigned to its nearest mode; it is *high quality* when it
    lies within :math:`3\sigma` of that mode.  A mode is *covered* when it
    gets at least ``min_count`` high-quality samples (Srivastava et al. 2017).
    ``mode_kl`` is the reverse KL divergence :math:`\mathrm{KL}(q \,\|\, U)
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
    x = np.asarray(samples, dtype=np.float64)
    modes = np.asarray(modes, dtype=np.float64)
    d = np.linalg.norm(x[:, None, :] - modes[None, :, :], axis=2)
    nearest = d.argmin(axis=1)
    good = d[np.arange(len(x)), nearest] <= 3.0 * std
    counts = np.bincount(nearest[good], minlength=len(modes))
    q = np.bincount(nearest, minlength=len(modes)) / len(x)
    nz = q > 0
    kl = float(np.sum(q[nz] * np.log(len(modes) * q[nz])))
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
        A data set name of :mod:`otlab.gan.data`.
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

    from .data import make_sampler

    draws, n_samples = check_positive_int(draws, "draws"), check_positive_int(n_samples, "n_samples")
    sampler, gen = make_sampler(data), torch.Generator().manual_seed(seed)
    return np.array([exact_w1(sampler(n_samples, generator=gen).numpy(),
                              sampler(n_samples, generator=gen).numpy()) for _ in range(draws)])


class BackgroundEvaluator:
    """Run the evaluation measures in a worker thread, one job at a time, in order.

    ``metrics(real, fake) -> dict`` is what runs there (by default
    :func:`evaluate_samples` with ``modes``, ``std`` and ``max_iter``).
    ``submit`` takes a callable returning ``(real, fake, extra_fields)`` as
    host arrays, which runs in the worker (e.g. after waiting for a CUDA
    event); ``poll`` returns the finished ``(iteration, result)`` pairs
    without blocking; ``drain`` waits.
    """

    def __init__(self, *, modes=None, std: float = 0.0, max_iter: int = 100_000_000,
                 metrics=None):
        if metrics is None:
            def metrics(real, fake):
                return evaluate_samples(real, fake, modes=modes, std=std, max_iter=max_iter)
        self._metrics = metrics
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="otlab-eval")
        self._jobs: list[tuple[int, Future]] = []

    def _run(self, fetch, before):
        real, fake, fields = fetch()
        if before is not None:
            before()
        out = dict(self._metrics(real, fake))
        out.update(fields)
        return out

    def submit(self, iteration: int, fetch, *, before=None) -> None:
        """Queue ``fetch() -> (real, fake, extra_fields)``; ``before()`` runs in the worker
        after ``fetch`` and before the solver (e.g. to save a snapshot)."""
        self._jobs.append((iteration, self._pool.submit(self._run, fetch, before)))

    def poll(self) -> list[tuple[int, dict]]:
        done = []
        while self._jobs and self._jobs[0][1].done():
            it, fut = self._jobs.pop(0)
            done.append((it, fut.result()))
        return done

    def drain(self) -> list[tuple[int, dict]]:
        done = []
        while self._jobs:
            it, fut = self._jobs.pop(0)
            done.append((it, fut.result()))
        return done

    @property
    def pending(self) -> int:
        return len(self._jobs)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

