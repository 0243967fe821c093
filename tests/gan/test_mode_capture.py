"""The PacGAN / VEEGAN settings: the two data specs and the published mode measures."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from otlab.datasets import gaussian_mixture_modes
from otlab.gan import (
    DATASETS,
    Sampler,
    TrainConfig,
    data_spec,
    mixture_modes,
    mode_capture_metrics,
    train,
)
from otlab.gan.figures import summary
from otlab.gan.metrics import MODE_CAPTURE_KEYS

PACGAN = {"pacgan-ring": (8, 0.01), "pacgan-grid": (25, 0.05)}


# ------------------------------------------------------------------ the data specs
def test_pacgan_ring_has_8_modes_on_the_unit_circle_at_multiples_of_45_degrees():
    modes, std = mixture_modes("pacgan-ring")
    angles = 2 * np.pi * np.arange(8) / 8
    np.testing.assert_allclose(modes, np.column_stack([np.cos(angles), np.sin(angles)]),
                               atol=1e-13)
    assert std == 0.01


def test_pacgan_grid_has_25_modes_at_even_coordinates_from_minus_4_to_4():
    modes, std = mixture_modes("pacgan-grid")
    expected = {(i, j) for i in (-4, -2, 0, 2, 4) for j in (-4, -2, 0, 2, 4)}
    assert {tuple(m) for m in modes.astype(int).tolist()} == expected
    np.testing.assert_array_equal(modes, np.round(modes))
    assert std == 0.05
    np.testing.assert_array_equal(modes, gaussian_mixture_modes("25gaussians", scale=2.0))


@pytest.mark.parametrize("name", sorted(PACGAN))
def test_pacgan_specs_are_2d_labelled_mixtures_whose_window_holds_every_mode(name):
    k, std = PACGAN[name]
    spec = data_spec(name)
    assert name in DATASETS and spec.dim == 2 and not spec.bounded
    modes, _ = mixture_modes(name)
    lo, hi = spec.plot_bounds
    assert modes.shape == (k, 2)
    assert lo < modes.min() - 10 * std and modes.max() + 10 * std < hi
    x = Sampler(name)(5, generator=torch.Generator().manual_seed(0))
    assert tuple(x.shape) == (5, 2) and x.dtype == torch.float32


@pytest.mark.parametrize("name", sorted(PACGAN))
def test_pacgan_sampler_draws_every_mode_equally_often_with_noise_sigma(name):
    k, std = PACGAN[name]
    modes, _ = mixture_modes(name)
    x = Sampler(name)(40000, generator=torch.Generator().manual_seed(5)).numpy().astype(float)
    nearest = np.linalg.norm(x[:, None] - modes[None], axis=-1).argmin(axis=1)
    residual = x - modes[nearest]
    np.testing.assert_allclose(residual.std(axis=0), std, rtol=0.03)
    np.testing.assert_allclose(residual.mean(axis=0), 0.0, atol=0.05 * std)
    counts = np.bincount(nearest, minlength=k)
    # multinomial: each count has sd sqrt(n p (1 - p)) <= 63; 6 sd of room
    np.testing.assert_allclose(counts, len(x) / k, atol=6 * math.sqrt(len(x) / k))


@pytest.mark.parametrize("name", sorted(PACGAN))
def test_2500_real_samples_capture_every_mode_with_989_percent_high_quality(name):
    k, std = PACGAN[name]
    modes, _ = mixture_modes(name)
    x = Sampler(name)(2500, generator=torch.Generator().manual_seed(6)).numpy()
    m = mode_capture_metrics(x, modes, std)
    assert m["modes"] == k
    # in 2-D, P(|eps| <= 3 sigma) = 1 - exp(-9/2) = 98.9 %; binomial sd 0.2 %
    np.testing.assert_allclose(m["high_quality_fraction"], 1 - math.exp(-4.5), atol=0.015)
    # a multinomial histogram's KL from uniform is about (K - 1) / (2 n) on average
    assert 0.0 <= m["reverse_kl"] < 10 * (k - 1) / (2 * 2500)


# ------------------------------------------------------------------ the measures, known answers
_MODES = gaussian_mixture_modes("25gaussians", scale=2.0)
_STD = 0.05


def test_every_mode_hit_equally_gives_all_modes_full_quality_and_zero_kl():
    m = mode_capture_metrics(np.repeat(_MODES, 100, axis=0), _MODES, _STD)
    assert m == {"modes": 25, "high_quality_fraction": 1.0, "reverse_kl": 0.0}


def test_collapse_onto_one_mode_gives_one_mode_and_the_largest_kl_log_k():
    m = mode_capture_metrics(np.repeat(_MODES[7:8], 2500, axis=0), _MODES, _STD)
    assert m["modes"] == 1 and m["high_quality_fraction"] == 1.0
    np.testing.assert_allclose(m["reverse_kl"], math.log(25), rtol=1e-12)


def test_half_the_samples_off_mode_halve_the_quality_and_leave_modes_and_kl():
    on = np.repeat(_MODES, 50, axis=0)
    off = on + [1.0, 1.0]  # halfway between modes, 1.41 from each: far outside 3 sigma
    m = mode_capture_metrics(np.vstack([on, off]), _MODES, _STD)
    assert m["modes"] == 25
    np.testing.assert_allclose(m["high_quality_fraction"], 0.5, rtol=1e-13)
    assert m["reverse_kl"] == 0.0


def test_samples_on_half_the_modes_give_kl_log_2():
    m = mode_capture_metrics(np.repeat(_MODES[:5], 10, axis=0), _MODES[:10], _STD)
    assert m["modes"] == 5
    np.testing.assert_allclose(m["reverse_kl"], math.log(2), rtol=1e-12)


def test_one_sample_within_3_sigma_captures_a_mode_one_just_outside_does_not():
    modes = np.array([[0.0, 0.0], [10.0, 0.0]])
    inside, outside = [[0.0, 2.999 * _STD]], [[10.0, 3.001 * _STD]]
    m = mode_capture_metrics(np.array(inside + outside), modes, _STD)
    assert m["modes"] == 1 and m["high_quality_fraction"] == 0.5
    np.testing.assert_allclose(m["reverse_kl"], math.log(2), rtol=1e-12)  # one of two modes


def test_no_high_quality_sample_gives_no_modes_and_no_kl():
    m = mode_capture_metrics(_MODES + [1.0, 1.0], _MODES, _STD)
    assert m == {"modes": 0, "high_quality_fraction": 0.0, "reverse_kl": None}


@pytest.mark.parametrize("samples, modes, std, match", [
    (np.zeros((3, 3)), _MODES, _STD, "same dimension"),
    (np.zeros((0, 2)), _MODES, _STD, "samples must contain at least one point"),
    ([[np.nan, 0.0]], _MODES, _STD, "samples"),
    (np.zeros((3, 2)), _MODES, 0.0, "std must be finite and > 0; got 0.0"),
    (np.zeros((3, 2)), _MODES, -1.0, "std must be finite and > 0; got -1.0"),
])
def test_bad_input_is_refused_with_a_message_naming_the_argument(samples, modes, std, match):
    with pytest.raises(ValueError, match=match):
        mode_capture_metrics(samples, modes, std)


# ------------------------------------------------------------------ the measures, properties
@st.composite
def _mixture_samples(draw):
    """Modes on a 2-spaced grid (sigma 0.05) and samples near them, or far from all of them."""
    k = draw(st.integers(1, 9))
    modes = _MODES[:k]
    picks = draw(st.lists(st.integers(0, k - 1), min_size=1, max_size=60))
    radii = draw(st.lists(st.floats(0.0, 2.9), min_size=len(picks), max_size=len(picks)))
    off = draw(st.lists(st.booleans(), min_size=len(picks), max_size=len(picks)))
    angles = np.linspace(0, 2 * np.pi, len(picks), endpoint=False)
    r = np.where(off, 0.5, np.array(radii) * _STD)  # off-mode: 0.5 = 10 sigma away
    x = modes[picks] + r[:, None] * np.column_stack([np.cos(angles), np.sin(angles)])
    return x, modes


_SETTINGS = settings(max_examples=40, deadline=None)


@_SETTINGS
@given(_mixture_samples())
def test_measures_lie_in_their_ranges(case):
    x, modes = case
    m = mode_capture_metrics(x, modes, _STD)
    assert 0 <= m["modes"] <= min(len(modes), len(x))
    assert 0.0 <= m["high_quality_fraction"] <= 1.0
    assert m["modes"] <= round(m["high_quality_fraction"] * len(x))
    if m["reverse_kl"] is None:
        assert m["modes"] == 0
    else:
        assert 0.0 <= m["reverse_kl"] <= math.log(len(modes)) * (1 + 1e-12)


@_SETTINGS
@given(_mixture_samples(), st.randoms(use_true_random=False),
       st.sampled_from([1e-6, 1e-3, 1.0, 7.3, 1e4]),
       st.tuples(st.floats(-1e3, 1e3), st.floats(-1e3, 1e3)))
def test_measures_are_invariant_to_permutation_scale_and_translation(case, rnd, scale, shift):
    x, modes = case
    base = mode_capture_metrics(x, modes, _STD)
    order = list(range(len(x)))
    rnd.shuffle(order)
    assert mode_capture_metrics(x[order], modes, _STD) == base
    moved = mode_capture_metrics(x * scale + shift, modes * scale + shift, _STD * scale)
    assert moved["modes"] == base["modes"]
    assert moved["high_quality_fraction"] == base["high_quality_fraction"]
    if base["reverse_kl"] is None:
        assert moved["reverse_kl"] is None
    else:
        np.testing.assert_allclose(moved["reverse_kl"], base["reverse_kl"], atol=1e-12)


@_SETTINGS
@given(_mixture_samples(), st.integers(2, 4))
def test_duplicating_every_sample_changes_no_measure(case, copies):
    x, modes = case
    base = mode_capture_metrics(x, modes, _STD)
    dup = mode_capture_metrics(np.repeat(x, copies, axis=0), modes, _STD)
    assert dup["modes"] == base["modes"]
    np.testing.assert_allclose(dup["high_quality_fraction"], base["high_quality_fraction"],
                               rtol=1e-12)
    if base["reverse_kl"] is not None:
        np.testing.assert_allclose(dup["reverse_kl"], base["reverse_kl"], atol=1e-12)


@_SETTINGS
@given(_mixture_samples())
def test_float32_samples_give_the_float64_measures(case):
    x, modes = case
    assert (mode_capture_metrics(x.astype(np.float32), modes, _STD)
            == mode_capture_metrics(x, modes, _STD))


# ------------------------------------------------------------------ a run on pacgan-ring
def test_a_short_run_on_pacgan_ring_reports_the_three_measures_next_to_the_exact_w1():
    cfg = TrainConfig.for_loss("wgan-gp", data="pacgan-ring", iters=3, n_critic=1, hidden=8,
                               depth=1, batch_size=16, eval_every=3, eval_samples=64,
                               progress=False)
    s = summary(train(cfg))
    assert set(MODE_CAPTURE_KEYS) <= set(s)
    assert s["final_exact_w1"] > 0
    assert 0 <= s["modes"] <= 8 and 0.0 <= s["high_quality_fraction"] <= 1.0
    assert s["reverse_kl"] is None or 0.0 <= s["reverse_kl"] <= math.log(8) + 1e-12


def test_runs_on_data_without_modes_leave_the_three_measures_empty():
    cfg = TrainConfig.for_loss("wgan-gp", data="ring", iters=2, n_critic=1, hidden=8, depth=1,
                               batch_size=16, eval_every=2, eval_samples=32, progress=False)
    s = summary(train(cfg))
    assert all(s[k] is None for k in MODE_CAPTURE_KEYS) and s["final_exact_w1"] > 0
