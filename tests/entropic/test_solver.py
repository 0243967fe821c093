"""Tests of otlab.entropic.solver: Sinkhorn on a cost matrix (iterations, stopping, accuracy, input checks)."""

import numpy as np
import ot
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from otlab.costs import cost_matrix
from otlab.entropic import (
    SinkhornResult,
    epsilon_schedule,
    sinkhorn,
)
from otlab.exact import ConvergenceWarning

from ..strategies import sample_pairs
from .problems import (FAR_ROW_CASES, exact_cost, far_row_gradients, far_row_problem,
                       random_problem, split_far, split_far_plan)


def test_sinkhorn_cost_tends_to_exact_as_reg_vanishes():
    x, y, a, b = random_problem()
    M = cost_matrix(x, y, order=2)
    exact = exact_cost(a, b, M)
    gaps = [sinkhorn(a, b, M, reg=r * M.max(), max_iter=50000).cost - exact
            for r in (1e-1, 1e-2, 1e-3, 1e-4)]
    assert all(g1 >= g2 - 1e-9 for g1, g2 in zip(gaps, gaps[1:])), gaps
    assert_allclose(gaps[-1], 0.0, atol=1e-4 * exact)


@given(sample_pairs(min_n=1, max_n=7))
def test_sinkhorn_cost_is_at_least_exact(pair):
    x, y = pair
    a, b = np.full(len(x), 1 / len(x)), np.full(len(y), 1 / len(y))
    M = cost_matrix(x, y, order=1)
    # half the largest cost; that cost itself where half of it underflows (5e-324); 1 for M = 0
    reg = 0.5 * M.max() or M.max() or 1.0
    res = sinkhorn(a, b, M, reg=reg, tol=1e-9, max_iter=100000)
    assert res.cost >= exact_cost(a, b, M) - 1e-7 * M.max()


def test_plan_marginals_within_tol():
    x, y, a, b = random_problem()
    M = cost_matrix(x, y, order=1)
    res = sinkhorn(a, b, M, reg=1e-2, tol=1e-8)
    assert res.converged
    err = np.abs(res.plan.sum(1) - a).sum() + np.abs(res.plan.sum(0) - b).sum()
    assert err <= 1e-8
    assert_allclose(res.marginal_error, err, atol=1e-10)
    assert_allclose(res.cost, (res.plan * M).sum(), rtol=1e-12)


def test_cost_matches_pot_sinkhorn_log():
    x, y, a, b = random_problem()
    M = cost_matrix(x, y, order=2)
    ours = sinkhorn(a, b, M, reg=0.05, tol=1e-10).cost
    theirs = ot.sinkhorn2(a, b, M, 0.05, method="sinkhorn_log", stopThr=1e-12, numItermax=100000)
    assert_allclose(ours, theirs, rtol=1e-7)


def test_objective_is_cost_plus_entropy():
    x, y, a, b = random_problem()
    M = cost_matrix(x, y, order=2)
    res = sinkhorn(a, b, M, reg=0.1, tol=1e-12)
    P = res.plan
    kl = (P * np.log(P / np.outer(a, b))).sum()
    assert_allclose(res.objective, res.cost + 0.1 * kl, rtol=1e-9)


def test_tiny_reg_gives_no_nan_nor_overflow():
    x, y, a, b = random_problem(n=8, m=8)
    M = cost_matrix(x, y, order=2)
    with pytest.warns(ConvergenceWarning):  # tiny eps converges slowly, but never overflows
        res = sinkhorn(a, b, M, reg=1e-7 * M.max(), tol=1e-12, max_iter=300)
    assert np.isfinite(res.f).all() and np.isfinite(res.g).all() and np.isfinite(res.plan).all()
    assert np.isfinite(res.cost) and res.cost > 0 and np.isfinite(res.marginal_error)


def test_weight_gradient_is_the_potential_and_matches_finite_differences():
    x, y, a, b = random_problem(n=6, m=5)
    M = cost_matrix(x, y, order=1)
    at = torch.tensor(a, requires_grad=True)
    res = sinkhorn(at, torch.tensor(b), torch.tensor(M), reg=0.2, tol=1e-12)
    (ga,) = torch.autograd.grad(res.objective, at)
    v = np.random.default_rng(2).normal(size=6)
    v -= v.mean()  # keep the mass, so that a + h v stays admissible
    h = 1e-6
    fd = (sinkhorn(a + h * v, b, M, reg=0.2, tol=1e-12).objective
          - sinkhorn(a - h * v, b, M, reg=0.2, tol=1e-12).objective) / (2 * h)
    assert_allclose((ga.numpy() * v).sum(), fd, rtol=1e-5)


def test_epsilon_schedule_ends_at_reg():
    sched = epsilon_schedule(100.0, 0.01, 0.5)
    assert sched[-1] == 0.01 and all(e1 > e2 for e1, e2 in zip(sched, sched[1:]))


def test_non_convergence_warns_with_the_marginal_error_and_what_to_change():
    x, y, a, b = random_problem()
    with pytest.warns(ConvergenceWarning, match="marginal error") as record:
        res = sinkhorn(a, b, cost_matrix(x, y), reg=1e-3, max_iter=1, tol=1e-8)
    assert not res.converged and res.marginal_error > 1e-8
    assert isinstance(res, SinkhornResult)
    message = str(record[0].message)
    assert f"{res.marginal_error:.3g}" in message
    assert all(word in message for word in ("max_iter", "larger reg", "looser tol"))


@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-15), (np.float32, 1e-7)])
def test_a_tol_below_the_round_off_floor_is_reported_not_iterated_to_max_iter(dtype, tol):
    x, y, a, b = random_problem()
    M = cost_matrix(x, y).astype(dtype)
    with pytest.warns(ConvergenceWarning, match=rf"tol={tol:g} is below what "
                      rf"{np.dtype(dtype).name} resolves for this problem") as record:
        res = sinkhorn(a.astype(dtype), b.astype(dtype), M, reg=0.01 * M.max(), tol=tol,
                       max_iter=100_000)
    assert not res.converged and len(record) == 1
    floor = float(str(record[0].message).split("round-off up to about ")[1].split(" ")[0])
    # iterated to the floor (with the slack of rounding), far from the iteration cap
    assert res.marginal_error <= 2 * floor and res.n_iter < 5_000


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_the_default_tol_is_raised_to_what_the_dtype_certifies(dtype):
    x, y, a, b = random_problem()
    M = cost_matrix(x, y).astype(dtype)
    res = sinkhorn(a.astype(dtype), b.astype(dtype), M, reg=1e-3 * M.max())  # no warning
    assert res.converged
    assert res.marginal_error <= (1e-6 if dtype == np.float64 else 1e-2)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(reg=0.0), "reg"),
        (dict(reg=-1.0), "reg"),
        (dict(reg=0.1, a=[0.5, np.nan]), "a"),
        (dict(reg=0.1, b=[0.5, 0.6]), "mass"),
        (dict(reg=0.1, M=np.ones((3, 2))), "M"),
        (dict(reg=0.1, M=[[0.0, np.inf], [1.0, 0.0]]), "M"),
        (dict(reg=0.1, a=[-0.5, 1.5]), "a"),
        (dict(reg=0.1, scaling=1.5), "scaling"),
        (dict(reg=0.1, acceleration="nesterov"), "acceleration"),
    ],
)
def test_bad_input_raises_naming_the_argument(kwargs, name):
    args = dict(a=[0.5, 0.5], b=[0.5, 0.5], M=[[0.0, 1.0], [1.0, 0.0]])
    args.update(kwargs)
    with pytest.raises(ValueError, match=name):
        sinkhorn(args.pop("a"), args.pop("b"), args.pop("M"), **args)


@pytest.mark.parametrize("reg", [1e-20, 1e-16])
def test_reg_below_the_float64_resolution_of_the_costs_is_refused_saying_why(reg):
    x, y, a, b = random_problem(n=20, m=20)
    M = cost_matrix(x, y)
    with pytest.raises(ValueError, match=r"below what float64 resolves .* Use reg >= .* otlab.emd"):
        sinkhorn(a, b, M, reg=reg)


def test_reg_so_large_that_the_kernel_is_one_is_refused_saying_why():
    x, y, a, b = random_problem(n=20, m=20)
    with pytest.raises(ValueError, match=r"too large for float64 .* independent coupling"):
        sinkhorn(a, b, cost_matrix(x, y), reg=1e20)


def test_smallest_accepted_reg_gives_an_honest_status():
    x, y, a, b = random_problem(n=20, m=20)
    M = cost_matrix(x, y)
    reg = 1e-13 * M.max()  # resolved, but far too small to converge in max_iter
    with pytest.warns(ConvergenceWarning, match="misses its marginals"):
        res = sinkhorn(a, b, M, reg=reg, max_iter=50)
    assert not res.converged and np.isfinite(res.cost)
    err = np.abs(res.plan.sum(1) - a).sum() + np.abs(res.plan.sum(0) - b).sum()
    assert_allclose(res.marginal_error, err, rtol=1e-6)


@pytest.mark.parametrize("scale", [1e-300, 1e-150, 1.0, 1e150, 1e300])
def test_cost_matrices_at_extreme_scales_give_the_scaled_solution(scale):
    x, y, a, b = random_problem()
    M = cost_matrix(x, y)
    ref = sinkhorn(a, b, M, reg=0.05, tol=1e-10)
    res = sinkhorn(a, b, M * scale, reg=0.05 * scale, tol=1e-10)
    assert res.converged
    assert_allclose(res.cost / scale, ref.cost, rtol=1e-12)
    assert_allclose(res.f / scale, ref.f, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("t", [1e-12, 1e-8, 1e-4])
def test_scaling_both_histograms_by_a_small_t_scales_the_plan_and_cost_by_t(t):
    # tol holds relative to a total mass below 1: histograms of mass 1e-8 are solved as far as
    # those of mass 1 (an absolute tol of 1e-6 alone is met at once and left the cost 13 % off)
    x, y, a, b = random_problem()
    M = cost_matrix(x, y)
    ref = sinkhorn(a, b, M, reg=0.01)
    res = sinkhorn(t * a, t * b, M, reg=0.01)
    assert res.converged and res.marginal_error <= 1e-6 * t
    assert_allclose(res.cost / t, ref.cost, rtol=1e-9)
    assert_allclose(res.plan / t, ref.plan, rtol=1e-7, atol=1e-12)


def test_anderson_memory_is_set_from_sinkhorn():
    from otlab.entropic import Anderson

    x, y, a, b = random_problem()
    M = cost_matrix(x, y, order=1)
    short = sinkhorn(a, b, M, reg=0.01, tol=1e-9, acceleration=Anderson(memory=1))
    long = sinkhorn(a, b, M, reg=0.01, tol=1e-9, acceleration=Anderson(memory=8))
    assert short.converged and long.converged and short.n_iter != long.n_iter
    assert_allclose(short.cost, long.cost, rtol=1e-8)
    with pytest.raises(ValueError, match="memory must be >= 1"):
        Anderson(memory=0)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_half_precision_is_solved_in_float32_and_returned_in_its_dtype(dtype):
    M = torch.tensor([[5.0, 6.0], [4.0, 5.0]], dtype=dtype)
    a = torch.tensor([0.5, 0.5], dtype=dtype)
    res = sinkhorn(a, a, M, reg=0.05, tol=1e-4)  # float32 resolves about 6e-5 here
    assert res.cost.dtype == dtype and res.f.dtype == dtype and res.plan.dtype == dtype
    assert res.converged and res.cost.item() == pytest.approx(5.0, rel=1e-2)


def test_complex_cost_matrix_is_rejected():
    with pytest.raises(TypeError, match="M must hold real numbers"):
        sinkhorn([1.0], [1.0], torch.tensor([[1j]]), reg=0.1)


@pytest.mark.parametrize("far", [10.0, 1e3, 1e6])
def test_the_symmetric_potential_at_a_point_of_weight_zero_is_the_fixed_point(far):
    # The averaged iteration f <- (f + T f)/2 stops when the points with mass meet tol; a
    # point of weight 0 enters no soft-min and no stopping rule, so its f lagged the fixed
    # point T f, and entered the derivative of sinkhorn_divergence in its weight (beside 12
    # and 10 points of size 1, default tol: 1.7e-3 off at 10, 9e-3 at 1e3; now 2e-5 and
    # 8e-6, the solves' tol).  It is the soft-min of the potentials with mass, as g is there.
    from scipy.special import logsumexp

    from otlab.entropic.problem import PointProblem
    from otlab.entropic.solver import SinkhornOptions, solve
    from otlab.sample import sample_pair

    rng = np.random.default_rng(3)
    x = np.vstack([rng.normal(size=(12, 2)), [[far, 0.0]]])
    a = np.append(np.full(12, 1 / 12), 0.0)
    problem = PointProblem.build(*sample_pair(x, x, a, a), 2)
    eps = problem.local_reg(0.02)
    _, f, g, _, _ = solve(problem, eps, "dense", SinkhornOptions(tol=1e-4), symmetric=True)
    f, g, xl = f.numpy(), g.numpy(), problem.xl.numpy()
    C = cost_matrix(xl[-1:], xl[:-1], order=2)[0]
    fixed = -eps * logsumexp((f[:-1] - C) / eps, b=a[:-1])
    # the soft-min in numpy from the same potentials: measured 2e-16 relative; asserted 1e-10
    assert_allclose(g[-1], fixed, rtol=1e-10)
    assert f[-1] == g[-1]


def test_a_small_reg_beside_a_far_point_of_weight_zero_is_solved_or_refused_naming_it():
    # A point of weight 0 kept in sinkhorn_samples (its weight requires a gradient) 3e6 away
    # from data of size 1: reg=1e-6 was refused against the point's own costs (9e12); it is
    # within what the costs between the points with mass resolve, and solved: before the row
    # error left that point out, its potential's round-off over eps gave 'sinkhorn diverged'
    # (0 * inf).  At 1e12 the frame left those costs round-off above reg/16 and the default
    # reg was refused ('points of weight 0 set the frame'); the far point is now left out of
    # the solve: the cost without it (equal, measured), a finite potential there.
    from otlab.entropic import sinkhorn_samples

    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(12, 2)), rng.normal(size=(10, 2)) + 0.3
    a = torch.tensor(np.append(np.full(12, 1 / 12), 0.0), requires_grad=True)
    near = torch.tensor(np.vstack([x, [[3e6, 0.0]]]))
    with pytest.warns(ConvergenceWarning, match="did not converge"):  # reg 1e-6: slow
        res = sinkhorn_samples(near, torch.tensor(y), a=a, order=2, reg=1e-6)
    assert not res.converged and np.isfinite(res.marginal_error)
    assert torch.isfinite(res.cost) and torch.isfinite(res.f).all()
    far = torch.tensor(np.vstack([x, [[1e12, 0.0]]]))
    got = sinkhorn_samples(far, torch.tensor(y), a=a, order=2)
    expected = sinkhorn_samples(torch.tensor(x), torch.tensor(y), order=2)
    assert got.converged and got.reg == expected.reg
    assert_allclose(float(got.cost.detach()), float(expected.cost), rtol=1e-10)
    assert torch.isfinite(got.f).all()


@pytest.mark.parametrize("solver", ["sinkhorn", "unbalanced_sinkhorn"])
@pytest.mark.parametrize("reg", [1e-3, 1e-2, 1e16])
def test_a_row_of_weight_zero_changes_no_sinkhorn_on_histograms(reg, solver):
    # A row of weight 0 enters no entry of the plan, but its costs set the checks on reg and
    # the start of the eps-scaling: beside order-2 costs of 6 and 5 points (up to 12), a row
    # of weight 0 costing 1e12 refused reg=1e-3 ('below what float64 resolves'), accepted
    # reg=1e16 (refused without it), and at reg=1e-2 took 125 iterations for 57 and moved
    # the cost by 1.2e-7.  Now the same result (equal, or 6.5e-17 apart, measured; asserted
    # 1e-10), or the same refusal.
    from otlab.entropic import unbalanced_sinkhorn

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(6, 2)), rng.normal(size=(5, 2)) + 0.3
    M = cost_matrix(x, y, order=2)
    a, b = np.full(6, 1 / 6), np.full(5, 1 / 5)
    a0, M0 = np.append(a, 0.0), np.vstack([M, np.full((1, 5), 1e12)])

    def run(a, M):
        if solver == "sinkhorn":
            return sinkhorn(a, b, M, reg=reg)
        return unbalanced_sinkhorn(a, b, M, reg=reg, rho=1.0)

    if reg == 1e16:
        with pytest.raises(ValueError, match="too large") as without:
            run(a, M)
        with pytest.raises(ValueError, match="too large") as beside:
            run(a0, M0)
        assert str(beside.value) == str(without.value)
        return
    expected, got = run(a, M), run(a0, M0)
    assert expected.converged and got.converged
    assert_allclose(got.cost, expected.cost, rtol=1e-10)
    assert got.n_iter == expected.n_iter


@pytest.mark.parametrize("side", ["row", "column"])
@pytest.mark.parametrize("dtype, rest, far", FAR_ROW_CASES)
def test_a_far_row_of_weight_zero_changes_no_sinkhorn(dtype, rest, far, side):
    # A row of weight 0 costing `far` beside costs with mass of size `rest` set the unit of
    # the costs, where those with mass (or 1/reg) lost their digits: sinkhorn raised
    # FloatingPointError, ZeroDivisionError or RuntimeError, and since 44c02e6 a ValueError
    # naming M or reg.  Rows and columns of weight 0 with a cost above FAR_COST times the
    # costs with mass are now left out of the solve: the cost, the potentials and the plan
    # of the rest are those without it (equal, measured; asserted 1e-10 and 1e-5 for
    # float32), its plan row is 0 and its potential the soft-min of the other side's.
    (a, b, M), wide = far_row_problem(dtype, rest, far, side)
    reg = 0.1 * rest
    expected, got = sinkhorn(a, b, M, reg=reg), sinkhorn(*wide, reg=reg)
    f, g, pot = split_far(got.f, got.g, side)
    plan, far_plan = split_far_plan(got.plan, side)
    rtol = 1e-10 if dtype == np.float64 else 1e-5
    assert expected.converged and got.converged
    assert_allclose(got.cost, expected.cost, rtol=rtol)
    assert_allclose(f, expected.f, rtol=rtol, atol=rtol * abs(expected.f).max())
    assert_allclose(g, expected.g, rtol=rtol, atol=rtol * abs(expected.g).max())
    assert_allclose(plan, expected.plan, atol=rtol * expected.plan.max())
    assert (far_plan == 0).all() and np.isfinite(pot) and pot.dtype == dtype
    # every cost of the far row is `far`, far above the potentials: its soft-min is `far`
    # to within eps log(5) / far (below the float's round-off)
    assert_allclose(pot, far, rtol=rtol)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.floats(-300.0, 0.0), st.floats(3.0, 620.0),
       st.booleans())
def test_far_rows_of_weight_zero_change_no_sinkhorn_value(seed, log_rest, log_far, column):
    # OT_eps(a, b; M) does not depend on a row or column of weight 0: beside costs with mass
    # of size 10^log_rest, one costing 10^log_far times more (up to the float range) leaves
    # the cost that without it (measured: equal or 3e-16 apart; asserted 1e-10).
    rng = np.random.default_rng(seed)
    rest = 10.0**log_rest
    M = cost_matrix(rng.normal(size=(5, 2)), rng.normal(size=(4, 2)), order=2) * rest
    far = min(10.0 ** min(log_far + np.log10(M.max()), 308.0), np.finfo(np.float64).max)
    a, b = np.full(5, 0.2), np.full(4, 0.25)
    expected = sinkhorn(a, b, M, reg=0.1 * rest)
    if column:
        got = sinkhorn(a, np.append(b, 0.0), np.hstack([M, np.full((5, 1), far)]), reg=0.1 * rest)
    else:
        got = sinkhorn(np.append(a, 0.0), b, np.vstack([M, np.full((1, 4), far)]), reg=0.1 * rest)
    assert got.converged == expected.converged
    assert_allclose(got.cost, expected.cost, rtol=1e-10)
    assert np.isfinite(got.f).all() and np.isfinite(got.g).all()


def test_the_gradient_beside_a_far_row_of_weight_zero_is_that_without_it():
    # A row of weight 0 costing 1e300 beside costs with mass of 1e-10 was refused (naming
    # M) on tensors too.  Now the gradients in the kept weights and costs are those without
    # it (2e-15 relative apart, measured; asserted 1e-10), that in the far row's costs 0 (its
    # plan row) and in its weight finite: its potential 1e300, capped at INFINITE_GRADIENT
    # times the largest float.
    from otlab.entropic.solver import INFINITE_GRADIENT

    far_weight, far_costs = far_row_gradients(lambda a, b, M: sinkhorn(a, b, M, reg=1e-11))
    assert (far_costs == 0).all()
    cap = np.finfo(np.float64).max * INFINITE_GRADIENT
    assert np.isfinite(far_weight) and far_weight == pytest.approx(cap, rel=1e-10)


def _soft_c_transform(points, others, weights, pot, eps, order):
    """The entropic c-transform in float64 numpy, 2-D points (hypot: no square overflows)."""
    from scipy.special import logsumexp

    diff = points[:, None, :] - others[None, :, :]
    with np.errstate(over="ignore"):
        cost = np.hypot(diff[..., 0], diff[..., 1]) ** order
    values = cost - pot[None, :]
    low = values.min(1)
    if not np.isfinite(low).all():  # costs beyond the float range
        return np.full(low.shape, np.inf)
    return low - eps * logsumexp(-(values - low[:, None]) / eps, b=weights[None, :], axis=1)


@pytest.mark.parametrize("order", [1, 2])
@pytest.mark.parametrize("dtype, scale, far", [
    (np.float64, 1.0, 1e100), (np.float64, 1e-100, 1e3), (np.float64, 1e-100, 1e300),
    (np.float64, 1.0, 1e300), (np.float32, 1.0, 1e30), (np.float32, 1e-10, 1e10),
])
def test_a_far_point_of_weight_zero_changes_no_sinkhorn_samples(order, dtype, scale, far):
    # A point of weight 0 that sinkhorn_samples kept set the frame; beside it data of size
    # `scale` 1e100 times smaller collapsed to one point there, and the solve returned cost
    # 0.0 with converged=True for 1.22 (order 2; 1e-100 beside 1e300: ZeroDivisionError);
    # since 44c02e6 a ValueError named reg.  Far points of weight 0 are now left out of the
    # solve: the cost, the plan's kept entries and the kept potentials are those without the
    # point (float64: equal or 1e-16 apart; float32: 1e-7, measured; asserted 1e-10 and
    # 1e-5), its plan row is 0 and its potential is the soft-min of the targets' (capped at
    # the largest float where it overflows).
    from otlab.entropic import sinkhorn_samples

    rng = np.random.default_rng(0)
    x = (rng.normal(size=(6, 2)) * scale).astype(dtype)
    y = ((rng.normal(size=(5, 2)) + 0.3) * scale).astype(dtype)
    reg = 0.01 * scale**order
    expected = sinkhorn_samples(x, y, reg=reg, order=order)
    got = sinkhorn_samples(np.vstack([x, np.array([[far, far]], dtype=dtype)]), y,
                           a=np.append(np.ones(6), 0.0).astype(dtype), reg=reg, order=order)
    rtol = 1e-10 if dtype == np.float64 else 1e-5
    assert expected.converged and got.converged
    assert_allclose(got.cost, expected.cost, rtol=rtol)
    assert_allclose(got.f[:6], expected.f, rtol=rtol, atol=rtol * abs(expected.f).max())
    assert_allclose(got.g, expected.g, rtol=rtol, atol=rtol * abs(expected.g).max())
    plan = got.plan
    assert plan.shape == (7, 5) and (plan[6] == 0).all()
    assert_allclose(plan[:6], expected.plan, atol=rtol * expected.plan.max())
    assert_allclose(got.apply(np.ones(5)), np.append(expected.apply(np.ones(5)), 0.0),
                    atol=rtol)
    assert got.f.dtype == dtype and np.isfinite(got.f).all()
    top = float(np.finfo(dtype).max)
    soft = _soft_c_transform(np.array([[far, far]]), y.astype(np.float64), np.full(5, 0.2),
                             got.g.astype(np.float64), got.reg, order)
    assert_allclose(got.f[6], min(float(soft[0]), top), rtol=rtol)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.floats(3.0, 300.0), st.sampled_from([1, 2]),
       st.booleans())
def test_far_points_of_weight_zero_change_no_sinkhorn_value(seed, log_far, order, target):
    # W_eps(a, x; b, y) does not depend on a point of weight 0: the cost with one at
    # 10^log_far (on either side, beyond FAR_FACTOR times the data's reach) is that without
    # it (measured: equal or 2e-16 apart; asserted 1e-10), and every potential is finite.
    from otlab.entropic import sinkhorn_samples

    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=(5, 2)), rng.normal(size=(4, 2)) + 0.5
    point = rng.choice([-1.0, 1.0], size=(1, 2)) * 10.0**log_far
    expected = sinkhorn_samples(x, y, reg=0.05, order=order)
    if target:
        got = sinkhorn_samples(x, np.vstack([y, point]), b=np.append(np.ones(4), 0.0),
                               reg=0.05, order=order)
    else:
        got = sinkhorn_samples(np.vstack([x, point]), y, a=np.append(np.ones(5), 0.0),
                               reg=0.05, order=order)
    assert got.converged == expected.converged
    assert_allclose(got.cost, expected.cost, rtol=1e-10)
    assert np.isfinite(got.f).all() and np.isfinite(got.g).all()


@pytest.mark.parametrize("order, far, mass", [(1, 1e100, 1.0), (2, 1e100, 1.0),
                                              (2, 1e300, 1e-3)])
def test_the_gradient_beside_a_far_point_of_weight_zero_is_that_without_it(order, far, mass):
    # With weights that require a gradient the point of weight 0 at (1e100, 1e100) was
    # refused (ValueError naming reg).  Now the gradients in the kept points and weights
    # are those of the problem without it (equal, measured; asserted 1e-10), the point's
    # own point gradient is 0 (its plan row is 0) and its weight gradient is finite: its
    # potential, the first variation of the cost in its weight (2e200 at order 2; at 1e300
    # it overflows, and the gradient is capped below the largest float, with room for the
    # weights' normalisation: weights of total `mass` 1e-3 multiply it by 1e3).
    from otlab.entropic import sinkhorn_samples

    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(6, 2)), rng.normal(size=(5, 2)) + 0.3
    a = torch.tensor(np.append(np.full(6, mass / 6), 0.0), requires_grad=True)
    xt = torch.tensor(np.vstack([x, [[far, far]]]), requires_grad=True)
    got = sinkhorn_samples(xt, torch.tensor(y), a=a, reg=0.01, order=order)
    got.cost.backward()
    a0 = torch.tensor(np.full(6, mass / 6), requires_grad=True)
    x0 = torch.tensor(x, requires_grad=True)
    expected = sinkhorn_samples(x0, torch.tensor(y), a=a0, reg=0.01, order=order)
    expected.cost.backward()
    assert got.converged
    assert_allclose(float(got.cost.detach()), float(expected.cost.detach()), rtol=1e-10)
    assert_allclose(a.grad[:6].numpy(), a0.grad.numpy(), rtol=1e-10, atol=1e-10)
    assert_allclose(xt.grad[:6].numpy(), x0.grad.numpy(), rtol=1e-10, atol=1e-10)
    assert (xt.grad[6] == 0).all()
    assert torch.isfinite(a.grad[6]) and a.grad[6] > 0
    soft = _soft_c_transform(np.array([[far, far]]), y, np.full(5, 0.2),
                             got.g.detach().numpy(), got.reg, order)[0]
    assert_allclose(float(got.f[6]), min(soft, np.finfo(np.float64).max), rtol=1e-10)


@pytest.mark.parametrize("solver", ["sinkhorn", "unbalanced_sinkhorn"])
def test_a_row_of_weight_zero_that_leaves_reg_and_the_costs_their_digits_changes_nothing(solver):
    # Beside costs with mass of 1e-10 a row of weight 0 costing 1e300 leaves them subnormal
    # in the unit, with 14 digits, and reg = 1e-8 a normal float there: solved as without
    # the row (5e-14 relative apart, measured; asserted 1e-9), not refused.
    from otlab.entropic import unbalanced_sinkhorn

    rng = np.random.default_rng(0)
    M = cost_matrix(rng.normal(size=(6, 2)), rng.normal(size=(5, 2)), order=2) * 1e-10
    a, b = np.full(6, 1 / 6), np.full(5, 1 / 5)
    options = {"reg": 1e-8} if solver == "sinkhorn" else {"reg": 1e-8, "rho": 1e-10}
    run = sinkhorn if solver == "sinkhorn" else unbalanced_sinkhorn
    expected = run(a, b, M, **options)
    got = run(np.append(a, 0.0), b, np.vstack([M, np.full((1, 5), 1e300)]), **options)
    assert expected.converged and got.converged
    assert_allclose(got.cost, expected.cost, rtol=1e-9)


@pytest.mark.parametrize("scale", [1e-2, 1e-100, 1e100])
def test_sinkhorn_gradients_are_scale_equivariant_also_below_cost_one_half(scale):
    # Scaling costs (or points) and reg by c scales the cost by c and leaves the plan, its
    # gradient in M, unchanged; the weights' gradient (the potentials) scales by c, the
    # points' by sqrt(c) at order 2.  The results are scaled back by torch.ldexp, whose
    # gradient was 0 for every negative exponent: costs below 0.5 had gradient 0 in M, a,
    # b and the points.  Now equal to the unscaled ones (histograms within 1e-15; points,
    # whose frames round differently, within 1.4e-9 relative, measured; asserted 1e-6).
    from otlab.entropic import sinkhorn_samples

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(6, 2)), rng.normal(size=(5, 2))
    M = cost_matrix(x, y, order=2) / 20.0
    a, b = np.full(6, 1 / 6), np.full(5, 1 / 5)
    grads = []
    for c in (1.0, scale):
        Mt, at = torch.tensor(M * c, requires_grad=True), torch.tensor(a, requires_grad=True)
        sinkhorn(at, torch.tensor(b), Mt, reg=0.01 * c).cost.backward()
        xt = torch.tensor(x * np.sqrt(c), requires_grad=True)
        sinkhorn_samples(xt, torch.tensor(y * np.sqrt(c)), reg=0.01 * c).cost.backward()
        grads.append((Mt.grad.numpy(), at.grad.numpy() / c, xt.grad.numpy() / np.sqrt(c)))
    for got, expected in zip(grads[1], grads[0]):
        assert_allclose(got, expected, rtol=1e-6, atol=1e-9)
