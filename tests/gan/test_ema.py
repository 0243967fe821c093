"""The generator's weight average (``ema_decay``): closed form, training untouched, resume."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from otlab.gan import CheckpointError, TrainConfig, train
from otlab.gan.ema import WeightAverage

SMALL = dict(hidden=16, depth=2, batch_size=32, progress=False, eval_samples=128)
COMMON = dict(loss="wgan-gp", data="8gaussians", n_critic=2, eval_every=5, log_every=5,
              checkpoint_every=10, seed=5, **SMALL)


def _closed_form(iterates: np.ndarray, decay: float) -> np.ndarray:
    """sum_s decay^(t-s) w_s / sum_s decay^(t-s) over the iterates w_1..w_t."""
    t = len(iterates)
    weights = decay ** np.arange(t - 1, -1, -1, dtype=np.float64)
    return np.tensordot(weights / weights.sum(), iterates, axes=1)


@settings(max_examples=40, deadline=None)
@given(decay=st.floats(0.01, 0.999),
       scale=st.sampled_from([1e-6, 1.0, 1e6]),
       steps=st.integers(1, 40),
       seed=st.integers(0, 2**31 - 1))
def test_the_average_is_the_exponentially_weighted_mean_of_the_iterates(decay, scale, steps,
                                                                         seed):
    rng = np.random.default_rng(seed)
    iterates = scale * rng.normal(size=(steps, 3, 2))
    module = torch.nn.Linear(2, 3).double()
    average = WeightAverage(module, decay)
    for w in iterates:
        with torch.no_grad():
            module.weight.copy_(torch.from_numpy(w))
        average.update(module)
    # the running update rounds once per step: measured at most 4.7e-16 x scale (300 draws),
    # asserted at 1e-12 x scale
    np.testing.assert_allclose(average.module.weight.numpy(), _closed_form(iterates, decay),
                               rtol=0, atol=1e-12 * scale)
    assert average.steps.item() == steps


def test_the_first_update_copies_the_weights_and_the_initial_ones_carry_no_weight():
    module = torch.nn.Linear(2, 2)
    average = WeightAverage(module, 0.999)
    with torch.no_grad():
        module.weight.add_(1.0)
    average.update(module)
    assert torch.equal(average.module.weight, module.weight)
    assert not average.module.weight.requires_grad


@pytest.mark.parametrize("bad", [0, 0.0, 1, 1.0, -0.5, 1.5, True, "0.9", float("nan")])
def test_a_decay_outside_the_open_unit_interval_is_refused_naming_ema_decay(bad):
    with pytest.raises(ValueError, match=r"ema_decay must be None \(off\) or a number in "
                                         r"\(0, 1\); got"):
        TrainConfig(ema_decay=bad)


def test_the_average_is_off_by_default():
    assert TrainConfig().ema_decay is None
    assert TrainConfig.for_loss("wgan-gp").ema_decay is None


def _state(path):
    return torch.load(path, weights_only=False)


def test_the_average_leaves_training_unchanged_and_only_the_evaluation_moves(tmp_path):
    plain = train(TrainConfig.for_loss(iters=20, out=tmp_path / "plain", **COMMON))
    averaged = train(TrainConfig.for_loss(iters=20, out=tmp_path / "ema", ema_decay=0.9,
                                          **COMMON))
    a, b = _state(tmp_path / "plain" / "checkpoint.pt"), _state(tmp_path / "ema" /
                                                                "checkpoint.pt")
    assert "generator_ema" not in a and "generator_ema" in b  # off: the old checkpoint
    for part in ("generator", "critic"):
        assert all(torch.equal(a[part][k], b[part][k]) for k in a[part])
    assert [r["d_loss"] for r in plain] == [r["d_loss"] for r in averaged]
    assert plain[0]["exact_w1"] == averaged[0]["exact_w1"]  # iteration 0: nothing averaged yet
    assert plain[-1]["exact_w1"] != averaged[-1]["exact_w1"]
    assert b["generator_ema"]["steps"].item() == 20


def test_a_vanishing_decay_evaluates_the_generator_itself():
    # decay 1e-300: 1 - decay rounds to 1, so every update copies the weights exactly
    cfg = TrainConfig.for_loss(iters=10, **{**COMMON, "checkpoint_every": 0})
    assert train(cfg.replace(ema_decay=1e-300)) == train(cfg)


def test_resume_with_the_average_ends_bitwise_where_the_uninterrupted_run_ends(tmp_path):
    common = dict(COMMON, ema_decay=0.8)
    full = train(TrainConfig.for_loss(iters=20, out=tmp_path / "full", **common))
    train(TrainConfig.for_loss(iters=10, out=tmp_path / "half", **common))
    resumed = train(TrainConfig.for_loss(iters=20, out=tmp_path / "half", resume=True, **common))
    assert resumed == full
    a, b = _state(tmp_path / "full" / "checkpoint.pt"), _state(tmp_path / "half" /
                                                               "checkpoint.pt")
    assert torch.equal(a["generator_ema"]["steps"], b["generator_ema"]["steps"])
    for k, v in a["generator_ema"]["module"].items():
        assert torch.equal(v, b["generator_ema"]["module"][k]), k


def test_resuming_a_run_without_the_average_with_it_is_refused_naming_ema_decay(tmp_path):
    train(TrainConfig.for_loss(iters=10, out=tmp_path, **COMMON))
    with pytest.raises(CheckpointError, match=r"ema_decay \(None in the checkpoint, 0.9 now\)"):
        train(TrainConfig.for_loss(iters=20, out=tmp_path, resume=True, ema_decay=0.9,
                                   **COMMON))


def test_a_checkpoint_written_before_the_setting_existed_resumes(tmp_path):
    full = train(TrainConfig.for_loss(iters=20, out=tmp_path / "full", **COMMON))
    train(TrainConfig.for_loss(iters=10, out=tmp_path / "old", **COMMON))
    path = tmp_path / "old" / "checkpoint.pt"
    state = _state(path)
    del state["config"]["ema_decay"]
    torch.save(state, path)
    assert train(TrainConfig.for_loss(iters=20, out=tmp_path / "old", resume=True,
                                      **COMMON)) == full


@pytest.mark.gpu
def test_the_average_is_updated_inside_the_cuda_graph(tmp_path):
    # the captured iteration replays the lerp and the step count: the average advanced every
    # iteration, and it differs from the last weights (it averages them)
    cfg = TrainConfig.for_loss(iters=30, out=tmp_path, device="cuda", ema_decay=0.9,
                               **{**COMMON, "checkpoint_every": 0})
    assert cfg.use_cuda_graph
    history = train(cfg)
    state = _state(tmp_path / "checkpoint.pt")
    assert state["generator_ema"]["steps"].item() == 30
    assert np.isfinite([r["exact_w1"] for r in history if r["exact_w1"] is not None]).all()
    assert any(not torch.equal(v, state["generator"][k])
               for k, v in state["generator_ema"]["module"].items())
