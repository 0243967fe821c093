"""Metamorphic properties of every entropic entry point: what must not change does not.

Each property compares two solves that must agree exactly in exact arithmetic; the
tolerances allow for the rounding of the transformed input (a translation by t moves
each coordinate by up to ulp(t)) and for the marginal tolerance of each solve.
"""

import warnings

import numpy as np
import torch
from hypothesis import given
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from otlab import wasserstein
from otlab.costs import cost_matrix
from otlab.entropic import sinkhorn, sinkhorn_divergence, sinkhorn_samples
from otlab.exact import ConvergenceWarning

from ..strategies import offsets, rotations, scale_factors, spread_pairs

U64 = np.finfo(np.float64).eps
TIGHT = dict(tol=1e-10, max_iter=20000)
ORDERS = st.sampled_from([1, 2])


def _reg(x, y, order, fraction=0.1):
    """ε as a fraction of the largest cost: well conditioned, so tight tolerances are cheap."""
    return fraction * cost_matrix(x, y, order=order).max()


def _rounding(x, y, t=0.0):
    """How far rounding moves the points of ``x + t`` and ``y + t``: ~ulp(|t| + max|x|) per coordinate."""
    d = x.shape[1]
    return 4 * np.sqrt(d) * U64 * (abs(t) + max(np.abs(x).max(), np.abs(y).max()))


@given(spread_pairs(), offsets, ORDERS)
def test_common_translation_leaves_sinkhorn_w_unchanged(pair, t, order):
    x, y = pair
    reg = _reg(x, y, order)
    ref = wasserstein(x, y, method="sinkhorn", order=order, reg=reg, **TIGHT)
    moved = wasserstein(x + t, y + t, method="sinkhorn", order=order, reg=reg, **TIGHT)
    assert_allclose(moved, ref, rtol=1e-7, atol=100 * _rounding(x, y, t))


@given(spread_pairs(), offsets, ORDERS)
def test_common_translation_leaves_the_divergence_unchanged(pair, t, order):
    x, y = pair
    reg = _reg(x, y, order)
    ref = sinkhorn_divergence(x, y, reg=reg, order=order, **TIGHT)
    moved = sinkhorn_divergence(x + t, y + t, reg=reg, order=order, **TIGHT)
    scale = cost_matrix(x, y, order=order).max()
    assert_allclose(moved, ref, rtol=1e-7, atol=1e-9 * scale + 100 * _rounding(x, y, t) ** order
                    + 100 * _rounding(x, y, t) * scale)


@given(spread_pairs(), scale_factors, ORDERS)
def test_scaling_the_points_by_c_scales_sinkhorn_w_by_abs_c(pair, c, order):
    x, y = pair
    reg = _reg(x, y, order)
    ref = wasserstein(x, y, method="sinkhorn", order=order, reg=reg, **TIGHT)
    scaled = wasserstein(c * x, c * y, method="sinkhorn", order=order, reg=abs(c) ** order * reg,
                         **TIGHT)
    assert_allclose(scaled / abs(c), ref, rtol=1e-7, atol=1e-9 * np.abs(x).max())


@given(spread_pairs(), scale_factors, ORDERS)
def test_scaling_the_points_by_c_scales_sample_costs_and_the_divergence_by_abs_c_to_the_k(
        pair, c, order):
    x, y = pair
    reg = _reg(x, y, order)
    unit = abs(c) ** order
    ref = sinkhorn_samples(x, y, reg=reg, order=order, **TIGHT)
    res = sinkhorn_samples(c * x, c * y, reg=unit * reg, order=order, **TIGHT)
    scale = cost_matrix(x, y, order=order).max()
    assert_allclose(res.cost / unit, ref.cost, rtol=1e-7, atol=1e-9 * scale)
    assert_allclose(res.reg / unit, reg, rtol=1e-14)
    s_ref = sinkhorn_divergence(x, y, reg=reg, order=order, **TIGHT)
    s_scaled = sinkhorn_divergence(c * x, c * y, reg=unit * reg, order=order, **TIGHT)
    assert_allclose(s_scaled / unit, s_ref, rtol=1e-6, atol=1e-9 * scale)


@given(spread_pairs(), st.floats(-150, 150))
def test_scaling_the_cost_matrix_and_reg_scales_the_sinkhorn_solution(pair, exponent):
    x, y = pair
    c = 10.0 ** exponent
    M = cost_matrix(x, y)
    a, b = np.full(len(x), 1 / len(x)), np.full(len(y), 1 / len(y))
    ref = sinkhorn(a, b, M, reg=0.1 * M.max(), **TIGHT)
    res = sinkhorn(a, b, c * M, reg=0.1 * c * M.max(), **TIGHT)
    assert res.converged
    assert_allclose(res.cost / c, ref.cost, rtol=1e-8, atol=1e-10 * M.max())
    assert_allclose(res.objective / c, ref.objective, rtol=1e-8, atol=1e-10 * M.max())


@given(spread_pairs(min_n=2, max_n=6, max_dim=3), st.data(), ORDERS)
def test_rotating_and_permuting_both_samples_leaves_sinkhorn_unchanged(pair, data, order):
    x, y = pair
    R = data.draw(rotations(x.shape[1]))
    px = data.draw(st.permutations(range(len(x))))
    py = data.draw(st.permutations(range(len(y))))
    reg = _reg(x, y, order)
    ref = sinkhorn_samples(x, y, reg=reg, order=order, **TIGHT)
    moved = sinkhorn_samples(x[px] @ R, y[py] @ R, reg=reg, order=order, **TIGHT)
    scale = cost_matrix(x, y, order=order).max()
    assert_allclose(moved.cost, ref.cost, rtol=1e-7, atol=1e-9 * scale)
    assert_allclose(moved.f, ref.f[px] + (moved.f.mean() - ref.f[px].mean()), atol=1e-6 * scale)
    s_ref = sinkhorn_divergence(x, y, reg=reg, order=order, **TIGHT)
    s_moved = sinkhorn_divergence(x[px] @ R, y[py] @ R, reg=reg, order=order, **TIGHT)
    assert_allclose(s_moved, s_ref, rtol=1e-6, atol=1e-9 * scale)


@given(spread_pairs(min_n=2, max_n=6), st.data(), st.floats(0.1, 0.9), ORDERS)
def test_splitting_a_point_into_weighted_duplicates_leaves_entropic_ot_unchanged(
        pair, data, share, order):
    x, y = pair
    k = data.draw(st.integers(0, len(x) - 1))
    a = np.full(len(x), 1 / len(x))
    split = np.vstack([x, x[k:k + 1]])
    a_split = np.append(a, (1 - share) * a[k])
    a_split[k] = share * a[k]
    reg = _reg(x, y, order)
    ref = sinkhorn_samples(x, y, a=a, reg=reg, order=order, **TIGHT)
    res = sinkhorn_samples(split, y, a=a_split, reg=reg, order=order, **TIGHT)
    scale = cost_matrix(x, y, order=order).max()
    assert_allclose(res.cost, ref.cost, rtol=1e-7, atol=1e-9 * scale)
    assert_allclose(res.objective, ref.objective, rtol=1e-7, atol=1e-9 * scale)


# float32: round-off caps the reachable marginal error at about 1e-7 max|f| / eps
# (sinkhorn's docstring), so the float32 solves run at tol 1e-5; the costs then agree
# with float64 to 1e-4 relative, plus the rounding of the float32 input itself.
F32 = dict(tol=1e-5, max_iter=5000)
F32_RTOL = 1e-4


def _cost_atol(max_cost):
    """What the marginal tolerance leaves open in a cost: a plan off by ``tol`` in L1 moves
    ``<C, P>`` by up to about ``tol * max C``; ten times that, as headroom across CPUs."""
    return 10 * F32["tol"] * max_cost


@given(spread_pairs(), ORDERS)
def test_float32_sinkhorn_is_within_the_stated_tolerance_of_float64(pair, order):
    x, y = pair
    x32, y32 = torch.tensor(x, dtype=torch.float32), torch.tensor(y, dtype=torch.float32)
    reg = _reg(x, y, order)
    ref = sinkhorn_samples(x32.double(), y32.double(), reg=reg, order=order, **TIGHT)
    res = sinkhorn_samples(x32, y32, reg=reg, order=order, **F32)
    assert res.cost.dtype == torch.float32
    scale = cost_matrix(x, y, order=order).max()
    assert_allclose(res.cost.item(), ref.cost.item(), rtol=F32_RTOL, atol=_cost_atol(scale))


@given(spread_pairs(), st.floats(-1e4, 1e4), ORDERS)
def test_float32_translation_by_up_to_1e4_spreads_keeps_sinkhorn_w_within_tolerance(
        pair, shift, order):
    x, y = pair
    spread = np.ptp(np.vstack([x, y]), axis=0).max()
    t = shift * spread
    reg = _reg(x, y, order)
    x32, y32 = torch.tensor(x + t, dtype=torch.float32), torch.tensor(y + t, dtype=torch.float32)
    moved = wasserstein(x32, y32, method="sinkhorn", order=order, reg=reg, **F32)
    # Reference: the same rounded float32 points, solved in float64.
    ref = wasserstein(x32.double(), y32.double(), method="sinkhorn", order=order, reg=reg, **TIGHT)
    assert moved.dtype == torch.float32
    # Compared as W^k, the quantity the marginal tolerance controls (W itself moves by
    # dcost / (k W^(k-1)), unbounded as W -> 0 at order 2).
    max_cost = cost_matrix(x, y, order=order).max()
    assert_allclose(moved.item() ** order, ref.item() ** order, rtol=F32_RTOL,
                    atol=_cost_atol(max_cost))
    # And against the unmoved float64 points: the float32 rounding of x + t is the only change.
    exact = wasserstein(x, y, method="sinkhorn", order=order, reg=reg, **TIGHT)
    rounding = 8 * np.sqrt(x.shape[1]) * np.finfo(np.float32).eps * (abs(t) + np.abs(x).max())
    moved_by_rounding = order * max_cost ** ((order - 1) / order) * 2 * rounding
    assert_allclose(moved.item() ** order, exact ** order, rtol=F32_RTOL,
                    atol=_cost_atol(max_cost) + 100 * moved_by_rounding)


@given(spread_pairs(), st.floats(-4, 8), ORDERS)
def test_divergence_of_a_sample_with_itself_is_exactly_zero_at_every_reg(pair, log_reg, order):
    x, _ = pair
    reg = 10.0 ** log_reg * max(cost_matrix(x, x, order=order).max(), 1e-300)
    assert sinkhorn_divergence(x, x, reg=reg, order=order) == 0.0


@given(spread_pairs(), st.floats(-2, 12), ORDERS)
def test_divergence_is_non_negative_at_every_reg_up_to_the_mmd_limit(pair, log_reg, order):
    x, y = pair
    reg = 10.0 ** log_reg * cost_matrix(x, y, order=order).max()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # non-negativity must hold regardless
        assert sinkhorn_divergence(x, y, reg=reg, order=order, max_iter=3000) >= 0.0


@given(spread_pairs(max_n=6), st.floats(-18, 16), st.sampled_from([1e-3, 1e-8]))
def test_sinkhorn_never_reports_convergence_it_did_not_reach(pair, log_reg, tol):
    x, y = pair
    M = cost_matrix(x, y)
    a, b = np.full(len(x), 1 / len(x)), np.full(len(y), 1 / len(y))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        try:
            res = sinkhorn(a, b, M, reg=10.0 ** log_reg * M.max(), tol=tol, max_iter=50)
        except ValueError as exc:  # outside the range the dtype resolves: said, not guessed
            assert "reg=" in str(exc) and ("below" in str(exc) or "too large" in str(exc))
            return
    err = np.abs(res.plan.sum(1) - a).sum() + np.abs(res.plan.sum(0) - b).sum()
    assert_allclose(res.marginal_error, err, rtol=1e-6, atol=1e-15)
    if res.converged:
        assert np.isfinite(res.cost) and res.marginal_error <= tol and not caught
    else:
        assert caught and "marginal error" in str(caught[0].message)


@given(st.integers(0, 2**32 - 1), st.sampled_from([("float32", 1e3), ("float32", -1e3),
                                                   ("float64", 1e10), ("float64", -1e10)]))
def test_adding_a_constant_to_the_cost_matrix_moves_the_cost_by_it_and_not_the_plan(seed, case):
    # <P, M + c> = <P, M> + c for every plan of mass 1, so the entropic plan is unchanged.  The
    # solver worked with potentials of size c / reg, whose round-off left the plan's marginals
    # off by 0.028 (float32, M + 1e3, reg 0.01; cost 997.56 instead of 1000.069) and 4.5e-4
    # (float64, M + 1e10; cost 1e10 + 3.1e5), both reported converged=True.
    dtype, c = case
    rng = np.random.default_rng(seed)
    n, m = 20, 30
    a, b = rng.random(n) + 0.1, rng.random(m) + 0.1
    a, b = a / a.sum(), b / b.sum()
    M = np.round(rng.random((n, m)) * 64) / 64  # M + c is exact in both dtypes
    a, b, M = a.astype(dtype), b.astype(dtype), M.astype(dtype)
    ref = sinkhorn(a, b, M, reg=0.01)
    res = sinkhorn(a, b, M + M.dtype.type(c), reg=0.01)
    assert ref.converged and res.converged
    # measured after the fix (100 seeds per case): the same plan (difference 0), marginal error
    # up to 1.5e-5 (float32), costs and objectives within 2.5 ulp(c), f_i + g_0 within 1 ulp(c)
    ulp = abs(np.spacing(M.dtype.type(c)))
    assert res.marginal_error <= 2e-3
    assert_allclose(res.plan, ref.plan, rtol=0, atol=1e-5)
    assert_allclose(res.cost, ref.cost + c, rtol=0, atol=1000 * ulp)
    assert_allclose(res.objective, ref.objective + c, rtol=0, atol=1000 * ulp)
    assert_allclose(res.f + res.g[0], ref.f + ref.g[0] + c, rtol=0,
                    atol=100 * ulp)


@given(st.integers(0, 2**32 - 1), st.sampled_from([100.0, 1000.0]), ORDERS)
def test_float32_sinkhorn_w_between_far_apart_clouds_is_the_float64_value(seed, distance, order):
    # Costs of about D^k with spreads of 1 leave potentials of D^k / reg in float32 whose
    # round-off moves every plan entry alike: the plan's mass was 1 - 1.9e-3 at D = 1000 and
    # its cost, the value, 998.07 for 1000.005 (float64), reported converged.  The cost is
    # that of the plan at the marginals' mass.
    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=(60, 2)) * 0.1, rng.normal(size=(50, 2)) * 0.1 + [distance, 0.0]
    reg = 0.01 * distance ** (order - 1)
    x32, y32 = torch.tensor(x, dtype=torch.float32), torch.tensor(y, dtype=torch.float32)
    ref = wasserstein(x32.double(), y32.double(), method="sinkhorn", order=order, reg=reg)
    res = wasserstein(x32, y32, method="sinkhorn", order=order, reg=reg)
    # measured after the fix: within 2.3e-7 relative, 160 problems (before: 1.7e-4 to 2e-3)
    assert_allclose(res.item(), ref.item(), rtol=3e-5)
