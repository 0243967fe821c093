"""pix2pix: the paired task, U-Net and PatchGAN, the objective of each variant, resume."""

import numpy as np
import pytest
import torch

from otlab.gan import train
from otlab.gan.data import digits_dataset
from otlab.gan.families.pix2pix import (
    VARIANTS,
    PatchCritic,
    Pix2Pix,
    Pix2PixConfig,
    UNet,
    degrade,
    image_scores,
    paired_digits,
)

TINY = dict(hidden=32, batch_size=16, progress=False)


def test_inpainting_erases_the_lower_half_and_keeps_the_upper_half():
    pixels = digits_dataset()[0][:20]
    x = degrade(pixels, "inpaint").reshape(-1, 8, 8)
    np.testing.assert_array_equal(x[:, 4:], -1.0)
    np.testing.assert_array_equal(x[:, :4], pixels.reshape(-1, 8, 8)[:, :4])


def test_superresolution_input_keeps_each_2x2_block_mean():
    pixels = digits_dataset()[0][:20]
    blocks = lambda a: a.reshape(-1, 4, 2, 4, 2).mean(axis=(2, 4))  # noqa: E731
    x = degrade(pixels, "superres")
    np.testing.assert_allclose(blocks(x), blocks(pixels), atol=1e-6)
    assert np.all(x.reshape(-1, 4, 2, 4, 2).std(axis=(2, 4)) == 0)


def test_the_held_out_pairs_are_fixed_disjoint_and_stratified():
    pairs = paired_digits("inpaint")
    (x_tr, y_tr), (x_te, y_te) = pairs["train"], pairs["test"]
    assert len(y_tr) + len(y_te) == 1797 and len(y_te) == 360
    pixels, labels = digits_dataset()
    index = {row.tobytes(): lab for row, lab in zip(pixels, labels)}
    test_labels = np.array([index[r.tobytes()] for r in y_te])
    assert np.all(np.abs(np.bincount(test_labels) - 0.2 * np.bincount(labels)) <= 1)
    np.testing.assert_array_equal(paired_digits("superres")["test"][1], y_te)
    np.testing.assert_array_equal(x_te, degrade(y_te, "inpaint"))


@pytest.mark.parametrize("dropout", [0.0, 0.5])
def test_the_unet_maps_images_to_images_with_dropout_as_its_noise(dropout):
    torch.manual_seed(0)
    net = UNet(4, dropout=dropout)
    x = torch.rand(6, 64) * 2 - 1
    y1, y2 = net(x), net(x)
    assert y1.shape == (6, 64) and y1.abs().max() <= 1
    assert torch.equal(y1, y2) == (dropout == 0.0)


def test_the_unet_skips_carry_the_input_to_the_output():
    torch.manual_seed(0)
    net = UNet(4, dropout=0.0)
    x = torch.zeros(1, 64, requires_grad=True)
    (grad,) = torch.autograd.grad(net(x)[0, 0], x)
    assert grad.abs().sum() > 0


@pytest.mark.parametrize("i, j", [(0, 0), (1, 2), (3, 3)])
def test_each_patch_logit_sees_only_its_4x4_patch(i, j):
    torch.manual_seed(0)
    critic = PatchCritic(4)
    x, y = torch.randn(1, 64, requires_grad=True), torch.randn(1, 64, requires_grad=True)
    grads = torch.autograd.grad(critic(x, y)[0, 4 * i + j], (x, y))
    rows = set(range(max(2 * i - 1, 0), min(2 * i + 3, 8)))
    cols = set(range(max(2 * j - 1, 0), min(2 * j + 3, 8)))
    for g in grads:
        seen = {(r, c) for r, c in zip(*np.nonzero(g.reshape(8, 8).numpy()))}
        assert seen <= {(r, c) for r in rows for c in cols}
        assert seen  # and it does see its patch, in both images


def test_image_scores_of_identical_sets_are_zero_error_and_infinite_psnr():
    y = paired_digits("inpaint")["test"][1][:30]
    s = image_scores(y, y)
    assert s["l1"] == 0.0 and s["psnr"] == np.inf
    np.testing.assert_allclose(s["exact_w1"], 0.0, atol=1e-9)


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_the_generator_objective_of_each_variant(variant):
    torch.manual_seed(0)
    cfg = Pix2PixConfig.for_variant(variant, **TINY)
    family = Pix2Pix(cfg)
    g, d = family.build_models()
    x, y = family.generator_batch()
    torch.manual_seed(1)
    value = family.generator_loss(g, d, x, y)
    torch.manual_seed(1)
    fake = g(x)
    expected = cfg.l1_weight * (fake - y).abs().mean()
    if cfg.gan_weight:
        expected = expected + torch.nn.functional.softplus(-d(x, fake)).mean()
    torch.testing.assert_close(value, expected)
    with torch.no_grad():  # only the variants with an adversarial term depend on the critic
        for p in d.parameters():
            p.add_(0.1)
    torch.manual_seed(1)
    changed = family.generator_loss(g, d, x, y)
    assert torch.equal(changed, value) == (cfg.gan_weight == 0)


def test_the_critic_scores_real_pairs_against_generated_pairs():
    torch.manual_seed(0)
    family = Pix2Pix(Pix2PixConfig.for_variant("cgan", **TINY))
    g, d = family.build_models()
    x, y, fake = family.critic_batches(g, 1)[0]
    value, estimate = family.critic_loss(d, x, y, fake)
    sp = torch.nn.functional.softplus
    torch.testing.assert_close(value, sp(-d(x, y)).mean() + sp(d(x, fake)).mean())
    torch.testing.assert_close(estimate, (d(x, y).mean() - d(x, fake).mean()).detach())


@pytest.mark.parametrize("changes, message", [
    ({"loss": "wgan-gp"}, "loss must be one of 'gan', 'gan-ns'"),
    ({"task": "edges"}, "task must be one of 'inpaint', 'superres'"),
    ({"l1_weight": 0.0, "gan_weight": 0.0}, "both 0"),
    ({"dropout": 1.0}, r"dropout must be in \[0, 1\)"),
])
def test_settings_without_a_meaning_are_refused_naming_them(changes, message):
    with pytest.raises(ValueError, match=message):
        Pix2PixConfig.for_variant("cgan+l1", **changes)


@pytest.mark.parametrize("name", ["data", "arch", "depth", "z_dim", "eval_samples", "penalty"])
def test_settings_pix2pix_does_not_have_are_refused_naming_them(name):
    # pix2pix translates the digits with its own networks: these settings are not its own
    with pytest.raises(TypeError, match=f"unknown Pix2PixConfig fields: {name}"):
        Pix2PixConfig.for_variant("cgan+l1", **{name: 1})


def test_an_unknown_variant_is_refused_listing_the_variants():
    with pytest.raises(ValueError, match="variant must be one of 'l1', 'cgan', 'cgan\\+l1'"):
        Pix2PixConfig.for_variant("l2")


RESUME = dict(eval_every=2, log_every=2, checkpoint_every=2, seed=5, **TINY)


def test_resume_from_half_way_ends_bitwise_where_the_uninterrupted_run_ends(tmp_path):
    make = lambda **kw: Pix2PixConfig.for_variant("cgan+l1", **RESUME, **kw)  # noqa: E731
    full = train(make(iters=4, out=tmp_path / "full"))
    train(make(iters=2, out=tmp_path / "half"))
    resumed = train(make(iters=4, out=tmp_path / "half", resume=True))
    assert resumed == full
    a, b = (torch.load(tmp_path / p / "checkpoint.pt", weights_only=True) for p in ("full", "half"))
    for key in a["generator"]:
        torch.testing.assert_close(a["generator"][key], b["generator"][key], rtol=0, atol=0)


def test_a_checkpoint_written_before_the_unused_settings_were_dropped_resumes_bitwise(tmp_path):
    # checkpoints of earlier versions record the settings pix2pix never used (arch, depth,
    # z_dim, data, eval_samples, clip, penalty) and no configuration class
    make = lambda **kw: Pix2PixConfig.for_variant("cgan+l1", **RESUME, **kw)  # noqa: E731
    full = train(make(iters=4, out=tmp_path / "full"))
    train(make(iters=2, out=tmp_path / "old"))
    path = tmp_path / "old" / "checkpoint.pt"
    state = torch.load(path, weights_only=True)
    del state["config_class"], state["config"]["overwrite"]
    state["config"].update(data="digits", arch="mlp", depth=3, z_dim=None, eval_samples=2048,
                           clip=0.01, penalty=10.0)
    torch.save(state, path)
    assert train(make(iters=4, out=tmp_path / "old", resume=True)) == full


def test_a_checkpoint_of_another_family_is_refused_naming_both(tmp_path):
    from otlab.gan import CheckpointError, TrainConfig

    train(TrainConfig.for_loss("gan-ns", iters=2, hidden=8, depth=1, batch_size=8,
                               eval_every=0, progress=False, out=tmp_path))
    with pytest.raises(CheckpointError, match="from a TrainConfig run, this run is a "
                                              "Pix2PixConfig"):
        train(Pix2PixConfig.for_variant("l1", **{**RESUME, "iters": 4}, out=tmp_path,
                                        resume=True))


def test_evaluations_draw_their_dropout_noise_outside_the_training_streams(tmp_path):
    common = dict(iters=3, log_every=1, checkpoint_every=0, seed=5, **TINY)
    train(Pix2PixConfig.for_variant("l1", out=tmp_path / "a", eval_every=1, **common))
    train(Pix2PixConfig.for_variant("l1", out=tmp_path / "b", eval_every=0, **common))
    a, b = (torch.load(tmp_path / p / "checkpoint.pt", weights_only=True) for p in "ab")
    for key in a["generator"]:
        torch.testing.assert_close(a["generator"][key], b["generator"][key], rtol=0, atol=0)
