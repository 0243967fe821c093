"""The Lipschitz audit of a critic: slopes and gradient norms, at any scale of the data."""

import warnings

import numpy as np
import pytest

from otlab.critics import exact_critic, lipschitz_audit


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
