"""Compiled kernel of the W_1 grid pricer (:class:`otlab.exact._grid_dual.GridPricer`): numba.

Imported only when a grid problem of order 1 is priced, so that ``import otlab`` does not
load numba.
"""

import numpy as np
from numba import njit

__all__ = ["scan_tiles"]


@njit(cache=True, nogil=True)
def _fill(fr, xr, y, g, lo, hi, buf):
    """``buf[q - lo] = fr + g[q] - |xr - y[:, q]|`` for ``q`` in ``lo .. hi - 1`` (``y`` is d x m).

    One loop per dimension, so that the loop over columns vectorises.
    """
    d = y.shape[0]
    base = np.uint64(lo)  # unsigned indices: no negative-index tests, the loops vectorise
    size = np.uint64(hi - lo)
    zero, one, two = np.uint64(0), np.uint64(1), np.uint64(2)
    if d == 2:
        x0, x1 = xr[0], xr[1]
        for q in range(size):
            u = x0 - y[zero, base + q]
            v = x1 - y[one, base + q]
            buf[q] = fr + g[base + q] - np.sqrt(u * u + v * v)
    elif d == 1:
        x0 = xr[0]
        for q in range(size):
            buf[q] = fr + g[base + q] - abs(x0 - y[zero, base + q])
    else:
        x0, x1, x2 = xr[0], xr[1], xr[2]
        for q in range(size):
            u = x0 - y[zero, base + q]
            v = x1 - y[one, base + q]
            w = x2 - y[two, base + q]
            buf[q] = fr + g[base + q] - np.sqrt(u * u + v * v + w * w)


@njit(cache=True, nogil=True)
def _scan_tile(r, fr, xr, y, g, lo, hi, tol, top_k, row_max, top_val, top_col, count, buf):
    """Evaluate the columns ``lo .. hi - 1`` for row ``r``; returns the new row maximum."""
    _fill(fr, xr, y, g, lo, hi, buf)
    top = -np.inf
    for q in range(np.uint64(hi - lo)):
        top = max(top, buf[q])
    if top > tol:
        for q in range(lo, hi):
            e = buf[q - lo]
            if e > tol:
                count[r] += 1
                if count[r] <= top_k:
                    top_val[r, count[r] - 1] = e
                    top_col[r, count[r] - 1] = q
                else:  # replace the smallest kept one
                    low = 0
                    for s in range(1, top_k):
                        if top_val[r, s] < top_val[r, low]:
                            low = s
                    if e > top_val[r, low]:
                        top_val[r, low] = e
                        top_col[r, low] = q
    return max(row_max, top)


@njit(cache=True, nogil=True)
def scan_tiles(x, f, y, g, start, box_lo, box_hi, gmax, tol, top_k, row_max, top_val, top_col,
               count):
    r"""Row maxima of :math:`e_{rq} = f_r + g_q - \lVert x_r - y_q\rVert` and the top violators.

    The columns ``y`` are grouped in tiles ``start[t] .. start[t + 1] - 1`` with
    bounding boxes ``box_lo[t], box_hi[t]`` and largest potential ``gmax[t]``:
    :math:`e_{rq} \le f_r + \text{gmax}_t - \operatorname{dist}(x_r, \text{box}_t)`
    for every column of the tile.  For each row the tile of the largest bound is
    evaluated first; a later tile is skipped when its bound shows it can change
    neither the row maximum nor the ``top_k`` largest excesses above ``tol``.
    Fills ``row_max`` (exact over all columns), ``top_val, top_col`` (the kept
    violators, ``count[r]`` of them at most ``top_k``: ``count`` counts all) and
    returns the number of pairs evaluated.  ``y`` is stored by axis (d x m).
    """
    n_tiles = gmax.shape[0]
    d = x.shape[1]
    bound = np.empty(n_tiles)
    widest = 0
    for t in range(n_tiles):
        widest = max(widest, start[t + 1] - start[t])
    buf = np.empty(widest)
    evaluated = 0
    for r in range(x.shape[0]):
        fr = f[r]
        xr = x[r]
        first = 0
        for t in range(np.uint64(n_tiles)):
            sq = 0.0
            for a in range(np.uint64(d)):
                gap = max(box_lo[t, a] - xr[a], xr[a] - box_hi[t, a], 0.0)
                sq += gap * gap
            bound[t] = fr + gmax[t] - np.sqrt(sq)
            if bound[t] > bound[first]:
                first = np.int64(t)
        best = _scan_tile(r, fr, xr, y, g, start[first], start[first + 1], tol, top_k, -np.inf,
                          top_val, top_col, count, buf)
        evaluated += start[first + 1] - start[first]
        for t in range(n_tiles):
            if t == first:
                continue
            b = bound[t]
            if b <= best and (b <= tol or (count[r] >= top_k and b <= _kth(top_val, r, top_k))):
                continue
            best = _scan_tile(r, fr, xr, y, g, start[t], start[t + 1], tol, top_k, best,
                              top_val, top_col, count, buf)
            evaluated += start[t + 1] - start[t]
        row_max[r] = best
    return evaluated


@njit(cache=True, nogil=True)
def _kth(top_val, r, top_k):
    low = top_val[r, 0]
    for s in range(1, top_k):
        if top_val[r, s] < low:
            low = top_val[r, s]
    return low
