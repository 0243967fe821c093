r"""The parallel lines of the WGAN paper (Arjovsky, Chintala & Bottou 2017, Example 1).

:math:`P_0` is the law of :math:`(0, Z)` and :math:`P_\theta` the law of
:math:`(\theta, Z)` with :math:`Z \sim U[0, 1]`.  For :math:`\theta \ne 0` the
supports are disjoint, so

.. math::

    W_1(P_0, P_\theta) = |\theta|, \quad JS = \log 2, \quad
    KL = +\infty, \quad TV = 1,

while every divergence is 0 at :math:`\theta = 0`: only :math:`W_1` is
continuous in :math:`\theta`.
"""

from __future__ import annotations

import numpy as np

from .._validation import check_positive_int
from ._seed import as_generator, check_real

__all__ = ["parallel_lines"]


def parallel_lines(theta, n, *, grid: bool = True, seed=None):
    r"""Samples of the two parallel lines :math:`\{0\} \times [0,1]` and :math:`\{\theta\} \times [0,1]`.

    Parameters
    ----------
    theta : float
        Horizontal offset of the second line.
    n : int
        Number of points on each line.
    grid : bool, default True
        ``True``: both lines use the same evenly spaced heights
        :math:`z_i = (i + \tfrac12)/n`, :math:`i = 0, \dots, n-1`, so the
        discrete optimal plan matches :math:`(0, z_i)` with
        :math:`(\theta, z_i)` and the empirical :math:`W_1` equals
        :math:`|\theta|` exactly.  ``False``: independent uniform heights for
        each line; then the empirical :math:`W_1 \ge |\theta|`, with an
        :math:`O(n^{-1/2})` excess at :math:`\theta = 0`.
    seed : None, int or numpy.random.Generator, optional
        Randomness for ``grid=False`` (unused with ``grid=True``).

    Returns
    -------
    x0, x1 : ndarray, shape (n, 2)
        Points :math:`(0, z_i)` and :math:`(\theta, z'_i)`, float64.

    Raises
    ------
    TypeError, ValueError
        If ``theta`` is not a finite real number or ``n`` not an integer >= 1.

    Examples
    --------
    >>> x0, x1 = parallel_lines(0.5, 4)
    >>> x1
    array([[0.5  , 0.125],
           [0.5  , 0.375],
           [0.5  , 0.625],
           [0.5  , 0.875]])
    >>> from otlab import wasserstein
    >>> round(wasserstein(x0, x1), 12)
    0.5
    """
    theta = check_real(theta, "theta")
    n = check_positive_int(n, "n")
    if grid:
        z0 = (np.arange(n) + 0.5) / n
        z1 = z0.copy()
    else:
        rng = as_generator(seed)
        z0 = rng.uniform(0.0, 1.0, n)
        z1 = rng.uniform(0.0, 1.0, n)
    x0 = np.column_stack([np.zeros(n), z0])
    x1 = np.column_stack([np.full(n, theta), z1])
    return x0, x1
