"""``otlab.wasserstein`` on torch tensors: values, devices, and envelope-theorem gradients."""

import numpy as np
import pytest
import torch

import otlab


def _rand(shape, seed, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g, dtype=dtype)


@pytest.mark.parametrize("order", [1, 2])
@pytest.mark.parametrize("dim", [1, 3])
def test_tensor_value_matches_numpy_value(order, dim):
    x, y = _rand((20, dim), 0), _rand((15, dim), 1) + 0.5
    value = otlab.wasserstein(x, y, order=order)
    assert isinstance(value, torch.Tensor) and value.ndim == 0
    np.testing.assert_allclose(value.item(), otlab.wasserstein(x.numpy(), y.numpy(), order=order),
                               rtol=1e-12)


def _finite_difference(fn, t, eps=1e-6):
    grad = torch.zeros_like(t)
    flat = grad.view(-1)
    for k in range(t.numel()):
        step = torch.zeros_like(t).view(-1)
        step[k] = eps
        step = step.view_as(t)
        flat[k] = (fn(t + step) - fn(t - step)) / (2 * eps)
    return grad


@pytest.mark.parametrize("order", [1, 2])
@pytest.mark.parametrize("dim", [1, 2])
def test_gradient_in_the_points_matches_finite_differences(order, dim):
    x, y = _rand((6, dim), 2), _rand((5, dim), 3)
    x.requires_grad_(True)
    otlab.wasserstein(x, y, order=order).backward()

    def value(t):
        return float(otlab.wasserstein(t.detach().numpy(), y.numpy(), order=order))

    np.testing.assert_allclose(x.grad.numpy(), _finite_difference(value, x.detach()).numpy(),
                               rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("dim", [1, 2])
def test_gradient_in_the_weights_matches_finite_differences(dim):
    x, y = _rand((5, dim), 4), _rand((4, dim), 5) * 2
    wx = torch.tensor([0.1, 0.3, 0.2, 0.25, 0.15], dtype=torch.float64, requires_grad=True)
    wy = torch.full((4,), 0.25, dtype=torch.float64)
    otlab.wasserstein(x, y, a=wx, b=wy, order=2).backward()

    def value(w):
        return float(otlab.wasserstein(x.numpy(), y.numpy(), a=w.detach().numpy(), b=wy.numpy(),
                                       order=2))

    np.testing.assert_allclose(wx.grad.numpy(), _finite_difference(value, wx.detach()).numpy(),
                               rtol=1e-4, atol=1e-6)


def test_gradient_is_finite_when_points_coincide():
    x = torch.tensor([[0.0, 0.0], [1.0, 1.0]], dtype=torch.float64, requires_grad=True)
    y = torch.tensor([[0.0, 0.0], [1.0, 2.0]], dtype=torch.float64)
    otlab.wasserstein(x, y).backward()
    assert torch.isfinite(x.grad).all()
    np.testing.assert_allclose(x.grad.numpy(), [[0.0, 0.0], [0.0, -0.5]], atol=1e-12)


def test_float32_tensors_give_a_float32_result():
    x, y = _rand((10, 2), 6, torch.float32), _rand((10, 2), 7, torch.float32)
    value = otlab.wasserstein(x, y)
    assert value.dtype == torch.float32
    np.testing.assert_allclose(value.item(), otlab.wasserstein(x.double(), y.double()).item(),
                               rtol=1e-5)


def test_tensor_weights_with_numpy_points_use_the_tensor_backend():
    value = otlab.wasserstein(np.array([0.0, 1.0]), np.array([0.0]), a=torch.tensor([0.5, 0.5]))
    assert isinstance(value, torch.Tensor)
    np.testing.assert_allclose(value.item(), 0.5, rtol=1e-6)


@pytest.mark.gpu
@pytest.mark.parametrize("dim", [1, 2])
def test_cuda_tensors_give_the_cpu_value_on_the_cuda_device(dim):
    x, y = _rand((50, dim), 8), _rand((40, dim), 9)
    xc = x.cuda().requires_grad_(True)
    value = otlab.wasserstein(xc, y.cuda(), order=2)
    assert value.device.type == "cuda"
    value.backward()
    assert xc.grad.device.type == "cuda"
    np.testing.assert_allclose(value.item(), otlab.wasserstein(x, y, order=2).item(), rtol=1e-10)


@pytest.mark.parametrize("order", [1, 2, 3])
@pytest.mark.parametrize("dim", [1, 2])
def test_gradient_of_w_between_a_sample_and_itself_is_zero(order, dim):
    # W_k = (W_k^k)^(1/k) is at its minimum, 0, where W_k^k has gradient 0; the k-th root's
    # infinite slope there gave NaN gradients in 1-D for k >= 2 (the 2-D path gave 0)
    x = _rand((6, dim), 8, torch.float64).requires_grad_(True)
    value = otlab.wasserstein(x, x.detach().clone(), order=order)
    value.backward()
    assert value.item() == 0.0
    assert torch.equal(x.grad, torch.zeros_like(x))
