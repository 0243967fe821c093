"""The W_1 pricing scan over tiles of pixels (otlab.exact._tile_scan)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from otlab.exact import _grid_w1, emd_grid, emd_points
from otlab.exact._tile_scan import TILE, TileScan, tile_round_off
from otlab.exact.grid import grid_points


@st.composite
def grid_problems(draw):
    """Two grids of one dimension (1-3), pixel subsets as rows and columns, potentials."""
    ndim = draw(st.integers(1, 3))
    side = {1: 150, 2: 20, 3: 9}[ndim]
    shape_x = tuple(draw(st.integers(1, side)) for _ in range(ndim))
    shape_y = tuple(draw(st.integers(1, side)) for _ in range(ndim))
    spacing = np.array([draw(st.sampled_from([0.25, 1.0, 3.0])) for _ in range(ndim)])
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    n, m = int(np.prod(shape_x)), int(np.prod(shape_y))
    rows = np.nonzero(rng.random(n) < draw(st.sampled_from([0.1, 0.5, 1.0])))[0]
    cols = np.nonzero(rng.random(m) < draw(st.sampled_from([0.1, 0.5, 1.0])))[0]
    scale = float(spacing.max() * max(shape_x + shape_y))
    f = rng.normal(0.0, scale, rows.shape[0])
    g = rng.normal(0.0, scale, cols.shape[0])
    return shape_x, shape_y, spacing, rows, cols, f, g


def _axes(shape, spacing):
    return tuple((np.arange(s) + 0.5) * h for s, h in zip(shape, spacing))


def _brute(shape_x, shape_y, spacing, rows, cols, f, g):
    x = grid_points(shape_x, spacing)[rows]
    y = grid_points(shape_y, spacing)[cols]
    return f[:, None] + g[None, :] - np.sqrt(((x[:, None, :] - y[None, :, :]) ** 2).sum(-1))


@settings(max_examples=60, deadline=None)
@given(grid_problems(), st.sampled_from([1, 3, 20]))
def test_row_maxima_are_the_maxima_over_all_pairs_and_the_kept_pairs_the_largest(problem, top_k):
    shape_x, shape_y, spacing, rows, cols, f, g = problem
    scan = TileScan(_axes(shape_y, spacing), _axes(shape_x, spacing), rows, cols, top_k=top_k)
    excess = _brute(shape_x, shape_y, spacing, rows, cols, f, g)
    tol = float(np.quantile(excess, 0.9)) if excess.size else 0.0
    res = scan(f, g, tol)
    if excess.size == 0:
        assert res.n_violations == 0 and res.rows.size == 0
        return
    top = max(np.abs(f).max(initial=0), np.abs(g).max(initial=0), 1.0)
    np.testing.assert_allclose(res.row_max, excess.max(axis=1), rtol=0, atol=1e-13 * top)
    assert res.round_off >= 0 and res.max_excess >= excess.max() - 1e-13 * top
    # violations are counted in the tiles evaluated: at least one per violated row
    assert int((excess > tol).any(axis=1).sum()) <= res.n_violations <= int((excess > tol).sum())
    # each row keeps min(top_k, its violations), its largest ones, and no pair twice
    per_row = np.minimum((excess > tol).sum(axis=1), top_k)
    np.testing.assert_array_equal(np.bincount(res.rows, minlength=rows.shape[0]), per_row)
    kept = excess[res.rows, res.cols]
    assert np.all(kept > tol)
    for r in np.unique(res.rows):
        mine = np.sort(kept[res.rows == r])[::-1]
        best = np.sort(excess[r][excess[r] > tol])[::-1][:top_k]
        np.testing.assert_allclose(mine, best, rtol=0, atol=1e-13 * top)
    assert len(set(zip(res.rows.tolist(), res.cols.tolist()))) == res.rows.shape[0]


@settings(max_examples=30, deadline=None)
@given(grid_problems(), st.floats(-1e3, 1e3))
def test_adding_a_constant_to_f_and_removing_it_from_g_changes_nothing(problem, shift):
    shape_x, shape_y, spacing, rows, cols, f, g = problem
    scan = TileScan(_axes(shape_y, spacing), _axes(shape_x, spacing), rows, cols)
    a, b = scan(f, g, np.inf), scan(f + shift, g - shift, np.inf)
    top = max(np.abs(f).max(initial=0), np.abs(g).max(initial=0), abs(shift), 1.0)
    np.testing.assert_allclose(a.row_max, b.row_max, rtol=0, atol=1e-12 * top)


def test_round_off_bound_grows_with_the_magnitudes():
    assert tile_round_off(2, 0.0, 0.0, 0.0) == 0.0
    assert tile_round_off(2, 1.0, 2.0, 3.0) == pytest.approx(16 * 3 * 2.0**-52 * 6.0)
    assert tile_round_off(3, 1.0, 1.0, 1.0) > tile_round_off(2, 1.0, 1.0, 1.0)


def test_tiles_cover_every_column_once():
    axes = _axes((37, 21), np.ones(2))
    cols = np.arange(37 * 21)[::3]
    scan = TileScan(axes, axes, np.arange(5), cols)
    np.testing.assert_array_equal(np.sort(scan.order), np.arange(cols.shape[0]))
    assert scan.start[0] == 0 and scan.start[-1] == cols.shape[0]
    side = TILE[2]
    assert np.all(np.diff(scan.start) <= side * side)


@pytest.mark.parametrize("shape", [(300,), (40, 33), (7, 9, 8)])
def test_w1_on_grids_of_every_dimension_equals_the_full_lp(shape):
    rng = np.random.default_rng(len(shape))
    A, B = rng.random(shape) ** 3, rng.random(shape) ** 3
    res = emd_grid(A, B, order=1)
    x = grid_points(shape, np.ones(len(shape)))
    ref = emd_points(x, x, A.ravel(), B.ravel(), order=1)
    assert res.converged
    np.testing.assert_allclose(res.cost, ref.cost, rtol=1e-10)


def test_w1_between_grids_of_different_shapes_is_priced_and_certified_by_tiles():
    rng = np.random.default_rng(5)
    A, B = rng.random((30, 24)), rng.random((26, 31))
    B[3:9, 4:12] = 0.0  # zero pixels: the certificate covers them through the c-transform
    res = emd_grid(A, B, order=1, spacing=[0.5, 2.0])
    ref = emd_points(grid_points(A.shape, np.array([0.5, 2.0])),
                     grid_points(B.shape, np.array([0.5, 2.0])), A.ravel(), B.ravel(), order=1,
                     solver="dense")
    assert res.converged
    np.testing.assert_allclose(res.cost, ref.cost, rtol=1e-10)
    from otlab.exact import max_dual_violation

    scanned = max_dual_violation(grid_points(A.shape, np.array([0.5, 2.0])),
                                 grid_points(B.shape, np.array([0.5, 2.0])), res.f.ravel(),
                                 res.g.ravel(), order=1)
    assert scanned <= res.dual_violation + 1e-13


def test_the_w1_certificate_is_an_upper_bound_on_the_measured_violation():
    rng = np.random.default_rng(2)
    A, B = rng.random((17, 23)), rng.random((17, 23))
    res = emd_grid(A, B, order=1)
    axes = _axes(A.shape, np.ones(2))
    from otlab.exact import max_dual_violation

    x = grid_points(A.shape, np.ones(2))
    scanned = max_dual_violation(x, x, res.f.ravel(), res.g.ravel(), order=1)
    assert scanned <= res.dual_violation
    assert res.dual_violation == _grid_w1.max_dual_violation(axes, res.f.ravel(), res.g.ravel())
    assert res.dual_violation <= 1e-9 * 40
