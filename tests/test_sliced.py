"""Sliced and max-sliced W_k: metamorphic properties, closed forms, POT, standard errors, bad input."""

import math
import warnings

import numpy as np
import ot
import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import otlab
from otlab.sliced import max_sliced_wasserstein, sliced_wasserstein, sphere_directions

from .strategies import offsets, rotations, sample_pairs, scale_factors, spread_pairs, weights

TOL = dict(rtol=1e-9, atol=1e-10)
FAST = settings(max_examples=25, deadline=None)


def _sw(x, y, **kw):
    return sliced_wasserstein(x, y, n_projections=kw.pop("n_projections", 20), **kw)


def _shuffled(x, random):
    """The rows of x in an order drawn by hypothesis's ``random``."""
    perm = list(range(len(x)))
    random.shuffle(perm)
    return x[perm]


def _msw(x, y, **kw):
    """Max-sliced W_k, its ConvergenceWarning silenced.  The objective is piecewise smooth:
    on a few generated pairs (about 1 in 100) the ascent crawls along a kink and stops at
    max_iter, rightly not converged.  Every accepted step increases the value, so the
    bounds tests hold for it as well; tests that compare two ascents assume both converged."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", otlab.ConvergenceWarning)
        return max_sliced_wasserstein(x, y, **kw)


def _rounding_of_shift(x, y, shift):
    """Twice the most that rounding ``x + shift``, ``y + shift`` can move a (sliced) W_k.

    Each point moves by at most ``delta`` per coordinate from the exact translation, so
    by ``delta sqrt(d)`` along any direction, and W_k, a metric, by at most twice that.
    Points 0.0003 apart shifted by 16777215 (ulp 3.7e-9) moved max-sliced W_1 = 5e-5 by
    2.3e-10 (4.5e-6 relative).
    """
    delta = max(np.abs((z + shift) - shift - z).max() for z in (x, y))
    return 4.0 * delta * math.sqrt(x.shape[1])


@FAST
@given(spread_pairs(max_dim=4), offsets, st.sampled_from([1, 2]))
def test_common_translation_leaves_sliced_distance_unchanged(pair, shift, order):
    x, y = pair
    base = _sw(x, y, order=order)
    moved = _sw(x + shift, y + shift, order=order)
    np.testing.assert_allclose(moved.value, base.value, rtol=1e-6,
                               atol=1e-6 * base.value + 1e-12 + _rounding_of_shift(x, y, shift))


@FAST
@given(spread_pairs(max_dim=4), scale_factors, st.sampled_from([1, 2, 3.5]))
def test_scaling_the_points_scales_sliced_distance_by_the_factor(pair, c, order):
    x, y = pair
    base = _sw(x, y, order=order)
    scaled = _sw(c * x, c * y, order=order)
    np.testing.assert_allclose(scaled.value, abs(c) * base.value, rtol=1e-9)
    np.testing.assert_allclose(scaled.standard_error, abs(c) * base.standard_error, rtol=1e-6,
                               atol=1e-9 * scaled.value)


@FAST
@given(sample_pairs(max_dim=4), st.randoms(use_true_random=False))
def test_permuting_points_leaves_sliced_distance_unchanged(pair, random):
    x, y = pair
    np.testing.assert_allclose(_sw(_shuffled(x, random), y).value, _sw(x, y).value, **TOL)


@FAST
@given(sample_pairs(max_dim=3), st.data())
def test_splitting_a_point_into_weighted_duplicates_leaves_sliced_distance_unchanged(pair, data):
    x, y = pair
    w = data.draw(weights(len(x)))
    xd = np.vstack([x, x[:1]])
    wd = np.concatenate([w, [w[0] / 2]])
    wd[0] /= 2
    np.testing.assert_allclose(_sw(xd, y, a=wd).value, _sw(x, y, a=w).value, **TOL)


@FAST
@given(spread_pairs(max_dim=4), st.sampled_from([1, 2]))
def test_sliced_and_max_sliced_are_at_most_the_wasserstein_distance(pair, order):
    x, y = pair
    w = otlab.wasserstein(x, y, order=order)
    assert _sw(x, y, order=order).value <= w * (1 + 1e-9) + 1e-12
    assert _msw(x, y, order=order, n_projections=20).value <= w * (1 + 1e-9) + 1e-12


@FAST
@given(sample_pairs(max_dim=1), st.sampled_from([1, 2, 3]))
def test_sliced_distance_in_one_dimension_is_the_wasserstein_distance(pair, order):
    res = _sw(*pair, order=order)
    np.testing.assert_allclose(res.value, otlab.wasserstein(*pair, order=order), **TOL)
    assert res.standard_error == 0.0


@FAST
@given(sample_pairs(max_dim=3), st.sampled_from([1, 2]), st.integers(0, 2**31))
def test_sliced_and_max_sliced_equal_pot_on_the_same_directions(pair, order, seed):
    x, y = pair
    theta, _ = sphere_directions(x.shape[1], 15, seed=seed)
    ours = sliced_wasserstein(x, y, order=order, n_projections=15, seed=seed)
    np.testing.assert_allclose(
        ours.value, ot.sliced_wasserstein_distance(x, y, projections=theta, p=order), **TOL)
    # POT's max-sliced value is the maximum over the directions, where otlab's ascent starts.
    ours_max = _msw(x, y, order=order, n_projections=15, seed=seed)
    pot_max = ot.max_sliced_wasserstein_distance(x, y, projections=theta, p=order)
    assert ours_max.value >= pot_max * (1 - 1e-9) - 1e-12


@FAST
@given(spread_pairs(min_n=3, max_n=8, max_dim=3), st.data())
def test_rotating_both_samples_changes_sliced_distance_within_its_standard_error(pair, data):
    x, y = pair
    r = data.draw(rotations(x.shape[1]))
    base = _sw(x, y, n_projections=60)
    turned = _sw(x @ r.T, y @ r.T, n_projections=60, seed=1)
    bound = 6 * np.hypot(base.standard_error, turned.standard_error) + 1e-9 * base.value
    assert abs(turned.value - base.value) <= bound


def test_float32_points_give_the_float64_value_to_single_precision():
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(50, 3)) + 500, rng.normal(size=(40, 3)) + 500.5
    v64 = _sw(x, y).value
    v32 = _sw(x.astype(np.float32), y.astype(np.float32)).value
    np.testing.assert_allclose(v32, v64, rtol=1e-4)


@pytest.mark.parametrize("theta", [-0.8, 0.05, 0.5])
def test_sliced_w1_between_parallel_lines_in_the_plane_is_two_theta_over_pi(theta):
    z = (np.arange(400) + 0.5) / 400
    line0 = np.column_stack([np.zeros_like(z), z])
    line1 = np.column_stack([np.full_like(z, theta), z])
    res = sliced_wasserstein(line0, line1, n_projections=200)
    assert abs(res.value - 2 * abs(theta) / np.pi) <= 3 * res.standard_error + 1e-4 * abs(theta)
    assert res.standard_error < 1e-3 * abs(theta)


def test_sliced_w2_between_shifted_samples_is_the_shift_over_root_d():
    # x and x + v: every projection is a shift by <theta, v>, so SW_2^2 = mean <theta, v>^2.
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 4))
    v = np.array([1.0, -2.0, 0.5, 3.0])
    res = sliced_wasserstein(x, x + v, order=2, n_projections=400, seed=2)
    target = np.linalg.norm(v) / 2.0
    assert abs(res.value - target) <= 5 * res.standard_error


def _random_pair(data_seed, dim, n=60, m=50):
    rng = np.random.default_rng(data_seed)
    x = rng.normal(size=(n, dim))
    y = rng.normal(size=(m, dim)) * rng.uniform(0.5, 2.0, dim) + rng.normal(size=dim)
    return x, y


@settings(max_examples=4, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from([(3, 60, 1), (5, 20, 1), (6, 120, 2), (4, 40, 2)]))
def test_reported_standard_error_matches_the_spread_over_direction_seeds(data_seed, case):
    # (3, 60): 20 orthonormal frames; (5, 20): 20 independent directions (fewer than 10 frames).
    # The spread of 48 values is known to about 10 %, the mean of 48 standard errors to a few %.
    dim, n_projections, order = case
    x, y = _random_pair(data_seed, dim)
    runs = [sliced_wasserstein(x, y, order=order, n_projections=n_projections, seed=s)
            for s in range(48)]
    spread = np.std([r.value for r in runs], ddof=1)
    mean_se = np.mean([r.standard_error for r in runs])
    assert 0.5 * spread < mean_se < 2.0 * spread


@settings(max_examples=3, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_standard_error_in_the_plane_is_conservative(data_seed):
    # The rotated angle grid is far more accurate than its quarter grids, which give the error.
    x, y = _random_pair(data_seed, 2)
    runs = [sliced_wasserstein(x, y, n_projections=40, seed=s) for s in range(32)]
    spread = np.std([r.value for r in runs], ddof=1)
    assert np.mean([r.standard_error for r in runs]) > 0.8 * spread


@pytest.mark.slow
@settings(max_examples=2, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from([3, 5]))
def test_tol_gives_an_error_within_the_target_against_many_directions(data_seed, dim):
    # Directions are added until the standard error is below tol; the actual error against
    # a reference of at least 40000 directions (as many as its own standard error needs to be
    # below tol / 5: some drawn pairs spread more) is then about tol or less.
    x, y = _random_pair(data_seed, dim)
    tol = 5e-3
    reference = sliced_wasserstein(x, y, n_projections=40_000, tol=tol / 5,
                                   max_projections=400_000, seed=2**20)
    assert reference.standard_error < tol / 5
    runs = [sliced_wasserstein(x, y, n_projections=10, tol=tol, seed=s) for s in range(16)]
    assert all(r.converged and r.standard_error <= tol for r in runs)
    rms = np.sqrt(np.mean([(r.value - reference.value) ** 2 for r in runs]))
    assert rms < 2 * tol


def test_tol_adds_projections_until_the_standard_error_is_met():
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(80, 3)), rng.normal(size=(70, 3)) + 1
    res = sliced_wasserstein(x, y, n_projections=10, tol=2e-3)
    assert res.converged and res.standard_error <= 2e-3 and res.n_projections > 10


def test_tol_out_of_reach_warns_and_says_not_converged():
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(30, 3)), rng.normal(size=(30, 3)) + 1
    with pytest.warns(otlab.ConvergenceWarning, match="max_projections=12"):
        res = sliced_wasserstein(x, y, n_projections=6, tol=1e-9, max_projections=12)
    assert not res.converged and res.n_projections == 12


def test_max_sliced_finds_the_direction_of_a_pure_shift():
    # W_1 along theta is |<theta, v>|: the maximum |v| = 5 is at theta = v / |v|.
    x = np.random.default_rng(0).normal(size=(50, 3))
    res = max_sliced_wasserstein(x, x + [3.0, 0.0, 4.0], n_projections=3)
    assert res.converged
    np.testing.assert_allclose(res.value, 5.0, rtol=1e-9)
    np.testing.assert_allclose(abs(res.direction @ [0.6, 0.0, 0.8]), 1.0, rtol=1e-9)


@FAST
@given(st.floats(0.01, 100.0), st.sampled_from([-1.0, 1.0]), st.integers(0, 2**31),
       st.integers(1, 4))
def test_max_sliced_between_parallel_lines_is_their_distance_across_them(gap, sign, seed, n_proj):
    # P_0 = (0, Z), P_theta = (theta, Z): along (cos a, sin a) W_1 = |theta cos a|, maximal at a = 0.
    z = (np.arange(64) + 0.5) / 64
    lines = np.column_stack([np.zeros(64), z]), np.column_stack([np.full(64, sign * gap), z])
    res = max_sliced_wasserstein(*lines, n_projections=n_proj, seed=seed)
    assert res.converged
    np.testing.assert_allclose(res.value, gap, rtol=1e-9)
    np.testing.assert_allclose(abs(res.direction[0]), 1.0, rtol=1e-6)


@pytest.mark.parametrize("dim", [3, 8])
def test_max_sliced_finds_the_axis_along_which_two_gaussians_differ(dim):
    # x ~ N(0, I), y ~ N(0, diag(9, 1, ..., 1)): along theta the projections are N(0, 1) and
    # N(0, 1 + 8 theta_1^2), so W_1 = (sqrt(1 + 8 theta_1^2) - 1) sqrt(2 / pi), largest at e_1:
    # 2 sqrt(2 / pi) = 1.596.  Ten random directions rarely come near e_1 in dimension 8.
    rng = np.random.default_rng(11)
    x, y = rng.normal(size=(4000, dim)), rng.normal(size=(4000, dim))
    y[:, 0] *= 3.0
    res = max_sliced_wasserstein(x, y, n_projections=10, seed=3)
    theta, _ = sphere_directions(dim, 10, seed=3)
    start = ot.max_sliced_wasserstein_distance(x, y, projections=theta, p=1)
    assert res.converged and res.n_iters > 0 and res.value > start
    assert abs(res.direction[0]) > 0.99
    np.testing.assert_allclose(res.value, 2 * np.sqrt(2 / np.pi), rtol=0.05)


@FAST
@given(spread_pairs(max_dim=4), st.sampled_from([1, 2]), st.integers(0, 2**31))
def test_max_sliced_lies_between_sliced_and_wasserstein(pair, order, seed):
    x, y = pair
    sw = sliced_wasserstein(x, y, order=order, n_projections=12, seed=seed).value
    msw = _msw(x, y, order=order, n_projections=12, seed=seed)
    w = otlab.wasserstein(x, y, order=order)
    assert sw * (1 - 1e-9) - 1e-12 <= msw.value <= w * (1 + 1e-9) + 1e-12
    np.testing.assert_allclose(np.linalg.norm(msw.direction), 1.0, rtol=1e-12)


@FAST
@given(spread_pairs(max_dim=4), offsets, scale_factors, st.sampled_from([1, 2]))
def test_max_sliced_is_translation_invariant_and_scales_with_the_points(pair, shift, c, order):
    # The ascent runs in the centred, power-of-two-scaled frame: it takes the same steps.
    x, y = pair
    base = _msw(x, y, order=order, n_projections=6)
    moved = _msw(x + shift, y + shift, order=order, n_projections=6)
    scaled = _msw(c * x, c * y, order=order, n_projections=6)
    assume(base.converged and moved.converged and scaled.converged)
    np.testing.assert_allclose(moved.value, base.value, rtol=1e-6,
                               atol=1e-6 * base.value + 1e-12 + _rounding_of_shift(x, y, shift))
    # a value at round-off (x and y almost equal) scales only up to round-off of the data's span
    span = float(np.ptp(np.concatenate([x, y])))
    np.testing.assert_allclose(scaled.value, abs(c) * base.value, rtol=1e-6,
                               atol=1e-9 * abs(c) * span)


@FAST
@given(sample_pairs(max_dim=3), st.randoms(use_true_random=False))
def test_permuting_points_leaves_max_sliced_distance_unchanged(pair, random):
    x, y = pair
    permuted = _msw(_shuffled(x, random), y, n_projections=6)
    base = _msw(x, y, n_projections=6)
    assume(permuted.converged and base.converged)
    np.testing.assert_allclose(permuted.value, base.value, **TOL)


def test_rotating_both_samples_leaves_max_sliced_distance_of_a_shift_unchanged():
    rng = np.random.default_rng(12)
    x = rng.normal(size=(40, 4))
    q, _ = np.linalg.qr(rng.normal(size=(4, 4)))
    v = np.array([1.0, -2.0, 0.5, 1.5])
    base = max_sliced_wasserstein(x, x + v, n_projections=5, order=2)
    turned = max_sliced_wasserstein(x @ q.T, (x + v) @ q.T, n_projections=5, order=2)
    np.testing.assert_allclose([base.value, turned.value], np.linalg.norm(v), rtol=1e-9)
    np.testing.assert_allclose(abs(turned.direction @ (q @ v)) / np.linalg.norm(v), 1.0,
                               rtol=1e-9)


def test_max_sliced_ascent_stopped_by_max_iter_warns_and_says_not_converged():
    rng = np.random.default_rng(13)
    x, y = rng.normal(size=(200, 5)), rng.normal(size=(200, 5)) * [3, 1, 1, 1, 1]
    with pytest.warns(otlab.ConvergenceWarning, match="max_iter=1"):
        res = max_sliced_wasserstein(x, y, n_projections=5, max_iter=1)
    assert not res.converged and res.n_iters == 1
    assert res.value > 0


def test_max_sliced_torch_value_equals_numpy_and_differentiates_along_the_direction_found():
    rng = np.random.default_rng(14)
    x, y = rng.normal(size=(30, 3)), rng.normal(size=(30, 3)) * [2.0, 1.0, 1.0]
    xt = torch.tensor(x, requires_grad=True)
    res = max_sliced_wasserstein(xt, torch.tensor(y), order=2, n_projections=5)
    ref = max_sliced_wasserstein(x, y, order=2, n_projections=5)
    np.testing.assert_allclose(float(res), ref.value, **TOL)
    np.testing.assert_allclose(res.direction, ref.direction, rtol=0, atol=1e-12)
    res.value.backward()
    theta, h, e = res.direction, 1e-6, np.zeros_like(x)
    e[2, 0] = h
    along = lambda u: otlab.wasserstein(u @ theta, y @ theta, order=2)  # noqa: E731
    fd = (along(x + e) - along(x - e)) / (2 * h)
    np.testing.assert_allclose(xt.grad[2, 0].item(), fd, rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("call, match", [
    (lambda: sliced_wasserstein([[0.0, 0]], [[1.0, 0]], n_projections=0), "n_projections must be >= 1"),
    (lambda: sliced_wasserstein([[0.0, np.nan]], [[1.0, 0]]), "p must be finite"),
    (lambda: sliced_wasserstein([[0.0, 0]], [[1.0, 0]], order=0.5), "order"),
    (lambda: sliced_wasserstein([[0.0, 0]], [[1.0, 0]], tol=-1.0), "tol"),
    (lambda: sliced_wasserstein([[0.0, 0]], [[1.0, 0]], a=[-1.0]), "a must be non-negative"),
    (lambda: sliced_wasserstein([[0.0, 0]], [[1.0, 0, 2]]), "same dimension"),
    (lambda: max_sliced_wasserstein([[0.0, 0]], [[1.0, 0]], n_projections=-3), "n_projections"),
    (lambda: max_sliced_wasserstein([[0.0, 0]], [[1.0, 0]], max_iter=0), "max_iter"),
    (lambda: max_sliced_wasserstein([[0.0, 0]], [[1.0, 0]], step_tol=-1e-3), "step_tol"),
    (lambda: max_sliced_wasserstein([[0.0, 0]], [[1.0, np.inf]]), "q must be finite"),
])
def test_bad_input_raises_a_value_error_naming_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def _with_far_point(z, w, far):
    """``z``, uniform weights, and a point at ``far * (1, 1/3, 1/5, ...)`` of weight ``w``."""
    point = far / (1.0 + 2.0 * np.arange(z.shape[1]))
    weights = np.append(np.full(len(z), (1 - w) / len(z)), w)
    return np.vstack([z, point]), weights


@FAST
@given(spread_pairs(max_dim=4), st.sampled_from([1e8, 1e12, 1e16, 1e50, 1e100]),
       st.sampled_from([1e-3, 1e-9]), st.sampled_from([1, 2]))
def test_a_coinciding_far_pair_of_weight_w_scales_sliced_wk_to_the_k_by_1_minus_w(
        pair, far, w, order):
    # Along every direction but a null set the pair projects beyond both samples, at the same
    # place with the same mass, so the quantile coupling matches it with itself: each projected
    # W_k^k becomes (1 - w) times that of the samples alone (same directions: same seed, same d).
    # The frame was centred on the midpoint of the bounding box, half-way to the pair: the
    # samples kept only the pair's digits (SW_1 6.5 % off at 1e16, max-sliced 32 %; 0 at 1e100).
    x, y = pair
    # as many points in y as in x, so that both samples give the pair the same weight and their
    # cumulative weights reach it at the same float (else ulps of mass travel far, rightly)
    y = y[np.arange(len(x)) % len(y)]
    (xf, a), (yf, b) = _with_far_point(x, w, far), _with_far_point(y, w, far)
    base = _sw(x, y, order=order).value
    # measured after the fix: relative error below 1e-14.  A value at round-off of the data's
    # span is only that: samples 5.4e-113 apart beside a point at -1 gave SW 0 alone and
    # 2.7e-113 with the far pair (their frames differ), so the floor is 1e-12 of the span.
    floor = 1e-12 * float(np.ptp(np.concatenate([x, y])))
    np.testing.assert_allclose(_sw(xf, yf, a=a, b=b, order=order).value,
                               (1 - w) ** (1 / order) * base, rtol=1e-11, atol=floor)
    ref, res = _msw(x, y, order=order), _msw(xf, yf, a=a, b=b, order=order)
    assume(ref.converged and res.converged)
    np.testing.assert_allclose(res.value, (1 - w) ** (1 / order) * ref.value, rtol=1e-9,
                               atol=floor)


@FAST
@given(spread_pairs(max_dim=4), st.sampled_from([1e8, 1e16, 1e50, 1e100, 1e300]),
       st.sampled_from([1, 2]))
def test_a_far_point_of_weight_zero_leaves_sliced_and_max_sliced_distance_unchanged(
        pair, far, order):
    # was 0.0 for a weight-0 point at 1e300 (expected 2/pi for two unit segments)
    x, y = pair
    xf, a = _with_far_point(x, 0.0, far)
    base = _sw(x, y, order=order).value
    # measured after the fix: relative error below 1e-14
    np.testing.assert_allclose(_sw(xf, y, a=a, order=order).value, base, rtol=1e-11, atol=1e-300)
    ref, res = _msw(x, y, order=order), _msw(xf, y, a=a, order=order)
    assume(ref.converged and res.converged)
    np.testing.assert_allclose(res.value, ref.value, rtol=1e-9)


@pytest.mark.parametrize("order", [1, 2, 3])
@pytest.mark.parametrize("fn", [sliced_wasserstein, max_sliced_wasserstein])
def test_gradient_of_sliced_distance_between_a_sample_and_itself_is_zero(fn, order):
    # the k-th root of a mean that is 0 (the minimum) gave NaN gradients for k >= 2
    x = torch.tensor(np.random.default_rng(0).normal(size=(8, 3)), requires_grad=True)
    value = fn(x, x.detach().clone(), order=order, n_projections=30).value
    value.backward()
    assert value.item() == 0.0
    assert torch.equal(x.grad, torch.zeros_like(x))


def test_a_tol_far_below_the_standard_error_adds_projections_up_to_the_cap():
    # (se / tol) ** 2 overflowed the Python float for tol = 1e-300: OverflowError (errno 34)
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(20, 3)), rng.normal(size=(20, 3))
    with pytest.warns(otlab.ConvergenceWarning, match="max_projections=300"):
        res = sliced_wasserstein(x, y, tol=1e-300, max_projections=300)
    assert not res.converged and res.n_projections == 300
