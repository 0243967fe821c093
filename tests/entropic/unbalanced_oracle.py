r"""An exact oracle for small unbalanced problems: the unregularised KL-penalised OT, certified.

.. math::

    \mathrm{UOT}_{0,\rho}(a, b) = \min_{P \ge 0} \langle P, C\rangle
    + \rho_a \mathrm{KL}(P\mathbf 1 \,\|\, a) + \rho_b \mathrm{KL}(P^\top\mathbf 1 \,\|\, b)
    = \max_{f_i + g_j \le C_{ij}} \langle a, \varphi_{\rho_a}(f)\rangle + \langle b, \varphi_{\rho_b}(g)\rangle

(a convex program, not an LP).  The dual is solved by SLSQP (n + m variables,
nm linear constraints), refined by Newton's method on the KKT system of the
support it finds; the primal plan is the exact balanced plan (:func:`otlab.emd`)
between the optimal marginals :math:`a e^{-f/\rho_a}` and :math:`b e^{-g/\rho_b}`.
Every :math:`P \ge 0` is primal-feasible and :math:`(f, f^c)` is dual-feasible,
so ``primal - dual`` is a certified duality gap.
"""

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize, root

from otlab import emd


def _phi(x, rho):
    return x if rho == np.inf else -rho * np.expm1(-x / rho)


def _kl(p, q):
    ratio = np.where(p > 0, p / q, 1.0)
    return float(np.sum(p * np.log(ratio) - p + q))


@dataclass(frozen=True)
class ExactUnbalanced:
    value: float  # the primal value of `plan` (an upper bound)
    dual: float  # the dual value of (f, f^c) (a lower bound)
    plan: np.ndarray
    f: np.ndarray
    g: np.ndarray

    @property
    def gap(self) -> float:
        return self.value - self.dual


def _primal(P, C, a, b, rho_a, rho_b):
    return float(np.sum(P * C) + rho_a * _kl(P.sum(1), a) + rho_b * _kl(P.sum(0), b))


def _certify(f, C, a, b, rho_a, rho_b):
    g = np.min(C - f[:, None], axis=0)  # the c-transform: feasible and best for this f
    dual = float(a @ _phi(f, rho_a) + b @ _phi(g, rho_b))
    mu, nu = a * np.exp(-f / rho_a), b * np.exp(-g / rho_b)
    mass = np.sqrt(mu.sum() * nu.sum())
    P = emd(mu * mass / mu.sum(), nu * mass / nu.sum(), C).plan
    return ExactUnbalanced(_primal(P, C, a, b, rho_a, rho_b), dual, P, f, g)


def _newton(f, g, P, C, a, b, rho_a, rho_b):
    """Newton on the KKT system of the support of ``P``: tight edges, marginals = targets."""
    rows, cols = np.nonzero(P > 0)
    n, m = len(a), len(b)

    def equations(z):
        fz, gz, pz = z[:n], z[n:n + m], z[n + m:]
        tight = fz[rows] + gz[cols] - C[rows, cols]
        row_sums = np.bincount(rows, pz, minlength=n) - a * np.exp(-fz / rho_a)
        col_sums = np.bincount(cols, pz, minlength=m) - b * np.exp(-gz / rho_b)
        return np.concatenate([tight, row_sums, col_sums])

    sol = root(equations, np.concatenate([f, g, P[rows, cols]]), method="hybr", tol=1e-15)
    return sol.x[:n] if sol.success else f


def exact_unbalanced(a, b, C, rho) -> ExactUnbalanced:
    """The certified solution of the unregularised KL-penalised problem (small n, m; finite ρ)."""
    a, b, C = (np.asarray(v, dtype=np.float64) for v in (a, b, C))
    rho_a, rho_b = (rho, rho) if np.isscalar(rho) else rho
    n, m = C.shape
    rows, cols = np.divmod(np.arange(n * m), m)
    A = np.zeros((n * m, n + m))
    A[np.arange(n * m), rows] = 1.0
    A[np.arange(n * m), n + cols] = 1.0

    def negative_dual(z):
        return -(a @ _phi(z[:n], rho_a) + b @ _phi(z[n:], rho_b))

    def gradient(z):
        return -np.concatenate([a * np.exp(-z[:n] / rho_a), b * np.exp(-z[n:] / rho_b)])

    start = np.concatenate([np.zeros(n), C.min(0)])
    sol = minimize(negative_dual, start, jac=gradient, method="SLSQP",
                   constraints=[{"type": "ineq", "fun": lambda z: C.ravel() - A @ z,
                                 "jac": lambda z: -A}],
                   options={"ftol": 1e-16, "maxiter": 2000})
    best = _certify(sol.x[:n], C, a, b, rho_a, rho_b)
    # the KKT system on the support (k tight edges, n + m marginals) is square in (f, g, P_support)
    refined = _certify(_newton(best.f, best.g, best.plan, C, a, b, rho_a, rho_b), C, a, b, rho_a, rho_b)
    return refined if refined.gap < best.gap else best
