"""Runnable experiments: ``python -m otlab.demo NAME [--help]``.

Each demo is a module of this package with a ``main(argv=None)`` function
and a module docstring whose first line is its summary.
"""

from __future__ import annotations

import importlib
import pkgutil

__all__ = ["available_demos", "run_demo"]


def available_demos() -> dict[str, str]:
    """Map each demo name to the first line of its docstring."""
    demos = {}
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        demos[info.name] = (module.__doc__ or "").strip().splitlines()[0]
    return dict(sorted(demos.items()))


def run_demo(name: str, argv=None):
    """Run demo ``name`` with command-line arguments ``argv``.

    An unknown name ends the program like a bad option: one line on stderr
    with the demos there are, exit status 2.
    """
    import sys

    demos = available_demos()
    if name not in demos:
        valid = ", ".join(demos) or "(none)"
        print(f"python -m otlab.demo: error: unknown demo {name!r}; available demos: {valid}",
              file=sys.stderr)
        raise SystemExit(2)
    module = importlib.import_module(f"{__name__}.{name}")
    return module.main(argv)
