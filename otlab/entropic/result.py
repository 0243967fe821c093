r"""The result of a Sinkhorn solve, and how results go back to the caller's units and kind."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from ..frames import scale_by_power

__all__ = ["SinkhornResult", "UnbalancedResult", "Output"]


@dataclass(frozen=True)
class Output:
    """How results go back to the caller: numpy or torch, dtype, and the cost unit.

    Values computed in a frame of scale ``scale`` (a power of two) are in
    units of ``scale**order`` (costs, potentials, ε); plans are dimensionless.
    """

    numpy: bool
    dtype: object
    scale: float = 1.0
    order: float = 1.0

    def plain(self, t):
        t = t.detach()
        return t.cpu().numpy() if self.numpy else t.to(self.dtype)

    def cost(self, t):
        """A cost-unit tensor in the input's units and kind (float for a numpy scalar)."""
        t = scale_by_power(t, self.scale, self.order)
        if self.numpy:
            return float(t) if t.ndim == 0 else t.detach().cpu().numpy()
        return t.to(self.dtype)


@dataclass(frozen=True)
class _Solution:
    """What a result needs to form the plan later: the operator and local potentials."""

    op: object
    f: torch.Tensor
    g: torch.Tensor
    eps: float
    log_a: torch.Tensor
    log_b: torch.Tensor
    out: Output


@dataclass(frozen=True)
class SinkhornResult:
    r"""Solution of the entropic OT problem.

    .. math::

        \mathrm{OT}_\varepsilon(a, b) = \min_{P \ge 0,\, P 1 = a,\, P^\top 1 = b}
        \langle P, C\rangle + \varepsilon\, \mathrm{KL}(P \,\|\, a \otimes b),
        \qquad
        P_{ij} = a_i b_j \exp\big((f_i + g_j - C_{ij})/\varepsilon\big).

    Attributes follow the input: numpy arrays and floats for numpy input,
    tensors on the input's device and in its dtype for torch input.

    Attributes
    ----------
    f, g : ndarray or Tensor, shapes (n,) and (m,)
        Dual potentials (log-domain scalings times ε).
    cost : float or Tensor
        The linear transport cost :math:`\langle P, C\rangle` of the returned
        plan (what ``ot.sinkhorn2`` returns), at the marginals' mass (times
        :math:`\sum a / \sum P`, which is 1 to within ``marginal_error``: the
        round-off of large potentials moves the plan's entries alike, and
        the cost by that relative amount of the costs' size); :math:`\ge`
        the exact OT cost when the plan is feasible.
    objective : float or Tensor
        The entropic objective :math:`\mathrm{OT}_\varepsilon`, computed as the
        dual value :math:`\langle a, f\rangle + \langle b, g\rangle` (minus
        :math:`\varepsilon(s - s^2)` for total mass :math:`s \ne 1`).
    n_iter : int
        Sinkhorn iterations performed (column soft-min updates), ε-scaling
        steps and refused Anderson proposals included.
    marginal_error : float
        :math:`\lVert P 1 - a\rVert_1 + \lVert P^\top 1 - b\rVert_1` of the
        returned plan, measured on it after the iterations (the same L1 sum as
        :attr:`otlab.EMDResult.marginal_error`).
    converged : bool
        True only when ``marginal_error <= tol`` and ``cost`` is finite.
    reg : float
        The ε used (absolute, in cost units).
    backend : str
        ``"dense"``, ``"tiled"`` or ``"triton"``.

    Notes
    -----
    For torch input, ``cost`` and ``objective`` carry gradients with respect to
    the weights, the cost matrix or the points, obtained from the potentials
    by the envelope theorem (:math:`\partial_a = f`, :math:`\partial_b = g`,
    :math:`\partial_C = P`), never by backpropagating through the iterations.
    ``cost`` carries the gradient of ``objective``, which tends to the
    gradient of the exact cost as ε → 0.
    """

    f: object
    g: object
    cost: object
    objective: object
    n_iter: int
    marginal_error: float
    converged: bool
    reg: float
    backend: str
    _solution: _Solution = field(repr=False, compare=False)

    @property
    def plan(self):
        """The dense plan :math:`P`, shape (n, m). For large n use :meth:`apply`."""
        s = self._solution
        return s.out.plain(s.op.plan(s.eps, s.f, s.g, s.log_a, s.log_b))

    def apply(self, v):
        """The product :math:`P v` without forming :math:`P` (``v`` of shape (m,) or (m, k))."""
        s = self._solution
        v_t = torch.as_tensor(v, dtype=s.f.dtype, device=s.f.device)
        return s.out.plain(s.op.apply_plan(s.eps, s.f, s.g, s.log_a, s.log_b, v_t))


@dataclass(frozen=True)
class UnbalancedResult(SinkhornResult):
    r"""Solution of unbalanced entropic OT with KL marginal penalties.

    .. math::

        \mathrm{UOT}_{\varepsilon,\rho}(a, b) = \min_{P \ge 0}
        \langle P, C\rangle + \varepsilon\, \mathrm{KL}(P \,\|\, a\otimes b)
        + \rho_a \mathrm{KL}(P\mathbf 1 \,\|\, a) + \rho_b \mathrm{KL}(P^\top\mathbf 1 \,\|\, b),

    :math:`P_{ij} = a_i b_j \exp\big((f_i + g_j - C_{ij})/\varepsilon\big)`
    (:mod:`otlab.entropic.penalty`).  The attributes of
    :class:`SinkhornResult` keep their meaning, except:

    Attributes
    ----------
    objective : float or Tensor
        The primal value of the returned plan, KL terms included (an upper
        bound on :math:`\mathrm{UOT}_{\varepsilon,\rho}`: every :math:`P \ge 0`
        is feasible); POT's ``sinkhorn_unbalanced2(..., returnCost="total")``.
    dual : float
        The dual value of the returned potentials (a lower bound, up to
        round-off); ``objective - dual`` is the duality gap.
    marginal_error : float
        :math:`\lVert P\mathbf 1 - a e^{-f/\rho_a}\rVert_1 + \lVert P^\top\mathbf 1 - b e^{-g/\rho_b}\rVert_1`,
        the distance of the plan's marginals from the optimality conditions
        (the balanced marginal error for :math:`\rho = \infty`).
    rho : tuple of float
        :math:`(\rho_a, \rho_b)` in cost units (``math.inf``: a hard constraint).
    mass : float
        The plan's total mass :math:`\mathbf 1^\top P \mathbf 1`.
    row_marginal, col_marginal : ndarray or Tensor, shapes (n,) and (m,)
        :math:`P\mathbf 1` and :math:`P^\top\mathbf 1`: subtract ``a`` and ``b``
        for the mass created (> 0) or destroyed (< 0) at each point.
    """

    rho: tuple = (float("inf"), float("inf"))
    dual: float = float("nan")
    mass: float = float("nan")
    row_marginal: object = None
    col_marginal: object = None
