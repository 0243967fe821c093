"""Every rejected input raises with a message naming the argument."""

import math

import numpy as np
import pytest

import otlab

X = np.array([[0.0, 0.0], [1.0, 0.0]])
Y = np.array([[0.0, 1.0], [1.0, 1.0], [2.0, 1.0]])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(a=[1.0, -0.5]), r"a must be non-negative; got min -0.5"),
        (dict(a=[1.0, np.nan]), r"a must be finite"),
        (dict(a=[1.0, np.inf]), r"a must be finite"),
        (dict(a=[0.0, 0.0]), r"a must have a positive sum; got sum 0"),
        (dict(a=[1.0, 2.0, 3.0]), r"a must have one weight per point: expected 2, got 3"),
        (dict(b=[1.0]), r"b must have one weight per point: expected 3, got 1"),
    ],
)
def test_wasserstein_rejects_bad_weights_naming_the_argument(kwargs, match):
    with pytest.raises(ValueError, match=match):
        otlab.wasserstein(X, Y, **kwargs)


def test_sample_rejects_bad_weights_naming_them():
    with pytest.raises(ValueError, match=r"weights must be non-negative; got min -1"):
        otlab.Sample(X, weights=[1.0, -1.0])
    with pytest.raises(ValueError, match=r"p is a weighted Sample and a were also given"):
        otlab.wasserstein(otlab.Sample(X, [1.0, 1.0]), Y, a=[1.0, 1.0])


@pytest.mark.parametrize(
    "p, q, match",
    [
        (np.array([[0.0, np.nan]]), Y, r"p must be finite; got 1 NaN or infinite"),
        (X, np.array([[np.inf, 0.0]]), r"q must be finite"),
        (np.zeros((0, 2)), Y, r"p must contain at least one point"),
        ([], Y, r"p must contain at least one point"),
        (X, np.zeros((3, 3)), r"same dimension; got d=2 and d=3"),
        (np.zeros((2, 2, 2)), Y, r"p must have shape \(n,\) or \(n, d\)"),
        ([[0.0, 1.0], [2.0]], Y, r"p must be a rectangular array-like"),
    ],
)
def test_wasserstein_rejects_bad_samples_naming_the_argument(p, q, match):
    with pytest.raises(ValueError, match=match):
        otlab.wasserstein(p, q)


def test_wasserstein_rejects_non_numeric_samples():
    with pytest.raises(TypeError, match="p must"):
        otlab.wasserstein("abc", Y)


@pytest.mark.parametrize("order", [0, 0.5, -1, math.inf, math.nan])
def test_wasserstein_rejects_order_below_one(order):
    with pytest.raises(ValueError, match="order must be finite and >= 1"):
        otlab.wasserstein(X, Y, order=order)


@pytest.mark.parametrize("p, q", [(X, Y), ([0.0, 1.0], [2.0, 3.5])])
@pytest.mark.parametrize("order", [1000.5, 1500, 1e6, 1e300])
def test_wasserstein_rejects_orders_beyond_what_float64_resolves(p, q, order):
    # the 1-D closed form returned 0.0 for these (W_k of [0, 1] and [2, 3.5] is near 2.5),
    # the LP 0.0 or an OverflowError
    with pytest.raises(ValueError, match=r"order must be at most 1000 .*; got"):
        otlab.wasserstein(p, q, order=order)


def test_wasserstein_rejects_unknown_method_listing_valid_ones():
    with pytest.raises(ValueError, match=r"method must be one of 'auto', 'exact', '1d'"):
        otlab.wasserstein(X, Y, method="simplex")


def test_wasserstein_1d_method_rejects_multivariate_samples():
    with pytest.raises(ValueError, match="method='1d' needs one-dimensional samples; got d=2"):
        otlab.wasserstein(X, Y, method="1d")


def test_wasserstein_exact_rejects_solver_options():
    with pytest.raises(TypeError, match="takes no options"):
        otlab.wasserstein(X, Y, method="exact", reg=0.1)


M = np.ones((2, 3))


@pytest.mark.parametrize(
    "a, b, cost, match",
    [
        ([0.5, -0.5], [1 / 3] * 3, M, r"a must be non-negative; got min -0.5"),
        ([0.5, np.nan], [1 / 3] * 3, M, r"a must be finite"),
        ([0.0, 0.0], [1 / 3] * 3, M, r"a must have a positive sum"),
        ([0.5, 0.5], [1.0, 1.0, 1.0], M, r"a and b must have the same total mass .* got 1 and 3"),
        ([0.5, 0.5], [1 / 3] * 3, np.ones((3, 2)), r"M must have shape \(2, 3\) .* got \(3, 2\)"),
        ([0.5, 0.5], [1 / 3] * 3, np.full((2, 3), np.nan), r"M must be finite"),
        ([0.5, 0.5], [1 / 3] * 3, np.full((2, 3), -np.inf), r"M must be finite"),
        ([[0.5, 0.5]], [1 / 3] * 3, M, r"a must be one-dimensional"),
        ([], [1 / 3] * 3, np.ones((0, 3)), r"a must not be empty"),
    ],
)
def test_emd_rejects_bad_problems_naming_the_argument(a, b, cost, match):
    with pytest.raises(ValueError, match=match):
        otlab.emd(a, b, cost)


@pytest.mark.parametrize("max_iter, error", [(0, ValueError), (-5, ValueError), (2.5, TypeError)])
def test_emd_rejects_bad_max_iter(max_iter, error):
    with pytest.raises(error, match="max_iter"):
        otlab.emd([1.0], [1.0], [[0.0]], max_iter=max_iter)


def test_emd_accepts_masses_equal_within_tolerance_and_rescales_b():
    res = otlab.emd([0.5, 0.5], [1.0 + 1e-9], [[1.0], [2.0]])
    np.testing.assert_allclose(res.b.sum(), 1.0, rtol=0, atol=1e-15)
    np.testing.assert_allclose(res.cost, 1.5, rtol=1e-12)


@pytest.mark.parametrize("solve", [lambda **kw: otlab.emd([1, 1], [0.5, 0.5], np.eye(2), **kw),
                                   lambda **kw: otlab.sinkhorn([1, 1], [0.5, 0.5], np.eye(2),
                                                               0.1, **kw)])
@pytest.mark.parametrize("mass_rtol, error, match", [
    (math.nan, ValueError, r"mass_rtol must be finite and >= 0; got nan"),
    (-1e-6, ValueError, r"mass_rtol must be finite and >= 0; got -1e-06"),
    (math.inf, ValueError, r"mass_rtol must be finite and >= 0; got inf"),
    ("1e-6", TypeError, r"mass_rtol must be a real number; got '1e-6'"),
])
def test_a_nan_or_negative_mass_tolerance_is_rejected_not_read_as_any_mass(solve, mass_rtol,
                                                                           error, match):
    # masses 2 and 1: a NaN tolerance used to accept them (cost 0, converged)
    with pytest.raises(error, match=match):
        solve(mass_rtol=mass_rtol)


@pytest.mark.parametrize("method", ["auto", "1d", "exact", "sinkhorn"])
@pytest.mark.parametrize("max_iter, error", [("abc", TypeError), (0, ValueError),
                                             (1.5, TypeError), (True, TypeError)])
def test_wasserstein_checks_max_iter_on_every_path(method, max_iter, error):
    # the 1-D closed form has no iterations, yet a wrong max_iter is still an error
    with pytest.raises(error, match="max_iter must be"):
        otlab.wasserstein([0.0], [1.0], method=method, max_iter=max_iter)


def test_integers_beyond_int64_are_numbers_and_beyond_float64_are_named():
    assert otlab.kl([2**70, 2**70], [1, 1]) == 0.0  # an object array of Python ints
    with pytest.raises(ValueError, match=r"p must be finite in float64; got an integer of 401 "
                                         r"digits"):
        otlab.kl([10**400, 1], [1, 1])
    with pytest.raises(TypeError, match=r"p must hold real numbers; got an array of dtype "
                                        r"object with None"):
        otlab.kl(np.array([1, None], dtype=object), [1, 1])


def test_masked_arrays_with_masked_entries_are_refused_naming_the_argument():
    """numpy reads a masked array's hidden values as data: every entry point refuses it."""
    x = np.ma.masked_array(np.arange(6.0).reshape(3, 2), mask=[[0, 0], [1, 0], [0, 0]])
    y = np.arange(6.0).reshape(3, 2) + 1
    with pytest.raises(TypeError, match="p is a masked array with 1 masked"):
        otlab.wasserstein(x, y)
    with pytest.raises(TypeError, match="x is a masked array"):
        otlab.emd_points(x, y)
    a = np.ma.masked_array([0.5, 0.5, 0.0], mask=[0, 0, 1])
    with pytest.raises(TypeError, match="a is a masked array"):
        otlab.emd(a, np.full(3, 1 / 3), np.ones((3, 3)))
    # without masked entries a masked array is its data
    plain = np.ma.masked_array(y - 1, mask=False)
    np.testing.assert_allclose(otlab.wasserstein(plain, y), otlab.wasserstein(y - 1, y),
                               rtol=1e-10)
