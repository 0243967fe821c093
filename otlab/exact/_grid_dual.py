r"""The c-transform of squared Euclidean costs on a grid, axis by axis: an O(n) dual check.

On grids :math:`x_p = (u_{1,p_1}, \dots, u_{d,p_d})` and
:math:`y_q = (v_{1,q_1}, \dots, v_{d,q_d})` (increasing coordinates per axis)
the squared Euclidean cost is a sum over axes, so the c-transform of
potentials :math:`g` on the pixels :math:`q` of the second grid,

.. math::

    g^c(x_p) = \min_q \lVert x_p - y_q \rVert^2 - g_q
             = \min_{q_1} \big( (u_{1,p_1} - v_{1,q_1})^2 + \dots
               \min_{q_d} \big( (u_{d,p_d} - v_{d,q_d})^2 - g_q \big) \big),

is :math:`d` passes of a 1-D min-plus convolution with a parabola, each the
lower envelope of parabolas (Felzenszwalb and Huttenlocher 2012):
:math:`O(n + m)` per axis instead of a scan of pairs.  Pixels outside the
problem (zero mass) enter as :math:`g_q = -\infty`.  The row maxima of the
excess :math:`f_p + g_q - c_{pq}` are :math:`f_p - g^c(x_p)`, and the pass
also returns the minimising pixel :math:`q^*(p)`: the most violated pair of
each row, which is all the column generation needs to price.

Round-off.  Each value the envelope returns is evaluated directly from the
parabola it chose, :math:`(z - v)^2 + F`; the choice itself can be wrong only
where two parabolas are within the rounding of their crossing point of each
other.  Both errors are a few units of :math:`\epsilon` times the magnitudes
involved, so the computed row maxima :math:`\hat e_p` satisfy
:math:`e_p \le \hat e_p + \delta`,
:math:`\delta = 32(d + 1)\,\epsilon\,(\max|f| + \max|g| + C)`, with :math:`C`
the largest cost between the grids (:func:`round_off`; the measured error is
far below it, see ``tests/test_exact_grid_dual.py``).  The certificate
reports :math:`\max_p \hat e_p + \delta`, an honest upper bound.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..costs import PowerCost
from ._geometry import Leaves
from ._scan import SCAN_LEAF, ScanResult, scan_excess

__all__ = ["GridAxes", "GridPricer", "c_transform_grid", "round_off"]


@dataclass(frozen=True)
class GridAxes:
    """Coordinates of a grid's pixel centres along each axis (increasing), in C order."""

    axes: tuple
    #: Order of the cost the grid is priced with: 2 (the c-transform) or 1 (the pair scan).
    order: float = 2.0

    @property
    def shape(self) -> tuple:
        return tuple(a.shape[0] for a in self.axes)

    @classmethod
    def of_points(cls, points: np.ndarray, shape: tuple) -> "GridAxes":
        """The axes of ``points`` (all pixels of a grid of ``shape``, C order).

        >>> GridAxes.of_points(np.array([[0., 5.], [0., 6.], [1., 5.], [1., 6.]]), (2, 2)).axes
        (array([0., 1.]), array([5., 6.]))
        """
        grid = points.reshape(tuple(shape) + (len(shape),))
        axes = []
        for t in range(len(shape)):
            at = [0] * len(shape)
            at[t] = slice(None)
            axes.append(np.ascontiguousarray(grid[tuple(at) + (t,)]))
        return cls(tuple(axes))


def c_transform_grid(source: GridAxes, values: np.ndarray, target: GridAxes):
    r""":math:`\min_q \lVert z_p - y_q \rVert^2 + F_q` for every pixel ``p`` of ``target``.

    ``values`` (shape ``source.shape``; ``+inf`` for pixels left out) is
    :math:`F = -g`.  Returns ``(D, arg)``, arrays of shape ``target.shape``:
    the minima and the flat (C-order) index of the minimising source pixel
    (``-1`` where no source pixel is finite).

    >>> line = GridAxes((np.array([0.0, 1.0, 2.0]),))
    >>> D, arg = c_transform_grid(line, np.array([0.0, np.inf, 5.0]), line)
    >>> D.tolist(), arg.tolist()
    ([0.0, 1.0, 4.0], [0, 0, 0])
    """
    from ._envelope_kernels import min_plus_parabola

    work = np.ascontiguousarray(values, dtype=np.float64)
    index = np.arange(work.size, dtype=np.int64).reshape(work.shape)
    for t in reversed(range(work.ndim)):
        moved = np.moveaxis(work, t, -1)
        lead = moved.shape[:-1]
        lines = np.ascontiguousarray(moved).reshape(-1, moved.shape[-1])
        idx = np.ascontiguousarray(np.moveaxis(index, t, -1)).reshape(lines.shape)
        n = target.axes[t].shape[0]
        out, out_index = np.empty((lines.shape[0], n)), np.empty((lines.shape[0], n), np.int64)
        min_plus_parabola(lines, idx, source.axes[t], target.axes[t], out, out_index)
        work = np.moveaxis(out.reshape(lead + (n,)), -1, t)
        index = np.moveaxis(out_index.reshape(lead + (n,)), -1, t)
    return np.ascontiguousarray(work), np.ascontiguousarray(index)


def round_off(source: GridAxes, target: GridAxes, f_max: float, g_max: float) -> float:
    r"""The bound :math:`\delta` on the error of the computed row maxima (module notes)."""
    largest = sum((max(t[-1], s[-1]) - min(t[0], s[0])) ** 2
                  for s, t in zip(source.axes, target.axes))
    return 32.0 * (len(source.axes) + 1) * np.finfo(float).eps * (f_max + g_max + largest)


class GridPricer:
    r"""Row maxima of the excess and the most violated pair of each row, by :func:`c_transform_grid`.

    For the finest level of a grid problem: ``x`` and ``y`` are *all* the
    pixel centres of the two grids (C order, in the cost's frame), ``rows``
    and ``cols`` the pixels that are rows and columns of the LP (positive
    mass).  Calling it with the LP's potentials ``(f, g)`` returns a
    :class:`~otlab.exact._scan.ScanResult`: for each row its largest excess
    over *all* pixels of the second grid, the pair attaining it where that
    exceeds ``tol``, and the round-off bound :func:`round_off`.  For grids
    whose axes say ``order=1`` (Euclidean costs, :meth:`build` with a cost of
    order 1) it prices by the pair scan of :func:`~otlab.exact._scan.scan_excess`
    over the pixel centres instead: row maxima exact where positive and the
    :data:`~otlab.exact._tile_scan.TOP_K` most violated pairs of each row
    (``euclidean`` is then True).  Against the tiles of
    :class:`~otlab.exact._tile_scan.TileScan` (128², one thread, load 2): the
    scan's plane bounds evaluated 20 % of the pairs instead of 46 % (Cauchy
    densities) and 16 % instead of 26 % (smooth random fields), a pricing round
    took 0.76x and 0.89x the time, and the whole solve over six classes 0.96x
    (0.93-1.02x by class).
    """

    def __init__(self, source: GridAxes, target: GridAxes, rows, cols):
        self.source, self.target = source, target
        self.rows, self.cols = rows, cols
        self.col_of = np.full(int(np.prod(source.shape)), -1, np.int64)
        self.col_of[cols] = np.arange(cols.shape[0])
        self.euclidean = source.order == 1.0
        if self.euclidean:  # not separable by axis: the pair scan over the pixel centres
            from ._tile_scan import pixels

            self.points = (pixels(target.axes, rows)[0], pixels(source.axes, cols)[0])
            self.leaves = tuple(Leaves(p, SCAN_LEAF) for p in self.points)

    @classmethod
    def build(cls, x, y, rows, cols, shapes, cost: PowerCost):
        """The pricer, or None where it does not apply.

        It applies to orders 1 and 2 without a clip, in a power-of-two unit, on axes whose
        coordinates increase strictly (the lower envelope divides by their differences).
        """
        exact_unit = math.frexp(cost.unit)[0] == 0.5  # dividing by it is exact
        if shapes is None or cost.order not in (1.0, 2.0) or cost.clip < math.inf \
                or not exact_unit:
            return None
        if x.shape[0] != math.prod(shapes[0]) or y.shape[0] != math.prod(shapes[1]):
            return None
        target = GridAxes.of_points(x / cost.unit, shapes[0])
        source = GridAxes.of_points(y / cost.unit, shapes[1])
        if not all((np.diff(a) > 0).all() for a in target.axes + source.axes):
            return None  # an axis whose centres coincide in the frame (spacing far below the rest)
        if cost.order == 1.0:
            target = GridAxes(target.axes, order=1.0)
            source = GridAxes(source.axes, order=1.0)
        return cls(source, target, rows, cols)

    def excess(self, f, g):
        """``(row maxima, argmax pixel)`` for potentials on the LP's rows and columns."""
        values = np.full(self.col_of.shape[0], np.inf)
        values[self.cols] = -g
        D, arg = c_transform_grid(self.source, values.reshape(self.source.shape), self.target)
        return f - D.reshape(-1)[self.rows], arg.reshape(-1)[self.rows]

    def c_transform_rows(self, g):
        r""":math:`\min_q c(x_p, y_q) - g_q` over the LP's columns, for every pixel ``p`` of the rows' grid."""
        values = np.full(self.col_of.shape[0], np.inf)
        values[self.cols] = -g
        return c_transform_grid(self.source, values.reshape(self.source.shape),
                                self.target)[0].reshape(-1)

    def c_transform_cols(self, f):
        r""":math:`\min_p c(x_p, y_q) - f_p` over *all* pixels ``p`` of the rows' grid, for every ``q``."""
        values = -np.asarray(f, dtype=np.float64).reshape(self.target.shape)
        return c_transform_grid(self.target, values, self.source)[0].reshape(-1)

    def __call__(self, f, g, tol: float) -> ScanResult:
        if self.euclidean:
            from ._tile_scan import TOP_K

            return scan_excess(*self.points, f, g, *self.leaves, PowerCost(1), tol=tol,
                               top_k=TOP_K)
        row_max, pixel = self.excess(f, g)
        bad = np.nonzero(row_max > tol)[0]
        delta = round_off(self.source, self.target, float(np.abs(f).max(initial=0.0)),
                          float(np.abs(g).max(initial=0.0)))
        return ScanResult(row_max=row_max, rows=bad, cols=self.col_of[pixel[bad]],
                          n_violations=int(bad.shape[0]), n_evaluated=0, round_off=delta)
