"""The Lipschitz audit of a critic: slopes and gradient norms, at any scale of the data."""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from otlab.critics import CriticFailedWarning, estimate_w1, exact_critic, lipschitz_audit


@pytest.mark.parametrize("scale", [1e-300, 1e-200, 1e-13, 1e200, 1e300])
def test_audited_slopes_are_invariant_to_the_scale_of_the_data(scale):
    # slopes are ratios of a critic's differences to distances: scaling both changes nothing
    # (were 0: distances below an absolute 1e-12 were dropped, and above 1e154 overflowed)
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(30, 2)), rng.normal(size=(30, 2)) + 2
    kw = {"n_interpolates": 64, "n_pairs": 256}
    base = lipschitz_audit(exact_critic(x, y), x, y, **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no overflow in the distances
        audit = lipschitz_audit(exact_critic(x * scale, y * scale), x * scale, y * scale, **kw)
    assert base.max_slope > 0.5 and base.max_slope_xy > 0.5
    np.testing.assert_allclose(audit.max_slope, base.max_slope, rtol=1e-9)
    np.testing.assert_allclose(audit.max_slope_xy, base.max_slope_xy, rtol=1e-9)


@settings(max_examples=5, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
@pytest.mark.parametrize("offset", [1e6, 1e10, 1e13, 1e14])
def test_audited_slopes_are_invariant_to_a_translation_of_the_data(offset, seed):
    # Points on a grid of 1/16 stay exact at offsets below 2^48.  Before, pairs closer than
    # 1e-12 times the largest coordinate were left out: at an offset of 1e12 every pair
    # closer than 1, at 1e14 every pair (slopes 0).  Measured equal to 1e-16; rtol 1e-9.
    rng = np.random.default_rng(seed)
    x = np.round(rng.normal(size=(30, 2)) * 16) / 16
    y = np.round((rng.normal(size=(30, 2)) + 2) * 16) / 16
    kw = {"n_interpolates": 64, "n_pairs": 256}
    base = lipschitz_audit(exact_critic(x, y), x, y, **kw)
    moved = lipschitz_audit(exact_critic(x + offset, y + offset), x + offset, y + offset, **kw)
    np.testing.assert_allclose(moved.max_slope, base.max_slope, rtol=1e-9)
    np.testing.assert_allclose(moved.max_slope_xy, base.max_slope_xy, rtol=1e-9)


def test_neural_critic_audit_is_invariant_to_a_translation_of_the_data():
    rng = np.random.default_rng(3)
    x = np.round(rng.normal(size=(40, 2)) * 16) / 16
    y = np.round((rng.normal(size=(30, 2)) + [2.0, 0.0]) * 16) / 16
    kw = {"hidden": (16, 16), "steps": 100, "batch_size": 64}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CriticFailedWarning)
        base = estimate_w1(x, y, **kw)
        moved = estimate_w1(x + 1e12, y + 1e12, **kw)
    # the runs see the same standardised points up to float64 round-off of the centre
    # amplified by float32 training (measured 6e-5 apart; the old rule left every pair
    # closer than 1 out: 0.93 against 0.86 on other data); rtol 1e-3
    np.testing.assert_allclose(moved.audit.max_slope, base.audit.max_slope, rtol=1e-3)
    np.testing.assert_allclose(moved.audit.max_slope_xy, base.audit.max_slope_xy, rtol=1e-3)
