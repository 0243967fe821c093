r"""Pricing Euclidean (:math:`k = 1`) costs on a grid: a compiled scan over tiles of pixels.

The c-transform of :math:`\lVert x - y\rVert` is not separable by axis as
the squared distance is (:mod:`otlab.exact._grid_dual`), so the excess
:math:`e_{pq} = f_p + g_q - \lVert x_p - y_q\rVert` is scanned.  The columns
(pixels of the second grid) are grouped in tiles of :data:`TILE` pixels per
axis; a tile's pairs are bounded by

.. math::

    e_{pq} \le f_p + \max_{q \in T} g_q - \operatorname{dist}(x_p, \operatorname{box}(T)),

and for each row the tile of the largest bound is evaluated first, then
every tile whose bound could still raise the row maximum or add one of the
``top_k`` largest violations above the tolerance.  The row maxima are exact
over all columns (no tile that could hold a larger excess is skipped), and
the kernel (:mod:`otlab.exact._tile_scan_kernels`) fuses cost, excess and
selection in one loop.

Round-off.  Each excess is evaluated directly, :math:`f + g - \sqrt{\sum_t
(x_t - y_t)^2}`, a few units of :math:`\epsilon` times
:math:`|f| + |g| + C` from the exact value (:math:`C` the largest cost);
a bound rounded the other way can skip a tile whose excess exceeds the row
maximum by as much.  :func:`tile_round_off` is
:math:`16(d + 1)\epsilon(\max|f| + \max|g| + C)`, far above both.

Measured (128 x 128, ``emd_grid(order=1)``, finest level, one thread): the
pair scan evaluated 10-30 % of the pairs at 7-19 ns a pair; see
:mod:`otlab.exact.grid` for the end-to-end effect.  Since the pair scan runs
in vector loops over leaves of 128 points with plane bounds
(:mod:`otlab.exact._scan`), it prices the LP rounds of ``emd_grid(order=1)``
and its certificate again (:class:`~otlab.exact._grid_dual.GridPricer`); the
tiles compute the c-transforms of :mod:`otlab.exact._grid_w1`, which need
the row maxima exact where they are negative too.  Tried and not kept: the
tiles with the pair scan's plane bound as a second bound per row and tile
(the pairs evaluated fell from 46 % to 16 % on Cauchy densities and from 5.3 %
to 1.8 % on white noise, but a round took 0.06 -> 0.055-0.066 s and 0.019 ->
0.035 s: the bound per row and tile cost more than the pairs it saved).
"""

from __future__ import annotations

import math

import numpy as np

from ._scan import ScanResult

__all__ = ["TILE", "TOP_K", "TileScan", "pixels", "tile_round_off"]

#: Pixels per axis of a tile, by grid dimension (64 pixels a tile in 1-D and 2-D).
TILE = {1: 64, 2: 8, 3: 4}
#: Violations kept per row and pricing round (the most violated ones).
TOP_K = 20


def tile_round_off(d: int, f_max: float, g_max: float, c_max: float) -> float:
    r""":math:`16(d + 1)\epsilon(\max|f| + \max|g| + C)`: a bound on the error of the row maxima.

    >>> tile_round_off(2, 1.0, 1.0, 2.0) / 2.0**-52  # 16 * 3 * 4
    192.0
    """
    return 16.0 * (d + 1) * float(np.finfo(float).eps) * (f_max + g_max + c_max)


def pixels(axes, index):
    """Coordinates of the pixels ``index`` (flat, C order) of the grid with these axes."""
    multi = np.unravel_index(index, tuple(a.shape[0] for a in axes))
    return np.stack([a[i] for a, i in zip(axes, multi)], axis=1), multi


class TileScan:
    r"""The scan of :math:`f_p + g_q - \lVert x_p - y_q\rVert` over tiles (module notes).

    Parameters
    ----------
    col_axes, row_axes : tuple of ndarray
        Increasing pixel coordinates per axis of the grid of the columns and
        of the grid of the rows (the same number of axes).
    rows, cols : ndarray of int
        Flat (C-order) indices of the pixels that are rows and columns.
    top_k : int
        Violations kept per row.

    Calling it with potentials ``(f, g)`` on the rows and columns and a
    tolerance returns a :class:`~otlab.exact._scan.ScanResult`: exact row
    maxima, the ``top_k`` largest excesses above ``tol`` of each row, and as
    ``n_violations`` the violations found in the tiles evaluated (at least one
    per violated row, at most all of them).

    Examples
    --------
    >>> line = (np.arange(3.0),)
    >>> scan = TileScan(line, line, np.arange(3), np.arange(3))
    >>> res = scan(np.zeros(3), np.array([0.0, 0.0, 1.5]), 0.0)
    >>> res.row_max.tolist(), res.rows.tolist(), res.cols.tolist()
    ([0.0, 0.5, 1.5], [1, 2], [2, 2])
    """

    def __init__(self, col_axes, row_axes, rows, cols, *, top_k: int = TOP_K):
        d = len(col_axes)
        self.x, _ = pixels(row_axes, rows)
        y, multi = pixels(col_axes, cols)
        side = TILE[d]
        tiles = tuple(-(-a.shape[0] // side) for a in col_axes)
        tile = np.ravel_multi_index(tuple(i // side for i in multi), tiles)
        self.order = np.argsort(tile, kind="stable")  # tile order -> column
        self.y = np.ascontiguousarray(y[self.order].T)  # by axis: the kernel's loops vectorise
        tile = tile[self.order]
        self.start = np.concatenate([[0], np.nonzero(np.diff(tile))[0] + 1, [tile.shape[0]]])
        if tile.shape[0] == 0:  # no column: no tile
            self.start = np.zeros(1, np.int64)
            self.lo = self.hi = np.empty((0, d))
        else:
            self.lo = np.ascontiguousarray(np.minimum.reduceat(self.y, self.start[:-1], axis=1).T)
            self.hi = np.ascontiguousarray(np.maximum.reduceat(self.y, self.start[:-1], axis=1).T)
        self.top_k = int(top_k)
        # hypot: no square overflows for spans above 1e154
        self.c_max = math.hypot(*(float(max(a[-1], b[-1]) - min(a[0], b[0]))
                                  for a, b in zip(col_axes, row_axes)))

    def __call__(self, f, g, tol: float) -> ScanResult:
        """Row maxima over all columns and the ``top_k`` largest violations above ``tol``."""
        from ._tile_scan_kernels import scan_tiles

        n = self.x.shape[0]
        gs = np.ascontiguousarray(np.asarray(g, dtype=np.float64)[self.order])
        f = np.ascontiguousarray(f, dtype=np.float64)
        row_max = np.full(n, -np.inf)
        if n == 0 or gs.shape[0] == 0:
            empty = np.empty(0, np.int64)
            return ScanResult(row_max=row_max, rows=empty, cols=empty, n_violations=0,
                              n_evaluated=0, round_off=0.0)
        k = max(1, self.top_k)
        top_val = np.empty((n, k))
        top_col = np.empty((n, k), np.int64)
        count = np.zeros(n, np.int64)
        gmax = np.maximum.reduceat(gs, self.start[:-1])
        evaluated = scan_tiles(self.x, f, self.y, gs, self.start, self.lo, self.hi, gmax,
                               float(tol), k, row_max, top_val, top_col, count)
        kept = np.minimum(count, k)
        rows = np.repeat(np.arange(n), kept)
        slot = np.arange(rows.shape[0]) - np.repeat(np.cumsum(kept) - kept, kept)
        cols = self.order[top_col[rows, slot]]
        delta = tile_round_off(self.x.shape[1], float(np.abs(f).max()),
                               float(np.abs(gs).max()), self.c_max)
        return ScanResult(row_max=row_max, rows=rows, cols=cols,
                          n_violations=int(count.sum()), n_evaluated=int(evaluated),
                          round_off=delta)
