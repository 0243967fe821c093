"""Exact OT between point clouds: the sparse and dense solvers against POT and known answers."""

import math
import warnings

import numpy as np
import ot
import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from otlab.exact import (ConvergenceWarning, choose_exact_solver, emd_points,
                         max_dual_violation)


def _pot_value(x, y, a, b, order):
    diff = x[:, None, :] - y[None, :, :]
    cost = np.sqrt(np.einsum("ijk,ijk->ij", diff, diff)) ** order
    return ot.emd2(a / a.sum(), b / b.sum(), cost, numItermax=10**8)


def _assert_certified(res, *, value_scale):
    """The certificate holds: feasible plan, no violated pair, no duality gap."""
    assert res.converged
    assert res.marginal_error <= 1e-12
    assert res.dual_violation <= 1e-8 * value_scale  # the simplex potentials' round-off
    assert abs(res.duality_gap) <= 1e-9 * value_scale
    np.testing.assert_allclose(res.plan.sum(), 1.0, rtol=1e-12)


@st.composite
def clouds(draw, *, min_n=1, max_n=40):
    """Two weighted clouds, with repeated points, zero weights, ties and d from 1 to 4."""
    d = draw(st.integers(1, 4))
    n, m = draw(st.integers(min_n, max_n)), draw(st.integers(min_n, max_n))
    grid = draw(st.booleans())  # integer grids make ties and duplicates
    elements = (st.integers(-3, 3).map(float) if grid else
                st.floats(-10, 10, allow_nan=False, width=64))
    x = draw(arrays(np.float64, (n, d), elements=elements))
    y = draw(arrays(np.float64, (m, d), elements=elements))
    w = st.one_of(st.just(0.0), st.floats(1e-6, 5.0))
    a = draw(arrays(np.float64, (n,), elements=w).filter(lambda v: v.sum() > 0))
    b = draw(arrays(np.float64, (m,), elements=w).filter(lambda v: v.sum() > 0))
    # Points that carry mass within 2**-500 of each other beside a point of weight 0 far
    # away (mass at 0 and 4.9e-164, weight 0 at 1) were left out here as the documented
    # unresolved class (converged=False and a warning); such points of weight 0 are now
    # left out of the solver's frame (otlab.exact._far_points) and the problem is solved.
    return x, y, a, b


@given(clouds(), st.sampled_from([1.0, 2.0, 1.5]), st.sampled_from(["sparse", "dense"]))
def test_value_equals_pot_and_the_certificate_holds(problem, order, solver):
    x, y, a, b = problem
    res = emd_points(x, y, a, b, order=order, solver=solver)
    expected = _pot_value(x, y, a, b, order)
    np.testing.assert_allclose(res.cost, expected, rtol=1e-9, atol=1e-12 * (1 + expected))
    _assert_certified(res, value_scale=1 + np.abs(np.concatenate([x, y])).max() ** order)
    np.testing.assert_allclose(res.plan.sum(axis=1), res.a, atol=1e-12)
    np.testing.assert_allclose(res.plan.sum(axis=0), res.b, atol=1e-12)
    assert res.plan.min() >= 0


@given(clouds(min_n=10, max_n=60), st.sampled_from([1.0, 2.0]))
def test_sparse_and_dense_solvers_agree(problem, order):
    x, y, a, b = problem
    sparse = emd_points(x, y, a, b, order=order, solver="sparse")
    dense = emd_points(x, y, a, b, order=order, solver="dense")
    np.testing.assert_allclose(sparse.cost, dense.cost, rtol=1e-9, atol=1e-10)


@given(st.floats(-1e8, 1e8), st.sampled_from([1e-150, 1e-20, 1.0, 1e20, 1e150]),
       st.sampled_from([1.0, 2.0]))
def test_value_is_translation_invariant_and_scale_equivariant(offset, scale, order):
    rng = np.random.default_rng(7)
    x, y = rng.normal(size=(300, 2)), rng.normal(size=(250, 2)) + [0.5, 0.0]
    a, b = rng.random(300), rng.random(250)
    reference = emd_points(x, y, a, b, order=order, solver="sparse").distance
    moved = emd_points(x * scale + offset * scale, y * scale + offset * scale, a, b,
                       order=order, solver="sparse")
    # float64 holds the moved data to about 1e-16 * (|offset| + spread) absolute
    np.testing.assert_allclose(moved.distance / scale, reference,
                               rtol=1e-9 + 1e-14 * abs(offset))
    assert moved.converged


@pytest.mark.parametrize("solver", ["sparse", "dense"])
def test_cost_beyond_float64_is_not_reported_converged_but_the_distance_is_right(solver):
    rng = np.random.default_rng(8)
    x, y = rng.normal(size=(40, 2)), rng.normal(size=(30, 2)) + [0.5, 0.0]
    reference = emd_points(x, y, order=2, solver=solver).distance
    with pytest.warns(ConvergenceWarning, match=r"W_k\^k = inf does not fit in float64"):
        res = emd_points(x * 1e160, y * 1e160, order=2, solver=solver)
    assert not res.converged and res.cost == np.inf
    np.testing.assert_allclose(res.distance, 1e160 * reference, rtol=1e-9)


def test_single_points_cost_their_distance():
    res = emd_points([[0.0, 0.0]], [[3.0, 4.0]], order=2, solver="sparse")
    assert res.cost == 25.0 and res.distance == 5.0 and res.converged
    res = emd_points([[1.0]], [[0.0], [2.0], [4.0]], [1.0], [1, 1, 2], solver="sparse")
    np.testing.assert_allclose(res.cost, 0.25 + 0.25 + 1.5, rtol=1e-13)


def test_duplicated_points_split_their_mass_in_proportion():
    x = np.array([[0.0], [0.0], [0.0], [5.0]])
    y = np.array([[1.0], [4.0]])
    res = emd_points(x, y, [0.1, 0.2, 0.2, 0.5], [0.5, 0.5], solver="sparse")
    np.testing.assert_allclose(res.cost, 0.5 * 1 + 0.5 * 1, rtol=1e-12)
    np.testing.assert_allclose(res.plan.toarray()[:3, 0], [0.1, 0.2, 0.2], rtol=1e-12)
    np.testing.assert_allclose(res.f[:3], res.f[0])
    _assert_certified(res, value_scale=25)


def test_identical_clouds_cost_zero_with_the_identity_plan():
    x = np.random.default_rng(3).normal(size=(2000, 3))
    res = emd_points(x, x, order=1, solver="sparse")
    assert res.cost == 0.0
    np.testing.assert_allclose(res.plan.diagonal(), 1 / 2000, rtol=1e-12)


def test_collinear_points_match_the_one_dimensional_closed_form():
    rng = np.random.default_rng(4)
    t, s = rng.random(1500), rng.random(1700) + 0.2
    direction = np.array([3.0, -4.0, 12.0]) / 13.0
    res = emd_points(t[:, None] * direction, s[:, None] * direction, solver="sparse")
    expected = ot.wasserstein_1d(t, s, p=1)
    np.testing.assert_allclose(res.cost, expected, rtol=1e-10)
    _assert_certified(res, value_scale=2)


def test_clusters_far_apart_pay_the_gap():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(1200, 2)) * 1e-3
    y = np.concatenate([rng.normal(size=(600, 2)) * 1e-3 + [1e6, 0.0],
                        rng.normal(size=(600, 2)) * 1e-3 - [1e6, 0.0]])
    res = emd_points(x, y, solver="sparse")
    np.testing.assert_allclose(res.cost, 1e6, rtol=1e-8)
    assert res.converged


def test_very_unbalanced_weights():
    rng = np.random.default_rng(6)
    x, y = rng.random((800, 2)), rng.random((900, 2))
    a = np.where(rng.random(800) < 0.5, 1e-12, 1.0)
    b = np.geomspace(1e-15, 1.0, 900)
    res = emd_points(x, y, a, b, solver="sparse")
    np.testing.assert_allclose(res.cost, _pot_value(x, y, a, b, 1), rtol=1e-9)
    _assert_certified(res, value_scale=2)


@pytest.mark.slow
@pytest.mark.parametrize("order, n", [(2.0, 20_000), (1.0, 12_000)])
def test_translated_copy_costs_the_shift_at_sizes_the_dense_solver_cannot_hold(order, n):
    # densely 20 000 x 20 000 needs 16 GiB, 12 000 x 12 000 needs 6 GiB; W_1 = W_2 = |shift|
    x = np.random.default_rng(8).random((n, 2))
    shift = np.array([0.3, -0.4])
    res = emd_points(x, x + shift, order=order, solver="sparse")
    np.testing.assert_allclose(res.distance, 0.5, rtol=1e-12)
    _assert_certified(res, value_scale=1)


@pytest.mark.slow
def test_affine_map_with_a_symmetric_positive_definite_matrix_is_the_optimal_w2_map():
    rng = np.random.default_rng(9)
    x = rng.normal(size=(6000, 3))
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    A = q @ np.diag([0.5, 1.0, 2.0]) @ q.T
    y = x @ A.T + np.array([1.0, -2.0, 0.5])
    res = emd_points(x, y, order=2, solver="sparse")
    np.testing.assert_allclose(res.cost, np.mean(np.sum((y - x) ** 2, axis=1)), rtol=1e-10)
    _assert_certified(res, value_scale=100)


def test_a_perturbed_dual_fails_the_certificate():
    rng = np.random.default_rng(10)
    x, y = rng.random((3000, 2)), rng.random((2500, 2))
    res = emd_points(x, y, solver="sparse")
    assert max_dual_violation(x, y, res.f, res.g) <= 1e-10
    f = res.f.copy()
    f[123] += 1e-4  # now some pair (123, j) with f_123 + g_j = c tight is violated by 1e-4
    np.testing.assert_allclose(max_dual_violation(x, y, f, res.g), 1e-4, rtol=1e-6)


def test_too_few_rounds_warn_and_report_a_feasible_upper_bound():
    rng = np.random.default_rng(11)
    x, y = rng.random((3000, 2)), rng.random((3000, 2)) + [0.2, 0.0]
    exact = emd_points(x, y, solver="sparse")
    with pytest.warns(ConvergenceWarning, match="plan is feasible, so its cost"):
        res = emd_points(x, y, solver="sparse", max_rounds=1)
    assert not res.converged and res.feasible
    assert res.cost >= exact.cost - 1e-12
    assert res.dual_violation > 1e-9


def test_auto_solver_choice_follows_size_and_memory():
    assert choose_exact_solver(300, 300) == "dense"
    assert choose_exact_solver(20_000, 20_000) == "sparse"
    assert choose_exact_solver(1000, 1000, available=1000) == "sparse"


def test_dense_solver_refuses_a_problem_that_does_not_fit(monkeypatch):
    import otlab._memory as memory

    monkeypatch.setattr(memory, "available_memory_bytes", lambda: 10**6)
    x = np.zeros((1000, 2))
    with pytest.raises(MemoryError, match=r"needs about 0\.04 GiB .*solver='sparse'"):
        emd_points(x, x, solver="dense")


@pytest.mark.parametrize("kwargs, message", [
    ({"solver": "simplex"}, "solver must be one of"),
    ({"order": 0.5}, "order must be finite and >= 1"),
    ({"a": [1.0, -1.0]}, "a must be non-negative"),
    ({"b": [1.0]}, "b must have one weight per point"),
    ({"max_iter": 0}, "max_iter must be >= 1"),
])
def test_bad_input_is_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        emd_points([[0.0], [1.0]], [[0.0], [1.0]], **kwargs)


def test_dimension_mismatch_is_named():
    with pytest.raises(ValueError, match="same dimension; got d=2 and d=3"):
        emd_points(np.zeros((2, 2)), np.zeros((2, 3)))


def test_coarse_seeded_solve_equals_cold_solve(monkeypatch):
    from otlab.exact._simplex import NetworkSimplex

    rng = np.random.default_rng(13)
    x, y = rng.random((2500, 2)), rng.random((2000, 2))
    a = rng.random(2500)
    seeded = emd_points(x, y, a, order=2, solver="sparse")
    monkeypatch.setattr(NetworkSimplex, "seed", lambda self, arcs, flows: False)
    cold = emd_points(x, y, a, order=2, solver="sparse")
    np.testing.assert_allclose(seeded.cost, cold.cost, rtol=1e-12)
    assert seeded.converged and cold.converged


@pytest.mark.parametrize("order", [1.0, 2.0])
def test_leaves_of_four_at_large_levels_change_the_path_not_the_answer(order):
    """Levels of at least ``large_level`` points are cut into leaves of 4 (here every level
    of a small problem is "large"): the same value as leaves of 8, certified, the plan
    feasible."""
    from otlab.exact.points import solve_validated, validate_points

    rng = np.random.default_rng(15)
    x, y = rng.random((2500, 2)), rng.normal(size=(2000, 2))
    a = rng.random(2500)
    checked = validate_points(x, y, a, None, order, "sparse", 10**9, 100)
    eight = solve_validated(*checked, solver="sparse", max_rounds=100, progress=False,
                            tuning={"large_level": 10**12})
    four = solve_validated(*checked, solver="sparse", max_rounds=100, progress=False,
                           tuning={"large_level": 1})
    # the two paths stop at different optimal bases; each is certified to its pricing tolerance
    # (1e-13 of the largest cost, about 1e-13 relative here): asserted 1e-9
    np.testing.assert_allclose(four.cost, eight.cost, rtol=1e-9)
    _assert_certified(four, value_scale=four.cost)
    assert four.converged and eight.converged


@pytest.mark.parametrize("order", [1.0, 2.0, 3.0])
def test_ten_dimensional_weighted_clouds_of_different_sizes_match_pot(order):
    rng = np.random.default_rng(14)
    x, y = rng.normal(size=(700, 10)), rng.normal(size=(500, 10)) * 1.5
    a, b = rng.random(700), rng.random(500)
    res = emd_points(x, y, a, b, order=order, solver="sparse")
    np.testing.assert_allclose(res.cost, _pot_value(x, y, a, b, order), rtol=1e-9)
    _assert_certified(res, value_scale=res.cost)


@pytest.mark.parametrize("order", [1.0, 2.0])
def test_solve_in_space_order_equals_the_solve_in_input_order(monkeypatch, order):
    """Renumbering the points along a k-d tree (and the pricing block of point clouds) changes
    the path, not the answer: same value, certified, potentials and plan in input order."""
    from otlab.exact import points

    rng = np.random.default_rng(21)
    x, y = rng.random((1500, 2)), rng.random((1300, 2)) + 0.1
    a = rng.random(1500)
    spatial = emd_points(x, y, a, order=order, solver="sparse")
    monkeypatch.setattr(points, "SPACE_ORDER", False)
    monkeypatch.setattr(points, "CLOUD_BLOCK_FACTOR", 1.0)
    given_order = emd_points(x, y, a, order=order, solver="sparse")
    np.testing.assert_allclose(spatial.cost, given_order.cost, rtol=1e-12)
    for res in (spatial, given_order):
        _assert_certified(res, value_scale=res.cost)
        np.testing.assert_allclose(res.plan.sum(axis=1), res.a, atol=1e-12)
        np.testing.assert_allclose(res.plan.sum(axis=0), res.b, atol=1e-12)
    # potentials belong to the input's points: tight on the plan's pairs
    rows, cols = spatial.plan.nonzero()
    cost = np.linalg.norm(x[rows] - y[cols], axis=1) ** order
    np.testing.assert_allclose(spatial.f[rows] + spatial.g[cols], cost, rtol=0,
                               atol=1e-10 * cost.max())


@settings(max_examples=10, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from([1.0, 2.0]))
def test_permuting_the_points_permutes_the_solution(seed, order):
    rng = np.random.default_rng(seed)
    x, y = rng.random((600, 2)), rng.random((500, 2))
    px, py = rng.permutation(600), rng.permutation(500)
    res = emd_points(x, y, order=order, solver="sparse")
    moved = emd_points(x[px], y[py], order=order, solver="sparse")
    np.testing.assert_allclose(moved.cost, res.cost, rtol=1e-12)
    plan, moved_plan = res.plan.toarray(), moved.plan.toarray()
    # the optimal plan may not be unique: compare costs of the moved plan on the first problem
    cost = np.linalg.norm(x[:, None] - y[None], axis=2) ** order
    np.testing.assert_allclose((moved_plan * cost[px][:, py]).sum(), (plan * cost).sum(),
                               rtol=1e-12)


@pytest.mark.parametrize("order", [1, 2])
def test_uncertified_solve_gives_the_same_plan_and_leaves_zero_weight_potentials_out(order):
    # certify=False: for callers that certify a problem of their own (emd_grid, order 1)
    from otlab.exact.points import solve_validated, validate_points

    rng = np.random.default_rng(3)
    x, y = rng.random((30, 2)), rng.random((25, 2))
    a, b = rng.random(30), rng.random(25)
    a[::4], b[::5] = 0.0, 0.0
    checked = validate_points(x, y, a, b, order, "sparse", None, 100)
    full = solve_validated(*checked, solver="sparse", max_rounds=100, progress=False)
    bare = solve_validated(*checked, solver="sparse", max_rounds=100, progress=False,
                           certify=False)
    assert full.converged and bare.converged
    assert bare.cost == full.cost
    assert np.isnan(bare.dual_violation) and np.isfinite(full.dual_violation)
    assert np.isnan(bare.f[a == 0]).all() and np.isnan(bare.g[b == 0]).all()
    np.testing.assert_allclose(bare.f[a > 0], full.f[a > 0], rtol=0, atol=1e-12)
    np.testing.assert_allclose(bare.g[b > 0], full.g[b > 0], rtol=0, atol=1e-12)


@pytest.mark.parametrize("solver", ["sparse", "dense"])
def test_a_line_of_points_against_two_points_is_certified_and_equals_the_1d_closed_form(solver):
    # W_1 of 3000 weighted points on a line against 2: a degenerate LP (for points outside the
    # pair, c(x, y_1) - c(x, y_2) is one constant), on which POT's dense simplex once stalled
    # until its pivot cap (converged=False although the value was right)
    import scipy.stats

    rng = np.random.default_rng(29)
    x, y = rng.normal(size=(3000, 1)), rng.normal(size=(2, 1)) + 0.3
    a, b = rng.random(3000), rng.random(2)
    res = emd_points(x, y, a, b, order=1, solver=solver)
    _assert_certified(res, value_scale=1.0)
    np.testing.assert_allclose(res.cost, scipy.stats.wasserstein_distance(
        x[:, 0], y[:, 0], a, b), rtol=1e-9)


def _brute_force_wk(x, y, order):
    """W_k of two uniform clouds of n <= 6 points: the best of all n! matchings, in log space."""
    from itertools import permutations

    from scipy.special import logsumexp

    n = x.shape[0]
    log_d = np.log(np.linalg.norm(x[:, None] - y[None], axis=2))
    best = min(logsumexp(order * log_d[np.arange(n), list(p)]) for p in permutations(range(n)))
    return math.exp((best - math.log(n)) / order)


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from([50.0, 100.0, 300.0, 500.0, 1000.0]),
       st.integers(1, 3), st.sampled_from(["sparse", "dense"]))
def test_at_large_orders_a_converged_solve_is_the_best_matching(seed, order, d, solver):
    # The LP resolves its costs to about 1e-14 of max(c_max, 1): before the re-solves in units
    # of the plan's longest pair also took units larger than the first one and counted costs
    # far below 1 as unresolved, order 50-100 returned W_k 15-36 % too large with
    # converged=True (a duality gap of 100 % of the cost), order 300-500 up to 2.5x.
    # Measured since: converged in 80/80 problems up to order 500, 70/80 at 700, 50/80 at
    # 1000 (the others warn), the converged ones within 7.2e-14 of the best matching.
    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=(5, d)), rng.normal(size=(5, d))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        res = emd_points(x, y, order=order, solver=solver)
    if res.converged:
        np.testing.assert_allclose(res.distance, _brute_force_wk(x, y, order), rtol=1e-11)


@pytest.mark.parametrize("solver", ["sparse", "dense"])
def test_order_100_on_five_points_converges_to_the_best_matching(solver):
    # this problem returned W_100 = 2.0955 (best matching 1.8511) with converged=True
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(5, 2)), rng.normal(size=(5, 2))
    res = emd_points(x, y, order=100, solver=solver)
    assert res.converged
    np.testing.assert_allclose(res.distance, _brute_force_wk(x, y, 100), rtol=1e-11)


@pytest.mark.parametrize("order", [1000.5, 1500, 5000, 1e6, 1e15, 1e300])
def test_orders_beyond_what_float64_resolves_are_rejected_by_name(order):
    # they returned distance 0.0 with converged=True (k = 5000 on a translated copy, whose
    # W_k is sqrt(2) for every k), or an OverflowError from the int32 of an exponent (1e15)
    x = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0]])
    with pytest.raises(ValueError, match=r"order must be at most 1000"):
        emd_points(x, x + 1.0, order=order)


@pytest.mark.parametrize("solver", ["sparse", "dense"])
def test_order_1000_on_a_translated_copy_is_the_shift_length(solver):
    x = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0]])
    res = emd_points(x, x + 1.0, order=1000, solver=solver)
    assert res.converged
    np.testing.assert_allclose(res.distance, math.sqrt(2.0), rtol=1e-11)  # measured 1.6e-16


@given(clouds(), st.sampled_from([1.0, 2.0, 1.5]), st.sampled_from(["sparse", "dense"]))
def test_float32_input_gives_the_float64_answer_for_the_numbers_it_holds(problem, order, solver):
    # float32 weights were normalised in float32 (W_k moved by up to 7.4e-9 relative, below);
    # now the two solves are equal to within 4e-16 (measured), asserted 1e-11
    x, y, a, b = (v.astype(np.float32) for v in problem)
    res = emd_points(x, y, a, b, order=order, solver=solver)
    expected = emd_points(*(v.astype(np.float64) for v in (x, y, a, b)), order=order,
                          solver=solver)
    np.testing.assert_allclose(res.cost, expected.cost, rtol=1e-11, atol=1e-300)
    assert res.converged == expected.converged


@pytest.mark.parametrize("solver", ["sparse", "dense"])
@pytest.mark.parametrize("order", [1.0, 2.0, 1.5])
def test_float32_weights_weigh_the_points_by_the_numbers_they_hold(solver, order):
    # float32 weights were divided by their sum in float32: W_k moved by 1.3e-9 to 7.4e-9
    # relative from the measure they describe; now 2e-16 to 4e-16 (measured), asserted 1e-11
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(60, 2)), rng.normal(size=(45, 2)) + 0.3
    a32, b32 = rng.random(60).astype(np.float32), rng.random(45).astype(np.float32)
    res = emd_points(x, y, a32, b32, order=order, solver=solver)
    expected = emd_points(x, y, a32.astype(np.float64), b32.astype(np.float64), order=order,
                          solver=solver)
    np.testing.assert_allclose(res.cost, expected.cost, rtol=1e-11)
    np.testing.assert_allclose(res.cost, _pot_value(x, y, a32.astype(float), b32.astype(float),
                                                    order), rtol=1e-9)


def test_float32_tensor_weights_weigh_the_points_by_the_numbers_they_hold():
    torch = pytest.importorskip("torch")
    # three pairs of length sqrt(2): W_1 = sqrt(2) whatever the weights; float32 tensor
    # weights [1, 2, 3] normalised in float32 gave 1.414213560 (1.5e-9 relative)
    x = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0]])
    res = emd_points(x, x + 1.0, a=torch.tensor([1.0, 2.0, 3.0], dtype=torch.float32))
    assert res.converged
    np.testing.assert_allclose(res.distance, math.sqrt(2.0), rtol=1e-11)  # measured 1.6e-16


@settings(max_examples=10, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from([1e50, 1e100, -1e100]),
       st.sampled_from([1.0, 2.0, 1.5]), st.sampled_from(["sparse", "dense"]))
def test_a_far_point_of_weight_zero_changes_nothing(seed, far, order, solver):
    # The frame was centred on the midpoint of all points: a weight-0 point at 1e50 put it at
    # 5e49, where every point with mass had the same coordinates, and W_k was 0.0 with
    # converged=True.  Centred on the median of the points with mass: within 8.3e-16 of the
    # solve without the far points (measured, 10 problems x 3 orders x 2 solvers x 3 offsets)
    rng = np.random.default_rng(seed)
    d = int(rng.integers(1, 4))
    x, y = rng.normal(size=(15, d)), rng.normal(size=(12, d)) + 0.3
    a, b = rng.random(15), rng.random(12)
    expected = emd_points(x, y, a, b, order=order, solver=solver).distance
    res = emd_points(np.vstack([np.full((1, d), -far), x]), np.vstack([y, np.full((1, d), far)]),
                     np.append(0.0, a), np.append(b, 0.0), order=order, solver=solver)
    assert res.converged
    np.testing.assert_allclose(res.distance, expected, rtol=1e-11)


def _with_a_light_far_pair(far, w, solver, order=1):
    """20 points a side of size 1 and a pair of weight ``w`` one apart at ``far``.

    Returns the solve (warnings silenced), the exact W_k^k and the problem's arguments.
    """
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(20, 2)), rng.normal(size=(20, 2)) + 0.5
    a = np.append(np.full(20, (1 - w) / 20), w)
    problem = (np.vstack([x, [[far, 0.0]]]), np.vstack([y, [[far, 1.0]]]), a, a)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        res = emd_points(*problem, order=order, solver=solver)
    return res, (1 - w) * emd_points(x, y, order=order, solver=solver).cost + w * 1.0, problem


@pytest.mark.parametrize("solver", ["sparse", "dense"])
def test_a_light_pair_far_away_leaves_the_rest_resolved(solver):
    # a pair of weight 1e-12 at 1e10 that moves by 1 moved W_1 by 7e-9 relative (the rest lost
    # its digits in x - midpoint); now 4.6e-16 (measured)
    res, expected, _ = _with_a_light_far_pair(1e10, 1e-12, solver)
    assert res.converged
    np.testing.assert_allclose(res.cost, expected, rtol=1e-11)


@pytest.mark.parametrize("solver", ["sparse", "dense"])
def test_a_point_of_weight_0_at_1e300_leaves_the_value_of_the_others(solver):
    # a weight-0 point at 1e300 beside data of size 1: in a frame that holds both the data's
    # squared distances underflow; W_1 was 0.0 with converged=True, then a warning
    # (converged=False and W_1 10 % off).  Now the far point is left out of the LP and of its
    # frame (otlab.exact._far_points): the same value to the last bit (measured)
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(20, 2)), rng.normal(size=(20, 2)) + 0.5
    res = emd_points(x, np.vstack([y, [[1e300, 1e300]]]), None, np.append(np.ones(20), 0.0),
                     solver=solver)
    assert res.converged
    assert res.distance == pytest.approx(emd_points(x, y, solver=solver).distance, rel=1e-13)


@pytest.mark.parametrize("solver", ["sparse", "dense"])
def test_a_light_pair_at_1e300_is_resolved_or_not_reported_converged(solver):
    # The frame's scale is 2**997 and the other points' squared differences underflow: W_1
    # was 0.0 with converged=True.  Now the LP is solved again with the coordinates divided by
    # a power of two near the plan's distances (points._in_units; densely where the sparse
    # geometry would overflow) and is exact (1e-16 relative, measured; asserted 1e-9).  With
    # a point of weight 0 beside them that re-solve is not possible (its potential comes from
    # a c-transform over all points): the plan's underflowed pairs are caught
    # (points._plan_unresolved) and it is reported not converged, with the reason.
    res, expected, (x, y, a, b) = _with_a_light_far_pair(1e300, 1e-300, solver)
    assert res.converged and abs(res.cost - expected) <= 1e-9 * expected
    with pytest.warns(ConvergenceWarning, match=r"squared distance underflows"):
        emd_points(np.vstack([x, [[0.3, 0.3]]]), y, np.append(a, 0.0), b, solver=solver)


@settings(max_examples=12, deadline=None)
@given(far_exponent=st.integers(1, 307), weight_exponent=st.integers(-320, -1),
       order=st.sampled_from([1, 2]), solver=st.sampled_from(["sparse", "dense"]))
@example(far_exponent=10, weight_exponent=-12, order=2, solver="sparse")
@example(far_exponent=200, weight_exponent=-3, order=1, solver="dense")
def test_a_light_pair_far_away_is_resolved_or_not_reported_converged(far_exponent, weight_exponent,
                                                                     order, solver):
    # Beside data of size 1, a pair one apart at 1e200 (any weight from 1e-3 to 1e-300) left
    # W_k^k 40-170 % off with converged=True, and a pair of weight 1e-12 at 1e10 to 1e160 made
    # W_2^2 1.4e4 times too large (3e-16 of mass crossed to it): 31 of 112 such problems (orders 1
    # and 2, both solvers; measured).  The floors were set by the far points.
    res, expected, _ = _with_a_light_far_pair(10.0 ** far_exponent,
                                              max(10.0 ** weight_exponent, 5e-324), solver, order)
    assert not res.converged or abs(res.cost - expected) <= 1e-9 * expected


@pytest.mark.parametrize("order", [1, 2, 3.5])
@pytest.mark.parametrize("tiny", [1e-223, 1e-120])
def test_a_sample_against_itself_with_points_far_below_the_rest_is_zero_and_converged(order,
                                                                                     tiny):
    # Points 1e-223 apart beside points of size 1: their squared distances underflow in the
    # frame, the LP saw them all at cost 0 and matched them crosswise: W = 1.3e-223, not
    # certified.  The re-solve in finer units now divides the coordinates first.
    x = np.array([[tiny], [3 * tiny], [1.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = emd_points(x, x.copy(), order=order, solver="dense")
    assert res.converged and res.cost == 0.0


@pytest.mark.parametrize("solver", ["sparse", "dense"])
def test_pairs_one_apart_at_the_ends_of_the_float_range_cost_one(solver):
    # Each pair is 2**-1023 apart in the frame and its square underflows: W_1 was 0.0 with
    # converged=True.  The plan's distances below points.UNDERFLOW_DISTANCE are now taken by
    # a scaled norm: W_1 = 1.0 exactly (measured), asserted 1e-10.
    x = np.array([[1.7e308, 0.0], [-1.7e308, 0.0], [0.0, 1.0]])
    y = np.array([[1.7e308, 1.0], [-1.7e308, 1.0], [0.0, 0.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        res = emd_points(x, y, solver=solver)
    assert not res.converged or res.distance == pytest.approx(1.0, rel=1e-12)


@pytest.mark.parametrize("solver", ["sparse", "dense"])
@pytest.mark.parametrize("theta", [5e-324, 1e-200])
def test_pairs_closer_than_their_points_round_off_stay_converged(solver, theta):
    # The check for pairs whose squared distance underflows (points.UNDERFLOW_DISTANCE) passes
    # pairs far below their points' own round-off: parallel lines theta apart, points of size
    # 1.  W_1 = theta is reported 0 (theta**2 underflows), exact to the points' precision.
    z = (np.arange(7) + 0.5) / 7
    x, y = np.column_stack([np.zeros(7), z]), np.column_stack([np.full(7, theta), z])
    res = emd_points(x, y, solver=solver)
    assert res.converged
    assert res.distance <= theta * (1 + 1e-6)


def _with_far_points_of_weight_0(rng, x, a, y, b, far, n_far_x, n_far_y):
    """The problem with points of weight 0 at distance ``far`` inserted at random places.

    Some far points are repeated, and one may sit on a far point of the other side.
    Returns the new problem and the masks of the far points.
    """
    d = x.shape[1]

    def far_points(count):
        out = far * rng.choice([-1.0, 1.0], size=(count, d)) * rng.uniform(0.5, 1.0, (count, d))
        if count > 1 and rng.random() < 0.5:
            out[1] = out[0]  # a duplicated far point
        return out

    fx, fy = far_points(n_far_x), far_points(n_far_y)
    if n_far_x and n_far_y and rng.random() < 0.5:
        fy[0] = fx[0]  # a far source and a far target at the same place

    def insert(points, weights, extra):
        order = rng.permutation(points.shape[0] + extra.shape[0])
        whole = np.concatenate([points, extra])[order]
        mass = np.concatenate([weights, np.zeros(extra.shape[0])])[order]
        return whole, mass, order >= points.shape[0]

    X, A, far_x = insert(x, a, fx)
    Y, B, far_y = insert(y, b, fy)
    return X, A, Y, B, far_x, far_y


def _feasible_in_exact_arithmetic(x, y, f, g, order, rtol):
    """Whether ``f_i + g_j <= c_ij`` up to ``rtol`` of ``|f_i| + |g_j| + c_ij``, pair by pair.

    In rational arithmetic (floats are rationals): ``c`` is the exact squared distance for
    order 2, and for order 1 the inequality is squared.
    """
    from fractions import Fraction

    ok = np.empty((x.shape[0], y.shape[0]), dtype=bool)
    tol = Fraction(rtol)
    for i, p in enumerate(x):
        for j, q in enumerate(y):
            squared = sum((Fraction(u) - Fraction(v)) ** 2 for u, v in zip(p, q))
            fi, gj = Fraction(f[i]), Fraction(g[j])
            left = fi + gj - tol * (abs(fi) + abs(gj))
            if order == 2:
                ok[i, j] = left <= (1 + tol) * squared
            else:
                ok[i, j] = left <= 0 or left**2 <= (1 + tol) ** 2 * squared
    return ok


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1),
       far=st.sampled_from([30.0, 1e4, 1e7, 1e20, 1e100, 1e160, 1e200, 1e300]),
       order=st.sampled_from([1.0, 2.0]), n_far_x=st.integers(0, 3), n_far_y=st.integers(0, 3),
       solver=st.sampled_from(["sparse", "dense"]))
@example(seed=0, far=1e300, order=2.0, n_far_x=2, n_far_y=2, solver="dense")
@example(seed=1, far=1e200, order=1.0, n_far_x=0, n_far_y=1, solver="sparse")
def test_zero_weight_points_do_not_change_the_exact_value(seed, far, order, n_far_x, n_far_y,
                                                          solver):
    # W_k(a, x; b, y) is the same problem with the points of weight 0 removed.  A weight-0
    # point at 1e200 or 1e300 beside data of size 1 set the solver's frame, where the data's
    # squared differences underflow: W_1 came out 11 % and W_2 18 % too large (with a
    # warning).  Now the far ones are left out of the LP: the same value within 7.3e-16
    # relative (200 draws, measured), asserted 1e-10; the plan has no mass on them, and
    # their potentials (c-transforms in data units) keep every pair dual feasible.
    assume(n_far_x + n_far_y > 0)
    rng = np.random.default_rng(seed)
    d, n, m = rng.integers(1, 4), rng.integers(1, 13), rng.integers(1, 13)
    x, y = rng.normal(size=(n, d)), rng.normal(size=(m, d)) + 0.3
    a, b = rng.uniform(0.1, 1.0, n), rng.uniform(0.1, 1.0, m)
    X, A, Y, B, far_x, far_y = _with_far_points_of_weight_0(rng, x, a, y, b, far, n_far_x,
                                                             n_far_y)
    expected = emd_points(x, y, a, b, order=order, solver=solver)
    res = emd_points(X, Y, A, B, order=order, solver=solver)
    assert expected.converged and res.converged
    np.testing.assert_allclose(res.distance, expected.distance, rtol=1e-10)
    np.testing.assert_allclose(res.cost, expected.cost, rtol=1e-10)
    plan = res.plan.toarray()
    assert plan.shape == (X.shape[0], Y.shape[0])
    assert not plan[far_x].any() and not plan[:, far_y].any()
    np.testing.assert_allclose(plan.sum(1), res.a, atol=1e-10)
    np.testing.assert_allclose(plan.sum(0), res.b, atol=1e-10)
    # the certificate: the LP's, over all pairs; the potentials are finite (capped where the
    # c-transform leaves the float range) and feasible on the far points' pairs to their
    # round-off (exact arithmetic: at most 4.3e-16 of |f_i| + |g_j| + c_ij, 200 draws,
    # measured; asserted 1e-13)
    _assert_certified(res, value_scale=1 + np.abs(np.concatenate([x, y])).max() ** order)
    assert np.isfinite(res.f).all() and np.isfinite(res.g).all()
    assert np.isfinite(res.unit_f).all() and np.isfinite(res.unit_g).all()
    touched = far_x[:, None] | far_y[None, :]
    assert _feasible_in_exact_arithmetic(X, Y, res.f, res.g, order, 1e-13)[touched].all()
