"""The network simplex with a kept basis: POT's optimum, warm == cold, seeds, caps, certificates."""

import warnings

import numpy as np
import ot
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from otlab.exact import ConvergenceWarning, emd_points, max_dual_violation
from otlab.exact._simplex import MAX_ITER_REACHED, OPTIMAL, NetworkSimplex

ORDERS = [1.0, 1.5, 2.0]


def _problem(seed, n, m, d=2, *, grid=False, uniform=False):
    rng = np.random.default_rng(seed)
    if grid:  # integer points: ties everywhere
        x, y = rng.integers(0, 4, (n, d)).astype(float), rng.integers(0, 4, (m, d)).astype(float)
    else:
        x, y = rng.normal(size=(n, d)), rng.normal(size=(m, d))
    a = np.ones(n) if uniform else rng.random(n) + 0.01
    b = np.ones(m) if uniform else rng.random(m) + 0.01
    return x, y, a / a.sum(), b / b.sum()


def _costs(x, y, order):
    return ot.dist(x, y, metric="euclidean") ** order


def _all_pairs(n, m):
    rows, cols = np.divmod(np.arange(n * m), m)
    return rows, cols


def _check_optimal(ns, a, b, M):
    """Feasible flows, tight and dual-feasible potentials, POT's value."""
    n, m = M.shape
    plan = np.zeros((n, m))
    plan[ns.src, ns.tgt - n] = ns.flow
    np.testing.assert_allclose(plan.sum(axis=1), a, rtol=0, atol=1e-12)
    np.testing.assert_allclose(plan.sum(axis=0), b, rtol=0, atol=1e-12)
    assert plan.min() >= 0
    f, g = ns.potentials()
    scale = 1.0 + np.abs(M).max()
    assert (f[:, None] + g[None, :] - M).max() <= 1e-12 * scale  # dual feasible
    np.testing.assert_allclose(ns.cost(), f @ a + g @ b, rtol=0, atol=1e-12 * scale)
    np.testing.assert_allclose(ns.cost(), ot.emd2(a, b, M, numItermax=10**8), rtol=1e-11,
                               atol=1e-14 * scale)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10**6), st.integers(1, 25), st.integers(1, 25), st.sampled_from(ORDERS),
       st.booleans(), st.booleans())
def test_optimum_equals_pot_on_all_pairs(seed, n, m, order, grid, uniform):
    x, y, a, b = _problem(seed, n, m, grid=grid, uniform=uniform)
    M = _costs(x, y, order)
    rows, cols = _all_pairs(n, m)
    ns = NetworkSimplex(a, b)
    ns.add_arcs(rows, cols, M[rows, cols])
    assert ns.solve(max_iter=10**7) == OPTIMAL
    _check_optimal(ns, a, b, M)


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 10**6), st.integers(2, 25), st.integers(2, 25), st.integers(2, 5))
def test_arcs_added_between_solves_reach_the_cold_optimum(seed, n, m, parts):
    x, y, a, b = _problem(seed, n, m, grid=seed % 2 == 0)
    M = _costs(x, y, 2.0)
    rows, cols = _all_pairs(n, m)
    order = np.random.default_rng(seed).permutation(rows.shape[0])
    warm = NetworkSimplex(a, b)
    for chunk in np.array_split(order, parts):
        warm.add_arcs(rows[chunk], cols[chunk], M[rows[chunk], cols[chunk]])
        status = warm.solve(max_iter=10**7)  # a part of the pairs may admit no plan
    assert status == OPTIMAL
    _check_optimal(warm, a, b, M)


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 10**6), st.integers(1, 20), st.integers(1, 20), st.integers(1, 4),
       st.booleans())
def test_plan_and_max_excess_read_the_flows_off_the_tree_in_the_order_pairs_were_added(
        seed, n, m, parts, grid):
    x, y, a, b = _problem(seed, n, m, grid=grid)
    M = _costs(x, y, 1.0)
    rows, cols = _all_pairs(n, m)
    order = np.random.default_rng(seed).permutation(rows.shape[0])
    rows, cols = rows[order], cols[order]
    ns = NetworkSimplex(a, b)  # the first solve is cold: it shuffles the pairs it holds
    for chunk in np.array_split(np.arange(rows.shape[0]), min(parts, rows.shape[0])):
        ns.add_arcs(rows[chunk], cols[chunk], M[rows[chunk], cols[chunk]])
        ns.solve(max_iter=10**7)
        listed = rows[:chunk[-1] + 1], cols[:chunk[-1] + 1]
        flows = ns.flow
        support = np.nonzero(flows > 0)[0]
        np.testing.assert_array_equal(ns.support(), support)
        plan_rows, plan_cols, plan_flows = ns.plan()
        np.testing.assert_array_equal(plan_rows, listed[0][support])
        np.testing.assert_array_equal(plan_cols, listed[1][support])
        np.testing.assert_array_equal(plan_flows, flows[support])
        assert ns.max_cost == M[listed].max()
        f, g = ns.potentials()
        f = f + np.random.default_rng(seed).random(n)  # any potentials, not only the tree's
        assert ns.max_excess(f, g) == (f[listed[0]] + g[listed[1]] - M[listed]).max()


def test_a_kept_basis_costs_fewer_pivots_than_a_new_solve():
    x, y, a, b = _problem(1, 60, 60)
    M = _costs(x, y, 2.0)
    rows, cols = _all_pairs(60, 60)
    near = M[rows, cols] < np.quantile(M, 0.3)
    warm = NetworkSimplex(a, b)
    warm.add_arcs(rows[near], cols[near], M[rows, cols][near])
    warm.solve(max_iter=10**7)
    before = warm.pivots
    warm.add_arcs(rows[~near], cols[~near], M[rows, cols][~near])
    warm.solve(max_iter=10**7)
    cold = NetworkSimplex(a, b)
    cold.add_arcs(rows, cols, M[rows, cols])
    cold.solve(max_iter=10**7)
    assert warm.pivots - before < cold.pivots
    np.testing.assert_allclose(warm.cost(), cold.cost(), rtol=1e-12)


def test_seeded_basis_reaches_the_cold_optimum():
    x, y, a, b = _problem(2, 30, 20)
    M = _costs(x, y, 1.0)
    rows, cols = _all_pairs(30, 20)
    # north-west-corner plan: feasible, its support a tree
    i = j = 0
    ra, rb, seed_arcs, seed_flows = a.copy(), b.copy(), [], []
    while i < 30 and j < 20:
        q = min(ra[i], rb[j])
        seed_arcs.append(i * 20 + j)
        seed_flows.append(q)
        ra[i] -= q
        rb[j] -= q
        if ra[i] <= rb[j] and i < 29:
            i += 1
        else:
            j += 1
    ns = NetworkSimplex(a, b)
    ns.add_arcs(rows, cols, M[rows, cols])
    assert ns.seed(np.array(seed_arcs), np.array(seed_flows))
    assert ns.solve(max_iter=10**7) == OPTIMAL
    _check_optimal(ns, a, b, M)


def test_a_seed_with_a_cycle_is_refused_and_the_basis_kept():
    a = b = np.full(2, 0.5)
    ns = NetworkSimplex(a, b)
    ns.add_arcs(np.array([0, 0, 1, 1]), np.array([0, 1, 0, 1]), np.array([0.0, 1.0, 1.0, 0.0]))
    assert not ns.seed(np.arange(4), np.full(4, 0.25))
    assert ns.solve(max_iter=100) == OPTIMAL
    assert ns.cost() == 0.0


def test_identical_clouds_and_one_point_cost_nothing():
    x, _, a, _ = _problem(3, 40, 40, grid=True, uniform=True)
    M = _costs(x, x, 2.0)
    rows, cols = _all_pairs(40, 40)
    ns = NetworkSimplex(a, a)
    ns.add_arcs(rows, cols, M[rows, cols])
    assert ns.solve(max_iter=10**6) == OPTIMAL
    _check_optimal(ns, a, a, M)
    one = NetworkSimplex(np.ones(1), np.ones(1))
    one.add_arcs(np.array([0]), np.array([0]), np.array([3.0]))
    assert one.solve(max_iter=10) == OPTIMAL and one.cost() == 3.0


def test_weights_zero_almost_everywhere_go_through_the_few_pairs_that_matter():
    x, y, a, b = _problem(4, 50, 50)
    a = np.full(50, 1e-12)
    a[7] = 1.0
    a /= a.sum()
    M = _costs(x, y, 1.0)
    rows, cols = _all_pairs(50, 50)
    ns = NetworkSimplex(a, b)
    ns.add_arcs(rows, cols, M[rows, cols])
    assert ns.solve(max_iter=10**6) == OPTIMAL
    _check_optimal(ns, a, b, M)


def test_the_pivot_cap_is_reported():
    x, y, a, b = _problem(5, 30, 30)
    M = _costs(x, y, 2.0)
    rows, cols = _all_pairs(30, 30)
    ns = NetworkSimplex(a, b)
    ns.add_arcs(rows, cols, M[rows, cols])
    assert ns.solve(max_iter=3) == MAX_ITER_REACHED
    assert ns.pivots == 3


def test_pairs_that_admit_no_plan_are_reported_infeasible():
    ns = NetworkSimplex(np.array([0.5, 0.5]), np.array([0.5, 0.5]))
    ns.add_arcs(np.array([0, 1]), np.array([0, 0]), np.array([1.0, 1.0]))
    assert ns.solve(max_iter=100) == 0
    assert ns.artificial_flow() > 0.4


@pytest.mark.parametrize("order", ORDERS)
def test_sparse_points_solver_equals_pot_on_grids_with_ties(order):
    g = np.arange(12) / 11.0
    x = np.stack(np.meshgrid(g, g), -1).reshape(-1, 2)  # 144 grid points, many equal costs
    rng = np.random.default_rng(6)
    a, b = rng.random(144), rng.random(144)
    a[rng.random(144) < 0.5] = 0.0  # zero weights on half the grid
    res = emd_points(x, x, a, b, order=order, solver="sparse")
    M = _costs(x, x, order)
    np.testing.assert_allclose(res.cost, ot.emd2(a / a.sum(), b / b.sum(), M, numItermax=10**8),
                               rtol=1e-9)
    assert res.converged and res.dual_violation <= 1e-12


def test_tampered_potentials_fail_the_certificate(monkeypatch):
    rng = np.random.default_rng(8)
    x, y = rng.random((900, 2)), rng.random((800, 2))
    original = NetworkSimplex.potentials

    def tampered(self):
        f, g = original(self)
        return f + 1e-4 * rng.random(f.shape[0]), g

    monkeypatch.setattr(NetworkSimplex, "potentials", tampered)
    with pytest.warns(ConvergenceWarning, match="did not certify"):
        res = emd_points(x, y, order=2, solver="sparse", max_rounds=3)
    assert not res.converged
    assert max_dual_violation(x, y, res.f, res.g, order=2) > 1e-6


def test_a_broken_basis_fails_the_certificate(monkeypatch):
    rng = np.random.default_rng(9)
    x, y = rng.random((900, 2)), rng.random((800, 2))
    original = NetworkSimplex.solve

    def broken(self, *, max_iter):
        status = original(self, max_iter=max_iter)
        nodes = self.n + self.m  # the flows live on the tree's nodes: one tree arc loses its flow
        on_arc = np.where(self.pred[:nodes] >= 0, self.tree_flow[:nodes], -1.0)
        self.tree_flow[np.argmax(on_arc)] = 0.0
        return status

    monkeypatch.setattr(NetworkSimplex, "solve", broken)
    with pytest.warns(ConvergenceWarning, match="NOT feasible"):
        res = emd_points(x, y, order=1, solver="sparse")
    assert not res.converged and res.marginal_error > 1e-6


def test_the_pivot_cap_of_the_points_solver_warns():
    rng = np.random.default_rng(10)
    x, y = rng.random((800, 2)), rng.random((800, 2))
    with pytest.warns(ConvergenceWarning):
        res = emd_points(x, y, solver="sparse", max_iter=5)
    assert not res.converged


@settings(max_examples=10, deadline=None)
@given(st.integers(0, 10**6), st.sampled_from([1.0, 2.0]))
def test_sparse_value_is_invariant_to_permutation_translation_and_duplicates(seed, order):
    rng = np.random.default_rng(seed)
    x, y = rng.random((500, 2)), rng.random((450, 2))
    a, b = rng.random(500) + 0.1, rng.random(450) + 0.1
    ref = emd_points(x, y, a, b, order=order, solver="sparse")
    px, py = rng.permutation(500), rng.permutation(450)
    perm = emd_points(x[px] + 3.0, y[py] + 3.0, a[px], b[py], order=order, solver="sparse")
    split = np.concatenate([a[:50] / 2, a[50:], a[:50] / 2])  # 50 points split in two copies
    dup = emd_points(np.concatenate([x, x[:50]]), y, split, b, order=order, solver="sparse")
    scaled = emd_points(x * 4.0, y * 4.0, a, b, order=order, solver="sparse")
    np.testing.assert_allclose(perm.cost, ref.cost, rtol=1e-9)
    np.testing.assert_allclose(dup.cost, ref.cost, rtol=1e-9)
    np.testing.assert_allclose(scaled.cost, ref.cost * 4.0 ** order, rtol=1e-9)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert ref.converged and perm.converged and dup.converged and scaled.converged


def _check_tree(ns):
    """The basis is a spanning tree whose thread is a preorder: subtree sizes, last nodes,
    reverse thread, tree-arc flags and tight potentials all agree with the parent pointers."""
    nodes = ns.n + ns.m
    root = nodes
    order = [root]
    v = ns.thread[root]
    while v != root:
        order.append(int(v))
        assert len(order) <= nodes + 1, "the thread is not a cycle through the root"
        v = ns.thread[v]
    assert sorted(order) == list(range(nodes + 1))
    pos = {v: i for i, v in enumerate(order)}
    for v in order:
        assert ns.rev_thread[ns.thread[v]] == v
    for v in order[1:]:
        assert pos[int(ns.parent[v])] < pos[v]  # parents first
    size = np.ones(nodes + 1, np.int64)
    for v in order[:0:-1]:
        size[ns.parent[v]] += size[v]
    np.testing.assert_array_equal(ns.succ, size)
    for v in order:
        assert pos[int(ns.last[v])] == pos[v] + size[v] - 1  # subtrees are contiguous
    for level in range(ns.skip.shape[0]):  # skip links 2, 4, 8 places on, kept by the pivots
        ahead = 2 << level
        for v in order:
            assert ns.skip[level, v] == order[(pos[v] + ahead) % (nodes + 1)]
    tree_arcs = np.sort(ns.pred[:nodes][ns.pred[:nodes] >= 0])  # storage positions
    np.testing.assert_array_equal(tree_arcs, np.sort(ns._internal()[np.nonzero(ns.basic)[0]]))
    pi = ns.pi  # by node number: the pairs' ends as node numbers too
    src, tgt = ns._src[ns._internal()], ns._tgt[ns._internal()]
    on_tree = ns.basic
    scale = 1.0 + np.abs(ns.costs).max(initial=0.0) + np.abs(pi).max()
    np.testing.assert_allclose((ns.costs + pi[src] - pi[tgt])[on_tree], 0.0, rtol=0,
                               atol=1e-12 * scale)


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 10**6), st.integers(1, 12), st.integers(1, 12), st.floats(0.1, 1.0),
       st.booleans())
def test_restricted_optimum_and_infeasibility_agree_with_linprog(seed, n, m, density, ties):
    from scipy.optimize import linprog

    x, y, a, b = _problem(seed, n, m, grid=ties)
    M = _costs(x, y, 2.0)
    rows, cols = _all_pairs(n, m)
    keep = np.random.default_rng(seed).random(rows.shape[0]) < density
    rows, cols = rows[keep], cols[keep]
    ns = NetworkSimplex(a, b)
    ns.add_arcs(rows, cols, M[rows, cols])
    status = ns.solve(max_iter=10**6)
    k = rows.shape[0]
    A = np.zeros((n + m, k))
    A[rows, np.arange(k)] = 1.0
    A[n + cols, np.arange(k)] = 1.0
    ref = linprog(M[rows, cols], A_eq=A, b_eq=np.concatenate([a, b]), bounds=(0, None),
                  method="highs") if k else None
    if ref is None or ref.status == 2:
        assert status == 0  # INFEASIBLE
        return
    assert ref.status == 0 and status == OPTIMAL
    scale = 1.0 + M.max()
    np.testing.assert_allclose(ns.cost(), ref.fun, rtol=1e-9, atol=1e-12 * scale)
    f, g = ns.potentials()
    assert (f[rows] + g[cols] - M[rows, cols]).max() <= 1e-12 * scale  # dual feasible
    np.testing.assert_allclose(f @ a + g @ b, ref.fun, rtol=1e-9, atol=1e-12 * scale)
    _check_tree(ns)


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 10**6), st.integers(2, 20), st.integers(2, 20))
def test_plan_equals_pot_where_the_optimum_is_unique(seed, n, m):
    x, y, a, b = _problem(seed, n, m)  # continuous data: one optimal plan (almost surely)
    M = _costs(x, y, 1.5)
    rows, cols = _all_pairs(n, m)
    ns = NetworkSimplex(a, b)
    ns.add_arcs(rows, cols, M[rows, cols])
    assert ns.solve(max_iter=10**6) == OPTIMAL
    plan = np.zeros((n, m))
    plan[rows, cols] = ns.flow
    np.testing.assert_allclose(plan, ot.emd(a, b, M, numItermax=10**8), rtol=0, atol=1e-13)
    _check_tree(ns)


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 10**6), st.integers(2, 30), st.integers(1, 5))
def test_identical_measures_cost_nothing_and_warm_rounds_keep_the_tree(seed, n, parts):
    x, _, a, _ = _problem(seed, n, n, grid=True, uniform=seed % 3 == 0)
    M = _costs(x, x, 1.0)
    rows, cols = _all_pairs(n, n)
    order = np.random.default_rng(seed).permutation(rows.shape[0])
    ns = NetworkSimplex(a, a)
    for chunk in np.array_split(order, parts):
        ns.add_arcs(rows[chunk], cols[chunk], M[rows[chunk], cols[chunk]])
        ns.solve(max_iter=10**6)
        _check_tree(ns)
    assert ns.status == OPTIMAL
    np.testing.assert_allclose(ns.cost(), 0.0, rtol=0, atol=1e-15 * (1 + M.max()))


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 10**6), st.integers(2, 30), st.integers(2, 30), st.integers(1, 9),
       st.sampled_from(ORDERS))
def test_each_pivot_keeps_the_thread_its_skip_links_and_tight_shifted_potentials(
        seed, n, m, chunk, order):
    # solves of a few pivots each: the potentials checked are the shifted ones (they are
    # recomputed from the tree only before optimality is declared) and the skip links the
    # ones the pivots mended since the solve set them
    x, y, a, b = _problem(seed, n, m, grid=seed % 2 == 0)
    M = _costs(x, y, order)
    rows, cols = _all_pairs(n, m)
    ns = NetworkSimplex(a, b)
    ns.add_arcs(rows, cols, M[rows, cols])
    while ns.solve(max_iter=chunk) == MAX_ITER_REACHED:
        _check_tree(ns)
    assert ns.status == OPTIMAL
    _check_tree(ns)
    np.testing.assert_allclose(ns.cost(), ot.emd2(a, b, M, numItermax=10**8), rtol=1e-10)


def test_the_pivot_cap_holds_on_a_warm_re_solve_and_the_solve_then_resumes():
    x, y, a, b = _problem(11, 40, 40)
    M = _costs(x, y, 2.0)
    rows, cols = _all_pairs(40, 40)
    near = M[rows, cols] < np.quantile(M, 0.3)
    ns = NetworkSimplex(a, b)
    ns.add_arcs(rows[near], cols[near], M[rows, cols][near])
    assert ns.solve(max_iter=10**6) == OPTIMAL
    ns.add_arcs(rows[~near], cols[~near], M[rows, cols][~near])
    before = ns.pivots
    assert ns.solve(max_iter=2) == MAX_ITER_REACHED
    assert ns.pivots - before == 2
    assert ns.solve(max_iter=10**6) == OPTIMAL
    _check_optimal(ns, a, b, M)
    _check_tree(ns)


@pytest.mark.parametrize("rows, cols, costs, match", [
    ([0, 2], [0, 1], [1.0, 1.0], "rows must lie in"),
    ([0, 1], [0, -1], [1.0, 1.0], "cols must lie in"),
    ([0, 1], [0, 1], [1.0, np.nan], "costs must be finite"),
    ([0, 1], [0], [1.0, 1.0], "one length"),
])
def test_bad_pairs_are_refused_with_a_message(rows, cols, costs, match):
    ns = NetworkSimplex(np.full(2, 0.5), np.full(2, 0.5))
    with pytest.raises(ValueError, match=match):
        ns.add_arcs(np.array(rows), np.array(cols), np.array(costs))
