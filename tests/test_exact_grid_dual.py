"""The grid's c-transform (lower envelopes, axis by axis) and the sparse grid solves it prices."""

import numpy as np
import ot
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.distance import cdist

from otlab.exact import emd_grid, emd_points, max_dual_violation
from otlab.exact._grid_dual import GridAxes, GridPricer, c_transform_grid, round_off
from otlab.exact.grid import grid_points


@st.composite
def grid_problems(draw):
    """Two grids of one dimension (shapes, spacings and offsets free) and potentials on the second."""
    d = draw(st.integers(1, 3))
    side = 7 if d < 3 else 4
    sa = tuple(draw(st.integers(1, side)) for _ in range(d))
    sb = tuple(draw(st.integers(1, side)) for _ in range(d))
    h = np.array([draw(st.floats(0.05, 3.0)) for _ in range(d)])
    offset = draw(st.floats(-5.0, 5.0))
    magnitude = draw(st.sampled_from([1e-3, 1.0, 30.0]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    g = rng.normal(size=int(np.prod(sb))) * magnitude
    g[rng.random(g.shape[0]) < draw(st.sampled_from([0.0, 0.5]))] = -np.inf  # pixels left out
    g[rng.integers(g.shape[0])] = 0.0  # at least one pixel in
    return grid_points(sa, h) + offset, sa, grid_points(sb, h), sb, g


@given(grid_problems())
@settings(max_examples=60, deadline=None)
def test_grid_c_transform_equals_the_minimum_over_all_pixels(problem):
    x, sa, y, sb, g = problem
    D, arg = c_transform_grid(GridAxes.of_points(y, sb), (-g).reshape(sb),
                              GridAxes.of_points(x, sa))
    costs = cdist(x, y, "sqeuclidean") - g[None, :]
    expected = costs.min(axis=1)
    finite = np.isfinite(g)
    bound = round_off(GridAxes.of_points(y, sb), GridAxes.of_points(x, sa), 0.0,
                      float(np.abs(g[finite]).max()))
    # the envelope's value and the cost of the pixel it names both lie within the round-off bound
    np.testing.assert_allclose(D.ravel(), expected, rtol=0, atol=bound)
    np.testing.assert_allclose(costs[np.arange(x.shape[0]), arg.ravel()], expected, rtol=0,
                               atol=bound)
    assert finite[arg.ravel()].all()


def test_grid_c_transform_round_off_is_far_below_its_bound():
    """Measured 1.1e-16 to 1.6e-16 of (max|g| + largest cost); the bound is 32 (d + 1) eps of it."""
    rng = np.random.default_rng(0)
    worst = 0.0
    for _ in range(50):
        d = int(rng.integers(1, 4))
        sa, sb = tuple(rng.integers(2, 7, size=d)), tuple(rng.integers(2, 7, size=d))
        h = rng.random(d) + 0.1
        x, y = grid_points(sa, h) - 0.3, grid_points(sb, h)
        g = rng.normal(size=y.shape[0]) * 10.0
        D, _ = c_transform_grid(GridAxes.of_points(y, sb), (-g).reshape(sb),
                                GridAxes.of_points(x, sa))
        costs = cdist(x, y, "sqeuclidean")
        error = np.abs(D.ravel() - (costs - g[None]).min(axis=1)).max()
        bound = round_off(GridAxes.of_points(y, sb), GridAxes.of_points(x, sa), 0.0,
                          float(np.abs(g).max()))
        worst = max(worst, error / bound)
    assert worst <= 1e-2


def _pricer(x, sa, y, sb):
    return GridPricer(GridAxes.of_points(y, sb), GridAxes.of_points(x, sa),
                      np.arange(x.shape[0]), np.arange(y.shape[0]))


@given(grid_problems(), st.integers(0, 2**32 - 1))
@settings(max_examples=40, deadline=None)
def test_euclidean_pricer_finds_each_rows_largest_positive_excess_over_its_columns(problem, seed):
    """Order 1: the pair scan's row maxima are exact where positive, its pairs the top ones."""
    x, sa, y, sb, g = problem
    rng = np.random.default_rng(seed)
    rows = np.nonzero(rng.random(x.shape[0]) < 0.8)[0]
    cols = np.nonzero(np.isfinite(g))[0]
    if rows.size == 0:
        rows = np.arange(1)
    pricer = GridPricer(GridAxes(GridAxes.of_points(y, sb).axes, order=1.0),
                        GridAxes(GridAxes.of_points(x, sa).axes, order=1.0), rows, cols)
    assert pricer.euclidean
    scale = float(np.abs(g[cols]).max()) + 1.0
    f = rng.normal(size=rows.shape[0]) * scale
    excess = f[:, None] + g[cols][None, :] - cdist(x[rows], y[cols])
    found = pricer(f, g[cols], 0.0)
    expected = excess.max(axis=1)
    # pairs evaluated from the same differences as cdist's: equal bitwise over 300 measured draws;
    # 1e-12 of the terms leaves thousands of ulps for a CPU that rounds otherwise
    atol = 1e-12 * (scale + float(cdist(x, y).max()))
    positive = expected > atol
    np.testing.assert_allclose(found.row_max[positive], expected[positive], rtol=0, atol=atol)
    assert np.all(found.row_max[~positive] <= atol)
    for r, c in zip(found.rows, found.cols):  # c: a position in ``cols``
        kth = np.sort(excess[r])[::-1][min(19, excess.shape[1] - 1)]  # the row's 20th largest
        assert excess[r, c] >= max(kth, 0.0) - atol
    assert set(found.rows.tolist()) >= set(np.nonzero(expected > atol)[0].tolist())


def test_a_tampered_potential_fails_the_grid_certificate():
    rng = np.random.default_rng(3)
    A, B = rng.random((9, 7)), rng.random((9, 7))
    res = emd_grid(A, B, order=2)
    x, y = grid_points(A.shape, np.ones(2)), grid_points(B.shape, np.ones(2))
    pricer = _pricer(x, A.shape, y, B.shape)
    f, g = res.f.ravel(), res.g.ravel()
    assert pricer(f, g, 0.0).max_excess <= 1e-9
    g_bad = g.copy()
    g_bad[17] += 1e-4
    found = pricer(f, g_bad, 0.0)
    np.testing.assert_allclose(found.max_excess, max_dual_violation(x, y, f, g_bad, order=2),
                               rtol=0, atol=1e-10)
    assert found.max_excess >= 1e-4 - 1e-9
    assert set(found.cols.tolist()) == {17}  # the tampered pixel is every violated row's column


def _disk(n, centre, radius, hole=0.0):
    i, j = np.mgrid[:n, :n]
    r = np.hypot(i - centre[0], j - centre[1])
    return ((r <= radius) & (r >= hole)).astype(float)


def _cases():
    rng = np.random.default_rng(7)
    noise = rng.random((14, 14))
    mostly_zero = np.zeros((14, 14))
    mostly_zero[2, 3], mostly_zero[11, 9], mostly_zero[5, 12] = 1.0, 2.0, 0.5
    one_pixel = np.zeros((14, 14))
    one_pixel[4, 4] = 3.0
    return {
        "ties": (rng.integers(0, 3, (14, 14)).astype(float) + 1.0,
                 rng.integers(0, 3, (14, 14)).astype(float) + 1.0, 1.0),
        "identical": (noise, noise, 1.0),
        "one_pixel": (one_pixel, noise, 1.0),
        "mostly_zero": (mostly_zero, rng.random((14, 14)), 1.0),
        "holes": (_disk(14, (6, 6), 5, hole=2), _disk(14, (8, 7), 4), 1.0),
        "rectangular": (rng.random((9, 16)), rng.random((13, 11)), 1.0),
        "anisotropic": (rng.random((12, 12)), rng.random((12, 12)), (1.0, 0.25)),
        "one_d": (rng.random(150), rng.random(120), 1.0),
        "three_d": (rng.random((6, 5, 7)), rng.random((6, 7, 5)), 1.0),
    }


CASES = _cases()


@pytest.mark.parametrize("order", [2, 1, 1.5])
@pytest.mark.parametrize("name", sorted(CASES))
def test_sparse_grid_solve_equals_pot_and_a_cold_solve_on_the_pixel_centres(name, order):
    A, B, spacing = CASES[name]
    h = np.broadcast_to(np.asarray(spacing, float), (A.ndim,))
    x, y = grid_points(A.shape, h), grid_points(B.shape, h)
    res = emd_grid(A, B, order=order, spacing=spacing, solver="sparse")
    ref = ot.emd2(A.ravel() / A.sum(), B.ravel() / B.sum(),
                  ot.dist(x, y, metric="euclidean") ** order, numItermax=10**8)
    cold = emd_points(x, y, A.ravel(), B.ravel(), order=order, solver="sparse")
    top = float(cdist(x, y, "euclidean").max()) ** order
    assert res.converged
    np.testing.assert_allclose(res.cost, ref, rtol=1e-9, atol=1e-12 * top)
    np.testing.assert_allclose(res.cost, cold.cost, rtol=1e-9, atol=1e-12 * top)
    # the reported violation bounds the one over all pixel pairs, and both are round-off
    scanned = max_dual_violation(x, y, res.f.ravel(), res.g.ravel(), order=order)
    assert scanned <= res.dual_violation + 1e-13 * top
    assert res.dual_violation <= 1e-9 * top
