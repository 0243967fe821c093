"""Compiled kernel of :mod:`otlab.exact._grid_geometry`: nearest pixels by grid offsets (numba).

Imported only when a grid problem is solved, so that ``import otlab`` does not load numba.
"""

import numpy as np
from numba import njit

__all__ = ["nearest_by_offsets"]


@njit(cache=True, nogil=True)
def nearest_by_offsets(query, query_shape, lut, target_shape, offsets, offset_sq, k, limit,
                       out):
    """The first ``k`` pixels of the target grid met along ``offsets``, for every query pixel.

    ``query`` holds flat (C-order) indices in a grid of ``query_shape``; ``lut``
    maps a flat index of the target grid (``target_shape``) to its position in
    the answer's numbering, or ``-1`` for a pixel left out.  ``offsets`` (one
    row per offset, increasing squared length ``offset_sq``) are tried in order.
    Writes the positions into ``out`` (shape ``(len(query), k)``) and returns
    a mask of the queries answered for sure: ``k`` pixels found, the last no
    farther than ``limit`` (the squared length of every offset not tried is
    at least ``limit``).
    """
    d = query_shape.shape[0]
    sure = np.zeros(query.shape[0], np.bool_)
    coord = np.empty(d, np.int64)
    for i in range(query.shape[0]):
        rest = query[i]
        for t in range(d - 1, -1, -1):
            coord[t] = rest % query_shape[t]
            rest //= query_shape[t]
        found = 0
        for o in range(offsets.shape[0]):
            flat = 0
            inside = True
            for t in range(d):
                c = coord[t] + offsets[o, t]
                if c < 0 or c >= target_shape[t]:
                    inside = False
                    break
                flat = flat * target_shape[t] + c
            if not inside:
                continue
            at = lut[flat]
            if at < 0:
                continue
            out[i, found] = at
            found += 1
            if found == k:
                sure[i] = offset_sq[o] <= limit
                break
    return sure
