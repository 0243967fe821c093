"""Shared check: a critic's first-order input gradients against double backpropagation."""

import numpy as np
import torch

from otlab.critics.lipschitz import input_gradients


def assert_first_order_path_matches_autograd(net, z, n, *, out_atol):
    """Outputs, input gradients of rows ``n:`` and the penalty's weight gradients agree.

    ``input_gradients`` (the first-order path) against ``torch.autograd.grad`` with
    ``create_graph=True``; the callers state the round-off they measured.
    """
    out, grad = input_gradients(net, z.clone(), start=n)
    zz = z.clone().requires_grad_(True)
    (expected,) = torch.autograd.grad(net(zz).sum(), zz, create_graph=True)
    np.testing.assert_allclose(out.detach().numpy(), net(z).squeeze(-1).detach().numpy(),
                               rtol=1e-11, atol=out_atol)
    np.testing.assert_allclose(grad.detach().numpy(), expected[n:].detach().numpy(),
                               rtol=1e-10, atol=1e-10)
    params = list(net.parameters())
    first = torch.autograd.grad(grad.norm(dim=1).sum(), params, allow_unused=True)
    second = torch.autograd.grad(expected[n:].norm(dim=1).sum(), params, allow_unused=True)
    for a, b in zip(first, second):
        if a is None or b is None:
            assert a is None or not a.any()
            assert b is None or not b.any()
        else:
            np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-9, atol=1e-11)
