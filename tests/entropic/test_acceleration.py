"""Tests of the acceleration at the target ε (otlab.entropic._anderson and its safeguard in the solver)."""

import warnings

import numpy as np
import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from otlab.costs import cost_matrix
from otlab.entropic import (
    Anderson,
    _anderson,
    sinkhorn,
)
from otlab.exact import ConvergenceWarning

from ..strategies import sample_pairs
from .problems import random_problem


def _translated_sample(n=500, shift=0.3, seed=0):
    """A Gaussian sample and its translate: for W_1 the optimal plan is far from unique."""
    x = np.random.default_rng(seed).normal(size=(n, 2))
    return x, x + np.array([shift, 0.0])


# Measured: 735 and 1531 iterations (ε-scaling included); plain Sinkhorn is still at a
# marginal error of ~1e-5 after 20000 (benchmarks/reports/sinkhorn_convergence.md).
@pytest.mark.parametrize("reg, budget", [(1e-2, 1500), (3e-3, 3000)])
def test_w1_between_a_sample_and_its_translate_converges_within_budget(reg, budget):
    x, y = _translated_sample()
    M, a = cost_matrix(x, y, order=1), np.full(500, 1 / 500)
    res = sinkhorn(a, a, M, reg, max_iter=budget)
    assert res.converged and res.n_iter <= budget and res.marginal_error <= 1e-6
    assert 0.3 <= res.cost <= 0.3 + 2 * reg  # exact W_1 is the shift; the entropic bias is O(reg)
    if reg == 1e-2:  # the same budget is far from enough without acceleration
        with pytest.warns(ConvergenceWarning):
            plain = sinkhorn(a, a, M, reg, max_iter=budget, acceleration=None)
        assert plain.marginal_error > 10 * res.marginal_error


def _gauge_free_agreement(res, ref, atol, potential_atol=None, plan_atol=None):
    """Potentials agree up to the gauge (f + c, g - c); plans and costs agree."""
    potential_atol = atol if potential_atol is None else potential_atol
    plan_atol = atol if plan_atol is None else plan_atol
    shift = np.mean(res.f - ref.f)
    assert_allclose(res.f - shift, ref.f, rtol=0, atol=potential_atol)
    assert_allclose(res.g + shift, ref.g, rtol=0, atol=potential_atol)
    assert_allclose(res.plan, ref.plan, rtol=0, atol=plan_atol)
    assert_allclose(res.cost, ref.cost, rtol=1e-8, atol=atol)


@settings(max_examples=30)
@given(sample_pairs(min_n=2, max_n=9), st.floats(0.1, 1.0), st.sampled_from([1, 2]))
def test_acceleration_does_not_change_the_fixed_point(pair, relative_reg, order):
    x, y = pair
    M = cost_matrix(x, y, order=order)
    scale = M.max() if M.max() > 0 else 1.0
    a, b = np.full(len(x), 1 / len(x)), np.full(len(y), 1 / len(y))
    options = dict(reg=relative_reg * scale, tol=1e-10)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        plain = sinkhorn(a, b, M, acceleration=None, max_iter=3000, **options)
    assume(plain.converged)  # plain Sinkhorn is the reference only where it converges
    for acceleration in ("anderson", "overrelaxation"):
        res = sinkhorn(a, b, M, acceleration=acceleration, max_iter=3000, **options)
        assert res.converged
        # potentials and costs are in the units of M, the plan in units of mass (total 1)
        _gauge_free_agreement(res, plain, atol=1e-7 * scale, plan_atol=1e-7)


@given(sample_pairs(min_n=2, max_n=12), st.floats(0.01, 0.5))
def test_reported_marginal_error_is_the_plans_and_converged_means_within_tol(pair, relative_reg):
    x, y = pair
    rng = np.random.default_rng(len(x) + 7 * len(y))
    a, b = rng.uniform(0.1, 1.0, len(x)), rng.uniform(0.1, 1.0, len(y))
    a, b = a / a.sum(), b / b.sum()
    M = cost_matrix(x, y, order=1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        res = sinkhorn(a, b, M, reg=relative_reg * (M.max() if M.max() > 0 else 1.0), tol=1e-8,
                       max_iter=3000)
    err = np.abs(res.plan.sum(1) - a).sum() + np.abs(res.plan.sum(0) - b).sum()
    assert_allclose(res.marginal_error, err, rtol=1e-6, atol=1e-13)
    assert res.converged == (res.marginal_error <= 1e-8)
    assert res.converged == (not caught)  # a warning exactly when not converged


def test_anderson_reaches_the_plain_fixed_point_on_the_translate_much_sooner():
    x, y = _translated_sample(n=100)
    M, a = cost_matrix(x, y, order=1), np.full(100, 1 / 100)
    accelerated = sinkhorn(a, a, M, 0.1, tol=1e-9, max_iter=1000)
    plain = sinkhorn(a, a, M, 0.1, tol=1e-9, max_iter=20000, acceleration=None)
    assert accelerated.converged and plain.converged
    assert accelerated.n_iter < plain.n_iter / 10  # measured: 162 and 5932
    # The potentials are ill-conditioned here (nearly non-unique plan): a marginal error
    # of 1e-9 leaves them up to ~3e-6 apart, while the plans agree to the tolerance.
    _gauge_free_agreement(accelerated, plain, atol=1e-9, potential_atol=1e-5)


class _WildMixer(_anderson.AndersonMixer):
    """A mixer whose proposals are thrown far off (what a diverging acceleration would do)."""

    proposals = 0

    def propose(self, f, f_map):
        _WildMixer.proposals += 1
        return f_map + 50.0 * torch.randn(f.shape, dtype=f.dtype, generator=self.rng)


class _WildAcceleration(Anderson):
    """The safeguarded acceleration protocol with the wild mixer plugged in."""

    def start(self, a, eps):
        return _WildMixer(a, eps)


def test_safeguard_refuses_proposals_that_lower_the_dual():
    x, y, a, b = random_problem(n=30, m=20)
    M = cost_matrix(x, y, order=1)
    ref = sinkhorn(a, b, M, reg=0.05, tol=1e-10, acceleration=None)
    _WildMixer.rng = torch.Generator().manual_seed(0)
    res = sinkhorn(a, b, M, reg=0.05, tol=1e-10, max_iter=10000, acceleration=_WildAcceleration())
    # Every wild proposal is refused and replaced by the plain update: the same path as
    # plain Sinkhorn, each refusal costing one extra column update.
    assert _WildMixer.proposals > 0
    assert res.n_iter == ref.n_iter + _WildMixer.proposals
    assert_allclose(res.f, ref.f, rtol=0, atol=1e-12)
    assert res.converged and res.marginal_error <= 1e-10


def test_safeguard_is_used_on_a_degenerate_problem(monkeypatch):
    resets = []
    original = _anderson.AndersonMixer.reset
    monkeypatch.setattr(_anderson.AndersonMixer, "reset", lambda self: (resets.append(1), original(self)))
    x, y = _translated_sample(n=200)
    a = np.full(200, 1 / 200)
    res = sinkhorn(a, a, cost_matrix(x, y, order=1), 3e-3, max_iter=5000)
    assert res.converged and len(resets) > 0
