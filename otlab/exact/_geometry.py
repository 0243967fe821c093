r"""What the sparse exact solver adds to the shared geometry: duplicates, leaves, box gaps.

The frame (a common centre and power-of-two scale) and the costs, formed from
coordinate differences, come from :mod:`otlab.frames` and :mod:`otlab.costs` (:func:`~otlab.frames.common_frame`,
:class:`~otlab.costs.PowerCost`), as for every other solver.  This module
holds what only the sparse solver needs:

* Duplicates.  Points that coincide are merged (their weights added): any
  split of the merged point's plan row in proportion to the weights is
  optimal, and the copies share its potential.  Points of zero weight are
  left out of the LP and get their potential from the c-transform afterwards.
* Leaves.  A partition of each cloud into the leaves of a balanced k-d tree,
  with their bounding boxes.
* Box gaps.  Lower bounds on the cost between two boxes, which let the dual
  check skip whole blocks of pairs.
"""

from __future__ import annotations

import numpy as np

from ..costs import PowerCost

__all__ = ["merge_duplicates", "Leaves", "box_gaps"]


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


def box_gaps(lo_a, hi_a, lo_b, hi_b, cost: PowerCost) -> np.ndarray:
    r"""Lower bounds :math:`\min c(u, v)` over boxes ``a`` (rows) and ``b`` (columns)."""
    gap = np.maximum(lo_b[None] - hi_a[:, None], lo_a[:, None] - hi_b[None])
    np.maximum(gap, 0.0, out=gap)
    return cost.of_squared(np.einsum("abd,abd->ab", gap, gap))
