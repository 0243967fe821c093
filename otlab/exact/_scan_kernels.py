"""Compiled kernel of :mod:`otlab.exact._scan`: the leaf blocks of the pair scan (numba).

Imported only when a scan runs in low dimension, so that ``import otlab`` does
not load numba.
"""

import math

import numpy as np
from numba import njit

__all__ = ["scan_leaves"]


@njit(cache=True, nogil=True)
def _keep_top(value, col, top_v, top_c, count, top_k):
    """Insert ``(value, col)`` into the ``count`` largest kept so far (decreasing); new count."""
    if count == top_k:
        if value <= top_v[count - 1]:
            return count
        count -= 1
    k = count
    while k > 0 and top_v[k - 1] < value:
        top_v[k] = top_v[k - 1]
        top_c[k] = top_c[k - 1]
        k -= 1
    top_v[k] = value
    top_c[k] = col
    return count + 1


#: Relative slack of the squared comparison in :func:`_may_exceed` (far above its round-off):
#: a block is evaluated when in doubt.
SQUARED_SLACK = 1e-12


@njit(cache=True, nogil=True)
def _box_sq(lo_a, hi_a, lo_b, hi_b, a, b):
    """Least squared distance between the boxes ``a`` and ``b`` (as :func:`._geometry.box_gaps`)."""
    sq = 0.0
    for k in range(lo_a.shape[1]):
        gap = max(lo_b[b, k] - hi_a[a, k], lo_a[a, k] - hi_b[b, k])
        if gap > 0.0:
            sq += gap * gap
    return sq


@njit(cache=True, nogil=True)
def _may_exceed(top, sq, root):
    """Whether ``top - c`` can be positive for a cost ``c`` of squared distance at least ``sq``.

    For ``root`` (cost = distance) ``top > sqrt(sq)`` is tested as ``sq < top^2`` with a
    relative slack of :data:`SQUARED_SLACK`: no square root, and never a false "no" (below
    1e-150, where the square could underflow, the answer is "yes").
    """
    if root:
        return top > 0.0 and (sq < top * top * (1.0 + SQUARED_SLACK) or top < 1e-150)
    return top - sq > 0.0


@njit(cache=True, nogil=True)
def scan_leaves(x, f, y_sorted, g_sorted, y_index, start_y, rows_of, start_x, lo_x, hi_x,
                max_f, lo_y, hi_y, max_g, root, tol, top_k, row_max, out_rows, out_cols):
    """Excess ``f_i + g_j - c_ij`` of every pair in the leaf blocks that may hold a positive one.

    Source leaf ``a`` (its points ``rows_of[start_x[a]:start_x[a + 1]]``, box
    ``lo_x[a], hi_x[a]``, largest potential ``max_f[a]``) is paired with every
    target leaf ``b`` whose bound ``max_f[a] + max_g[b] - (least cost between the
    boxes)`` is positive, and each of its points with those of the leaves whose bound
    for that point alone (its potential, its least cost to the box) is positive; no
    pair with a positive excess is skipped.  The targets are given in leaf order (``y_sorted``,
    ``g_sorted``, their indices ``y_index``, leaf ``b`` at ``start_y[b]:start_y[b + 1]``).
    The cost is the squared distance from coordinate differences, and its square
    root where ``root``.  Fills ``row_max`` (``-inf`` where no block was evaluated)
    and writes the ``top_k`` largest excesses above ``tol`` of each row to
    ``out_rows``, ``out_cols``; returns their number, the number of excesses above
    ``tol`` and the number of pairs evaluated.
    """
    d = x.shape[1]
    n_bad = 0
    n_eval = 0
    top_v = np.empty(top_k)
    top_c = np.empty(top_k, np.int64)
    near = np.empty(max_g.shape[0], np.int64)
    n_out = 0
    for leaf in range(max_f.shape[0]):
        n_near = 0
        for b in range(np.uint64(max_g.shape[0])):
            if _may_exceed(max_f[leaf] + max_g[b], _box_sq(lo_x, hi_x, lo_y, hi_y, leaf, b), root):
                near[n_near] = b
                n_near += 1
        if n_near == 0:
            continue
        for p in range(start_x[leaf], start_x[leaf + 1]):
            i = np.uint64(rows_of[p])
            fi = f[i]
            best = -np.inf
            count = 0
            for s in range(n_near):
                b = np.uint64(near[s])
                # the same bound for this point alone: the leaf's bound uses the largest
                # potential and the box of its whole leaf
                if d == 2:  # unrolled: the common case
                    g0 = max(lo_y[b, 0] - x[i, 0], x[i, 0] - hi_y[b, 0], 0.0)
                    g1 = max(lo_y[b, 1] - x[i, 1], x[i, 1] - hi_y[b, 1], 0.0)
                    sq = g0 * g0 + g1 * g1
                else:
                    sq = 0.0
                    for k in range(np.uint64(d)):
                        gap = max(lo_y[b, k] - x[i, k], x[i, k] - hi_y[b, k])
                        if gap > 0.0:
                            sq += gap * gap
                if not _may_exceed(fi + max_g[b], sq, root):
                    continue
                for q in range(np.uint64(start_y[b]), np.uint64(start_y[b + np.uint64(1)])):
                    sq = 0.0
                    for k in range(np.uint64(d)):
                        diff = x[i, k] - y_sorted[q, k]
                        sq += diff * diff
                    c = math.sqrt(sq) if root else sq
                    e = fi + g_sorted[q] - c
                    if e > best:
                        best = e
                    if e > tol:
                        n_bad += 1
                        if top_k > 0:
                            count = _keep_top(e, y_index[q], top_v, top_c, count, top_k)
                n_eval += start_y[b + np.uint64(1)] - start_y[b]
            row_max[i] = best
            for k in range(count):
                out_rows[n_out] = i
                out_cols[n_out] = top_c[k]
                n_out += 1
    return n_out, n_bad, n_eval
