"""Critics under translation, scaling and permutation of the data (metamorphic properties).

W_1 is invariant under a common translation, equivariant under scaling
(W_1(cx, cy) = c W_1(x, y), c > 0) and a function of the empirical measures
only; the exact critic and every neural critic must follow, at offsets up to
1e8 and scales from 1e-150 to 1e150.  The neural runs are tiny (a dozen points,
a few steps): the properties hold for any training length.
"""

import warnings

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import otlab
from otlab.critics import CriticFailedWarning, estimate_w1, exact_critic

#: Coordinates on a grid of 1/16: x + offset is then exact in float64 for every
#: offset below 1e8, so the translated problem holds the same points (finer
#: detail cannot survive a translation by 1e8 in any float64 code).
coordinates = st.integers(-160, 160).map(lambda k: k / 16)
offsets = st.floats(-1e8, 1e8, allow_nan=False, allow_infinity=False)
exponents = st.integers(-150, 150)

#: Neural estimates train in float32: a translation moves the standardised
#: inputs by float64 round-off, which can change the last float32 bit of a few
#: of them, so the estimates agree to this relative tolerance, not bitwise.
NEURAL_RTOL = 1e-4

TINY = {"hidden": (8,), "steps": 10, "batch_size": 16, "holdout": 0.0, "audit": False}


@st.composite
def cloud_pairs(draw, max_n=10):
    """Two clouds of the same dimension whose points are not all equal."""
    d = draw(st.integers(1, 3))
    x = draw(arrays(np.float64, (draw(st.integers(4, max_n)), d), elements=coordinates))
    y = draw(arrays(np.float64, (draw(st.integers(4, max_n)), d), elements=coordinates))
    assume(np.ptp(np.concatenate([x, y]), axis=0).max() > 0)
    return x, y


def _neural(x, y, method):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CriticFailedWarning)
        return estimate_w1(x, y, lipschitz=method, **TINY)


# --------------------------------------------------------------------------- exact critic


@settings(max_examples=30, deadline=None)
@given(cloud_pairs(), offsets)
def test_translating_both_samples_leaves_exact_critic_w1_unchanged(pair, offset):
    x, y = pair
    base, moved = exact_critic(x, y), exact_critic(x + offset, y + offset)
    tol = 1e-6 * (1 + base.w1)  # offset * eps64 relative to the spread
    np.testing.assert_allclose(moved.w1, base.w1, rtol=0, atol=tol)
    np.testing.assert_allclose(moved.gap, base.gap, rtol=0, atol=tol)
    np.testing.assert_allclose(moved(x + offset), base(x), rtol=0, atol=tol)


@settings(max_examples=30, deadline=None)
@given(cloud_pairs(), exponents)
def test_scaling_both_samples_scales_exact_critic_w1_and_keeps_its_critic_optimal(pair, exponent):
    x, y = pair
    c = 10.0**exponent
    base, scaled = exact_critic(x, y), exact_critic(c * x, c * y)
    np.testing.assert_allclose(scaled.w1, c * base.w1, rtol=1e-10, atol=0)
    np.testing.assert_allclose(scaled.gap, c * base.gap, rtol=1e-10, atol=0)
    # Optimal potentials are not unique (ties, here frequent): c * x is not exactly
    # the scaled points, so the scaled LP may pick another optimal vertex.  What
    # scaling guarantees is that the scaled critic, divided by c, is again an
    # optimal critic of the unscaled problem: it attains W_1 on the samples and is
    # 1-Lipschitz between them.
    fx, fy = scaled(c * x) / c, scaled(c * y) / c
    np.testing.assert_allclose(fx.mean() - fy.mean(), base.w1, rtol=1e-10,
                               atol=1e-10 * (1 + np.abs(fy).max()))
    points, values = np.concatenate([x, y]), np.concatenate([fx, fy])
    slopes = np.abs(values[:, None] - values[None, :])
    gaps = np.linalg.norm(points[:, None] - points[None, :], axis=-1)
    assert np.all(slopes <= gaps + 1e-9 * (1 + np.abs(values).max()))


@settings(max_examples=30, deadline=None)
@given(cloud_pairs(), st.randoms(use_true_random=False))
def test_permuting_the_rows_leaves_exact_critic_w1_unchanged(pair, random):
    x, y = pair
    px, py = random.sample(range(len(x)), len(x)), random.sample(range(len(y)), len(y))
    np.testing.assert_allclose(exact_critic(x[px], y[py]).w1, exact_critic(x, y).w1,
                               rtol=1e-12, atol=1e-12)


def test_exact_critic_is_exact_at_scale_1e_minus_300_and_offset_1e8():
    x, y = np.array([[0.0, 0.0], [1.0, 0.0]]), np.array([[0.0, 3.0], [1.0, 3.0]])
    np.testing.assert_allclose(exact_critic(1e-300 * x, 1e-300 * y).w1, 3e-300, rtol=1e-12)
    np.testing.assert_allclose(exact_critic(x + 1e8, y + 1e8).w1, 3.0, rtol=1e-7)


# --------------------------------------------------------------------------- neural critics


@pytest.mark.parametrize("method", ["gp", "sn", "ctransform"])
@settings(max_examples=6, deadline=None)
@given(pair=cloud_pairs(), offset=offsets)
def test_translating_both_samples_leaves_the_neural_estimate_unchanged(method, pair, offset):
    x, y = pair
    base, moved = _neural(x, y, method), _neural(x + offset, y + offset, method)
    np.testing.assert_allclose(moved.estimate, base.estimate, rtol=NEURAL_RTOL,
                               atol=NEURAL_RTOL * np.ptp(np.concatenate([x, y])))
    # A critic is defined up to a constant (its output bias gets no gradient, and
    # Adam turns round-off into steps of size lr): compare values up to their mean.
    moved_values, base_values = moved.critic(x + offset), base.critic(x)
    np.testing.assert_allclose(moved_values - moved_values.mean(),
                               base_values - base_values.mean(), rtol=NEURAL_RTOL,
                               atol=NEURAL_RTOL * (1 + np.abs(base_values).max()))


@pytest.mark.parametrize("method", ["gp", "sn", "ctransform"])
@settings(max_examples=6, deadline=None)
@given(pair=cloud_pairs(), exponent=exponents)
def test_scaling_both_samples_scales_the_neural_estimate(method, pair, exponent):
    x, y = pair
    c = 10.0**exponent
    base, scaled = _neural(x, y, method), _neural(c * x, c * y, method)
    np.testing.assert_allclose(scaled.estimate, c * base.estimate, rtol=NEURAL_RTOL,
                               atol=NEURAL_RTOL * c * np.ptp(np.concatenate([x, y])))
    assert scaled.critic.scale == pytest.approx(c * base.critic.scale, rel=1e-12)


@pytest.mark.parametrize("method", ["lp", "ctransform"])
@settings(max_examples=3, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), exponent=st.integers(1020, 1021))
def test_scaling_by_a_power_of_two_up_to_the_float_range_scales_the_neural_estimate(method, seed,
                                                                                   exponent):
    # Before: the frame's mean overflowed (70 points of order 1e307) and the run raised
    # CriticDivergedError blaming the learning rate.  A power of two scales the
    # standardisation exactly, so the runs are the same (measured: bitwise); rtol 1e-12.
    rng = np.random.default_rng(seed)
    x = np.round(rng.normal(size=(40, 2)) * 16) / 16
    y = np.round((rng.normal(size=(30, 2)) + [2.0, 0.0]) * 16) / 16
    c = 2.0**exponent
    base, scaled = _neural(x, y, method), _neural(c * x, c * y, method)
    np.testing.assert_allclose(scaled.estimate, c * base.estimate, rtol=1e-12)


def test_samplers_at_the_top_of_the_float_range_scale_the_estimate():
    c = 2.0**1021

    def p(n, rng):
        return rng.normal(size=(n, 2))

    def q(n, rng):
        return rng.normal(size=(n, 2)) + [2.0, 0.0]

    options = {**TINY, "n_eval": 256}
    options.pop("holdout")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CriticFailedWarning)  # ten steps: a scaled critic
        base = estimate_w1(p, q, **options)
        scaled = estimate_w1(lambda n, rng: c * p(n, rng), lambda n, rng: c * q(n, rng),
                             **options)
    np.testing.assert_allclose(scaled.estimate, c * base.estimate, rtol=1e-12)
    np.testing.assert_allclose(scaled.holdout_estimate, c * base.holdout_estimate, rtol=1e-12)


@pytest.mark.parametrize("method", ["clip", "lp", "sn", "ctransform"])
@settings(max_examples=5, deadline=None)
@given(pair=cloud_pairs(), random=st.randoms(use_true_random=False))
def test_permuting_the_rows_leaves_the_neural_estimate_unchanged(method, pair, random):
    x, y = pair
    px, py = random.sample(range(len(x)), len(x)), random.sample(range(len(y)), len(y))
    assert _neural(x[px], y[py], method).estimate == _neural(x, y, method).estimate


@pytest.mark.parametrize("method", ["lp", "ctransform"])
@settings(max_examples=5, deadline=None)
@given(pair=cloud_pairs(), random=st.randoms(use_true_random=False))
def test_splitting_points_into_copies_of_the_same_weight_leaves_the_neural_estimate_unchanged(
        method, pair, random):
    # The empirical measure is the same.  Before, the copies were separate rows: the
    # held-out split and the minibatches differed (an lp estimate of 1.124 became 1.205
    # with every point given twice).  Halves of 1 sum exactly, so the runs are the same
    # (the clouds' own repeated points are merged first: sums of 1/n in another order
    # round differently).
    x, y = (np.unique(z, axis=0) for z in pair)
    split = [i for i in range(len(x)) if random.random() < 0.5]
    xs = np.concatenate([x, x[split]])
    a = np.ones(len(xs))
    a[split] = 0.5
    a[len(x):] = 0.5
    order = random.sample(range(len(xs)), len(xs))
    options = {**TINY, "holdout": 0.25}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CriticFailedWarning)
        base = estimate_w1(x, y, a=np.ones(len(x)), lipschitz=method, **options)
        copies = estimate_w1(xs[order], np.concatenate([y, y]), a=a[order], lipschitz=method,
                             **options)
    assert copies.estimate == base.estimate
    np.testing.assert_equal(copies.holdout_estimate, base.holdout_estimate)


@pytest.mark.parametrize("method", ["lp", "ctransform"])
@settings(max_examples=5, deadline=None)
@given(pair=cloud_pairs(), exponent=st.integers(0, 300))
def test_an_exact_translation_by_up_to_1e300_leaves_the_neural_estimate_bitwise_unchanged(
        method, pair, exponent):
    # The data sit on a grid of 2^(e - 40) for an offset near 2^e, so x + offset is exact.
    # Before, the centre was formed as one number, rounded at the offset's magnitude: the
    # standardised points moved by ~1e-8 and float32 training amplified it (at 1e100
    # after 200 steps the c-transform estimate moved by 7e-4 relative).  Now the anchor,
    # a data value, is subtracted first: the runs are the same bit for bit.
    x, y = pair
    offset = 10.0**exponent
    unit = 2.0 ** (np.floor(np.log2(offset)) - 40)
    x, y = x * 16 * unit, y * 16 * unit  # integers times the unit
    options = {**TINY, "holdout": 0.25}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CriticFailedWarning)
        base = estimate_w1(x, y, lipschitz=method, **options)
        moved = estimate_w1(x + offset, y + offset, lipschitz=method, **options)
    assert moved.estimate == base.estimate
    np.testing.assert_equal(moved.holdout_estimate, base.holdout_estimate)


@pytest.mark.parametrize("method", ["sn", "ctransform"])
@settings(max_examples=5, deadline=None)
@given(pair=cloud_pairs(), exponent=st.integers(-200, 200), offset=st.sampled_from([0.0, 1e6]))
def test_a_1_lipschitz_critic_never_estimates_more_than_the_exact_w1_of_its_samples(
        method, pair, exponent, offset):
    # Kantorovich-Rubinstein: E_x f - E_y f <= W_1 for every 1-Lipschitz f.  The sn and
    # c-transform critics are 1-Lipschitz up to float32 round-off of the network (measured:
    # never above W_1 on 24 runs of 2-40 points; the spectral norms are 1 + 1e-7), so the
    # estimate on the training samples stays below their exact W_1 (+ 1e-5 relative).
    x, y = pair
    c = 10.0**exponent
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CriticFailedWarning)
        res = estimate_w1(c * x + offset * c, c * y + offset * c, lipschitz=method,
                          **{**TINY, "steps": 50, "holdout": 0.25})
    xt, wx, yt, wy = res.train
    exact = otlab.wasserstein(otlab.Sample(xt, wx), otlab.Sample(yt, wy))
    assert res.estimate <= exact * (1 + 1e-5)
