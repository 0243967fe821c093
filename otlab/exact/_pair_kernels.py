"""Compiled loops over the candidate pairs of :mod:`otlab.exact._multiscale` (numba).

Imported only when a sparse exact solve runs, so that ``import otlab`` does not load numba.
It replaces numpy code that gathered whole arrays of coordinates per pair
(``x[rows] - y[cols]``) before reducing them.  (The largest excess over the candidate
pairs is computed on the simplex's own pairs: :meth:`~._simplex.NetworkSimplex.max_excess`.)
"""

import numpy as np
from numba import njit

__all__ = ["squared_distances", "absent_and_union"]


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
def absent_and_union(sorted_keys, candidates, union):
    """The ``candidates`` absent from ``sorted_keys``, and (if ``union``) the sorted union.

    Both arrays sorted, ``candidates`` without repeats; one merge pass, O(n + k),
    instead of a binary search per candidate and an insertion (``np.insert``) that
    makes several passes over ``sorted_keys``.  Without ``union`` the union returned
    is empty.
    """
    n, k = sorted_keys.shape[0], candidates.shape[0]
    absent = np.empty(k, sorted_keys.dtype)
    merged = np.empty(n + k if union else 0, sorted_keys.dtype)
    i = n_absent = t = 0
    for j in range(k):
        c = candidates[j]
        while i < n and sorted_keys[i] < c:
            if union:
                merged[t] = sorted_keys[i]
                t += 1
            i += 1
        if i < n and sorted_keys[i] == c:
            continue
        absent[n_absent] = c
        n_absent += 1
        if union:
            merged[t] = c
            t += 1
    if union:
        merged[t:t + n - i] = sorted_keys[i:]
        merged = merged[:t + n - i]
    return absent[:n_absent].copy(), merged
