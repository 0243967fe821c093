"""Plug-in histogram divergences against closed forms, with their standard errors."""

import math

import numpy as np
import pytest

from otlab.estimators import histogram_divergences

LOG2 = math.log(2.0)


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
    assert (est["kl"], est["js"], est["tv"]) == (0.0, 0.0, 0.0)
    assert est["std_error"] == {"kl": 0.0, "js": 0.0, "tv": 0.0}


def test_histogram_plugin_of_disjoint_samples_gives_log2_and_one():
    est = histogram_divergences([[0.1, 0.1], [0.2, 0.3]], [[2.1, 0.1], [2.2, 0.3]], bins=4)
    assert (est["kl"], est["js"], est["tv"]) == (math.inf, LOG2, 1.0)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(bin_width=0.1, bins=3), r"give bin_width or bins, not both"),
        (dict(bin_width=-1.0), r"bin_width must be finite and > 0; got -1\.0"),
        (dict(bins=0), r"bins must be >= 1; got 0"),
        (dict(bins=[2, 3]), r"bins must be an int or one int per dimension \(1\)"),
        (dict(range=(1.0, 0.0)), r"range must be finite with lo < hi"),
        (dict(range=(5.0, 6.0)), r"x has no point inside range"),
        (dict(bin_width=1e-9), r"the grid would have 1e\+09 cells"),
        (dict(bins=2**70), r"the grid would have 1.18e\+21 cells"),
        (dict(n_subsamples=-1), r"n_subsamples must be >= 1"),
    ],
)
def test_histogram_divergences_rejects_invalid_options(kwargs, message):
    with pytest.raises(ValueError, match=message):
        histogram_divergences([0.0, 0.5, 1.0], [0.2, 0.4], **kwargs)


def test_histogram_standard_errors_match_the_spread_over_independent_samples():
    # U[0, 1] against U[1/2, 3/2], n = m = 2000, bins of width 0.1: the reported
    # standard errors of TV and JS are within a factor 1.6 of the actual spread.
    rng = np.random.default_rng(13)
    results = [histogram_divergences(rng.uniform(0.0, 1.0, 2000), rng.uniform(0.5, 1.5, 2000),
                                     bin_width=0.1, n_subsamples=10, seed=r) for r in range(30)]
    for key in ("tv", "js"):
        actual = np.std([r[key] for r in results], ddof=1)
        reported = np.mean([r["std_error"][key] for r in results])
        assert actual / 1.6 < reported < 1.6 * actual, key


def test_histogram_standard_error_of_an_infinite_kl_is_nan():
    est = histogram_divergences([0.1, 0.2, 0.3, 0.4], [1.1, 1.2, 1.3, 1.4], bin_width=0.5)
    assert est["kl"] == math.inf and math.isnan(est["std_error"]["kl"])
    assert est["std_error"]["tv"] == 0.0


@pytest.mark.parametrize("transform", [lambda z: z + 1e8, lambda z: 1e-300 * z,
                                       lambda z: 1e300 * z, lambda z: -1e150 * z])
def test_histogram_estimates_with_default_bins_ignore_affine_maps_of_the_data(transform):
    rng = np.random.default_rng(14)
    x, y = rng.normal(size=(2000, 2)), rng.normal(size=(2000, 2)) + [1.0, 0.0]
    base, moved = histogram_divergences(x, y), histogram_divergences(transform(x), transform(y))
    for key in ("js", "tv"):
        np.testing.assert_allclose(moved[key], base[key], rtol=1e-12)


def test_histogram_bin_width_below_float_resolution_is_rejected_naming_it():
    with pytest.raises(ValueError, match=r"bin_width must exceed the float64 spacing"):
        histogram_divergences([1e17, 1e17 + 64], [1e17 + 32], bin_width=1.0)


@pytest.mark.parametrize("x, y, kwargs, message", [
    ([0.0, 1e300], [0.0, 1.0], dict(bin_width=1e-300), r"the grid would have inf cells"),
    ([-1.7e308, 1.7e308], [0.0], dict(bin_width=1e300), r"the grid would have 3.4e\+08 cells"),
    ([1.0, 1.0 + 1e-15], [1.0], dict(bins=100), r"bins=100 cells cannot be told apart"),
])
def test_histogram_grids_beyond_the_float_range_are_rejected_naming_the_option(x, y, kwargs,
                                                                               message):
    with pytest.raises(ValueError, match=message):
        histogram_divergences(np.array(x), np.array(y), **kwargs)


def test_histogram_of_samples_spanning_the_whole_float_range_has_finite_edges():
    est = histogram_divergences(np.array([-1e308, 1e308]), np.array([0.0, 1.0]), bins=2,
                                n_subsamples=0)
    # cells (-1e308, 0) and [0, 1e308]: p = (1/2, 1/2), q = (0, 1)
    assert (est["kl"], est["tv"]) == (math.inf, 0.5)
    js = 0.5 * (0.5 * math.log(0.5 / 0.25) + 0.5 * math.log(0.5 / 0.75)) + 0.5 * math.log(1 / 0.75)
    np.testing.assert_allclose(est["js"], js, rtol=1e-12)  # M = (1/4, 3/4)
    top = np.finfo(float).max
    assert histogram_divergences(np.array([top, top]), np.array([top]))["tv"] == 0.0


def test_histogram_of_one_repeated_value_far_from_zero_has_one_cell():
    est = histogram_divergences([1e17, 1e17], [1e17])
    assert (est["kl"], est["js"], est["tv"]) == (0.0, 0.0, 0.0)
