"""The classifier estimate of JS: closed forms, its standard error, extreme scales."""

import math

import numpy as np
import pytest
import torch
from scipy import integrate, stats

from otlab.estimators import ClassifierJSResult, classifier_js

LOG2 = math.log(2.0)


@pytest.fixture(autouse=True)
def one_torch_thread():
    """The classifier tests are sized for one thread on the shared 2-core machine."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def gaussian_js_1d(shift):
    """JS(N(0, 1), N(shift, 1)) by numerical integration (natural log, factor 1/2)."""
    p, q = stats.norm(0, 1), stats.norm(shift, 1)

    def integrand(t):
        lp, lq = p.logpdf(t), q.logpdf(t)
        lm = np.logaddexp(lp, lq) - LOG2
        return 0.5 * (np.exp(lp) * (lp - lm) + np.exp(lq) * (lq - lm))

    return integrate.quad(integrand, -12, 12 + shift, limit=200)[0]


def test_classifier_js_of_well_separated_gaussians_is_log2():
    rng = np.random.default_rng(8)
    x = rng.normal(size=(1000, 2))
    y = rng.normal(size=(1000, 2)) + [10.0, 0.0]
    res = classifier_js(x, y)
    assert isinstance(res, ClassifierJSResult)
    assert res.accuracy == 1.0
    np.testing.assert_allclose(res.js, LOG2, atol=0.01)


def test_classifier_js_of_two_samples_of_one_law_is_near_zero():
    rng = np.random.default_rng(9)
    x, y = rng.normal(size=(1000, 2)), rng.normal(size=(1000, 2))
    res = classifier_js(x, y)
    np.testing.assert_allclose(res.js, 0.0, atol=0.02)
    assert res.js_raw <= LOG2
    np.testing.assert_allclose(res.accuracy, 0.5, atol=0.06)


def test_classifier_js_of_shifted_1d_gaussians_matches_numerical_integral():
    # JS(N(0,1), N(1.5,1)) = 0.2315...; held-out standard error at 1200 test
    # points per class is about 0.012 (tolerance 0.04).
    expected = gaussian_js_1d(1.5)
    rng = np.random.default_rng(10)
    x, y = rng.normal(0.0, 1.0, 4000), rng.normal(1.5, 1.0, 4000)
    res = classifier_js(x, y)
    np.testing.assert_allclose(res.js, expected, atol=0.04)


def test_classifier_js_is_reproducible_and_leaves_global_rng_alone():
    rng = np.random.default_rng(11)
    x, y = rng.normal(size=(200, 2)), rng.normal(size=(200, 2)) + 1.0
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    first = classifier_js(x, y, seed=4, steps=50)
    after = torch.rand(1)
    assert first == classifier_js(x, y, seed=4, steps=50)
    assert torch.equal(before, after)


def test_classifier_js_splits_each_sample_by_test_size():
    rng = np.random.default_rng(12)
    res = classifier_js(rng.normal(size=(100, 1)), rng.normal(size=(60, 1)), steps=10)
    assert res.n_test == (30, 18)
    assert [a + b + c for a, b, c in zip(res.n_train, res.n_val, res.n_test)] == [100, 60]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(test_size=1.0), r"test_size must be in \(0, 1\); got 1\.0"),
        (dict(test_size=0.0), r"test_size must be finite and > 0"),
        (dict(steps=0), r"steps must be >= 1; got 0"),
        (dict(lr=-1.0), r"lr must be finite and > 0"),
    ],
)
def test_classifier_js_rejects_invalid_options(kwargs, message):
    with pytest.raises(ValueError, match=message):
        classifier_js(np.zeros((20, 2)), np.ones((20, 2)), **kwargs)


def test_classifier_js_rejects_samples_too_small_to_split():
    with pytest.raises(ValueError, match=r"x must have enough points .* got n=2"):
        classifier_js([0.0, 1.0], [0.0, 1.0, 2.0, 3.0, 4.0, 5.0])


def test_classifier_js_reports_a_standard_error_of_the_held_out_value():
    # 600 test points per class: the standard error is of order 0.01.
    rng = np.random.default_rng(15)
    res = classifier_js(rng.normal(0.0, 1.0, 2000), rng.normal(1.5, 1.0, 2000), steps=100)
    assert 0.003 < res.std_error < 0.04


@pytest.mark.parametrize("transform", [lambda z: z + 1e8, lambda z: 1e-300 * z,
                                       lambda z: 1e200 * z])
def test_classifier_js_is_the_same_at_any_offset_and_scale(transform):
    """The inputs are standardised without overflow (1e200 gave inf) or underflow."""
    rng = np.random.default_rng(16)
    x, y = rng.normal(size=(300, 2)), rng.normal(size=(300, 2)) + [1.5, 0.0]
    base = classifier_js(x, y, steps=60)
    moved = classifier_js(transform(x), transform(y), steps=60)
    np.testing.assert_allclose(moved.js_raw, base.js_raw, rtol=1e-4, atol=1e-5)
