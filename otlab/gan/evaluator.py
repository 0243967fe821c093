"""The worker thread that measures a run's evaluations while training goes on.

POT releases the GIL inside its network simplex, so the exact :math:`W_1` of an
evaluation (:func:`otlab.gan.metrics.evaluate_samples`) is solved in one worker
thread while the loop trains; results come back in submission order.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor

from .metrics import evaluate_samples

__all__ = ["BackgroundEvaluator"]


class BackgroundEvaluator:
    """Run the evaluation measures in a worker thread, one job at a time, in order.

    ``metrics(real, fake) -> dict`` is what runs there (by default
    :func:`otlab.gan.metrics.evaluate_samples` with ``modes``, ``std`` and
    ``max_iter``).
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
