"""Generator and critic networks: the MLPs and the DCGAN-style pair for the 8x8 digits."""

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn.utils import parametrize

from otlab.gan import TrainConfig, build_models, load_history, train
from otlab.gan.models import conv_critic, conv_generator, conv_width

CONV = dict(data="digits", arch="conv")


def _conv_pair(loss="wgan-gp", hidden=32, seed=0):
    torch.manual_seed(seed)
    cfg = TrainConfig.for_loss(loss, hidden=hidden, **CONV)
    return cfg, *build_models(cfg, 64)


def test_conv_generator_maps_latents_to_flat_64d_rows_in_minus_one_one():
    cfg, generator, _ = _conv_pair()
    z = 50.0 * torch.randn(300, cfg.latent_dim)  # large latents saturate the tanh
    with torch.no_grad():
        x = generator(z)
    assert tuple(x.shape) == (300, 64)
    assert float(x.min()) >= -1.0 and float(x.max()) <= 1.0
    assert float(x.abs().max()) > 0.99  # the range is reached, not just respected


def test_conv_critic_reads_flat_rows_and_returns_one_score_per_row():
    _, _, critic = _conv_pair()
    assert tuple(critic(torch.rand(7, 64) * 2 - 1).shape) == (7, 1)


def test_conv_critic_reads_a_row_as_a_row_major_8x8_image():
    critic = conv_critic(width=2)
    image = torch.randn(3, 1, 8, 8)
    with torch.no_grad():
        expected = critic[1:](image)  # everything after the Unflatten
        torch.testing.assert_close(critic(image.reshape(3, 64)), expected)


def test_conv_width_is_hidden_over_8_so_512_gives_the_dcgan_channels():
    _, generator, critic = _conv_pair(hidden=512)
    convs = [m for m in critic if isinstance(m, nn.Conv2d)]
    deconvs = [m for m in generator if isinstance(m, nn.ConvTranspose2d)]
    assert [(m.in_channels, m.out_channels) for m in convs] == [(1, 64), (64, 128)]
    assert [(m.in_channels, m.out_channels) for m in deconvs] == [(256, 128), (128, 1)]
    assert (conv_width(512), conv_width(64), conv_width(7)) == (64, 8, 1)


def test_no_batch_norm_in_the_conv_models():
    _, generator, critic = _conv_pair()
    norms = (nn.BatchNorm1d, nn.BatchNorm2d, nn.LayerNorm, nn.GroupNorm, nn.InstanceNorm2d)
    assert not [m for m in [*generator.modules(), *critic.modules()] if isinstance(m, norms)]


@pytest.mark.parametrize("loss", ["wgan-gp", "wgan-sn"])
def test_conv_critic_scores_a_stacked_batch_as_its_parts(loss):
    """train.py stacks real, fake and interpolated rows in one critic pass."""
    _, _, critic = _conv_pair(loss)
    critic.eval()  # freeze the power iteration of spectral norm between the calls
    torch.manual_seed(1)
    parts = [torch.rand(n, 64) * 2 - 1 for n in (5, 3, 4)]
    with torch.no_grad():
        stacked = critic(torch.cat(parts))
        separate = torch.cat([critic(p) for p in parts])
    torch.testing.assert_close(stacked, separate, rtol=1e-5, atol=1e-6)


def test_conv_critic_input_gradient_of_a_row_is_zero_outside_that_row():
    """The gradient penalty reads per-row gradients from one stacked pass."""
    _, _, critic = _conv_pair()
    x = (torch.rand(6, 64) * 2 - 1).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x)[4:].sum(), x)
    assert torch.count_nonzero(grad[:4]) == 0
    assert torch.count_nonzero(grad[4:]) > 0
    (row,) = torch.autograd.grad(critic(x[4:5]).sum(), x)
    torch.testing.assert_close(grad[4], row[4])


def test_wgan_sn_spectrally_normalises_every_conv_and_linear_layer_of_the_conv_critic():
    _, _, critic = _conv_pair("wgan-sn", hidden=16)
    layers = [m for m in critic if isinstance(m, (nn.Conv2d, nn.Linear))]
    assert len(layers) == 3
    assert all(parametrize.is_parametrized(m, "weight") for m in layers)
    with torch.no_grad():
        for _ in range(50):  # each training-mode call runs one power iteration
            critic(torch.zeros(1, 64))
        for m in layers:
            sigma = torch.linalg.matrix_norm(m.weight.reshape(m.weight.shape[0], -1), ord=2)
            np.testing.assert_allclose(float(sigma), 1.0, rtol=1e-3)


@pytest.mark.parametrize("loss", ["wgan-gp", "wgan", "gan"])
def test_other_losses_leave_the_conv_critic_unnormalised(loss):
    _, generator, critic = _conv_pair(loss)
    assert not any(parametrize.is_parametrized(m) for m in [*generator, *critic])


def test_default_arch_is_the_mlp():
    cfg = TrainConfig.for_loss("wgan-gp", data="digits", hidden=16, depth=2)
    generator, critic = build_models(cfg, 64)
    assert cfg.arch == "mlp"
    assert {type(m) for m in critic} == {nn.Linear, nn.ReLU}
    assert isinstance(generator[-1], nn.Tanh) and generator[0].in_features == 16


def test_build_models_rejects_conv_for_rows_that_are_not_8x8_images():
    cfg = TrainConfig(hidden=16, **CONV)
    with pytest.raises(ValueError, match=r"arch='conv' needs data_dim=64.*got data_dim=2"):
        build_models(cfg, 2)


def test_conv_generator_and_critic_compose_through_flat_rows():
    generator, critic = conv_generator(4, width=2), conv_critic(width=2)
    assert tuple(critic(generator(torch.randn(9, 4))).shape) == (9, 1)


def test_short_conv_wgan_gp_run_on_digits_writes_history_with_exact_w1(tmp_path):
    cfg = TrainConfig.for_loss("wgan-gp", iters=6, n_critic=2, hidden=16, batch_size=32,
                               eval_every=3, log_every=3, eval_samples=128, progress=False,
                               out=tmp_path, **CONV)
    history = train(cfg)
    assert [r["iteration"] for r in history] == [0, 3, 6]
    w = [r["exact_w1"] for r in history]
    assert all(np.isfinite(w)) and min(w) > 0
    assert all(np.isfinite([r["d_loss"], r["g_loss"]]).all() for r in history[1:])
    assert load_history(tmp_path / "history.jsonl") == history
    assert len(list((tmp_path / "snapshots").glob("iter_*.npz"))) == 3


@pytest.mark.parametrize("loss", ["wgan-sn", "wgan"])
def test_conv_critic_trains_with_finite_losses_under_spectral_norm_and_clipping(loss):
    cfg = TrainConfig.for_loss(loss, iters=2, n_critic=2, hidden=16, batch_size=32,
                               eval_every=0, log_every=1, progress=False, **CONV)
    history = train(cfg)
    assert len(history) == 2
    assert all(np.isfinite([r["d_loss"], r["g_loss"]]).all() for r in history)


@pytest.mark.gpu
def test_conv_models_train_under_a_cuda_graph(tmp_path):
    cfg = TrainConfig.for_loss("wgan-gp", iters=12, n_critic=2, hidden=64, batch_size=64,
                               eval_every=6, log_every=6, eval_samples=256, device="cuda",
                               progress=False, out=tmp_path, **CONV)
    assert cfg.use_cuda_graph
    history = train(cfg)
    assert [r["iteration"] for r in history] == [0, 6, 12]
    assert all(np.isfinite([r["d_loss"], r["g_loss"], r["exact_w1"]]).all()
               for r in history[1:])
