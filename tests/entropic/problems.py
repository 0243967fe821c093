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
