r"""The exact Kantorovich critic: LP dual potentials extended by the c-transform.

For :math:`W_1` the Kantorovich–Rubinstein duality reads

.. math::

    W_1(\mu, \nu) = \sup_{\operatorname{Lip}(\varphi) \le 1}
    \mathbb E_\mu \varphi - \mathbb E_\nu \varphi .

Between two discrete samples the supremum is attained, and an optimal
:math:`\varphi` is built from the dual potentials :math:`(f, g)` of the LP
(:func:`otlab.emd`, with :math:`f_i + g_j \le \lVert x_i - y_j\rVert`) by the
c-transform

.. math:: \varphi(z) = \min_j \big(\lVert z - y_j \rVert - g_j\big).

It is a minimum of 1-Lipschitz functions, hence 1-Lipschitz on the whole
space; :math:`\varphi(x_i) \ge f_i` (dual feasibility) and
:math:`\varphi(y_j) \le -g_j` (take the j-th term), so
:math:`\langle a, \varphi(x)\rangle - \langle b, \varphi(y)\rangle \ge
\langle a, f\rangle + \langle b, g\rangle = W_1`, and the reverse inequality
is Kantorovich–Rubinstein: the gap equals :math:`W_1` exactly.
"""

from __future__ import annotations

import numpy as np

from .._backend import is_torch, to_numpy
from .._validation import as_points, split_sample
from ..costs import cost_matrix
from ..exact import emd

__all__ = ["ExactCritic", "exact_critic"]

_CHUNK = 2048


class ExactCritic:
    r"""The optimal 1-Lipschitz critic between two samples (see :func:`exact_critic`).

    Calling it evaluates :math:`\varphi(z) = \min_j (\lVert z - y_j\rVert - g_j)`.

    Attributes
    ----------
    w1 : float
        The exact :math:`W_1` between the samples (the LP optimum).
    gap : float
        :math:`\sum_i a_i \varphi(x_i) - \sum_j b_j \varphi(y_j)`, equal to
        ``w1`` up to round-off.
    potentials : tuple of ndarray
        ``(phi(x), phi(y))``: the critic's values on both samples.  They are
        optimal dual potentials for the KR form: ``(phi(x), -phi(y))`` is
        feasible and optimal for the LP dual.
    lp : EMDResult
        The LP solution (plan, raw duals ``f, g`` and certificate).
    anchors, offsets : ndarray
        The points :math:`y_j` and the values :math:`g_j` of the c-transform.
    """

    def __init__(self, anchors: np.ndarray, offsets: np.ndarray, lp, x, wx, y, wy):
        self.anchors = anchors
        self.offsets = offsets
        self.lp = lp
        self.w1 = float(lp.cost)
        phi_x, phi_y = self(x), self(y)
        self.potentials = (phi_x, phi_y)
        self.gap = float(wx @ phi_x - wy @ phi_y)

    def __call__(self, z):
        """Evaluate the critic at points ``z`` of shape (k, d) or (k,) for d = 1.

        numpy (or list) in, numpy out of shape (k,); a torch tensor in, a
        differentiable tensor out on the same device and dtype.
        """
        if is_torch(z):
            import torch

            if z.ndim == 1:
                z = z.reshape(-1, 1)
            anchors = torch.as_tensor(self.anchors, dtype=z.dtype, device=z.device)
            offsets = torch.as_tensor(self.offsets, dtype=z.dtype, device=z.device)
            return (cost_matrix(z, anchors) - offsets).amin(dim=1)
        z = as_points(z, "z")
        if z.shape[1] != self.anchors.shape[1]:
            raise ValueError(
                f"z must have dimension {self.anchors.shape[1]}; got d={z.shape[1]}"
            )
        z = np.asarray(z, dtype=np.float64)
        out = np.empty(z.shape[0])
        for start in range(0, z.shape[0], _CHUNK):
            d = cost_matrix(z[start:start + _CHUNK], self.anchors)
            out[start:start + _CHUNK] = (d - self.offsets).min(axis=1)
        return out

    def __repr__(self) -> str:
        return f"ExactCritic(w1={self.w1:.6g}, n_anchors={self.anchors.shape[0]})"


def exact_critic(x, y, *, max_iter: int | None = None) -> ExactCritic:
    r"""The optimal Kantorovich critic for :math:`W_1` between two samples.

    Solves the W_1 linear programme with :func:`otlab.emd` on the Euclidean
    cost and extends the dual potential to the whole space by the c-transform

    .. math:: \varphi(z) = \min_j \big(\lVert z - y_j\rVert - g_j\big),

    which is 1-Lipschitz everywhere and satisfies
    :math:`\mathbb E_x \varphi - \mathbb E_y \varphi = W_1(x, y)` exactly.

    Parameters
    ----------
    x, y : array-like, Tensor or Sample
        Samples as for :func:`otlab.wasserstein`: arrays of shape (n, d) or
        (n,), numpy or torch, or :class:`otlab.Sample` objects with weights.
    max_iter : int, optional
        Network-simplex pivot cap (see :func:`otlab.emd`).

    Returns
    -------
    ExactCritic
        Callable on numpy arrays and torch tensors (differentiable, any
        device), with ``w1``, ``gap``, ``potentials`` and the LP result ``lp``.

    Raises
    ------
    ValueError
        On invalid samples or weights, or samples of different dimensions.

    References
    ----------
    C. Villani (2009). Optimal Transport: Old and New, Thm. 5.10 and §5.4
    (c-transforms, Kantorovich–Rubinstein).
    G. Peyré, M. Cuturi (2019). Computational Optimal Transport, §6.1.

    Examples
    --------
    Two Diracs two units apart: W_1 = 2 and the critic has slope one.

    >>> critic = exact_critic([[0.0]], [[2.0]])
    >>> critic.w1, critic.gap
    (2.0, 2.0)
    >>> critic([[0.0], [1.0], [2.0]]) - critic([[2.0]])
    array([2., 1., 0.])
    """
    x, wx = split_sample(x, "x")
    y, wy = split_sample(y, "y")
    if x.shape[1] != y.shape[1]:
        raise ValueError(
            f"x and y must have the same dimension; got d={x.shape[1]} and d={y.shape[1]}"
        )
    x, wx, y, wy = (to_numpy(v) for v in (x, wx, y, wy))
    M = cost_matrix(x, y)
    lp = emd(wx, wy, M, max_iter=max_iter)
    return ExactCritic(y, lp.g, lp, x, wx, y, wy)
