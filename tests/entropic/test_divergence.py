"""Tests of otlab.entropic.divergence: the debiased Sinkhorn divergence S_ε."""

import numpy as np
import torch
from hypothesis import given
from numpy.testing import assert_allclose

from otlab.costs import cost_matrix
from otlab.entropic import (
    sinkhorn_divergence,
)

from ..strategies import samples
from .problems import random_problem


@given(samples(min_n=1, max_n=8, max_dim=2), samples(min_n=1, max_n=8, max_dim=2))
def test_divergence_is_nonnegative_and_zero_on_equal_samples(x, y):
    if x.shape[1] != y.shape[1]:
        y = y[:, :1] if x.shape[1] == 1 else np.column_stack([y[:, 0], y[:, 0]])
    scale = max(1.0, cost_matrix(x, y, order=2).max(), cost_matrix(x, x, order=2).max())
    options = dict(reg=0.5 * scale, order=2, tol=1e-9, max_iter=100000)
    assert sinkhorn_divergence(x, y, **options) >= -1e-8 * scale
    assert_allclose(sinkhorn_divergence(x, x, **options), 0.0, atol=1e-8 * scale)


def test_divergence_of_distant_diracs_is_the_cost():
    # S_eps between two Diracs is the ground cost, whatever eps.
    assert_allclose(sinkhorn_divergence([[0.0, 0.0]], [[3.0, 4.0]], reg=0.3), 5.0, rtol=1e-12)


def test_divergence_gradient_matches_finite_differences():
    x, y, _, _ = random_problem(n=6, m=5)
    xt = torch.tensor(x, requires_grad=True)
    (gx,) = torch.autograd.grad(sinkhorn_divergence(xt, y, reg=0.5, order=2, tol=1e-12), xt)
    dx, h = np.random.default_rng(3).normal(size=x.shape), 1e-6
    fd = (sinkhorn_divergence(x + h * dx, y, reg=0.5, order=2, tol=1e-12)
          - sinkhorn_divergence(x - h * dx, y, reg=0.5, order=2, tol=1e-12)) / (2 * h)
    assert_allclose((gx.numpy() * dx).sum(), fd, rtol=1e-5)
