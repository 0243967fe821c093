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
    # Differences are formed explicitly (no |x|^2 + |y|^2 - 2 x.y expansion),
    # so that nearby points keep their small distances to full precision.
    if is_torch(x):
        import torch

        dist = torch.cdist(x, y, p=2.0, compute_mode="donot_use_mm_for_euclid_dist")
        return dist if order == 1 else dist.pow(order)
    from scipy.spatial.distance import cdist

    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if order == 2:
        return cdist(x, y, "sqeuclidean")
    dist = cdist(x, y, "euclidean")
    return dist if order == 1 else np.power(dist, order, out=dist)


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
