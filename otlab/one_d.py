r"""Exact optimal transport on the real line by the quantile coupling.

In one dimension the monotone (quantile) coupling is optimal for every convex
cost, so

.. math:: W_k^k(\mu, \nu) = \int_0^1 \lvert F_\mu^{-1}(t) - F_\nu^{-1}(t) \rvert^k \, dt ,

which for discrete measures is a finite sum over the merged breakpoints of the
two cumulative distribution functions: :math:`O((n + m) \log(n + m))`.
The same code runs on numpy arrays and torch tensors; with tensors the value
is differentiable in the points and the weights.
"""

from __future__ import annotations

import numpy as np

from ._backend import is_torch
from .costs import power_mean
from .frames import common_frame

__all__ = ["wasserstein_1d", "quantile_coupling"]


def _ops(x):
    if is_torch(x):
        import torch

        return torch, torch.cat, lambda v: torch.sort(v).values, torch.argsort
    return np, np.concatenate, np.sort, lambda v: np.argsort(v, kind="stable")


def quantile_coupling(x, wx, y, wy, *, uniform: bool = False):
    r"""The monotone coupling as segments: ``(lengths, gaps)`` with :math:`W_k^k = \sum_t l_t |g_t|^k`.

    Parameters
    ----------
    x, y : ndarray or Tensor, shapes (n,) and (m,)
        Points (validated, finite).
    wx, wy : ndarray or Tensor, shapes (n,) and (m,)
        Weights summing to 1.
    uniform : bool, default False
        Promise that both weight vectors are uniform; with ``n == m`` this
        takes the sort-and-match path (``n`` segments of length ``1/n``).

    Examples
    --------
    >>> import numpy as np
    >>> w = np.full(2, 0.5)
    >>> lengths, gaps = quantile_coupling(np.array([0.0, 1.0]), w, np.array([3.0, 2.0]), w,
    ...                                   uniform=True)
    >>> lengths.tolist(), gaps.tolist()
    ([0.5, 0.5], [-2.0, -2.0])
    """
    xp, cat, sort, argsort = _ops(x)
    if uniform and x.shape[0] == y.shape[0]:
        return xp.full_like(x, 1.0 / x.shape[0]), sort(x) - sort(y)
    ix, iy = argsort(x), argsort(y)
    xs, ys = x[ix], y[iy]
    cx, cy = xp.cumsum(wx[ix], 0), xp.cumsum(wy[iy], 0)
    # Both cumulative sums end at 1 only to round-off (about 2e-16 apart): the tail segment
    # between their ends paired the last point of one sample (1e300, weight 1e-20) with an
    # inner point of the other, and W_1 came out 2.2e284 instead of 0.53.  Each divided by
    # its own last value ends at exactly 1 (c / c == 1), and so does every cut equal to it.
    # Tensors: the divisor is a constant (gradients as before, to round-off).
    if is_torch(x):
        cx, cy = cx / cx[-1].detach(), cy / cy[-1].detach()
    else:
        cx, cy = cx / cx[-1], cy / cy[-1]
    # Breakpoints of the merged quantile functions and the segment lengths.
    levels = sort(cat([cx, cy]))
    lengths = xp.diff(levels, prepend=levels[:1] * 0)
    if is_torch(x):
        import torch

        with torch.no_grad():
            mid = levels - lengths / 2
            i = torch.searchsorted(cx.contiguous(), mid.contiguous()).clamp_(max=x.shape[0] - 1)
            j = torch.searchsorted(cy.contiguous(), mid.contiguous()).clamp_(max=y.shape[0] - 1)
    else:
        mid = levels - lengths / 2
        i = np.minimum(np.searchsorted(cx, mid), x.shape[0] - 1)
        j = np.minimum(np.searchsorted(cy, mid), y.shape[0] - 1)
    return lengths, xs[i] - ys[j]


def wasserstein_1d(x, wx, y, wy, *, order: float = 1.0, uniform: bool = False):
    r"""Return :math:`W_k` (the root) between two weighted samples on the real line.

    The points are first divided by a common power of two (exact), and the
    k-th root is taken by :func:`otlab.costs.power_mean`, so coordinates near
    1e-300 or 1e300, weights near 1e308 (normalised before) and orders like
    500 neither under- nor overflow.

    Parameters
    ----------
    x, wx, y, wy, uniform
        The samples and their weights, as in :func:`quantile_coupling`.
    order : float, default 1
        The exponent ``k >= 1``.

    Returns
    -------
    float or Tensor
        :math:`W_k`.

    Examples
    --------
    >>> import numpy as np
    >>> w = np.full(3, 1 / 3)
    >>> float(wasserstein_1d(np.array([0., 1., 2.]), w, np.array([3., 2., 1.]), w, order=2))
    1.0
    >>> float(wasserstein_1d(np.array([0.0]), np.ones(1), np.array([10.0]), np.ones(1), order=500))
    10.0
    """
    frame = common_frame(x[:, None], y[:, None], centre=False)
    lengths, gaps = quantile_coupling(x / frame.scale, wx, y / frame.scale, wy, uniform=uniform)
    return power_mean(lengths, gaps, order) * frame.scale
