"""``exact_power``: exact W_k^k between samples, with the envelope-theorem gradient for tensors."""

import numpy as np
import pytest

from otlab.exact import ConvergenceWarning, emd_points, exact_power

torch = pytest.importorskip("torch")


def _uniform(n):
    return np.full(n, 1.0 / n)


def test_numpy_input_gives_the_lp_value_as_a_float():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(60, 2)), rng.normal(size=(50, 2))
    value = exact_power(x, _uniform(60), y, _uniform(50), order=2)
    assert isinstance(value, float)
    np.testing.assert_allclose(value, emd_points(x, y, order=2).cost, rtol=1e-15)


@pytest.mark.parametrize("solver", ["dense", "sparse"])
def test_gradient_of_a_translation_is_the_shift(solver):
    # y = x + s: the identity plan is optimal, W_2^2 = |s|^2 and dW/dx_i = -2 s / n.
    x = torch.tensor(np.random.default_rng(1).normal(size=(40, 2)), requires_grad=True)
    s = torch.tensor([0.3, -0.4], dtype=torch.float64)
    w = torch.full((40,), 1 / 40, dtype=torch.float64)
    value = exact_power(x, w, x.detach() + s, w, order=2, solver=solver)
    value.backward()
    np.testing.assert_allclose(float(value.detach()), 0.25, rtol=1e-12)
    np.testing.assert_allclose(x.grad.numpy(), np.tile(-2 * s.numpy() / 40, (40, 1)), rtol=1e-10)


def test_gradient_in_the_weights_is_the_dual_potential():
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(30, 2)), rng.normal(size=(20, 2))
    wx = torch.full((30,), 1 / 30, dtype=torch.float64, requires_grad=True)
    wy = torch.full((20,), 1 / 20, dtype=torch.float64, requires_grad=True)
    value = exact_power(torch.as_tensor(x), wx, torch.as_tensor(y), wy, order=1)
    value.backward()
    res = emd_points(x, y)
    np.testing.assert_allclose(wx.grad.numpy(), res.f, atol=1e-12)
    np.testing.assert_allclose(wy.grad.numpy(), res.g, atol=1e-12)


def test_forward_value_is_the_float64_lp_value_for_float32_tensors():
    rng = np.random.default_rng(3)
    x = torch.tensor(rng.normal(size=(25, 3)), dtype=torch.float32, requires_grad=True)
    y = torch.tensor(rng.normal(size=(25, 3)), dtype=torch.float32)
    w = torch.full((25,), 1 / 25)
    value = exact_power(x, w, y, w, order=1)
    assert value.dtype == torch.float32
    expected = emd_points(x.detach().double().numpy(), y.double().numpy()).cost
    np.testing.assert_allclose(float(value.detach()), expected, rtol=1e-6)


def test_an_infeasible_plan_gives_nan_not_its_cost():
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(40, 2)), rng.normal(size=(40, 2))
    with pytest.warns(ConvergenceWarning):
        value = exact_power(x, _uniform(40), y, _uniform(40), order=1, max_iter=1, solver="dense")
    assert np.isnan(value)
