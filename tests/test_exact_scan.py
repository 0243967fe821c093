"""The check of every pair: it finds every violated pair, exactly, in any dimension."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from otlab.costs import PowerCost
from otlab.exact import emd_points, max_dual_violation
from otlab.exact._geometry import Leaves
from otlab.exact._scan import GEMM_DIM, scan_excess


def _all_costs(x, y, cost):
    rows, cols = np.divmod(np.arange(x.shape[0] * y.shape[0]), y.shape[0])
    return cost.matched(x[rows], y[cols]).reshape(x.shape[0], y.shape[0])


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from([1, 2, 3, 9, 16, 64]),
       st.sampled_from([1.0, 2.0, 1.5]), st.sampled_from([0.0, 1e3, -1e6]),
       st.sampled_from([0.0, 1e-9, 1e-3]))
def test_scan_finds_every_violated_pair_and_its_exact_excess(seed, d, order, offset, tol):
    """Brute force over all pairs: near-tight potentials (ties), duplicated points, a common
    offset moved from f to g, a few planted violations."""
    rng = np.random.default_rng(seed)
    n, m = 70, 60
    x = rng.uniform(-1, 1, (n, d))
    y = np.concatenate([x[:20], x[20:30] + 1e-9 * rng.normal(size=(10, d)),
                        rng.uniform(-1, 1, (m - 30, d))])  # duplicates and near-duplicates
    cost = PowerCost(order)
    costs = _all_costs(x, y, cost)
    f = rng.normal(size=n) * 0.1
    g = np.min(costs - f[:, None], axis=0)  # tight: every column has a pair at excess 0
    g[:5] += 10.0 ** rng.uniform(-12, -2, 5)  # violations
    f, g = f + offset, g - offset
    excess = f[:, None] + g[None, :] - costs
    scan = scan_excess(x, y, f, g, Leaves(x, 8), Leaves(y, 8), cost, tol=tol, top_k=3)
    # below GEMM_DIM the costs come from SciPy's cdist: other round-off than the reference
    ulps = 0.0 if d >= GEMM_DIM else 1e-13 * (1.0 + abs(offset) + costs.max())
    best = excess.max(axis=1)
    positive = best > ulps
    np.testing.assert_allclose(scan.row_max[positive], best[positive], rtol=0, atol=ulps)
    assert np.all(scan.row_max <= np.maximum(best, 0.0) + ulps)
    assert np.all(excess[scan.rows, scan.cols] > tol - ulps)
    assert set(np.nonzero((excess > tol + ulps).any(axis=1))[0]) <= set(scan.rows.tolist())
    # once a row holds its top_k, blocks that cannot enter it are skipped: the count is then
    # at least one per violated row and at most all violations
    violated_rows = (excess > tol + ulps).any(axis=1).sum()
    assert violated_rows <= scan.n_violations <= (excess > tol - ulps).sum()
    if scan.n_evaluated == n * m:
        assert (excess > tol + ulps).sum() <= scan.n_violations
    np.testing.assert_allclose(scan.max_excess, max(0.0, best.max()), rtol=0, atol=ulps)


@pytest.mark.parametrize("order", [1.0, 2.0])
def test_lifted_scan_bound_holds_far_from_the_origin_in_64_dimensions(order):
    """max_dual_violation on data at 1e6 from the origin equals brute force in data units."""
    rng = np.random.default_rng(3)
    x = rng.random((120, 64)) + 1e6
    y = rng.random((100, 64)) + 1e6
    res = emd_points(x, y, order=order, solver="sparse")
    assert res.converged
    diff = x[:, None, :] - y[None, :, :]
    costs = np.sqrt(np.einsum("ijk,ijk->ij", diff, diff)) ** order
    assert max_dual_violation(x, y, res.f, res.g, order=order) <= 1e-9 * res.cost
    f = res.f.copy()
    f[7] += 1e-5 * res.cost
    brute = (f[:, None] + res.g[None, :] - costs).max()
    np.testing.assert_allclose(max_dual_violation(x, y, f, res.g, order=order), brute,
                               rtol=1e-6)


@pytest.mark.parametrize("order", [1.0, 2.0])
def test_64_dimensional_clouds_match_pot_and_tampered_potentials_fail(order):
    import ot

    rng = np.random.default_rng(5)
    x, y = rng.random((500, 64)), rng.random((450, 64))
    a, b = rng.random(500), rng.random(450)
    res = emd_points(x, y, a, b, order=order, solver="sparse")
    cost = ot.dist(x, y, metric="euclidean") ** order
    np.testing.assert_allclose(res.cost, ot.emd2(a / a.sum(), b / b.sum(), cost,
                                                 numItermax=10**8), rtol=1e-9)
    assert res.converged and res.dual_violation <= 1e-9 * res.cost
    g = res.g.copy()
    g[11] += 1e-6 * res.cost
    assert max_dual_violation(x, y, res.f, g, order=order) >= 0.99e-6 * res.cost


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from([1, 2, 3]), st.sampled_from([1.0, 2.0]),
       st.sampled_from([1e-9, 1e-3]), st.sampled_from([0, 1, 5]))
def test_compiled_scan_equals_the_tiled_scan(seed, d, order, tol, top_k):
    """The compiled leaf-block kernel and the numpy tiles find the same positive maxima, the
    same number of violated pairs (without top_k) and, row by row, the same largest excesses (ties,
    duplicates); the kernel also prunes point by point, so it evaluates at most as many pairs
    and where a row has no positive excess each shows a lower bound of its maximum.
    Measured bitwise equal; compared at 1e-13 (another CPU may fuse the products)."""
    from otlab.exact._scan import _compiled_scan, _tiled_scan

    rng = np.random.default_rng(seed)
    x = rng.integers(-3, 4, (90, d)).astype(float) / 4  # a grid: ties and duplicates
    y = np.concatenate([x[:30], rng.uniform(-1, 1, (50, d))])
    cost = PowerCost(order)
    costs = _all_costs(x, y, cost)
    f = rng.normal(size=90) * 0.1
    g = np.min(costs - f[:, None], axis=0)
    g[:7] += 10.0 ** rng.uniform(-12, -1, 7)
    lx, ly = Leaves(x, 8), Leaves(y, 8)
    fast = _compiled_scan(x, y, f, g, lx, ly, cost, tol=tol, top_k=top_k)
    slow = _tiled_scan(x, y, f, g, lx, ly, cost, tol=tol, top_k=top_k)
    positive = (fast.row_max > 0) | (slow.row_max > 0)
    np.testing.assert_allclose(fast.row_max[positive], slow.row_max[positive], rtol=0,
                               atol=1e-13)
    excess = f[:, None] + g[None, :] - costs
    # a row without a positive excess: each scan gives the largest excess of the blocks it
    # evaluated, a lower bound of the row's maximum (which block each skips may differ)
    for scan in (fast, slow):
        assert np.all(scan.row_max[~positive] <= excess.max(axis=1)[~positive] + 1e-13)
    if top_k == 0:
        assert fast.n_violations == slow.n_violations
    else:  # the kernel skips blocks that cannot enter a full top_k: a lower bound, >= 1 a row
        assert (excess > tol + 1e-13).any(axis=1).sum() <= fast.n_violations <= slow.n_violations
    assert fast.n_evaluated <= slow.n_evaluated

    def kept(scan):
        order_ = np.lexsort((-excess[scan.rows, scan.cols], scan.rows))
        return scan.rows[order_], excess[scan.rows, scan.cols][order_]

    (rows_fast, top_fast), (rows_slow, top_slow) = kept(fast), kept(slow)
    np.testing.assert_array_equal(rows_fast, rows_slow)
    np.testing.assert_allclose(top_fast, top_slow, rtol=0, atol=1e-13)


@pytest.mark.parametrize("order", [1.0, 2.0])
def test_float32_points_are_scanned_as_their_float64_values(order):
    rng = np.random.default_rng(5)
    x, y = rng.random((400, 2)).astype(np.float32), rng.random((300, 2)).astype(np.float32)
    f, g = rng.normal(size=400) * 0.05, rng.normal(size=300) * 0.05
    cost = PowerCost(order)
    single = scan_excess(x, y, f, g, Leaves(x, 8), Leaves(y, 8), cost, tol=0.0)
    xd, yd = x.astype(np.float64), y.astype(np.float64)
    double = scan_excess(xd, yd, f, g, Leaves(xd, 8), Leaves(yd, 8), cost, tol=0.0)
    np.testing.assert_array_equal(single.row_max, double.row_max)
    assert single.n_violations == double.n_violations


@settings(max_examples=300, deadline=None)
@given(st.floats(-1e300, 1e300, allow_nan=False), st.floats(0.0, 1e300, allow_nan=False),
       st.booleans())
def test_the_block_bound_never_skips_a_block_that_may_hold_a_positive_excess(top, sq, root):
    """``_may_exceed(top, sq)`` is True whenever ``top - cost > 0`` for the cost of squared
    distance ``sq`` (the distance for order 1, no square root taken), also where squares
    underflow or overflow."""
    from otlab.exact._scan_kernels import _may_exceed

    cost = np.sqrt(sq) if root else sq
    if top - cost > 0:
        assert _may_exceed(top, sq, root)
    if root and top >= 1e-150 and sq > top * top * (1 + 1e-9):
        assert not _may_exceed(top, sq, root)


def _one_leaf_planes(y, g, root):
    from otlab.exact._scan_kernels import leaf_planes

    lo, hi = y.min(axis=0, keepdims=True), y.max(axis=0, keepdims=True)
    centre, slope, offset = np.empty_like(lo), np.empty_like(lo), np.empty(1)
    leaf_planes(y, g, np.array([0, y.shape[0]]), lo, hi, root, centre, slope, offset)
    return lo, hi, g.max(keepdims=True), centre, slope, offset


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from([1, 2, 3]), st.booleans(),
       st.sampled_from([1e-3, 1.0, 50.0]), st.sampled_from([1, 2, 9, 32]),
       st.sampled_from([0.0, 1.0, 1e4]))
def test_plane_bounds_are_upper_bounds_of_every_excess_in_their_boxes(seed, d, root, slope_size,
                                                                       size, spread):
    """The bounds of the compiled scan from a box's plane (a point against a leaf,
    ``_plane_bound``; two leaves, ``_pair_bound``) are at least the largest excess
    ``f_i + g_j - c_ij`` over the boxes, whatever the potentials: steep linear parts (the
    planes' slopes), rough parts, one point or coinciding points in a leaf; up to the
    round-off ``_plane_margin`` allows for."""
    from otlab.exact._scan import _plane_margin
    from otlab.exact._scan_kernels import _pair_bound, _plane_bound

    rng = np.random.default_rng(seed)
    y = rng.random((size, d)) * 0.05 + rng.random(d)
    y[size // 2:] = y[0]  # coinciding points
    x = rng.random((size, d)) * 0.05 + rng.random(d)
    cost = PowerCost(1.0 if root else 2.0)
    costs = _all_costs(x, y, cost)
    g = slope_size * (y @ rng.normal(size=d)) + spread * 1e-6 * rng.normal(size=size)
    f = slope_size * (x @ rng.normal(size=d)) + spread * 1e-6 * rng.normal(size=size)
    true_max = (f[:, None] + g[None, :] - costs)
    side_y, side_x = _one_leaf_planes(y, g, root), _one_leaf_planes(x, f, root)
    margin = _plane_margin(x, y, side_x, side_y)
    lo, hi, _, centre, slope, offset = side_y
    for i in range(size):
        bound = _plane_bound(x, i, f[i], centre, slope, offset, lo, hi, 0, root)
        assert bound + margin >= true_max[i].max()
    assert _pair_bound(side_x, 0, side_y, 0, root) + margin >= true_max.max()


@pytest.mark.parametrize("order", [1.0, 2.0])
def test_scan_of_a_translation_finds_every_violated_pair(order):
    """Potentials of a translation by a quarter of the extent (steep and smooth, where the
    planes' bounds prune) with planted violations: the compiled scan finds each violated row,
    its exact maximum and the same top pairs as brute force."""
    from otlab.exact._scan import _compiled_scan

    rng = np.random.default_rng(11)
    x = rng.normal(size=(600, 2)) * 0.02 + 0.3
    y = x + 0.25 + 1e-3 * rng.normal(size=x.shape)
    cost = PowerCost(order)
    costs = _all_costs(x, y, cost)
    shift = np.array([0.25, 0.25])
    f = -(x @ shift) * (2.0 if order == 2 else 1.0 / np.linalg.norm(shift))
    g = np.min(costs - f[:, None], axis=0)  # tight
    g[:9] += 10.0 ** rng.uniform(-10, -3, 9)
    excess = f[:, None] + g[None, :] - costs
    scan = _compiled_scan(x, y, f, g, Leaves(x, 32), Leaves(y, 32), cost, tol=1e-12, top_k=2)
    best = excess.max(axis=1)
    positive = best > 1e-12
    np.testing.assert_allclose(scan.row_max[positive], best[positive], rtol=0, atol=1e-13)
    assert set(np.nonzero(positive)[0]) <= set(scan.rows.tolist())
