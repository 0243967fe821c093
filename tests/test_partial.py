"""Exact partial OT: POT's partial_wasserstein, an LP oracle, metamorphic properties, bad input."""

import numpy as np
import ot
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

import otlab
from otlab.partial import partial_wasserstein

FAST = settings(max_examples=25, deadline=None)


@st.composite
def problems(draw, max_n=6):
    n, m = draw(st.integers(1, max_n)), draw(st.integers(1, max_n))
    seed = draw(st.integers(0, 2**31))
    rng = np.random.default_rng(seed)
    a, b = rng.uniform(0.1, 2.0, n), rng.uniform(0.1, 2.0, m)
    M = rng.uniform(0.0, 3.0, (n, m))
    fraction = draw(st.floats(0.05, 1.0))
    return a, b, M, fraction * min(a.sum(), b.sum())


def _lp(a, b, M, s):
    n, m = M.shape
    rows = np.kron(np.eye(n), np.ones(m))
    cols = np.kron(np.ones(n), np.eye(m))
    res = linprog(M.ravel(), A_ub=np.vstack([rows, cols]), b_ub=np.r_[a, b],
                  A_eq=np.ones((1, n * m)), b_eq=[s], method="highs")
    assert res.status == 0
    return res.fun


@FAST
@given(problems())
def test_partial_cost_equals_the_lp_with_inequality_marginals(problem):
    a, b, M, s = problem
    res = partial_wasserstein(a, b, M, mass=s)
    np.testing.assert_allclose(res.cost, _lp(a, b, M, s), rtol=1e-9, atol=1e-10)
    assert res.converged
    assert res.dual_violation < 1e-9 and abs(res.duality_gap) < 1e-9
    np.testing.assert_allclose(res.plan.sum(), s, rtol=1e-12)
    assert np.all(res.plan.sum(1) <= a + 1e-12) and np.all(res.plan.sum(0) <= b + 1e-12)


@FAST
@given(problems())
def test_partial_plan_and_cost_equal_pot(problem):
    a, b, M, s = problem
    res = partial_wasserstein(a, b, M, mass=s)
    theirs = ot.partial.partial_wasserstein(a, b, M, m=s)
    np.testing.assert_allclose(res.cost, (theirs * M).sum(), rtol=1e-10, atol=1e-12)


def test_partial_equals_pot_on_pots_own_test_case():
    # POT's test_partial_wasserstein: 20 + 20 noisy points each side, uniform weights.
    n_samples, n_noise = 20, 20
    rng = np.random.RandomState(0)
    xs = rng.multivariate_normal([0, 0], [[1, 0], [0, 1]], n_samples)
    xs = np.append(xs, (rng.rand(n_noise, 2) + 1) * 4).reshape((-1, 2))
    xt = rng.multivariate_normal([4, 4], [[1, -.8], [-.8, 1]], n_samples)
    xt = np.append(xt, (rng.rand(n_noise, 2) + 1) * -3).reshape((-1, 2))
    M = ot.dist(xs, xt)
    p, q = ot.unif(n_samples + n_noise), ot.unif(n_samples + n_noise)
    for m in (0.5, 0.8, 1.0):
        theirs = ot.partial.partial_wasserstein(p, q, M, m=m)
        res = partial_wasserstein(p, q, M, mass=m)
        np.testing.assert_allclose(res.plan, theirs, atol=1e-12)
        np.testing.assert_allclose(res.cost, (theirs * M).sum(), rtol=1e-12)


@FAST
@given(problems(), st.data())
def test_permuting_points_permutes_the_plan_and_keeps_the_cost(problem, data):
    a, b, M, s = problem
    pi = data.draw(st.permutations(range(len(a))))
    pj = data.draw(st.permutations(range(len(b))))
    base = partial_wasserstein(a, b, M, mass=s)
    moved = partial_wasserstein(a[list(pi)], b[list(pj)], M[np.ix_(pi, pj)], mass=s)
    np.testing.assert_allclose(moved.cost, base.cost, rtol=1e-9, atol=1e-10)


@FAST
@given(problems(), st.floats(-100, 100).map(lambda e: 10.0 ** (e / 1.0) if abs(e) < 100 else 1.0))
def test_scaling_costs_scales_the_partial_cost(problem, c):
    a, b, M, s = problem
    np.testing.assert_allclose(partial_wasserstein(a, b, c * M, mass=s).cost,
                               c * partial_wasserstein(a, b, M, mass=s).cost, rtol=1e-9,
                               atol=1e-300)


@FAST
@given(problems(), st.floats(0.0, 1e3))
def test_adding_a_constant_to_the_costs_adds_it_times_the_mass(problem, c):
    # Every plan moves the mass s, so <P, M + c> = <P, M> + c s: the optimum shifts by c s.
    a, b, M, s = problem
    shifted = partial_wasserstein(a, b, M + c, mass=s).cost
    base = partial_wasserstein(a, b, M, mass=s).cost
    np.testing.assert_allclose(shifted, base + c * s, rtol=1e-9, atol=1e-12 * (1 + c * s))


@FAST
@given(problems(), st.integers(0, 2**31))
def test_rotating_and_translating_the_points_keeps_the_partial_cost(problem, seed):
    # On points, the Euclidean costs (and so the partial cost) ignore a rigid motion.
    a, b, _, s = problem
    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=(len(a), 3)), rng.normal(size=(len(b), 3))
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    shift = rng.normal(size=3) * 100
    base = partial_wasserstein(a, b, otlab.cost_matrix(x, y, order=1), mass=s).cost
    moved = partial_wasserstein(a, b, otlab.cost_matrix(x @ q.T + shift, y @ q.T + shift,
                                                        order=1), mass=s).cost
    np.testing.assert_allclose(moved, base, rtol=1e-9, atol=1e-10)


@FAST
@given(problems())
def test_splitting_a_source_point_into_duplicates_keeps_the_partial_cost(problem):
    a, b, M, s = problem
    a2 = np.r_[a[0] / 2, a[0] / 2, a[1:]]
    M2 = np.vstack([M[:1], M])
    np.testing.assert_allclose(partial_wasserstein(a2, b, M2, mass=s).cost,
                               partial_wasserstein(a, b, M, mass=s).cost, rtol=1e-9, atol=1e-10)


@FAST
@given(problems())
def test_partial_cost_grows_with_the_mass_and_reaches_the_emd(problem):
    a, b, M, _ = problem
    top = min(a.sum(), b.sum())
    costs = [partial_wasserstein(a, b, M, mass=f * top).cost for f in (0.25, 0.5, 0.75, 1.0)]
    assert all(c1 <= c2 + 1e-12 for c1, c2 in zip(costs, costs[1:]))
    if np.isclose(a.sum(), b.sum(), rtol=0, atol=0):
        np.testing.assert_allclose(costs[-1], otlab.emd(a, b, M).cost, rtol=1e-9)


@pytest.mark.parametrize("kwargs, match", [
    (dict(mass=0.0), r"mass must be in \(0, min"),
    (dict(mass=-0.1), "mass must be in"),
    (dict(mass=1.5), "mass must be in"),
    (dict(mass=float("nan")), "mass must be finite"),
])
def test_bad_mass_raises_a_value_error_naming_it(kwargs, match):
    with pytest.raises(ValueError, match=match):
        partial_wasserstein([0.5, 0.5], [1.0], [[1.0], [2.0]], **kwargs)


def test_negative_costs_and_nan_masses_raise_value_errors_naming_the_argument():
    with pytest.raises(ValueError, match="M must be non-negative"):
        partial_wasserstein([1.0], [1.0], [[-1.0]], mass=0.5)
    with pytest.raises(ValueError, match="a must be finite"):
        partial_wasserstein([np.nan], [1.0], [[1.0]], mass=0.5)


def test_torch_tensors_requiring_grad_are_read_as_their_values():
    # np.asarray on a tensor that requires grad raised torch's "Can't call numpy() on Tensor
    # that requires grad" instead of solving
    import torch

    M = np.array([[0.0, 5.0], [5.0, 1.0]])
    half = torch.tensor([0.5, 0.5], dtype=torch.float64, requires_grad=True)
    res = partial_wasserstein(half, half, torch.tensor(M, requires_grad=True), mass=1.0)
    assert res.cost == partial_wasserstein([0.5, 0.5], [0.5, 0.5], M, mass=1.0).cost == 0.5


@pytest.mark.parametrize("top", [1e308, np.finfo(float).max])
def test_costs_near_the_largest_float_are_solved_not_called_infinite(top):
    # the dummy pair was priced at 2 max M, which overflowed: 'M must be finite' for finite M
    M = np.array([[0.0, top], [top, top / 4]])
    res = partial_wasserstein([0.5, 0.5], [0.5, 0.5], M, mass=1.0)
    assert res.converged
    np.testing.assert_allclose(res.cost, top / 8, rtol=1e-15)
    res = partial_wasserstein([0.5, 0.5], [0.5, 0.5], M, mass=0.5)
    assert res.converged and res.cost == 0.0


@FAST
@given(problems(), st.floats(-300.0, 0.0))
def test_the_transported_mass_is_the_mass_asked_for_relative_to_it(problem, exponent):
    # sum P = s to round-off relative to s, for s down to 1e-300 times the smaller total: the
    # real block was the difference of extended masses of size sum a (mass=1e-12 of totals 1
    # moved 0.99995e-12, mass=1e-100 moved nothing, each with converged=True).  Measured after
    # the fix: within 4.5e-16 relative; asserted 1e-13.
    a, b, M, _ = problem
    s = 10.0 ** exponent * min(a.sum(), b.sum())
    res = partial_wasserstein(a, b, M, mass=s)
    assert res.converged
    np.testing.assert_allclose(res.plan.sum(), s, rtol=1e-13)
    assert (res.plan.sum(axis=1) <= a * (1 + 1e-13)).all()
    assert (res.plan.sum(axis=0) <= b * (1 + 1e-13)).all()


@FAST
@given(problems(), st.floats(-300.0, -1.0))
def test_a_mass_below_every_point_mass_goes_to_the_cheapest_pair(problem, exponent):
    # s <= every a_i and b_j: the plan may put all of s on the cheapest pair, so the partial
    # cost is s min M (0 at s = 1e-100 before the fix).  Round-off of the plan's entries
    # reaches pairs up to max M: measured within 9e-17 s max M; asserted 1e-13 s max M
    a, b, M, _ = problem
    s = 10.0 ** exponent * min(a.min(), b.min())
    np.testing.assert_allclose(partial_wasserstein(a, b, M, mass=s).cost, s * M.min(), rtol=0,
                               atol=1e-13 * s * M.max())
