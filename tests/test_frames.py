"""The common frames (otlab.frames): the moment frame of the sample estimators, at any offset and scale."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from otlab.frames import common_scale, standardise


@settings(max_examples=50, deadline=None)
@given(arrays(np.float64, (6, 2), elements=st.floats(-10, 10)), st.integers(-300, 300))
def test_scaling_the_samples_scales_the_centre_and_scale_and_not_the_result(z, exponent):
    c = 10.0**exponent
    (u,), center, scale = standardise(z)
    (v,), center_c, scale_c = standardise(c * z)
    if np.ptp(z) > 0 and min(scale, scale_c) > 1e-290:  # subnormal scales: absolute precision only
        np.testing.assert_allclose(scale_c, c * scale, rtol=1e-12)
        np.testing.assert_allclose(v, u, rtol=1e-12, atol=1e-12)
    assert np.isfinite(center_c).all() and np.isfinite(scale_c) and scale_c > 0


def test_standardised_points_have_zero_mean_and_unit_rms_coordinate():
    rng = np.random.default_rng(0)
    (u, v), _, _ = standardise(rng.normal(size=(50, 3)) + 1e7, rng.normal(size=(30, 3)) + 1e7)
    both = np.concatenate([u, v])
    np.testing.assert_allclose(both.mean(axis=0), 0.0, atol=1e-9)
    np.testing.assert_allclose(np.sqrt(np.mean(both**2)), 1.0, rtol=1e-9)


def test_radius_scale_is_the_rms_distance_to_the_centre():
    z = np.array([[3.0, 0.0, 0.0], [-3.0, 0.0, 0.0]])
    assert common_scale(z, radius=True)[1] == pytest.approx(3.0)
    assert common_scale(z)[1] == pytest.approx(3.0 / np.sqrt(3))


def test_identical_points_get_unit_scale():
    center, scale = common_scale(np.full((4, 2), 1e300))
    assert scale == 1.0 and (center == 1e300).all()


@settings(max_examples=10, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1000, 1021))
def test_scaling_by_a_power_of_two_up_to_the_float_range_scales_the_centre_and_scale(seed, k):
    # Before: the refinement of the mean summed 70 offsets of order 1e307 and overflowed
    # (centre -inf, scale NaN from 2^1019 or 2^1020 on).  A power of two scales every step
    # exactly (measured: bitwise equal); rtol 1e-12 leaves headroom for another CPU.
    rng = np.random.default_rng(seed)
    z = np.concatenate([rng.normal(size=(40, 2)), rng.normal(size=(30, 2)) + [2.0, 0.0]])
    c = 2.0**k
    center, scale = common_scale(z)
    center_c, scale_c = common_scale(c * z)
    np.testing.assert_allclose(center_c, c * center, rtol=1e-12, atol=1e-12 * c * scale)
    np.testing.assert_allclose(scale_c, c * scale, rtol=1e-12)


def test_points_spanning_more_than_the_float_range_raise_instead_of_nan():
    with pytest.raises(ValueError, match="span more than the float range"):
        common_scale(np.array([[-1.7e308], [1.7e308], [1.7e308]]))


@pytest.mark.parametrize("dtype, scale, order", [
    ("float64", 2.0**-1, 1), ("float64", 2.0**-10, 2), ("float64", 2.0**40, 2),
    ("float64", 2.0**-300, 2), ("float32", 2.0**-1, 1), ("float32", 2.0**-30, 2),
    ("float32", 2.0**35, 2)])
def test_scale_by_power_differentiates_as_the_product_by_scale_to_the_order(dtype, scale, order):
    # torch.ldexp's gradient is 2**exponent formed in integers: 0 for every negative exponent
    # and wrong from 63 on (torch 2.13), so scale_by_power on tensors had a gradient of 0 for
    # scales below 1 (every Sinkhorn cost below 0.5 with torch input: see test_solver).
    # Products by powers of two are exact: the value and gradient are asserted bitwise.
    torch = pytest.importorskip("torch")
    from otlab.frames import scale_by_power

    value = torch.tensor(3.0, dtype=getattr(torch, dtype), requires_grad=True)
    out = scale_by_power(value, scale, order)
    out.backward()
    assert out.item() == 3.0 * scale**order
    assert value.grad.item() == scale**order
