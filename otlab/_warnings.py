"""otlab's warnings: the class the solvers raise, and where a warning points.

:class:`ConvergenceWarning` lives on the ground floor so that both the exact
and the entropic solvers import it downward; it is public as
``otlab.ConvergenceWarning`` (and, for compatibility, ``otlab.exact.ConvergenceWarning``,
the same object), and its subclass :class:`CostOverflowWarning` as
``otlab.CostOverflowWarning``.
"""

from __future__ import annotations

import os
import sys

__all__ = ["ConvergenceWarning", "CostOverflowWarning", "external_stacklevel"]

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


class ConvergenceWarning(UserWarning):
    """A solver stopped before meeting its optimality or tolerance criterion.

    Raised by the exact solvers when an iteration cap stops the network
    simplex, and by Sinkhorn when the marginal error misses ``tol``; the
    message says what is true of what is returned.  Turn it into an error
    with ``warnings.simplefilter("error", otlab.ConvergenceWarning)``.

    >>> import warnings, otlab
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     warnings.warn("stopped early", otlab.ConvergenceWarning)
    >>> caught[0].category.__module__ + "." + caught[0].category.__name__
    'otlab.ConvergenceWarning'
    """


# Shown as ``otlab.ConvergenceWarning`` in warnings and tracebacks: the public path.
ConvergenceWarning.__module__ = "otlab"


class CostOverflowWarning(ConvergenceWarning):
    """The LP was solved, but :math:`W_k^k` does not fit in float64 (``converged=False``).

    Also raised by :func:`otlab.entropic.unbalanced_sinkhorn`,
    :func:`~otlab.entropic.unbalanced_sinkhorn_samples` and
    :func:`~otlab.entropic.unbalanced_sinkhorn_divergence` when, at masses near
    the top of the float range, a value (the objective, cost, plan's mass or
    divergence) does not fit and is returned as inf.

    A :class:`ConvergenceWarning`, so filters on that class catch it.  The
    exact solvers work in internal units, so :math:`W_k` itself is exact; the
    cost, the potentials and the certificate cannot be given in data units.
    Functions that return only :math:`W_k` (``otlab.wasserstein``) do not
    raise it.

    >>> import otlab
    >>> issubclass(otlab.CostOverflowWarning, otlab.ConvergenceWarning)
    True
    """


# Shown as ``otlab.CostOverflowWarning``, the public path, as ConvergenceWarning is.
CostOverflowWarning.__module__ = "otlab"


def external_stacklevel() -> int:
    """The ``stacklevel`` for :func:`warnings.warn` that names the first frame outside otlab.

    Called from the function that warns; counts that function as level 1.
    """
    level, frame = 1, sys._getframe(1)
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(_PACKAGE_DIR):
        frame, level = frame.f_back, level + 1
    return level
