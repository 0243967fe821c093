"""MMD and the energy distance: closed forms, GeomLoss, SciPy, metamorphic properties, bad input."""

import numpy as np
import pytest
import scipy.stats
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.distance import cdist

from otlab import kernel_distances as kd
from otlab.kernel_distances import energy_distance, gaussian_mixture_mmd2, median_bandwidth, mmd

from .strategies import offsets, rotations, sample_pairs, scale_factors, spread_pairs, weights

FAST = settings(max_examples=25, deadline=None)
KERNELS = st.sampled_from(["gaussian", "laplacian", "energy"])


def _bw(kernel, value=1.3):
    return None if kernel == "energy" else value


def _dense(x, wx, y, wy, kernel, sigma):
    def k(u, v):
        d = cdist(u, v)
        return {"gaussian": np.exp(-d ** 2 / (2 * sigma ** 2)),
                "laplacian": np.exp(-d / sigma) if sigma else None, "energy": -d}[kernel]
    return wx @ k(x, x) @ wx + wy @ k(y, y) @ wy - 2 * wx @ k(x, y) @ wy


@FAST
@given(sample_pairs(max_dim=3), st.data(), KERNELS)
def test_biased_mmd_equals_the_dense_double_sum_with_weights_and_small_tiles(pair, data, kernel):
    x, y = pair
    wx, wy = data.draw(weights(len(x))), data.draw(weights(len(y)))
    old, kd.TILE_ELEMENTS = kd.TILE_ELEMENTS, 7
    try:
        res = mmd(x, y, a=wx, b=wy, kernel=kernel, bandwidth=_bw(kernel), estimator="biased")
    finally:
        kd.TILE_ELEMENTS = old
    oracle = _dense(x, wx / wx.sum(), y, wy / wy.sum(), kernel, 1.3)
    scale = max(1.0, np.abs(np.vstack([x, y])).max())
    np.testing.assert_allclose(res.squared, oracle, rtol=1e-9, atol=1e-12 * scale)
    assert res.squared >= -1e-12 * scale


@FAST
@given(spread_pairs(max_dim=3), offsets, KERNELS, st.sampled_from(["biased", "unbiased"]))
def test_common_translation_leaves_kernel_distances_unchanged(pair, shift, kernel, estimator):
    x, y = pair
    base = mmd(x, y, kernel=kernel, bandwidth=_bw(kernel), estimator=estimator)
    moved = mmd(x + shift, y + shift, kernel=kernel, bandwidth=_bw(kernel), estimator=estimator)
    # x + shift is rounded: each point moves by up to delta from the exact translation (about
    # 7e-9 at a shift of 6.7e7), each distance by 2 delta, and each kernel value by at most
    # 2 delta / bandwidth (both kernels have slope at most 1 / bandwidth; the energy kernel 1);
    # the kernel values enter MMD^2 with absolute weights summing to 4: at most 8 delta /
    # bandwidth, asserted with a factor 2.  Points 0.019 apart shifted by 2^26 moved the
    # Laplacian MMD^2 by 2.8e-9 (3.9e-7 relative; a pre-existing flake of rtol=1e-7 alone).
    delta = max(np.abs((z + shift) - shift - z).max() for z in (x, y))
    bound = 16 * delta / (_bw(kernel) or 1.0)
    np.testing.assert_allclose(moved.squared, base.squared, rtol=1e-7, atol=1e-9 + bound)


@FAST
@given(spread_pairs(max_dim=3), st.data(), KERNELS)
def test_rotation_and_permutation_leave_kernel_distances_unchanged(pair, data, kernel):
    x, y = pair
    r = data.draw(rotations(x.shape[1]))
    perm = data.draw(st.permutations(range(len(x))))
    base = mmd(x, y, kernel=kernel, bandwidth=_bw(kernel))
    turned = mmd((x @ r.T)[list(perm)], y @ r.T, kernel=kernel, bandwidth=_bw(kernel))
    np.testing.assert_allclose(turned.squared, base.squared, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(turned.standard_error, base.standard_error, rtol=1e-6, atol=1e-9)


@FAST
@given(spread_pairs(max_dim=3), scale_factors)
def test_scaling_points_and_bandwidth_together_leaves_mmd_unchanged_and_scales_energy(pair, c):
    x, y = pair
    for kernel in ("gaussian", "laplacian"):
        base = mmd(x, y, kernel=kernel, bandwidth=1.3)
        scaled = mmd(c * x, c * y, kernel=kernel, bandwidth=1.3 * abs(c))
        np.testing.assert_allclose(scaled.squared, base.squared, rtol=1e-8, atol=1e-11)
    base, scaled = energy_distance(x, y), energy_distance(c * x, c * y)
    # The energy distance is a difference of mean distances: its round-off is
    # eps times those distances, which an equal pair (value 0) shows as it is.
    spread = np.ptp(np.concatenate([x, y]), axis=0).max()
    np.testing.assert_allclose(scaled.squared, abs(c) * base.squared, rtol=1e-8,
                               atol=1e-10 * abs(c) * spread)
    # The median is taken in a centred frame: its round-off is eps times the
    # spread (3e-16 measured at spread 10), not eps times the median.
    np.testing.assert_allclose(median_bandwidth(c * x, c * y), abs(c) * median_bandwidth(x, y),
                               rtol=1e-12, atol=1e-12 * abs(c) * spread)


@FAST
@given(sample_pairs(max_dim=3), KERNELS)
def test_splitting_a_point_into_duplicates_leaves_biased_value_unchanged(pair, kernel):
    x, y = pair
    xd, wd = np.vstack([x, x[:1]]), np.r_[np.full(len(x), 1.0), 0.0]
    wd[0], wd[-1] = 0.5, 0.5
    base = mmd(x, y, kernel=kernel, bandwidth=_bw(kernel), estimator="biased")
    split = mmd(xd, y, a=wd, kernel=kernel, bandwidth=_bw(kernel), estimator="biased")
    np.testing.assert_allclose(split.squared, base.squared, rtol=1e-9, atol=1e-12 * (
        1 + np.abs(np.vstack([x, y])).max()))


@FAST
@given(sample_pairs(max_dim=1, min_n=1))
def test_energy_distance_in_one_dimension_equals_scipy(pair):
    x, y = pair
    # D^2 is a difference of sums of distances of the size of the span: its round-off is about
    # 1e-16 x span (so D itself may lose half its digits when D^2 is that small).  Below
    # the normal range float64 keeps only an absolute precision of 5e-324: a span of one
    # subnormal step gives D^2 = 0 against scipy's 1e-323, so the floor is 1000 steps.
    span = np.ptp(np.vstack([x, y]))
    floor = 1000 * np.finfo(np.float64).smallest_subnormal
    np.testing.assert_allclose(energy_distance(x, y).squared,
                               scipy.stats.energy_distance(x[:, 0], y[:, 0]) ** 2, rtol=1e-8,
                               atol=max(1e-13 * span, floor))


@pytest.mark.parametrize("kernel", ["gaussian", "laplacian", "energy"])
def test_biased_value_is_twice_geomloss_samples_loss(kernel):
    from geomloss import SamplesLoss

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(60, 3)), rng.normal(size=(45, 3)) + 0.4
    sigma = 0.7
    ours = mmd(x, y, kernel=kernel, bandwidth=_bw(kernel, sigma), estimator="biased")
    theirs = SamplesLoss(kernel, blur=sigma, backend="tensorized")(torch.tensor(x), torch.tensor(y))
    # GeomLoss clamps squared distances (divided by the blur for the laplacian) at 1e-8:
    # each point's distance to itself counts as 1e-4.
    eps, diag = 1e-4, (1 / 60 + 1 / 45)
    shift = {"gaussian": 0.0, "laplacian": 0.5 * diag * (np.exp(-eps) - 1),
             "energy": -0.5 * diag * eps}[kernel]
    np.testing.assert_allclose(float(ours.squared) / 2 + shift, theirs.item(), rtol=0, atol=1e-10)


def test_unbiased_gaussian_mmd_between_gaussian_mixtures_matches_the_closed_form():
    rng = np.random.default_rng(5)
    n = 1500
    comp = rng.integers(0, 2, n)
    means_p = np.array([[0.0, 0.0], [2.0, 0.0]])
    x = means_p[comp] + rng.normal(size=(n, 2)) * 0.5
    y = rng.normal(size=(n, 2)) * 1.2 + [1.0, 0.3]
    res = mmd(x, y, bandwidth=1.0)
    exact = gaussian_mixture_mmd2([0.5, 0.5], means_p, [0.25 * np.eye(2)] * 2,
                                  [1.0], [[1.0, 0.3]], [1.44 * np.eye(2)], bandwidth=1.0)
    assert abs(float(res.squared) - exact) <= 5 * res.standard_error


def test_standard_error_matches_the_spread_over_repeated_samples():
    rng = np.random.default_rng(6)
    vals, ses = [], []
    for _ in range(40):
        x, y = rng.normal(size=(150, 2)), rng.normal(size=(150, 2)) + [0.5, 0]
        res = mmd(x, y, bandwidth=1.0)
        vals.append(float(res.squared))
        ses.append(res.standard_error)
    spread = np.std(vals, ddof=1)
    assert 0.6 * spread < np.mean(ses) < 1.6 * spread


def test_median_heuristic_is_returned_and_used():
    x = np.array([[0.0], [1.0]])
    y = np.array([[3.0]])
    res = mmd(x, y, estimator="biased")
    assert res.bandwidth == 2.0
    np.testing.assert_allclose(res.squared, mmd(x, y, bandwidth=2.0, estimator="biased").squared)


def test_torch_values_equal_numpy_and_gradients_stay_finite_at_coincident_points():
    rng = np.random.default_rng(7)
    x, y = rng.normal(size=(20, 2)), rng.normal(size=(15, 2))
    y[0] = x[0]
    for kernel in ("gaussian", "laplacian", "energy"):
        xt = torch.tensor(x, requires_grad=True)
        res = mmd(xt, torch.tensor(y), kernel=kernel, bandwidth=_bw(kernel))
        np.testing.assert_allclose(float(res.squared.detach()),
                                   float(mmd(x, y, kernel=kernel, bandwidth=_bw(kernel)).squared),
                                   rtol=1e-9, atol=1e-10)
        res.squared.backward()
        assert torch.isfinite(xt.grad).all()


def test_float32_gives_the_float64_value_to_single_precision_far_from_the_origin():
    rng = np.random.default_rng(8)
    x, y = rng.normal(size=(40, 3)) + 500, rng.normal(size=(30, 3)) + 500.3
    for kernel in ("gaussian", "energy"):
        v64 = float(mmd(x, y, kernel=kernel, bandwidth=_bw(kernel)).squared)
        v32 = float(mmd(x.astype(np.float32), y.astype(np.float32), kernel=kernel,
                        bandwidth=_bw(kernel)).squared)
        np.testing.assert_allclose(v32, v64, rtol=1e-3, atol=1e-5)


@pytest.mark.parametrize("call, error, match", [
    (lambda: mmd([[0.0], [1]], [[1.0], [2]], bandwidth=-1.0), ValueError, "bandwidth"),
    (lambda: mmd([[0.0], [1]], [[1.0], [2]], bandwidth=float("nan")), ValueError, "bandwidth"),
    (lambda: mmd([[0.0], [1]], [[1.0], [2]], bandwidth="wide"), TypeError, "bandwidth"),
    (lambda: mmd([[0.0], [1]], [[1.0], [2]], kernel="energy", bandwidth=1.0), ValueError,
     "bandwidth"),
    (lambda: mmd([[0.0], [np.nan]], [[1.0], [2]]), ValueError, "p must be finite"),
    (lambda: mmd([[0.0]], [[1.0], [2]]), ValueError, "at least 2 points in p"),
    (lambda: mmd([[0.0], [1]], [[1.0], [2]], kernel="cauchy"), ValueError, "kernel"),
    (lambda: mmd([[0.0], [1]], [[1.0], [2]], estimator="fair"), ValueError, "estimator"),
    (lambda: mmd([[0.0], [0]], [[0.0], [0]]), ValueError, "bandwidth='median'"),
])
def test_bad_input_raises_naming_the_argument(call, error, match):
    with pytest.raises(error, match=match):
        call()


@pytest.mark.parametrize("kernel", ["gaussian", "laplacian", "energy"])
def test_torch_gradient_through_small_tiles_matches_finite_differences(kernel, monkeypatch):
    # Tiles of 7 values: the symmetric blocks and the cross pass both feed the gradient.
    monkeypatch.setattr(kd, "TILE_ELEMENTS", 7)
    rng = np.random.default_rng(9)
    x, y = rng.normal(size=(9, 2)), rng.normal(size=(7, 2)) + 0.3
    xt = torch.tensor(x, requires_grad=True)
    mmd(xt, torch.tensor(y), kernel=kernel, bandwidth=_bw(kernel)).squared.backward()
    h, e = 1e-6, np.zeros_like(x)
    e[4, 1] = h
    fd = (float(mmd(x + e, y, kernel=kernel, bandwidth=_bw(kernel)).squared)
          - float(mmd(x - e, y, kernel=kernel, bandwidth=_bw(kernel)).squared)) / (2 * h)
    np.testing.assert_allclose(xt.grad[4, 1].item(), fd, rtol=1e-6, atol=1e-8)


def _with_far_point(z, w, far):
    """``z``, uniform weights, and a point at ``far * (1, 1/3, 1/5, ...)`` of weight ``w``."""
    point = far / (1.0 + 2.0 * np.arange(z.shape[1]))
    return np.vstack([z, point]), np.append(np.full(len(z), (1 - w) / len(z)), w)


FAR = st.sampled_from([1e8, 1e16, 1e50, 1e100, 1e160, 1e200, 1e300])


@FAST
@given(spread_pairs(max_dim=3), FAR, KERNELS, st.sampled_from(["biased", "unbiased"]))
def test_a_far_point_of_weight_zero_leaves_kernel_distances_unchanged(pair, far, kernel, estimator):
    # A point of weight 0 enters no sum.  The frame was centred on the midpoint of the bounding
    # box, half-way to it: every other point had the same coordinates (MMD 0.0 for a weight-0
    # point at 1e20 beside data of size 1, energy distance 36 % low; 'every pooled point is
    # the same' from the median heuristic at 1e300).
    x, y = pair
    xf, a = _with_far_point(x, 0.0, far)
    base = mmd(x, y, kernel=kernel, bandwidth=_bw(kernel), estimator=estimator).squared
    res = mmd(xf, y, a=a, kernel=kernel, bandwidth=_bw(kernel), estimator=estimator).squared
    scale = np.abs(np.vstack([x, y]) - np.median(np.vstack([x, y]), axis=0)).max()
    # measured after the fix: equal (difference 0, 1920 problems); the unbiased value leaves
    # out i = j by the sum of squared weights, the same with and without the extra point
    np.testing.assert_allclose(res, base, rtol=1e-12,
                               atol=1e-13 * (scale if kernel == "energy" else 1.0))


@pytest.mark.parametrize("kernel", ["gaussian", "laplacian", "energy"])
def test_a_far_tensor_point_of_weight_zero_leaves_kernel_distances_unchanged(kernel):
    # tensors kept their points of weight 0: energy distance 0.0 for 0.113 with one at 1e200
    # beside 40 and 40 points of size 1; the points' gradient is kept (0 at the weight-0 one)
    rng = np.random.default_rng(0)
    u, v = rng.normal(size=(40, 2)), rng.normal(size=(40, 2)) + 0.5
    base = float(mmd(u, v, kernel=kernel, bandwidth=_bw(kernel), estimator="biased").squared)
    xt = torch.tensor(np.vstack([u, [[1e200, 0.0]]]), requires_grad=True)
    a = torch.tensor(np.append(np.full(40, 1 / 40), 0.0))
    res = mmd(xt, torch.tensor(v), a=a, kernel=kernel, bandwidth=_bw(kernel), estimator="biased")
    res.squared.backward()
    # the same sums over the same points: measured equal; asserted 1e-12
    np.testing.assert_allclose(float(res.squared.detach()), base, rtol=1e-12)
    assert torch.isfinite(xt.grad).all() and float(xt.grad[40].abs().max()) == 0.0


def _energy_and_gradients(x, a, y, b, estimator, *, swap=False):
    """D^2 and its gradients in (x, a, y, b), as float64 tensors; with ``swap`` computed as
    D^2 of (y, x) (it is symmetric), the gradients still in the order (x, a, y, b)."""
    leaves = [torch.tensor(v, requires_grad=True) for v in (x, a, y, b)]
    xt, at, yt, bt = leaves
    args = (yt, xt, bt, at) if swap else (xt, yt, at, bt)
    res = energy_distance(args[0], args[1], a=args[2], b=args[3], estimator=estimator)
    res.squared.backward()
    return float(res.squared.detach()), [v.grad.numpy() for v in leaves]


def _first_variation(z, x, p, y, q, estimator):
    r"""The derivative of D^2 in the weight :math:`p_z = 0` of a point ``z`` added to ``x``,
    before the weights are normalised: :math:`2\sum_j q_j |z - y_j| - 2\sum_k p_k |z - x_k|`
    (the latter over :math:`1 - \sum p^2` for the unbiased estimator), by mpmath with enough
    digits for the two sums of size :math:`|z|` to cancel, on weights normalised exactly: a
    float sum 1 - 1e-16 would add :math:`2|z|` times that."""
    import mpmath

    with mpmath.workdps(700):
        def dist(u, v):
            return mpmath.sqrt(mpmath.fsum((mpmath.mpf(float(s)) - mpmath.mpf(float(t))) ** 2
                                           for s, t in zip(u, v)))
        def mean_distance(weights, points):  # the weights normalised exactly (as otlab does)
            w = [mpmath.mpf(float(v)) for v in weights]
            total = mpmath.fsum(w)
            return mpmath.fsum(v * dist(z, u) for v, u in zip(w, points)) / total, w, total

        to_y, _, _ = mean_distance(q, y)
        to_x, w, total = mean_distance(p, x)
        if estimator == "unbiased":
            to_x = to_x / (1 - mpmath.fsum(v * v for v in w) / total ** 2)
        return float(2 * (to_y - to_x))


def _mean_variation(x, p, y, q, estimator):
    r""":math:`\sum_i p_i \partial D^2 / \partial p_i` over the points of ``x``, which the
    normalisation :math:`p = a / \sum a` subtracts from each derivative (:math:`\sum a = 1`):
    :math:`2 p^\top D_{xy} q - 2 p^\top D_{xx} p`, the latter over :math:`(1 - \sum p^2)^2`
    for the unbiased estimator."""
    self_term = 2 * p @ cdist(x, x) @ p
    if estimator == "unbiased":
        self_term = self_term / (1 - p @ p) ** 2
    return 2 * p @ cdist(x, y) @ q - self_term


@FAST
@given(spread_pairs(max_dim=3), FAR, st.sampled_from(["biased", "unbiased"]), st.booleans())
def test_a_far_point_of_weight_zero_whose_weight_needs_a_gradient_changes_no_value_or_gradient(
        pair, far, estimator, swap):
    # Tensors keep a point of weight 0 when the weights require a gradient (its entry is the
    # first variation).  The energy kernel's frame reached the far point: at 1e300 beside data
    # of size 10 the data's distances underflowed (D^2 = 0 for 1.26, silently), at 1e100 the
    # weight's derivative was the difference of two sums of size 1e100 (3.9e84 for -2.30).
    x, y = pair
    xf, a = _with_far_point(x, 0.0, far)
    p, q = a[:-1], np.full(len(y), 1 / len(y))
    base, (gx, ga, gy, gb) = _energy_and_gradients(x, p, y, q, estimator, swap=swap)
    value, (fx, fa, fy, fb) = _energy_and_gradients(xf, a, y, q, estimator, swap=swap)
    scale = np.abs(np.vstack([x, y]) - np.median(np.vstack([x, y]), axis=0)).max()
    # measured over 300 draws: values equal, gradients within 9e-16 of the data's size;
    # asserted 1e-13 of it
    np.testing.assert_allclose(value, base, rtol=1e-12, atol=1e-13 * scale)
    for got, want in ((fx[:-1], gx), (fa[:-1], ga), (fy, gy), (fb, gb)):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-13 * max(scale, 1.0))
    assert not fx[-1].any()  # weight 0: where the point lies changes nothing
    # the far weight's entry: measured within 6e-16 of its size (or the data's) of the
    # independent value; asserted 1e-12
    expected = (_first_variation(xf[-1], x, p, y, q, estimator)
                - _mean_variation(x, p, y, q, estimator))
    np.testing.assert_allclose(fa[-1], expected, rtol=1e-12, atol=1e-12 * scale)


def test_the_far_weight_of_the_unbiased_energy_distance_beyond_the_float_range_raises():
    # its derivative is about 2 |z| sum p^2 / (1 - sum p^2): beyond 1.8e308 it overflows
    x = torch.tensor([[0.0, 0.0], [1.0, 0.0], [1.7e308, 1.7e308]], dtype=torch.float64)
    a = torch.tensor([0.5, 0.5, 0.0], dtype=torch.float64, requires_grad=True)
    y = torch.tensor([[0.0, 1.0], [1.0, 1.0]], dtype=torch.float64)
    with pytest.raises(ValueError, match="a gives weight 0 to points more than 1.8e.308 .*detach"):
        energy_distance(x, y, a=a, estimator="unbiased")
    value = energy_distance(x, y, a=a).squared  # biased: bounded derivative
    value.backward()
    assert float(value.detach()) == pytest.approx(float(energy_distance(x[:2], y).squared))
    assert torch.isfinite(a.grad).all()


@FAST
@given(spread_pairs(max_dim=3), FAR, st.sampled_from([1e-3, 1e-9]),
       st.sampled_from(["gaussian", "laplacian"]))
def test_a_coinciding_far_pair_of_weight_w_scales_biased_mmd2_by_1_minus_w_squared(
        pair, far, w, kernel):
    # k(pair, other points) = exp(-far...) = 0 exactly, and the pair's own terms cancel:
    # MMD^2 = (1 - w)^2 MMD^2 of the samples alone
    x, y = pair
    (xf, a), (yf, b) = _with_far_point(x, w, far), _with_far_point(y, w, far)
    base = mmd(x, y, kernel=kernel, bandwidth=1.3, estimator="biased").squared
    res = mmd(xf, yf, a=a, b=b, kernel=kernel, bandwidth=1.3, estimator="biased").squared
    # measured after the fix: within 5e-16 absolute (values of size up to 2)
    np.testing.assert_allclose(res, (1 - w) ** 2 * base, rtol=1e-12, atol=1e-13)


@FAST
@given(spread_pairs(max_dim=3), FAR, st.sampled_from([1e-3, 1e-12, 1e-300]),
       st.sampled_from(["gaussian", "laplacian"]), st.booleans())
def test_a_lone_far_point_of_weight_w_adds_w_squared_to_biased_mmd2(pair, far, w, kernel, torched):
    # k(far point, any other point) = 0 exactly and k(far point, itself) = 1: biased MMD^2 is
    # the dense double sum by coordinate differences, sum_ij a_i a_j k(x_i, x_j) + ... with the
    # far point's own term w^2.  Beyond 1e150 times the data's size the frame that fitted the
    # far point made the data's squared coordinates underflow: MMD 0.2080 (4 decimals right)
    # at 1e160, 0.0014 at 1e200 for 0.2080 (weight 1e-3 beside 40 and 40 points)
    x, y = pair
    xf, a = _with_far_point(x, w, far)
    b = np.full(len(y), 1 / len(y))
    data = [torch.tensor(v) for v in (xf, y, a)] if torched else [xf, y, a]
    res = float(mmd(data[0], data[1], a=data[2], kernel=kernel, bandwidth=1.3,
                    estimator="biased").squared)
    near = _dense(x, a[:-1], y, b, kernel, 1.3)
    # measured: within 7e-16 of the dense sum (1000 draws, values up to 2); asserted 1e-13
    np.testing.assert_allclose(res, near + w * w, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("far", [1e20, 1e100, 1e300])
def test_median_heuristic_ignores_how_far_a_lone_point_is(far):
    # the median of the pairwise distances is that of the bulk once far away; it was 0 (then
    # 'every pooled point is the same') when the bulk collapsed in the bounding box's frame
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(30, 2)), rng.normal(size=(30, 2))
    sigma = median_bandwidth(np.vstack([x, [[far, 0.0]]]), y)
    z = np.vstack([x, y, [[far, 0.0]]])
    d = cdist(z, z)[np.triu_indices(len(z), 1)]
    np.testing.assert_allclose(sigma, np.median(d), rtol=1e-12)


@pytest.mark.parametrize("kernel", ["gaussian", "laplacian", "energy"])
def test_gradient_of_the_distance_between_a_sample_and_itself_is_finite(kernel):
    # value = sqrt(max(squared, 0)) had NaN gradients where squared is 0 (the energy kernel)
    x = torch.tensor(np.random.default_rng(0).normal(size=(8, 2)), requires_grad=True)
    res = mmd(x, x.detach().clone(), kernel=kernel, bandwidth=_bw(kernel), estimator="biased")
    res.value.backward()
    assert abs(res.squared.item()) <= 1e-12  # 0 to round-off (measured: 0 or 2.2e-16)
    assert torch.isfinite(x.grad).all()


@pytest.mark.parametrize("bandwidth", [1e-160, 1e-300])
def test_a_bandwidth_far_below_every_distance_gives_the_identity_kernel(bandwidth):
    # -1 / (2 sigma^2) overflowed to -inf and 0 * -inf on the diagonal gave NaN; the kernel is
    # 1 on the diagonal and 0 elsewhere: biased MMD^2 = sum a^2 + sum b^2, unbiased 0
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(20, 2)), rng.normal(size=(30, 2))
    biased = mmd(x, y, bandwidth=bandwidth, estimator="biased").squared
    # sums of 400 and 900 terms: round-off of order 1e-16 relative; asserted 1e-12
    np.testing.assert_allclose(biased, 1 / 20 + 1 / 30, rtol=1e-12)
    assert mmd(x, y, bandwidth=bandwidth).squared == 0.0
    xt = torch.tensor(x)
    np.testing.assert_allclose(float(mmd(xt, torch.tensor(y), bandwidth=bandwidth,
                                         estimator="biased").squared), 1 / 20 + 1 / 30, rtol=1e-12)
