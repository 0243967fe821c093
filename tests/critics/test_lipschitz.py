"""One home for the Lipschitz methods: names in both vocabularies, papers' settings, losses."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from otlab.critics.lipschitz import (GAN_LOSSES, LIPSCHITZ_METHODS, PAPER_SETTINGS,
                                     critic_loss, gan_paper_defaults, input_gradients,
                                     kantorovich_loss, method_of)
from otlab.gan import PAPER_DEFAULTS, TrainConfig
from otlab.gan import critic_loss as gan_critic_loss
from otlab.networks import WithRadius, mlp

from ._first_order import assert_first_order_path_matches_autograd


def test_each_gan_loss_names_one_critic_method_and_back():
    assert {method_of(loss) for loss in GAN_LOSSES.values()} == set(GAN_LOSSES)
    assert all(method_of(m) == m for m in LIPSCHITZ_METHODS)
    with pytest.raises(ValueError, match=r"unknown Lipschitz method 'wgan-xx'.*'wgan-gp'"):
        method_of("wgan-xx")


def test_gan_paper_defaults_are_the_papers_values():
    """The values the trainer has always used, now derived from PAPER_SETTINGS."""
    adam_gp = {"optimizer": "adam", "lr_g": 1e-4, "lr_d": 1e-4, "betas": (0.0, 0.9),
               "n_critic": 5}
    assert PAPER_DEFAULTS["wgan"] == {"optimizer": "rmsprop", "lr_g": 5e-5, "lr_d": 5e-5,
                                      "n_critic": 5, "clip": 0.01}
    assert PAPER_DEFAULTS["wgan-gp"] == PAPER_DEFAULTS["wgan-lp"] == {**adam_gp, "penalty": 10.0}
    assert PAPER_DEFAULTS["wgan-sn"] == adam_gp
    for loss, method in [("wgan-gp", "gp"), ("wgan", "clip")]:
        cfg = TrainConfig.for_loss(loss)
        assert cfg.lr_d == PAPER_SETTINGS[method]["lr"]
    with pytest.raises(ValueError, match="has no GAN loss"):
        gan_paper_defaults("ctransform")


@pytest.mark.parametrize("loss", ["wgan", "wgan-gp", "wgan-lp", "wgan-sn"])
def test_gan_and_critic_losses_are_one_implementation(loss):
    torch.manual_seed(0)
    net = mlp(2, 1, (8,), activation="leaky_relu")
    real, fake, alpha = torch.randn(16, 2), torch.randn(16, 2), torch.rand(16, 1)
    gan = gan_critic_loss(loss, net, real, fake, penalty=10.0, alpha=alpha)
    shared = kantorovich_loss(method_of(loss), net, real, fake, penalty=10.0, alpha=alpha)
    for a, b in zip(gan, shared):
        assert torch.equal(a, b)
    generator = torch.Generator().manual_seed(4)
    t = torch.rand((16, 1), generator=torch.Generator().manual_seed(4))
    mine = critic_loss(method_of(loss), net, real, fake, generator, penalty=10.0)
    expected = kantorovich_loss(loss, net, real, fake, penalty=10.0,
                                alpha=t if loss in ("wgan-gp", "wgan-lp") else None)
    assert torch.equal(mine[0], expected[0])


def test_kantorovich_loss_has_no_ctransform_form():
    net = torch.nn.Linear(2, 1)
    with pytest.raises(ValueError, match="no 'ctransform' form"):
        kantorovich_loss("ctransform", net, torch.zeros(2, 2), torch.zeros(2, 2))


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**16), dim=st.integers(1, 6), n=st.integers(1, 7),
       hidden=st.sampled_from([(4,), (6, 4), (8, 4, 6)]), radial=st.booleans())
def test_the_first_order_gradient_of_a_groupsort_critic_equals_double_backpropagation(
        seed, dim, n, hidden, radial):
    """A GroupSort unit permutes its group, so scattering the gradient back by the sorting
    indices is the gradient autograd computes, and so are the penalty's weight gradients
    (also through the norm feature): the first-order path trains the same critic."""
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    net = mlp(dim + radial, 1, hidden, activation="groupsort").double()
    net = WithRadius(net) if radial else net
    z = torch.randn(2 * n, dim, generator=gen, dtype=torch.float64)
    # Measured over 500 draws: outputs equal bitwise, input gradients within 2.8e-17,
    # weight gradients within 1.7e-12 of |expected| + 1e-11; the tolerances leave over 5000x.
    assert_first_order_path_matches_autograd(net, z, n, out_atol=1e-10)


def test_a_groupsort_critic_takes_the_first_order_gradient_path(monkeypatch):
    """No double backpropagation: autograd.grad is never asked for create_graph."""
    calls = []
    real = torch.autograd.grad
    monkeypatch.setattr(torch.autograd, "grad", lambda *a, **k: calls.append(k) or real(*a, **k))
    net = WithRadius(mlp(4, 1, (6, 4), activation="groupsort"))
    out, grad = input_gradients(net, torch.randn(5, 3), start=2)
    assert out.shape == (5,) and grad.shape == (3, 3) and calls == []
