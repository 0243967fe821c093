r"""A network simplex for the transportation problem whose basis survives added pairs.

The problem on a list of pairs (arcs) :math:`i \to j`,

.. math::

    \min \sum_{(i,j)} c_{ij} x_{ij} \quad\text{s.t.}\quad
    \sum_j x_{ij} = a_i,\ \sum_i x_{ij} = b_j,\ x \ge 0,

with dual :math:`\max \langle a, f\rangle + \langle b, g\rangle`,
:math:`f_i + g_j \le c_{ij}`.  Nodes are the n sources, the m targets and an
artificial root :math:`R`; each node has an artificial arc to or from
:math:`R` of cost :math:`M`.  The basis is a spanning tree kept as in LEMON
(parent, arc to the parent and its direction, subtree sizes, and a *thread*: a
preorder of the tree as a doubly linked cyclic list, with the last node of each
subtree; details in :mod:`otlab.exact._simplex_kernels`) with flows on its arcs
and node potentials :math:`\pi` such that :math:`c_{st} + \pi_s - \pi_t = 0` on
tree arcs; :math:`f = -\pi_{\text{sources}}`, :math:`g = \pi_{\text{targets}}`
(up to a common constant).

* Warm basis.  Adding arcs leaves the tree, its flows and its potentials
  valid (the new arcs sit at flow 0), so :meth:`NetworkSimplex.add_arcs`
  followed by :meth:`NetworkSimplex.solve` only pivots in what the new arcs
  improve.
* Pricing: block search (Grigoriadis; LEMON's default) over blocks of
  :math:`\sqrt{A}` arcs, the most negative reduced cost of the first block
  holding one enters.  An arc enters when its reduced cost is below
  :math:`-\epsilon \max(|c|, |\pi_s|, |\pi_t|)`, :math:`\epsilon = 2.2\cdot10^{-15}`
  (as LEMON and POT do): exact in float64, no rounding of costs.
* Anti-cycling: strongly feasible trees (Cunningham 1976).  Every tree arc
  with zero flow points towards the root, kept by the leaving-arc rule (the
  last blocking arc of the cycle, walked from its apex in the direction of
  the entering arc), so every degenerate pivot moves the tree forward.
* A pivot re-hangs one subtree: its thread is cut into two pieces per node of
  the stem (entering arc to leaving arc) and re-linked, O(stem) pointer
  updates and no stack; the potentials of that subtree, or of the rest when
  the subtree holds more than half the nodes, are shifted by the entering
  arc's reduced cost along the thread, eight places at a time ("Eight
  chains" below).  Subtree sizes change only along the
  cycle (they also find the cycle's apex, as in LEMON).  Shifts carry
  round-off, so the potentials are recomputed exactly from the tree every
  :math:`n + m` pivots and before optimality is declared (then priced again).
* Arc order.  The pairs are kept in the order they are added (the column
  generation adds them sorted by source), except that a cold solve shuffles
  them first (seeded).  The block pricing walks them in storage order, and
  which order needs fewer pivots depends on the problem: from cold, on the
  grid LPs of ``emd_grid`` the sorted order took 2.5x the pivots of the
  shuffled one (64 x 64, k = 2: 157 000 against 61 000; 128 x 128: 699 000
  against 283 000; k = 1 at 64 x 64: 68 000 against 62 000), on 2-D uniform
  points (n = 20 000) 1.7x fewer (239 000 against 411 000); from a seeded or
  kept basis, as the column generation runs it, the sorted order took 1.4-2.4x
  fewer on the grids, so only cold solves are shuffled.
* Artificial cost :math:`M`: starts at :math:`8(c_{\max} + 1)` (small
  :math:`M` keeps potentials of the order of the costs, hence accurate); if
  the optimum still routes mass through :math:`R` it is raised (x 64) up to
  :math:`(c_{\max} + 1)(n + m + 1)`, LEMON's value, after which positive
  artificial flow means the listed pairs admit no feasible plan.
* A seed basis from a feasible flow whose support is a forest
  (:meth:`NetworkSimplex.seed`): each tree hangs from :math:`R` by an
  artificial arc with zero flow pointing at :math:`R` (strongly feasible).
* ``max_iter`` caps the pivots; the status then says so.

Why this and not POT.  POT's ``emd_c_sparse`` (LEMON's network simplex)
rebuilds its tree from artificial arcs at each call; warm potentials are all
it takes, so each pricing round of the column generation was a new solve.
Other candidates: OR-Tools' min-cost flow needs integer costs and gives no
potentials in Python; HiGHS does not use the network structure.  Written
with numba (``cache=True``: the JIT compilation, about 20 s, is paid once per
machine and Python version; loading the cache takes about 0.7 s).

Why the thread layout (measured side by side on the restricted LPs of
``emd_grid`` on two 128 x 128 smooth random fields, finest level, replayed; one
thread, CPU time, 2-core machine at load 19-24, so absolute figures are
inflated).  The first layout (parent / first child / next sibling lists, each
subtree walked with an explicit preorder stack) and this one make the same
pivots; per pivot, 27 -> 15 us (k = 2, seeded round, 50 000 pivots) and
59 -> 32 us (k = 2, second round, 92 000 pivots).  Per pivot the work is
about 700-1 200 arcs priced, 1 200-3 600 potentials shifted and 50-140 cycle
nodes; walking the thread costs about 4 ns a node (a chain of dependent loads
out of the L2 cache), so the potential update is still about half of a pivot.
From cold (428 000 pairs), 699 000 pivots took 43.5 s in the first layout
and 27.6 s in this one, and shuffling the pairs made it 283 000 pivots and 6.0 s; POT takes 3.9 s there (200 000-300 000 pivots), and
0.3 s against otlab's 0.5 s on the 64 x 64 LP: POT stays 1.3-1.8x faster from
cold (``exact_engine.md``: 1.1-1.9x on the first rounds replayed), otlab is faster wherever a basis is kept or seeded, which is what the
column generation needs.  ``benchmarks/reports/exact_engine.md`` has the
round-by-round table.  These comparisons with POT were made before the next change; after
it, POT's simplex is 1.4-2.0x faster from cold on the replayed LPs (load 1.8-1.9; the
machine was faster than for the figures above, POT's times 30-40 % lower), and in the
later rounds POT warm-started took 0.83 to 60 times the kept basis's time.  With the
skip links ("Eight chains" below) otlab's cold solves of the same replayed LPs run at
0.96-1.99x POT's speed, and POT warm-started takes 1.4 to 100 times the kept basis's time
(load 1.3-1.5).

Unsigned indices (:mod:`._simplex_kernels`).  numba tests every array index of a
signed integer type for a negative value (wrap-around) and adds the length; in a
walk along the thread or up the parent pointers that test sits on the chain of
dependent loads.  Node and arc numbers are therefore cast to unsigned integers in
the pricing loop and in every walk (each walk a function of its own, so that no
signed assignment elsewhere in :func:`~._simplex_kernels.pivot` turns its variable
back into a signed one): a thread walk alone took 1.8 ns a node instead of 3.1 ns,
and ``emd_grid`` at 128 x 128 0.72-0.87x the CPU time (four classes, k = 1 and 2,
the two engines interleaved, three runs each, load 2), 2-D clouds of 5*10^4 points
0.79-0.85x (uniform, W_1) and 0.76-0.83x (clustered, W_2), with the same pivots and
values.  Tried with it and not kept (within the noise): the cycle's two paths
recorded during the walk to its apex and read back by the later walks (instead of
climbing the parent pointers four more times), and renumbering every
(n + m)/4 pivots.

Flows by node (:mod:`._simplex_kernels`, ``tree_flow``).  Arcs off the tree carry
no flow, so the tree arcs' flows, one per node (the arc to its parent), are all the
flows.  The walks along a cycle (finding the blocking arc on each side, then pushing
the flow) read and write them there, a node array of a few hundred kilobytes,
instead of the arcs' array of several megabytes, where each node's arc sat at a
random place; the flows move with their arcs when the stem is re-hung.  (They were
first written back to an array of the arcs' flows after each run; that array is gone,
see "Memory" below.)  The same pivots and the same values
(bitwise); ``emd_grid`` at 128 x 128 took a median 0.86x the CPU time (k = 2, 14
pairs, 0.69-0.98x; shapes on a zero background 1.2x at 0.06-0.14 s, the two
engines run one after the other on each class, three runs each, load 2), 2-D
clouds of 5*10^4 points 0.69x (uniform, W_1), 0.76-0.80x (uniform, W_2),
0.79x (clustered, W_1) and 0.69-1.05x (clustered, W_2, three runs each).

Large shifts (measured on the finest level of 5*10^4 clustered points, W_1, one
thread, load about 2.5, the variants run one after the other).  1.64 million pivots
shift 1 564 potentials each on average, but unevenly: the pivots that shift at least a
sixteenth of the 10^5 nodes are 6.4 % of the pivots and do 80 % of the shifting (11 % of
them degenerate, 2 of 105 000 with an artificial leaving arc).  Two ways around them
were tried and not kept: deferring an entering arc whose pivot would shift more than 5 %
of the nodes (pricing on, up to 20 blocks) took 4.4 million pivots and 73 s against 15 s
(10 % and 10 blocks: 2.8 million, 35 s), so those pivots are progress the others cannot
make; and shifting runs of consecutive node numbers at once (the thread is in node order
after a renumbering) found runs of 2.1 nodes on average (5.6 when renumbering ten times as
often), 18.3 and 15.5 s against 14.9 s.  A subtree's potentials would have to move in
less than its size (a lazy offset in a balanced tree over the thread, as in dynamic
trees), which every pricing read would then pay.

The shift is a walk along a linked list: each step waits on the load of the next node.
On a 2*10^5-node thread in node order that walk takes 1.3-1.5 ns a node (the latency of
the first-level cache), in random order 9-10 ns; the solves see 2.2 ns on average, so the
thread is local in memory even where it is not in node order.  Taking ``w + 1`` as the
next node and only checking it against the thread (a predicted branch instead of a wait
on the load) made a synthetic walk with runs of 10 consecutive nodes 1.9x faster, but
the clustered solve above not at all (5*10^4 points, W_1: 11.9 s before and 12.0 s
after, twice each, the same pivots).  Nor did two walks at once, over the two halves of a
moved subtree split at a child's boundary (found by descending at most 64 levels): such
splits covered 10-27 % of the shifting in the rounds that matter, 20-43 % was on the
complement's side, and the rest lay in subtrees too small (256 nodes) or too deep to
split; 13.2 and 12.7 s against 13.2 and 12.5 s.  Not a network simplex: SciPy's sparse
shortest-augmenting-path assignment (``min_weight_full_bipartite_matching``, exact on
float costs) on the same kind of problem (2*10^4 clustered points, W_1, 20 nearest
neighbours each way plus the optimal plan's pairs, 7.9*10^5 pairs) took 49 s against
2.5 s for the whole column generation here, and returns no potentials.

Eight chains.  Beside the thread each node keeps the nodes 2, 4 and 8 places after it
(``skip``, :mod:`._simplex_kernels`), and a shift walks eight chains at once, one for each
place modulo 8, each stepping 8 places: eight independent chains of loads, which the
processor overlaps, instead of one.  A pivot relinks the thread at O(stem) nodes; the link
``2^{l+1}`` places on changes there and at the ``2^{l+1} - 1`` nodes before each, which the
pivot mends (14 links a relinked node).  The same pivots and values, bitwise.  Measured
(one thread, CPU time of the whole solve, the variants interleaved, load 0.5-2), 5*10^4
clustered W_1 points: one chain 11.3 and 11.4 s, two 9.44 and 9.48 s, four 9.05 and 8.93 s,
eight 8.0-9.5 s (median 8.96 s over 14 runs), sixteen 9.2-10.1 s (the mending grows with the
span: 30 links a relinked node).  With eight, against one: 10^5 clustered W_1 41.4 -> 29.3 s,
clustered W_2 18.6 -> 14.3 s, uniform W_1 8.42 -> 6.48 s, uniform W_2 7.47 -> 5.30 s;
``emd_grid`` at 128 x 128, one pair of each of the seven generated classes, k = 2 4.17 and
4.20 -> 2.87 and 2.78 s in all, k = 1 4.41 -> 3.73 s.  Two walks split at a child's boundary
(above) reached only the subtrees that split well; the skip links split every walk,
the complement's too.

Memory.  Per pair the simplex keeps two node numbers (int32), the cost and whether the
pair is basic: 17 bytes, and 8 more for the pair's index once a cold solve has shuffled
the pairs.  The flows are read off the tree (:meth:`NetworkSimplex.plan`), the largest
excess of given potentials over the pairs is computed on the stored pairs
(:meth:`NetworkSimplex.max_excess`),
and the arrays grow by a quarter, one at a time, so the column generation of
:mod:`._multiscale` need not keep its own copy of the pairs.
"""

from __future__ import annotations

import numpy as np

from .._dot import dot
from ._simplex_codes import EPSILON, INFEASIBLE, MAX_ITER_REACHED, OPTIMAL, SKIP_LEVELS

__all__ = ["NetworkSimplex", "OPTIMAL", "INFEASIBLE", "MAX_ITER_REACHED", "EPSILON"]

#: Largest pivot count the solver counts (int64).
MAX_PIVOTS = 2**62
#: Nodes are renumbered in thread order every this many times ``n + m`` pivots.
RENUMBER_EVERY = 1
#: Default pricing block size, in units of the square root of the number of pairs.
BLOCK_FACTOR = 1.0
#: Artificial flow at or below this (masses sum to 1) counts as none.
ART_FLOW_TOL = 1e-14


def _k():
    """The compiled kernels (numba is imported, and its cache loaded, on first use)."""
    from . import _simplex_kernels

    return _simplex_kernels


class NetworkSimplex:
    """Network simplex on a growing list of pairs between ``n`` sources and ``m`` targets.

    Parameters
    ----------
    a, b : ndarray
        Positive masses of the sources and targets, with equal sums.

    Examples
    --------
    >>> ns = NetworkSimplex(np.array([0.5, 0.5]), np.array([0.5, 0.5]))
    >>> ns.add_arcs(np.array([0, 0, 1]), np.array([0, 1, 1]), np.array([1.0, 0.0, 1.0]))
    >>> ns.solve(max_iter=100)
    1
    >>> ns.cost()
    1.0
    >>> ns.add_arcs(np.array([1]), np.array([0]), np.array([0.0]))  # the basis is kept
    >>> ns.solve(max_iter=100), ns.cost()
    (1, 0.0)
    """

    def __init__(self, a: np.ndarray, b: np.ndarray):
        self.n, self.m = a.shape[0], b.shape[0]
        nodes = self.n + self.m
        self.n_arcs = 0
        #: Internal position -> index of the added pair, once a cold solve has shuffled the
        #: pairs (None while the two agree).
        self._ext = None
        self._src = np.empty(0, np.int32)
        self._tgt = np.empty(0, np.int32)
        self._cost = np.empty(0)
        self._basic = np.empty(0, np.bool_)
        self._cmax = 0.0
        self.parent = np.empty(nodes + 1, np.int32)
        self.pred = np.empty(nodes + 1, np.int64)
        self.up = np.empty(nodes + 1, np.bool_)
        self.thread = np.empty(nodes + 1, np.int32)
        self.rev_thread = np.empty(nodes + 1, np.int32)
        self.succ = np.empty(nodes + 1, np.int32)
        self.last = np.empty(nodes + 1, np.int32)
        self.pi = np.zeros(nodes + 1)
        self.tree_flow = np.concatenate([a, b, [0.0]]).astype(np.float64)
        self.stem = np.empty((4, nodes + 1), np.int32)  # scratch space of a pivot
        self.skip = np.empty((SKIP_LEVELS, nodes + 1), np.int32)  # set and kept by ``run``
        self.relinked = np.empty(2 * nodes + 8, np.int32)  # scratch space of a pivot
        #: Node number of each node (sources, then ``n`` + targets, then the root): nodes are
        #: renumbered in thread order (see :meth:`_renumber`).
        self._pos = np.arange(nodes + 1, dtype=np.int32)
        self.art = 8.0
        #: Pricing block: this many times the square root of the number of pairs.
        self.block_factor = BLOCK_FACTOR
        self.pivots = 0
        #: Over all solves: arcs priced, potentials shifted, cycle nodes walked, stem nodes
        #: re-hung, degenerate pivots, ancestors whose last node changed (a measure of the work).
        self.work = np.zeros(6, np.int64)
        self.status = OPTIMAL
        self._start = 0
        self._cold_start = True  # no seed and no solve yet: the basis is all artificial
        if nodes >= 2**31 - 1:
            raise ValueError(f"a and b must hold fewer than 2**31 - 1 points; got {nodes}")
        _k().cold(self.n, self.parent, self.pred, self.up, self.thread, self.rev_thread,
                  self.succ, self.last, self.pi, self.art)

    # The pairs are stored in the order they were added, except that a cold solve (no seed,
    # no earlier solve) first shuffles them: the block pricing walks them in storage order,
    # and pairs sorted by source priced few sources per block and took 2.6x the pivots from
    # cold (a warm or seeded basis went the other way: 2.4x the pivots when shuffled).
    # These properties give copies in the order the pairs were added.
    src = property(lambda self: self._outside(self._src[self._internal()]),
                   doc="Source node of each pair (a copy).")
    tgt = property(lambda self: self._outside(self._tgt[self._internal()]),
                   doc="Target node of each pair (``n`` + target index; a copy).")

    def _internal(self):
        """Storage position of each added pair, in the order they were added."""
        if self._ext is None:
            return np.arange(self.n_arcs)
        internal = np.empty(self.n_arcs, np.int64)
        internal[self._ext[:self.n_arcs]] = np.arange(self.n_arcs)
        return internal

    def _outside(self, nodes=None):
        """Outside numbers (source index, ``n`` + target index) of node numbers (all: None)."""
        outside = np.empty_like(self._pos)
        outside[self._pos] = np.arange(self._pos.shape[0], dtype=self._pos.dtype)
        return outside if nodes is None else outside[nodes]

    def _renumber(self) -> None:
        """Number the nodes in thread order and recompute the potentials from the tree.

        A pivot walks the moved subtree along the thread; with nodes numbered in
        thread order (kept approximately between renumberings: a pivot moves whole
        pieces of the thread) that walk reads consecutive memory instead of jumping
        (measured on the walk alone: 2.7-3 ns a node against 7.7-8.2 ns).  End to end the
        gain is small: at 128 x 128, k = 2, one thread at load 20, 0-10 % of CPU time
        (within the noise), and none measurable on 10 000 uniform points; renumbering
        more often than every ``n + m`` pivots gained nothing more.
        """
        n_arcs = self.n_arcs
        _k().renumber(self.parent, self.pred, self.up, self.thread, self.rev_thread, self.succ,
                      self.last, self.pi, self.tree_flow, self._src[:n_arcs], self._tgt[:n_arcs],
                      self._pos)
        _k().relabel_all(self.parent, self.pred, self.up, self.thread, self.pi,
                         self._cost[:n_arcs], self.art)
    costs = property(lambda self: self._cost[self._internal()],
                     doc="Cost of each pair (a copy).")
    flow = property(lambda self: self._stored_flows()[self._internal()],
                    doc="Flow on each pair (a copy).")
    basic = property(lambda self: self._basic[self._internal()],
                     doc="Whether each pair is a tree arc (a copy).")
    max_cost = property(lambda self: self._cmax, doc="The largest absolute cost of a pair.")

    def _stored_flows(self):
        """Flow on each pair, by storage position (arcs off the tree carry none)."""
        flows = np.zeros(self.n_arcs)
        nodes = self.n + self.m
        on_arc = self.pred[:nodes] >= 0
        flows[self.pred[:nodes][on_arc]] = self.tree_flow[:nodes][on_arc]
        return flows

    def _reserve(self, size: int) -> None:
        """Room for ``size`` pairs: the arrays grow by a quarter (or to ``size``), one at a time.

        Per pair the simplex keeps 17 bytes (two node numbers, the cost and whether it is
        basic), 25 once a cold solve has shuffled the pairs; the flows live on the tree's
        nodes.  Growing by a quarter, one array at a time, keeps the spare room and the copy
        made while an array grows small beside the candidate pairs of a large solve.
        """
        capacity = self._cost.shape[0]
        if size <= capacity:
            return
        capacity = max(size, capacity + capacity // 4, 1024)
        for name in ("_ext", "_src", "_tgt", "_cost", "_basic"):
            old = getattr(self, name)
            if old is None:
                continue
            grown = np.empty(capacity, old.dtype)
            grown[:self.n_arcs] = old[:self.n_arcs]
            setattr(self, name, grown)
            del old, grown

    def add_arcs(self, rows, cols, costs) -> None:
        """Append pairs ``rows[k] -> cols[k]`` (flow 0; the basis is unchanged).

        Amortised O(number added): the arrays grow geometrically.
        """
        rows, cols = np.asarray(rows, np.int64), np.asarray(cols, np.int64)
        costs = np.asarray(costs, np.float64)
        if not rows.shape == cols.shape == costs.shape or rows.ndim != 1:
            raise ValueError("rows, cols and costs must be 1-D of one length; got shapes "
                             f"{rows.shape}, {cols.shape}, {costs.shape}")
        if rows.size and (rows.min() < 0 or rows.max() >= self.n):
            raise ValueError(f"rows must lie in [0, {self.n}); got [{rows.min()}, {rows.max()}]")
        if cols.size and (cols.min() < 0 or cols.max() >= self.m):
            raise ValueError(f"cols must lie in [0, {self.m}); got [{cols.min()}, {cols.max()}]")
        if not np.all(np.isfinite(costs)):
            raise ValueError("costs must be finite; got non-finite values")
        start, count = self.n_arcs, rows.shape[0]
        self._reserve(start + count)
        if self._ext is not None:
            self._ext[start:start + count] = np.arange(start, start + count)
        top = _k().append(self._src, self._tgt, self._cost, self._basic, start, rows, cols,
                          costs, self.n)
        added = slice(start, start + count)
        self._src[added] = self._pos[self._src[added]]
        self._tgt[added] = self._pos[self._tgt[added]]
        self.n_arcs = start + count
        self._cmax = max(self._cmax, float(top))
        if self._cmax + 1.0 > self.art / 8.0:
            self._set_art(8.0 * (self._cmax + 1.0))

    def _shuffle(self) -> None:
        """Store the pairs in a random (seeded) order; the basis must be all artificial."""
        n_arcs = self.n_arcs
        perm = np.random.default_rng(n_arcs).permutation(n_arcs)
        for name in ("_src", "_tgt", "_cost"):
            arr = getattr(self, name)
            arr[:n_arcs] = arr[perm]
        self._ext = np.empty(self._cost.shape[0], np.int64)
        self._ext[:n_arcs] = perm

    def seed(self, arcs, flows) -> bool:
        """Start from a feasible flow on ``arcs`` (indices of added pairs) whose support is a forest.

        Returns False (and keeps the current basis) when the support holds a cycle.
        """
        arcs = self._internal()[np.asarray(arcs, np.int64)]
        flows = np.asarray(flows, np.float64)
        n_arcs = self.n_arcs
        tree = (self.parent, self.pred, self.up, self.thread, self.rev_thread, self.succ,
                self.last, self.pi, self.tree_flow)
        state = [x.copy() for x in tree]
        ok = _k().build(self.n + self.m, self._src[:n_arcs], self._tgt[:n_arcs],
                        self._cost[:n_arcs], arcs, *tree, self.art)
        if not ok:
            for x, saved in zip(tree, state):
                x[:] = saved
            return False
        self._basic[:n_arcs] = False
        self._basic[arcs] = True
        on_arc = np.nonzero(self.pred[:self.n + self.m] >= 0)[0]
        by_arc = np.argsort(arcs)
        at = np.searchsorted(arcs[by_arc], self.pred[on_arc])
        self.tree_flow[on_arc] = flows[by_arc][at]
        self._cold_start = False
        self._renumber()
        return True

    def _set_art(self, art: float) -> None:
        self.art = art
        _k().relabel_all(self.parent, self.pred, self.up, self.thread, self.pi,
                         self._cost[:self.n_arcs], self.art)

    def solve(self, *, max_iter: int) -> int:
        """Pivot until optimal or ``max_iter`` pivots (this call); returns the status."""
        budget = min(int(max_iter), MAX_PIVOTS)
        run = _k().run
        top = (self._cmax + 1.0) * (self.n + self.m + 1)
        if self._cold_start:
            self._shuffle()  # flows are all 0 and no pair is basic
            self._cold_start = False
        n_arcs = self.n_arcs
        arcs = (self._src[:n_arcs], self._tgt[:n_arcs], self._cost[:n_arcs],
                self._basic[:n_arcs])
        chunk = max(1000, int(RENUMBER_EVERY * (self.n + self.m)))
        while True:
            self._renumber()
            status, pivots, self._start = run(
                *arcs, self.parent, self.pred,
                self.up, self.thread, self.rev_thread, self.succ, self.last, self.pi,
                self.tree_flow, self.art, self.stem, self._start, min(budget, chunk), self.work,
                float(self.block_factor), self.skip, self.relinked)
            self.pivots += pivots
            budget -= pivots
            if status == MAX_ITER_REACHED and budget > 0:
                continue  # a chunk of pivots done: renumber and go on
            if status != OPTIMAL or self.artificial_flow() <= ART_FLOW_TOL:
                break
            if self.art >= top:
                status = INFEASIBLE
                break
            self._set_art(min(64.0 * self.art, top))
        self.status = status
        return status

    def artificial_flow(self) -> float:
        """Mass still routed through the artificial root (0 for a plan of the listed pairs)."""
        nodes = self.n + self.m
        on_tree = self.pred[:nodes] < 0
        return float(self.tree_flow[:nodes][on_tree].sum())  # the root is the last node

    def potentials(self):
        """Dual potentials ``(f, g)`` with ``f_i + g_j = c_ij`` on tree arcs."""
        pi = self.pi[self._pos[:self.n + self.m]]
        return -pi[:self.n], pi[self.n:]

    def _positive(self):
        """Storage positions of the pairs with positive flow and their flows, by pair index."""
        nodes = self.n + self.m
        on = np.nonzero((self.pred[:nodes] >= 0) & (self.tree_flow[:nodes] > 0))[0]
        arcs, flows = self.pred[on], self.tree_flow[on]
        index = arcs if self._ext is None else self._ext[arcs]
        order = np.argsort(index)
        return arcs[order], index[order], flows[order]

    def support(self):
        """Indices of the added pairs with positive flow, increasing."""
        return self._positive()[1]

    def plan(self):
        """``(rows, cols, flows)``: source, target and flow of the pairs with positive flow.

        In the order the pairs were added.
        """
        arcs, _, flows = self._positive()
        rows = self._outside(self._src[arcs])
        return rows, self._outside(self._tgt[arcs]) - self.n, flows

    def cost(self) -> float:
        """Cost of the current flow on the listed pairs."""
        arcs, _, flows = self._positive()
        return dot(flows, self._cost[arcs])  # no BLAS threads

    def max_excess(self, f, g) -> float:
        r"""The largest :math:`f_i + g_j - c_{ij}` over the listed pairs.

        ``f`` and ``g`` are indexed by source and target (as :meth:`potentials` gives
        them); ``-inf`` when no pair is listed.
        """
        n_arcs = self.n_arcs
        return float(_k().max_excess(self._src[:n_arcs], self._tgt[:n_arcs], self._cost[:n_arcs],
                                     self._outside(), self.n, np.asarray(f, np.float64),
                                     np.asarray(g, np.float64)))
