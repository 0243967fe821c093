r"""Nearest pixels on the grids of :func:`otlab.emd_grid`, without k-d trees.

The finest level of a grid problem holds pixels: the rows are the pixels
:math:`p` of the first grid with positive mass, the columns those of the
second (both in C order), on grids that share their spacing :math:`h` and
first pixel.  The coarse-to-fine solver (:mod:`otlab.exact._multiscale`)
takes the ``k`` nearest columns of each row and rows of each column as
candidate pairs, and the nearest rows of each row (columns of each column)
to widen the plan's pairs.  On pixels these need no k-d tree: the ``k``
nearest are the first ``k`` pixels of the other set met along the offsets
:math:`o \in \{-R, \dots, R\}^d` taken by increasing
:math:`\lVert o \odot h \rVert` (ties in C order of the offsets).  Where
fewer than ``k`` lie in that box, or the ``k``-th is farther than the nearest
pixel outside it could be, the query falls back to a k-d tree.

Measured at 128 x 128 (one thread, 2-core machine, k = 2): the four k-d tree
searches of the finest level took about 65 ms of a 1.2 s solve; the offsets
take a few milliseconds.  The candidates are a heuristic, so ties broken
otherwise than the k-d tree breaks them could change the pivots, not the
optimum; over two pairs of each of the seven classes of
``benchmarks/exact_grid.py`` (k = 1 and 2) the pivots of a solve changed by
-1.6 % to +1.0 %.

Tried and not kept: the coarse blocks of the finest level as 2 x 2 blocks of
pixels by integer division (a k-d tree with leaves of 4 cuts a 128 x 128
random field into 2 x 2 blocks too, 4 003 of its 4 096 leaves, but not all on
the same lattice in both images).  The second round at the finest level then
took 72 000-80 000 pivots instead of 51 000-53 000 (smooth fields, Cauchy
densities; white noise 25 000-36 000 instead of 14 000-22 000), with the
blocks numbered in Z-order or row by row, their pixels in C or Gray-code
order, and the second image's blocks shifted by one pixel or not.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["GridGeometry", "space_order"]


def _kernels():
    from . import _grid_geometry_kernels

    return _grid_geometry_kernels


def space_order(index: np.ndarray, shape) -> np.ndarray:
    """The order of the pixels ``index`` (flat, C order, in a grid of ``shape``) along a Z-curve.

    The pixels sorted by their Morton codes (the bits of their indices
    interleaved, the last axis lowest): blocks of :math:`2^j \times 2^j`
    pixels come out together at every scale.  Returns the positions into
    ``index``, as :func:`numpy.argsort` does.

    >>> space_order(np.arange(16), (4, 4)).tolist()
    [0, 1, 4, 5, 2, 3, 6, 7, 8, 9, 12, 13, 10, 11, 14, 15]
    """
    coords = np.unravel_index(np.asarray(index, np.int64), tuple(shape))
    d = len(coords)
    code = np.zeros(np.shape(index), np.int64)
    bits = max(1, max(int(s) - 1 for s in shape).bit_length())
    if bits * d > 62:
        return np.argsort(index, kind="stable")  # codes would not fit: keep C order
    for bit in range(bits):
        for t, c in enumerate(coords):
            code |= ((c >> bit) & 1) << (bit * d + (d - 1 - t))
    return np.argsort(code, kind="stable")


class GridGeometry:
    """The rows' and columns' pixels on their grids (see the module notes).

    Parameters
    ----------
    shape_a, shape_b : tuple of int
        Shapes of the rows' and the columns' grids (same length ``d``).
    spacing : sequence of float
        The grid spacing per axis (shared by both grids).
    rows, cols : ndarray of int
        Flat (C-order) pixel indices of the rows and of the columns, in the
        LP's order (any order).

    Examples
    --------
    >>> geo = GridGeometry((2, 2), (2, 2), (1.0, 1.0), np.arange(4), np.array([0, 3]))
    >>> geo.nearest(0, 1, 1).ravel().tolist()  # nearest column of each row
    [0, 0, 0, 1]
    """

    def __init__(self, shape_a, shape_b, spacing, rows, cols):
        self.shapes = (tuple(int(s) for s in shape_a), tuple(int(s) for s in shape_b))
        self.spacing = np.asarray(spacing, dtype=np.float64)
        self.index = (np.asarray(rows, np.int64), np.asarray(cols, np.int64))
        if not len(self.shapes[0]) == len(self.shapes[1]) == self.spacing.shape[0]:
            raise ValueError("shape_a, shape_b and spacing must have the same length")
        self._luts = {}  # side -> flat pixel index -> position on that side (-1: left out)

    def _lut(self, side: int) -> np.ndarray:
        """Each pixel's position among the side's pixels, built once (each side is asked twice)."""
        if side not in self._luts:
            lut = np.full(math.prod(self.shapes[side]), -1, np.int64)
            lut[self.index[side]] = np.arange(self.index[side].shape[0])
            self._luts[side] = lut
        return self._luts[side]

    @classmethod
    def of_pricer(cls, pricer) -> "GridGeometry | None":
        """The geometry of a :class:`~otlab.exact._grid_dual.GridPricer`'s grids.

        None unless both grids start at the same pixel centre with the same spacing (to
        1e-9 of it), as those of :func:`otlab.emd_grid` do.
        """
        spacing = []
        for row_axis, col_axis in zip(pricer.target.axes, pricer.source.axes):
            longer = row_axis if row_axis.shape[0] >= col_axis.shape[0] else col_axis
            n = longer.shape[0]
            h = float(longer[-1] - longer[0]) / (n - 1) if n > 1 else 1.0
            for ax in (row_axis, col_axis):
                uniform = ax - (ax[0] + h * np.arange(ax.shape[0]))
                if abs(ax[0] - longer[0]) > 1e-9 * h or np.abs(uniform).max() > 1e-9 * h:
                    return None
            spacing.append(h)
        return cls(pricer.target.shape, pricer.source.shape, spacing, pricer.rows, pricer.cols)

    # ----------------------------------------------------------------- nearest pixels
    def _offsets(self, k: int):
        d = len(self.shapes[0])
        radius = 1
        while (2 * radius + 1) ** d < 4 * (k + 1):
            radius += 1
        grids = np.meshgrid(*([np.arange(-radius, radius + 1)] * d), indexing="ij")
        offsets = np.stack([g.ravel() for g in grids], axis=1).astype(np.int64)
        sq = ((offsets * self.spacing) ** 2).sum(axis=1)
        order = np.argsort(sq, kind="stable")
        limit = float(((radius + 1) * self.spacing).min() ** 2)
        return offsets[order], sq[order], limit

    def nearest(self, side_from: int, side_to: int, k: int,
                points_from=None, points_to=None) -> np.ndarray:
        """Positions (in the ``side_to`` numbering) of the ``k`` nearest pixels of each query.

        ``side_from`` and ``side_to`` are 0 (rows) or 1 (columns); on the same
        side each pixel is its own nearest.  ``k`` is capped at the size of
        ``side_to``.  Queries the offsets cannot answer for sure go to a k-d
        tree on ``points_from`` and ``points_to`` (the pixels' coordinates),
        which must then be given.
        """
        query, targets = self.index[side_from], self.index[side_to]
        k = min(k, targets.shape[0])
        out = np.empty((query.shape[0], k), np.int64)
        if k == 0:
            return out
        offsets, sq, limit = self._offsets(k)
        sure = _kernels().nearest_by_offsets(
            query, np.array(self.shapes[side_from], np.int64), self._lut(side_to),
            np.array(self.shapes[side_to], np.int64), offsets, sq, k, limit, out)
        if not sure.all():
            from scipy.spatial import cKDTree

            if points_from is None or points_to is None:
                raise ValueError("points_from and points_to are needed where the offsets "
                                 "do not answer")
            unsure = np.nonzero(~sure)[0]
            found = cKDTree(points_to).query(points_from[unsure], k)[1]
            out[unsure] = found.reshape(unsure.shape[0], k)
        return out
