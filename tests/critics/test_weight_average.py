"""Averaging the critic's parameters over the last steps (``average``, :class:`WeightAverage`)."""

import math
import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from otlab.critics import CriticFailedWarning, estimate_w1
from otlab.critics._loop import WeightAverage

FEW_STEPS = {"steps": 12, "hidden": (8,), "holdout": 0.0, "audit": False}


def _quiet(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CriticFailedWarning)  # a few steps: any status
        return estimate_w1(*args, **kwargs)


def _net(values):
    """A linear layer whose weight and bias hold ``values`` (a float64 array of 2)."""
    net = torch.nn.Linear(1, 1).double()
    with torch.no_grad():
        net.weight.fill_(values[0])
        net.bias.fill_(values[1])
    return net


def _run(net, iterates, average):
    """Feed ``iterates`` (rows = steps: weight, bias) through ``net`` into ``average``."""
    for step, row in enumerate(iterates, start=1):
        with torch.no_grad():
            net.weight.fill_(row[0])
            net.bias.fill_(row[1])
        average.update(step)
    return np.array([p.item() for p in average.mean])


def _averaged(steps, fraction, seed, kind):
    """Random iterates, their averaged values under ``kind``, and the window length m."""
    iterates = np.random.default_rng(seed).normal(size=(steps, 2))
    net = _net(iterates[0])
    average = WeightAverage(net, steps, fraction, kind)
    return iterates, _run(net, iterates, average), max(1, math.ceil(fraction * steps))


@settings(max_examples=40, deadline=None)
@given(steps=st.integers(1, 60), fraction=st.floats(1e-3, 1.0),
       seed=st.integers(0, 2**32 - 1))
def test_the_uniform_average_is_the_mean_of_the_last_iterates(steps, fraction, seed):
    iterates, got, m = _averaged(steps, fraction, seed, "uniform")
    np.testing.assert_allclose(got, iterates[-m:].mean(axis=0), rtol=1e-9, atol=1e-9)


@settings(max_examples=40, deadline=None)
@given(steps=st.integers(1, 60), fraction=st.floats(1e-3, 1.0),
       seed=st.integers(0, 2**32 - 1))
def test_the_ema_is_the_running_mean_then_the_exponential_average(steps, fraction, seed):
    iterates, got, m = _averaged(steps, fraction, seed, "ema")
    want = np.zeros(2)
    for k, row in enumerate(iterates, start=1):
        want += (row - want) / min(k, m)
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("kind", ["uniform", "ema"])
def test_a_sign_flip_gives_the_average_of_the_negated_critic(kind):
    # the loop negates the output layer at a flip, then the average: the result is the
    # average that a run of the negated critic from the start would have
    steps, flip_at = 20, 15
    iterates = np.random.default_rng(0).normal(size=(steps, 2))
    net = _net(iterates[0])
    flipped = WeightAverage(net, steps, 0.5, kind)
    for step, row in enumerate(iterates, start=1):
        sign = -1.0 if step > flip_at else 1.0
        with torch.no_grad():
            net.weight.fill_(sign * row[0])
            net.bias.fill_(sign * row[1])
        flipped.update(step)
        if step == flip_at:
            with torch.no_grad():
                net.weight.neg_()
                net.bias.neg_()
            flipped.negate_last(net)
    reference_net = _net(-iterates[0])
    reference = WeightAverage(reference_net, steps, 0.5, kind)
    want = _run(reference_net, -iterates, reference)
    got = np.array([p.item() for p in flipped.mean])
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9)


def test_a_window_of_one_step_is_the_last_iterate():
    x = np.random.default_rng(0).normal(size=(64, 2))
    plain = _quiet(x, x + 1.0, **FEW_STEPS)
    last = _quiet(x, x + 1.0, average=1 / FEW_STEPS["steps"], **FEW_STEPS)
    assert last.estimate == plain.estimate
    for a, b in zip(plain.critic.net.parameters(), last.critic.net.parameters()):
        assert torch.equal(a, b)


def test_averaging_changes_the_critic_and_is_recorded_in_the_config():
    x = np.random.default_rng(1).normal(size=(64, 2))
    plain = _quiet(x, x + 1.0, **FEW_STEPS)
    averaged = _quiet(x, x + 1.0, average=0.5, **FEW_STEPS)
    assert plain.config.average == 0.0 and averaged.config.average == 0.5
    assert any(not torch.equal(a, b) for a, b in zip(plain.critic.net.parameters(),
                                                     averaged.critic.net.parameters()))


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), average=st.floats(0.0, 1.0))
def test_an_averaged_critic_on_samplers_gives_a_finite_estimate(seed, average):
    def p(n, rng):
        return rng.normal(size=(n, 2))

    def q(n, rng):
        return rng.normal(size=(n, 2)) + [3.0, 4.0]

    res = _quiet(p, q, average=average, seed=seed, n_eval=64, batch_size=32, **FEW_STEPS)
    assert np.isfinite(res.estimate) and np.isfinite(res.holdout_estimate)


@pytest.mark.parametrize("bad", [-0.1, 1.5, float("nan"), float("inf")])
def test_an_average_outside_zero_one_raises_naming_it(bad):
    with pytest.raises(ValueError, match="average must be"):
        estimate_w1([[0.0], [1.0]], [[1.0], [2.0]], average=bad)


@pytest.mark.parametrize("bad", ["half", None, True])
def test_an_average_that_is_not_a_number_raises_naming_it(bad):
    with pytest.raises(TypeError, match="average must be a real number"):
        estimate_w1([[0.0], [1.0]], [[1.0], [2.0]], average=bad)
