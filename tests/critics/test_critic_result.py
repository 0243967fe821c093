"""What a neural critic's result says about itself: scaled estimates, error bars, weights with zeros."""

import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import otlab
from otlab.critics import CriticFailedWarning, ScaledEstimateWarning, estimate_w1


def _shifted(n=200, shift=3.0, seed=0):
    x = np.random.default_rng(seed).normal(size=(n, 2))
    return x, x + [shift, 0.0]


def test_weight_clipping_result_is_scaled_and_its_rescaled_estimate_is_w1():
    torch.set_num_threads(1)
    x, y = _shifted()  # W_1 = 3 exactly (a translation)
    with pytest.warns(ScaledEstimateWarning, match=r"K \* W_1"):
        res = estimate_w1(x, y, lipschitz="clip", hidden=(32, 32), steps=300)
    assert res.status == "scaled"
    assert res.lipschitz_bound < 0.5
    assert res.estimate < 0.5 * 3.0  # the raw number is K * W_1, far below W_1
    np.testing.assert_allclose(res.rescaled_estimate, 3.0, rtol=0.25)


def test_ctransform_result_has_bound_one_and_no_scaling():
    x, y = _shifted(n=60)
    with warnings.catch_warnings():
        warnings.simplefilter("error", CriticFailedWarning)
        res = estimate_w1(x, y, lipschitz="ctransform", hidden=(16,), steps=100)
    assert res.status == "ok" and res.lipschitz_bound == 1.0
    assert res.rescaled_estimate == res.estimate


def test_holdout_standard_error_is_the_weighted_spread_of_the_critic():
    x, y = _shifted(n=100)
    res = estimate_w1(x, y, lipschitz="ctransform", hidden=(16,), steps=50, audit=False)
    x_ho, wx, y_ho, wy = res.holdout_samples
    fx, fy = res.critic(x_ho), res.critic(y_ho)
    expected = np.sqrt(wx**2 @ (fx - wx @ fx) ** 2 + wy**2 @ (fy - wy @ fy) ** 2)
    np.testing.assert_allclose(res.holdout_stderr, expected, rtol=1e-10)
    assert 0 < res.holdout_stderr < 1.0
    empty = estimate_w1(x, y, lipschitz="ctransform", hidden=(16,), steps=5, holdout=0,
                        audit=False)
    assert np.isnan(empty.holdout_stderr) and np.isnan(empty.holdout_estimate)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**31 - 2), n=st.integers(2, 30), where=st.integers(0, 29),
       method=st.sampled_from(["gp", "ctransform"]))
def test_a_sample_with_all_its_mass_on_one_point_trains_for_any_seed(seed, n, where, method):
    """Zero weights are not part of the measure: the held-out split never takes all the mass."""
    x, y = _shifted(n=n, seed=seed % 1000)
    w = np.zeros(n)
    w[where % n] = 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CriticFailedWarning)  # 5 steps: any status
        res = estimate_w1(otlab.Sample(x, w), y, lipschitz=method, steps=5, hidden=(8,),
                          seed=seed, audit=False)
    x_tr, wx_tr, _, _ = res.train
    assert x_tr.shape[0] == 1 and wx_tr.tolist() == [1.0]
    np.testing.assert_array_equal(x_tr[0], x[where % n])
    assert np.isfinite(res.estimate)


def test_zero_weight_points_play_no_role_in_the_estimate():
    x, y = _shifted(n=40)
    w = np.r_[np.ones(20), np.zeros(20)]
    kw = {"lipschitz": "ctransform", "hidden": (8,), "steps": 30, "audit": False}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CriticFailedWarning)
        a = estimate_w1(otlab.Sample(x, w), y, **kw)
        b = estimate_w1(x[:20], y, **kw)
    assert a.estimate == b.estimate


def test_one_held_out_point_per_side_gives_no_standard_error_rather_than_zero():
    # the spread of one value is no error bar: NaN, not 0 (which claims an exact estimate)
    x, y = _shifted(n=5)
    kw = {"lipschitz": "ctransform", "hidden": (8,), "steps": 5, "audit": False}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CriticFailedWarning)
        res = estimate_w1(x, y, holdout=0.2, **kw)
        assert res.holdout_samples[0].shape[0] == 1  # one point held out of each sample
        assert np.isfinite(res.holdout_estimate) and np.isnan(res.holdout_stderr)
        fresh = estimate_w1(lambda n, r: r.normal(size=(n, 2)),
                            lambda n, r: r.normal(size=(n, 2)) + 1.0, n_eval=1, n_holdout=1,
                            **kw)
        assert np.isnan(fresh.holdout_stderr)
        two = estimate_w1(lambda n, r: r.normal(size=(n, 2)),
                          lambda n, r: r.normal(size=(n, 2)) + 1.0, n_eval=2, n_holdout=2,
                          **kw)
        assert two.holdout_stderr > 0


@pytest.mark.parametrize("scale", [1e-200, 1e200])
def test_holdout_standard_error_scales_with_the_data_to_the_ends_of_the_float_range(scale):
    x, y = _shifted(n=100)
    kw = {"lipschitz": "ctransform", "hidden": (16,), "steps": 50, "audit": False}
    base = estimate_w1(x, y, **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no overflow in the squares
        res = estimate_w1(x * scale, y * scale, **kw)
    np.testing.assert_allclose(res.holdout_stderr / scale, base.holdout_stderr, rtol=1e-6)
    np.testing.assert_allclose(res.holdout_estimate / scale, base.holdout_estimate, rtol=1e-6)


def test_a_critic_the_audit_finds_steeper_than_2_is_not_lipschitz_even_if_flat_at_the_samples():
    # Before: only the gradient norm at the sample points was tested, so an audited slope
    # of 3 between them (the estimate can then exceed W_1 threefold) gave status 'ok'.
    from otlab.critics._result import run_status
    from otlab.critics.neural import _resolve

    cfg = _resolve("gp", (4,), None, 10, 8, None, None, None, None, None, "cpu", 0, 0.0,
                   None, True, None, 16, None, None, 0.0)
    values = np.array([0.0, 1.0, 2.0])
    with pytest.warns(CriticFailedWarning, match="slope 3 where the audit looked"):
        assert run_status(cfg, 1.0, values, slope=1.0, bound=3.0) == "not_lipschitz"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert run_status(cfg, 1.0, values, slope=1.0, bound=1.5) == "ok"
