"""Compiled kernel of :mod:`otlab.exact._grid_dual`: the lower envelope of parabolas (numba).

Imported only when a grid dual check runs, so that ``import otlab`` does not load numba.
"""

import numpy as np
from numba import njit

__all__ = ["min_plus_parabola"]


@njit(cache=True, nogil=True)
def _crossing(qu, fu, qv, fv):
    """Where the parabolas ``(z - qu)^2 + fu`` and ``(z - qv)^2 + fv`` meet (``qu < qv``)."""
    return 0.5 * (qu + qv) + (fv - fu) / (2.0 * (qv - qu))


@njit(cache=True, nogil=True)
def min_plus_parabola(values, index, source, target, out, out_index):
    """``out[l, p] = min_q (target[p] - source[q])^2 + values[l, q]`` for every line ``l``.

    ``source`` and ``target`` are increasing; ``values`` may hold ``+inf`` (no
    parabola).  ``out_index[l, p] = index[l, q*]`` for the minimising ``q*``
    (``-1`` and ``+inf`` on a line without a finite value).  Felzenszwalb and
    Huttenlocher's lower envelope: O(M + N) per line.
    """
    lines, m = values.shape
    n = target.shape[0]
    hull = np.empty(m, np.int64)
    start = np.empty(m + 1)
    for line in range(lines):
        f = values[line]
        top = -1
        for q in range(m):
            fq = f[q]
            if not fq < np.inf:
                continue
            while top >= 0:
                s = _crossing(source[hull[top]], f[hull[top]], source[q], fq)
                if s <= start[top]:
                    top -= 1
                else:
                    break
            if top < 0:
                top = 0
                start[0] = -np.inf
            else:
                top += 1
                start[top] = s
            hull[top] = q
        if top < 0:
            for p in range(n):
                out[line, p] = np.inf
                out_index[line, p] = -1
            continue
        k = 0
        for p in range(n):
            z = target[p]
            while k < top and start[k + 1] < z:
                k += 1
            q = hull[k]
            d = z - source[q]
            out[line, p] = d * d + f[q]
            out_index[line, p] = index[line, q]
