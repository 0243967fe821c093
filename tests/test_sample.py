"""otlab.Sample and the reading of sample arguments: weights are explicit, never guessed."""

import warnings

import numpy as np
import pytest
import torch

import otlab
from otlab.sample import split_sample


def test_a_tuple_of_points_is_read_like_numpy_asarray_and_the_change_is_said():
    with pytest.warns(FutureWarning, match=r"reads it as 2 points in dimension 2, like numpy"):
        value = otlab.wasserstein(((0, 0), (1, 1)), ((1, 1), (2, 2)))
    assert value == pytest.approx(np.sqrt(2), rel=1e-15)  # SciPy's answer


def test_a_tuple_that_could_not_be_weights_is_read_without_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert otlab.wasserstein(((0.0, 0.0), (1.0, -1.0), (2.0, 0.0)), [[0.0, 0.0]]) > 0
        assert otlab.wasserstein((0.0, 1.0), (1.0, 2.0)) == 1.0  # scalars: points on a line


def test_an_old_points_and_weights_pair_raises_showing_the_new_spelling():
    x = np.zeros((3, 2))
    with pytest.raises(TypeError, match=r"wasserstein\(x, y, a=wx, b=wy\) or otlab.Sample"):
        otlab.wasserstein((x, [1.0, 2.0, 3.0]), x)
    with pytest.raises(TypeError, match="otlab.Sample"):
        otlab.wasserstein((torch.zeros(3, 2), torch.ones(3)), x)


def test_weights_by_keyword_by_sample_and_by_split_sample_agree():
    x, y = np.array([0.0, 1.0]), np.array([0.0])
    by_keyword = otlab.wasserstein(x, y, a=[3, 1], order=2)
    by_sample = otlab.wasserstein(otlab.Sample(x, [3, 1]), y, order=2)
    assert by_keyword == by_sample == 0.5
    points, weights = split_sample(otlab.Sample(x, [3, 1]), "x")
    assert points.shape == (2, 1) and weights.tolist() == [0.75, 0.25]
    points, weights = split_sample(x, "x")
    assert weights.tolist() == [0.5, 0.5]


def test_sample_keeps_the_tensor_kind_and_device_of_its_points():
    s = otlab.Sample(torch.zeros(4, 3, dtype=torch.float32), weights=np.ones(4))
    assert isinstance(s.weights, torch.Tensor) and s.weights.dtype == torch.float32
    assert s.n == 4 and s.dim == 3 and not s.uniform
    assert repr(s) == "Sample(n=4, dim=3, weighted)"


def test_sample_is_frozen():
    s = otlab.Sample([0.0, 1.0])
    with pytest.raises(AttributeError):
        s.points = None


def test_weights_near_the_largest_float_are_normalised_without_overflow():
    assert otlab.wasserstein([0.0, 1.0], [0.0], a=[1e308, 1e308]) == 0.5
    assert otlab.wasserstein(np.array([[0.0, 0.0], [1.0, 0.0]]), [[0.0, 0.0]],
                             a=[1e308, 1e308]) == 0.5


@pytest.mark.parametrize("bad", [np.array([[0j, 1j]]), torch.tensor([[0j, 1j]])])
def test_complex_samples_are_rejected_naming_the_argument(bad):
    with pytest.raises(TypeError, match="p must hold real numbers"):
        otlab.wasserstein(bad, [[0.0, 0.0]])
    with pytest.raises(TypeError, match="points must hold real numbers"):
        otlab.Sample(bad)
