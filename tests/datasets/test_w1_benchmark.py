"""The W_1 benchmark pairs: known potential, plan and distance (Korotin, Kolesov & Burnaev 2022)."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import otlab
from otlab.critics import lipschitz_audit
from otlab.datasets import W1BenchmarkPair, w1_benchmark

pairs = st.builds(lambda d, w, s: w1_benchmark(d, w, seed=s, n_mc=256),
                  st.integers(1, 12), st.integers(1, 40), st.integers(0, 2**32 - 1))


@settings(max_examples=20, deadline=None)
@given(pair=pairs, seed=st.integers(0, 2**32 - 1))
def test_gradient_has_norm_one_and_points_against_the_move_where_mass_moves(pair, seed):
    x, y = pair.sample_plan(200, seed=seed)
    to_centre = np.linalg.norm(x[:, None, :] - pair.centers[None], axis=2).min(axis=1)
    move = y - x
    length = np.linalg.norm(move, axis=1)
    grad = pair.gradient(x[to_centre > 0])
    np.testing.assert_allclose(np.linalg.norm(grad, axis=1), 1.0, rtol=1e-10)
    # f = -u decreases along the plan's moves at unit rate: grad f = -(y - x)/|y - x|.
    # The direction of x - a_k carries round-off ~1e-16 |a_k| / |x - a_k|: away from the
    # centres (and for moves not lost in round-off) it is good to 1e-9.
    keep = (to_centre > 1e-6) & (length > 1e-6)
    np.testing.assert_allclose(pair.gradient(x[keep]), -move[keep] / length[keep, None],
                               atol=1e-7)


@settings(max_examples=20, deadline=None)
@given(pair=pairs, seed=st.integers(0, 2**32 - 1))
def test_potential_drops_by_the_distance_moved_along_every_plan_pair(pair, seed):
    x, y = pair.sample_plan(300, seed=seed)
    np.testing.assert_allclose(pair.potential(x) - pair.potential(y),
                               np.linalg.norm(y - x, axis=1), atol=1e-10)  # potentials up to ~30: round-off ~1e-14


@settings(max_examples=20, deadline=None)
@given(pair=pairs, seed=st.integers(0, 2**32 - 1))
def test_potential_is_one_lipschitz_on_random_pairs(pair, seed):
    rng = np.random.default_rng(seed)
    a = rng.uniform(-3, 3, size=(500, pair.dim))
    b = np.concatenate([rng.uniform(-3, 3, size=(250, pair.dim)),
                        a[:250] + 1e-3 * rng.standard_normal((250, pair.dim))])
    slope = np.abs(pair.potential(a) - pair.potential(b)) / np.linalg.norm(a - b, axis=1)
    assert slope.max() <= 1 + 1e-9
    audit = lipschitz_audit(pair.potential, *pair.sample(200, seed=rng), n_pairs=2000)
    # Gradients and x-to-y slopes are resolved to round-off; the audit's slopes between
    # sample points as close as 1e-12 carry eps |f| / |x - x'| (up to 5e-6 measured in D = 1).
    assert max(audit.max_grad_on_samples, audit.max_grad_between, audit.max_slope_xy) <= 1 + 1e-9
    assert audit.max_slope <= 1 + 1e-2


@settings(max_examples=10, deadline=None)
@given(pair=pairs, seed=st.integers(0, 2**32 - 1))
def test_plan_pairs_are_an_optimal_coupling_of_their_own_empirical_measures(pair, seed):
    """sum_i |x_i - y_i| / n = mean f(x) - mean f(y) <= W_1(empirical) <= the identity coupling."""
    x, y = pair.sample_plan(60, seed=seed)
    np.testing.assert_allclose(otlab.wasserstein(x, y), np.linalg.norm(y - x, axis=1).mean(),
                               rtol=1e-9, atol=1e-10)


def test_true_w1_is_the_mean_move_with_a_standard_error_that_falls_as_root_n():
    small, large = (w1_benchmark(4, 16, seed=3, n_mc=n) for n in (1024, 16384))
    np.testing.assert_allclose(small.w1_stderr / large.w1_stderr, 4.0, rtol=0.25)
    assert abs(small.w1 - large.w1) < 5 * small.w1_stderr
    x, y = large.sample(20000, seed=4)  # independent: the Kantorovich gap of f is W_1
    gap = large.potential(x).mean() - large.potential(y).mean()
    assert abs(gap - large.w1) < 5 * np.hypot(0.02, large.w1_stderr)


def test_exact_w1_of_large_independent_samples_approaches_the_true_value_in_2d():
    pair = w1_benchmark(2, 4, seed=0)
    x, y = pair.sample(2000, seed=1)
    # measured: sd 0.016-0.029 over seeds at n = 4000-1000, upward bias < 0.01
    assert abs(otlab.wasserstein(x, y) - pair.w1) < 0.08


def test_potential_and_gradient_take_torch_and_agree_with_autograd():
    pair = w1_benchmark(3, 5, seed=1, n_mc=64)
    x, _ = pair.sample(50, seed=2)
    z = torch.tensor(x, requires_grad=True)
    (auto,) = torch.autograd.grad(pair.potential(z).sum(), z)
    np.testing.assert_allclose(auto.numpy(), pair.gradient(x), atol=1e-10)
    out = pair.gradient(torch.tensor(x, dtype=torch.float32))
    assert out.dtype == torch.float32 and out.shape == (50, 3)
    np.testing.assert_allclose(pair.potential(x), pair.potential(torch.tensor(x)).detach().numpy())


def test_same_seed_gives_the_same_pair_and_samples():
    a, b = w1_benchmark(5, 7, seed=11, n_mc=128), w1_benchmark(5, 7, seed=11, n_mc=128)
    np.testing.assert_array_equal(a.centers, b.centers)
    assert a.w1 == b.w1 and isinstance(a, W1BenchmarkPair)
    np.testing.assert_array_equal(a.sample(10, seed=1)[0], b.sample(10, seed=1)[0])
    assert np.abs(a.sample_plan(10, seed=2)[1]).max() <= a.half_width


@pytest.mark.parametrize("kwargs, name", [
    ({"dim": 0}, "dim"), ({"dim": 2.5}, "dim"), ({"n_funnels": -1}, "n_funnels"),
    ({"half_width": 0.0}, "half_width"), ({"half_width": float("inf")}, "half_width"),
    ({"degree": 0.5}, "degree"), ({"degree": "8"}, "degree"), ({"bias_scale": -1.0}, "bias_scale"),
    ({"n_mc": 1}, "n_mc"), ({"seed": -3}, "seed"), ({"seed": 1.5}, "seed"),
])
def test_bad_arguments_raise_naming_them(kwargs, name):
    args = {"dim": 2, "n_funnels": 4, "seed": 0, **kwargs}
    with pytest.raises((ValueError, TypeError), match=name):
        w1_benchmark(args.pop("dim"), args.pop("n_funnels"), **args)


def test_bad_sample_sizes_raise_naming_n():
    pair = w1_benchmark(2, 4, seed=0, n_mc=16)
    for bad in (0, -1):
        with pytest.raises(ValueError, match="n must be"):
            pair.sample(bad, seed=0)
        with pytest.raises(ValueError, match="n must be"):
            pair.sample_plan(bad, seed=0)


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_source_and_target_samplers_draw_the_marginals_of_the_plan(seed):
    pair = w1_benchmark(3, 5, seed=1, n_mc=64)
    x, y = pair.sample_plan(300, seed=seed)
    np.testing.assert_array_equal(pair.sample_source(300, seed), x)
    t = pair.sample_target(300, np.random.default_rng(seed))
    assert t.shape == (300, 3) and np.abs(t).max() <= pair.half_width
    np.testing.assert_array_equal(t, pair.sample_target(300, np.random.default_rng(seed)))
    with pytest.raises(ValueError, match="n must be"):
        pair.sample_target(0, seed)


@pytest.mark.parametrize("half_width", [1e-100, 1e-30, 1e30, 1e100])
def test_true_w1_scales_with_the_cube_when_the_offsets_scale_with_it(half_width):
    # the same seed draws the same funnels in units of h: every length, W_1 included, scales by h
    base = w1_benchmark(3, 8, seed=4, bias_scale=0.04, n_mc=512)
    pair = w1_benchmark(3, 8, seed=4, half_width=half_width, bias_scale=0.04 * half_width / 2.5,
                        n_mc=512)
    np.testing.assert_allclose(pair.w1 / half_width, base.w1 / 2.5, rtol=1e-9)


@pytest.mark.parametrize("half_width", [1e-300, 1e-170, 1e160, 1e300])
def test_a_half_width_whose_squared_distances_leave_float64_is_rejected_by_name(half_width):
    # were: W_1 = 0 (squares underflowed) below about 1e-160, NaN above about 1e155
    with pytest.raises(ValueError, match=r"half_width must be between 1e-100 and 1e\+100; got"):
        w1_benchmark(2, 4, seed=0, half_width=half_width, n_mc=64)


@pytest.mark.parametrize("z", [np.zeros((3, 5)), np.zeros(2), torch.zeros(3, 2, 2)])
def test_potential_and_gradient_reject_points_of_the_wrong_shape_by_name(z):
    pair = w1_benchmark(2, 4, seed=0, n_mc=16)
    for method in (pair.potential, pair.gradient):
        with pytest.raises(ValueError, match=r"z must have shape \(k, 2\); got shape"):
            method(z)


@pytest.mark.parametrize("kwargs, error, match", [
    ({"biases": np.zeros(3)}, ValueError, r"biases must have one offset per centre \(4\); got shape \(3,\)"),
    ({"centers": np.zeros(4), "biases": np.zeros(4)}, ValueError, r"centers must have shape \(W, D\) with W, D >= 1; got shape \(4,\)"),
    ({"centers": np.full((4, 2), 10.0)}, ValueError, r"centers must lie in the cube \[-2\.5, 2\.5\]\^D; got"),
    ({"centers": np.full((4, 2), np.nan)}, ValueError, r"centers must be finite"),
    ({"biases": np.full(4, np.inf)}, ValueError, r"biases must be finite"),
    ({"half_width": -1.0}, ValueError, r"half_width must be finite and > 0"),
    ({"degree": 0.5}, ValueError, r"degree must be finite and >= 1; got 0\.5"),
])
def test_a_pair_built_from_bad_funnels_is_rejected_by_name(kwargs, error, match):
    # a pair built directly (e.g. from published funnels) is checked like w1_benchmark's
    args = {"centers": np.zeros((4, 2)), "biases": np.zeros(4), **kwargs}
    with pytest.raises(error, match=match):
        W1BenchmarkPair(**args)


def test_a_pair_built_from_lists_of_funnels_samples_like_one_from_arrays():
    from_lists = W1BenchmarkPair([[0.5, -1.0], [1.0, 1.0]], [0.0, 0.1])
    from_arrays = W1BenchmarkPair(np.array([[0.5, -1.0], [1.0, 1.0]]), np.array([0.0, 0.1]))
    np.testing.assert_array_equal(from_lists.sample_plan(50, seed=3)[0],
                                  from_arrays.sample_plan(50, seed=3)[0])
    assert from_lists.dim == 2 and from_lists.n_funnels == 2
