r"""KL marginal penalties of unbalanced entropic OT: damping, dual and primal terms, conventions.

Unbalanced entropic OT relaxes the marginal constraints into penalties,

.. math::

    \mathrm{UOT}_{\varepsilon,\rho}(a, b) = \min_{P \ge 0}
    \langle P, C\rangle + \varepsilon\, \mathrm{KL}(P \,\|\, a\otimes b)
    + \rho_a \mathrm{KL}(P\mathbf 1 \,\|\, a) + \rho_b \mathrm{KL}(P^\top\mathbf 1 \,\|\, b),

with the KL divergence of positive measures,
:math:`\mathrm{KL}(p\,\|\,q) = \sum_i p_i \log(p_i/q_i) - p_i + q_i`.  Its dual is

.. math::

    \max_{f, g}\ \langle a, \varphi_{\rho_a}(f)\rangle + \langle b, \varphi_{\rho_b}(g)\rangle
    - \varepsilon \langle a\otimes b, e^{(f \oplus g - C)/\varepsilon} - 1\rangle,
    \qquad \varphi_\rho(x) = \rho\,(1 - e^{-x/\rho}),

and block-coordinate ascent on it is Sinkhorn with *damped* soft-min updates,
:math:`f \leftarrow \lambda_a \operatorname{softmin}(g)`,
:math:`\lambda = \rho / (\rho + \varepsilon)`: the balanced loop with one
multiplication per update (:func:`otlab.entropic.solver.sinkhorn_loop`).
:math:`\rho = \infty` gives :math:`\lambda = 1`, :math:`\varphi(x) = x`: the
balanced problem.  At the optimum the plan's marginals are
:math:`P\mathbf 1 = a\, e^{-f/\rho_a}` and :math:`P^\top\mathbf 1 = b\, e^{-g/\rho_b}`.

Conventions of the peers, for the same problem (:math:`C` otlab's cost):

* POT ``ot.sinkhorn_unbalanced(a, b, M, reg, reg_m)`` (``reg_type="kl"``):
  ``reg`` = ε, ``reg_m`` = ρ (a pair ``(reg_m1, reg_m2)`` = ``(rho_a, rho_b)``).
* GeomLoss ``SamplesLoss("sinkhorn", p=p, blur=blur, reach=reach)`` uses the
  cost :math:`\lVert x - y\rVert^p / p`, :math:`\varepsilon = \text{blur}^p`
  and :math:`\rho = \text{reach}^p`; with otlab's cost
  :math:`\lVert x - y\rVert^p` the problem is ``p`` times GeomLoss's:
  ``reg = p * blur**p``, ``rho = p * reach**p`` (:func:`rho_from_reach`) and
  the value is ``p`` times GeomLoss's.
* OTT-JAX's ``tau_a = rho_a / (rho_a + eps)`` is the damping factor λ itself
  (:func:`rho_from_tau`, :func:`tau_from_rho`); ``tau = 1`` is balanced.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .._validation import check_positive

__all__ = ["Penalty", "check_rho", "rho_from_reach", "rho_from_tau", "tau_from_rho", "phi",
           "weighted", "kl_divergence"]


def check_rho(value, name: str) -> float:
    """``value`` as a float in (0, inf]: a KL marginal weight (``inf``: the constraint itself)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value == math.inf:
        return math.inf
    try:
        return check_positive(value, name)
    except ValueError:
        raise ValueError(f"{name} must be > 0 (math.inf for a hard marginal constraint); "
                         f"got {value!r}") from None


@dataclass(frozen=True)
class Penalty:
    r"""The weights :math:`(\rho_a, \rho_b)` of the two KL marginal penalties, in solver units.

    Examples
    --------
    >>> Penalty(1.0, math.inf).damping(1.0)
    (0.5, 1.0)
    >>> Penalty(math.inf, math.inf).balanced
    True
    """

    rho_a: float
    rho_b: float

    @property
    def balanced(self) -> bool:
        return self.rho_a == math.inf and self.rho_b == math.inf

    def damping(self, eps: float) -> tuple[float, float]:
        r""":math:`(\lambda_a, \lambda_b)`, :math:`\lambda = \rho / (\rho + \varepsilon)` (1 for ρ = ∞)."""
        return tuple(1.0 if r == math.inf else r / (r + eps) for r in (self.rho_a, self.rho_b))

    def scaled(self, factor: float) -> "Penalty":
        """Both weights times ``factor`` (to change the cost unit)."""
        return Penalty(self.rho_a * factor, self.rho_b * factor)


def phi(x: torch.Tensor, rho: float) -> torch.Tensor:
    r""":math:`\varphi_\rho(x) = \rho\,(1 - e^{-x/\rho})`, and :math:`x` for ρ = ∞.

    >>> phi(torch.tensor([0.0, 1.0], dtype=torch.float64), math.inf).tolist()
    [0.0, 1.0]
    >>> round(float(phi(torch.tensor(1.0, dtype=torch.float64), 1.0)), 6)  # 1 - 1/e
    0.632121
    """
    return x if rho == math.inf else -rho * torch.expm1(-x / rho)


def weighted(w: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    r""":math:`w_i v_i` with the terms of weight 0 set to 0, whatever :math:`v_i` (entrywise).

    A row of weight 0 enters no marginal and no value, but its potential, of the size of its
    costs, can make :math:`\varphi_\rho(f_i)` or :math:`e^{-f_i/\rho}` overflow: a row of
    weight 0 costing 0 beside costs near 1000 (ρ = 1) gave 0 * inf = NaN in the dual.

    >>> t = torch.tensor
    >>> weighted(t([0.0, 2.0]), t([float("inf"), 3.0])).tolist()
    [0.0, 6.0]
    """
    return torch.where(w > 0, w * v, torch.zeros_like(v))


def kl_divergence(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    r""":math:`\sum_i p_i \log(p_i/q_i) - p_i + q_i` (0 log 0 = 0), the KL of positive measures.

    >>> t = torch.tensor
    >>> float(kl_divergence(t([1.0, 2.0]), t([1.0, 2.0])))
    0.0
    >>> round(float(kl_divergence(t([2.0]), t([1.0]))), 6)  # 2 log 2 - 1
    0.386294
    """
    ratio = torch.where(p > 0, p / q, torch.ones_like(p))
    return (p * ratio.log() - p + q).sum()


def rho_from_reach(reach: float, order: float = 2) -> float:
    r"""otlab's ρ for GeomLoss's ``reach`` with ``p = order``: ``order * reach**order``.

    GeomLoss's cost is :math:`\lVert x - y\rVert^p / p` and its
    :math:`\rho = \text{reach}^p`; otlab's cost is :math:`\lVert x - y\rVert^p`,
    ``p`` times larger, so the same problem has ``p`` times its ρ (and ε:
    ``reg = order * blur**order``).

    >>> rho_from_reach(0.5, order=2)
    0.5
    >>> rho_from_reach(3.0, order=1)
    3.0
    """
    reach = check_positive(reach, "reach")
    return order * reach**order


def rho_from_tau(tau: float, reg: float) -> float:
    r"""ρ for OTT-JAX's :math:`\tau = \rho / (\rho + \varepsilon)`: :math:`\rho = \varepsilon\tau/(1-\tau)`.

    ``tau = 1`` is the balanced problem (``math.inf``).

    >>> rho_from_tau(0.5, reg=0.1)
    0.1
    >>> rho_from_tau(1.0, reg=0.1)
    inf
    """
    reg = check_positive(reg, "reg")
    if isinstance(tau, bool) or not isinstance(tau, (int, float)) or not 0 < tau <= 1:
        raise ValueError(f"tau must be in (0, 1]; got {tau!r}")
    return math.inf if tau == 1 else reg * tau / (1.0 - tau)


def tau_from_rho(rho: float, reg: float) -> float:
    r"""OTT-JAX's :math:`\tau = \rho / (\rho + \varepsilon)` for a ρ in (0, ∞].

    >>> tau_from_rho(0.1, reg=0.1)
    0.5
    >>> tau_from_rho(math.inf, reg=0.1)
    1.0
    """
    rho = check_rho(rho, "rho")
    reg = check_positive(reg, "reg")
    return 1.0 if rho == math.inf else rho / (rho + reg)
