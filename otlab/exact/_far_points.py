r"""Points of weight 0 far from the mass: left out of the LP and of its frame.

A point of weight 0 changes no transport cost: :math:`W_k(a, x; b, y)` equals
the same problem with it removed.  It still set the solver's frame, whose scale
is the farthest offset from the mass's centre, so a weight-0 point at 1e200
beside data of size 1 left the data at 1e-200 in the frame, where their squared
differences underflow: :math:`W_1` came out 11 % and :math:`W_2` 18 % too
large, with ``converged=False`` (measured; weight-0 points at 1e3 to 1e5 already
left solves uncertified, see :data:`FAR_FACTOR`).  :func:`far_zero_weight` says which
points of weight 0 lie more than :data:`FAR_FACTOR` times the mass's reach from
its centre; the problem is solved without them, and :func:`checked_c_transform`
gives them their potentials afterwards, in data units.

Potentials.  A dropped source gets the c-transform
:math:`f_i = \min_j c(x_i, y_j) - g_j` over the targets the LP kept, a dropped
target :math:`g_j = \min_i c(x_i, y_j) - f_i` over all sources, the dropped
ones included, so that :math:`f_i + g_j \le c_{ij}` holds on every pair;
neither changes :math:`\langle a, f\rangle` or :math:`\langle b, g\rangle`.
Costs are formed in data units from coordinate differences (a scaled norm, so
that :math:`W_1` at 1e300 does not overflow in its squares).  Where the
c-transform exceeds the float range (:math:`\lVert x \rVert^2` at 1e300) the
potential is capped at the largest float: still dual feasible (it lies below
the true c-transform), and finite, so that sums such as
:math:`\langle a, f\rangle` and the gradient's :math:`f_i\, \delta a_i` stay
0 for weight 0 rather than ``nan``.  Each potential is then lowered until
every pair it takes part in checks in float64, :math:`(f_i - c_{ij}) + g_j
\le 0`: the largest excess left is reported with the certificate.  That is the
float64 check of those pairs as written, not exact arithmetic (there the constraints
hold to 4.3e-16 of :math:`|f_i| + |g_j| + c_{ij}`, measured): evaluated in another
order, or in a frame that holds the far points (:func:`~otlab.exact.max_dual_violation`),
they show round-off of the size of their costs (3e184 for points at 1e100, order 2), on
which no bound on :math:`W_k` depends, since their weights are 0.

Cost.  The far points' c-transforms are dense: one pass over the other side per far
point (5000 far points of weight 0 beside 5000 points a side: 1.4 s of CPU time, 56 ns
a pair, measured), where points of weight 0 inside the frame take the pruned scan.
"""

from __future__ import annotations

import sys

import numpy as np

# FAR_FACTOR, far_zero_weight and data_costs live in otlab.costs (the entropic solver uses
# them too); importable from here as before.
from ..costs import FAR_FACTOR, data_costs, far_zero_weight

__all__ = ["FAR_FACTOR", "LARGEST", "far_zero_weight", "data_costs", "checked_c_transform"]

#: Pairs per block of the dense c-transform of far points.
BLOCK_PAIRS = 2**20
#: Rounds of lowering a potential until its pairs check in float64 (one is the rule).
LOWERING_ROUNDS = 64
#: The largest float64: the cap of potentials whose c-transform overflows.
LARGEST = sys.float_info.max


def _excess(f: np.ndarray, cost: np.ndarray, h: np.ndarray) -> np.ndarray:
    """Row maxima of ``(f_i - c_ij) + h_j``: the float64 check of the dual constraints."""
    with np.errstate(over="ignore", invalid="ignore"):
        return ((f[:, None] - cost) + h[None, :]).max(1)


def checked_c_transform(points: np.ndarray, others: np.ndarray, pot: np.ndarray,
                        order: float) -> tuple[np.ndarray, float]:
    r"""``(u, excess)``: :math:`u_i = \min_j c(p_i, q_j) - h_j` checked in float64.

    The c-transform of the potential ``pot`` (:math:`h`) on ``others`` at
    ``points``, in data units, by blocks of :data:`BLOCK_PAIRS` pairs; capped
    at the largest float where it overflows, then lowered (by the excess, then
    by doubling steps) until :math:`(u_i - c_{ij}) + h_j \le 0` in float64 on
    every pair.  ``excess`` is the largest such value left, or 0: positive
    only if the lowering failed, ``nan`` where the check cannot be made
    (infinite potentials on ``others``).

    >>> u, excess = checked_c_transform(np.array([[3.0]]), np.array([[0.0], [1.0]]),
    ...                                 np.array([0.0, 1.0]), 2)
    >>> u.tolist(), excess  # min(9 - 0, 4 - 1)
    ([3.0], 0.0)
    """
    out = np.empty(points.shape[0])
    worst = -np.inf
    rows = max(1, BLOCK_PAIRS // max(others.shape[0], 1))
    for start in range(0, points.shape[0], rows):
        cost = data_costs(points[start:start + rows], others, order)
        with np.errstate(invalid="ignore"):
            values = cost - pot[None, :]
        values = np.where(np.isnan(values), np.inf, values)  # inf - inf: no bound
        u = np.minimum(values.min(1), LARGEST)
        for step in range(LOWERING_ROUNDS):
            excess = _excess(u, cost, pot)
            high = excess > 0
            if not high.any():
                break
            lowered = u[high] - excess[high] * 2.0**step
            u[high] = np.minimum(lowered, np.nextafter(u[high], -np.inf))
        out[start:start + rows] = u
        excess = _excess(u, cost, pot)
        worst = np.nan if np.isnan(excess).any() else max(worst, float(excess.max()))
    return out, (float(worst) if worst > 0 or np.isnan(worst) else 0.0)
