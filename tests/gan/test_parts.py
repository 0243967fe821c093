import numpy as np
import pytest
import torch
from numpy.testing import assert_array_equal

from otlab.datasets import eight_gaussians
from otlab.gan import (
    Sampler,
    critic_loss,
    exact_w1,
    generator_loss,
    mixture_modes,
    mode_metrics,
    sampling_floor,
)


def test_exact_w1_of_a_translation_is_the_shift_length():
    x = np.random.default_rng(0).normal(size=(50, 2))
    np.testing.assert_allclose(exact_w1(x, x + [3.0, 4.0]), 5.0, rtol=1e-12)


def test_torch_sampler_matches_numpy_dataset_moments():
    torch.manual_seed(0)
    x = Sampler("8gaussians")(20000).numpy()
    y = eight_gaussians(20000, seed=0)
    np.testing.assert_allclose(np.linalg.norm(x, axis=1).mean(), np.linalg.norm(y, axis=1).mean(),
                               atol=2e-3)
    assert exact_w1(x[:1000], y[:1000]) < 0.2


def test_samples_of_the_true_law_cover_all_modes_with_989_percent_within_3_sigma():
    modes, std = mixture_modes("25gaussians")
    torch.manual_seed(1)
    m = mode_metrics(Sampler("25gaussians")(2048).numpy(), modes, std)
    assert m["modes_covered"] == 25
    # in 2-D, P(|eps| <= 3 sigma) = 1 - exp(-9/2) = 98.9 %
    np.testing.assert_allclose(m["high_quality"], 100 * (1 - np.exp(-4.5)), atol=0.8)
    assert m["mode_kl"] < 0.02


def test_collapse_onto_one_mode_has_reverse_kl_log_k():
    modes, std = mixture_modes("8gaussians")
    m = mode_metrics(np.repeat(modes[:1], 100, axis=0), modes, std)
    assert m["modes_covered"] == 1
    np.testing.assert_allclose(m["mode_kl"], np.log(8))


def test_digits_are_64d_in_minus_one_one():
    x = Sampler("digits")(100)
    assert tuple(x.shape) == (100, 64)
    assert float(x.min()) >= -1.0 and float(x.max()) <= 1.0


@pytest.mark.parametrize("loss", ["gan", "gan-ns", "wgan", "wgan-gp", "wgan-lp", "wgan-sn"])
def test_losses_are_finite_and_give_gradients(loss):
    torch.manual_seed(0)
    critic = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))
    real, fake = torch.randn(16, 2), torch.randn(16, 2, requires_grad=True)
    value, est = critic_loss(loss, critic, real, fake)
    assert torch.isfinite(value) and torch.isfinite(est)
    g = generator_loss(loss, critic, fake)
    (grad,) = torch.autograd.grad(g, fake)
    assert torch.isfinite(grad).all()


def test_gradient_penalty_of_a_unit_slope_linear_critic_is_zero():
    lin = torch.nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        lin.weight.copy_(torch.tensor([[0.6, 0.8]]))
    real, fake = torch.randn(32, 2), torch.randn(32, 2)
    value, est = critic_loss("wgan-gp", lin, real, fake)
    np.testing.assert_allclose(value.item(), -est.item(), atol=1e-6)


def test_one_batched_critic_pass_gives_the_separate_pass_gradient_penalty():
    torch.manual_seed(2)
    critic = torch.nn.Sequential(torch.nn.Linear(2, 16), torch.nn.ReLU(), torch.nn.Linear(16, 1))
    real, fake, alpha = torch.randn(32, 2), torch.randn(32, 2), torch.rand(32, 1)
    value, _ = critic_loss("wgan-gp", critic, real, fake, penalty=10.0, alpha=alpha)
    interp = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(interp).sum(), interp)
    expected = (critic(fake).mean() - critic(real).mean()
                + 10.0 * ((grad.norm(dim=1) - 1) ** 2).mean())
    np.testing.assert_allclose(value.item(), expected.item(), rtol=1e-5)


class _OpaqueSequential(torch.nn.Sequential):
    """Same network, but not recognised as a plain ReLU MLP: takes the autograd path."""


@pytest.mark.parametrize("loss", ["wgan-gp", "wgan-lp"])
def test_written_out_input_gradient_gives_the_double_backward_penalty_and_weight_gradients(loss):
    torch.manual_seed(3)
    net = torch.nn.Sequential(torch.nn.Linear(2, 16), torch.nn.ReLU(), torch.nn.Linear(16, 16),
                              torch.nn.ReLU(), torch.nn.Linear(16, 1)).double()
    opaque = _OpaqueSequential(*net)
    real, fake = torch.randn(64, 2, dtype=torch.float64), torch.randn(64, 2, dtype=torch.float64)
    alpha = torch.rand(64, 1, dtype=torch.float64)
    fast, _ = critic_loss(loss, net, real, fake, alpha=alpha)
    fast_grads = torch.autograd.grad(fast, list(net.parameters()))
    slow, _ = critic_loss(loss, opaque, real, fake, alpha=alpha)
    slow_grads = torch.autograd.grad(slow, list(opaque.parameters()))
    np.testing.assert_allclose(fast.item(), slow.item(), rtol=1e-12)
    for a, b in zip(fast_grads, slow_grads):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-10, atol=1e-12)


def test_critics_that_are_not_plain_relu_mlps_take_the_autograd_path():
    from otlab.gan.losses import _plain_relu_mlp

    lin = torch.nn.Linear(2, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1)
    assert _plain_relu_mlp(torch.nn.Sequential(*lin)) is not None
    assert _plain_relu_mlp(torch.nn.Sequential(lin[0], torch.nn.Tanh(), lin[2])) is None
    assert _plain_relu_mlp(torch.nn.Sequential(torch.nn.Linear(2, 3))) is None  # 3 outputs
    sn = torch.nn.utils.parametrizations.spectral_norm(torch.nn.Linear(8, 1))
    assert _plain_relu_mlp(torch.nn.Sequential(lin[0], lin[1], sn)) is None
    assert _plain_relu_mlp(_OpaqueSequential(*lin)) is None


def test_sampling_floor_shrinks_as_the_sample_grows_and_is_reproducible():
    small = sampling_floor("8gaussians", 64, draws=4, seed=1)
    large = sampling_floor("8gaussians", 1024, draws=4, seed=1)
    assert (small > 0).all() and (large > 0).all()
    assert large.mean() < 0.5 * small.mean()  # the empirical floor decays like n^(-1/2) here
    assert_array_equal(sampling_floor("8gaussians", 64, draws=4, seed=1), small)


def test_sampling_floor_rejects_empty_draws_naming_them():
    with pytest.raises(ValueError, match="draws"):
        sampling_floor("ring", 10, draws=0)
