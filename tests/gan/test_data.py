"""The torch samplers of :mod:`otlab.gan.data` against the numpy mixtures they mirror."""

import numpy as np
import pytest
import torch

from otlab.datasets import MIXTURE_DEFAULTS, gaussian_mixture_modes
from otlab.gan import DATASETS, Sampler, TrainConfig, mixture_modes, mode_metrics, train


@pytest.mark.parametrize("name", ["8gaussians", "25gaussians", "25gaussians-ref"])
def test_every_mixture_is_a_trainer_data_set_with_its_modes_and_std(name):
    assert name in DATASETS
    modes, std = mixture_modes(name)
    np.testing.assert_array_equal(modes, gaussian_mixture_modes(name))
    assert std == MIXTURE_DEFAULTS[name]["std"]


def test_reference_sampler_draws_the_grid_divided_by_2_828():
    modes, std = mixture_modes("25gaussians-ref")
    np.testing.assert_allclose(modes, mixture_modes("25gaussians")[0] / 2.828, rtol=1e-15)
    np.testing.assert_allclose(std, 0.05 / 2.828, rtol=1e-15)
    x = Sampler("25gaussians-ref")(40000, generator=torch.Generator().manual_seed(3)).numpy()
    d = np.linalg.norm(x[:, None] - modes[None], axis=-1)
    nearest = d.argmin(axis=1)
    np.testing.assert_allclose((x - modes[nearest]).std(0), std, rtol=0.03)
    assert np.bincount(nearest, minlength=25).min() > 0.9 * len(x) / 25


def test_samples_of_the_reference_law_cover_all_25_modes_by_both_rules():
    modes, std = mixture_modes("25gaussians-ref")
    x = Sampler("25gaussians-ref")(2500, generator=torch.Generator().manual_seed(4)).numpy()
    otlab_rule, veegan_rule = mode_metrics(x, modes, std), mode_metrics(x, modes, std, min_count=1)
    assert otlab_rule["modes_covered"] == veegan_rule["modes_covered"] == 25
    # in 2-D, P(|eps| <= 3 sigma) = 1 - exp(-9/2) = 98.9 %
    np.testing.assert_allclose(otlab_rule["high_quality"], 100 * (1 - np.exp(-4.5)), atol=0.8)


def test_trainer_evaluates_the_modes_of_the_reference_grid():
    cfg = TrainConfig.for_loss("wgan-gp", data="25gaussians-ref", iters=2, n_critic=1, hidden=8,
                               depth=1, batch_size=16, eval_every=2, eval_samples=64,
                               progress=False)
    last = train(cfg)[-1]
    assert 0 <= last["modes_covered"] <= 25 and 0.0 <= last["high_quality"] <= 100.0
    assert last["exact_w1"] > 0
