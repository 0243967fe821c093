"""Nearest pixels by grid offsets (the finest level of ``emd_grid``) against brute force."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.distance import cdist

from otlab.exact import emd_grid
from otlab.exact._grid_dual import GridPricer
from otlab.exact._grid_geometry import GridGeometry
from otlab.exact.grid import grid_points


@st.composite
def pixel_sets(draw):
    """Two grids with one spacing and first pixel, and the pixels of each that are in the LP."""
    d = draw(st.integers(1, 3))
    side = 9 if d < 3 else 5
    sa = tuple(draw(st.integers(1, side)) for _ in range(d))
    sb = tuple(draw(st.integers(1, side)) for _ in range(d))
    h = np.array([draw(st.sampled_from([1.0, 0.3, 2.5, 40.0])) for _ in range(d)])
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    keep = draw(st.sampled_from([1.0, 0.5, 0.05]))  # dense, half, sparse (the k-d fallback)
    rows = np.nonzero(rng.random(int(np.prod(sa))) < keep)[0]
    cols = np.nonzero(rng.random(int(np.prod(sb))) < keep)[0]
    if rows.size == 0:
        rows = np.array([rng.integers(np.prod(sa))])
    if cols.size == 0:
        cols = np.array([rng.integers(np.prod(sb))])
    return sa, sb, h, rows, cols, draw(st.integers(1, 7))


@given(pixel_sets(), st.sampled_from([(0, 1), (1, 0), (0, 0), (1, 1)]))
@settings(max_examples=80, deadline=None)
def test_offsets_find_the_k_nearest_pixels_as_brute_force_does(problem, sides):
    sa, sb, h, rows, cols, k = problem
    geo = GridGeometry(sa, sb, h, rows, cols)
    points = (grid_points(sa, h)[rows], grid_points(sb, h)[cols])
    side_from, side_to = sides
    found = geo.nearest(side_from, side_to, k, points[side_from], points[side_to])
    dist = cdist(points[side_from], points[side_to], "sqeuclidean")
    k = min(k, dist.shape[1])
    assert found.shape == (dist.shape[0], k)
    for i in range(dist.shape[0]):
        assert len(set(found[i].tolist())) == k  # distinct pixels
        got = np.sort(dist[i, found[i]])
        best = np.sort(dist[i])[:k]
        # the same distances up to ties (equal offsets may round apart by ~1e-16 relative)
        np.testing.assert_allclose(got, best, rtol=1e-9, atol=0)


def test_a_pixel_is_its_own_nearest_on_its_own_side():
    geo = GridGeometry((5, 5), (5, 5), (1.0, 1.0), np.arange(25), np.arange(0, 25, 2))
    assert (geo.nearest(0, 0, 3)[:, 0] == np.arange(25)).all()


def test_queries_the_offsets_cannot_answer_need_the_points():
    geo = GridGeometry((30,), (30,), (1.0,), np.array([0]), np.array([29]))
    with pytest.raises(ValueError, match="points_from and points_to"):
        geo.nearest(0, 1, 1)
    x = grid_points((30,), np.array([1.0]))
    assert geo.nearest(0, 1, 1, x[[0]], x[[29]]).tolist() == [[0]]


def test_grids_with_another_origin_or_spacing_get_no_geometry():
    x, y = grid_points((4, 3), np.array([1.0, 1.0])), grid_points((3, 3), np.array([1.0, 1.0]))
    pricer = GridPricer(*_axes(x + 0.0, (4, 3), y, (3, 3)), np.arange(12), np.arange(9))
    geo = GridGeometry.of_pricer(pricer)
    assert geo is not None and geo.shapes == ((4, 3), (3, 3))
    np.testing.assert_allclose(geo.spacing, [1.0, 1.0])
    shifted = GridPricer(*_axes(x + 0.5, (4, 3), y, (3, 3)), np.arange(12), np.arange(9))
    assert GridGeometry.of_pricer(shifted) is None
    wider = GridPricer(*_axes(x * 2.0, (4, 3), y, (3, 3)), np.arange(12), np.arange(9))
    assert GridGeometry.of_pricer(wider) is None


def _axes(x, sa, y, sb):
    from otlab.exact._grid_dual import GridAxes

    return GridAxes.of_points(y, sb), GridAxes.of_points(x, sa)


@pytest.mark.parametrize("order", [1, 2])
def test_emd_grid_with_sparse_images_equals_the_dense_solve(order):
    # zero almost everywhere: most offset boxes hold fewer than k pixels (k-d fallback)
    rng = np.random.default_rng(3)
    A, B = np.zeros((40, 40)), np.zeros((40, 40))
    A.flat[rng.choice(1600, 120, replace=False)] = rng.random(120)
    B.flat[rng.choice(1600, 90, replace=False)] = rng.random(90)
    sparse = emd_grid(A, B, order=order, solver="sparse", progress=False)
    dense = emd_grid(A, B, order=order, solver="dense", progress=False)
    assert sparse.converged and dense.converged
    np.testing.assert_allclose(sparse.cost, dense.cost, rtol=1e-9)
