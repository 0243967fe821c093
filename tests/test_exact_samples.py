"""``wasserstein_exact``: exact W_k between samples, with the envelope-theorem gradient for tensors."""

import numpy as np
import pytest

from otlab.exact import ConvergenceWarning, emd_points, wasserstein_exact

torch = pytest.importorskip("torch")


def _uniform(n):
    return np.full(n, 1.0 / n)


def test_numpy_input_gives_the_root_of_the_lp_value_as_a_float():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(60, 2)), rng.normal(size=(50, 2))
    value = wasserstein_exact(x, y, a=_uniform(60), b=_uniform(50), order=2)
    assert isinstance(value, float)
    np.testing.assert_allclose(value**2, emd_points(x, y, order=2).cost, rtol=1e-14)


@pytest.mark.parametrize("solver", ["dense", "sparse"])
def test_gradient_of_a_translation_is_the_shift(solver):
    # y = x + s: the identity plan is optimal, W_2 = |s| and dW_2/dx_i = -s / (n |s|).
    x = torch.tensor(np.random.default_rng(1).normal(size=(40, 2)), requires_grad=True)
    s = torch.tensor([0.3, -0.4], dtype=torch.float64)
    w = torch.full((40,), 1 / 40, dtype=torch.float64)
    value = wasserstein_exact(x, x.detach() + s, a=w, b=w, order=2, solver=solver)
    value.backward()
    np.testing.assert_allclose(float(value.detach()), 0.5, rtol=1e-12)
    np.testing.assert_allclose(x.grad.numpy(), np.tile(-s.numpy() / (40 * 0.5), (40, 1)),
                               rtol=1e-10)


def test_gradient_in_the_weights_is_the_dual_potential_less_its_mean():
    # The weights are normalised to sum 1, so the gradient is the potential projected on the
    # tangent space of the simplex: f - <a, f> (and g - <b, g>) at weights summing to 1.
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(30, 2)), rng.normal(size=(20, 2))
    wx = torch.full((30,), 1 / 30, dtype=torch.float64, requires_grad=True)
    wy = torch.full((20,), 1 / 20, dtype=torch.float64, requires_grad=True)
    value = wasserstein_exact(torch.as_tensor(x), torch.as_tensor(y), a=wx, b=wy, order=1)
    value.backward()
    res = emd_points(x, y)
    np.testing.assert_allclose(wx.grad.numpy(), res.f - res.f.mean(), atol=1e-12)
    np.testing.assert_allclose(wy.grad.numpy(), res.g - res.g.mean(), atol=1e-12)


def test_forward_value_is_the_float64_lp_value_for_float32_tensors():
    rng = np.random.default_rng(3)
    x = torch.tensor(rng.normal(size=(25, 3)), dtype=torch.float32, requires_grad=True)
    y = torch.tensor(rng.normal(size=(25, 3)), dtype=torch.float32)
    w = torch.full((25,), 1 / 25)
    value = wasserstein_exact(x, y, a=w, b=w, order=1)
    assert value.dtype == torch.float32
    expected = emd_points(x.detach().double().numpy(), y.double().numpy()).cost
    np.testing.assert_allclose(float(value.detach()), expected, rtol=1e-6)


def test_an_infeasible_plan_gives_nan_not_its_cost():
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(40, 2)), rng.normal(size=(40, 2))
    with pytest.warns(ConvergenceWarning):
        value = wasserstein_exact(x, y, order=1, max_iter=1, solver="dense")
    assert np.isnan(value)


@pytest.mark.parametrize("order", [1, 2])
def test_a_far_point_of_weight_0_changes_neither_the_value_nor_the_gradient(order):
    # A weight-0 point at 1e300 set the LP's frame, where the data's squared differences
    # underflow: W_1 came out 11 % and W_2 18 % too large.  Now it is left out of the LP:
    # value and gradients as without it (equal, or 5.6e-17 apart, measured; asserted 1e-10),
    # no gradient on its coordinates, and a finite one on its weight (its potential, capped
    # at 2^-32 times the largest float, 4.2e298, before the normalisation: any value below the
    # c-transform is a subgradient there, and the cap leaves room for the normalisation).
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(6, 2)), rng.normal(size=(5, 2)) + 0.3
    w = rng.uniform(0.1, 1.0, 6)
    xf = torch.tensor(np.insert(x, 3, [1e300, -1e300], axis=0), requires_grad=True)
    af = torch.tensor(np.insert(w, 3, 0.0), requires_grad=True)
    x0, a0 = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    value = wasserstein_exact(xf, torch.tensor(y), a=af, order=order)
    expected = wasserstein_exact(x0, torch.tensor(y), a=a0, order=order)
    (value + expected).backward()
    np.testing.assert_allclose(value.item(), expected.item(), rtol=1e-10)
    kept = np.arange(7) != 3
    np.testing.assert_allclose(xf.grad[kept].numpy(), x0.grad.numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(af.grad[kept].numpy(), a0.grad.numpy(), rtol=1e-10, atol=1e-10)
    assert not xf.grad[3].any()
    assert torch.isfinite(af.grad[3]) and af.grad[3] > 1e296  # 9.4e297 measured


@pytest.mark.parametrize("dtype, far, order", [(torch.float64, 1e300, 1.5),
                                               (torch.float64, 1e300, 3),
                                               (torch.float32, 1e30, 2)])
def test_weight_gradient_beside_a_far_weight_0_point_is_that_without_it(dtype, far, order):
    # The gradient in the weights is the potential (times W / (k W^k)); a weight-0 point's
    # is its c-transform, which at 1e300 (order 1.5, float64) or 1e30 (order 2, float32)
    # overflowed the dtype once scaled: inf, times its weight 0 in the normalisation's
    # backward, made every entry of the weights' gradient NaN (measured).  Now capped, the
    # kept entries equal those without the point (bitwise in the three cases, measured;
    # asserted 1e-10 and 1e-5) and the point's is finite and large (1e298, 1.9e28).
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(6, 2)), rng.normal(size=(5, 2)) + 0.5
    w = rng.uniform(0.1, 1.0, 6)
    xf = torch.tensor(np.vstack([x, [far, far]]), dtype=dtype)
    af = torch.tensor(np.append(w, 0.0), dtype=dtype, requires_grad=True)
    a0 = torch.tensor(w, dtype=dtype, requires_grad=True)
    yt = torch.tensor(y, dtype=dtype)
    wasserstein_exact(xf, yt, a=af, order=order).backward()
    wasserstein_exact(torch.tensor(x, dtype=dtype), yt, a=a0, order=order).backward()
    assert torch.isfinite(af.grad).all()
    tol = 1e-10 if dtype == torch.float64 else 1e-5
    np.testing.assert_allclose(af.grad[:6].double().numpy(), a0.grad.double().numpy(),
                               rtol=tol, atol=tol)
    assert af.grad[6] > 1e20
