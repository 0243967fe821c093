"""Compiled kernels of the network simplex (:mod:`otlab.exact._simplex`): numba, cached.

Imported only when a sparse exact solve runs, so that ``import otlab`` does not load numba.
Tree layout: see :mod:`otlab.exact._simplex`.  ``succ[v]`` is the number of nodes in the
subtree of ``v`` (``v`` included): an ancestor has more than its descendants, which is
how the apex of a cycle is found, and it changes only along the cycle at a pivot.
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
def preorder(top, first_child, next_sib, stack):
    """The subtree of ``top``, parents before children, in ``stack[half:]``; returns its size.

    ``stack`` holds twice the nodes: its first half is the work stack.
    """
    half = stack.shape[0] // 2
    size = 0
    count = 0
    stack[size] = top
    size += 1
    while size > 0:
        size -= 1
        v = stack[size]
        stack[half + count] = v
        count += 1
        w = first_child[v]
        while w >= 0:
            stack[size] = w
            size += 1
            w = next_sib[w]
    return count


@njit(cache=True, nogil=True)
def relabel(top, parent, pred, up, first_child, next_sib, pi, cost, art, stack):
    """Potentials of the subtree of ``top`` from its parent's, exactly."""
    half = stack.shape[0] // 2
    for t in range(preorder(top, first_child, next_sib, stack)):
        v = stack[half + t]
        c = arc_cost(v, pred, cost, art)
        pi[v] = pi[parent[v]] - c if up[v] else pi[parent[v]] + c


@njit(cache=True, nogil=True)
def relabel_all(parent, pred, up, first_child, next_sib, pi, cost, art, stack):
    root = parent.shape[0] - 1
    pi[root] = 0.0
    w = first_child[root]
    while w >= 0:
        relabel(w, parent, pred, up, first_child, next_sib, pi, cost, art, stack)
        w = next_sib[w]


@njit(cache=True, nogil=True)
def shift(top, sigma, first_child, next_sib, pi, stack):
    """Add ``sigma`` to the potentials of the subtree of ``top``; returns its size."""
    half = stack.shape[0] // 2
    count = preorder(top, first_child, next_sib, stack)
    for t in range(count):
        pi[stack[half + t]] += sigma
    return count


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
def pivot(e, src, tgt, cost, flow, basic, parent, pred, up, succ, first_child, next_sib,
          prev_sib, pi, art_flow, stack):
    """Bring arc ``e`` into the tree; returns the size of the re-hung subtree (-1: unbounded)."""
    s, t = src[e], tgt[e]
    u, v = s, t
    while u != v:  # the apex of the cycle: an ancestor has the larger subtree
        if succ[u] < succ[v]:
            u = parent[u]
        else:
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
        if d <= delta:  # the last blocking arc: the tree stays strongly feasible
            delta, u_out, side = d, u, 2
        u = parent[u]
    if u_out < 0:
        return -1
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
    rc = cost[e] + pi[s] - pi[t]
    if side == 1:
        u_in, v_in, up_in, sigma = s, t, True, -rc
    else:
        u_in, v_in, up_in, sigma = t, s, False, rc
    moved = succ[u_out]
    u = parent[u_out]
    while u != join:  # the old ancestors lose the subtree ...
        succ[u] -= moved
        u = parent[u]
    u = v_in
    while u != join:  # ... the new ones gain it
        succ[u] += moved
        u = parent[u]
    w, new_parent, new_arc, new_up, below = u_in, v_in, e, up_in, 0
    while True:  # re-hang the path u_in .. u_out below v_in, reversed
        old_parent, old_arc, old_up, old_size = parent[w], pred[w], up[w], succ[w]
        unlink(w, parent, first_child, next_sib, prev_sib)
        link(w, new_parent, parent, first_child, next_sib, prev_sib)
        pred[w] = new_arc
        up[w] = new_up
        succ[w] = moved - below
        if w == u_out:
            break
        new_parent, new_arc, new_up, below = w, old_arc, not old_up, old_size
        w = old_parent
    return shift(u_in, sigma, first_child, next_sib, pi, stack)


@njit(cache=True, nogil=True)
def run(src, tgt, cost, flow, basic, parent, pred, up, succ, first_child, next_sib,
        prev_sib, pi, art_flow, art, stack, start, max_iter, work):
    """Pivot until no arc prices out (with potentials recomputed exactly) or ``max_iter``."""
    n_arcs = src.shape[0]
    n_nodes = parent.shape[0]
    block = max(10, int(math.sqrt(n_arcs)))
    pivots = 0
    since = 0  # pivots since the potentials were last recomputed from the tree
    while True:
        if n_arcs == 0:
            return OPTIMAL, pivots, 0
        e, new_start = price(src, tgt, cost, basic, pi, start, block)
        work[0] += (new_start - start) % n_arcs if new_start != start else n_arcs
        start = new_start
        if e < 0 or since >= n_nodes:
            if since > 0:  # shifted potentials carry round-off: recompute, price again
                relabel_all(parent, pred, up, first_child, next_sib, pi, cost, art, stack)
                since = 0
                continue
            return OPTIMAL, pivots, start
        if pivots >= max_iter:
            return MAX_ITER_REACHED, pivots, start
        moved = pivot(e, src, tgt, cost, flow, basic, parent, pred, up, succ, first_child,
                      next_sib, prev_sib, pi, art_flow, stack)
        if moved < 0:
            return INFEASIBLE, pivots, start
        work[1] += moved
        pivots += 1
        since += 1


@njit(cache=True, nogil=True)
def build(n_nodes, src, tgt, cost, arcs, parent, pred, up, succ, first_child, next_sib,
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
    succ[:] = 1
    succ[root] = n_nodes + 1
    pi[root] = 0.0
    seen = np.zeros(n_nodes, np.bool_)
    order = np.empty(n_nodes, np.int64)
    n_order = 0
    for r in range(n_nodes):
        if seen[r]:
            continue
        seen[r] = True
        link(r, root, parent, first_child, next_sib, prev_sib)
        pred[r] = -1
        up[r] = True
        art_flow[r] = 0.0
        pi[r] = -art
        size = 0
        stack[size] = r
        size += 1
        while size > 0:
            size -= 1
            v = stack[size]
            order[n_order] = v
            n_order += 1
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
                stack[size] = w
                size += 1
    for t in range(n_nodes - 1, -1, -1):  # subtree sizes, children before parents
        v = order[t]
        if parent[v] != root:
            succ[parent[v]] += succ[v]
    return True
