"""KL, JS and TV on histograms: properties, closed forms, SciPy cross-checks, bad input."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.spatial.distance import jensenshannon
from scipy.stats import entropy

from otlab.divergences import js, kl, tv

LOG2 = math.log(2.0)
# Round-off allowance for inequalities between quantities computed in float64.
SLACK = 1e-12

masses = st.one_of(st.just(0.0), st.floats(1e-6, 10.0))


@st.composite
def histograms(draw, n=None, *, positive=False):
    """A non-negative histogram with positive total mass (not normalised)."""
    n = n if n is not None else draw(st.integers(1, 20))
    elements = st.floats(1e-3, 10.0) if positive else masses
    h = draw(arrays(np.float64, (n,), elements=elements))
    if h.sum() == 0:
        h[draw(st.integers(0, n - 1))] = 1.0
    return h


@st.composite
def histogram_pairs(draw, *, positive_q=False):
    n = draw(st.integers(1, 20))
    return draw(histograms(n)), draw(histograms(n, positive=positive_q))


@st.composite
def disjoint_pairs(draw):
    """Histograms whose supports do not meet."""
    p, q = draw(histograms()), draw(histograms())
    return np.concatenate([p, np.zeros_like(q)]), np.concatenate([np.zeros_like(p), q])


# --------------------------------------------------------------------------- properties


@given(histogram_pairs())
def test_kl_is_non_negative(pq):
    assert kl(*pq) >= 0.0


@given(histograms())
def test_kl_of_a_histogram_with_itself_is_zero(p):
    assert kl(p, p) == 0.0


@given(histogram_pairs())
def test_js_is_symmetric(pq):
    p, q = pq
    np.testing.assert_allclose(js(p, q), js(q, p), rtol=1e-12, atol=1e-13)


@given(histogram_pairs())
def test_js_lies_between_zero_and_log2(pq):
    value = js(*pq)
    assert 0.0 <= value <= LOG2


@given(histograms())
def test_js_and_tv_of_a_histogram_with_itself_are_zero(p):
    assert js(p, p) == 0.0
    assert tv(p, p) == 0.0


@given(disjoint_pairs())
def test_disjoint_supports_give_js_log2_tv_one_kl_inf(pq):
    p, q = pq
    np.testing.assert_allclose(js(p, q), LOG2, rtol=1e-13)
    assert js(p, q) == LOG2
    np.testing.assert_allclose(tv(p, q), 1.0, rtol=1e-13)
    assert kl(p, q) == math.inf
    assert kl(q, p) == math.inf


@given(histogram_pairs())
def test_tv_is_symmetric_and_at_most_one(pq):
    p, q = pq
    assert 0.0 <= tv(p, q) <= 1.0
    np.testing.assert_allclose(tv(p, q), tv(q, p), rtol=1e-12, atol=1e-13)


@given(histogram_pairs())
def test_pinsker_tv_is_at_most_sqrt_half_kl(pq):
    p, q = pq
    # sqrt turns a round-off of 1e-16 in KL into 1e-8.
    assert tv(p, q) <= math.sqrt(kl(p, q) / 2) + 1e-7


@given(histogram_pairs())
def test_js_is_at_most_tv_times_log2(pq):
    # Pointwise, g(t) = ((1+t)log(1+t) + (1-t)log(1-t))/2 is convex with g(0) = 0
    # and g(1) = log 2, hence g(t) <= |t| log 2; summing gives JS <= TV log 2.
    p, q = pq
    assert js(p, q) <= tv(p, q) * LOG2 + SLACK


@given(histogram_pairs())
def test_js_is_the_square_of_scipy_jensenshannon_with_natural_log(pq):
    p, q = pq
    # For equal histograms scipy's JS rounds to a tiny negative number whose square root
    # is nan; the JS it stands for is 0 to round-off.
    ref = np.nan_to_num(jensenshannon(p, q), nan=0.0)
    np.testing.assert_allclose(js(p, q), ref**2, rtol=1e-9, atol=1e-10)


@given(histogram_pairs(positive_q=True))
def test_kl_matches_scipy_entropy(pq):
    p, q = pq
    np.testing.assert_allclose(kl(p, q), entropy(p, q), rtol=1e-9, atol=1e-10)


@given(histogram_pairs())
def test_histograms_are_normalised_before_comparison(pq):
    p, q = pq
    np.testing.assert_allclose(kl(3.0 * p, q), kl(p, 0.5 * q), rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(js(3.0 * p, q), js(p, q), rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(tv(3.0 * p, q), tv(p, q), rtol=1e-12, atol=1e-13)


# --------------------------------------------------------------------------- closed forms


def test_kl_of_a_point_mass_against_uniform_is_log_n():
    np.testing.assert_allclose(kl([1, 0, 0, 0], [1, 1, 1, 1]), math.log(4), rtol=1e-13)


def test_kl_of_two_bernoullis_matches_closed_form():
    a, b = 0.3, 0.6
    expected = a * math.log(a / b) + (1 - a) * math.log((1 - a) / (1 - b))
    np.testing.assert_allclose(kl([a, 1 - a], [b, 1 - b]), expected, rtol=1e-12)


def test_partial_overlap_gives_js_half_log2_and_tv_half():
    # P uniform on {0, 1}, Q uniform on {1, 2}: M = (1/4, 1/2, 1/4).
    p, q = [1, 1, 0], [0, 1, 1]
    np.testing.assert_allclose(js(p, q), 0.5 * LOG2, rtol=1e-12)
    np.testing.assert_allclose(tv(p, q), 0.5, rtol=1e-13)


def test_kl_is_inf_only_in_the_direction_with_missing_support():
    p, q = [0.5, 0.5], [1.0, 0.0]
    assert kl(p, q) == math.inf
    np.testing.assert_allclose(kl(q, p), LOG2, rtol=1e-13)


def test_results_are_python_floats():
    for f in (kl, js, tv):
        assert type(f([0.2, 0.8], [0.5, 0.5])) is float


def test_torch_input_gives_the_same_values_as_numpy():
    p, q = np.array([0.1, 0.4, 0.5]), np.array([0.3, 0.3, 0.4])
    for f in (kl, js, tv):
        np.testing.assert_allclose(f(torch.tensor(p), torch.tensor(q)), f(p, q), rtol=1e-13)


def test_huge_masses_do_not_overflow():
    p = np.array([1e308, 1e308, 0.0])
    np.testing.assert_allclose(tv(p, [1, 1, 0]), 0.0, atol=1e-13)
    np.testing.assert_allclose(js(p, [0, 0, 1]), LOG2, rtol=1e-13)


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("f", [kl, js, tv])
@pytest.mark.parametrize(
    "bad, message",
    [
        ([0.5, -0.1, 0.6], r"must be non-negative; got min -0\.1"),
        ([0.5, np.nan, 0.5], r"must be finite; got 1 NaN or infinite"),
        ([0.5, np.inf, 0.5], r"must be finite; got 1 NaN or infinite"),
        ([0.0, 0.0, 0.0], r"must have a positive sum; got sum 0"),
        ([[0.5, 0.5, 0.0]], r"must be one-dimensional; got shape \(1, 3\)"),
    ],
)
@pytest.mark.parametrize("position", ["p", "q"])
def test_invalid_histograms_are_rejected_naming_the_argument(f, bad, message, position):
    good = [0.2, 0.3, 0.5]
    args = (bad, good) if position == "p" else (good, bad)
    with pytest.raises(ValueError, match=rf"^{position} {message}"):
        f(*args)


@pytest.mark.parametrize("f", [kl, js, tv])
def test_length_mismatch_is_rejected(f):
    with pytest.raises(ValueError, match=r"p and q must have the same number of bins; got 2 and 3"):
        f([0.5, 0.5], [0.2, 0.3, 0.5])


@pytest.mark.parametrize("f", [kl, js, tv])
def test_empty_histogram_is_rejected(f):
    with pytest.raises(ValueError, match=r"^q must not be empty"):
        f([1.0], [])
