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
