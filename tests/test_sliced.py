"""Sliced and max-sliced W_k: metamorphic properties, closed forms, POT, standard errors, bad input."""

import numpy as np
import ot
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import otlab
from otlab.sliced import max_sliced_wasserstein, sliced_wasserstein, sphere_directions

from .strategies import offsets, rotations, sample_pairs, scale_factors, spread_pairs, weights

TOL = dict(rtol=1e-9, atol=1e-12)
FAST = settings(max_examples=25, deadline=None)


def _sw(x, y, **kw):
    return sliced_wasserstein(x, y, n_projections=kw.pop("n_projections", 20), **kw)


@FAST
@given(spread_pairs(max_dim=4), offsets, st.sampled_from([1, 2]))
def test_common_translation_leaves_sliced_distance_unchanged(pair, shift, order):
    x, y = pair
    base = _sw(x, y, order=order)
    moved = _sw(x + shift, y + shift, order=order)
    np.testing.assert_allclose(moved.value, base.value, rtol=1e-6, atol=1e-6 * base.value + 1e-12)


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
    perm = list(range(len(x)))
    random.shuffle(perm)
    np.testing.assert_allclose(_sw(x[perm], y).value, _sw(x, y).value, **TOL)


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
    assert max_sliced_wasserstein(x, y, order=order, n_projections=20).value <= w * (1 + 1e-9) + 1e-12


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
    ours_max = max_sliced_wasserstein(x, y, order=order, n_projections=15, seed=seed)
    np.testing.assert_allclose(
        ours_max.value, ot.max_sliced_wasserstein_distance(x, y, projections=theta, p=order), **TOL)


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


def test_standard_error_matches_the_spread_over_seeds():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(100, 5)), 1.5 * rng.normal(size=(100, 5)) + 0.3
    runs = [sliced_wasserstein(x, y, n_projections=50, seed=s) for s in range(60)]
    spread = np.std([r.value for r in runs], ddof=1)
    mean_se = np.mean([r.standard_error for r in runs])
    assert 0.6 * spread < mean_se < 1.6 * spread


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
    x = np.random.default_rng(0).normal(size=(50, 3))
    res = max_sliced_wasserstein(x, x + [3.0, 0.0, 4.0], n_projections=3000)
    # 3000 directions leave the best within about 0.04 rad of the shift: cos 0.04 > 0.999.
    np.testing.assert_allclose(res.value, 5.0, rtol=5e-3)
    np.testing.assert_allclose(abs(res.direction @ [0.6, 0.0, 0.8]), 1.0, rtol=5e-3)


def test_torch_value_equals_numpy_and_its_gradient_matches_finite_differences():
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(30, 3)), rng.normal(size=(25, 3)) + 0.7
    xt = torch.tensor(x, requires_grad=True)
    res = _sw(xt, torch.tensor(y), order=2, seed=5)
    np.testing.assert_allclose(float(res), _sw(x, y, order=2, seed=5).value, **TOL)
    assert res.value.dtype == torch.float64
    res.value.backward()
    h, e = 1e-6, np.zeros_like(x)
    e[3, 1] = h
    fd = (_sw(x + e, y, order=2, seed=5).value - _sw(x - e, y, order=2, seed=5).value) / (2 * h)
    np.testing.assert_allclose(xt.grad[3, 1].item(), fd, rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("call, match", [
    (lambda: sliced_wasserstein([[0.0, 0]], [[1.0, 0]], n_projections=0), "n_projections must be >= 1"),
    (lambda: sliced_wasserstein([[0.0, np.nan]], [[1.0, 0]]), "p must be finite"),
    (lambda: sliced_wasserstein([[0.0, 0]], [[1.0, 0]], order=0.5), "order"),
    (lambda: sliced_wasserstein([[0.0, 0]], [[1.0, 0]], tol=-1.0), "tol"),
    (lambda: sliced_wasserstein([[0.0, 0]], [[1.0, 0]], a=[-1.0]), "a must be non-negative"),
    (lambda: sliced_wasserstein([[0.0, 0]], [[1.0, 0, 2]]), "same dimension"),
    (lambda: max_sliced_wasserstein([[0.0, 0]], [[1.0, 0]], n_projections=-3), "n_projections"),
])
def test_bad_input_raises_a_value_error_naming_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()
