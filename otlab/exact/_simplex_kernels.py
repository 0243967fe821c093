"""Compiled kernels of the network simplex (:mod:`otlab.exact._simplex`): numba, cached.

Imported only when a sparse exact solve runs, so that ``import otlab`` does not load numba.

The spanning tree is kept as in LEMON's network simplex (Kiraly and Kovacs 2012): for
every node ``v``

* ``parent[v]``, ``pred[v]`` (the tree arc to the parent, ``-1`` for the artificial arc to
  the root) and ``up[v]`` (whether that arc points from ``v`` to its parent);
* ``thread[v]`` / ``rev_thread[v]``: the next / previous node of a preorder of the whole
  tree, kept as a cyclic list through the root, so that the subtree of ``v`` is the
  contiguous piece ``v, thread[v], ..., last[v]`` of it;
* ``succ[v]``: the number of nodes in the subtree of ``v`` (``v`` included).  An ancestor
  has more than its descendants, which finds the apex of a cycle without depths;
* ``last[v]``: the last node of the subtree of ``v`` in the thread;
* ``tree_flow[v]``: the flow on the tree arc from ``v`` to its parent (the artificial
  arc's when ``pred[v]`` is ``-1``).  Arcs off the tree carry no flow, so these are all
  the flows, and the arcs keep none of their own; the walks along a cycle read and change
  them in node arrays (a few hundred kilobytes) instead of the arcs' (megabytes);
* ``skip[l, v]``: the node :math:`2^{l+1}` places after ``v`` in the thread (l = 0, 1, 2),
  so that a walk along the thread can follow 8 chains of loads at once (``_shift``).
  Set for all nodes when :func:`run` starts, then kept by each pivot: where a pivot
  changed ``thread[v]``, ``skip[l]`` changes at ``v`` and the :math:`2^{l+1} - 1` nodes
  before it.

A pivot re-hangs one subtree ``S`` (rooted at the leaving arc's lower node ``u_out``) from
the entering arc's end ``u_in`` inside it: the new preorder of ``S`` is the old one cut
into two pieces per node of the stem ``u_in .. u_out`` and re-linked (O(stem) pointer
updates), then spliced after the entering arc's other end ``v_in``; ``last`` changes on
the stem and on the ancestors whose subtree ended where ``S`` was cut or is inserted.
The potentials of ``S`` (or, when ``S`` holds most nodes, those of the rest, by the
opposite amount: potentials only matter up to a common constant) move by the entering
arc's reduced cost, walking the thread 8 places at a time.  No stack, no allocation in a
pivot.

``work`` counts, over all calls: arcs priced, potentials shifted, cycle nodes walked,
stem nodes re-hung, degenerate pivots (no flow moved), ancestors whose last node changed.
"""

import math

import numpy as np
from numba import njit

from ._simplex_codes import EPSILON, INFEASIBLE, MAX_ITER_REACHED, OPTIMAL

__all__ = ["run", "build", "cold", "relabel_all", "append", "renumber", "max_excess",
           "set_skips"]


@njit(cache=True, nogil=True)
def cold(n, parent, pred, up, thread, rev_thread, succ, last, pi, art):
    """All nodes hang from the root by artificial arcs: sources up, targets down."""
    nodes = parent.shape[0] - 1
    root = nodes
    prev = root
    for v in range(nodes):
        parent[v] = root
        pred[v] = -1
        up[v] = v < n
        succ[v] = 1
        last[v] = v
        pi[v] = -art if v < n else art
        thread[prev] = v
        rev_thread[v] = prev
        prev = v
    thread[prev] = root
    rev_thread[root] = prev
    parent[root] = -1
    pred[root] = -1
    succ[root] = nodes + 1
    last[root] = prev
    pi[root] = 0.0


@njit(cache=True, nogil=True)
def relabel_all(parent, pred, up, thread, pi, cost, art):
    """Potentials from the tree, exactly: root 0, then along the thread (parents first)."""
    root = parent.shape[0] - 1
    pi[root] = 0.0
    v = np.uint32(thread[root])
    while v != root:
        k = pred[v]
        c = art if k < 0 else cost[np.uint64(k)]
        p = pi[np.uint32(parent[v])]
        pi[v] = p - c if up[v] else p + c
        v = np.uint32(thread[v])


@njit(cache=True, nogil=True)
def append(src, tgt, cost, basic, start, rows, cols, costs, n):
    """Write pairs ``rows -> cols`` at ``start`` (non-basic); returns max |cost|."""
    top = 0.0
    for k in range(rows.shape[0]):
        e = start + k
        src[e] = rows[k]
        tgt[e] = cols[k] + n
        c = costs[k]
        cost[e] = c
        basic[e] = False
        if abs(c) > top:
            top = abs(c)
    return top


@njit(cache=True, nogil=True)
def price(src, tgt, cost, basic, pi, start, block):
    """Block search: the most negative reduced cost of the first block holding one.

    Returns the arc (-1: none prices out) and where the next search starts.
    """
    n_arcs = src.shape[0]
    best = -1
    best_rc = 0.0
    e = start
    left = n_arcs  # arcs still to price
    count = 0  # arcs priced in the current block
    while left > 0:
        stop = min(n_arcs, e + min(block - count, left))  # no wrap inside the inner loop
        for k in range(e, stop):
            ku = np.uint64(k)
            c = cost[ku]
            ps = pi[np.uint32(src[ku])]
            pt = pi[np.uint32(tgt[ku])]
            rc = c + ps - pt
            if rc < best_rc and not basic[ku]:
                if rc < -EPSILON * max(abs(c), abs(ps), abs(pt)):
                    best_rc = rc
                    best = k
        count += stop - e
        left -= stop - e
        e = 0 if stop == n_arcs else stop
        if count == block:
            if best >= 0:
                return best, e
            count = 0
    return best, e


@njit(cache=True, nogil=True)
def _climb(first, old, new, parent, last):
    """``last[w] = new`` from ``first`` up while ``last[w] == old``; returns the nodes changed."""
    if first < 0:
        return 0
    w = np.uint32(first)
    climbed = 0
    while last[w] == old:
        last[w] = new
        climbed += 1
        p = parent[w]
        if p < 0:
            break
        w = np.uint32(p)
    return climbed


@njit(cache=True, nogil=True)
def _rethread(u_in, u_out, v_in, parent, thread, rev_thread, last, stem, relinked):
    """Re-order the thread for ``S`` (subtree of ``u_out``) re-hung from ``u_in`` below ``v_in``.

    Parent pointers are still the old ones.  ``stem`` (4 x nodes) is scratch space;
    ``relinked`` receives the nodes whose ``thread`` changed.  Returns the new last
    node of ``S``, the stem length, the ancestors whose last node changed and the
    number of relinked nodes.
    """
    # the stem u_in = w_0, ..., w_k = u_out with its old thread data
    k = 0
    w, end = np.uint32(u_in), np.uint32(u_out)
    while True:
        stem[0, k] = w
        stem[1, k] = rev_thread[w]
        stem[2, k] = last[w]
        stem[3, k] = thread[np.uint32(last[w])]
        k += 1
        if w == end:
            break
        w = np.uint32(parent[w])
    old_last = stem[2, k - 1]
    before = stem[1, k - 1]
    after = stem[3, k - 1]
    # new order of S: piece(w_0) piece(w_1) ... piece(w_k), where piece(w_i) is
    # [w_i .. rev_thread[w_{i-1}]] followed by [thread[last[w_{i-1}]] .. last[w_i]]
    tail = stem[2, 0]
    n_relinked = 0
    for i in range(1, k):
        w = stem[0, i]
        thread[tail] = w
        rev_thread[w] = tail
        relinked[n_relinked] = tail
        n_relinked += 1
        tail = stem[1, i - 1]
        if stem[2, i - 1] != stem[2, i]:
            c = stem[3, i - 1]
            thread[tail] = c
            rev_thread[c] = tail
            relinked[n_relinked] = tail
            n_relinked += 1
            tail = stem[2, i]
    new_last = tail
    # cut the old piece out
    thread[before] = after
    rev_thread[after] = before
    climbed = _climb(parent[u_out], old_last, before, parent, last)
    # splice the new piece after v_in
    nxt = thread[v_in]
    thread[v_in] = u_in
    rev_thread[u_in] = v_in
    thread[new_last] = nxt
    rev_thread[nxt] = new_last
    relinked[n_relinked] = before
    relinked[n_relinked + 1] = v_in
    relinked[n_relinked + 2] = new_last
    n_relinked += 3
    climbed += _climb(v_in, v_in, new_last, parent, last)
    for i in range(k):
        last[stem[0, i]] = new_last
    return new_last, k, climbed, n_relinked


@njit(cache=True, nogil=True)
def set_skips(thread, skip):
    """``skip[l, v]``: the node ``2**(l + 1)`` places after ``v``, for every node."""
    links = thread
    for level in range(skip.shape[0]):
        out = skip[level]
        for v in range(thread.shape[0]):
            out[v] = links[np.uint32(links[v])]
        links = out


@njit(cache=True, nogil=True)
def _mend(relinked, n_relinked, span, links, out, rev_thread):
    """``out[w] = links[links[w]]`` at each relinked node and the ``span - 1`` nodes before it."""
    for i in range(n_relinked):
        w = np.uint32(relinked[i])
        for _ in range(span):
            out[w] = links[np.uint32(links[w])]
            w = np.uint32(rev_thread[w])


@njit(cache=True, nogil=True)
def _fix_skips(relinked, n_relinked, thread, rev_thread, skip):
    """Mend ``skip`` after ``thread`` changed at the ``relinked`` nodes (each level in turn).

    ``skip[l, v]`` depends on the ``2**(l + 1)`` links from ``v`` on, so it changes at a
    relinked node and at the ``2**(l + 1) - 1`` nodes before it.
    """
    _mend(relinked, n_relinked, 2, thread, skip[0], rev_thread)
    for level in range(1, skip.shape[0]):
        _mend(relinked, n_relinked, 2 << level, skip[level - 1], skip[level], rev_thread)


# Node numbers in the loops below are cast to unsigned integers: indexing with a signed one
# makes numba test it for a negative (wrap-around) index on every access, which sits on the
# critical path of these pointer-chasing walks (a thread walk: 3.1 -> 1.8 ns a node).  Each
# walk is a function of its own so that no signed assignment elsewhere unifies its variable
# back to a signed type.


@njit(cache=True, nogil=True)
def _apex(s, t, succ, parent):
    """The apex of the cycle of ``s`` and ``t`` (an ancestor has the larger subtree), steps."""
    u, v = np.uint32(s), np.uint32(t)
    walked = 0
    while u != v:
        if succ[u] < succ[v]:
            u = np.uint32(parent[u])
        else:
            v = np.uint32(parent[v])
        walked += 1
    return np.int64(u), walked


@njit(cache=True, nogil=True)
def _add_along(first, stop, amount, values, links):
    """``values[w] += amount`` from ``first`` along ``links`` up to (not including) ``stop``.

    Along ``thread`` it shifts the potentials of a piece of the preorder, along ``parent``
    it changes the subtree sizes of a node and its ancestors below ``stop``.
    """
    w, end = np.uint32(first), np.uint32(stop)
    while w != end:
        values[w] += amount
        w = np.uint32(links[w])


@njit(cache=True, nogil=True)
def _shift(first, count, amount, values, thread, skip):
    """``values[w] += amount`` for the ``count`` nodes of the thread from ``first`` on.

    Eight walks at once, one for each place modulo 8, each 8 places a step along
    ``skip[2]``: eight independent chains of loads instead of one.  Measured with
    one, two, four and eight chains (module notes of :mod:`._simplex`).
    """
    near, far = skip[1], skip[2]
    a = np.uint32(first)
    b = np.uint32(thread[a])
    c = np.uint32(skip[0, a])
    d = np.uint32(skip[0, b])
    e = np.uint32(near[a])
    f = np.uint32(near[b])
    g = np.uint32(near[c])
    h = np.uint32(near[d])
    for _ in range(count >> 3):
        values[a] += amount
        values[b] += amount
        values[c] += amount
        values[d] += amount
        values[e] += amount
        values[f] += amount
        values[g] += amount
        values[h] += amount
        a = np.uint32(far[a])
        b = np.uint32(far[b])
        c = np.uint32(far[c])
        d = np.uint32(far[d])
        e = np.uint32(far[e])
        f = np.uint32(far[f])
        g = np.uint32(far[g])
        h = np.uint32(far[h])
    for _ in range(count & 7):  # the last few places, one at a time from ``a``
        values[a] += amount
        a = np.uint32(thread[a])


@njit(cache=True, nogil=True)
def _leaving(first, join, on_up, ties, delta, u_out, parent, up, tree_flow):
    """The blocking arc on the path ``first .. join``: arcs pointing up (``on_up``) or down.

    Returns the smallest flow (``delta``) and its node, replaced on ties when ``ties``.
    """
    u, end = np.uint32(first), np.uint32(join)
    while u != end:
        if up[u] == on_up:
            d = tree_flow[u]
            if d < delta or (ties and d == delta):
                delta, u_out = d, np.int64(u)
        u = np.uint32(parent[u])
    return delta, u_out


@njit(cache=True, nogil=True)
def _augment(first, join, amount, parent, up, tree_flow):
    """Push ``amount`` along the tree arcs of ``first .. join``: against arcs pointing up."""
    u, end = np.uint32(first), np.uint32(join)
    while u != end:
        tree_flow[u] += -amount if up[u] else amount
        u = np.uint32(parent[u])


@njit(cache=True, nogil=True)
def pivot(e, src, tgt, cost, basic, parent, pred, up, thread, rev_thread, succ, last,
          pi, tree_flow, stem, work, skip, relinked):
    """Bring arc ``e`` into the tree; returns False when the cycle has no blocking arc."""
    s, t = src[e], tgt[e]
    join, walked = _apex(s, t, succ, parent)
    # flow runs join -> s on one side, t -> join on the other; on the t side the last
    # blocking arc wins ties, so that the tree stays strongly feasible
    delta, u_out = _leaving(s, join, True, False, np.inf, -1, parent, up, tree_flow)
    on_s = u_out
    delta, u_out = _leaving(t, join, False, True, delta, u_out, parent, up, tree_flow)
    if u_out < 0:
        return False
    side = 1 if u_out == on_s else 2
    if delta > 0:
        _augment(s, join, delta, parent, up, tree_flow)
        _augment(t, join, -delta, parent, up, tree_flow)
    k_out = pred[u_out]
    if k_out >= 0:
        basic[k_out] = False  # at flow 0 after the augmentation, as every arc off the tree
    basic[e] = True
    rc = cost[e] + pi[s] - pi[t]
    if side == 1:
        u_in, v_in, up_in, sigma = s, t, True, -rc
    else:
        u_in, v_in, up_in, sigma = t, s, False, rc
    moved = succ[u_out]
    _add_along(parent[u_out], join, -moved, succ, parent)  # the old ancestors lose the subtree ...
    _add_along(v_in, join, moved, succ, parent)  # ... the new ones gain it
    new_last, n_stem, climbed, n_relinked = _rethread(u_in, u_out, v_in, parent, thread,
                                                      rev_thread, last, stem, relinked)
    _fix_skips(relinked, n_relinked, thread, rev_thread, skip)
    w, new_parent, new_arc, new_up, below, new_flow = u_in, v_in, e, up_in, 0, delta
    while True:  # the stem u_in .. u_out, reversed, below v_in; flows move with their arcs
        old_parent, old_arc, old_up, old_size = parent[w], pred[w], up[w], succ[w]
        old_flow = tree_flow[w]
        parent[w] = new_parent
        pred[w] = new_arc
        up[w] = new_up
        succ[w] = moved - below
        tree_flow[w] = new_flow
        if w == u_out:
            break
        new_parent, new_arc, new_up, below, new_flow = w, old_arc, not old_up, old_size, old_flow
        w = old_parent
    root = parent.shape[0] - 1
    if 2 * moved <= root + 1:  # shift the smaller side
        _shift(u_in, moved, sigma, pi, thread, skip)
        work[1] += moved
    else:
        _shift(thread[new_last], root + 1 - moved, -sigma, pi, thread, skip)
        work[1] += root + 1 - moved
    work[2] += walked
    work[3] += n_stem
    if delta == 0:
        work[4] += 1
    work[5] += climbed
    return True


@njit(cache=True, nogil=True)
def run(src, tgt, cost, basic, parent, pred, up, thread, rev_thread, succ, last, pi,
        tree_flow, art, stem, start, max_iter, work, block_factor, skip, relinked):
    """Pivot until no arc prices out (with potentials recomputed exactly) or ``max_iter``.

    The pricing blocks hold ``block_factor`` times the square root of the number of arcs.
    ``skip`` (``SKIP_LEVELS`` x nodes) is set from the thread here and kept by the pivots;
    ``relinked`` (2 nodes + 3 or more) is scratch space.
    """
    n_arcs = src.shape[0]
    n_nodes = parent.shape[0]
    block = max(10, int(block_factor * math.sqrt(n_arcs)))
    pivots = 0
    since = 0  # pivots since the potentials were last recomputed from the tree
    set_skips(thread, skip)
    if n_arcs == 0:
        return OPTIMAL, pivots, 0
    while True:
        e, new_start = price(src, tgt, cost, basic, pi, start, block)
        work[0] += (new_start - start) % n_arcs if new_start != start else n_arcs
        start = new_start
        if e < 0 or since >= n_nodes:
            if since > 0:  # shifted potentials carry round-off: recompute, price again
                relabel_all(parent, pred, up, thread, pi, cost, art)
                since = 0
                continue
            return OPTIMAL, pivots, start
        if pivots >= max_iter:
            return MAX_ITER_REACHED, pivots, start
        if not pivot(e, src, tgt, cost, basic, parent, pred, up, thread, rev_thread,
                     succ, last, pi, tree_flow, stem, work, skip, relinked):
            return INFEASIBLE, pivots, start
        pivots += 1
        since += 1


@njit(cache=True, nogil=True)
def max_excess(src, tgt, cost, outside, n, f, g):
    """The largest ``f[i] + g[j] - c`` over the arcs ``i -> j`` (``-inf`` for none).

    ``outside[v]`` is the outside number of node ``v`` (source index, ``n`` + target index).
    """
    top = -np.inf
    for k in range(src.shape[0]):
        ku = np.uint64(k)
        e = f[outside[np.uint32(src[ku])]] + g[outside[np.uint32(tgt[ku])] - n] - cost[ku]
        if e > top:
            top = e
    return top


@njit(cache=True, nogil=True)
def build(n_nodes, src, tgt, cost, arcs, parent, pred, up, thread, rev_thread, succ, last,
          pi, tree_flow, art):
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
    parent[root] = -1
    pred[root] = -1
    pi[root] = 0.0
    seen = np.zeros(n_nodes, np.bool_)
    order = np.empty(n_nodes, np.int64)
    stack = np.empty(n_nodes, np.int64)
    n_order = 0
    for r in range(n_nodes):
        if seen[r]:
            continue
        seen[r] = True
        parent[r] = root
        pred[r] = -1
        up[r] = True
        tree_flow[r] = 0.0
        pi[r] = -art
        size = 0
        stack[size] = r
        size += 1
        while size > 0:  # popped in preorder: every subtree is a contiguous run
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
                parent[w] = v
                pred[w] = k
                up[w] = src[k] == w
                pi[w] = pi[v] - cost[k] if up[w] else pi[v] + cost[k]
                stack[size] = w
                size += 1
    prev = root
    for t in range(n_nodes):
        v = order[t]
        thread[prev] = v
        rev_thread[v] = prev
        prev = v
        succ[v] = 1
    thread[prev] = root
    rev_thread[root] = prev
    succ[root] = n_nodes + 1
    last[root] = prev
    for t in range(n_nodes - 1, -1, -1):  # children before parents
        v = order[t]
        last[v] = order[t + succ[v] - 1]
        if parent[v] != root:
            succ[parent[v]] += succ[v]
    return True


@njit(cache=True, nogil=True)
def renumber(parent, pred, up, thread, rev_thread, succ, last, pi, tree_flow, src, tgt, pos):
    """Give the nodes new numbers in thread order (the root keeps the last one).

    Walking a subtree then reads consecutive memory.  Every node array is
    permuted and every stored node number mapped; ``pos`` (outside number ->
    node number) is updated.  Returns nothing; the potentials move with their nodes.
    """
    root = parent.shape[0] - 1
    new = np.empty(root + 1, np.int32)
    new[root] = root
    v = thread[root]
    k = 0
    while v != root:
        new[v] = k
        k += 1
        v = thread[v]
    old_parent, old_pred, old_up = parent.copy(), pred.copy(), up.copy()
    old_thread, old_rev, old_succ = thread.copy(), rev_thread.copy(), succ.copy()
    old_last, old_pi, old_flow = last.copy(), pi.copy(), tree_flow.copy()
    for v in range(root + 1):
        w = new[v]
        p = old_parent[v]
        parent[w] = p if p < 0 else new[p]
        pred[w] = old_pred[v]
        up[w] = old_up[v]
        thread[w] = new[old_thread[v]]
        rev_thread[w] = new[old_rev[v]]
        succ[w] = old_succ[v]
        last[w] = new[old_last[v]]
        pi[w] = old_pi[v]
        tree_flow[w] = old_flow[v]
    for e in range(src.shape[0]):
        src[e] = new[src[e]]
        tgt[e] = new[tgt[e]]
    for i in range(pos.shape[0]):
        pos[i] = new[pos[i]]
