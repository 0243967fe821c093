r"""A progress line for long exact solves, fed by the solver's ``report(fields)`` callback.

The sparse solver calls ``SolverOptions.report(fields)`` once per pricing
round of every level, with ``fields`` holding ``level, n, m, round, pairs,
violations, max_violation, tol, cost, seconds``.  :func:`progress_reporter`
turns the user's ``progress`` option into such a callback that draws one
tqdm line on stderr::

    emd_points: 7 rounds, level 0 (8000 x 8000) round 4, 182882 pairs, 0 violations
    (max 3.64e-12, tol 1.46e-11), 26.6 s

(one line on the terminal; rounds are counted over all levels).

``progress``:

* ``"auto"`` or ``None`` (the default): the line appears by itself once a
  solve has run :data:`AUTO_DELAY_S` seconds, and only when stderr is a
  terminal, so tests, pipes, logs and CI stay silent;
* ``True``: always shown, from the first second, wherever stderr goes;
* ``False``: never shown.

The line is refreshed every second (elapsed time) and updated when a round
ends (a round is one restricted LP and one check of every pair).
"""

from __future__ import annotations

import shutil
import sys
import threading
import time

__all__ = ["progress_reporter", "check_progress", "AUTO_DELAY_S", "PROGRESS_CHOICES"]

#: With ``progress="auto"`` the line appears once a solve has run this long (seconds).
AUTO_DELAY_S = 3.0
#: Seconds between two refreshes of the line while a round runs.
TICK_S = 1.0
#: What ``progress`` accepts.
PROGRESS_CHOICES = (None, "auto", True, False)


def check_progress(progress):
    """``progress`` as ``"auto"``, ``True`` or ``False``; anything else is a ValueError.

    >>> check_progress(None), check_progress(True)
    ('auto', True)
    """
    if progress is None or (isinstance(progress, str) and progress == "auto"):
        return "auto"
    if isinstance(progress, bool) or type(progress).__name__ == "bool_":
        return bool(progress)
    raise ValueError(f'progress must be None, "auto", True or False; got {progress!r}')


def _stderr_is_terminal() -> bool:
    isatty = getattr(sys.stderr, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:  # a closed stream
        return False


class _ProgressLine:
    """The callback: counts rounds, opens the tqdm line when due, keeps its clock ticking.

    A daemon thread refreshes the line every :data:`TICK_S` seconds, so that it
    appears after the delay and its elapsed time moves even while one long
    round (or the coarse levels) runs; rounds update it as they end.
    """

    def __init__(self, name: str, delay: float):
        self.name, self.delay = name, delay
        self.start = time.perf_counter()
        self.rounds, self.text = 0, "first round running"
        self.bar = None
        self.lock = threading.Lock()
        self.stopped = threading.Event()
        self.ticker = threading.Thread(target=self._tick, name="otlab-progress", daemon=True)
        self.ticker.start()

    def _show(self) -> None:
        """Open or refresh the line (with the lock held)."""
        elapsed = time.perf_counter() - self.start
        if self.bar is None:
            if elapsed < self.delay:
                return
            from tqdm.auto import tqdm

            # a terminal that reports 0 x 0 (some pseudo-terminals) would hide the line
            size = shutil.get_terminal_size((120, 24))
            self.bar = tqdm(desc=self.name, initial=self.rounds, file=sys.stderr,
                            ncols=size.columns, nrows=size.lines,
                            postfix=f"{self.text}, {elapsed:.1f} s",
                            bar_format="{desc}: {n} rounds{postfix}")
            return
        self.bar.n = self.rounds
        self.bar.set_postfix_str(f"{self.text}, {elapsed:.1f} s", refresh=True)

    def _tick(self) -> None:
        while not self.stopped.wait(TICK_S):
            with self.lock:
                self._show()

    def __call__(self, fields: dict) -> None:
        with self.lock:
            self.rounds += 1
            self.text = (f"level {fields['level']} ({fields['n']} x {fields['m']}) round "
                         f"{fields['round']}, {fields['pairs']} pairs, {fields['violations']} "
                         f"violations (max {fields['max_violation']:.3g}, tol "
                         f"{fields['tol']:.3g})")
            self._show()

    def close(self) -> None:
        self.stopped.set()
        self.ticker.join()
        if self.bar is not None:
            self.bar.close()


def progress_reporter(progress, name: str):
    """The ``report`` callback for ``progress`` (see the module notes), or ``None``.

    Call ``.close()`` on what it returns when the solve ends.

    >>> progress_reporter(False, "emd_points") is None
    True
    """
    progress = check_progress(progress)
    if progress is False or (progress == "auto" and not _stderr_is_terminal()):
        return None
    return _ProgressLine(name, AUTO_DELAY_S if progress == "auto" else 0.0)
