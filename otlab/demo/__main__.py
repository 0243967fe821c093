"""Command line: ``python -m otlab.demo NAME [options]``; ``--help`` lists the demos.

Ctrl-C ends a demo cleanly however often it is pressed: a training loop
finishes its iteration and writes its checkpoint (it defers SIGINT itself),
and from the moment the demo has seen one interrupt, further ones are
ignored while it shuts down, so no ``KeyboardInterrupt`` traceback is printed.
"""

import signal
import sys

from . import available_demos, run_demo

#: Exit status of a demo stopped by Ctrl-C (128 + SIGINT, as a shell reports it).
INTERRUPTED = 130


class _OneInterrupt:
    """SIGINT handler of the command line: the first Ctrl-C raises ``KeyboardInterrupt``;
    from then on SIGINT is ignored, and so is a Ctrl-C that comes while an interrupt (or
    the exit it led to) is being handled, e.g. after a training loop stopped at the first
    one.  Ignored means ``SIG_IGN``, which the interpreter keeps while it shuts down (a
    Python handler would be reset to the default action, death by signal)."""

    def __init__(self):
        self.seen = False

    def __call__(self, signum, frame):
        stopping = self.seen or _stopping(sys.exc_info()[1])
        self.stop()
        if not stopping:
            raise KeyboardInterrupt

    def stop(self) -> None:
        """Ignore every later Ctrl-C: the program is on its way out."""
        self.seen = True
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def _stopping(exc) -> bool:
    """Whether ``exc`` (or an exception it arose from) is an interrupt or its exit 130."""
    while exc is not None:
        if isinstance(exc, KeyboardInterrupt) or (
                isinstance(exc, SystemExit) and exc.code == INTERRUPTED):
            return True
        exc = exc.__context__
    return False


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print("usage: python -m otlab.demo NAME [options]   (NAME --help for a demo's options)\n")
        print("demos:")
        for name, summary in available_demos().items():
            print(f"  {name:22s} {summary}")
        return 0
    result = run_demo(argv[0], argv[1:])
    return result if isinstance(result, int) else 0


def _run() -> int:
    """:func:`main` as a program: Ctrl-C exits with status 130 and one line, never a traceback."""
    handler = _OneInterrupt()
    signal.signal(signal.SIGINT, handler)
    try:
        return main()
    except KeyboardInterrupt:
        handler.stop()
        print("python -m otlab.demo: interrupted", file=sys.stderr)
        return INTERRUPTED
    except SystemExit as exc:  # a demo's own exit (130 after its checkpoint, 2 for bad input)
        if handler.seen or exc.code == INTERRUPTED:
            handler.stop()
        raise


if __name__ == "__main__":
    sys.exit(_run())
