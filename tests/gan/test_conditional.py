"""The conditional GAN family: models, conditioning, losses given labels, resume, learning."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from otlab.gan import CheckpointError, train
from otlab.gan.families.conditional import CGANConfig, ConditionalGAN
from otlab.gan.conditioning import split_labels, with_labels
from otlab.gan.families.infogan import InfoGANConfig
from otlab.gan.families.pix2pix import Pix2PixConfig

TINY = dict(hidden=16, depth=1, batch_size=32, eval_samples=64, progress=False)


def _models(conditioning, *, data="8gaussians", arch="mlp", loss="wgan-gp"):
    torch.manual_seed(0)
    cfg = CGANConfig.for_loss(loss, data=data, arch=arch, conditioning=conditioning, **TINY)
    family = ConditionalGAN(cfg)
    g, d = family.build_models()
    if conditioning == "projection":  # the embedding starts at 0 (an unconditional critic)
        nn.init.normal_(d.embed.weight)
    return family, g, d


@pytest.mark.parametrize("data, arch, conditioning, dim", [
    ("8gaussians", "mlp", "concat", 2), ("25gaussians", "mlp", "projection", 2),
    ("digits", "mlp", "concat", 64), ("digits", "conv", "projection", 64),
    ("digits", "conv", "none", 64),
])
def test_models_map_noise_and_labels_to_points_and_pairs_to_one_score(data, arch,
                                                                      conditioning, dim):
    family, g, d = _models(conditioning, data=data, arch=arch)
    z, labels = family.generator_batch()
    x = g(z, labels)
    assert x.shape == (32, dim) and d(x, labels).shape == (32, 1)
    for real, fake, lab, alpha in family.critic_batches(g, 3):
        assert real.shape == fake.shape == (32, dim) and lab.shape == (32,)
        assert alpha.shape == (32, 1)


@pytest.mark.parametrize("conditioning", ["concat", "projection"])
def test_the_label_changes_what_the_generator_draws_and_how_the_critic_scores(conditioning):
    _, g, d = _models(conditioning)
    z = torch.randn(64, 2)
    zeros, threes = torch.zeros(64, dtype=torch.long), torch.full((64,), 3)
    assert (g(z, zeros) - g(z, threes)).abs().min() > 0
    x = torch.randn(64, 2)
    assert (d(x, zeros) - d(x, threes)).abs().min() > 0


def test_the_unconditional_baseline_ignores_the_label():
    _, g, d = _models("none")
    z, x = torch.randn(16, 2), torch.randn(16, 2)
    zeros, sevens = torch.zeros(16, dtype=torch.long), torch.full((16,), 7)
    torch.testing.assert_close(g(z, zeros), g(z, sevens), rtol=0, atol=0)
    torch.testing.assert_close(d(x, zeros), d(x, sevens), rtol=0, atol=0)


@pytest.mark.parametrize("loss", ["gan", "gan-ns", "wgan-gp"])
@pytest.mark.parametrize("conditioning", ["concat", "projection"])
def test_the_critic_loss_is_the_loss_of_the_critic_given_each_points_label(loss, conditioning):
    family, g, d = _models(conditioning, loss=loss)
    real, fake, labels, alpha = family.critic_batches(g, 1)[0]
    value, estimate = family.critic_loss(d, real, fake, labels, alpha)
    d_real, d_fake = d(real, labels).squeeze(-1), d(fake, labels).squeeze(-1)
    if loss == "wgan-gp":  # the penalty is taken in x at the fixed label
        interp = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
        (grad,) = torch.autograd.grad(d(interp, labels).sum(), interp)
        expected = d_fake.mean() - d_real.mean() + 10.0 * ((grad.norm(dim=1) - 1) ** 2).mean()
    else:
        expected = F.softplus(-d_real).mean() + F.softplus(d_fake).mean()
    torch.testing.assert_close(value, expected)
    torch.testing.assert_close(estimate, (d_real.mean() - d_fake.mean()).detach())
    g_loss = family.generator_loss(g, d, fake[:4] * 0, labels[:4])  # z = 0 given the labels
    d_gen = d(g(fake[:4] * 0, labels[:4]), labels[:4]).squeeze(-1)
    expected_g = {"gan": -F.softplus(d_gen).mean(), "gan-ns": F.softplus(-d_gen).mean(),
                  "wgan-gp": -d_gen.mean()}[loss]
    torch.testing.assert_close(g_loss, expected_g)


def test_evaluation_rows_carry_their_labels_and_measure_every_class():
    family, g, d = _models("concat")
    evaluation = family.evaluate(g, d, 0)
    real, labels = split_labels(evaluation.real.numpy())
    fake, fake_labels = split_labels(evaluation.fake.detach().numpy())
    np.testing.assert_array_equal(labels, fake_labels)  # one point generated per real label
    torch.testing.assert_close(with_labels(torch.as_tensor(real), torch.as_tensor(labels)),
                               evaluation.real)
    row = family.metrics(evaluation.real.numpy(), evaluation.fake.detach().numpy())
    assert set(family.columns) - set(row) == {"iteration", "d_loss", "g_loss", "batch_estimate",
                                              "critic_estimate"}


@pytest.mark.parametrize("changes, message", [
    ({"data": "ring"}, "data must be one of '8gaussians', '25gaussians', 'digits'; got 'ring'"),
    ({"conditioning": "embed"}, "conditioning must be one of 'concat', 'projection', 'none'"),
    ({"data": "digits", "arch": "conv"}, "conditioning='concat' needs arch='mlp'"),
])
def test_settings_without_a_meaning_are_refused_naming_them(changes, message):
    with pytest.raises(ValueError, match=message):
        CGANConfig(**{"conditioning": "concat", **changes})


def test_the_family_refuses_a_plain_train_config():
    from otlab.gan import TrainConfig

    with pytest.raises(TypeError, match="config must be an instance of CGANConfig; got TrainConfig"):
        ConditionalGAN(TrainConfig())


RESUME = dict(loss="wgan-gp", n_critic=2, eval_every=3, log_every=3, checkpoint_every=3,
              seed=4, conditioning="projection", **TINY)


def test_resume_from_half_way_ends_bitwise_where_the_uninterrupted_run_ends(tmp_path):
    full = train(CGANConfig.for_loss(iters=6, out=tmp_path / "full", **RESUME))
    train(CGANConfig.for_loss(iters=3, out=tmp_path / "half", **RESUME))
    resumed = train(CGANConfig.for_loss(iters=6, out=tmp_path / "half", resume=True, **RESUME))
    assert len(resumed) == len(full) and _same_with_nan(resumed, full)
    a, b = (torch.load(tmp_path / p / "checkpoint.pt", weights_only=True) for p in ("full", "half"))
    for part in ("generator", "critic"):
        for key in a[part]:
            torch.testing.assert_close(a[part][key], b[part][key], rtol=0, atol=0)


def _same_with_nan(rows_a, rows_b):
    """Rows equal, NaN equal to NaN (an unconditional run has no label accuracy)."""
    return all(ra.keys() == rb.keys() and all(
        va == vb or (isinstance(va, float) and np.isnan(va) and np.isnan(vb))
        for va, vb in zip(ra.values(), rb.values())) for ra, rb in zip(rows_a, rows_b))


def test_resume_with_another_conditioning_is_refused_naming_it(tmp_path):
    train(CGANConfig.for_loss(iters=3, out=tmp_path, **RESUME))
    with pytest.raises(CheckpointError, match=r"conditioning \('projection' in the checkpoint, "
                                              r"'concat' now\)"):
        train(CGANConfig.for_loss(iters=6, out=tmp_path, resume=True,
                                  **{**RESUME, "conditioning": "concat"}))


def test_evaluations_leave_the_training_streams_untouched(tmp_path):
    common = {**RESUME, "checkpoint_every": 0}
    train(CGANConfig.for_loss(iters=4, out=tmp_path / "a", **{**common, "eval_every": 1}))
    train(CGANConfig.for_loss(iters=4, out=tmp_path / "b", **{**common, "eval_every": 0}))
    a, b = (torch.load(tmp_path / p / "checkpoint.pt", weights_only=True) for p in "ab")
    for key in a["generator"]:
        torch.testing.assert_close(a["generator"][key], b["generator"][key], rtol=0, atol=0)


def test_a_short_run_learns_to_put_each_label_on_its_own_mode():
    # 600 iterations: label accuracy 1.0 and mean per-class W1 below 0.13 for seeds 0..4
    cfg = CGANConfig.for_loss("gan-ns", data="8gaussians", iters=600, hidden=32, depth=2,
                              batch_size=64, lr_g=2e-3, lr_d=2e-3, eval_every=600,
                              eval_samples=256, progress=False, seed=1)
    first, last = (r for r in train(cfg) if r["exact_w1"] is not None)
    assert first["label_accuracy"] < 0.3 and last["label_accuracy"] > 0.9
    assert last["mean_class_w1"] < 0.25 * first["mean_class_w1"]


@pytest.mark.gpu
@pytest.mark.parametrize("config", [
    CGANConfig.for_loss("wgan-gp", data="25gaussians", conditioning="projection"),
    InfoGANConfig.for_loss("gan-ns", data="digits", n_continuous=1),
    Pix2PixConfig.for_variant("cgan+l1"),
], ids=["cgan", "infogan", "pix2pix"])
def test_every_family_trains_in_a_cuda_graph_with_finite_measures(config):
    cfg = config.replace(device="cuda", iters=12, eval_every=6, log_every=6, **TINY)
    assert cfg.use_cuda_graph
    history = train(cfg)
    assert [r["iteration"] for r in history] == [0, 6, 12]
    assert all(np.isfinite(history[-1][k]) for k in ("d_loss", "g_loss", "exact_w1"))
