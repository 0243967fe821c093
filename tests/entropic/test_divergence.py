"""Tests of otlab.entropic.divergence: the debiased Sinkhorn divergence S_ε."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from otlab import wasserstein

from otlab.costs import cost_matrix
from otlab.entropic import (
    default_reg,
    sinkhorn_divergence,
    sinkhorn_samples,
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


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 2**32 - 1), st.floats(1.0, 300.0), st.sampled_from([1, 2]),
       st.sampled_from(["numpy", "torch"]))
def test_a_point_of_weight_zero_changes_no_sinkhorn_divergence_however_far(seed, exponent, order,
                                                                            kind):
    # A point of weight 0 carries no mass: S_eps and Sinkhorn W_k are those of the samples
    # without it.  It set the frame and the cost scale: 'reg below what float64 resolves' at
    # 1e100 and 1e200 beside 30 and 30 points of size 1, S_eps = 0.0 at 1e300 (numpy).  The
    # value is the same problem's, so equal bit for bit (measured); asserted to 1e-12.
    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=(12, 2)), rng.normal(size=(10, 2)) + 0.5
    xf = np.vstack([x[:5], [[10.0 ** exponent, -(10.0 ** exponent) / 3]], x[5:]])
    a = np.insert(np.full(12, 1 / 12), 5, 0.0)
    base = sinkhorn_divergence(x, y, order=order)
    base_w = wasserstein(x, y, order=order, method="sinkhorn")
    if kind == "torch":  # the points' gradient survives; the weight-0 point's is 0
        xt = torch.tensor(xf, requires_grad=True)
        value = sinkhorn_divergence(xt, torch.tensor(y), a=torch.tensor(a), order=order)
        value.backward()
        assert float(xt.grad[5].abs().max()) == 0.0
        assert torch.isfinite(xt.grad).all()
        value = float(value.detach())
    else:
        value = sinkhorn_divergence(xf, y, a=a, order=order)
    assert_allclose(value, base, rtol=1e-12)
    assert_allclose(wasserstein(xf, y, a=a, order=order, method="sinkhorn"), base_w, rtol=1e-12)


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 2**32 - 1), st.floats(3.0, 6.0), st.sampled_from([1, 2]))
def test_a_point_of_weight_zero_kept_for_the_gradient_leaves_the_stopping_rule_alone(
        seed, exponent, order):
    # Kept for the weights' gradient (within the reach that check_massless_reach allows), its
    # potential, of the size of its cost, raised the round-off floor and with it the default
    # tol: at 1e6 beside 12 and 10 points (order 2) converged=True at marginal error 0.033
    # (tol 1e-4), the cost 4.7 % low.  It enters no marginal, so the floor leaves it out.
    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=(12, 2)), rng.normal(size=(10, 2)) + 0.5
    far = 10.0 ** exponent
    xf = torch.tensor(np.vstack([x[:5], [[far, -far / 3]], x[5:]]))
    a = torch.tensor(np.insert(np.full(12, 1 / 12), 5, 0.0), requires_grad=True)
    yt = torch.tensor(y)
    res = sinkhorn_samples(xf, yt, a=a, order=order)
    assert res.converged and res.marginal_error <= 1e-4
    # measured over 60 draws: S_eps within 2.4e-7, Sinkhorn W_k 6.2e-5 (the solves stop at
    # different iterates within tol) of the values without the point; asserted 100x
    value = float(sinkhorn_divergence(xf, yt, a=a, order=order).detach())
    assert_allclose(value, sinkhorn_divergence(x, y, order=order), rtol=3e-5)
    value = float(wasserstein(xf, yt, a=a, order=order, method="sinkhorn").detach())
    assert_allclose(value, wasserstein(x, y, order=order, method="sinkhorn"), rtol=6e-3)


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from([1e3, 1e5, 1e7]), st.integers(9, 20),
       st.sampled_from([1, 2]))
def test_a_point_of_weight_zero_changes_no_sinkhorn_divergence_at_large_reg(seed, far,
                                                                            reg_exponent, order):
    # Kept for its weight's gradient, a point of weight 0 entered the cost scale that decides
    # when the large-eps expansion takes over, so the three solves ran at eps far above the
    # data's costs and lost their digits: beside 20 and 15 points of size 1, one at (1e8, 1e8)
    # gave S_eps = 0.0 for 1.0058 at reg=1e16 (order 2) and 0.2879 for 0.2895 at reg=1e13
    # (order 1), one at 1e3 moved it by 5e-6 at reg=1e11.  Now the scale is that of the
    # costs between the points with mass, so from reg=1e9 on (past the data's costs times
    # 1.6e5) both take the expansion: the same value to the round-off of the wider frame
    # (at most 1.1e-16 times far, 720 cases, measured), asserted 2e-14 times far.
    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=(12, 2)), rng.normal(size=(10, 2)) + 0.5
    reg = 10.0**reg_exponent
    xf = torch.tensor(np.vstack([x[:5], [[far, -far / 3]], x[5:]]))
    a = torch.tensor(np.insert(np.full(12, 1 / 12), 5, 0.0), requires_grad=True)
    value = sinkhorn_divergence(xf, torch.tensor(y), a=a, order=order, reg=reg)
    value.backward()
    assert torch.isfinite(a.grad).all()
    assert_allclose(float(value.detach()), sinkhorn_divergence(x, y, order=order, reg=reg),
                    rtol=2e-14 * far)


@pytest.mark.parametrize("order", [1, 2])
@pytest.mark.parametrize("far", [1e3, 1e6])
def test_a_reg_too_large_for_the_points_with_mass_is_refused_beside_a_point_of_weight_zero(
        far, order):
    # The upper end of reg was checked against a cost scale that grows with the distance of a
    # point of weight 0 (kept by sinkhorn_samples for a plan of every point): reg=1e16 was
    # refused for 20 and 15 points of size 1 and accepted beside one at 1e3 or 1e6, whose
    # potentials then had no correct digit.  Now the same refusal, the same numbers.
    from otlab.entropic import sinkhorn_samples

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(20, 2)), rng.normal(size=(15, 2)) + 0.3
    reg = 1e16
    with pytest.raises(ValueError, match="too large") as without:
        sinkhorn_samples(x, y, order=order, reg=reg)
    with pytest.raises(ValueError, match="too large") as beside:
        sinkhorn_samples(np.vstack([x, [[far, 0.0]]]), y, a=np.append(np.ones(20), 0.0),
                         order=order, reg=reg)
    assert str(beside.value) == str(without.value)


def test_a_far_point_of_weight_zero_with_weights_requiring_grad_names_the_cause():
    # kept for the gradient of the weights (its entry is the point's potential): the error
    # blamed reg ('below what float64 resolves') at 1e100, and 1e300 gave S_eps = 0.0 silently
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(30, 2)), rng.normal(size=(30, 2)) + 0.5
    a = torch.tensor(np.append(np.full(30, 1 / 30), 0.0), requires_grad=True)
    for far in (1e100, 1e300):
        xf = torch.tensor(np.vstack([x, [[far, 0.0]]]))
        with pytest.raises(ValueError, match="points of weight 0 lie .* farther out"):
            sinkhorn_divergence(xf, torch.tensor(y), a=a)


def _softmin(C, h, w, eps):
    """:math:`-\\varepsilon \\log \\sum_j w_j e^{(h_j - C_{ij})/\\varepsilon}` per row (numpy)."""
    from scipy.special import logsumexp

    return -eps * logsumexp((h[None, :] - C) / eps, b=w[None, :], axis=1)


def _first_variations(x, y, z, eps, iters=3000):
    r"""The derivatives in the weight of a point ``z`` of weight 0 beside ``x`` (uniform, order 2).

    From the potentials of the problem without it (plain numpy Sinkhorn; the symmetric one
    by the averaged fixed point): :math:`f(z) - \langle a, f\rangle` for
    :math:`\mathrm{OT}_\varepsilon(\alpha, \beta)` and for :math:`\mathrm{OT}_\varepsilon(\alpha, \alpha)/2`,
    :math:`f(z)` the soft-min of the other side's potential (weights normalised).
    """
    p, q = np.full(len(x), 1 / len(x)), np.full(len(y), 1 / len(y))
    Cxy, Cxx = cost_matrix(x, y, order=2), cost_matrix(x, x, order=2)
    f, g, s = np.zeros(len(x)), np.zeros(len(y)), np.zeros(len(x))
    for _ in range(iters):
        f = _softmin(Cxy, g, q, eps)
        g = _softmin(Cxy.T, f, p, eps)
        s = 0.5 * (s + _softmin(Cxx, s, p, eps))
    cross = _softmin(cost_matrix(z[None], y, order=2), g, q, eps)[0] - p @ f
    own = _softmin(cost_matrix(z[None], x, order=2), s, p, eps)[0] - p @ s
    return cross, own


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 2**32 - 1), st.floats(6.5, 26 * np.log10(2)))
def test_a_point_of_weight_zero_kept_for_the_gradient_from_3e6_to_2_26_away_is_left_out(
        seed, exponent):
    # From about 3e6 to 2^26 beside data of size 1 (order 2), 'reg is below what float64
    # resolves' blamed the default reg: it was checked against the far point's own costs
    # (1e13..4e15), whose round-off enters no entry of the plan.  The value is that without
    # the point, the derivative in its weight the first variation (its potential).
    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=(12, 2)), rng.normal(size=(10, 2)) + 0.5
    z = np.array([10.0 ** exponent, -(10.0 ** exponent) / 3])
    xf, yt = torch.tensor(np.vstack([x, z])), torch.tensor(y)
    eps = default_reg(x, y, order=2)
    cross, own = _first_variations(x, y, z, eps)

    def run(fn):
        a = torch.tensor(np.append(np.full(12, 1 / 12), 0.0), requires_grad=True)
        value = fn(a)
        value.backward()
        return float(value.detach()), float(a.grad[-1])

    # measured over 60 draws: the derivatives within 4.7e-15 of the oracle's over the size of
    # the far point's potential (|z|^2: 1e13..5e15), asserted 1e-10; the values within 1.4e-4
    # (the cost), 2e-7 (S_eps) and 7.1e-5 (W_2) of those without it (the solves stop at
    # different iterates within tol), asserted 1.5e-2, 3e-5 and 6e-3 as in the test above
    value, grad = run(lambda a: sinkhorn_samples(xf, yt, a=a, order=2).cost)
    assert_allclose(value, sinkhorn_samples(x, y, order=2).cost, rtol=1.5e-2)
    assert_allclose(grad, cross, rtol=1e-10)
    value, grad = run(lambda a: sinkhorn_divergence(xf, yt, a=a, order=2))
    assert_allclose(value, sinkhorn_divergence(x, y, order=2), rtol=3e-5)
    assert abs(grad - (cross - own)) <= 1e-12 * abs(cross)
    w = wasserstein(x, y, order=2, method="sinkhorn")
    value, grad = run(lambda a: wasserstein(xf, yt, a=a, order=2, method="sinkhorn"))
    assert_allclose(value, w, rtol=6e-3)
    assert_allclose(grad, cross / (2 * value), rtol=1e-10)
