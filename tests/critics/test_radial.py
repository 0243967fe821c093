"""The norm feature of the default critic (``radial``) and the step rule (``default_steps``)."""

import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from otlab.critics import CriticFailedWarning, default_radial, default_steps, estimate_w1
from otlab.critics.lipschitz import kantorovich_loss
from otlab.networks import WithRadius, mlp

from ._first_order import assert_first_order_path_matches_autograd

ONE_STEP = {"steps": 1, "hidden": (4,), "holdout": 0.0, "audit": False}


def test_with_radius_feeds_the_euclidean_norm_as_the_last_input():
    net = WithRadius(torch.nn.Identity())
    u = torch.tensor([[3.0, 4.0], [0.0, 0.0], [-1e-30, 0.0]], dtype=torch.float64)
    out = net(u)
    np.testing.assert_array_equal(out[:, :2].numpy(), u.numpy())
    # exact here; a norm computed with scaling (hypot-like) may be off by a few ulps elsewhere
    np.testing.assert_allclose(out[:, 2].numpy(), [5.0, 0.0, 1e-30], rtol=1e-10, atol=0)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**16), dim=st.integers(1, 6), n=st.integers(1, 7),
       zero_row=st.booleans(), scale=st.sampled_from([1e-3, 1.0, 1e3]))
def test_the_chain_rule_gradient_through_the_norm_equals_double_backpropagation(
        seed, dim, n, zero_row, scale):
    """grad_u g(u, |u|) = grad_v g[:d] + grad_v g[d] u/|u| (0 at the origin), and so do the
    penalty's weight gradients: the first-order path trains the same critic."""
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    net = WithRadius(mlp(dim + 1, 1, (8, 5))).double()
    z = scale * torch.randn(2 * n, dim, generator=gen, dtype=torch.float64)
    if zero_row:
        z[-1] = 0.0
    # Measured over 300 draws: outputs equal bitwise, gradients within 2.8e-17; the
    # tolerances leave over 1000x for a CPU that orders the sums differently.
    assert_first_order_path_matches_autograd(net, z, n, out_atol=1e-11 * scale)


def test_the_lp_loss_of_a_radial_critic_sees_the_slope_of_the_norm():
    """g(u, r) = 2 r has slope 2 everywhere but at 0: the one-sided penalty is lambda (2-1)^2."""
    net = WithRadius(torch.nn.Linear(3, 1, bias=False)).double()
    with torch.no_grad():
        net.net.weight.copy_(torch.tensor([[0.0, 0.0, 2.0]]))
    real = torch.tensor([[3.0, 4.0], [0.0, 1.0]], dtype=torch.float64)
    fake = torch.tensor([[0.0, 2.0], [1.0, 0.0]], dtype=torch.float64)
    alpha = torch.full((2, 1), 0.5, dtype=torch.float64)
    loss, value = kantorovich_loss("lp", net, real, fake, penalty=10.0, alpha=alpha)
    assert value.item() == pytest.approx((10.0 + 2.0) / 2 - (4.0 + 2.0) / 2, rel=1e-14)
    assert loss.item() == pytest.approx(-value.item() + 10.0, rel=1e-14)


@pytest.mark.parametrize("method,dim,radial", [("lp", 32, False), ("lp", 33, True),
                                               ("gp", 33, False), ("sn", 33, False),
                                               ("clip", 33, False), ("ctransform", 33, False)])
def test_the_norm_feature_is_on_by_default_for_lp_above_d32_only(method, dim, radial):
    x, y = np.zeros((4, dim)), np.ones((4, dim))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CriticFailedWarning)  # one step: any status
        res = estimate_w1(x, y, lipschitz=method, **ONE_STEP)
    assert res.config.radial is radial
    assert isinstance(res.critic.net, WithRadius) is radial
    assert default_radial(method, dim) is radial


def test_radial_can_be_switched_on_and_off():
    x, y = np.zeros((4, 2)), np.ones((4, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CriticFailedWarning)  # one step: any status
        off = estimate_w1(np.zeros((4, 40)), np.ones((4, 40)), radial=False, **ONE_STEP)
        on = estimate_w1(x, y, lipschitz="gp", radial=True, **ONE_STEP)
    assert not isinstance(off.critic.net, WithRadius)
    assert isinstance(on.critic.net, WithRadius)
    assert on.critic.net.net[0].in_features == 3


def test_radial_must_be_a_bool_and_not_with_spectral_norm():
    with pytest.raises(TypeError, match="radial must be True, False or None; got 1"):
        estimate_w1([[0.0], [1.0]], [[1.0], [2.0]], radial=1)
    with pytest.raises(ValueError, match="radial=True does not go with lipschitz='sn'"):
        estimate_w1([[0.0], [1.0]], [[1.0], [2.0]], lipschitz="sn", radial=True)


@settings(max_examples=50, deadline=None)
@given(d=st.integers(1, 10**6), e=st.integers(1, 10**6),
       method=st.sampled_from(["lp", "gp", "sn", "clip", "ctransform"]))
def test_the_default_steps_grow_by_a_unit_per_32_dimensions_to_four_except_lp_on_samplers(
        d, e, method):
    """One unit of 1000 up to D = 32, four from D = 97; "lp" on samplers: 64000 up to
    D = 32, 16000 to D = 96, 32000 from D = 97 on."""
    for samplers in (True, False):
        lo, hi = sorted((d, e))
        steps = default_steps(d, method, samplers=samplers)
        if method == "lp" and samplers:
            assert steps == (64000 if d <= 32 else 16000 if d <= 96 else 32000)
            continue
        assert default_steps(lo, method, samplers=samplers) <= default_steps(
            hi, method, samplers=samplers)
        assert steps in (1000, 2000, 3000, 4000)
        assert (steps == 1000) is (d <= 32)
        assert (steps == 4000) is (d > 96)
    assert default_steps(d) == default_steps(d, "lp", samplers=True)


def test_steps_and_log_every_resolve_from_the_data_dimension_unless_given():
    from otlab.critics._result import with_dimension

    x, y = np.zeros((4, 40)), np.ones((4, 40))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CriticFailedWarning)  # one step: any status
        cfg = estimate_w1(x, y, **ONE_STEP).config
    assert (cfg.steps, cfg.log_every) == (1, 1)
    unresolved = cfg.__class__(**{**cfg.__dict__, "steps": None, "log_every": None,
                                  "hidden": None, "radial": None, "input_scale": None,
                                  "penalty": None})
    resolved = with_dimension(unresolved, 40, samplers=True)
    assert (resolved.steps, resolved.log_every, resolved.radial,
            resolved.input_scale) == (16000, 800, True, "coordinate")
    assert with_dimension(unresolved, 40).steps == 2000  # fixed samples: 1000 per unit
    assert with_dimension(unresolved, 32).radial is False
    assert with_dimension(unresolved, 32, samplers=True).input_scale == "coordinate"
    assert with_dimension(unresolved, 32).input_scale == "radius"  # fixed samples
    assert (resolved.penalty, with_dimension(unresolved, 32, samplers=True).penalty,
            with_dimension(unresolved, 32).penalty) == (10.0, 30.0, 10.0)
    assert with_dimension(unresolved, 200, samplers=True).steps == 32000
    assert with_dimension(unresolved, 200).steps == 4000
    gp = cfg.__class__(**{**unresolved.__dict__, "lipschitz": "gp"})
    assert with_dimension(gp, 200, samplers=True).steps == 4000
    kept = with_dimension(cfg.__class__(**{**unresolved.__dict__, "steps": 7}), 200)
    assert (kept.steps, kept.log_every) == (7, 1)
