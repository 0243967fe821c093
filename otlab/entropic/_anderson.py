r"""Anderson mixing of the Sinkhorn map, the acceleration used at the target ε.

One Sinkhorn sweep is a fixed-point map on the row potential,

.. math::

    T(f) = \operatorname{softmin}_{\text{rows}}\big(\operatorname{softmin}_{\text{cols}}(f)\big),
    \qquad r(f) = \big(T(f) - f\big) / \varepsilon,

whose residual :math:`r` is, to first order, the relative row-marginal error.
Type-II Anderson mixing (Anderson 1965; Walker & Ni 2011) keeps the last
:math:`m` differences :math:`\Delta T_k = T(f_{k+1}) - T(f_k)`,
:math:`\Delta r_k = r_{k+1} - r_k` and proposes

.. math::

    f_{k+1} = T(f_k) - \sum_l \gamma_l \Delta T_l,
    \qquad
    \gamma = \arg\min_\gamma \big\lVert r_k - \textstyle\sum_l \gamma_l \Delta r_l\big\rVert_a^2
    + \lambda \operatorname{tr}(H) \lVert\gamma\rVert^2,

a multisecant quasi-Newton step (:math:`\lVert v\rVert_a^2 = \sum_i a_i v_i^2`,
:math:`H` the Gram matrix of the :math:`\Delta r_l`).  It only combines
vectors the soft-min operator returned, so it serves every back-end alike.
The safeguard (accept the step only if the dual objective does not decrease)
lives in the loop, :func:`otlab.entropic.solver.sinkhorn_loop`.
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["AndersonMixer", "MEMORY", "REGULARIZATION"]

_TINY = float(np.finfo(np.float64).tiny)

#: Number of past differences combined (m).  3 to 6 work alike; 8 and more go stale.
MEMORY = 5
#: Tikhonov weight λ, relative to the trace of the Gram matrix.  Below ~1e-6 the
#: least-squares problem is ill-conditioned and steps get rejected; 1e-3 to 1e-2 is robust.
REGULARIZATION = 1e-3


class AndersonMixer:
    """Regularised type-II Anderson mixing of ``f -> T(f)`` at a fixed ``eps``.

    Parameters
    ----------
    a : Tensor, shape (n,)
        Row weights; the residual norm is weighted by them.
    eps : float
        The temperature (residuals are measured in units of ε).
    memory : int
        Number of past differences kept.
    regularization : float
        Relative Tikhonov weight λ of the least-squares problem.

    Notes
    -----
    The :math:`m \times m` least-squares problem is solved on the CPU in
    float64 with numpy: it is tiny, and one host transfer per iteration costs
    less than dispatching a batched solver.
    """

    def __init__(self, a: torch.Tensor, eps: float, *, memory: int = MEMORY,
                 regularization: float = REGULARIZATION):
        self.weights = a.sqrt() / eps
        self.regularization = regularization
        self.memory = memory
        # Rows 0..memory-1: the differences (a ring; their order does not matter);
        # row `memory` of `_d_res`: the current weighted residual.
        self._d_map = a.new_zeros((memory, a.shape[0]))
        self._d_res = a.new_zeros((memory + 1, a.shape[0]))
        self._count = 0
        self._last_map = None

    def reset(self) -> None:
        """Forget the history (after a refused step)."""
        self._count = 0
        self._last_map = None

    def propose(self, f: torch.Tensor, f_map: torch.Tensor) -> torch.Tensor:
        """The next iterate from the current ``f`` and its image ``f_map = T(f)``.

        Returns ``f_map`` itself (the plain update) while there is no history.
        """
        res = (f_map - f).mul_(self.weights)
        last_map, self._last_map = self._last_map, f_map
        if last_map is None:
            self._d_res[-1] = res
            return f_map
        row = self._count % self.memory
        self._count += 1
        torch.sub(f_map, last_map, out=self._d_map[row])
        torch.sub(res, self._d_res[-1], out=self._d_res[row])
        self._d_res[-1] = res
        k = min(self._count, self.memory)
        products = (self._d_res[:k] @ self._d_res.T).cpu().double().numpy()
        gram, rhs = products[:, :k], products[:, -1]
        gram.flat[:: k + 1] += self.regularization * gram.trace() + _TINY
        gamma = torch.from_numpy(np.linalg.solve(gram, rhs)).to(f)
        return f_map - gamma @ self._d_map[:k]
