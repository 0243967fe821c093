"""Compiled kernels of the network simplex (:mod:`otlab.exact._simplex`): numba, cached.

Imported only when a sparse exact solve runs, so that ``import otlab`` does not load numba.
Tree layout: see :mod:`otlab.exact._simplex`.
"""

import math

import numpy as np
from numba import njit

from ._simplex_codes import EPSILON, INFEASIBLE, MAX_ITER_REACHED, OPTIMAL

__all__ = ["run", "build", "relabel"]


@njit(cache=True, nogil=True)
def arc_cost(v, pred, cost, art):
    k = pred[v]
    return art if k < 0 else cost[k]


@njit(cache=True, nogil=True)
def unlink(v, parent, first_child, next_sib, prev_sib):
    p = parent[v]
    if prev_sib[v] >= 0:
        next_sib[prev_sib[v]] = next_sib[v]
    else:
        first_child[p] = next_sib[v]
    if next_sib[v] >= 0:
        prev_sib[next_sib[v]] = prev_sib[v]
    next_sib[v] = -1
    prev_sib[v] = -1


@njit(cache=True, nogil=True)
def link(v, p, parent, first_child, next_sib, prev_sib):
    parent[v] = p
    prev_sib[v] = -1
    next_sib[v] = first_child[p]
    if first_child[p] >= 0:
        prev_sib[first_child[p]] = v
    first_child[p] = v


@njit(cache=True, nogil=True)
def relabel(top, parent, pred, up, depth, first_child, next_sib, pi, cost, art, stack):
    """Depth and potentials of the subtree of ``top`` from its parent's, parent first."""
    size = 0
    stack[size] = top
    size += 1
    seen = 0
    while size > 0:
        seen += 1
        size -= 1
        v = stack[size]
        p = parent[v]
        c = arc_cost(v, pred, cost, art)
        pi[v] = pi[p] - c if up[v] else pi[p] + c
        depth[v] = depth[p] + 1
        w = first_child[v]
        while w >= 0:
            stack[size] = w
            size += 1
            w = next_sib[w]
    return seen


@njit(cache=True, nogil=True)
def price(src, tgt, cost, basic, pi, start, block):
    n_arcs = src.shape[0]
    best = -1
    best_rc = 0.0
    count = 0
    e = start
    for _ in range(n_arcs):
        if not basic[e]:
            c = cost[e]
            ps, pt = pi[src[e]], pi[tgt[e]]
            rc = c + ps - pt
            if rc < best_rc:
                scale = max(abs(c), abs(ps), abs(pt))
                if rc < -EPSILON * scale:
                    best_rc = rc
                    best = e
        count += 1
        e += 1
        if e == n_arcs:
            e = 0
        if count == block:
            if best >= 0:
                return best, e
            count = 0
    return best, e


@njit(cache=True, nogil=True)
def flow_of(v, pred, flow, art_flow):
    k = pred[v]
    return art_flow[v] if k < 0 else flow[k]


@njit(cache=True, nogil=True)
def add_flow(v, amount, pred, flow, art_flow):
    k = pred[v]
    if k < 0:
        art_flow[v] += amount
    else:
        flow[k] += amount


@njit(cache=True, nogil=True)
def pivot(e, src, tgt, cost, flow, basic, parent, pred, up, depth, first_child, next_sib,
          prev_sib, pi, art_flow, art, stack):
    s, t = src[e], tgt[e]
    u, v = s, t
    while u != v:  # the apex of the cycle
        if depth[u] > depth[v]:
            u = parent[u]
        elif depth[v] > depth[u]:
            v = parent[v]
        else:
            u = parent[u]
            v = parent[v]
    join = u
    delta = np.inf
    u_out = -1
    side = 0
    u = s  # flow runs join -> s on this side
    while u != join:
        d = flow_of(u, pred, flow, art_flow) if up[u] else np.inf
        if d < delta:
            delta, u_out, side = d, u, 1
        u = parent[u]
    u = t  # flow runs t -> join on this side
    while u != join:
        d = np.inf if up[u] else flow_of(u, pred, flow, art_flow)
        if d <= delta:
            delta, u_out, side = d, u, 2
        u = parent[u]
    if u_out < 0:
        return -1  # unbounded: impossible with non-negative artificial costs
    if delta > 0:
        flow[e] += delta
        u = s
        while u != join:
            add_flow(u, -delta if up[u] else delta, pred, flow, art_flow)
            u = parent[u]
        u = t
        while u != join:
            add_flow(u, delta if up[u] else -delta, pred, flow, art_flow)
            u = parent[u]
    k_out = pred[u_out]
    if k_out >= 0:
        basic[k_out] = False
    basic[e] = True
    if side == 1:
        u_in, v_in, up_in = s, t, True
    else:
        u_in, v_in, up_in = t, s, False
    w, new_parent, new_arc, new_up = u_in, v_in, e, up_in
    while True:  # re-hang the path u_in .. u_out below v_in, reversed
        old_parent, old_arc, old_up = parent[w], pred[w], up[w]
        unlink(w, parent, first_child, next_sib, prev_sib)
        link(w, new_parent, parent, first_child, next_sib, prev_sib)
        pred[w] = new_arc
        up[w] = new_up
        if w == u_out:
            break
        new_parent, new_arc, new_up = w, old_arc, not old_up
        w = old_parent
    return relabel(u_in, parent, pred, up, depth, first_child, next_sib, pi, cost, art, stack)


@njit(cache=True, nogil=True)
def run(src, tgt, cost, flow, basic, parent, pred, up, depth, first_child, next_sib,
        prev_sib, pi, art_flow, art, stack, start, max_iter, work):
    n_arcs = src.shape[0]
    block = max(10, int(math.sqrt(n_arcs)))
    pivots = 0
    while True:
        if n_arcs == 0:
            return OPTIMAL, pivots, 0
        e, new_start = price(src, tgt, cost, basic, pi, start, block)
        work[0] += (new_start - start) % n_arcs if new_start != start else n_arcs
        start = new_start
        if e < 0:
            return OPTIMAL, pivots, start
        if pivots >= max_iter:
            return MAX_ITER_REACHED, pivots, start
        moved = pivot(e, src, tgt, cost, flow, basic, parent, pred, up, depth, first_child,
                      next_sib, prev_sib, pi, art_flow, art, stack)
        if moved < 0:
            return INFEASIBLE, pivots, start
        work[1] += moved
        pivots += 1


@njit(cache=True, nogil=True)
def build(n_nodes, src, tgt, cost, arcs, parent, pred, up, depth, first_child, next_sib,
          prev_sib, pi, art_flow, art, stack):
    """Hang each tree of the forest ``arcs`` from the root; False if they hold a cycle."""
    root = n_nodes
    deg = np.zeros(n_nodes + 1, np.int64)
    for k in arcs:
        deg[src[k] + 1] += 1
        deg[tgt[k] + 1] += 1
    for v in range(n_nodes):
        deg[v + 1] += deg[v]
    adj = np.empty(deg[n_nodes], np.int64)
    fill = deg[:n_nodes].copy()
    for k in arcs:
        adj[fill[src[k]]] = k
        fill[src[k]] += 1
        adj[fill[tgt[k]]] = k
        fill[tgt[k]] += 1
    parent[:] = -1
    first_child[:] = -1
    next_sib[:] = -1
    prev_sib[:] = -1
    depth[root] = 0
    pi[root] = 0.0
    seen = np.zeros(n_nodes, np.bool_)
    for r in range(n_nodes):
        if seen[r]:
            continue
        seen[r] = True
        link(r, root, parent, first_child, next_sib, prev_sib)
        pred[r] = -1
        up[r] = True
        art_flow[r] = 0.0
        pi[r] = -art
        depth[r] = 1
        size = 0
        stack[size] = r
        size += 1
        while size > 0:
            size -= 1
            v = stack[size]
            for t in range(deg[v], deg[v + 1]):
                k = adj[t]
                if k == pred[v]:
                    continue
                w = tgt[k] if src[k] == v else src[k]
                if seen[w]:
                    return False
                seen[w] = True
                link(w, v, parent, first_child, next_sib, prev_sib)
                pred[w] = k
                up[w] = src[k] == w
                pi[w] = pi[v] - cost[k] if up[w] else pi[v] + cost[k]
                depth[w] = depth[v] + 1
                stack[size] = w
                size += 1
    return True
