"""Plug-in KL, JS and TV estimates from two samples binned on a shared grid."""

from __future__ import annotations

import math
import numbers

import numpy as np

from .._validation import check_positive, check_positive_int
from ..divergences import js as _js
from ..divergences import kl as _kl
from ..divergences import tv as _tv
from ._common import check_subsamples, half_samples, two_samples

__all__ = ["histogram_divergences", "MAX_CELLS"]

#: Largest number of cells :func:`histogram_divergences` will allocate.
MAX_CELLS = 10_000_000


def _grid_range(x, y, value_range) -> list[tuple[float, float]]:
    """Per-dimension (lo, hi): the given ``range`` or the pooled sample's extent."""
    d = x.shape[1]
    if value_range is None:
        lo = np.minimum(x.min(axis=0), y.min(axis=0))
        hi = np.maximum(x.max(axis=0), y.max(axis=0))
        return [(float(a), float(b)) for a, b in zip(lo, hi)]
    pairs = np.asarray(value_range, dtype=float)
    if pairs.shape == (2,) and d == 1:
        pairs = pairs.reshape(1, 2)
    if pairs.shape != (d, 2):
        raise ValueError(
            f"range must be a (lo, hi) pair per dimension, shape ({d}, 2); got {value_range!r}"
        )
    if not (np.isfinite(pairs).all() and (pairs[:, 0] < pairs[:, 1]).all()):
        raise ValueError(
            f"range must be finite with lo < hi in every dimension; got {value_range!r}"
        )
    return [(float(a), float(b)) for a, b in pairs]


def _width_grid(lo: float, hi: float, width: float) -> tuple[int, int]:
    """Integer range ``(k_lo, k_hi)`` of edges ``k * width`` covering [lo, hi] (anchored at 0)."""
    k_lo = math.floor(lo / width)
    k_hi = max(math.ceil(hi / width), k_lo + 1)
    if k_hi * width < hi:  # round-off in hi / width
        k_hi += 1
    return k_lo, k_hi


def _check_cells(n_cells: float) -> None:
    if not n_cells <= MAX_CELLS:  # inf and NaN (a width that overflows the grid) too
        raise ValueError(
            f"the grid would have {float(n_cells):.3g} cells (more than {MAX_CELLS}); increase "
            "bin_width or decrease bins"
        )


def _bin_edges(x, y, bin_width, bins, value_range) -> list[np.ndarray]:
    d = x.shape[1]
    if bin_width is not None and bins is not None:
        raise ValueError(
            f"give bin_width or bins, not both; got bin_width={bin_width!r}, bins={bins!r}"
        )
    limits = _grid_range(x, y, value_range)
    if bin_width is not None:
        width = check_positive(bin_width, "bin_width")
        with np.errstate(over="ignore", invalid="ignore"):  # coordinates / width may overflow
            spans = np.array([hi / width - lo / width for lo, hi in limits])
        _check_cells(np.prod(spans + 1.0))  # before the integer grid, which could overflow
        grids = [_width_grid(lo, hi, width) for lo, hi in limits]
        _check_cells(math.prod(k_hi - k_lo for k_lo, k_hi in grids))
        edges = [np.arange(k_lo, k_hi + 1) * width for k_lo, k_hi in grids]
        if not all((np.diff(e) > 0).all() for e in edges):
            top = max(max(abs(lo), abs(hi)) for lo, hi in limits)
            raise ValueError(
                f"bin_width must exceed the float64 spacing of the coordinates (about "
                f"{np.spacing(top):.3g} near {top:.3g}); got {bin_width!r}")
        return edges
    if bins is None:
        # The MISE-optimal histogram width shrinks like n^(-1/(d+2)).
        bins = max(1, math.ceil(min(x.shape[0], y.shape[0]) ** (1.0 / (d + 2))))
    counts = [bins] * d if isinstance(bins, numbers.Integral) else list(bins)
    if len(counts) != d:
        raise ValueError(f"bins must be an int or one int per dimension ({d}); got {bins!r}")
    counts = [check_positive_int(c, "bins") for c in counts]
    _check_cells(math.prod(counts))
    edges = []
    top = np.finfo(np.float64).max
    for (lo, hi), c in zip(limits, counts):
        if hi == lo:  # every point at one coordinate value: one bin around it
            pad = 0.5 * max(1.0, abs(lo))
            lo, hi = max(lo - pad, -top), min(hi + pad, top)
        edges.append(_even_edges(lo, hi, c))
    return edges


def _even_edges(lo: float, hi: float, count: int) -> np.ndarray:
    """``count + 1`` evenly spaced edges from ``lo`` to ``hi`` (exact ends), without overflow.

    ``np.linspace`` forms ``hi - lo``, which overflows for a range such as
    (-1e308, 1e308); the convex combination ``(1 - t) lo + t hi`` does not.

    >>> _even_edges(-1e308, 1e308, 2)
    array([-1.e+308,  0.e+000,  1.e+308])
    """
    t = np.linspace(0.0, 1.0, count + 1)
    edges = (1.0 - t) * lo + t * hi
    edges[0], edges[-1] = lo, hi
    if not (np.diff(edges) > 0).all():
        raise ValueError(
            f"bins={count} cells cannot be told apart in float64 over ({lo:.17g}, {hi:.17g}); "
            "decrease bins")
    return edges


def histogram_divergences(x, y, *, bin_width=None, bins=None, range=None, n_subsamples: int = 20,
                          seed: int = 0) -> dict:
    r"""Plug-in KL, JS and TV estimates from two samples binned on a shared grid.

    Both samples are counted in the same cells :math:`B_1, \dots, B_K`
    (:func:`numpy.histogramdd`); the exact histogram divergences of the
    normalised counts :math:`\hat p_k = \#\{x_i \in B_k\}/n`,
    :math:`\hat q_k = \#\{y_j \in B_k\}/m` are returned:

    .. math::

        \widehat{\mathrm{KL}} = \sum_k \hat p_k \log \frac{\hat p_k}{\hat q_k}, \quad
        \widehat{\mathrm{JS}} = \tfrac12 \widehat{\mathrm{KL}}(\hat p\,\|\,\hat m)
        + \tfrac12 \widehat{\mathrm{KL}}(\hat q\,\|\,\hat m), \quad
        \widehat{\mathrm{TV}} = \tfrac12 \sum_k |\hat p_k - \hat q_k|.

    Parameters
    ----------
    x : array-like, shape (n, d) or (n,)
        Sample from :math:`P`.  Practical for d up to about 3.
    y : array-like, shape (m, d) or (m,)
        Sample from :math:`Q`, same dimension.
    bin_width : float, optional
        Side of the cubic cells; the grid is anchored at 0 (edges at integer
        multiples of ``bin_width``) and covers ``range``.
    bins : int or sequence of int, optional
        Number of equal cells per dimension over ``range``.  Give ``bins`` or
        ``bin_width``, not both; by default
        :math:`\lceil \min(n, m)^{1/(d+2)} \rceil` cells per dimension (the
        rate of the MISE-optimal width, with unit constant).
    range : (lo, hi) or sequence of (lo, hi), optional
        Extent of the grid per dimension; by default the pooled samples'
        extent.  Points outside it are dropped from both histograms.
    n_subsamples : int, default 20
        Random halves of both samples binned on the same grid, for the
        standard errors (0 skips them).
    seed : int, default 0
        Seeds the choice of the halves.

    Returns
    -------
    dict
        ``{"kl": float, "js": float, "tv": float, "std_error": {"kl": ...,
        "js": ..., "tv": ...}}``: the estimates and their standard errors,
        the standard deviations over random halves of both samples (the
        delete-half jackknife; NaN where a half-sample estimate is infinite or
        with ``n_subsamples=0``).  They measure the sampling spread at this
        grid, not the bias (Notes).

    Raises
    ------
    ValueError
        On invalid samples, mismatched dimensions, both ``bin_width`` and
        ``bins``, an invalid ``range``, a grid with more than
        ``MAX_CELLS`` cells, a ``bin_width`` below the float64 spacing of the
        coordinates, or when ``range`` leaves either sample empty.

    Notes
    -----
    The estimates are biased, and the bias depends on the bin width ``h``:

    * **KL** is ``inf`` as soon as one cell holds a point of ``x`` and none of
      ``y``; with small cells or small samples this is the typical outcome
      even when :math:`\mathrm{KL}(P\,\|\,Q) < \infty`.  Use :func:`knn_kl`.
    * **Sampling noise biases JS and TV upwards**: with finite counts
      :math:`\hat p \ne \hat q` even for :math:`P = Q`, so small cells
      (few points each) push the estimates towards :math:`\log 2` and 1.
    * **Discretisation biases them downwards**: by the data-processing
      inequality the divergence of the binned laws is at most that of the
      laws, so wide cells merge regions where :math:`P` and :math:`Q` differ
      (in the limit of one cell every estimate is 0).  Distributions on
      disjoint low-dimensional sets that fall in common cells look close.

    With the default ``bins`` the grid spans the data, so the estimates do
    not change under a common translation or scaling of both samples (at any
    offset and at scales from 1e-300 to 1e300); ``bin_width`` is in the
    data's units.

    References
    ----------
    L. Paninski (2003). Estimation of entropy and mutual information.
    Neural Computation 15(6), 1191–1253.

    Examples
    --------
    Two samples in disjoint cells, and the same sample twice:

    >>> r = histogram_divergences([0.1, 0.2, 0.3], [1.1, 1.2, 1.3], bin_width=0.5)
    >>> r["tv"], r["kl"], r["js"] == math.log(2)
    (1.0, inf, True)
    >>> r = histogram_divergences([0.1, 0.7], [0.1, 0.7], bins=2, n_subsamples=0)
    >>> r["kl"], r["js"], r["tv"]
    (0.0, 0.0, 0.0)
    """
    n_subsamples = check_subsamples(n_subsamples)
    x, y = two_samples(x, y)
    edges = _bin_edges(x, y, bin_width, bins, range)
    estimates = _plug_in(x, y, edges)
    for key, name in (("p_empty", "x"), ("q_empty", "y")):
        if estimates.pop(key):
            raise ValueError(f"{name} has no point inside range; got range={range!r}")
    std = dict.fromkeys(("kl", "js", "tv"), float("nan"))
    if n_subsamples and min(x.shape[0], y.shape[0]) >= 2:
        halves = [_plug_in(a, b, edges) for a, b in half_samples(x, y, n_subsamples, seed)]
        for key in std:
            values = np.array([h[key] for h in halves if not (h["p_empty"] or h["q_empty"])])
            if len(values) >= 2 and np.isfinite(values).all():
                std[key] = float(np.std(values, ddof=1))
    return {**estimates, "std_error": std}


def _plug_in(x, y, edges) -> dict:
    """The three plug-in divergences of the counts on ``edges`` (and which sample is empty)."""
    p, _ = np.histogramdd(x, bins=edges)
    q, _ = np.histogramdd(y, bins=edges)
    out = {"p_empty": p.sum() == 0, "q_empty": q.sum() == 0}
    if out["p_empty"] or out["q_empty"]:
        return {"kl": float("nan"), "js": float("nan"), "tv": float("nan"), **out}
    p, q = p.ravel(), q.ravel()
    return {"kl": _kl(p, q), "js": _js(p, q), "tv": _tv(p, q), **out}
