"""W_1 on one grid by the Kantorovich-Rubinstein reduction (otlab.exact._grid_w1)."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from otlab._warnings import ConvergenceWarning
from otlab.exact import _grid_w1, emd_grid, emd_points, max_dual_violation
from otlab.exact.grid import grid_points

#: The simplex potentials' round-off, relative to the largest cost (measured up to ~1e-13).
CERT_RTOL = 1e-9


def _centres(shape):
    return grid_points(shape, np.ones(len(shape)))


@st.composite
def same_shape_pairs(draw, max_side=5):
    ndim = draw(st.integers(1, 3))
    shape = tuple(draw(st.integers(1, max_side if ndim < 3 else 3)) for _ in range(ndim))
    values = st.one_of(st.just(0.0), st.integers(1, 4).map(float), st.floats(1e-3, 10.0))
    image = arrays(np.float64, shape, elements=values).filter(lambda v: v.sum() > 0)
    return draw(image), draw(image)


@given(same_shape_pairs())
def test_w1_depends_only_on_the_difference_and_equals_the_full_lp(pair):
    A, B = pair
    res = emd_grid(A, B, order=1)
    x = _centres(A.shape)
    ref = emd_points(x, x, A.ravel(), B.ravel(), order=1)  # the full LP, no reduction
    np.testing.assert_allclose(res.cost, ref.cost, rtol=1e-10, atol=1e-10)
    assert res.converged
    a, b = (A / A.sum()).ravel(), (B / B.sum()).ravel()
    np.testing.assert_allclose(res.plan.sum(axis=1), a, atol=1e-12)
    np.testing.assert_allclose(res.plan.sum(axis=0), b, atol=1e-12)
    # the mass both images share stays where it is
    assert np.all(res.plan.diagonal() >= np.minimum(a, b) - 1e-15)
    top = 2.0 * max(A.shape) * A.ndim
    assert max_dual_violation(x, x, res.f.ravel(), res.g.ravel(), order=1) <= CERT_RTOL * top
    np.testing.assert_allclose(float(a @ res.f.ravel() + b @ res.g.ravel()), res.cost,
                               rtol=1e-9, atol=CERT_RTOL * top)


@given(same_shape_pairs())
def test_w1_potentials_are_opposite_where_the_images_differ(pair):
    A, B = pair
    res = emd_grid(A, B, order=1)
    a, b = A / A.sum(), B / B.sum()
    leave, arrive, _ = _grid_w1.difference_parts(a.ravel(), b.ravel())
    if (leave > 0).any() and (arrive > 0).any():
        np.testing.assert_allclose(res.g, -res.f, rtol=0, atol=1e-12 * max(A.shape))


def test_difference_parts_split_the_mass_exactly():
    rng = np.random.default_rng(0)
    a, b = rng.random(50), rng.random(50)
    leave, arrive, stay = _grid_w1.difference_parts(a, b)
    assert np.all(leave >= 0) and np.all(arrive >= 0)
    assert not np.any((leave > 0) & (arrive > 0))  # each pixel sends or receives, not both
    np.testing.assert_array_equal(leave + stay, a)
    np.testing.assert_array_equal(arrive + stay, b)


def test_disjoint_images_move_all_their_mass():
    A, B = np.zeros((6, 6)), np.zeros((6, 6))
    A[:2, :2], B[4:, 4:] = 1.0, 1.0
    res = emd_grid(A, B, order=1)
    assert res.plan.diagonal().sum() == 0.0
    np.testing.assert_allclose(res.cost, 4 * np.sqrt(2), rtol=1e-12)  # a translation by (4, 4)


def test_identical_and_proportional_images_are_at_distance_zero():
    A = np.arange(12.0).reshape(3, 4)
    for B in (A, 3.0 * A):
        res = emd_grid(A, B, order=1)
        assert res.converged
        assert res.cost <= 1e-14


def test_tampered_potentials_fail_the_certificate(monkeypatch):
    rng = np.random.default_rng(1)
    A, B = rng.random((8, 8)), rng.random((8, 8))
    honest = _grid_w1.c_transform

    def tampered(*args, **kwargs):
        return 1.5 * honest(*args, **kwargs)  # 1.5-Lipschitz: the transported pairs are violated

    monkeypatch.setattr(_grid_w1, "c_transform", tampered)
    with pytest.warns(ConvergenceWarning, match="certificate does not hold"):
        res = emd_grid(A, B, order=1)
    assert not res.converged
    assert res.dual_violation >= 0.4


def test_sparse_w1_on_one_grid_equals_the_dense_lp_at_20_squared():
    rng = np.random.default_rng(3)
    A, B = rng.random((20, 20)) ** 4, rng.random((20, 20)) ** 4
    A[5:9, 5:9] = 0.0
    res = emd_grid(A, B, order=1, solver="sparse")
    x = _centres(A.shape)
    ref = emd_points(x, x, A.ravel(), B.ravel(), order=1, solver="dense")
    np.testing.assert_allclose(res.cost, ref.cost, rtol=1e-10)
    assert res.converged and res.solver == "sparse"
