r"""A progress line for long exact solves, fed by the solver's ``report(fields)`` callback.

The sparse solver calls ``SolverOptions.report(fields)`` once per pricing
round of every level, with ``fields`` holding ``level, n, m, round, pairs,
violations, max_violation, tol, cost, seconds``.  :func:`progress_reporter`
turns the user's ``progress`` option into such a callback that draws one
tqdm line on stderr::

    emd_points: 7 rounds, level 0 (20000 x 20000) round 3, 281204 pairs, 12 violations, 14.2 s

``progress``:

* ``"auto"`` or ``None`` (the default): the line appears by itself once a
  solve has run :data:`AUTO_DELAY_S` seconds, and only when stderr is a
  terminal, so tests, pipes, logs and CI stay silent;
* ``True``: always shown, from the first round, wherever stderr goes;
* ``False``: never shown.

The line is updated when a round ends (a round is one restricted LP and one
check of every pair), so a single long round shows nothing until it ends.
"""

from __future__ import annotations

import sys
import time

__all__ = ["progress_reporter", "check_progress", "AUTO_DELAY_S", "PROGRESS_CHOICES"]

#: With ``progress="auto"`` the line appears once a solve has run this long (seconds).
AUTO_DELAY_S = 3.0
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
    """The callback: counts rounds, opens the tqdm line when due, updates it."""

    def __init__(self, name: str, delay: float):
        self.name, self.delay = name, delay
        self.start = time.perf_counter()
        self.rounds = 0
        self.bar = None

    def __call__(self, fields: dict) -> None:
        self.rounds += 1
        elapsed = time.perf_counter() - self.start
        if self.bar is None and elapsed < self.delay:
            return
        text = (f"level {fields['level']} ({fields['n']} x {fields['m']}) round "
                f"{fields['round']}, {fields['pairs']} pairs, {fields['violations']} violations "
                f"(max {fields['max_violation']:.3g}, tol {fields['tol']:.3g}), {elapsed:.1f} s")
        if self.bar is None:
            from tqdm.auto import tqdm

            self.bar = tqdm(desc=self.name, initial=self.rounds, postfix=text, file=sys.stderr,
                            dynamic_ncols=True, bar_format="{desc}: {n} rounds{postfix}")
            return
        self.bar.set_postfix_str(text, refresh=False)
        self.bar.update(self.rounds - self.bar.n)

    def close(self) -> None:
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
