"""Labelled samplers and class assignment for the conditional models."""

import numpy as np
import pytest
import torch

from otlab.gan.data import make_sampler
from otlab.gan.data import (
    LABELLED_DATASETS,
    LabelledSampler,
    assign_classes,
    digits_dataset,
    n_classes,
)


@pytest.mark.parametrize("name", LABELLED_DATASETS)
def test_labelled_sampler_draws_the_points_the_trainer_draws(name):
    x, _ = LabelledSampler(name)(300, generator=torch.Generator().manual_seed(5))
    expected = make_sampler(name)(300, generator=torch.Generator().manual_seed(5))
    torch.testing.assert_close(x, expected, rtol=0, atol=0)


@pytest.mark.parametrize("name", ["8gaussians", "25gaussians"])
def test_each_mixture_point_is_labelled_by_the_mode_it_was_drawn_around(name):
    x, y = LabelledSampler(name)(2000, generator=torch.Generator().manual_seed(0))
    np.testing.assert_array_equal(assign_classes(name, x.numpy()), y.numpy())
    assert set(y.tolist()) == set(range(n_classes(name)))


def test_digit_labels_are_scikit_learns_and_the_classifier_reads_them():
    pixels, labels = digits_dataset()
    x, y = LabelledSampler("digits")(500, generator=torch.Generator().manual_seed(1))
    rows = {tuple(r): lab for r, lab in zip(pixels.tolist(), labels.tolist())}
    assert all(rows[tuple(r)] == lab for r, lab in zip(x.tolist(), y.tolist()))
    assert (assign_classes("digits", x.numpy()) == y.numpy()).mean() > 0.95


def test_label_frequencies_follow_the_data():
    labels = LabelledSampler("digits").labels(20000, generator=torch.Generator().manual_seed(2))
    freq = np.bincount(labels.numpy(), minlength=10) / 20000
    np.testing.assert_allclose(freq, np.bincount(digits_dataset()[1]) / 1797, atol=0.01)


def test_unlabelled_data_sets_are_refused_naming_the_choices():
    with pytest.raises(ValueError, match="data must be one of '8gaussians', '25gaussians', "
                                         "'digits'; got 'ring'"):
        LabelledSampler("ring")
    with pytest.raises(ValueError, match="n must be >= 1; got 0"):
        LabelledSampler("8gaussians")(0)
