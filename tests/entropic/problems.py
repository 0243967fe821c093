"""Small problems shared by the Sinkhorn tests."""

import numpy as np
import ot


def random_problem(n=12, m=9, d=2, seed=0):
    """Two Gaussian point clouds in R^d, the second shifted by 0.5, with random weights."""
    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=(n, d)), rng.normal(size=(m, d)) + 0.5
    a, b = rng.uniform(0.2, 1.0, n), rng.uniform(0.2, 1.0, m)
    return x, y, a / a.sum(), b / b.sum()


def exact_cost(a, b, M):
    """The exact transport cost min <P, M> (POT network simplex).

    Solved on M in units of its largest entry: POT's simplex alone does not resolve
    costs below about 1e-10 (at 1e-55 it returned five times the optimum).
    """
    top = float(np.abs(M).max())
    return float(ot.emd2(a, b, M / top)) * top if top > 0 else 0.0


#: (dtype, size of the costs with mass, cost of the far row) of the far-row tests.
FAR_ROW_CASES = [
    (np.float64, 1e-10, 1e300), (np.float64, 1e-50, 1e300), (np.float64, 1.0, 1.7e308),
    (np.float32, 1.0, 3e38), (np.float32, 1e-3, 1e35),
]


def far_row_problem(dtype, rest, far, side):
    """6 x 5 squared-distance costs of size ``rest`` with uniform weights, ``(a, b, M)``, and
    the same with a row (``side="row"``) or column of weight 0 costing ``far`` appended."""
    from otlab.costs import cost_matrix

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(6, 2)), rng.normal(size=(5, 2))
    M = (cost_matrix(x, y, order=2) * rest).astype(dtype)
    a, b = np.full(6, 1 / 6, dtype=dtype), np.full(5, 1 / 5, dtype=dtype)
    if side == "row":
        wide = (np.append(a, 0.0).astype(dtype), b,
                np.vstack([M, np.full((1, 5), far, dtype=dtype)]))
    else:
        wide = (a, np.append(b, 0.0).astype(dtype),
                np.hstack([M, np.full((6, 1), far, dtype=dtype)]))
    return (a, b, M), wide


def split_far(u, v, side):
    """Row and column vectors ``u``, ``v`` of a far-row problem's result: the kept parts and
    the far entry, ``(u_kept, v_kept, far)``."""
    return (u[:6], v, u[6]) if side == "row" else (u, v[:5], v[5])


def split_far_plan(plan, side):
    """The plan of a far-row problem: the kept block and the far row or column."""
    return (plan[:6], plan[6]) if side == "row" else (plan[:, :5], plan[:, 5])


def far_row_gradients(solve):
    """Gradients of ``solve(a, b, M).cost`` with and without a far row of weight 0.

    The problem: 6 x 5 squared-distance costs of size 1e-10, uniform weights, and a
    row of weight 0 costing 1e300 appended.  Asserts that both solves converge to the
    same cost and that the gradients in the kept weights and costs agree (1e-10 relative
    to their largest entry); returns the far row's ``(weight gradient, cost gradients)``.
    """
    import torch
    from numpy.testing import assert_allclose

    from otlab.costs import cost_matrix

    rng = np.random.default_rng(0)
    M = cost_matrix(rng.normal(size=(6, 2)), rng.normal(size=(5, 2)), order=2) * 1e-10
    b = torch.full((5,), 0.2, dtype=torch.float64)
    a = torch.tensor(np.append(np.full(6, 1 / 6), 0.0), requires_grad=True)
    M1 = torch.tensor(np.vstack([M, np.full((1, 5), 1e300)]), requires_grad=True)
    got = solve(a, b, M1)
    got.cost.backward()
    a0 = torch.tensor(np.full(6, 1 / 6), requires_grad=True)
    M0 = torch.tensor(M, requires_grad=True)
    expected = solve(a0, b, M0)
    expected.cost.backward()
    assert got.converged
    assert_allclose(float(got.cost.detach()), float(expected.cost.detach()), rtol=1e-10)
    assert_allclose(a.grad[:6].numpy(), a0.grad.numpy(), rtol=1e-10,
                    atol=1e-10 * float(a0.grad.abs().max()))
    assert_allclose(M1.grad[:6].numpy(), M0.grad.numpy(), rtol=1e-10,
                    atol=1e-10 * float(M0.grad.abs().max()))
    return float(a.grad[6]), M1.grad[6]
