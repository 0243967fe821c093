"""Tests of Sinkhorn on samples (otlab.entropic.api, problem, backend): Sinkhorn on samples (back-ends, types, gradients, defaults)."""

import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose

from otlab import ConvergenceWarning, wasserstein
from otlab.costs import cost_matrix
from otlab.entropic import (
    default_reg,
    sinkhorn,
    sinkhorn_divergence,
    sinkhorn_samples,
)
from otlab.entropic.backend import MEMORY_FRACTION, choose_backend, make_operator

from .problems import random_problem


def test_dense_and_tiled_solvers_agree():
    x, y, a, b = random_problem(n=40, m=30)
    dense = sinkhorn_samples(x, y, a, b, reg=0.05, backend="dense", tol=1e-9)
    tiled = sinkhorn_samples(x, y, a, b, reg=0.05, backend="tiled", tol=1e-9)
    assert (dense.backend, tiled.backend) == ("dense", "tiled")
    assert_allclose(tiled.cost, dense.cost, rtol=1e-10)
    assert_allclose(tiled.f, dense.f, rtol=1e-8, atol=1e-10)
    v = np.arange(30.0)
    assert_allclose(tiled.apply(v), dense.plan @ v, rtol=1e-10)


def test_samples_entry_equals_matrix_entry():
    # The two entry points start their ε-schedules differently, so their iterates differ;
    # the costs agree to about tol * max M, hence the tight marginal tolerance.
    x, y, a, b = random_problem()
    on_points = sinkhorn_samples(x, y, a, b, reg=0.05, order=2, tol=1e-11)
    on_matrix = sinkhorn(a, b, cost_matrix(x, y, order=2), reg=0.05, tol=1e-11)
    assert_allclose(on_points.cost, on_matrix.cost, rtol=1e-9)


def test_point_gradient_matches_finite_differences():
    x, y, a, b = random_problem(n=6, m=5)
    xt = torch.tensor(x, requires_grad=True)
    yt = torch.tensor(y, requires_grad=True)
    res = sinkhorn_samples(xt, yt, torch.tensor(a), torch.tensor(b), reg=0.3, order=2, tol=1e-12)
    gx, gy = torch.autograd.grad(res.objective, (xt, yt))

    def objective(xx, yy):
        return sinkhorn_samples(xx, yy, a, b, reg=0.3, order=2, tol=1e-12).objective

    h, rng = 1e-6, np.random.default_rng(1)
    for _ in range(3):
        dx, dy = rng.normal(size=x.shape), rng.normal(size=y.shape)
        fd = (objective(x + h * dx, y + h * dy) - objective(x - h * dx, y - h * dy)) / (2 * h)
        assert_allclose((gx.numpy() * dx).sum() + (gy.numpy() * dy).sum(), fd, rtol=1e-5)


def test_caller_grad_mode_is_restored():
    x, y, a, b = random_problem(n=5, m=4)
    xt = torch.tensor(x, requires_grad=True)
    with torch.no_grad():
        out = sinkhorn_samples(xt, y, reg=0.5)
        assert not torch.is_grad_enabled()
    assert not out.cost.requires_grad
    assert torch.is_grad_enabled()
    assert sinkhorn_samples(xt, y, reg=0.5).cost.requires_grad


def test_numpy_and_torch_agree_and_types_follow_input():
    x, y, a, b = random_problem()
    res_np = sinkhorn_samples(x, y, a, b, reg=0.1, tol=1e-9)
    res_t = sinkhorn_samples(torch.tensor(x), torch.tensor(y), torch.tensor(a), torch.tensor(b),
                             reg=0.1, tol=1e-9)
    assert isinstance(res_np.cost, float) and isinstance(res_np.f, np.ndarray)
    assert isinstance(res_t.cost, torch.Tensor) and res_t.cost.ndim == 0
    assert_allclose(res_t.cost.item(), res_np.cost, rtol=1e-12)
    assert_allclose(res_t.f.numpy(), res_np.f, rtol=1e-12)


def test_float32_works_and_stays_float32():
    x, y, a, b = random_problem()
    xt, yt = torch.tensor(x, dtype=torch.float32), torch.tensor(y, dtype=torch.float32)
    res = sinkhorn_samples(xt, yt, reg=0.1, tol=1e-4)
    ref = sinkhorn_samples(x, y, reg=0.1, tol=1e-9)
    assert res.f.dtype == torch.float32 and res.cost.dtype == torch.float32
    assert_allclose(res.cost.item(), ref.cost, rtol=1e-3)
    res_np = sinkhorn(a.astype(np.float32), b.astype(np.float32),
                      cost_matrix(x, y).astype(np.float32), reg=0.05, tol=1e-3)
    assert res_np.f.dtype == np.float32 and np.isfinite(res_np.f).all()


@pytest.mark.parametrize("order", [1, 2])
def test_wasserstein_sinkhorn_within_one_percent_of_exact_at_defaults(order):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(150, 2)), rng.normal(size=(150, 2)) + 1.0
    exact = wasserstein(x, y, order=order, method="exact")
    approx = wasserstein(x, y, order=order, method="sinkhorn")
    assert isinstance(approx, float)
    assert exact <= approx <= 1.01 * exact


def test_wasserstein_sinkhorn_takes_weights_by_keyword():
    x, y, a, b = random_problem()
    res = sinkhorn_samples(x, y, a, b, order=1, tol=1e-9)
    w = wasserstein(x, y, a=a, b=b, method="sinkhorn", tol=1e-9)
    assert_allclose(w, res.cost, rtol=1e-12)


def test_wasserstein_sinkhorn_on_tensors_is_a_differentiable_tensor():
    x, y, _, _ = random_problem(n=20, m=20)
    xt = torch.tensor(x, requires_grad=True)
    w = wasserstein(xt, torch.tensor(y), order=2, method="sinkhorn", reg=0.5)
    assert w.ndim == 0 and w.requires_grad
    (g,) = torch.autograd.grad(w, xt)
    assert torch.isfinite(g).all()


def test_default_reg_scales_with_the_data():
    x, y, _, _ = random_problem()
    assert_allclose(default_reg(3 * x, 3 * y, order=2), 9 * default_reg(x, y, order=2), rtol=1e-12)
    assert_allclose(default_reg(x + 5, y + 5, order=1), default_reg(x, y, order=1), rtol=1e-9)


def test_bad_samples_raise_naming_the_argument():
    with pytest.raises(ValueError, match="dimension"):
        sinkhorn_samples(np.zeros((3, 2)), np.zeros((3, 3)))
    with pytest.raises(ValueError, match="x"):
        sinkhorn_samples([[np.nan, 0.0]], [[0.0, 0.0]])
    with pytest.raises(ValueError, match="backend"):
        sinkhorn_samples([[0.0]], [[1.0]], backend="gpu")
    with pytest.raises(ValueError, match="reg"):
        sinkhorn_divergence([[0.0]], [[1.0]], reg=-2.0)


def test_auto_backend_is_dense_while_three_arrays_fit_the_memory_budget_then_tiled_on_cpu():
    cpu = torch.device("cpu")
    available = 1 << 30
    n = int((MEMORY_FRACTION * available / (3 * 8)) ** 0.5)  # float64: three n x n arrays
    assert choose_backend("auto", n, n, cpu, available=available) == "dense"
    assert choose_backend("auto", n + 1, n + 1, cpu, available=available) == "tiled"
    assert choose_backend("dense", 10**6, 10**6, cpu) == "dense"  # an explicit choice is kept


def test_tiled_operator_keeps_what_fits_the_memory_budget():
    x = torch.zeros((100, 2), dtype=torch.float64)
    one_array = 100 * 100 * 8 / MEMORY_FRACTION  # one 100 x 100 float64 array, over the share
    kept = {arrays: make_operator(x, x, 1, "tiled", available=int(arrays * one_array))
            for arrays in (3, 2, 1)}
    assert kept[3].kernels is not None and kept[3]._kept_costs is not None
    assert kept[2].kernels is not None and kept[2]._kept_costs is None
    assert kept[1].kernels is None and kept[1]._kept_costs is None


@pytest.mark.gpu
@pytest.mark.parametrize("backend", ["dense", "tiled", "triton"])
def test_cpu_and_cuda_agree(backend):
    x, y, a, b = random_problem(n=300, m=200, d=3)
    cpu = sinkhorn_samples(x, y, a, b, reg=0.05, order=2, tol=1e-6)
    res = sinkhorn_samples(torch.tensor(x, device="cuda"), torch.tensor(y, device="cuda"),
                           torch.tensor(a, device="cuda"), torch.tensor(b, device="cuda"),
                           reg=0.05, order=2, tol=1e-6, backend=backend)
    assert res.cost.device.type == "cuda"
    assert_allclose(res.cost.item(), cpu.cost, rtol=1e-6)
    res32 = sinkhorn_samples(torch.tensor(x, device="cuda", dtype=torch.float32),
                             torch.tensor(y, device="cuda", dtype=torch.float32),
                             reg=0.05, order=1, tol=1e-3, backend=backend)
    ref32 = sinkhorn_samples(x, y, reg=0.05, order=1, tol=1e-6)
    assert_allclose(res32.cost.item(), ref32.cost, rtol=1e-3)


def _clouds(n=100, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 2)) * 0.1, rng.normal(size=(n, 2)) * 0.1 + [0.05, 0.0]


@pytest.mark.parametrize("offset", [0.0, 1e7])
def test_sinkhorn_w1_at_a_large_offset_equals_the_value_at_zero(offset):
    x, y = _clouds()
    exact = wasserstein(x, y)
    for reg in (0.01, None):
        ref = wasserstein(x, y, method="sinkhorn", reg=reg)
        moved = wasserstein(x + offset, y + offset, method="sinkhorn", reg=reg)
        assert_allclose(moved, ref, rtol=1e-6)
        assert exact <= moved <= (1.15 if reg else 1.01) * exact


@pytest.mark.parametrize("offset", [100.0, 1000.0])
def test_float32_sinkhorn_at_an_offset_keeps_its_accuracy(offset):
    x, y = _clouds()
    exact = wasserstein(x, y)
    xt, yt = (torch.tensor(v + offset, dtype=torch.float32) for v in (x, y))
    w = wasserstein(xt, yt, method="sinkhorn", tol=1e-3)
    assert w.dtype == torch.float32
    assert_allclose(w.item(), wasserstein(x, y, method="sinkhorn"), rtol=2e-3)
    assert 0.99 * exact <= w.item() <= 1.02 * exact


def test_default_reg_is_translation_invariant_in_one_dimension_at_1e8():
    rng = np.random.default_rng(1)
    u, v = rng.normal(size=200) * 0.1, rng.normal(size=200) * 0.1 + 0.02
    assert_allclose(default_reg(u + 1e8, v + 1e8), default_reg(u, v), rtol=1e-7)
    exact = wasserstein(u, v)
    assert exact <= wasserstein(u + 1e8, v + 1e8, method="sinkhorn") <= 1.01 * exact


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_half_precision_samples_are_solved_in_float32_and_returned_in_their_dtype(dtype):
    x = torch.tensor([[0.0, 0.0], [1.0, 0.0]], dtype=dtype)
    y = torch.tensor([[3.0, 4.0], [4.0, 4.0]], dtype=dtype)
    res = sinkhorn_samples(x, y, order=1)
    assert res.cost.dtype == dtype and res.f.dtype == dtype
    assert res.cost.item() == pytest.approx(5.0, rel=1e-3)
    for method in ("exact", "sinkhorn"):
        w = wasserstein(x, y, method=method)
        assert w.dtype == dtype and w.item() == pytest.approx(5.0, rel=1e-3)


def test_tiled_with_and_without_cached_kernels_equals_dense():
    from otlab.entropic.problem import PointProblem
    from otlab.entropic.solver import SinkhornOptions, solve
    from otlab.sample import Sample

    x, y, a, b = random_problem(n=50, m=35, d=3)
    problem = PointProblem.build(Sample(x, a), Sample(y, b), 1)
    eps, options = problem.local_reg(0.02), SinkhornOptions(tol=1e-9)
    _, f_dense, g_dense, n_dense, _ = solve(problem, eps, "dense", options)
    one_array = 50 * 35 * 8 / MEMORY_FRACTION  # one 50 x 35 float64 array, over the share
    for arrays in (3, 2, 0):  # room for costs and kernels, for the kernels, for nothing
        op, f, g, n_iter, _ = solve(problem, eps, "tiled", options,
                                    available=int(arrays * one_array))
        assert op.name == "tiled" and (op.kernels is None) == (arrays == 0)
        assert n_iter == n_dense
        assert_allclose(f, f_dense, rtol=1e-10, atol=1e-12)
        assert_allclose(g, g_dense, rtol=1e-10, atol=1e-12)


def test_a_cost_past_the_float_range_warns_that_it_overflows_and_keeps_the_distance():
    # W_2^2 of clouds at scale 1e200 is about 1e400: the plan meets tol in the local frame,
    # but its cost in the data's units is inf, so converged=False with a warning that says so
    # (not "did not converge within max_iter"), and the distance (the root) is still exact
    x, y = _clouds(n=20)
    ref = sinkhorn_samples(x, y, order=2)
    with pytest.warns(ConvergenceWarning, match="overflows") as caught:
        res = sinkhorn_samples(1e200 * x, 1e200 * y, order=2)
    assert not any("max_iter" in str(w.message) for w in caught)
    assert not res.converged and res.cost == np.inf
    assert res.marginal_error <= 1e-4
    assert_allclose(res.marginal_error, ref.marginal_error, rtol=1e-6)
    with pytest.warns(ConvergenceWarning, match="overflows"):
        far = wasserstein(1e200 * x, 1e200 * y, order=2, method="sinkhorn")
    assert_allclose(far / 1e200, wasserstein(x, y, order=2, method="sinkhorn"), rtol=1e-7)


def test_transport_of_samples_is_exact_at_every_representable_cost_scale():
    x, y = _clouds(n=20)
    ref = sinkhorn_samples(x, y, order=2, reg=1e-3, tol=1e-9)
    for c in (1e-150, 1e-80, 1e150):  # costs and reg scale as c^2: from 1e-300 to 1e300
        res = sinkhorn_samples(c * x, c * y, order=2, reg=1e-3 * c**2, tol=1e-9)
        assert res.converged
        assert_allclose(res.cost / c**2, ref.cost, rtol=1e-8)
        assert_allclose(res.f / c**2, ref.f, rtol=1e-6, atol=1e-9 * np.abs(ref.f).max())
