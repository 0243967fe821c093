r"""Accelerations of the Sinkhorn iterations at the target ε, as small frozen objects.

``sinkhorn(..., acceleration=...)`` takes one of

* :class:`Anderson` (the default, ``"anderson"``): safeguarded Anderson mixing
  of the last ``memory`` sweeps (:mod:`otlab.entropic._anderson`); a proposal
  that lowers the dual objective is refused and the plain update taken;
* :class:`Overrelaxation` (``"overrelaxation"``): :math:`f + \omega (T(f) - f)`;
* ``None``: plain Sinkhorn, :math:`f \leftarrow T(f)`.

An acceleration's ``start(a, eps)`` returns a stepper with ``propose(f, f_map)``
(the next row potential from the current one and its image under one sweep)
and ``reset()``; ``safeguarded`` says whether the loop checks the dual
objective and falls back to the plain update.  All have the fixed point of
plain Sinkhorn; only the path to it changes.
"""

from __future__ import annotations

from dataclasses import dataclass

from .._validation import check_positive, check_positive_int
from ._anderson import MEMORY, REGULARIZATION, AndersonMixer

__all__ = ["Anderson", "Overrelaxation", "ACCELERATIONS", "as_acceleration"]

#: The names accepted for ``acceleration`` (besides instances of the classes below).
ACCELERATIONS = ("anderson", "overrelaxation", None)


@dataclass(frozen=True)
class Anderson:
    """Safeguarded, regularised type-II Anderson mixing.

    Parameters
    ----------
    memory : int, default 5
        Number of past differences combined (3 to 6 work alike; 8 and more go stale).
    regularization : float, default 1e-3
        Tikhonov weight relative to the trace of the Gram matrix.

    Examples
    --------
    >>> Anderson(memory=8)
    Anderson(memory=8, regularization=0.001)
    """

    memory: int = MEMORY
    regularization: float = REGULARIZATION
    safeguarded = True

    def __post_init__(self):
        check_positive_int(self.memory, "memory")
        check_positive(self.regularization, "regularization", allow_zero=True)

    def start(self, a, eps):
        """A fresh :class:`~otlab.entropic._anderson.AndersonMixer` for row weights ``a``."""
        return AndersonMixer(a, eps, memory=self.memory, regularization=self.regularization)


class _Relaxation:
    def __init__(self, omega):
        self.omega = omega

    def propose(self, f, f_map):
        return f + self.omega * (f_map - f)

    def reset(self):
        pass


@dataclass(frozen=True)
class Overrelaxation:
    """Fixed over-relaxation of the row update, :math:`f + \\omega (T(f) - f)` (Thibault et al. 2017).

    Examples
    --------
    >>> Overrelaxation().omega
    1.5
    """

    omega: float = 1.5
    safeguarded = False

    def __post_init__(self):
        omega = check_positive(self.omega, "omega")
        if omega >= 2:
            raise ValueError(f"omega must be in (0, 2); got {omega!r}")

    def start(self, a, eps):
        return _Relaxation(self.omega)


def as_acceleration(value):
    """Resolve ``acceleration=``: a name, an instance, or None (plain Sinkhorn).

    >>> as_acceleration("anderson")
    Anderson(memory=5, regularization=0.001)
    >>> as_acceleration(None) is None
    True
    """
    if value is None or hasattr(value, "start"):
        return value
    if value == "anderson":
        return Anderson()
    if value == "overrelaxation":
        return Overrelaxation()
    valid = ", ".join(repr(c) for c in ACCELERATIONS)
    raise ValueError(f"acceleration must be one of {valid}, or an Anderson or Overrelaxation "
                     f"instance; got {value!r}")
