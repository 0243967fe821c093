"""Sample estimators of KL, JS and TV against closed forms, with stated tolerances.

Every test uses a fixed seed; the tolerances are a few standard errors of the
estimator at the sample size used, measured over other seeds when written.
"""

import math

import numpy as np
import pytest
import torch
from scipy import integrate, stats

from otlab.estimators import ClassifierJSResult, classifier_js, histogram_divergences, knn_kl

LOG2 = math.log(2.0)


@pytest.fixture(autouse=True)
def one_torch_thread():
    """The classifier tests are sized for one thread on the shared 2-core machine."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def gaussian_kl(mean1, cov1, mean2, cov2):
    """Closed-form KL(N(mean1, cov1) || N(mean2, cov2))."""
    mean1, mean2 = np.atleast_1d(mean1), np.atleast_1d(mean2)
    cov1, cov2 = np.atleast_2d(cov1), np.atleast_2d(cov2)
    inv2 = np.linalg.inv(cov2)
    diff = mean2 - mean1
    d = mean1.shape[0]
    logdet = np.linalg.slogdet(cov2)[1] - np.linalg.slogdet(cov1)[1]
    return 0.5 * (np.trace(inv2 @ cov1) + diff @ inv2 @ diff - d + logdet)


def gaussian_js_1d(shift):
    """JS(N(0, 1), N(shift, 1)) by numerical integration (natural log, factor 1/2)."""
    p, q = stats.norm(0, 1), stats.norm(shift, 1)

    def integrand(t):
        lp, lq = p.logpdf(t), q.logpdf(t)
        lm = np.logaddexp(lp, lq) - LOG2
        return 0.5 * (np.exp(lp) * (lp - lm) + np.exp(lq) * (lq - lm))

    return integrate.quad(integrand, -12, 12 + shift, limit=200)[0]


# --------------------------------------------------------------------------- k-NN KL


def test_knn_kl_between_1d_gaussians_matches_closed_form():
    rng = np.random.default_rng(1)
    x, y = rng.normal(0.0, 1.0, 4000), rng.normal(1.0, 1.5, 4000)
    expected = gaussian_kl(0.0, 1.0, 1.0, 1.5**2)  # 0.3499
    np.testing.assert_allclose(knn_kl(x, y), expected, atol=0.05)


def test_knn_kl_between_2d_gaussians_matches_closed_form():
    rng = np.random.default_rng(2)
    cov_y = np.array([[1.5, 0.5], [0.5, 1.0]])
    x = rng.normal(size=(4000, 2))
    y = rng.multivariate_normal([1.0, -0.5], cov_y, size=4000)
    expected = gaussian_kl(np.zeros(2), np.eye(2), np.array([1.0, -0.5]), cov_y)
    np.testing.assert_allclose(knn_kl(x, y, k=3), expected, atol=0.05)


def test_knn_kl_of_two_samples_of_one_law_is_near_zero():
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(3000, 2)), rng.normal(size=(3000, 2))
    np.testing.assert_allclose(knn_kl(x, y, k=5), 0.0, atol=0.05)


def test_knn_kl_grows_without_bound_on_disjoint_lines():
    # KL = inf between the parallel lines; the estimate grows like d log n.
    rng = np.random.default_rng(4)
    estimates = []
    for n in (100, 1000):
        z0, z1 = rng.uniform(size=n), rng.uniform(size=n)
        line0 = np.column_stack([np.zeros(n), z0])
        line1 = np.column_stack([np.full(n, 0.5), z1])
        estimates.append(knn_kl(line0, line1))
    assert estimates[1] > estimates[0] + 2 * math.log(10) - 1.0


def test_knn_kl_rejects_repeated_points_in_x():
    with pytest.raises(ValueError, match=r"x has 2 points whose k-th neighbour"):
        knn_kl([0.0, 0.0, 1.0, 2.5], [0.5, 1.5])


def test_knn_kl_rejects_points_of_x_found_in_y():
    with pytest.raises(ValueError, match=r"y contains 1 points of x"):
        knn_kl([0.0, 1.0, 2.0], [1.0, 5.0])


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(x=[0.0], y=[1.0]), r"x must have at least k \+ 1 = 2 points; got n=1"),
        (dict(x=[0.0, 1.0, 2.0], y=[1.5], k=2), r"y must have at least k = 2 points; got m=1"),
        (dict(x=[0.0, 1.0], y=[1.5], k=0), r"k must be >= 1; got 0"),
        (dict(x=np.zeros((3, 2)), y=np.zeros((3, 3))), r"x and y must have the same dimension"),
        (dict(x=[0.0, np.nan], y=[1.0]), r"^x must be finite"),
    ],
)
def test_knn_kl_rejects_invalid_input(kwargs, message):
    with pytest.raises(ValueError, match=message):
        knn_kl(**kwargs)


# --------------------------------------------------------------------------- histogram


def test_histogram_plugin_of_shifted_uniforms_matches_closed_form():
    # U[0, 1] against U[1/2, 3/2]: TV = 1/2, JS = (log 2)/2, KL = inf.
    # Bins of width 0.1 on a grid through 0.5: no discretisation bias; the
    # sampling bias at n = 20 000 is about +0.005 (tolerance 0.02).
    rng = np.random.default_rng(5)
    x, y = rng.uniform(0.0, 1.0, 20_000), rng.uniform(0.5, 1.5, 20_000)
    est = histogram_divergences(x, y, bin_width=0.1)
    np.testing.assert_allclose(est["tv"], 0.5, atol=0.02)
    np.testing.assert_allclose(est["js"], 0.5 * LOG2, atol=0.02)
    assert est["kl"] == math.inf


def test_histogram_plugin_in_2d_matches_product_of_shifted_uniforms():
    # Uniform squares shifted by 1/2 along one axis: the same TV and JS as in 1-D.
    rng = np.random.default_rng(6)
    x = rng.uniform(0.0, 1.0, (20_000, 2))
    y = rng.uniform(0.0, 1.0, (20_000, 2)) + [0.5, 0.0]
    est = histogram_divergences(x, y, bin_width=0.25)
    np.testing.assert_allclose(est["tv"], 0.5, atol=0.02)
    np.testing.assert_allclose(est["js"], 0.5 * LOG2, atol=0.02)


def test_one_bin_sees_no_difference():
    rng = np.random.default_rng(7)
    est = histogram_divergences(rng.normal(size=50), rng.normal(3.0, size=50), bins=1)
    assert est == {"kl": 0.0, "js": 0.0, "tv": 0.0}


def test_histogram_plugin_of_disjoint_samples_gives_log2_and_one():
    est = histogram_divergences([[0.1, 0.1], [0.2, 0.3]], [[2.1, 0.1], [2.2, 0.3]], bins=4)
    assert est == {"kl": math.inf, "js": LOG2, "tv": 1.0}


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(bin_width=0.1, bins=3), r"give bin_width or bins, not both"),
        (dict(bin_width=-1.0), r"bin_width must be finite and > 0; got -1\.0"),
        (dict(bins=0), r"bins must be >= 1; got 0"),
        (dict(bins=[2, 3]), r"bins must be an int or one int per dimension \(1\)"),
        (dict(range=(1.0, 0.0)), r"range must be finite with lo < hi"),
        (dict(range=(5.0, 6.0)), r"x has no point inside range"),
        (dict(bin_width=1e-9), r"the grid would have \d+ cells"),
    ],
)
def test_histogram_divergences_rejects_invalid_options(kwargs, message):
    with pytest.raises(ValueError, match=message):
        histogram_divergences([0.0, 0.5, 1.0], [0.2, 0.4], **kwargs)


# --------------------------------------------------------------------------- classifier


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
