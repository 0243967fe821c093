r"""KL, JS and TV divergences, exact on histograms.

Both arguments are histograms on the same bins: 1-D array-likes (numpy,
torch, lists) with finite, non-negative entries and a positive total mass.
Each is normalised to sum 1, like the weights of :func:`otlab.wasserstein`,
so ``kl([1, 1], [2, 2])`` is 0.  The results are Python floats.

Conventions (the documentation's "Conventions" page): natural logarithm; :math:`0 \log 0 = 0`;
:math:`\mathrm{KL}(P\,\|\,Q) = +\infty` when :math:`P` puts mass where
:math:`Q` has none; the Jensen–Shannon divergence carries the factor
:math:`\tfrac12`, so :math:`0 \le \mathrm{JS} \le \log 2`, with
:math:`\log 2` exactly for disjoint supports.  Note that
:func:`scipy.spatial.distance.jensenshannon` returns :math:`\sqrt{\mathrm{JS}}`.

For estimates from *samples* rather than histograms, see
:mod:`otlab.estimators`.
"""

from __future__ import annotations

import math

import numpy as np

from ._backend import to_numpy
from ._validation import as_histogram

__all__ = ["kl", "js", "tv"]

_LOG2 = math.log(2.0)


def _normalised(a, name: str) -> np.ndarray:
    """Validate a histogram and return it as float64 numpy summing to 1.

    Dividing by the maximum first keeps the sum finite for entries near the
    float64 overflow threshold.
    """
    with np.errstate(over="ignore"):  # an infinite raw sum is harmless here
        a = to_numpy(as_histogram(a, name))
    a = a / a.max()
    return a / a.sum()


def _pair(p, q) -> tuple[np.ndarray, np.ndarray]:
    p = _normalised(p, "p")
    q = _normalised(q, "q")
    if p.shape != q.shape:
        raise ValueError(
            f"p and q must have the same number of bins; got {p.shape[0]} and {q.shape[0]}"
        )
    return p, q


def kl(p, q) -> float:
    r"""Kullback–Leibler divergence :math:`\mathrm{KL}(P\,\|\,Q)` of two histograms.

    .. math::

        \mathrm{KL}(P\,\|\,Q) = \sum_i p_i \log \frac{p_i}{q_i},
        \qquad 0 \log \tfrac{0}{q} = 0, \quad p \log \tfrac{p}{0} = +\infty \;(p > 0).

    Parameters
    ----------
    p, q : array-like, shape (n,)
        Histograms on the same ``n`` bins (numpy, torch or lists): finite,
        non-negative, positive total mass.  Each is normalised to sum 1.

    Returns
    -------
    float
        :math:`\mathrm{KL}(P\,\|\,Q) \in [0, +\infty]`, natural log.
        ``math.inf`` when some bin has :math:`p_i > 0 = q_i`.  Round-off
        below zero (for nearly equal histograms) is clipped to 0.

    Raises
    ------
    ValueError
        If ``p`` or ``q`` is not 1-D, is empty, has a negative, NaN or
        infinite entry, has zero total mass, or if their lengths differ.

    See Also
    --------
    js, tv, otlab.estimators.knn_kl

    References
    ----------
    S. Kullback, R. A. Leibler (1951). On information and sufficiency.
    Ann. Math. Statist. 22(1), 79–86.

    Examples
    --------
    >>> kl([0.5, 0.5], [0.5, 0.5])
    0.0
    >>> kl([1, 0], [0.5, 0.5])  # log 2
    0.6931471805599453
    >>> kl([0.5, 0.5], [1, 0])  # P has mass where Q has none
    inf
    """
    from scipy.special import rel_entr  # on first use: scipy.special takes ~0.4 s to import

    p, q = _pair(p, q)
    value = float(np.sum(rel_entr(p, q)))
    if not math.isfinite(value):
        return math.inf
    return max(value, 0.0)


def js(p, q) -> float:
    r"""Jensen–Shannon divergence of two histograms (with the factor one half).

    .. math::

        \mathrm{JS}(P, Q) = \tfrac12 \mathrm{KL}(P\,\|\,M) + \tfrac12 \mathrm{KL}(Q\,\|\,M),
        \qquad M = \tfrac12 (P + Q),

    equivalently
    :math:`\mathrm{JS} = \log 2 + \tfrac12 \sum_i \big[p_i \log\frac{p_i}{p_i+q_i}
    + q_i \log\frac{q_i}{p_i+q_i}\big]`.

    The first form is used when the result is below :math:`\tfrac12\log 2`
    and the second above, so that identical histograms give exactly 0 and
    histograms with disjoint supports give exactly ``math.log(2)``.

    Parameters
    ----------
    p, q : array-like, shape (n,)
        Histograms on the same ``n`` bins (numpy, torch or lists): finite,
        non-negative, positive total mass.  Each is normalised to sum 1.

    Returns
    -------
    float
        :math:`\mathrm{JS}(P, Q) \in [0, \log 2]`, natural log, symmetric in
        ``p`` and ``q``.  This is the *square* of
        :func:`scipy.spatial.distance.jensenshannon` (natural-log base).

    Raises
    ------
    ValueError
        If ``p`` or ``q`` is not 1-D, is empty, has a negative, NaN or
        infinite entry, has zero total mass, or if their lengths differ.

    See Also
    --------
    kl, tv, otlab.estimators.classifier_js

    References
    ----------
    J. Lin (1991). Divergence measures based on the Shannon entropy.
    IEEE Trans. Inf. Theory 37(1), 145–151.

    Examples
    --------
    >>> js([1, 0], [0, 1]) == math.log(2)  # disjoint supports
    True
    >>> js([0.2, 0.8], [0.2, 0.8])
    0.0
    """
    from scipy.special import rel_entr

    p, q = _pair(p, q)
    m = 0.5 * (p + q)
    direct = 0.5 * float(np.sum(rel_entr(p, m)) + np.sum(rel_entr(q, m)))
    if direct < 0.5 * _LOG2:
        value = direct
    else:
        # Every term vanishes exactly where the supports do not overlap.
        s = p + q
        value = _LOG2 + 0.5 * float(np.sum(rel_entr(p, s)) + np.sum(rel_entr(q, s)))
    return min(max(value, 0.0), _LOG2)


def tv(p, q) -> float:
    r"""Total variation distance between two histograms.

    .. math::

        \mathrm{TV}(P, Q) = \tfrac12 \sum_i |p_i - q_i| = 1 - \sum_i \min(p_i, q_i).

    The first form is used when the result is at most :math:`\tfrac12`, the
    second above, so that identical histograms give exactly 0 and disjoint
    supports exactly 1.

    Parameters
    ----------
    p, q : array-like, shape (n,)
        Histograms on the same ``n`` bins (numpy, torch or lists): finite,
        non-negative, positive total mass.  Each is normalised to sum 1.

    Returns
    -------
    float
        :math:`\mathrm{TV}(P, Q) \in [0, 1]`, symmetric in ``p`` and ``q``.

    Raises
    ------
    ValueError
        If ``p`` or ``q`` is not 1-D, is empty, has a negative, NaN or
        infinite entry, has zero total mass, or if their lengths differ.

    See Also
    --------
    kl, js

    References
    ----------
    A. B. Tsybakov (2009). Introduction to Nonparametric Estimation,
    Section 2.4. Springer.

    Examples
    --------
    >>> tv([1, 0], [0, 1])
    1.0
    >>> tv([0.5, 0.5], [1, 0])
    0.5
    """
    p, q = _pair(p, q)
    direct = 0.5 * float(np.sum(np.abs(p - q)))
    value = direct if direct <= 0.5 else 1.0 - float(np.sum(np.minimum(p, q)))
    return min(max(value, 0.0), 1.0)
