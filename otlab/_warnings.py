"""Where otlab's warnings point: at the caller's line, not at otlab's internals."""

from __future__ import annotations

import os
import sys

__all__ = ["external_stacklevel"]

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


def external_stacklevel() -> int:
    """The ``stacklevel`` for :func:`warnings.warn` that names the first frame outside otlab.

    Called from the function that warns; counts that function as level 1.
    """
    level, frame = 1, sys._getframe(1)
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(_PACKAGE_DIR):
        frame, level = frame.f_back, level + 1
    return level
