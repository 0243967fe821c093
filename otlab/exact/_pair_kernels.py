"""Compiled loops over the candidate pairs of :mod:`otlab.exact._multiscale` (numba).

Imported only when a sparse exact solve runs, so that ``import otlab`` does not load numba.
Each replaces numpy code that gathered whole arrays of coordinates or potentials per pair
(``x[rows] - y[cols]``, ``f[rows] + g[cols] - costs``) before reducing them.
"""

import numpy as np
from numba import njit

__all__ = ["squared_distances", "max_excess"]


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


@njit(cache=True, nogil=True)
def max_excess(f, g, rows, cols, costs):
    """:math:`\\max_t f_{r_t} + g_{c_t} - c_t` over the pairs (``-inf`` for none)."""
    top = -np.inf
    for t in range(rows.shape[0]):
        e = f[rows[t]] + g[cols[t]] - costs[t]
        if e > top:
            top = e
    return top
