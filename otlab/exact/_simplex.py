r"""A network simplex for the transportation problem whose basis survives added pairs.

The problem on a list of pairs (arcs) :math:`i \to j`,

.. math::

    \min \sum_{(i,j)} c_{ij} x_{ij} \quad\text{s.t.}\quad
    \sum_j x_{ij} = a_i,\ \sum_i x_{ij} = b_j,\ x \ge 0,

with dual :math:`\max \langle a, f\rangle + \langle b, g\rangle`,
:math:`f_i + g_j \le c_{ij}`.  Nodes are the n sources, the m targets and an
artificial root :math:`R`; each node has an artificial arc to or from
:math:`R` of cost :math:`M`.  The basis is a spanning tree (parent, arc to the
parent and its direction, subtree sizes, child lists) with flows on its arcs and node
potentials :math:`\pi` such that :math:`c_{st} + \pi_s - \pi_t = 0` on tree
arcs; :math:`f = -\pi_{\text{sources}}`, :math:`g = \pi_{\text{targets}}`.

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
* A pivot re-hangs one subtree and shifts its potentials by the entering
  arc's reduced cost; subtree sizes change only along the cycle (they also
  find the cycle's apex, as in LEMON).  Shifts carry round-off, so the
  potentials are recomputed exactly from the tree every :math:`n + m`
  pivots and before optimality is declared (then priced again).
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
Measured side by side on the same restricted LPs
(``benchmarks/reports/exact_engine.md``, figures in the notes of
:mod:`otlab.exact._multiscale`): POT is faster from cold (LEMON's thread
layout costs less per pivot), this engine is several times faster once a
basis is kept or seeded, which is what the column generation needs.  Other
candidates: OR-Tools' min-cost flow needs integer costs and gives no
potentials in Python; HiGHS does not use the network structure.  Written
with numba (``cache=True``: the JIT compilation, about 20 s, is paid once per
machine and Python version; loading the cache takes about 0.7 s).
"""

from __future__ import annotations

import numpy as np

from ._simplex_codes import EPSILON, INFEASIBLE, MAX_ITER_REACHED, OPTIMAL

__all__ = ["NetworkSimplex", "OPTIMAL", "INFEASIBLE", "MAX_ITER_REACHED", "EPSILON"]

#: Largest pivot count the solver counts (int64).
MAX_PIVOTS = 2**62
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
        self.src = np.empty(0, np.int64)
        self.tgt = np.empty(0, np.int64)
        self.costs = np.empty(0)
        self.flow = np.empty(0)
        self.basic = np.empty(0, np.bool_)
        self.parent = np.full(nodes + 1, -1, np.int64)
        self.pred = np.full(nodes + 1, -1, np.int64)
        self.up = np.zeros(nodes + 1, np.bool_)
        self.succ = np.ones(nodes + 1, np.int64)
        self.first_child = np.full(nodes + 1, -1, np.int64)
        self.next_sib = np.full(nodes + 1, -1, np.int64)
        self.prev_sib = np.full(nodes + 1, -1, np.int64)
        self.pi = np.zeros(nodes + 1)
        self.art_flow = np.concatenate([a, b, [0.0]]).astype(np.float64)
        self.stack = np.empty(2 * (nodes + 1), np.int64)  # work stack, subtree order
        self.art = 8.0
        self.pivots = 0
        #: Arcs priced and nodes relabelled, over all solves (a measure of the work).
        self.work = np.zeros(2, np.int64)
        self.status = OPTIMAL
        self._start = 0
        self._cold(a.shape[0])

    def _cold(self, n):
        """All artificial: sources send to the root, the root sends to targets."""
        nodes = self.parent.shape[0] - 1
        self.up[:nodes] = np.arange(nodes) < n
        self.first_child[:] = -1
        for v in range(nodes):
            self.parent[v] = nodes
            self.next_sib[v] = v + 1 if v + 1 < nodes else -1
            self.prev_sib[v] = v - 1
        self.first_child[nodes] = 0 if nodes else -1
        self.succ[:] = 1
        self.succ[nodes] = nodes + 1
        self.pi[:nodes] = np.where(self.up[:nodes], -self.art, self.art)

    def add_arcs(self, rows, cols, costs) -> None:
        """Append pairs ``rows[k] -> cols[k]`` (flow 0; the basis is unchanged)."""
        self.src = np.concatenate([self.src, np.asarray(rows, np.int64)])
        self.tgt = np.concatenate([self.tgt, np.asarray(cols, np.int64) + self.n])
        self.costs = np.concatenate([self.costs, np.asarray(costs, np.float64)])
        self.flow = np.concatenate([self.flow, np.zeros(len(costs))])
        self.basic = np.concatenate([self.basic, np.zeros(len(costs), np.bool_)])
        top = float(np.abs(self.costs).max(initial=0.0))
        if top + 1.0 > self.art / 8.0:
            self._set_art(8.0 * (top + 1.0))

    def seed(self, arcs, flows) -> bool:
        """Start from a feasible flow on ``arcs`` (indices of added pairs) whose support is a forest.

        Returns False (and keeps the current basis) when the support holds a cycle.
        """
        arcs = np.asarray(arcs, np.int64)
        state = [self.parent.copy(), self.pred.copy(), self.up.copy(), self.succ.copy(),
                 self.first_child.copy(), self.next_sib.copy(), self.prev_sib.copy(),
                 self.pi.copy(), self.art_flow.copy()]
        ok = _k().build(self.n + self.m, self.src, self.tgt, self.costs, arcs,
                                 self.parent, self.pred, self.up, self.succ, self.first_child,
                                 self.next_sib, self.prev_sib, self.pi, self.art_flow, self.art,
                                 self.stack)
        if not ok:
            (self.parent, self.pred, self.up, self.succ, self.first_child, self.next_sib,
             self.prev_sib, self.pi, self.art_flow) = state
            return False
        self.flow[:] = 0.0
        self.basic[:] = False
        self.flow[arcs] = flows
        self.basic[arcs] = True
        return True

    def _set_art(self, art: float) -> None:
        self.art = art
        _k().relabel_all(self.parent, self.pred, self.up, self.first_child, self.next_sib,
                         self.pi, self.costs, self.art, self.stack)

    def solve(self, *, max_iter: int) -> int:
        """Pivot until optimal or ``max_iter`` pivots (this call); returns the status."""
        budget = min(int(max_iter), MAX_PIVOTS)
        run = _k().run
        top = (float(np.abs(self.costs).max(initial=0.0)) + 1.0) * (self.n + self.m + 1)
        while True:
            status, pivots, self._start = run(
                self.src, self.tgt, self.costs, self.flow, self.basic, self.parent, self.pred,
                self.up, self.succ, self.first_child, self.next_sib, self.prev_sib, self.pi,
                self.art_flow, self.art, self.stack, self._start, budget, self.work)
            self.pivots += pivots
            budget -= pivots
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
        return float(self.art_flow[:nodes][on_tree].sum())

    def potentials(self):
        """Dual potentials ``(f, g)`` with ``f_i + g_j = c_ij`` on tree arcs."""
        return -self.pi[:self.n].copy(), self.pi[self.n:self.n + self.m].copy()

    def support(self):
        """Indices of the added pairs with positive flow."""
        return np.nonzero(self.flow > 0)[0]

    def cost(self) -> float:
        """Cost of the current flow on the listed pairs."""
        return float(self.flow @ self.costs)
