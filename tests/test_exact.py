"""Exact OT on histograms: ``otlab.emd`` against independent solvers and its certificate."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.optimize import linear_sum_assignment, linprog

import otlab
from otlab.exact import ConvergenceWarning, default_max_iter

from .strategies import samples, weights


@st.composite
def problems(draw, max_n=8):
    """Random small OT problems: histograms a, b (same mass) and a cost matrix."""
    n, m = draw(st.integers(1, max_n)), draw(st.integers(1, max_n))
    a = draw(weights(n))
    b = draw(weights(m))
    b = b * a.sum() / b.sum()
    M = draw(st.lists(st.floats(0, 10), min_size=n * m, max_size=n * m))
    return a, b, np.array(M).reshape(n, m)


def _linprog_value(a, b, M):
    n, m = M.shape
    rows = np.kron(np.eye(n), np.ones(m))
    cols = np.kron(np.ones(n), np.eye(m))
    res = linprog(M.ravel(), A_eq=np.vstack([rows, cols]), b_eq=np.concatenate([a, b]),
                  bounds=(0, None), method="highs")
    assert res.status == 0
    return res.fun


@given(problems())
def test_lp_value_equals_scipy_linprog_highs(problem):
    a, b, M = problem
    res = otlab.emd(a, b, M)
    np.testing.assert_allclose(res.cost, _linprog_value(a, b, M), rtol=1e-7, atol=1e-9)


@given(problems())
def test_plan_has_the_prescribed_marginals(problem):
    a, b, M = problem
    res = otlab.emd(a, b, M)
    np.testing.assert_allclose(res.plan.sum(axis=1), a, atol=1e-12 * a.sum() + 1e-13)
    np.testing.assert_allclose(res.plan.sum(axis=0), res.b, atol=1e-12 * a.sum() + 1e-13)
    assert res.plan.min() >= 0
    assert res.marginal_error <= 1e-12 * a.sum() + 1e-13


@given(problems())
def test_dual_potentials_are_feasible(problem):
    a, b, M = problem
    res = otlab.emd(a, b, M)
    assert res.dual_violation <= 1e-9 * (1 + np.abs(M).max())


@given(problems())
def test_strong_duality_primal_equals_dual(problem):
    a, b, M = problem
    res = otlab.emd(a, b, M)
    assert abs(res.duality_gap) <= 1e-9 * (1 + res.cost)
    np.testing.assert_allclose(res.cost, np.sum(res.plan * M), rtol=1e-10, atol=1e-12)


@given(samples(min_n=1, max_n=10, dim=2))
def test_lp_equals_hungarian_assignment_on_uniform_square_problems(x):
    rng = np.random.default_rng(len(x))
    y = rng.normal(size=x.shape)
    M = otlab.cost_matrix(x, y)
    rows, cols = linear_sum_assignment(M)
    n = len(x)
    res = otlab.emd(np.full(n, 1 / n), np.full(n, 1 / n), M)
    np.testing.assert_allclose(res.cost, M[rows, cols].mean(), rtol=1e-10, atol=1e-12)


def test_certificate_reports_all_three_measures():
    res = otlab.emd([0.25, 0.75], [0.5, 0.5], [[0.0, 2.0], [1.0, 0.0]])
    cert = res.certificate()
    assert set(cert) == {"dual_violation", "duality_gap", "marginal_error"}
    np.testing.assert_allclose(res.cost, 0.25, rtol=1e-12)
    np.testing.assert_allclose(list(cert.values()), 0.0, atol=1e-14)


def test_zero_weight_entries_get_feasible_duals():
    a = np.array([0.5, 0.0, 0.5])
    b = np.array([0.0, 1.0])
    M = np.array([[3.0, 1.0], [0.0, 5.0], [2.0, 2.0]])
    res = otlab.emd(a, b, M)
    np.testing.assert_allclose(res.cost, 1.5, rtol=1e-12)
    assert res.dual_violation <= 1e-12


def test_too_small_iteration_cap_warns_and_reports_not_converged():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(60, 2)), rng.normal(size=(60, 2))
    M = otlab.cost_matrix(x, y)
    with pytest.warns(ConvergenceWarning, match="max_iter=2 pivots"):
        res = otlab.emd(np.full(60, 1 / 60), np.full(60, 1 / 60), M, max_iter=2)
    assert not res.converged


def test_default_iteration_cap_grows_with_the_problem():
    assert default_max_iter(2000, 2000) > 100_000
    assert default_max_iter(3, 3) == 100_000


def test_default_cap_solves_a_problem_where_pots_default_stops_early():
    rng = np.random.default_rng(1)
    n = 900
    x, y = rng.normal(size=(n, 2)), rng.normal(size=(n, 2)) + 0.3
    res = otlab.emd(np.full(n, 1 / n), np.full(n, 1 / n), otlab.cost_matrix(x, y))
    assert res.converged
    assert abs(res.duality_gap) < 1e-9
