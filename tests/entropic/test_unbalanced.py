"""Unbalanced entropic OT (KL marginal penalties): peers, exact oracle, limits, metamorphic facts."""

import math
import warnings

import numpy as np
import ot
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

from otlab import emd
from otlab.costs import cost_matrix
from otlab.entropic import (rho_from_reach, rho_from_tau, sinkhorn, sinkhorn_divergence,
                            sinkhorn_samples, tau_from_rho, unbalanced_sinkhorn,
                            unbalanced_sinkhorn_divergence, unbalanced_sinkhorn_samples)
from otlab._warnings import CostOverflowWarning
from otlab.exact import ConvergenceWarning

from ..strategies import offsets, rotations
from .problems import (FAR_ROW_CASES, far_row_gradients, far_row_problem, split_far,
                       split_far_plan)
from .unbalanced_oracle import exact_unbalanced

TIGHT = dict(tol=1e-11, max_iter=100000)
SMALL = settings(max_examples=15, deadline=None)


def _problem(seed, n=7, m=5, d=2, shift=0.5):
    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=(n, d)), rng.normal(size=(m, d)) + shift
    a, b = rng.uniform(0.2, 1.0, n), 1.7 * rng.uniform(0.2, 1.0, m)
    return x, y, a, b


def _cost(x, y):
    return cost_matrix(x, y, order=2)


# --- the balanced problem and the peers -------------------------------------------------------

def test_infinite_rho_is_the_balanced_solver_bit_for_bit():
    x, y, a, b = _problem(0)
    a, b = a / a.sum(), b / b.sum()
    M = _cost(x, y)
    ub = unbalanced_sinkhorn(a, b, M, 0.1, rho=math.inf)
    bal = sinkhorn(a, b, M, 0.1)
    for name in ("f", "g", "cost", "objective", "n_iter", "marginal_error"):
        assert_array_equal(getattr(ub, name), getattr(bal, name))
    assert_array_equal(ub.plan, bal.plan)


def test_infinite_rho_on_samples_runs_the_balanced_loop_bit_for_bit():
    x, y, _, _ = _problem(1)
    ub = unbalanced_sinkhorn_samples(x, y, rho=math.inf, reg=0.2)
    bal = sinkhorn_samples(x, y, reg=0.2)
    for name in ("f", "g", "cost", "n_iter"):
        assert_array_equal(getattr(ub, name), getattr(bal, name))


@pytest.mark.parametrize("reg, rho", [(0.1, 1.0), (0.5, 0.3), (0.05, 5.0), (1.0, (0.5, 2.0)),
                                      (0.2, (0.7, math.inf))])
def test_plan_and_cost_equal_pots_sinkhorn_unbalanced(reg, rho):
    x, y, a, b = _problem(2)
    M = _cost(x, y)
    res = unbalanced_sinkhorn(a, b, M, reg, rho=rho, **TIGHT)
    assert res.converged
    pot = dict(reg_type="kl", numItermax=200000, stopThr=1e-16)
    plan = ot.sinkhorn_unbalanced(a, b, M, reg, rho, **pot)
    linear = ot.unbalanced.sinkhorn_unbalanced2(a, b, M, reg, rho, **pot)
    total = ot.unbalanced.sinkhorn_unbalanced2(a, b, M, reg, rho, returnCost="total", **pot)
    assert_allclose(res.plan, plan, rtol=0, atol=1e-10 * plan.max())
    assert_allclose(res.cost, linear, rtol=1e-10)
    # POT's "total" drops the mass terms of the KL divergences (-p + q): convert
    rho_a, rho_b = (rho, rho) if np.isscalar(rho) else rho
    m, ma, mb = plan.sum(), a.sum(), b.sum()
    dropped = reg * (ma * mb - m) + sum(r * (s - m) for r, s in ((rho_a, ma), (rho_b, mb))
                                         if r != math.inf)
    assert_allclose(res.objective - dropped, total, rtol=0, atol=1e-10 * abs(res.objective))
    assert_allclose(res.row_marginal, plan.sum(1), rtol=1e-10)
    assert_allclose(res.col_marginal, plan.sum(0), rtol=1e-10)


def _geomloss(x, y, a, b, *, p, blur, reach, debias):
    """GeomLoss with ~1500 Sinkhorn iterations at the target blur (a near-constant schedule)."""
    from geomloss import SamplesLoss

    delta, n_steps = 1e-13, 1500
    loss = SamplesLoss("sinkhorn", p=p, blur=blur, reach=reach, debias=debias,
                       scaling=math.exp(-delta), diameter=blur * math.exp(n_steps * delta),
                       backend="tensorized")
    t = torch.as_tensor
    return float(loss(t(a), t(x), t(b), t(y)))


@pytest.mark.parametrize("p", [1, 2])
@pytest.mark.parametrize("blur, reach", [(0.3, 0.5), (0.5, 1.0), (0.4, 2.0)])
def test_value_equals_geomloss_with_reach_after_conversion(p, blur, reach):
    x, y, _, _ = _problem(3, n=12, m=9)
    a, b = np.full(12, 1 / 12), np.full(9, 1 / 9)
    ours = unbalanced_sinkhorn_samples(x, y, a, b, rho=rho_from_reach(reach, p), reg=p * blur**p,
                                       order=p, tol=1e-12)
    assert ours.converged
    theirs = _geomloss(x, y, a, b, p=p, blur=blur, reach=reach, debias=False)
    assert_allclose(ours.objective / p, theirs, rtol=1e-10)


@pytest.mark.parametrize("blur, reach", [(0.3, 0.5), (0.4, 2.0)])
def test_debiased_divergence_equals_geomloss_with_its_mass_term(blur, reach):
    # p = 2 only: for p = 1 GeomLoss's tensorized cost clamps distances at 1e-4, so its
    # symmetric terms (zero diagonal) solve a different problem
    x, y, a, b = _problem(12, n=12, m=9)
    ours = unbalanced_sinkhorn_divergence(x, y, a, b, rho=rho_from_reach(reach, 2), reg=2 * blur**2,
                                          order=2, tol=1e-12)
    theirs = _geomloss(x, y, a, b, p=2, blur=blur, reach=reach, debias=True)
    assert_allclose(ours / 2, theirs, rtol=1e-10)


def test_divergence_of_a_measure_with_itself_is_zero_and_infinite_rho_is_balanced():
    x, y, a, b = _problem(13)
    assert unbalanced_sinkhorn_divergence(x, x, a, a, rho=1.0) == 0.0
    assert (unbalanced_sinkhorn_divergence(x, y, a, b, rho=math.inf, reg=0.1)
            == sinkhorn_divergence(x, y, a=a, b=b, reg=0.1))


@SMALL
@given(st.integers(0, 2**32 - 1), st.sampled_from([0.1, 1.0, 10.0]))
def test_unbalanced_divergence_is_nonnegative(seed, rho):
    x, y, a, b = _problem(seed % 1000, n=6, m=5)
    value = unbalanced_sinkhorn_divergence(x, y, a, b, rho=rho, reg=0.3, order=2, tol=1e-10)
    assert value >= 0


def test_convention_conversions_round_trip():
    assert rho_from_reach(0.5, 2) == 0.5
    assert_allclose(rho_from_tau(tau_from_rho(0.3, 0.1), 0.1), 0.3, rtol=1e-13)
    assert tau_from_rho(math.inf, 0.1) == 1.0
    with pytest.raises(ValueError, match="tau"):
        rho_from_tau(0.0, 0.1)
    with pytest.raises(ValueError, match="reach"):
        rho_from_reach(-1.0)


# --- the exact oracle and the limits -----------------------------------------------------------

def _kl_to_product(P, a, b):
    ab = a[:, None] * b[None, :]
    pos = P > 0
    return float(np.sum(P[pos] * np.log(P[pos] / ab[pos])) - P.sum() + ab.sum())


@pytest.mark.parametrize("seed, rho", [(0, 0.1), (1, 1.0), (2, 10.0), (3, (0.3, 3.0))])
def test_entropic_value_tends_to_the_exact_one_within_eps_times_kl_of_its_plan(seed, rho):
    # 0 <= UOT_eps - UOT_0 <= eps KL(P_0 | a x b): the entropy is >= 0, and P_0 is feasible
    x, y, a, b = _problem(seed, n=5, m=4)
    C = _cost(x, y)
    exact = exact_unbalanced(a, b, C, rho)
    assert exact.gap <= 1e-8 * (1 + abs(exact.value))
    bound = _kl_to_product(exact.plan, a, b)
    for eps in (1e-1, 1e-2, 1e-3):
        res = unbalanced_sinkhorn(a, b, C, eps, rho=rho, tol=1e-9, max_iter=100000)
        assert res.converged
        excess = res.objective - exact.dual
        assert -1e-9 <= excess <= eps * bound + exact.gap + 1e-9


def test_large_rho_recovers_the_balanced_value_within_the_taylor_bound():
    # OT - (<a, f^2 e^{(-f)+/rho}> + <b, g^2 e^{(-g)+/rho}>) / (2 rho) <= UOT_rho <= OT
    x, y, a, b = _problem(4, n=5, m=4)
    a, b = a / a.sum(), b / b.sum()
    C = _cost(x, y)
    balanced = emd(a, b, C)
    f, g = balanced.f, balanced.g

    def taylor(rho):
        return (a @ (f**2 * np.exp(np.maximum(-f, 0) / rho))
                + b @ (g**2 * np.exp(np.maximum(-g, 0) / rho))) / (2 * rho)

    previous = -np.inf
    for rho in (1.0, 10.0, 100.0, 1000.0):
        exact = exact_unbalanced(a, b, C, rho)
        assert balanced.cost - taylor(rho) - exact.gap - 1e-9 <= exact.dual
        assert exact.value <= balanced.cost + 1e-9
        assert exact.value >= previous - exact.gap - 1e-9  # non-decreasing in rho
        previous = exact.value
    ent = sinkhorn(a, b, C, 0.05, tol=1e-10)
    ub = unbalanced_sinkhorn(a, b, C, 0.05, rho=1e4, tol=1e-10)
    fe, ge = ent.f, ent.g
    bound = (a @ (fe**2 * np.exp(np.maximum(-fe, 0) / 1e4))
             + b @ (ge**2 * np.exp(np.maximum(-ge, 0) / 1e4))) / 2e4
    assert ent.objective - bound - 1e-9 <= ub.objective <= ent.objective + 1e-9


# --- metamorphic properties -------------------------------------------------------------------

@st.composite
def unbalanced_problems(draw):
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    n, m, d = (int(v) for v in rng.integers([2, 2, 1], [9, 9, 4]))
    x, y = rng.normal(size=(n, d)), rng.normal(size=(m, d)) + rng.normal(size=d)
    a, b = rng.uniform(0.05, 2.0, n), rng.uniform(0.05, 2.0, m)
    rho = float(draw(st.sampled_from([0.05, 0.5, 5.0, 50.0])))
    return x, y, a, b, rho


def _solve(x, y, a, b, rho, **kw):
    # the L1 marginal error scales with the masses; below a total mass of 1 the solver scales
    # tol by the smaller mass itself (tol * min(1, sum a, sum b)), so only larger masses here
    tol = 1e-10 * max(1.0, np.sum(a) + np.sum(b))
    return unbalanced_sinkhorn_samples(x, y, a, b, rho=rho, reg=0.2, tol=tol, max_iter=100000, **kw)


@SMALL
@given(unbalanced_problems(), offsets)
def test_common_translation_leaves_the_unbalanced_value_unchanged(problem, t):
    x, y, a, b, rho = problem
    ref, moved = _solve(x, y, a, b, rho), _solve(x + t, y + t, a, b, rho)
    rounding = 1e4 * np.finfo(float).eps * (abs(t) + 10) * (1 + abs(ref.objective))
    assert_allclose(moved.objective, ref.objective, rtol=1e-8, atol=rounding)


@SMALL
@given(unbalanced_problems(), st.data())
def test_rotation_and_permutation_leave_the_unbalanced_value_unchanged(problem, data):
    x, y, a, b, rho = problem
    q = data.draw(rotations(x.shape[1]))
    perm = np.random.default_rng(data.draw(st.integers(0, 100))).permutation(len(a))
    ref = _solve(x, y, a, b, rho)
    rotated = _solve(x @ q, y @ q, a, b, rho)
    permuted = _solve(x[perm], y, a[perm], b, rho)
    assert_allclose(rotated.objective, ref.objective, rtol=1e-8)
    assert_allclose(permuted.objective, ref.objective, rtol=1e-8)
    assert_allclose(permuted.row_marginal, ref.row_marginal[perm], rtol=1e-7, atol=1e-12)


@SMALL
@given(unbalanced_problems(), st.floats(0.1, 0.9))
def test_splitting_a_point_into_duplicates_leaves_the_value_unchanged(problem, share):
    x, y, a, b, rho = problem
    x2 = np.vstack([x, x[:1]])
    a2 = np.concatenate([a, [share * a[0]]])
    a2[0] *= 1 - share
    ref, split = _solve(x, y, a, b, rho), _solve(x2, y, a2, b, rho)
    assert_allclose(split.objective, ref.objective, rtol=1e-8)
    assert_allclose(split.mass, ref.mass, rtol=1e-8)


@SMALL
@given(unbalanced_problems(), st.floats(-3, 3))
def test_scaling_both_masses_by_t_scales_the_plan_by_t_to_the_2_over_1_plus_lambda(problem, log_t):
    # the fixed point for (t a, t b) is (f + delta, g + delta), delta = -lambda eps log t / (1 + lambda)
    x, y, a, b, rho = problem
    t = 10.0**log_t
    ref, scaled = _solve(x, y, a, b, rho), _solve(x, y, t * a, t * b, rho)
    lam = rho / (rho + 0.2)
    power = t ** (2 / (1 + lam))
    # the plan's mass is off by at most about its L1 marginal error
    slack = 10 * (scaled.marginal_error + power * ref.marginal_error)
    assert_allclose(scaled.mass, power * ref.mass, rtol=1e-8, atol=slack)



@pytest.mark.parametrize("t", [1e-12, 1e-8])
def test_small_masses_are_solved_to_the_accuracy_of_unit_masses(t):
    # the scaling law above at masses of 1e-8: the default tol holds relative to a mass below
    # 1, so the plan's mass follows t^(2 / (1 + lambda)) (an absolute tol alone left it 86 % off)
    x, y, a, b = _problem(13)
    M = _cost(x, y)
    ref = unbalanced_sinkhorn(a, b, M, 0.1, rho=1.0)
    res = unbalanced_sinkhorn(t * a, t * b, M, 0.1, rho=1.0)
    lam = 1.0 / 1.1
    assert res.converged
    assert_allclose(res.mass, t ** (2 / (1 + lam)) * ref.mass, rtol=5e-5)  # measured 5e-7
    assert_allclose(res.objective - res.dual, 0.0, atol=1e-10 * abs(res.objective))

@SMALL
@given(unbalanced_problems())
def test_float32_agrees_with_float64_to_float32_accuracy(problem):
    x, y, a, b, rho = problem
    ref = _solve(x, y, a, b, rho)
    f32 = unbalanced_sinkhorn_samples(*(v.astype(np.float32) for v in (x, y, a, b)), rho=rho,
                                      reg=0.2)
    assert f32.converged
    assert_allclose(f32.objective, ref.objective, rtol=1e-3, atol=1e-3)


def test_data_far_from_the_origin_gives_the_value_at_the_origin():
    x, y, a, b = _problem(5)
    ref = _solve(x, y, a, b, 1.0)
    far = _solve(x + 1e8, y + 1e8, a, b, 1.0)
    assert_allclose(far.objective, ref.objective, rtol=1e-6)


def test_dense_and_tiled_back_ends_agree():
    x, y, a, b = _problem(6, n=40, m=30)
    dense = _solve(x, y, a, b, 0.5, backend="dense")
    tiled = _solve(x, y, a, b, 0.5, backend="tiled")
    assert_allclose(tiled.objective, dense.objective, rtol=1e-10)
    assert_allclose(tiled.row_marginal, dense.row_marginal, rtol=1e-9, atol=1e-12)


def test_primal_and_dual_values_agree_at_convergence():
    x, y, a, b = _problem(7)
    res = unbalanced_sinkhorn(a, b, _cost(x, y), 0.05, rho=(0.5, 2.0), tol=1e-10)
    assert res.converged
    assert abs(res.objective - res.dual) <= 1e-8 * abs(res.objective)


def test_a_far_outlier_is_destroyed_not_transported():
    x = np.array([[0.0], [1.0], [50.0]])
    res = unbalanced_sinkhorn_samples(x, x[:2], [0.5, 0.5, 0.5], [0.5, 0.5], rho=1.0, reg=0.01)
    assert res.row_marginal[2] < 1e-100
    assert_allclose(res.row_marginal[:2], 0.5 * np.exp(-0.0) * np.ones(2), rtol=0.02)



@pytest.mark.parametrize("scaling", [0.5, None])
@pytest.mark.parametrize("cost", [1e3, 1e4, 1e6])
def test_two_diracs_far_apart_keep_only_the_mass_penalty(cost, scaling):
    # f = g = rho c / (2 rho + eps), so the plan's mass exp(-c / (2 rho + eps)) underflows and
    # the value is 2 rho (1 - mass) + eps (1 - mass) = 2.1: no transport, no divergence
    res = unbalanced_sinkhorn([1.0], [1.0], [[cost]], 0.1, rho=1.0, scaling=scaling)
    assert res.converged
    assert res.mass < 1e-30
    assert_allclose([res.objective, res.dual], [2.1, 2.1], rtol=1e-12)


@pytest.mark.parametrize("order, distance", [(1, 1e4), (1, 1e6), (2, 1e2), (2, 1e4)])
def test_clouds_far_apart_are_destroyed_and_created_not_transported(order, distance):
    # every cost is far above rho: the optimal plan is (numerically) empty and the value is
    # rho_a m_a + rho_b m_b + eps m_a m_b, the KL penalties and entropic term of P = 0
    x, y, a, b = _problem(12, n=9, m=6)
    res = unbalanced_sinkhorn_samples(x, y + distance, a, b, rho=1.0, reg=0.1, order=order)
    assert res.converged
    assert res.mass < 1e-30
    assert_allclose(res.objective, a.sum() + b.sum() + 0.1 * a.sum() * b.sum(), rtol=1e-12)
    near = unbalanced_sinkhorn_divergence(x, y + 1e3 ** (1 / order), a, b, rho=1.0, reg=0.1,
                                          order=order)
    far = unbalanced_sinkhorn_divergence(x, y + distance, a, b, rho=1.0, reg=0.1, order=order)
    assert_allclose(float(far), float(near), rtol=1e-10)


# --- gradients --------------------------------------------------------------------------------

def test_gradient_in_the_masses_and_costs_matches_finite_differences():
    x, y, a, b = _problem(8, n=4, m=3)
    M = _cost(x, y)
    at, Mt = torch.tensor(a, requires_grad=True), torch.tensor(M, requires_grad=True)
    res = unbalanced_sinkhorn(at, torch.tensor(b), Mt, 0.3, rho=0.7, tol=1e-12)
    res.objective.backward()
    h = 1e-6
    for i in range(len(a)):
        up, down = a.copy(), a.copy()
        up[i] += h
        down[i] -= h
        fd = (unbalanced_sinkhorn(up, b, M, 0.3, rho=0.7, tol=1e-12).objective
              - unbalanced_sinkhorn(down, b, M, 0.3, rho=0.7, tol=1e-12).objective) / (2 * h)
        assert_allclose(at.grad[i].item(), fd, rtol=1e-5, atol=1e-8)
    assert_allclose(Mt.grad.numpy(), unbalanced_sinkhorn(a, b, M, 0.3, rho=0.7, tol=1e-12).plan,
                    rtol=1e-10, atol=1e-12)


def test_gradient_in_the_points_matches_finite_differences():
    x, y, a, b = _problem(9, n=4, m=3)
    xt = torch.tensor(x, requires_grad=True)
    res = unbalanced_sinkhorn_samples(xt, y, torch.tensor(a), b, rho=0.7, reg=0.3, tol=1e-12)
    res.objective.backward()
    h = 1e-6
    up, down = x.copy(), x.copy()
    up[1, 0] += h
    down[1, 0] -= h
    fd = (_solve_value(up, y, a, b) - _solve_value(down, y, a, b)) / (2 * h)
    assert_allclose(xt.grad[1, 0].item(), fd, rtol=1e-5, atol=1e-8)


def _solve_value(x, y, a, b):
    return unbalanced_sinkhorn_samples(x, y, a, b, rho=0.7, reg=0.3, tol=1e-12).objective


# --- honest status and bad input --------------------------------------------------------------

def test_too_few_iterations_give_converged_false_and_a_warning():
    x, y, a, b = _problem(10)
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        res = unbalanced_sinkhorn(a, b, _cost(x, y), 1e-3, rho=100.0, max_iter=1, scaling=None,
                                  acceleration=None)
    assert not res.converged
    assert np.isfinite(res.objective)


@pytest.mark.parametrize("rho", [1e-8, 1e8])
@pytest.mark.parametrize("reg", [1e-3, 1e3])
def test_extreme_rho_and_eps_converge_to_finite_values_or_say_so(rho, reg):
    x, y, a, b = _problem(11)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = unbalanced_sinkhorn(a, b, _cost(x, y), reg, rho=rho, max_iter=20000)
    assert np.isfinite(res.objective) and np.isfinite(res.dual)
    if res.converged:
        assert not caught
        assert abs(res.objective - res.dual) <= 1e-6 * (1 + abs(res.objective))
    else:
        assert any(issubclass(w.category, ConvergenceWarning) for w in caught)


@pytest.mark.parametrize("rho, match", [(0.0, "rho"), (-1.0, "rho"), (math.nan, "rho"),
                                        ((1.0, -2.0), r"rho\[1\]"), ((1.0,), "rho"),
                                        ("1", "rho")])
def test_bad_rho_raises_naming_it(rho, match):
    with pytest.raises((ValueError, TypeError), match=match):
        unbalanced_sinkhorn([1.0], [1.0], [[1.0]], 0.1, rho=rho)


@pytest.mark.parametrize("kwargs, match", [
    (dict(a=[-1.0, 2.0]), "a"), (dict(b=[np.nan]), "b"), (dict(reg=0.0), "reg"),
    (dict(M=[[1.0], [np.inf]]), "M")])
def test_bad_input_raises_naming_the_argument(kwargs, match):
    args = dict(a=[1.0, 1.0], b=[1.0], M=[[1.0], [2.0]], reg=0.1)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        unbalanced_sinkhorn(args["a"], args["b"], args["M"], args["reg"], rho=1.0)


def test_negative_sample_masses_raise_naming_them():
    with pytest.raises(ValueError, match="a"):
        unbalanced_sinkhorn_samples([[0.0], [1.0]], [[0.0]], [1.0, -0.5], None, rho=1.0)


def test_unequal_masses_with_infinite_rho_raise():
    with pytest.raises(ValueError, match="mass"):
        unbalanced_sinkhorn([1.0], [2.0], [[0.0]], 0.1, rho=math.inf)


def test_divergence_gradient_in_points_and_masses_matches_finite_differences():
    x, y, a, b = _problem(14, n=4, m=3)
    xt, at = torch.tensor(x, requires_grad=True), torch.tensor(a, requires_grad=True)
    kw = dict(rho=0.7, reg=0.3, order=2, tol=1e-12)
    unbalanced_sinkhorn_divergence(xt, y, at, b, **kw).backward()
    h = 1e-6

    def central(change):
        values = []
        for sign in (1, -1):
            x2, a2 = x.copy(), a.copy()
            change(x2, a2, sign * h)
            values.append(unbalanced_sinkhorn_divergence(x2, y, a2, b, **kw))
        return (values[0] - values[1]) / (2 * h)

    assert_allclose(xt.grad[2, 1].item(), central(lambda x2, a2, d: x2.__setitem__((2, 1), x2[2, 1] + d)),
                    rtol=1e-5, atol=1e-8)
    assert_allclose(at.grad[1].item(), central(lambda x2, a2, d: a2.__setitem__(1, a2[1] + d)),
                    rtol=1e-5, atol=1e-8)


@pytest.mark.gpu
@pytest.mark.parametrize("backend", ["dense", "tiled", "triton"])
def test_unbalanced_cpu_and_cuda_agree(backend):
    x, y, a, b = _problem(15, n=300, m=200, d=3)
    cpu = unbalanced_sinkhorn_samples(x, y, a, b, rho=1.0, reg=0.05, tol=1e-6)
    cuda = [torch.tensor(v, device="cuda") for v in (x, y, a, b)]
    res = unbalanced_sinkhorn_samples(*cuda, rho=1.0, reg=0.05, tol=1e-6, backend=backend)
    assert res.converged and res.objective.device.type == "cuda"
    assert_allclose(res.objective.item(), cpu.objective, rtol=1e-6)
    assert_allclose(res.row_marginal.cpu().numpy(), cpu.row_marginal, rtol=1e-5, atol=1e-9)
    div = unbalanced_sinkhorn_divergence(*cuda, rho=1.0, reg=0.05, order=2, backend=backend)
    ref = unbalanced_sinkhorn_divergence(x, y, a, b, rho=1.0, reg=0.05, order=2)
    assert_allclose(div.item(), ref, rtol=1e-5)


def _scaled_pair(seed, s):
    """``(at masses s a, s b; cost M)``, ``(at a, b; cost M - eps log s)`` for eps 0.1, rho 1."""
    rng = np.random.default_rng(seed)
    a, b, M = rng.uniform(0.5, 1.5, 5), rng.uniform(0.5, 1.5, 4), rng.uniform(size=(5, 4))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        scaled = unbalanced_sinkhorn(a * s, b * s, M, 0.1, rho=1.0)
    unit = unbalanced_sinkhorn(a, b, M - 0.1 * math.log(s), 0.1, rho=1.0)
    return scaled, unit, caught, a.sum() * b.sum()


def _scaled_samples(seed, s):
    """``_scaled_pair`` for point clouds: the samples variant at masses ``s a, s b`` (tol 1e-6,
    as the histograms'), the histogram problem at ``a, b`` and cost ``|x - y|^2 - eps log s``."""
    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=(5, 2)), rng.normal(size=(4, 2)) + 0.5
    a, b = rng.uniform(0.5, 1.5, 5), rng.uniform(0.5, 1.5, 4)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        scaled = unbalanced_sinkhorn_samples(x, y, a * s, b * s, rho=1.0, reg=0.1, tol=1e-6)
    unit = unbalanced_sinkhorn(a, b, _cost(x, y) - 0.1 * math.log(s), 0.1, rho=1.0)
    return scaled, unit, caught, a.sum() * b.sum()


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.floats(-300.0, 300.0))
def test_unbalanced_masses_times_s_is_s_times_the_problem_at_a_cost_shifted_by_eps_log_s(
        seed, exponent):
    # With KL(P || a x b) (reference mass m_a m_b) the objective is not 1-homogeneous: putting
    # P = s Q, F(s Q; s a, s b; M) = s F(Q; a, b; M - eps log s) + eps m_a m_b (s^2 - s), so
    # the plan and marginals scale by s at the shifted cost, the potentials stay.  Masses
    # 1e200 gave objective inf with converged=True, 1e300 'sinkhorn diverged'.
    s = 10.0 ** exponent
    scaled, unit, caught, mass_ab = _scaled_pair(seed, s)
    assert np.isfinite(unit.mass) and unit.converged
    if scaled.converged:
        assert not caught
        # both solved to tol 1e-6 (L1 marginal error at masses about 1); measured over 150
        # draws: mass within 2.2e-6, marginals 1.1e-6, objective 3e-6 of its scale; asserted
        # 100x.  (The potentials are not compared: where the marginals are below tol they
        # are not determined to any tolerance.)
        assert abs(scaled.mass / s - unit.mass) <= 2e-4
        assert np.abs(scaled.row_marginal / s - unit.row_marginal).max() <= 1e-4
        objective = s * unit.objective + 0.1 * mass_ab * (s * s - s)
        size = s * (1 + 0.1 * mass_ab * abs(s - 1))
        assert abs(scaled.objective - objective) <= 3e-4 * size
        assert np.isfinite(scaled.objective) and np.isfinite(scaled.cost)
    else:  # only where a value overflows float64, and then with a warning that says so
        assert np.isinf(scaled.objective) or np.isinf(scaled.mass)
        assert any(issubclass(w.category, ConvergenceWarning) and "overflow" in str(w.message)
                   for w in caught)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.floats(-300.0, 300.0))
def test_unbalanced_samples_masses_times_s_is_s_times_the_problem_at_a_cost_shifted_by_eps_log_s(
        seed, exponent):
    # the same identity for point clouds: masses 1e300 gave 'sinkhorn diverged', 1e100 finite
    # values with converged=False and a warning that they overflowed, 1e-300 a plan's mass 99 %
    # below s times the unit problem's (reported converged)
    s = 10.0 ** exponent
    scaled, unit, caught, mass_ab = _scaled_samples(seed, s)
    assert np.isfinite(unit.mass) and unit.converged
    messages = [str(w.message) for w in caught if issubclass(w.category, ConvergenceWarning)]
    if not (np.isfinite(scaled.objective) and np.isfinite(scaled.mass)):
        # only where the value overflows float64 (eps m_a m_b s^2 beyond 1e308), and saying so
        assert not scaled.converged and any("overflow" in m for m in messages)
        return
    # Masses from 2^23 to 2^64 are solved as they are, where tol=1e-6 is absolute (relative
    # to masses above 1): from about 1e7 on float64 cannot certify it, converged=False says
    # so, and the values are those of the potentials iterated to that floor.
    assert scaled.converged == (not caught)
    assert not any("overflow" in m for m in messages)
    # the bounds of the histograms' test (measured here over 150 draws: mass within 2.1e-6,
    # objective 1.5e-6 of its scale)
    assert abs(scaled.mass / s - unit.mass) <= 2e-4
    assert np.abs(scaled.row_marginal / s - unit.row_marginal).max() <= 1e-4
    objective = s * unit.objective + 0.1 * mass_ab * (s * s - s)
    assert abs(scaled.objective - objective) <= 3e-4 * s * (1 + 0.1 * mass_ab * abs(s - 1))


def test_unbalanced_masses_near_the_top_of_the_float_range_are_solved_and_overflow_honestly():
    # masses 1e300: 'sinkhorn diverged' before; now the potentials of the unit problem, the
    # mass (about 2e14 times the masses) and objective reported as inf, converged=False
    scaled, unit, caught, _ = _scaled_pair(0, 1e300)
    assert not scaled.converged and np.isinf(scaled.mass) and np.isinf(scaled.objective)
    assert any("overflow" in str(w.message) for w in caught)
    # mass is created here (cost M - 69), so the potentials are determined: measured 4e-14
    # from the unit problem's (seeds 0-4); asserted 1e-10
    assert_allclose(scaled.f, unit.f, rtol=0, atol=1e-10)
    scaled, unit, caught, _ = _scaled_pair(0, 1e150)  # representable: converged, finite
    assert scaled.converged and np.isfinite(scaled.objective)
    assert_allclose(scaled.mass / 1e150, unit.mass, rtol=1e-5)


def test_unbalanced_samples_whose_objective_overflows_are_not_converged():
    # masses 1e200 a point: eps m_a m_b = 2e399 does not fit; the objective was inf with
    # converged=True and no warning
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(5, 2)), rng.normal(size=(4, 2))
    with pytest.warns(ConvergenceWarning, match="overflow float64"):
        res = unbalanced_sinkhorn_samples(x, y, np.full(5, 1e200), np.full(4, 1e200), rho=1.0,
                                          reg=0.1)
    assert not res.converged and np.isinf(res.objective)
    assert np.isfinite(res.mass)


def _solved_near_mass_8(solve, scalar):
    """``solve(x, y, a, b)`` on 6 + 5 points with masses about 8 (tensors requiring grad): the
    result and the gradients of ``scalar(result)`` in x, y, a and b (the same data each call)."""
    rng = np.random.default_rng(1)
    data = rng.normal(size=(6, 2)), rng.normal(size=(5, 2)) + 0.5
    masses = 8 * rng.uniform(0.5, 1.5, 6), 8 * rng.uniform(0.5, 1.5, 5)
    leaves = [torch.tensor(v, requires_grad=True) for v in (*data, *masses)]
    result = solve(*leaves)
    scalar(result).backward()
    return result, [v.grad.numpy() for v in leaves]


def test_unbalanced_samples_solved_at_unit_mass_equals_the_direct_solve_gradients_included(
        monkeypatch):
    # the path of extreme masses (costs lowered by eps log s, masses divided by s, results
    # scaled back) forced at masses about 8, where the direct solve is accurate; measured
    # 2e-10 apart in values and gradients at tol 1e-10, asserted 2e-8
    import otlab.entropic.unbalanced as unbalanced

    def solve():
        return _solved_near_mass_8(
            lambda *v: unbalanced_sinkhorn_samples(*v, rho=1.0, reg=0.1, tol=1e-10),
            lambda res: res.objective)

    direct, direct_grads = solve()
    monkeypatch.setattr(unbalanced, "MASS_EXPONENT_RANGE", -1)
    unit, unit_grads = solve()
    assert direct.converged and unit.converged
    for name in ("objective", "cost", "mass"):
        got, want = (float(torch.as_tensor(getattr(r, name)).detach()) for r in (unit, direct))
        assert_allclose(got, want, rtol=2e-8)
    assert_allclose(unit.plan.numpy(), direct.plan.numpy(), rtol=0, atol=2e-8)
    for got, want in zip(unit_grads, direct_grads):
        assert_allclose(got, want, rtol=0, atol=2e-8)


@pytest.mark.parametrize("mass, path", [(1.5e19, "direct"), (1e25, "at unit mass")])
@pytest.mark.parametrize("entry", ["histograms", "samples"])
def test_the_overflow_warning_names_the_dtype_of_the_values(mass, path, entry):
    # float32 tensors overflow at 3.4e38 (eps m_a m_b = 2 mass^2 here): the warning said
    # 'overflow float64' for values that fit in float64 but came back inf in float32; masses
    # 1.5e19 are solved as they are, 1e25 at unit mass (MASS_EXPONENT_RANGE)
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(5, 2)), rng.normal(size=(4, 2)) + 0.5
    a, b = (torch.full((n,), mass / n, dtype=torch.float32) for n in (5, 4))
    with pytest.warns(ConvergenceWarning, match="the objective.* overflow float32 ") as caught:
        if entry == "histograms":
            res = unbalanced_sinkhorn(a, b, torch.tensor(_cost(x, y), dtype=torch.float32), 2.0,
                                      rho=1.0)
        else:
            res = unbalanced_sinkhorn_samples(torch.tensor(x, dtype=torch.float32),
                                              torch.tensor(y, dtype=torch.float32), a, b,
                                              rho=1.0, reg=2.0)
    assert not any("float64" in str(w.message) for w in caught)
    assert res.objective.dtype == torch.float32 and torch.isinf(res.objective)
    assert not res.converged


def _divergence_at_shifted_cost(x, y, a, b, reg, rho, shift):
    """The unbalanced divergence from three histogram problems on the costs ``|x - y| - shift``
    (order 1) and its mass term: the oracle of S(s a, s b) = s S(a, b; C - eps log s)."""
    def dual(p, q, wp, wq):
        return unbalanced_sinkhorn(wp, wq, cost_matrix(p, q, order=1) - shift, reg, rho=rho,
                                   tol=1e-12, max_iter=100000).dual

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return (dual(x, y, a, b) - 0.5 * dual(x, x, a, a) - 0.5 * dual(y, y, b, b)
                + 0.5 * reg * (a.sum() - b.sum()) ** 2)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.floats(-300.0, 300.0))
def test_unbalanced_divergence_of_masses_times_s_is_s_times_that_at_a_cost_shifted_by_eps_log_s(
        seed, exponent):
    # UOT(s a, s b; C) = s UOT(a, b; C - eps log s) + eps m_a m_b (s^2 - s) in all three terms,
    # and the mass term eps/2 (s m_a - s m_b)^2 takes the eps (s^2 - s) parts back: S scales
    # by s on the shifted cost.  Masses 1e300 gave 'sinkhorn diverged', 1e100 5.1e184 for
    # 2.4e105 (the terms' eps s^2 m_a m_b cancelled to round-off), 1e-300 a subnormal value.
    s = 10.0 ** exponent
    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=(6, 2)), rng.normal(size=(5, 2)) + 0.5
    a, b = rng.uniform(0.5, 1.5, 6), rng.uniform(0.5, 1.5, 5)
    unit = _divergence_at_shifted_cost(x, y, a, b, 0.1, 1.0, 0.1 * math.log(s))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = unbalanced_sinkhorn_divergence(x, y, a * s, b * s, rho=1.0, reg=0.1, tol=1e-9)
    overflow = [w for w in caught if issubclass(w.category, CostOverflowWarning)]
    with np.errstate(over="ignore"):
        expected = s * unit
    if not np.isfinite(expected):  # beyond float64 (s near 1e300): inf, saying so
        assert value == math.inf and overflow
        return
    assert not overflow
    # measured over 200 draws: within 9.6e-10 of s times the oracle's value at unit mass, whose
    # terms are near 1 (the solves' tol 1e-9: near masses 1e-200 the value at unit mass is
    # about 1e-9 and comes out as 0); asserted 1e-7
    assert abs(value - expected) <= 1e-7 * s * (1 + abs(unit))


def test_unbalanced_divergence_at_unit_mass_equals_the_direct_solve_gradients_included(
        monkeypatch):
    # the path of masses away from 1 (costs lowered by eps log s, masses divided by s, the
    # value times s) against the direct solve forced at masses about 8, where it is accurate;
    # measured 1e-15 apart in value (relative), 4.6e-10 in gradients at tol 1e-10; asserted
    # 1e-10 and 5e-8 (a check of the path, which the code before it did not take)
    import otlab.entropic.unbalanced as unbalanced

    def solve():
        value, grads = _solved_near_mass_8(
            lambda *v: unbalanced_sinkhorn_divergence(*v, rho=1.0, reg=0.1, tol=1e-10),
            lambda value: value)
        return float(value.detach()), grads

    unit, unit_grads = solve()
    monkeypatch.setattr(unbalanced, "_mass_unit", lambda a, b: 1.0)
    direct, direct_grads = solve()
    assert_allclose(unit, direct, rtol=1e-10)
    for got, want in zip(unit_grads, direct_grads):
        assert_allclose(got, want, rtol=0, atol=5e-8)


def _default_regs_seen(entry, *args, **kwargs):
    """The default ``reg`` (caller's units) each solve of ``entry`` reads, as a list."""
    from unittest import mock

    from otlab.entropic.problem import PointProblem

    seen, local_reg = [], PointProblem.local_reg

    def spy(self, reg):
        eps = local_reg(self, reg)
        if reg is None:
            seen.append(self.input_reg(eps))
        return eps

    with mock.patch.object(PointProblem, "local_reg", spy), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # masses near 1e300 overflow
        entry(*args, **kwargs)
    return seen


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**32 - 1), st.floats(-300.0, 300.0), st.sampled_from([1, 2]))
def test_the_default_reg_is_a_length_scale_invariant_to_scaling_both_masses(seed, exponent, order):
    # The default reg is 0.004 m_2^(k/2), m_2 the mean squared distance of the normalised
    # weights (default_reg): a length scale of the data, the same for masses s a, s b.  It read
    # the weights as given: unbalanced_sinkhorn_samples gave 0.0127 at unit masses, 1.50 at
    # masses 10, 1.4e6 at 1e3, and jumped back at 2^64 (read at unit mass), where
    # unbalanced_sinkhorn_divergence read it at unit mass for any masses away from 1.
    s = 10.0 ** exponent
    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=(6, 2)), rng.normal(size=(5, 2)) + 0.5
    a, b = rng.uniform(0.5, 1.5, 6), rng.uniform(0.5, 1.5, 5)
    from otlab.entropic import default_reg

    want = default_reg(x, y, order=order, a=a, b=b)
    samples = _default_regs_seen(unbalanced_sinkhorn_samples, x, y, a * s, b * s, rho=1.0,
                                 order=order)
    divergence = _default_regs_seen(unbalanced_sinkhorn_divergence, x, y, a * s, b * s,
                                    rho=1.0, order=order)
    assert samples and divergence
    # s a normalised is a normalised to round-off (measured 4.4e-16 relative over 150 draws);
    # asserted 1e-10
    assert_allclose(samples + divergence, want, rtol=1e-10)


def test_the_negative_value_warning_names_the_function_called(monkeypatch):
    # the divergence's terms lowered so that it comes out below 0 by more than its bound: the
    # warning of unbalanced_sinkhorn_divergence named "sinkhorn_divergence"
    import otlab.entropic.divergence as module

    dual_value = module._dual_value

    def lowered(*args, symmetric=False, **kwargs):
        value, err = dual_value(*args, symmetric=symmetric, **kwargs)
        return (value if symmetric else value - 1.0), err

    monkeypatch.setattr(module, "_dual_value", lowered)
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(6, 2)), rng.normal(size=(5, 2)) + 0.5
    a, b = rng.uniform(0.5, 1.5, 6), rng.uniform(0.5, 1.5, 5)
    for mass in (1.0, 10.0):  # solved as given, and at unit mass
        with pytest.warns(ConvergenceWarning, match="came out at") as caught:
            value = unbalanced_sinkhorn_divergence(x, y, mass * a / a.sum(), mass * b / b.sum(),
                                                   rho=1.0, reg=0.1)
        assert value == 0.0
        assert all(str(w.message).startswith("unbalanced_sinkhorn_divergence ") for w in caught)
    with pytest.warns(ConvergenceWarning, match="^sinkhorn_divergence came out at"):
        assert sinkhorn_divergence(x, y, a=a, b=b, reg=0.1) == 0.0


def test_the_convergence_warnings_of_the_unbalanced_divergence_name_it():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(6, 2)), rng.normal(size=(5, 2)) + 0.5
    with pytest.warns(ConvergenceWarning) as caught:
        unbalanced_sinkhorn_divergence(x, y, rho=1.0, reg=0.01, max_iter=2, scaling=None)
    assert caught and all(
        str(w.message).startswith("unbalanced_sinkhorn_divergence ") for w in caught)


@pytest.mark.parametrize("row", [0.0, -1e3, -1e6])
def test_a_row_of_weight_zero_below_the_costs_changes_no_unbalanced_result(row):
    # A row of weight 0 enters no marginal and no value, but its potential, of the size of
    # its costs, overflowed phi(f) = rho (1 - exp(-f/rho)) in the dual: costs near 1000,
    # rho = 1, and a row of weight 0 costing 0 (float32), -1e3 or -1e6 (float64) gave
    # 0 * inf = NaN, 'the dual overflow float64 ... converged=False' where the problem
    # without it converges.  Now the same result (bitwise here, measured; asserted 1e-10).
    rng = np.random.default_rng(0)
    M = 1000 + rng.random((6, 5))
    a, b = rng.random(6), rng.random(5)
    a, b = a / a.sum(), b / b.sum()
    dtype = np.float32 if row == 0.0 else np.float64
    expected = unbalanced_sinkhorn(a.astype(dtype), b.astype(dtype), M.astype(dtype), reg=0.01,
                                   rho=1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = unbalanced_sinkhorn(np.append(a, 0.0).astype(dtype), b.astype(dtype),
                                  np.vstack([M, np.full((1, 5), row)]).astype(dtype),
                                  reg=0.01, rho=1.0)
    assert expected.converged and got.converged
    assert_allclose([got.cost, got.dual, got.mass], [expected.cost, expected.dual, expected.mass],
                    rtol=1e-10)


def _mass_far_from_a_massless_target_point():
    # mass 30 away from the targets (order-2 costs near 900, rho = 1: nearly all destroyed)
    # and a point of weight 0 on the first target
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(6, 2)) + 30.0, rng.normal(size=(5, 2))
    return x, np.full(6, 1 / 6), y, np.full(5, 1 / 5), np.vstack([x, y[:1]])


def test_a_massless_point_with_an_overflowing_potential_leaves_the_divergence_finite():
    # Its phi_rho(f) overflows to -inf: 0 * inf made unbalanced_sinkhorn_divergence return
    # nan, silently, for 1.94211.  Now its terms add 0: 7.8e-12 relative from the value
    # without it (measured; asserted 1e-9).
    x, a, y, b, xz = _mass_far_from_a_massless_target_point()
    expected = unbalanced_sinkhorn_divergence(x, y, a=a, b=b, rho=1.0, reg=0.1, order=2)
    got = unbalanced_sinkhorn_divergence(xz, y, a=np.append(a, 0.0), b=b, rho=1.0, reg=0.1,
                                         order=2)
    assert_allclose(got, expected, rtol=1e-9)


@pytest.mark.parametrize("divergence", [False, True])
def test_a_massless_point_with_an_overflowing_gradient_gets_a_finite_one(divergence):
    # Its gradient in the weights, phi_rho(f_i) (about -e^900), overflowed: the zero-valued
    # envelope term inf * 0 made the value and every entry of the gradient NaN.  Now its
    # entry is capped (a finite large negative number), the value and the other entries as
    # without it (equal for the samples, 3.8e-7 for the divergence's tolerance-level
    # solves, measured; asserted 1e-5).
    x, a, y, b, xz = _mass_far_from_a_massless_target_point()
    fn = unbalanced_sinkhorn_divergence if divergence else unbalanced_sinkhorn_samples
    values, grads = [], []
    for points, weights in ((x, a), (xz, np.append(a, 0.0))):
        w = torch.tensor(weights, requires_grad=True)
        res = fn(torch.tensor(points), torch.tensor(y), a=w, b=torch.tensor(b), rho=1.0,
                 reg=0.1, order=2)
        value = res if divergence else res.cost
        value.backward()
        values.append(value.item())
        grads.append(w.grad.numpy())
    assert np.isfinite(grads[1]).all() and grads[1][6] < -1e100
    assert_allclose(values[1], values[0], rtol=1e-9)
    assert_allclose(grads[1][:6], grads[0], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("side", ["row", "column"])
@pytest.mark.parametrize("hard", [None, "a", "b"])
@pytest.mark.parametrize("dtype, rest, far", FAR_ROW_CASES)
def test_a_far_row_of_weight_zero_changes_no_unbalanced_sinkhorn(dtype, rest, far, side, hard):
    # A row of weight 0 costing `far` beside costs with mass of size `rest` set the unit of
    # the costs: unbalanced_sinkhorn (rho = rest) refused it with a ValueError naming M or
    # reg.  It is now left out of the solve as sinkhorn does: the cost, the potentials, the
    # plan and its marginals are those without it (equal, measured; asserted 1e-10 and 1e-5
    # for float32), its plan row and marginal are 0 and its potential the solver's update of
    # that row, lambda = rho / (rho + eps) times the soft-min of the other side's (here
    # lambda * far, the soft-min of a row of costs `far` being `far` within eps log 5 / far).
    # With rho infinite on one side (`hard`: that marginal held exactly) the same, lambda = 1
    # on the hard side.
    (a, b, M), wide = far_row_problem(dtype, rest, far, side)
    reg = 0.1 * rest
    rho = {None: rest, "a": (np.inf, rest), "b": (rest, np.inf)}[hard]
    expected = unbalanced_sinkhorn(a, b, M, reg=reg, rho=rho)
    got = unbalanced_sinkhorn(*wide, reg=reg, rho=rho)
    f, g, pot = split_far(got.f, got.g, side)
    plan, far_plan = split_far_plan(got.plan, side)
    rows, cols, far_marginal = split_far(got.row_marginal, got.col_marginal, side)
    rtol = 1e-10 if dtype == np.float64 else 1e-5
    assert expected.converged and got.converged
    assert_allclose(got.cost, expected.cost, rtol=rtol)
    assert_allclose(got.objective, expected.objective, rtol=rtol)
    assert_allclose(got.mass, expected.mass, rtol=rtol)
    assert_allclose(f, expected.f, rtol=rtol, atol=rtol * abs(expected.f).max())
    assert_allclose(g, expected.g, rtol=rtol, atol=rtol * abs(expected.g).max())
    assert_allclose(plan, expected.plan, atol=rtol * expected.plan.max())
    assert_allclose(rows, expected.row_marginal, rtol=rtol)
    assert_allclose(cols, expected.col_marginal, rtol=rtol)
    assert (far_plan == 0).all() and far_marginal == 0
    assert np.isfinite(pot) and pot.dtype == dtype
    far_side_hard = hard == ("a" if side == "row" else "b")
    assert_allclose(pot, (1.0 if far_side_hard else rest / (rest + reg)) * far, rtol=rtol)


@pytest.mark.parametrize("order", [1, 2])
@pytest.mark.parametrize("dtype, scale, far", [
    (np.float64, 1.0, 1e100), (np.float64, 1e-100, 1e300), (np.float64, 1.0, 1e300),
    (np.float32, 1.0, 1e30),
])
def test_a_far_point_of_weight_zero_changes_no_unbalanced_sinkhorn_samples(order, dtype, scale,
                                                                          far):
    # Beside 6 N(0,1) points (times `scale`) of mass 1 each, a point of weight 0 at
    # (far, far) set the common frame: unbalanced_sinkhorn_samples refused it with a
    # ValueError naming reg ('points of weight 0 set the frame').  It is now left out of the
    # solve: cost, kept potentials, plan and marginals are those without it (float64 equal
    # or 1e-16 apart, float32 1e-7, measured; asserted 1e-10 and 1e-5), its plan row and
    # marginal are 0, and its potential is lambda = rho / (rho + eps) times the soft-min of
    # the targets' (the solver's update of that row), capped at the largest float.
    from .test_solver import _soft_c_transform

    rng = np.random.default_rng(0)
    x = (rng.normal(size=(6, 2)) * scale).astype(dtype)
    y = ((rng.normal(size=(5, 2)) + 0.3) * scale).astype(dtype)
    reg, rho = 0.01 * scale**order, 1.0 * scale**order
    a, b = np.ones(6, dtype=dtype), np.full(5, 2.0, dtype=dtype)
    expected = unbalanced_sinkhorn_samples(x, y, a, b, rho=rho, reg=reg, order=order)
    got = unbalanced_sinkhorn_samples(np.vstack([x, np.array([[far, far]], dtype=dtype)]), y,
                                      np.append(a, 0.0).astype(dtype), b, rho=rho, reg=reg,
                                      order=order)
    rtol = 1e-10 if dtype == np.float64 else 1e-5
    assert expected.converged and got.converged
    assert_allclose(got.cost, expected.cost, rtol=rtol)
    assert_allclose(got.mass, expected.mass, rtol=rtol)
    assert_allclose(got.f[:6], expected.f, rtol=rtol, atol=rtol * abs(expected.f).max())
    assert_allclose(got.g, expected.g, rtol=rtol, atol=rtol * abs(expected.g).max())
    plan = got.plan
    assert plan.shape == (7, 5) and (plan[6] == 0).all()
    assert_allclose(plan[:6], expected.plan, atol=rtol * expected.plan.max())
    assert_allclose(got.row_marginal, np.append(expected.row_marginal, 0.0),
                    atol=rtol * expected.row_marginal.max())
    assert_allclose(got.col_marginal, expected.col_marginal, rtol=rtol)
    assert got.f.dtype == dtype and np.isfinite(got.f).all()
    soft = _soft_c_transform(np.array([[far, far]]), y.astype(np.float64), b.astype(np.float64),
                             got.g.astype(np.float64), got.reg, order)
    top = float(np.finfo(dtype).max)
    assert_allclose(got.f[6], min(rho / (rho + got.reg) * float(soft[0]), top), rtol=rtol)


def test_the_unbalanced_gradient_beside_a_far_row_of_weight_zero_is_that_without_it():
    # A row of weight 0 costing 1e300 beside costs with mass of 1e-10 was refused (naming
    # M) on tensors too.  Now the gradients in the kept weights and costs are those without
    # it (measured: equal or 1e-16 relative apart; asserted 1e-10), that in the far row's
    # costs 0 (its plan row), and that in its weight the unbalanced first variation
    # phi_rho(f) + eps m_b = rho (1 - exp(-f / rho)) + eps m_b, here rho + eps (f = 9e299).
    far_weight, far_costs = far_row_gradients(
        lambda a, b, M: unbalanced_sinkhorn(a, b, M, reg=1e-11, rho=1e-10))
    assert (far_costs == 0).all()
    assert far_weight == pytest.approx(1e-10 + 1e-11 * 1.0, rel=1e-10)


def test_the_unbalanced_samples_gradient_beside_a_far_point_of_weight_zero_is_that_without_it():
    # Beside 6 N(0,1) points of mass 1 and 5 targets of mass 2 (order 2, reg 0.01, rho 1), a
    # point of weight 0 at (1e100, 1e100) was refused (naming reg) on tensors too.  Now the
    # gradients in the kept points and masses are those without it (measured: equal; asserted
    # 1e-10), that in the far point 0, and that in its mass phi_rho(f) + eps m_b = rho + eps m_b
    # (f = 2e200).
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(6, 2)), rng.normal(size=(5, 2))
    x1 = torch.tensor(np.vstack([x, [[1e100, 1e100]]]), requires_grad=True)
    a1 = torch.tensor(np.append(np.ones(6), 0.0), requires_grad=True)
    b1 = torch.full((5,), 2.0, dtype=torch.float64, requires_grad=True)
    got = unbalanced_sinkhorn_samples(x1, y, a1, b1, rho=1.0, reg=0.01)
    got.cost.backward()
    x0, a0 = torch.tensor(x, requires_grad=True), torch.ones(6, dtype=torch.float64,
                                                               requires_grad=True)
    b0 = torch.full((5,), 2.0, dtype=torch.float64, requires_grad=True)
    expected = unbalanced_sinkhorn_samples(x0, y, a0, b0, rho=1.0, reg=0.01)
    expected.cost.backward()
    assert got.converged
    assert_allclose(float(got.cost.detach()), float(expected.cost.detach()), rtol=1e-10)
    for kept, ref in ((x1.grad[:6], x0.grad), (a1.grad[:6], a0.grad), (b1.grad, b0.grad)):
        assert_allclose(kept.numpy(), ref.numpy(), rtol=1e-10, atol=1e-10 * float(ref.abs().max()))
    assert (x1.grad[6] == 0).all()
    assert float(a1.grad[6]) == pytest.approx(1.0 + 0.01 * 10.0, rel=1e-10)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.floats(-300.0, 0.0), st.floats(3.0, 620.0),
       st.booleans())
def test_far_rows_of_weight_zero_change_no_unbalanced_sinkhorn_value(seed, log_rest, log_far,
                                                                     column):
    # UOT_eps,rho(a, b; M) does not depend on a row or column of weight 0 (it enters no plan
    # entry nor KL term): beside costs with mass of size 10^log_rest, one costing 10^log_far
    # times more (up to the float range) leaves the cost that without it (measured: equal;
    # asserted 1e-10), and every potential is finite.
    rng = np.random.default_rng(seed)
    rest = 10.0**log_rest
    M = cost_matrix(rng.normal(size=(5, 2)), rng.normal(size=(4, 2)), order=2) * rest
    far = min(10.0 ** min(log_far + np.log10(M.max()), 308.0), np.finfo(np.float64).max)
    a, b = np.full(5, 0.2), np.full(4, 0.5)
    kw = dict(reg=0.1 * rest, rho=rest)
    expected = unbalanced_sinkhorn(a, b, M, **kw)
    if column:
        got = unbalanced_sinkhorn(a, np.append(b, 0.0), np.hstack([M, np.full((5, 1), far)]), **kw)
    else:
        got = unbalanced_sinkhorn(np.append(a, 0.0), b, np.vstack([M, np.full((1, 4), far)]), **kw)
    assert got.converged == expected.converged
    assert_allclose(got.cost, expected.cost, rtol=1e-10)
    assert np.isfinite(got.f).all() and np.isfinite(got.g).all()


@pytest.mark.parametrize("target", [False, True])
@pytest.mark.parametrize("order", [1, 2])
def test_a_far_point_of_weight_zero_changes_no_unbalanced_sinkhorn_divergence(order, target):
    # Beside 6 N(0,1) points of mass 1 and 5 targets of mass 2 (reg 0.01, rho 1), a point of
    # weight 0 at (1e100, 1e100) set the frame and unbalanced_sinkhorn_divergence refused it
    # (ValueError naming reg).  It changes no term: with weights that need no gradient it is
    # left out, and the value and the points' gradients are those without it (measured:
    # equal; asserted 1e-10), the far point's gradient 0.
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(6, 2)), rng.normal(size=(5, 2))
    a, b = np.ones(6), np.full(5, 2.0)
    far = np.array([[1e100, 1e100]])
    x0 = torch.tensor(x, requires_grad=True)
    expected = unbalanced_sinkhorn_divergence(x0, y, a, b, rho=1.0, reg=0.01, order=order)
    expected.backward()
    if target:
        y1 = torch.tensor(np.vstack([y, far]), requires_grad=True)
        got = unbalanced_sinkhorn_divergence(x0.detach(), y1, a, np.append(b, 0.0), rho=1.0,
                                             reg=0.01, order=order)
        got.backward()
        assert (y1.grad[5] == 0).all()
    else:
        x1 = torch.tensor(np.vstack([x, far]), requires_grad=True)
        got = unbalanced_sinkhorn_divergence(x1, y, np.append(a, 0.0), b, rho=1.0, reg=0.01,
                                             order=order)
        got.backward()
        assert_allclose(x1.grad[:6].numpy(), x0.grad.numpy(), rtol=1e-10,
                        atol=1e-10 * float(x0.grad.abs().max()))
        assert (x1.grad[6] == 0).all()
    assert_allclose(float(got.detach()), float(expected.detach()), rtol=1e-10)
