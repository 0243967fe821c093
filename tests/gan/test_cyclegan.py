"""CycleGAN: two domains of digits, unpaired batches, the cycle and identity terms, the measures."""

import numpy as np
import pytest
import torch

from otlab.gan import CheckpointError, train
from otlab.gan.data import digits_dataset, thicken_strokes
from otlab.gan.families.cyclegan import (CycleGAN, CycleGANConfig, Translator, split,
                                         translation_scores)

TINY = dict(iters=2, hidden=16, batch_size=8, eval_every=2, log_every=1, progress=False)


def test_thickening_never_thins_a_stroke_and_is_idempotent_on_a_blank_image():
    pixels, _ = digits_dataset()
    thick = thicken_strokes(pixels[:100])
    assert (thick >= pixels[:100]).all()
    blank = -np.ones((1, 64), dtype=np.float32)
    np.testing.assert_array_equal(thicken_strokes(blank), blank)


def test_the_two_domains_show_the_same_held_out_digits_and_never_mix_train_and_test():
    s = split()
    np.testing.assert_array_equal(thicken_strokes(s["test"][0]), s["test"][1])
    np.testing.assert_array_equal(thicken_strokes(s["train"][0]), s["train"][1])
    train_rows = {r.tobytes() for r in s["train"][0]}
    assert sum(r.tobytes() in train_rows for r in s["test"][0]) < 10  # duplicates in the data only


def test_unpaired_batches_draw_the_domains_independently_and_paired_ones_together():
    _ = torch.manual_seed(0)
    unpaired = CycleGAN(CycleGANConfig.for_variant("cyclegan", **TINY))
    a, b = unpaired._draw(200)
    assert not torch.equal(thicken_strokes_t(a), b)
    paired = CycleGAN(CycleGANConfig.for_variant("paired", **TINY))
    a, b = paired._draw(200)
    torch.testing.assert_close(thicken_strokes_t(a), b, rtol=0, atol=0)


def thicken_strokes_t(x):
    return torch.as_tensor(thicken_strokes(x.numpy()))


def test_a_perfect_translator_scores_zero_and_the_identity_scores_the_domain_gap():
    s = split()
    a, b = s["test"]
    perfect = translation_scores(a, b, b, a, a, b)
    assert perfect == {"exact_w1": 0.0, "exact_w1_ba": 0.0, "cycle_l1": 0.0,
                       "translation_l1": 0.0}
    identity = translation_scores(a, b, a, b, a, b)
    assert identity["cycle_l1"] == 0.0 and identity["exact_w1"] > 1.0
    np.testing.assert_allclose(identity["translation_l1"], np.abs(a - b).mean() / 2, rtol=1e-6)


def test_the_translator_is_the_identity_when_its_residual_is_zero_inside_the_box():
    t = Translator(width=4)
    for p in t.net[-1].parameters():
        torch.nn.init.zeros_(p)
    x = torch.rand(5, 64) * 1.8 - 0.9
    torch.testing.assert_close(t(x), torch.tanh(x))


@pytest.mark.parametrize("variant", ["cyclegan", "no-cycle", "paired"])
def test_every_variant_trains_and_measures_the_held_out_pairs(variant):
    history = train(CycleGANConfig.for_variant(variant, **TINY))
    last = history[-1]
    assert last["iteration"] == 2 and last["exact_w1"] > 0 and last["exact_w1_ba"] > 0
    assert 0 <= last["cycle_l1"] <= 1 and 0 <= last["translation_l1"] <= 1


def test_resume_from_half_way_ends_bitwise_where_the_uninterrupted_run_ends(tmp_path):
    make = lambda **kw: CycleGANConfig.for_variant(  # noqa: E731
        "cyclegan", **{**TINY, "checkpoint_every": 2, "seed": 4, **kw})
    full = train(make(iters=4, out=tmp_path / "full"))
    train(make(iters=2, out=tmp_path / "half"))
    assert train(make(iters=4, out=tmp_path / "half", resume=True)) == full
    with pytest.raises(CheckpointError, match=r"differing settings: cycle_weight"):
        train(make(iters=4, out=tmp_path / "half", resume=True, cycle_weight=1.0))


@pytest.mark.parametrize("changes, error, message", [
    ({"loss": "wgan-gp"}, ValueError, "loss must be one of 'gan', 'gan-ns'"),
    ({"target": "8gaussians"}, ValueError, "target must be a data set of 8x8 images"),
    ({"target": "digits"}, ValueError, "source and target must differ"),
    ({"cycle_weight": -1.0}, ValueError, "cycle_weight"),
    ({"arch": "conv"}, TypeError, "unknown CycleGANConfig fields: arch"),
])
def test_settings_without_a_meaning_are_refused_naming_them(changes, error, message):
    with pytest.raises(error, match=message):
        CycleGANConfig.for_variant("cyclegan", **changes)
