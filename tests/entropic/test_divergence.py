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


def test_divergence_of_a_sample_with_itself_is_zero_at_the_mmd_limit_too():
    x = np.random.default_rng(4).normal(size=(60, 2))
    for reg in (1e-2, 3e4, 1e30):
        assert sinkhorn_divergence(x, x, reg=reg) == 0.0


def test_divergence_at_large_reg_tends_to_half_the_energy_distance():
    x = np.random.default_rng(4).normal(size=(60, 2))
    y = x + 0.5
    C, Cxx = cost_matrix(x, y), cost_matrix(x, x)
    mmd = C.mean() - Cxx.mean()  # <ab, C> - (<aa, C_xx> + <bb, C_yy>) / 2, C_yy = C_xx
    values = [sinkhorn_divergence(x, y, reg=reg) for reg in (1e4, 1e5, 1e8, 1e30)]
    assert all(v > 0 for v in values)
    assert_allclose(values, mmd, rtol=1e-4)
    assert_allclose(values[-1], mmd, rtol=1e-12)  # the expansion's 1/eps term vanishes


def test_large_reg_expansion_agrees_with_sinkhorn_where_both_are_accurate():
    from otlab.entropic.divergence import _large_eps_divergence, _swapped, _dual_value
    from otlab.entropic.problem import PointProblem
    from otlab.entropic.solver import SinkhornOptions
    from otlab.sample import Sample

    x, y, _, _ = random_problem(n=30, m=25)
    problem = PointProblem.build(Sample(x), Sample(y), 1)
    eps = 1e4 * cost_matrix(problem.xl.numpy(), problem.yl.numpy()).max()
    options = SinkhornOptions(tol=1e-12)
    sinkhorn_value = _dual_value(problem, eps, "dense", options, None)[0] - 0.5 * (
        _dual_value(problem, eps, "dense", options, None, symmetric=True)[0]
        + _dual_value(_swapped(problem), eps, "dense", options, None, symmetric=True)[0])
    expansion = _large_eps_divergence(problem, eps)
    assert_allclose(float(expansion), float(sinkhorn_value), rtol=1e-7)


def test_divergence_at_the_default_tol_resolves_a_tiny_perturbation():
    rng = np.random.default_rng(10)
    x = rng.normal(size=(200, 2))
    y = x + 1e-3 * rng.normal(size=x.shape)
    tight = sinkhorn_divergence(x, y, tol=1e-7, max_iter=20000)
    assert tight > 0
    assert_allclose(sinkhorn_divergence(x, y), tight, rtol=1e-2)


def test_divergence_of_a_permuted_copy_is_zero_within_its_tolerance():
    x = np.random.default_rng(5).normal(size=(80, 2))
    value = sinkhorn_divergence(x, x[::-1])
    assert 0.0 <= value <= 1e-8
