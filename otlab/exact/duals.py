r"""Dual potentials over all pairs, in memory that grows like n + m: the c-transform and the check.

Both visit the pairs leaf block by leaf block and skip the blocks that a
bound on their boxes rules out (:mod:`otlab.exact._scan`), so neither forms
the :math:`n \times m` cost matrix:

* :func:`c_transform` extends potentials :math:`g` on points :math:`y_j` to
  any points, :math:`g^c(z) = \min_j c(z, y_j) - g_j`: the potentials of
  points left out of an LP, and the exact Kantorovich critic;
* :func:`max_dual_violation` checks :math:`f_i + g_j \le c(x_i, y_j)` on
  every pair: the dual half of the optimality certificate.

The public functions take data in any units: the points are moved to their
common frame (:func:`otlab.frames.common_frame`) and the potentials scaled by
:math:`s^k` there and back, so offsets and extreme scales lose no accuracy.
"""

from __future__ import annotations

import numpy as np

from .._backend import to_numpy
from .._validation import as_points, check_order
from ..costs import PowerCost
from ..frames import common_frame, scale_by_power
from ._geometry import Leaves
from ._scan import SCAN_LEAF, scan_excess

__all__ = ["c_transform", "max_dual_violation", "local_c_transform"]


def local_c_transform(points, others, pot_others, cost: PowerCost, *, argmin: bool = False):
    r""":math:`\min_j c(p_i, q_j) - h_j` for each point, on coordinates of order 1 (a pruned scan).

    The nearest :math:`q_j` gives an upper bound :math:`\bar u_i`; the scan
    then evaluates only the blocks of pairs whose box bound does not rule out
    :math:`c(p_i, q_j) - h_j < \bar u_i`.  With ``argmin=True`` it also returns
    the index :math:`j` attaining each minimum (the scan's pairs with positive
    excess over the bound are exactly the candidates).
    """
    from scipy.spatial import cKDTree

    if points.shape[0] == 0:
        return (np.empty(0), np.empty(0, dtype=np.int64)) if argmin else np.empty(0)
    near = cKDTree(others).query(points, 1)[1]
    upper = cost.matched(points, others[near]) - pot_others[near]
    guess = upper + 1e-9 * (1.0 + np.abs(upper))  # keeps the nearest point's block unpruned
    scan = scan_excess(points, others, guess, pot_others, Leaves(points, SCAN_LEAF),
                       Leaves(others, SCAN_LEAF), cost, tol=0.0 if argmin else np.inf, top_k=1)
    values = guess - scan.row_max
    if not argmin:
        return values
    found = cost.pairs(points, others, scan.rows, scan.cols) - pot_others[scan.cols]
    order = np.lexsort((found, scan.rows))  # by row, then by value
    first = np.unique(scan.rows[order], return_index=True)[1]
    index = near.astype(np.int64)  # every row has a candidate; this is only a fallback
    index[scan.rows[order][first]] = scan.cols[order][first]
    return values, index


def _framed(x, y, order):
    order = check_order(order)
    x = to_numpy(as_points(x, "x"))
    y = to_numpy(as_points(y, "y"))
    if x.shape[1] != y.shape[1]:
        raise ValueError(
            f"x and y must have the same dimension; got d={x.shape[1]} and d={y.shape[1]}")
    frame = common_frame(x, y)
    return frame.local(x), frame.local(y), frame.scale, order


def _potential(values, n: int, name: str) -> np.ndarray:
    values = to_numpy(values).reshape(-1)
    if values.shape[0] != n:
        raise ValueError(f"{name} must have one value per point: expected {n}, got "
                         f"{values.shape[0]}")
    return values


def c_transform(z, y, g, *, order: float = 1) -> np.ndarray:
    r"""The c-transform :math:`g^c(z_i) = \min_j \lVert z_i - y_j \rVert^k - g_j`.

    Evaluated without the :math:`n \times m` cost matrix: the nearest
    :math:`y_j` gives an upper bound, and only the blocks of pairs that a
    bound on their k-d boxes cannot rule out are computed.

    Parameters
    ----------
    z : array-like, shape (n, d) or (n,)
        Where to evaluate.
    y : array-like, shape (m, d) or (m,)
        The points carrying the potential.
    g : array-like, shape (m,)
        The potential on ``y``.
    order : float, default 1

    Returns
    -------
    ndarray, shape (n,)

    Examples
    --------
    >>> import numpy as np
    >>> c_transform([[0.0], [1.0], [5.0]], [[0.0], [4.0]], np.array([0.0, 2.0])).tolist()
    [0.0, 1.0, -1.0]
    """
    z, y, scale, order = _framed(z, y, order)
    g = scale_by_power(_potential(g, y.shape[0], "g"), scale, -order)
    return scale_by_power(local_c_transform(z, y, g, PowerCost(order)), scale, order)


def max_dual_violation(x, y, f, g, *, order: float = 1) -> float:
    r"""Largest violation :math:`\max(0, \max_{ij} f_i + g_j - \lVert x_i - y_j\rVert^k)`.

    Checks candidate potentials against *every* pair, tile by tile in
    :math:`O(n + m)` memory (the check behind
    :attr:`PointsEMDResult.dual_violation`).  All points share one frame here,
    so beside points far out (a point of weight 0 at 1e100 beside data of size
    1) the data's costs lose their digits and the value carries round-off of
    the size of the largest costs: 1.9 at order 1 and 3.4e184 at order 2 for
    potentials that :func:`emd_points` certified to 1e-14 (measured);
    :attr:`PointsEMDResult.dual_violation` checks such points of weight 0 in data
    units (:mod:`otlab.exact._far_points`).

    Examples
    --------
    >>> import numpy as np
    >>> x, y = np.array([[0.0], [1.0]]), np.array([[0.0], [2.0]])
    >>> max_dual_violation(x, y, np.array([0.0, 0.0]), np.array([0.0, 1.0]))
    0.0
    >>> max_dual_violation(x, y, np.array([0.5, 0.0]), np.array([0.0, 1.0]))
    0.5
    """
    x, y, scale, order = _framed(x, y, order)
    f = scale_by_power(_potential(f, x.shape[0], "f"), scale, -order)
    g = scale_by_power(_potential(g, y.shape[0], "g"), scale, -order)
    scan = scan_excess(x, y, f, g, Leaves(x, SCAN_LEAF), Leaves(y, SCAN_LEAF), PowerCost(order),
                       tol=np.inf)
    return float(scale_by_power(scan.max_excess, scale, order))
