r"""Exact partial optimal transport: move only a mass ``s`` at the least cost.

.. math::

    \mathrm{PW}_s(a, b; M) = \min_{P \ge 0} \langle P, M \rangle
    \quad \text{s.t.} \quad P \mathbf 1 \le a, \quad P^\top \mathbf 1 \le b,
    \quad \mathbf 1^\top P \mathbf 1 = s,
    \qquad 0 < s \le \min(\textstyle\sum a, \sum b).

Solved exactly as a balanced problem with one dummy point on each side
(Chapel, Alaya & Gasso 2020): the source gets a dummy of mass
:math:`\sum b - s`, the target one of mass :math:`\sum a - s`; sending mass to
or from a dummy costs 0 (the mass that is not transported), and dummy-to-dummy
costs :math:`A = 2 \max M` (more than any real pair when :math:`M \ge 0`), so
it is never used.  The extended problem goes to otlab's exact engine
(:func:`otlab.emd`), whose plan, dual potentials and optimality certificate
carry over: the real block of the extended plan is the partial plan, and the
extended potentials are the duals of the partial problem (the dummies' potentials
are the prices of not transporting).  This is the construction of POT's
``ot.partial.partial_wasserstein`` (same dummy costs), so the plans agree.

Before the extension, ``a`` and ``b`` are capped at ``s`` (no point sends or
receives more than the mass moved, so the optimal plans and the cost are those
of the uncapped problem): the extended masses are then within a factor
:math:`\max(n, m)` of ``s``, and the mass moved is ``s`` to round-off relative
to ``s``.  Without the cap it was a difference of totals of size
:math:`\sum a`, whose round-off is absolute (``mass=1e-12`` between
histograms of total 1 moved 0.99995e-12; ``mass=1e-100`` moved nothing).  The
duals and the certificate are those of the capped problem.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._backend import to_numpy
from ._validation import as_cost_matrix, as_histogram, safe_total
from .datasets._seed import check_real
from .exact import EMDResult, emd

__all__ = ["PartialResult", "partial_wasserstein"]


@dataclass(frozen=True)
class PartialResult:
    r"""Solution of the exact partial transport problem.

    Attributes
    ----------
    plan : ndarray, shape (n, m)
        Optimal partial plan: row sums at most ``a``, column sums at most
        ``b``, total ``mass``.
    cost : float
        :math:`\langle P, M \rangle`.
    mass : float
        The transported mass ``s``.
    f, g : ndarray, shapes (n,) and (m,)
        Dual potentials of the real points (from the extended problem, with
        the masses capped at ``mass``; see the module notes).
    f_dummy, g_dummy : float
        Potentials of the two dummy points.
    extended : EMDResult
        The balanced extended problem as solved (masses capped at ``mass``), with its certificate
        (``dual_violation``, ``duality_gap``, ``converged``).
    """

    plan: np.ndarray
    cost: float
    mass: float
    f: np.ndarray
    g: np.ndarray
    f_dummy: float
    g_dummy: float
    extended: EMDResult

    @property
    def converged(self) -> bool:
        """Whether the extended problem was solved to optimality."""
        return bool(self.extended.converged)

    @property
    def dual_violation(self) -> float:
        """Largest violation of the extended problem's dual constraints."""
        return self.extended.dual_violation

    @property
    def duality_gap(self) -> float:
        """Primal minus dual objective of the extended problem (0 at optimality)."""
        return self.extended.duality_gap


def partial_wasserstein(a, b, M, *, mass: float, max_iter: int | None = None) -> PartialResult:
    r"""Exact partial optimal transport of a mass ``mass`` between histograms ``a`` and ``b``.

    .. math::

        \min_{P \ge 0} \langle P, M \rangle \quad \text{s.t.} \quad
        P \mathbf 1 \le a,\; P^\top \mathbf 1 \le b,\; \mathbf 1^\top P \mathbf 1 = s

    Parameters
    ----------
    a : array-like, shape (n,)
        Source masses (not normalised: partial transport uses the masses as given).
    b : array-like, shape (m,)
        Target masses.
    M : array-like, shape (n, m)
        Finite, non-negative costs (e.g. :func:`otlab.cost_matrix`).
    mass : float
        The mass :math:`s` to transport, :math:`0 < s \le \min(\sum a, \sum b)`.
    max_iter : int, optional
        Network-simplex pivot cap (see :func:`otlab.emd`).

    Returns
    -------
    PartialResult
        Plan, cost, duals and the certificate of the extended problem.

    Raises
    ------
    ValueError
        On invalid histograms or costs, negative costs, or ``mass`` outside
        :math:`(0, \min(\sum a, \sum b)]` or NaN.

    Examples
    --------
    Two points each side; moving half the mass uses the cheapest pair only:

    >>> import numpy as np
    >>> M = np.array([[0.0, 5.0], [5.0, 1.0]])
    >>> res = partial_wasserstein([0.5, 0.5], [0.5, 0.5], M, mass=0.5)
    >>> res.cost, res.plan.tolist()
    (0.0, [[0.5, 0.0], [0.0, 0.0]])
    >>> partial_wasserstein([0.5, 0.5], [0.5, 0.5], M, mass=1.0).cost  # all of it: the EMD, (0 + 1)/2
    0.5
    """
    # to_numpy detaches tensors (np.asarray raised on one that requires grad)
    a = to_numpy(as_histogram(a, "a")).astype(np.float64)
    b = to_numpy(as_histogram(b, "b")).astype(np.float64)
    M = to_numpy(as_cost_matrix(M, (a.shape[0], b.shape[0]), "M")).astype(np.float64)
    if M.min() < 0:
        raise ValueError(f"M must be non-negative for partial transport; got min {M.min():g}")
    mass = check_real(mass, "mass")
    total_a, total_b = safe_total(a), safe_total(b)
    limit = min(total_a, total_b)
    if not 0 < mass <= limit * (1 + 1e-12):
        raise ValueError(f"mass must be in (0, min(sum a, sum b)] = (0, {limit:.10g}]; got {mass!r}")
    mass = min(mass, limit)
    n, m = M.shape
    # A point sends or receives at most the mass moved, so capping a and b at it changes no
    # plan; it keeps the masses within a factor n or m of it, so the real block (the mass
    # moved) is no longer a difference of totals much larger than it: mass=1e-12 between
    # histograms of total 1 moved 0.99995e-12, and mass=1e-100 moved nothing.
    a, b = np.minimum(a, mass), np.minimum(b, mass)
    total_a, total_b = safe_total(a), safe_total(b)
    a_ext = np.append(a, max(total_b - mass, 0.0))
    b_ext = np.append(b, max(total_a - mass, 0.0))
    M_ext = np.zeros((n + 1, m + 1))
    M_ext[:n, :m] = M
    # Any positive price keeps mass off the dummy pair (it would only add real mass moved);
    # 2 max M overflowed for costs above 9e307 ('M must be finite' for a finite M).
    top = float(M.max())
    M_ext[n, m] = min(2 * top, np.finfo(np.float64).max) if top > 0 else 1.0
    ext = emd(a_ext, b_ext, M_ext, max_iter=max_iter)
    plan = ext.plan[:n, :m]
    return PartialResult(plan=plan, cost=float((plan * M).sum()), mass=float(mass),
                         f=ext.f[:n], g=ext.g[:m], f_dummy=float(ext.f[n]),
                         g_dummy=float(ext.g[m]), extended=ext)
