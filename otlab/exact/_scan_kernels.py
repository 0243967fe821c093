"""Compiled kernel of :mod:`otlab.exact._scan`: the leaf blocks of the pair scan (numba).

Imported only when a scan runs in low dimension, so that ``import otlab`` does
not load numba.
"""

import math

import numpy as np
from numba import njit

__all__ = ["leaf_planes", "scan_leaves"]


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
def leaf_planes(y_sorted, g_sorted, start_y, lo_y, hi_y, root, centre, slope, offset):
    r"""Per box (a leaf, or a group of leaves), a plane above its points' potentials.

    Used by the plane bounds of :func:`scan_leaves` on both sides.  Box ``b``
    (points ``y_sorted[start_y[b]:start_y[b + 1]]``, potentials ``g_sorted``) gets its box
    centre :math:`c_b` (``centre[b]``), a slope :math:`w_b` (``slope[b]``, the
    least-squares slope of :math:`h_j` over :math:`y_j - c_b`) and the offset
    :math:`A_b = \max_j h_j - w_b \cdot (y_j - c_b)` (``offset[b]``), so that
    :math:`h_j \le A_b + w_b \cdot (y_j - c_b)` for every point of the leaf,
    whatever the slope; :math:`h_j = g_j - |y_j - c_b|^2` for the squared
    distance and :math:`h_j = g_j` for the distance (``root``).
    """
    d = y_sorted.shape[1]
    gram = np.empty((d, d))
    rhs = np.empty(d)
    diff = np.empty(d)
    for b in range(np.uint64(start_y.shape[0] - 1)):
        first, end = np.uint64(start_y[b]), np.uint64(start_y[b + np.uint64(1)])
        for k in range(d):
            centre[b, k] = 0.5 * (lo_y[b, k] + hi_y[b, k])
        gram[:, :] = 0.0
        rhs[:] = 0.0
        mean_h = 0.0
        for q in range(first, end):
            mean_h += _lifted_h(y_sorted, g_sorted, centre, b, q, root)
        mean_h /= max(1.0, float(end - first))
        trace = 0.0
        for q in range(first, end):
            h = _lifted_h(y_sorted, g_sorted, centre, b, q, root) - mean_h
            for k in range(d):
                diff[k] = y_sorted[q, k] - centre[b, k]
            for k in range(d):
                rhs[k] += diff[k] * h
                for t in range(d):
                    gram[k, t] += diff[k] * diff[t]
            for k in range(d):
                trace += diff[k] * diff[k]
        slope[b, :] = 0.0
        if trace > 0.0 and end - first > np.uint64(d):
            for k in range(d):  # a ridge: any slope gives a valid bound, only its tightness varies
                gram[k, k] += 1e-9 * trace
            slope[b, :] = np.linalg.solve(gram, rhs)
            for k in range(d):
                if not math.isfinite(slope[b, k]):
                    slope[b, :] = 0.0
                    break
        top = -np.inf
        for q in range(first, end):
            h = _lifted_h(y_sorted, g_sorted, centre, b, q, root)
            for k in range(d):
                h -= slope[b, k] * (y_sorted[q, k] - centre[b, k])
            top = max(top, h)
        offset[b] = top


@njit(cache=True, nogil=True)
def _lifted_h(y_sorted, g_sorted, centre, b, q, root):
    """:math:`g_q - |y_q - c_b|^2` for the squared distance, :math:`g_q` for the distance."""
    if root:
        return g_sorted[q]
    sq = 0.0
    for k in range(y_sorted.shape[1]):
        diff = y_sorted[q, k] - centre[b, k]
        sq += diff * diff
    return g_sorted[q] - sq


@njit(cache=True, nogil=True)
def _plane_bound(x, i, fi, centre, slope, offset, lo_y, hi_y, b, root):
    r"""Upper bound of ``f_i + g_j - c_ij`` over leaf ``b``, from its plane (:func:`leaf_planes`).

    With :math:`u = x_i - c_b` and the box's half widths :math:`r_k`:
    squared distance, :math:`c_{ij} = |u|^2 - 2u \cdot (y_j - c_b) + |y_j - c_b|^2`
    exactly, so :math:`e_{ij} \le f_i - |u|^2 + A_b + \sum_k |w_{bk} + 2u_k| r_k`;
    distance, :math:`|x_i - y_j| \ge |u| - (u / |u|) \cdot (y_j - c_b)` (the norm
    is above its tangent plane), so :math:`e_{ij} \le f_i - |u| + A_b +
    \sum_k |w_{bk} + u_k / |u|| r_k`.
    """
    d = x.shape[1]
    sq = 0.0
    for k in range(d):
        diff = x[i, k] - centre[b, k]
        sq += diff * diff
    if root:
        dist = math.sqrt(sq)
        base = fi - dist + offset[b]
        scale = 1.0 / dist if dist > 0.0 else 0.0
    else:
        base = fi - sq + offset[b]
        scale = 2.0
    spread = 0.0
    for k in range(d):
        v = slope[b, k] + scale * (x[i, k] - centre[b, k])
        spread += abs(v) * (0.5 * (hi_y[b, k] - lo_y[b, k]))
    return base + spread


@njit(cache=True, nogil=True)
def _pair_bound(side_a, a, side_b, b, root):
    r"""Upper bound of ``f_i + g_j - c_ij`` over boxes ``a`` and ``b``, from both boxes' planes.

    ``side_a``, ``side_b`` are ``(lo, hi, top, centre, slope, offset)`` (the
    boxes, largest potential, and planes of :func:`leaf_planes`).  With
    :math:`D = c_a - c_b`, :math:`x_i = c_a + s`, :math:`y_j = c_b + t` and the
    half widths :math:`r^a, r^b`: squared distance,
    :math:`e_{ij} = (f_i - |s|^2) + (g_j - |t|^2) - |D|^2 - 2D \cdot s + 2D \cdot t
    + 2 s \cdot t \le A_a + A_b - |D|^2 + \sum_k (|w_{ak} - 2D_k| r^a_k + |w_{bk} + 2D_k|
    r^b_k + 2 r^a_k r^b_k)`; distance, with :math:`u = D / |D|` and
    :math:`|D + s - t| \ge |D| + u \cdot (s - t)`, :math:`e_{ij} \le A_a + A_b - |D|
    + \sum_k (|w_{ak} - u_k| r^a_k + |w_{bk} + u_k| r^b_k)`.
    """
    lo_a, hi_a, _, centre_a, slope_a, offset_a = side_a
    lo_b, hi_b, _, centre_b, slope_b, offset_b = side_b
    sq = 0.0
    for k in range(lo_a.shape[1]):
        diff = centre_a[a, k] - centre_b[b, k]
        sq += diff * diff
    if root:
        dist = math.sqrt(sq)
        bound = offset_a[a] + offset_b[b] - dist
        scale = 1.0 / dist if dist > 0.0 else 0.0
    else:
        bound = offset_a[a] + offset_b[b] - sq
        scale = 2.0
    for k in range(lo_a.shape[1]):
        v = scale * (centre_a[a, k] - centre_b[b, k])
        ra = 0.5 * (hi_a[a, k] - lo_a[a, k])
        rb = 0.5 * (hi_b[b, k] - lo_b[b, k])
        bound += abs(slope_a[a, k] - v) * ra + abs(slope_b[b, k] + v) * rb
        if not root:
            bound += 2.0 * ra * rb
    return bound


@njit(cache=True, nogil=True)
def _box_pair_bound(side_a, a, side_b, b, root):
    """:func:`_pair_bound` of boxes ``a`` and ``b``, or ``-inf`` where the boxes' largest
    potentials less their least cost already rule out a positive excess."""
    lo_a, hi_a, top_a = side_a[0], side_a[1], side_a[2]
    lo_b, hi_b, top_b = side_b[0], side_b[1], side_b[2]
    if not _may_exceed(top_a[a] + top_b[b], _box_sq(lo_a, hi_a, lo_b, hi_b, a, b), root):
        return -np.inf
    return _pair_bound(side_a, a, side_b, b, root)


@njit(cache=True, nogil=True)
def _leaf_excess(x, i, fi, y_columns, g_sorted, q0, q1, root, buf):
    """``buf[t] = f_i + g_q - c(x_i, y_q)`` for the targets ``q = q0 + t < q1`` of one leaf.

    Branch-free loops over the leaf's points, one coordinate at a time
    (``y_columns`` is the targets' coordinates transposed), which the compiler
    turns into vector instructions, square roots included.  The squared
    distance is summed coordinate by coordinate in the same order as one
    pair at a time, so every excess is the same to the last bit.
    """
    width = q1 - q0
    if y_columns.shape[0] == 2:  # the common case, in one pass
        x0, x1 = x[i, 0], x[i, 1]
        y0, y1 = y_columns[0], y_columns[1]
        if root:
            for t in range(width):
                d0 = x0 - y0[q0 + t]
                d1 = x1 - y1[q0 + t]
                buf[t] = fi + g_sorted[q0 + t] - math.sqrt(d0 * d0 + d1 * d1)
        else:
            for t in range(width):
                d0 = x0 - y0[q0 + t]
                d1 = x1 - y1[q0 + t]
                buf[t] = fi + g_sorted[q0 + t] - (d0 * d0 + d1 * d1)
        return
    buf[:width] = 0.0
    for k in range(y_columns.shape[0]):
        xk = x[i, k]
        yk = y_columns[k]
        for t in range(width):
            diff = xk - yk[q0 + t]
            buf[t] += diff * diff
    if root:
        for t in range(width):
            buf[t] = fi + g_sorted[q0 + t] - math.sqrt(buf[t])
    else:
        for t in range(width):
            buf[t] = fi + g_sorted[q0 + t] - buf[t]


@njit(cache=True, nogil=True)
def scan_leaves(x, f, y_sorted, g_sorted, y_index, start_y, rows_of, start_x, leaves_x, leaves_y,
                groups_y, group_size, margin, root, tol, top_k, row_max, out_rows, out_cols):
    """Excess ``f_i + g_j - c_ij`` of every pair in the leaf blocks that may hold a positive one.

    Source leaf ``a`` (its points ``rows_of[start_x[a]:start_x[a + 1]]``) is
    paired with the groups of ``group_size`` consecutive target leaves
    (``groups_y``), then with the leaves of the groups it may exceed, then each
    of its points with those leaves; no pair with a positive excess is skipped.
    A pair of boxes is kept where both of its bounds (:func:`_box_pair_bound`)
    may be positive: the largest potentials less the least cost between the boxes,
    and the planes' bound :func:`_pair_bound`; a point, where its own potential
    less its least cost to the leaf's box, and the leaf plane's bound
    :func:`_plane_bound`, may be positive.  ``leaves_x``, ``leaves_y``,
    ``groups_y`` are ``(lo, hi, top, centre, slope, offset)``: boxes, largest
    potential, planes (:func:`leaf_planes`).  The plane bounds must exceed
    ``-margin`` (above their round-off).  The targets are given in leaf order
    (``y_sorted``, ``g_sorted``, their indices ``y_index``, leaf ``b`` at
    ``start_y[b]:start_y[b + 1]``).  The cost is the squared distance from
    coordinate differences, and its square root where ``root``.  Fills
    ``row_max`` (``-inf`` where no block was evaluated) and writes the ``top_k``
    largest excesses above ``tol`` of each row to ``out_rows``, ``out_cols``;
    returns their number, the number of excesses above ``tol`` and the number of
    pairs evaluated.
    """
    d = x.shape[1]
    lo_y, hi_y, max_g, centre, slope, offset = leaves_y
    n_leaves = max_g.shape[0]
    n_bad = 0
    n_eval = 0
    top_v = np.empty(top_k)
    top_c = np.empty(top_k, np.int64)
    near = np.empty(n_leaves, np.int64)
    promise = np.empty(n_leaves)
    widest = 0
    for b in range(n_leaves):
        widest = max(widest, start_y[b + 1] - start_y[b])
    buf = np.empty(widest)  # one leaf's excesses
    y_columns = np.ascontiguousarray(y_sorted.T)  # coordinate by coordinate: vector loads
    n_out = 0
    for leaf in range(leaves_x[2].shape[0]):
        n_near = 0
        for group in range(groups_y[2].shape[0]):
            if _box_pair_bound(leaves_x, leaf, groups_y, group, root) <= -margin:
                continue
            for b in range(group * group_size, min((group + 1) * group_size, n_leaves)):
                bound = _box_pair_bound(leaves_x, leaf, leaves_y, b, root)
                if bound > -margin:
                    near[n_near] = b
                    promise[n_near] = -bound
                    n_near += 1
        if n_near == 0:
            continue
        if top_k > 0:  # the most promising leaves first: the rows' tops fill early
            order = np.argsort(promise[:n_near])
            near[:n_near] = near[:n_near][order]
        for p in range(start_x[leaf], start_x[leaf + 1]):
            i = np.uint64(rows_of[p])
            fi = f[i]
            best = -np.inf
            count = 0
            floor = 0.0  # a leaf whose bound is at most this can change neither output
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
                if not _may_exceed(fi + max_g[b] - floor, sq, root):
                    continue
                if _plane_bound(x, i, fi, centre, slope, offset, lo_y, hi_y, b, root) <= floor - margin:
                    continue
                q0, q1 = np.uint64(start_y[b]), np.uint64(start_y[b + np.uint64(1)])
                _leaf_excess(x, i, fi, y_columns, g_sorted, q0, q1, root, buf)
                for t in range(q1 - q0):  # the rare violations: a branch per pair, not vectorised
                    e = buf[t]
                    if e > best:
                        best = e
                    if e > tol:
                        n_bad += 1
                        if top_k > 0:
                            count = _keep_top(e, y_index[q0 + t], top_v, top_c, count, top_k)
                n_eval += q1 - q0
                if count == top_k and top_k > 0:
                    floor = top_v[top_k - 1]  # > tol >= 0: below it, no pair enters the top
            row_max[i] = best
            for k in range(count):
                out_rows[n_out] = i
                out_cols[n_out] = top_c[k]
                n_out += 1
    return n_out, n_bad, n_eval
