"""The scale of the critic network's input (``input_scale``, :func:`input_gain`)."""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from otlab.critics import (DEFAULT_SETTINGS, PAPER_SETTINGS, CriticFailedWarning,
                           default_input_scale, default_penalty, estimate_w1, input_gain)
from otlab.frames import standardise

ONE_STEP = {"steps": 1, "hidden": (4,), "holdout": 0.0, "audit": False}


def _quiet(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CriticFailedWarning)  # one step: any status
        return estimate_w1(*args, **kwargs)


@settings(max_examples=30, deadline=None)
@given(dim=st.integers(1, 10**6))
def test_the_coordinate_gain_is_the_square_root_of_the_dimension_and_radius_is_one(dim):
    assert input_gain("radius", dim) == 1.0
    assert input_gain("coordinate", dim) == pytest.approx(np.sqrt(dim), rel=1e-15)


def _sampler(dim, shift):
    return lambda n, rng: rng.normal(size=(n, dim)) + shift


@pytest.mark.parametrize("method,dim,on_samplers,on_arrays", [
    ("lp", 1, "coordinate", "radius"), ("lp", 32, "coordinate", "radius"),
    ("lp", 33, "coordinate", "coordinate"), ("lp", 200, "coordinate", "coordinate"),
    ("gp", 33, "radius", "radius"), ("sn", 33, "radius", "radius"),
    ("clip", 2, "radius", "radius"), ("ctransform", 33, "radius", "radius")])
def test_each_coordinate_is_scaled_to_rms_1_by_default_for_lp_only(method, dim, on_samplers,
                                                                   on_arrays):
    assert default_input_scale(method, dim) == on_samplers
    assert default_input_scale(method, dim, samplers=False) == on_arrays
    x, y = np.zeros((4, dim)), np.ones((4, dim))
    assert _quiet(x, y, lipschitz=method, **ONE_STEP).config.input_scale == on_arrays
    res = _quiet(_sampler(dim, 0.0), _sampler(dim, 1.0), lipschitz=method, n_eval=8, **ONE_STEP)
    assert res.config.input_scale == on_samplers


@settings(max_examples=50, deadline=None)
@given(dim=st.integers(1, 10**6))
def test_the_default_input_scale_of_lp_on_samplers_is_coordinate_at_every_dimension(dim):
    assert default_input_scale("lp", dim) == "coordinate"
    assert DEFAULT_SETTINGS["lp"]["input_scale"] == "coordinate"
    assert default_input_scale("lp", dim, samplers=False) == ("coordinate" if dim > 32
                                                              else "radius")


@settings(max_examples=50, deadline=None)
@given(dim=st.integers(1, 10**6),
       method=st.sampled_from(["lp", "gp", "sn", "clip", "ctransform"]))
def test_the_default_penalty_is_30_for_lp_on_samplers_up_to_d32_and_the_papers_otherwise(
        dim, method):
    expected = PAPER_SETTINGS[method]["penalty"]
    assert default_penalty(method, dim, samplers=False) == expected
    if method == "lp" and dim <= 32:
        expected = 30.0
    assert default_penalty(method, dim) == expected


@pytest.mark.parametrize("dim,given_penalty,on_samplers,on_arrays", [
    (2, None, 30.0, 10.0), (32, None, 30.0, 10.0), (33, None, 10.0, 10.0), (2, 5.0, 5.0, 5.0),
    (40, 0.0, 0.0, 0.0)])
def test_the_penalty_resolves_from_the_dimension_unless_given(dim, given_penalty, on_samplers,
                                                              on_arrays):
    x, y = np.zeros((4, dim)), np.ones((4, dim))
    assert _quiet(x, y, penalty=given_penalty, **ONE_STEP).config.penalty == on_arrays
    res = _quiet(_sampler(dim, 0.0), _sampler(dim, 1.0), penalty=given_penalty, n_eval=8,
                 **ONE_STEP)
    assert res.config.penalty == on_samplers
    assert _quiet(x, y, lipschitz="gp", **ONE_STEP).config.penalty == 10.0


def test_a_negative_penalty_raises_naming_it():
    with pytest.raises(ValueError, match="penalty"):
        estimate_w1([[0.0], [1.0]], [[1.0], [2.0]], penalty=-1.0)


def test_a_given_input_scale_overrides_the_rule():
    x, y = np.zeros((4, 40)), np.ones((4, 40))
    assert _quiet(x, y, input_scale="radius", **ONE_STEP).config.input_scale == "radius"
    assert _quiet(x[:, :2], y[:, :2], input_scale="coordinate",
                  **ONE_STEP).config.input_scale == "coordinate"


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**16), dim=st.integers(1, 40),
       input_scale=st.sampled_from(["radius", "coordinate"]))
def test_the_critic_returned_maps_data_units_through_the_scaled_input(seed, dim, input_scale):
    """f(z) = (s/k) g(k (z - c)/s): the critic's scale is the standardisation's s over the gain."""
    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=(6, dim)), rng.normal(size=(5, dim)) + 2.0
    res = _quiet(x, y, input_scale=input_scale, **ONE_STEP)
    _, _, s = standardise(x, y, radius=True)
    assert res.critic.scale == pytest.approx(s / input_gain(input_scale, dim), rel=1e-12)


def test_both_input_scales_train_the_same_network_shape_on_samplers():
    def p(n, rng):
        return rng.standard_normal((n, 3))

    def q(n, rng):
        return rng.standard_normal((n, 3)) + 1.0

    a = _quiet(p, q, input_scale="radius", n_eval=64, **ONE_STEP)
    b = _quiet(p, q, input_scale="coordinate", n_eval=64, **ONE_STEP)
    assert b.critic.scale == pytest.approx(a.critic.scale / np.sqrt(3), rel=1e-12)


@pytest.mark.parametrize("bad", ["unit", "", "Coordinate"])
def test_an_unknown_input_scale_raises_naming_it(bad):
    with pytest.raises(ValueError, match=f"input_scale must be one of .*got {bad!r}"):
        estimate_w1([[0.0], [1.0]], [[1.0], [2.0]], input_scale=bad)
    with pytest.raises(ValueError, match="input_scale must be one of"):
        input_gain(bad, 3)
