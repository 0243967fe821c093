r"""The round-off floor of the Sinkhorn stopping rule: which ``tol`` the dtype can certify.

The solvers stop on the L1 marginal error of the plan
:math:`P_{ij} = a_i b_j e^{(f_i + g_j - C_{ij})/\varepsilon}`, measured in the
working dtype.  That measurement has a floor of its own:

* on the entries that carry mass, :math:`f_i + g_j \approx C_{ij}`, so the
  exponent's argument is a difference of numbers up to
  :math:`(\max|f| + \max|g|)/\varepsilon` and carries an absolute round-off
  of about ulp times that: every entry of :math:`P`, hence each of the two
  marginals in L1 (times the total mass :math:`s`), is off by that relative
  amount;
* the marginals are sums of :math:`n` or :math:`m` positive terms, which add
  a relative error of about :math:`\text{ulp}\sqrt{n + m}` (the probabilistic
  bound of Higham and Mary, 2019, for blocked sums).

Hence the estimate

.. math::

    F = 2\, \text{ulp} \cdot s \cdot \Big(\frac{\max_i |f_i| + \max_j |g_j|}{\varepsilon}
        + \sqrt{n + m}\Big).

(the maxima over the points of positive weight: a point of weight 0 enters no
entry of the plan).

Measured at the fixed point (float64 and float32, n from 5 to 1500,
:math:`\max C/\varepsilon` from 1 to 1000, three seeds each), the error
bottoms out 2.9 to 40 times below :math:`F`.  A ``tol`` of at least
:data:`RESOLVABLE_TOL` times :math:`F` can be certified on any machine: the
loop stops at ``tol - F`` (its own error estimate and the final measurement
differ by round-off), so the measured error lands within ``tol``.  A smaller
``tol`` cannot: the loop stops at the floor and the solver says so
(:class:`~otlab.exact.ConvergenceWarning`, ``converged=False``) instead of
iterating to ``max_iter`` and missing ``tol`` by a hair, or meeting it on
one CPU and missing it on another.

References
----------
N. J. Higham, T. Mary (2019). A new approach to probabilistic rounding error
analysis. SIAM J. Sci. Comput. 41(5).
"""

from __future__ import annotations

import math
import warnings

import torch

from .._warnings import ConvergenceWarning, external_stacklevel

__all__ = ["RESOLVABLE_TOL", "marginal_floor", "stopping_threshold", "resolves", "warn_below_floor"]

#: The smallest ``tol``, in multiples of the floor :math:`F`, that the solvers certify.
RESOLVABLE_TOL = 2.0


def marginal_floor(a: torch.Tensor, b: torch.Tensor, f: torch.Tensor, g: torch.Tensor,
                   eps: float, *, penalty=None) -> float:
    r"""The round-off floor :math:`F` of the measured L1 marginal error (see the module notes).

    >>> import torch
    >>> a = torch.full((3,), 1 / 3, dtype=torch.float64)
    >>> floor = marginal_floor(a, a, torch.zeros(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64), 0.5)
    >>> round(floor / torch.finfo(torch.float64).eps, 6)  # 2 ((0 + 1) / 0.5 + sqrt(6))
    8.898979

    With KL marginal penalties (:class:`~otlab.entropic.penalty.Penalty`) the
    mass is the largest of the two masses and the plan's, and the spread gains
    :math:`\max|f|/\rho_a + \max|g|/\rho_b` (the round-off of the targets
    :math:`a e^{-f/\rho_a}`, :math:`b e^{-g/\rho_b}`).
    """
    ulp = torch.finfo(f.dtype).eps
    mass = float(a.sum())
    top_f, top_g = _largest_with_mass(f, a), _largest_with_mass(g, b)
    spread = (top_f + top_g) / eps
    if penalty is not None:  # the targets a exp(-f/rho_a), b exp(-g/rho_b) and the plan's mass
        mass = max(mass, float(b.sum()),
                   float(torch.where(b > 0, b * torch.exp(-g / penalty.rho_b), 0.0).sum()))
        spread += top_f / penalty.rho_a + top_g / penalty.rho_b
    return 2 * ulp * mass * (spread + math.sqrt(a.numel() + b.numel()))


def _largest_with_mass(v: torch.Tensor, w: torch.Tensor) -> float:
    r""":math:`\max |v_i|` over the points of positive weight :math:`w_i`.

    A point of weight 0 (kept for its weight's gradient) enters no entry of the plan and no
    marginal: its potential, of the size of its cost, is no round-off of the measurement.
    One 1e6 away beside 12 and 10 points of size 1 (order 2) raised the floor, and with it
    a default ``tol``, to 0.03: converged=True at marginal error 0.033, the cost 4.7 % low.
    """
    return float(torch.where(w > 0, v.abs(), torch.zeros_like(v)).max()) if v.numel() else 0.0


def resolves(tol: float, floor: float) -> bool:
    """Whether ``tol`` is at least :data:`RESOLVABLE_TOL` times the floor (a NaN floor never is)."""
    return tol >= RESOLVABLE_TOL * floor


def stopping_threshold(tol: float, floor: float) -> float:
    """Where the loop stops: ``tol - floor`` when ``tol`` is resolvable, else the floor itself.

    >>> stopping_threshold(1e-6, 1e-9)
    9.99e-07
    >>> stopping_threshold(1e-12, 1e-12)  # below what the dtype certifies: iterate to the floor
    1e-12
    """
    return tol - floor if resolves(tol, floor) else floor


def warn_below_floor(name: str, tol: float, floor: float, err: float, dtype) -> None:
    """The ConvergenceWarning for a ``tol`` under what the dtype certifies for this problem."""
    least = RESOLVABLE_TOL * floor
    kind = str(dtype).replace("torch.", "")
    warnings.warn(
        f"{name}: tol={tol:g} is below what {kind} resolves for this problem: the measured "
        f"marginal error carries round-off up to about {floor:.2g} (2 ulp x ((max|f| + max|g|)/reg "
        f"+ sqrt(n + m))), so a tol under {least:.2g} cannot be certified. The potentials were "
        f"iterated to that floor (marginal error {err:.3g}) and converged=False. Use "
        f"tol >= {least:.2g}, a larger reg, or float64 input.",
        ConvergenceWarning,
        stacklevel=external_stacklevel(),
    )
