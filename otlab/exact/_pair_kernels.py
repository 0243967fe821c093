"""Compiled loops over the candidate pairs of :mod:`otlab.exact._multiscale` (numba).

Imported only when a sparse exact solve runs, so that ``import otlab`` does not load numba.
It replaces numpy code that gathered whole arrays of coordinates per pair
(``x[rows] - y[cols]``) before reducing them.  (The largest excess over the candidate
pairs is computed on the simplex's own pairs: :meth:`~._simplex.NetworkSimplex.max_excess`.)
"""

import numpy as np
from numba import njit

__all__ = ["squared_distances"]


@njit(cache=True, nogil=True)
def squared_distances(x, y, rows, cols, out):
    """``out[t] = |x[rows[t]] - y[cols[t]]|^2``, the coordinates summed in order."""
    d = x.shape[1]
    for t in range(rows.shape[0]):
        i, j = rows[t], cols[t]
        acc = 0.0
        for k in range(d):
            diff = x[i, k] - y[j, k]
            acc += diff * diff
        out[t] = acc
    return out
