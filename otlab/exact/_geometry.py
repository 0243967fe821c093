r"""Point-cloud geometry for the sparse exact solver: normal form, costs, leaf boxes.

Normal form.  :math:`W_k` is translation invariant and scale equivariant, so
the solver works on :math:`x' = (x - c)/s`, :math:`y' = (y - c)/s`, with
:math:`c` the centre of the common bounding box and :math:`s` a power of two
near its half-width: the scaling is exact in binary floating point, the
centred coordinates lie in :math:`[-1, 1]^d`, and the costs
:math:`\lVert x' - y' \rVert^k` are formed from differences, never as
:math:`|x|^2 + |y|^2 - 2 x \cdot y`.  Costs, potentials and bounds scale back
by :math:`s^k`.  Data at offset :math:`10^8` or at scale :math:`10^{\pm 150}`
therefore reach the LP as well-conditioned numbers.

Duplicates.  Points that coincide are merged (their weights added): any split
of the merged point's plan row in proportion to the weights is optimal, and
the copies share its potential.  Points of zero weight are left out of the LP
and get their potential from the c-transform afterwards.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["NormalForm", "normal_form", "merge_duplicates", "pair_costs", "tile_costs", "Leaves"]


@dataclass(frozen=True)
class NormalForm:
    """Centred, power-of-two-scaled copies of two point clouds."""

    x: np.ndarray
    y: np.ndarray
    centre: np.ndarray
    scale: float

    def cost_factor(self, order: float) -> float:
        """:math:`s^k`: multiply a normal-form cost by it to get the cost in data units."""
        try:
            return math.pow(self.scale, order)
        except OverflowError:
            return math.inf


def normal_form(x: np.ndarray, y: np.ndarray) -> NormalForm:
    """Centre both clouds on their common bounding box and scale by a power of two.

    >>> nf = normal_form(np.array([[1e8 + 1.0]]), np.array([[1e8 + 3.0]]))
    >>> nf.x.ravel(), nf.y.ravel(), nf.scale
    (array([-0.5]), array([0.5]), 2.0)
    """
    lo = np.minimum(x.min(axis=0), y.min(axis=0))
    hi = np.maximum(x.max(axis=0), y.max(axis=0))
    centre = lo + (hi - lo) / 2  # no overflow for coordinates near the float64 limit
    xc, yc = x - centre, y - centre
    half_width = max(float(np.abs(xc).max()), float(np.abs(yc).max()))
    scale = 1.0 if half_width == 0 or not np.isfinite(half_width) else 2.0 ** math.frexp(half_width)[1]
    return NormalForm(x=xc / scale, y=yc / scale, centre=centre, scale=scale)


def merge_duplicates(x: np.ndarray, w: np.ndarray):
    """Merge coinciding points, adding their weights.

    Returns ``(unique_points, unique_weights, inverse)`` with
    ``unique_points[inverse] == x``.

    >>> u, w, inv = merge_duplicates(np.array([[0.0], [1.0], [0.0]]), np.array([0.2, 0.5, 0.3]))
    >>> u.ravel(), w, inv
    (array([0., 1.]), array([0.5, 0.5]), array([0, 1, 0]))
    """
    unique, inverse = np.unique(x, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    return unique, np.bincount(inverse, weights=w, minlength=unique.shape[0]), inverse


def _power(sq: np.ndarray, order: float) -> np.ndarray:
    if order == 2:
        return sq
    out = np.sqrt(sq, out=sq)
    return out if order == 1 else np.power(out, order, out=out)


def pair_costs(x: np.ndarray, y: np.ndarray, rows: np.ndarray, cols: np.ndarray,
               order: float, *, chunk: int = 1 << 20) -> np.ndarray:
    r"""Costs :math:`\lVert x_{r} - y_{c} \rVert^k` of the listed pairs, from differences."""
    out = np.empty(rows.shape[0])
    for start in range(0, rows.shape[0], chunk):
        r, c = rows[start:start + chunk], cols[start:start + chunk]
        diff = x[r] - y[c]
        out[start:start + chunk] = _power(np.einsum("ij,ij->i", diff, diff), order)
    return out


def tile_costs(x: np.ndarray, y: np.ndarray, order: float) -> np.ndarray:
    """Dense cost tile between two small blocks of points, from differences."""
    from scipy.spatial.distance import cdist

    return _power(cdist(x, y, "sqeuclidean"), order)


class Leaves:
    """A partition of a point cloud into the leaves of a balanced k-d tree.

    Leaf ``k`` holds the points ``perm[start[k]:start[k + 1]]`` (at most
    ``leaf_size`` of them) inside the box ``[lo[k], hi[k]]``.  Built by
    :class:`scipy.spatial.cKDTree` (median splits).
    """

    def __init__(self, points: np.ndarray, leaf_size: int):
        from scipy.spatial import cKDTree

        tree = cKDTree(points, leafsize=leaf_size, balanced_tree=True, compact_nodes=True)
        starts, stack = [], [tree.tree]
        while stack:
            node = stack.pop()
            if node.split_dim == -1:
                starts.append(node.start_idx)
            else:
                stack += [node.greater, node.lesser]
        self.perm = np.asarray(tree.indices)
        self.start = np.array(sorted(starts) + [points.shape[0]])
        self.sizes = np.diff(self.start)
        self.count = self.sizes.shape[0]
        ordered = points[self.perm]
        self.lo = np.minimum.reduceat(ordered, self.start[:-1], axis=0)
        self.hi = np.maximum.reduceat(ordered, self.start[:-1], axis=0)
        self.leaf_of = np.empty(points.shape[0], dtype=np.int64)
        self.leaf_of[self.perm] = np.repeat(np.arange(self.count), self.sizes)

    def members(self, leaves: np.ndarray) -> np.ndarray:
        """Indices of the points in the given leaves, leaf after leaf."""
        sizes = self.sizes[leaves]
        offsets = np.repeat(np.cumsum(sizes) - sizes, sizes)
        return self.perm[np.repeat(self.start[leaves], sizes) + np.arange(sizes.sum()) - offsets]

    def leaf_max(self, values: np.ndarray) -> np.ndarray:
        """Largest value of ``values`` (one per point) in each leaf."""
        return np.maximum.reduceat(values[self.perm], self.start[:-1])

    def weighted_centres(self, points: np.ndarray, weights: np.ndarray):
        """Weighted centroid and total weight of each leaf (plain mean where the weight is 0)."""
        ordered, w = points[self.perm], weights[self.perm]
        mass = np.add.reduceat(w, self.start[:-1])
        weighted = np.add.reduceat(ordered * w[:, None], self.start[:-1], axis=0)
        mean = np.add.reduceat(ordered, self.start[:-1], axis=0) / self.sizes[:, None]
        safe = np.where(mass > 0, mass, 1.0)[:, None]
        return np.where(mass[:, None] > 0, weighted / safe, mean), mass


def box_gaps(lo_a, hi_a, lo_b, hi_b, order: float) -> np.ndarray:
    r"""Lower bounds :math:`\min \lVert u - v \rVert^k` over boxes ``a`` (rows) and ``b`` (columns)."""
    gap = np.maximum(lo_b[None] - hi_a[:, None], lo_a[:, None] - hi_b[None])
    np.maximum(gap, 0.0, out=gap)
    return _power(np.einsum("abd,abd->ab", gap, gap), order)
