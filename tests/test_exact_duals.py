"""``otlab.exact.duals``: the c-transform and the dual check over all pairs, without the n x m matrix."""

import numpy as np
import pytest
from scipy.spatial.distance import cdist

from otlab.costs import PowerCost
from otlab.exact import c_transform, emd_points, max_dual_violation
from otlab.exact.duals import local_c_transform


def _brute_c_transform(z, y, g, order):
    return (cdist(z, y) ** order - g[None, :]).min(axis=1)


@pytest.mark.parametrize("order", [1, 2, 3])
@pytest.mark.parametrize("dim", [1, 2, 5])
def test_c_transform_is_the_minimum_over_all_anchors(order, dim):
    rng = np.random.default_rng(dim * 10 + order)
    z, y = rng.normal(size=(300, dim)) * 2, rng.normal(size=(200, dim))
    g = rng.random(200)
    np.testing.assert_allclose(c_transform(z, y, g, order=order), _brute_c_transform(z, y, g, order),
                               rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("offset, scale", [(1e8, 1.0), (0.0, 1e-150), (0.0, 1e150), (-3e7, 1e-3)])
def test_c_transform_moves_with_translation_and_scales_with_the_cost(offset, scale):
    rng = np.random.default_rng(0)
    z = rng.normal(size=(100, 2)) * scale + offset
    y, g = rng.normal(size=(80, 2)) * scale + offset, rng.random(80)
    # the offset is removed exactly (Sterbenz), so the reference sees the rounded data
    want = _brute_c_transform((z - offset) / scale, (y - offset) / scale, g, 2) * scale**2
    np.testing.assert_allclose(c_transform(z, y, g * scale**2, order=2), want, rtol=1e-12,
                               atol=1e-12 * scale**2)


def test_argmin_of_the_local_c_transform_attains_the_minimum():
    rng = np.random.default_rng(1)
    z, y = rng.uniform(-1, 1, size=(500, 3)), rng.uniform(-1, 1, size=(400, 3))
    g = 0.3 * rng.random(400)
    values, index = local_c_transform(z, y, g, PowerCost(1), argmin=True)
    costs = cdist(z, y) - g[None, :]
    np.testing.assert_allclose(values, costs.min(axis=1), rtol=0, atol=1e-14)
    np.testing.assert_allclose(costs[np.arange(500), index], costs.min(axis=1), rtol=0, atol=1e-14)


def test_c_transform_of_optimal_potentials_reproduces_them_on_the_support():
    # f = g^c on the points of x that carry mass: the potentials of an optimal plan are tight.
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(120, 2)), rng.normal(size=(100, 2)) + 1
    res = emd_points(x, y, order=2)
    np.testing.assert_allclose(c_transform(x, y, res.g, order=2), res.f, rtol=0, atol=1e-9)
    assert max_dual_violation(x, y, res.f, res.g, order=2) <= 1e-10


def test_potentials_of_the_wrong_length_are_rejected_naming_them():
    with pytest.raises(ValueError, match="g must have one value per point: expected 2, got 3"):
        c_transform([[0.0]], [[0.0], [1.0]], np.zeros(3))
    with pytest.raises(ValueError, match="f must have one value per point"):
        max_dual_violation([[0.0]], [[0.0]], np.zeros(2), np.zeros(1))
