"""Ground costs and pairwise cost matrices.

otlab's ground metric is Euclidean: the cost of order ``k`` between points
``x`` and ``y`` is :math:`c_k(x, y) = \\lVert x - y \\rVert_2^k`, so that
:math:`W_k^k = \\min_P \\langle P, C_k \\rangle`.  (POT's ``ot.dist`` defaults
to the *squared* Euclidean distance; otlab never does.)
"""

from __future__ import annotations

import numpy as np

from ._backend import is_torch

__all__ = ["cost_matrix", "pairwise_cost"]


def cost_matrix(x, y, *, order: float = 1.0):
    r"""Dense matrix of Euclidean ground costs raised to ``order``.

    .. math:: M_{ij} = \lVert x_i - y_j \rVert_2^{k}

    Parameters
    ----------
    x : ndarray or Tensor, shape (n, d)
    y : ndarray or Tensor, shape (m, d)
    order : float, default 1
        The exponent ``k``; ``order=2`` gives the squared distance.

    Returns
    -------
    M : ndarray or Tensor, shape (n, m)
        Same kind, dtype and device as ``x``.

    Examples
    --------
    >>> import numpy as np
    >>> cost_matrix(np.array([[0.0, 0.0]]), np.array([[3.0, 4.0]]))
    array([[5.]])
    >>> cost_matrix(np.array([[0.0, 0.0]]), np.array([[3.0, 4.0]]), order=2)
    array([[25.]])
    """
    if is_torch(x):
        import torch

        sq = torch.cdist(x, y, p=2.0).square() if x.shape[1] > 1 else (x - y.T).square()
        if order == 2:
            return sq
        return sq.clamp_min(0).pow(order / 2)
    x = np.asarray(x)
    y = np.asarray(y)
    if x.shape[1] == 1:
        sq = np.square(x - y.T)
    else:
        # |x|^2 + |y|^2 - 2 x.y, clipped at 0 against round-off.
        sq = (
            np.einsum("ij,ij->i", x, x)[:, None]
            + np.einsum("ij,ij->i", y, y)[None, :]
            - 2.0 * (x @ y.T)
        )
        np.maximum(sq, 0.0, out=sq)
    if order == 2:
        return sq
    if order == 1:
        return np.sqrt(sq, out=sq)
    return np.power(sq, order / 2, out=sq)


def pairwise_cost(x, y, *, order: float = 1.0):
    r"""Costs :math:`\lVert x_i - y_i \rVert^k` between matched rows of ``x`` and ``y``.

    Differentiable for torch inputs, with gradient 0 where ``x_i = y_i``
    (where the norm itself is not differentiable).

    Examples
    --------
    >>> import numpy as np
    >>> pairwise_cost(np.array([[0.0, 0.0], [1.0, 1.0]]), np.array([[3.0, 4.0], [1.0, 1.0]]))
    array([5., 0.])
    """
    diff = x - y
    if is_torch(diff):
        import torch

        sq = diff.square().sum(dim=1)
        positive = sq > 0
        safe = torch.where(positive, sq, torch.ones_like(sq))
        return torch.where(positive, safe.pow(order / 2), torch.zeros_like(sq))
    sq = np.einsum("ij,ij->i", diff, diff)
    return np.power(sq, order / 2)
