"""Minibatch sizes of the neural critic: ``batch_size`` and the penalty's ``penalty_batch``."""

import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from otlab.critics import (DEFAULT_SETTINGS, CriticFailedWarning, default_batch_size,
                           default_penalty_batch, estimate_w1)
from otlab.critics.lipschitz import critic_loss, kantorovich_loss

ONE_STEP = {"steps": 1, "hidden": (4,), "holdout": 0.0, "audit": False}


def _quiet(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CriticFailedWarning)  # one step: any status
        return estimate_w1(*args, **kwargs)


def _sampler(dim, shift):
    return lambda n, rng: rng.normal(size=(n, dim)) + shift


def _net(dim):
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(dim, 8), torch.nn.ReLU(),
                               torch.nn.Linear(8, 1)).double()


@pytest.mark.parametrize("method", ["lp", "gp"])
@pytest.mark.parametrize("rows", [1, 3, 7])
def test_the_penalty_at_the_first_rows_is_the_loss_written_out(method, rows):
    n, dim = 8, 3
    net = _net(dim)
    gen = torch.Generator().manual_seed(5)
    xb = torch.randn(n, dim, generator=gen).double()
    yb = torch.randn(n, dim, generator=gen).double()
    loss, value = critic_loss(method, net, xb, yb, torch.Generator().manual_seed(1),
                              penalty=10.0, penalty_batch=rows)
    t = torch.rand((rows, 1), generator=torch.Generator().manual_seed(1)).double()
    z = (t * xb[:rows] + (1 - t) * yb[:rows]).requires_grad_(True)
    (grad,) = torch.autograd.grad(net(z).sum(), z)
    excess = grad.norm(dim=1) - 1
    if method == "lp":
        excess = excess.clamp(min=0)
    gap = net(xb).mean() - net(yb).mean()
    assert value.item() == pytest.approx(gap.item(), rel=1e-9, abs=1e-12)
    assert loss.item() == pytest.approx((-gap + 10.0 * excess.pow(2).mean()).item(),
                                        rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("rows", [8, 9, 100])
def test_a_penalty_batch_of_the_whole_batch_or_more_is_the_full_penalty(rows):
    n, dim = 8, 3
    net = _net(dim)
    xb, yb = torch.randn(n, dim).double(), torch.randn(n, dim).double()
    full = critic_loss("lp", net, xb, yb, torch.Generator().manual_seed(2), penalty=10.0)
    some = critic_loss("lp", net, xb, yb, torch.Generator().manual_seed(2), penalty=10.0,
                       penalty_batch=rows)
    assert [v.item() for v in full] == [v.item() for v in some]


def test_kantorovich_loss_refuses_more_interpolation_weights_than_pairs():
    net = _net(2)
    with pytest.raises(ValueError, match="alpha has 5 rows for a batch of 4"):
        kantorovich_loss("lp", net, torch.randn(4, 2).double(), torch.randn(4, 2).double(),
                         penalty=1.0, alpha=torch.rand(5, 1).double())


@settings(max_examples=50, deadline=None)
@given(dim=st.integers(1, 10**6),
       method=st.sampled_from(["lp", "gp", "sn", "clip", "ctransform"]),
       batch=st.integers(1, 10**4))
def test_only_lp_on_samplers_above_d32_gets_the_larger_batch_and_a_capped_penalty(dim, method,
                                                                                  batch):
    lp = method == "lp"
    big = DEFAULT_SETTINGS["lp"]["samplers_batch_size_above_d32"]
    assert default_batch_size(method, dim) == (big if lp and dim > 32 else 256)
    assert default_batch_size(method, dim, samplers=False) == 256
    rows = DEFAULT_SETTINGS["lp"]["samplers_penalty_batch"]
    assert default_penalty_batch(method, batch) == (min(rows, batch) if lp else None)
    assert default_penalty_batch(method, batch, samplers=False) is None


@pytest.mark.parametrize("dim", [2, 32, 33, 128])
def test_the_resolved_batch_sizes_are_reported_in_the_config(dim):
    res = _quiet(_sampler(dim, 0.0), _sampler(dim, 1.0), n_eval=8, **ONE_STEP)
    assert res.config.batch_size == default_batch_size("lp", dim)
    assert res.config.penalty_batch == default_penalty_batch("lp", res.config.batch_size)
    x, y = np.zeros((4, dim)), np.ones((4, dim))
    fixed = _quiet(x, y, **ONE_STEP).config
    assert (fixed.batch_size, fixed.penalty_batch) == (256, None)
    given_ = _quiet(_sampler(dim, 0.0), _sampler(dim, 1.0), n_eval=8, batch_size=64,
                    penalty_batch=100, **ONE_STEP).config
    assert (given_.batch_size, given_.penalty_batch) == (64, 64)


@pytest.mark.parametrize("value", [0, -3, 2.5])
def test_a_bad_penalty_batch_is_refused_by_name(value):
    with pytest.raises((ValueError, TypeError), match="penalty_batch"):
        estimate_w1(np.zeros((4, 2)), np.ones((4, 2)), penalty_batch=value, **ONE_STEP)


@settings(max_examples=50, deadline=None)
@given(dim=st.integers(1, 10**6), method=st.sampled_from(["lp", "gp", "sn", "clip", "ctransform"]))
def test_only_lp_on_samplers_gets_256_units_from_d16(dim, method):
    from otlab.critics import default_hidden

    former = min(256, max(128, 8 * dim))
    assert default_hidden(dim) == (former, former)
    assert default_hidden(dim, method) == (former, former)
    wide = 256 if method == "lp" and dim >= 16 else former
    assert default_hidden(dim, method, samplers=True) == (wide, wide)


def test_the_sampler_default_width_is_the_one_used():
    res = _quiet(_sampler(16, 0.0), _sampler(16, 1.0), n_eval=8, steps=1, holdout=0.0,
                 audit=False)
    assert res.config.hidden == (256, 256)
    fixed = _quiet(np.zeros((4, 16)), np.ones((4, 16)), steps=1, holdout=0.0, audit=False)
    assert fixed.config.hidden == (128, 128)
