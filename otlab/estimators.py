r"""Sample-based estimators of the KL, JS and TV divergences.

Three estimators, each with a different bias, for two samples
:math:`x_1, \dots, x_n \sim P` and :math:`y_1, \dots, y_m \sim Q` in
:math:`\mathbb R^d`:

* :func:`histogram_divergences` — bin both samples on a shared grid and apply
  the exact :func:`otlab.divergences.kl`, :func:`~otlab.divergences.js` and
  :func:`~otlab.divergences.tv` to the counts (plug-in estimates);
* :func:`knn_kl` — the k-nearest-neighbour KL estimator of Wang, Kulkarni &
  Verdú (2009), consistent for densities;
* :func:`classifier_js` — train a binary classifier (a GAN discriminator) and
  read JS off its held-out log-loss, using :math:`V(D^*) = 2\,\mathrm{JS} - \log 4`.

Conventions are those of :mod:`otlab.divergences`: natural log, JS with the
factor one half (so :math:`0 \le \mathrm{JS} \le \log 2`).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from ._backend import to_numpy
from ._validation import as_points, check_positive, check_positive_int
from .divergences import js as _js
from .divergences import kl as _kl
from .divergences import tv as _tv

__all__ = ["histogram_divergences", "knn_kl", "classifier_js", "ClassifierJSResult"]

_LOG2 = math.log(2.0)

#: Largest number of cells :func:`histogram_divergences` will allocate.
MAX_CELLS = 10_000_000


def _two_samples(x, y) -> tuple[np.ndarray, np.ndarray]:
    """Validate two samples as float64 numpy arrays of shapes (n, d), (m, d)."""
    x = to_numpy(as_points(x, "x"))
    y = to_numpy(as_points(y, "y"))
    if x.shape[1] != y.shape[1]:
        raise ValueError(
            f"x and y must have the same dimension; got d={x.shape[1]} and d={y.shape[1]}"
        )
    return x, y


# --------------------------------------------------------------------------- histogram


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


def _check_cells(n_cells: int) -> None:
    if n_cells > MAX_CELLS:
        raise ValueError(
            f"the grid would have {n_cells} cells (more than {MAX_CELLS}); increase bin_width "
            "or decrease bins"
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
        grids = [_width_grid(lo, hi, width) for lo, hi in limits]
        _check_cells(math.prod(k_hi - k_lo for k_lo, k_hi in grids))
        return [np.arange(k_lo, k_hi + 1) * width for k_lo, k_hi in grids]
    if bins is None:
        # The MISE-optimal histogram width shrinks like n^(-1/(d+2)).
        bins = max(1, math.ceil(min(x.shape[0], y.shape[0]) ** (1.0 / (d + 2))))
    counts = [bins] * d if isinstance(bins, numbers.Integral) else list(bins)
    if len(counts) != d:
        raise ValueError(f"bins must be an int or one int per dimension ({d}); got {bins!r}")
    counts = [check_positive_int(c, "bins") for c in counts]
    _check_cells(math.prod(counts))
    edges = []
    for (lo, hi), c in zip(limits, counts):
        if hi == lo:  # every point at one coordinate value: one bin around it
            lo, hi = lo - 0.5, hi + 0.5
        edges.append(np.linspace(lo, hi, c + 1))
    return edges


def histogram_divergences(x, y, *, bin_width=None, bins=None, range=None) -> dict:
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

    Returns
    -------
    dict
        ``{"kl": float, "js": float, "tv": float}``.

    Raises
    ------
    ValueError
        On invalid samples, mismatched dimensions, both ``bin_width`` and
        ``bins``, an invalid ``range``, a grid with more than
        ``MAX_CELLS`` cells, or when ``range`` leaves either sample empty.

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
    >>> histogram_divergences([0.1, 0.7], [0.1, 0.7], bins=2)
    {'kl': 0.0, 'js': 0.0, 'tv': 0.0}
    """
    x, y = _two_samples(x, y)
    edges = _bin_edges(x, y, bin_width, bins, range)
    p, _ = np.histogramdd(x, bins=edges)
    q, _ = np.histogramdd(y, bins=edges)
    for counts, name in ((p, "x"), (q, "y")):
        if counts.sum() == 0:
            raise ValueError(f"{name} has no point inside range; got range={range!r}")
    p, q = p.ravel(), q.ravel()
    return {"kl": _kl(p, q), "js": _js(p, q), "tv": _tv(p, q)}


# --------------------------------------------------------------------------- k-NN


def knn_kl(x, y, *, k: int = 1) -> float:
    r"""k-nearest-neighbour estimate of :math:`\mathrm{KL}(P\,\|\,Q)` from samples.

    The estimator of Wang, Kulkarni & Verdú (2009):

    .. math::

        \widehat{\mathrm{KL}}(P\,\|\,Q) = \frac{d}{n} \sum_{i=1}^{n}
        \log \frac{\nu_k(i)}{\rho_k(i)} + \log \frac{m}{n - 1},

    where :math:`\rho_k(i)` is the Euclidean distance from :math:`x_i` to its
    k-th nearest neighbour among the other points of ``x`` and
    :math:`\nu_k(i)` the distance to its k-th nearest neighbour in ``y``.

    Parameters
    ----------
    x : array-like, shape (n, d) or (n,)
        Sample from :math:`P`, with ``n >= k + 1`` distinct points.
    y : array-like, shape (m, d) or (m,)
        Sample from :math:`Q`, same dimension, ``m >= k``.
    k : int, default 1
        Neighbour rank.  Larger ``k`` lowers the variance and raises the bias.

    Returns
    -------
    float
        The estimate (natural log).  It can be negative: unlike the true
        divergence, the estimator is not constrained to be non-negative.

    Raises
    ------
    ValueError
        On invalid samples, mismatched dimensions, ``n < k + 1`` or ``m < k``;
        when some :math:`\rho_k(i) = 0` (a point of ``x`` repeated at least
        ``k + 1`` times) or some :math:`\nu_k(i) = 0` (a point of ``x``
        repeated ``k`` times in ``y``): the logarithm would be infinite.

    Notes
    -----
    The estimator is asymptotically unbiased and mean-square consistent when
    :math:`P` and :math:`Q` have densities on :math:`\mathbb R^d` (under mild
    regularity conditions); its bias grows with the dimension and with ``k``.
    It is *not* meant for discrete data (duplicated points are rejected: add
    jitter deliberately if that is what you want) nor for laws supported on
    lower-dimensional sets.  When :math:`P` and :math:`Q` live on disjoint
    manifolds (the parallel lines), :math:`\rho_k \to 0` while
    :math:`\nu_k` stays bounded below and the estimate grows without bound
    with ``n``, matching :math:`\mathrm{KL} = \infty` only in the limit;
    on a common manifold of dimension :math:`< d` the factor ``d`` is wrong.

    References
    ----------
    Q. Wang, S. R. Kulkarni, S. Verdú (2009). Divergence estimation for
    multidimensional densities via k-nearest-neighbor distances.
    IEEE Trans. Inf. Theory 55(5), 2392–2405.

    Examples
    --------
    On a grid of spacing 1, with ``y`` the grid shifted by one half, every
    :math:`\rho_1 = 1` and :math:`\nu_1 = 1/2`, so the estimate is
    :math:`\log\tfrac12 + \log\tfrac{m}{n - 1} = \log\tfrac23`:

    >>> knn_kl([0.0, 1.0, 2.0, 3.0], [0.5, 1.5, 2.5, 3.5])  # doctest: +ELLIPSIS
    -0.405465...
    >>> round(math.log(2 / 3), 6)
    -0.405465
    """
    k = check_positive_int(k, "k")
    x, y = _two_samples(x, y)
    (n, d), m = x.shape, y.shape[0]
    if n < k + 1:
        raise ValueError(f"x must have at least k + 1 = {k + 1} points; got n={n}")
    if m < k:
        raise ValueError(f"y must have at least k = {k} points; got m={m}")
    # k + 1 neighbours of x_i in x: the nearest is x_i itself at distance 0.
    rho = cKDTree(x).query(x, k=[k + 1])[0][:, 0]
    nu = cKDTree(y).query(x, k=[k])[0][:, 0]
    if not rho.min() > 0:
        raise ValueError(
            f"x has {int(np.sum(rho == 0))} points whose k-th neighbour (k={k}) in x is at "
            "distance 0 (repeated points); the k-NN estimator needs samples from a density"
        )
    if not nu.min() > 0:
        raise ValueError(
            f"y contains {int(np.sum(nu == 0))} points of x at least k={k} times "
            "(distance 0); the k-NN estimator needs samples from densities"
        )
    return float(d * np.mean(np.log(nu) - np.log(rho)) + math.log(m / (n - 1)))


# --------------------------------------------------------------------------- classifier


@dataclass(frozen=True)
class ClassifierJSResult:
    r"""Result of :func:`classifier_js`.

    Attributes
    ----------
    js : float
        The held-out estimate clipped to :math:`[0, \log 2]` (only the lower
        clip can be active, see ``js_raw``).
    js_raw : float
        The held-out estimate :math:`\tfrac12 (V + \log 4)` before clipping:
        at most :math:`\log 2` by construction, below 0 when the classifier
        does worse than chance on the test split (overfitting, ``P = Q``).
    js_train : float
        The same estimate on the training split (biased upwards by
        overfitting; compare with ``js_raw`` to diagnose it).
    accuracy : float
        Held-out balanced accuracy (the mean of the per-class accuracies).
    train_accuracy : float
        Balanced accuracy on the training split.
    n_train, n_val, n_test : tuple of int
        Points of ``(x, y)`` used to fit, to choose the stopping step, and to
        estimate.
    best_step : int
        The step whose network was kept (the best validation value).
    steps : int
        Optimisation steps taken.
    """

    js: float
    js_raw: float
    js_train: float
    accuracy: float
    train_accuracy: float
    n_train: tuple
    n_val: tuple
    n_test: tuple
    best_step: int
    steps: int


#: Fraction of the training split set aside to choose the stopping step.
VAL_FRACTION = 0.2

#: Steps between two evaluations of the validation value.
EVAL_EVERY = 10


def _split(n: int, test_size: float, rng: np.random.Generator, name: str):
    """Indices (fit, validation, test) of a random three-way split of n points."""
    n_test = int(round(test_size * n))
    n_val = int(round(VAL_FRACTION * (n - n_test)))
    if min(n_test, n_val, n - n_test - n_val) < 1:
        raise ValueError(
            f"{name} must have enough points for the fit, validation and test splits at "
            f"test_size={test_size:g}; got n={n}"
        )
    perm = rng.permutation(n)
    return perm[n_test + n_val :], perm[n_test : n_test + n_val], perm[:n_test]


def _value(net, x, y):
    """Empirical :math:`V = E_x \\log D(x) + E_y \\log(1 - D(y))` with D = sigmoid(logit)."""
    import torch.nn.functional as F

    return F.logsigmoid(net(x)).mean() + F.logsigmoid(-net(y)).mean()


def _balanced_accuracy(net, x, y) -> float:
    hits_x = (net(x) > 0).double().mean()
    hits_y = (net(y) <= 0).double().mean()
    return float(0.5 * (hits_x + hits_y))


def _train(net, fit, val, *, steps: int, lr: float, weight_decay: float) -> int:
    """Full-batch Adam on the balanced logistic loss :math:`-V`, early-stopped.

    Every ``EVAL_EVERY`` steps the value on the validation split is measured;
    the parameters with the best one are loaded back at the end.  Returns the
    step they come from.
    """
    import torch

    opt = torch.optim.Adam(net.parameters(), lr=lr, weight_decay=weight_decay)
    best_value, best_step, best_state = -math.inf, 0, None
    for step in range(1, steps + 1):
        opt.zero_grad(set_to_none=True)
        loss = -_value(net, *fit)
        loss.backward()
        opt.step()
        if step % EVAL_EVERY == 0 or step == steps:
            with torch.no_grad():
                value = float(_value(net, *val))
            if value > best_value:
                best_value, best_step = value, step
                best_state = [p.detach().clone() for p in net.parameters()]
    with torch.no_grad():
        for p, best in zip(net.parameters(), best_state):
            p.copy_(best)
    return best_step


def classifier_js(
    x,
    y,
    *,
    test_size: float = 0.3,
    seed: int = 0,
    hidden: int = 64,
    steps: int = 300,
    lr: float | None = None,
    weight_decay: float = 0.0,
    device="cpu",
) -> ClassifierJSResult:
    r"""Estimate the Jensen–Shannon divergence with a trained classifier.

    A small MLP discriminator :math:`D = \sigma(f)` is trained to tell ``x``
    (label 1) from ``y`` (label 0) by maximising the balanced GAN value

    .. math::

        V(D) = \mathbb E_{x \sim P} \log D(x) + \mathbb E_{y \sim Q} \log(1 - D(y))
        \;\le\; V(D^*) = 2\,\mathrm{JS}(P, Q) - \log 4,

    with :math:`D^* = p/(p+q)` the optimal discriminator (Goodfellow et al.,
    2014).  On the held-out split,
    :math:`\widehat{\mathrm{JS}} = \tfrac12 (\hat V + \log 4)`.

    Parameters
    ----------
    x : array-like, shape (n, d) or (n,)
        Sample from :math:`P`.
    y : array-like, shape (m, d) or (m,)
        Sample from :math:`Q`, same dimension.  ``n`` and ``m`` may differ:
        each class's term is an average over its own points, so the classes
        are balanced whatever their sizes.
    test_size : float, default 0.3
        Fraction of each sample held out for the estimate, in (0, 1).
    seed : int, default 0
        Seeds the split and the network's initialisation (the caller's
        global torch and numpy random states are left untouched).
    hidden : int, default 64
        Width of the two hidden ReLU layers.
    steps : int, default 300
        Full-batch Adam steps (at most; see Notes on early stopping).
    lr : float, optional
        Adam learning rate; by default :math:`10^{-2}/\sqrt d`, smaller in
        high dimension where Adam's per-coordinate steps would otherwise fit
        the noise coordinates within a few steps.
    weight_decay : float, default 0
        Adam weight decay (an L2 penalty), to curb overfitting on small samples.
    device : str or torch.device, default "cpu"
        Where to train.

    Returns
    -------
    ClassifierJSResult
        ``js`` (held-out, clipped), ``js_raw``, ``js_train``, ``accuracy``
        (held-out, balanced), ``train_accuracy``, ``n_train``, ``n_val``,
        ``n_test``, ``best_step``, ``steps``.

    Raises
    ------
    ValueError
        On invalid samples, mismatched dimensions, ``test_size`` outside
        (0, 1), or a sample too small to split.

    Notes
    -----
    Each sample is split at random into test (``test_size``), validation
    (``VAL_FRACTION`` of the rest) and fit points.  Inputs are centred at the
    fit points' pooled mean and divided by one overall standard deviation
    (one scalar, so the geometry is kept).  The network is trained by
    full-batch Adam on the fit points; every ``EVAL_EVERY`` steps :math:`V` is
    measured on the validation points, and the best network is kept (early
    stopping), which guards against overfitting in high dimension.  Because any discriminator gives
    :math:`V(D) \le V(D^*)`, the held-out estimate is, up to sampling noise,
    a **lower bound** on JS: an under-trained or too small network
    underestimates it, and so does overfitting (confident mistakes on the
    test split make :math:`\hat V` very negative).  The training-split value
    ``js_train`` is biased the other way.  ``js_raw`` never exceeds
    :math:`\log 2` (as :math:`\hat V \le 0`) but is negative when the
    classifier does worse than chance on the test split, as happens for
    :math:`P = Q`; ``js`` clips it at 0.  When the supports are disjoint the
    classifier separates them, the held-out accuracy approaches 1 and the
    estimate pins at :math:`\log 2` — however far apart the supports are.

    With few points in high dimension (say 1000 points per class in
    :math:`\mathbb R^{1000}` with full-dimensional noise) the network can
    fit the noise before it finds the signal; early stopping then keeps an
    early, under-trained network and the estimate is low.  Laws supported on
    low-dimensional sets embedded in :math:`\mathbb R^D` (the manifold
    experiment) do not have this problem.

    The network is small and trained full-batch, so the cost is dominated by
    per-operation overhead: on a busy multi-core CPU,
    ``torch.set_num_threads(1)`` in the calling program is often much faster.

    References
    ----------
    I. Goodfellow et al. (2014). Generative adversarial nets. NeurIPS 27,
    Proposition 1 and Theorem 1.
    M. Arjovsky, L. Bottou (2017). Towards principled methods for training
    generative adversarial networks. ICLR.

    Examples
    --------
    Two clouds far apart are perfectly separated, and JS is log 2 (one
    torch thread is fastest for a problem this small):

    >>> import numpy as np, torch
    >>> n_threads = torch.get_num_threads()
    >>> torch.set_num_threads(1)
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(200, 2))
    >>> res = classifier_js(x, x + 20.0, steps=100)
    >>> res.accuracy
    1.0
    >>> abs(res.js - math.log(2)) < 0.01
    True
    >>> torch.set_num_threads(n_threads)
    """
    import torch

    from .networks import mlp, seeded

    x, y = _two_samples(x, y)
    test_size = check_positive(test_size, "test_size")
    if not test_size < 1:
        raise ValueError(f"test_size must be in (0, 1); got {test_size!r}")
    hidden = check_positive_int(hidden, "hidden")
    steps = check_positive_int(steps, "steps")
    weight_decay = check_positive(weight_decay, "weight_decay", allow_zero=True)

    d = x.shape[1]
    lr = 1e-2 / math.sqrt(d) if lr is None else check_positive(lr, "lr")

    rng = np.random.default_rng(seed)
    x_idx = _split(x.shape[0], test_size, rng, "x")
    y_idx = _split(y.shape[0], test_size, rng, "y")
    pooled = np.concatenate([x[x_idx[0]], y[y_idx[0]]])
    mean = pooled.mean(axis=0)
    scale = float(np.sqrt(np.mean((pooled - mean) ** 2))) or 1.0

    def tensors(a, idx):
        return [
            torch.as_tensor((a[i] - mean) / scale, dtype=torch.float32, device=device)
            for i in idx
        ]

    (x_fit, x_val, x_test), (y_fit, y_val, y_test) = tensors(x, x_idx), tensors(y, y_idx)
    with seeded(seed):
        net = mlp(d, 1, (hidden, hidden)).to(x_fit.device)
    with torch.enable_grad():
        best_step = _train(
            net, (x_fit, y_fit), (x_val, y_val), steps=steps, lr=lr, weight_decay=weight_decay
        )
    with torch.no_grad():
        js_raw = 0.5 * (float(_value(net, x_test, y_test)) + 2 * _LOG2)
        js_train = 0.5 * (float(_value(net, x_fit, y_fit)) + 2 * _LOG2)
        accuracy = _balanced_accuracy(net, x_test, y_test)
        train_accuracy = _balanced_accuracy(net, x_fit, y_fit)
    return ClassifierJSResult(
        js=min(max(js_raw, 0.0), _LOG2),
        js_raw=js_raw,
        js_train=js_train,
        accuracy=accuracy,
        train_accuracy=train_accuracy,
        n_train=tuple(len(i) for i in (x_idx[0], y_idx[0])),
        n_val=tuple(len(i) for i in (x_idx[1], y_idx[1])),
        n_test=tuple(len(i) for i in (x_idx[2], y_idx[2])),
        best_step=best_step,
        steps=steps,
    )
