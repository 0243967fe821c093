"""The classifier (GAN discriminator) estimate of the Jensen–Shannon divergence."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

from ..frames import common_scale
from .._validation import check_positive, check_positive_int
from .._warnings import ConvergenceWarning, external_stacklevel
from ._common import two_samples

__all__ = ["classifier_js", "ClassifierJSResult", "VAL_FRACTION", "EVAL_EVERY", "BOUND_Z"]

_LOG2 = math.log(2.0)


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
    std_error : float
        Standard error of ``js_raw`` over the test points:
        :math:`\tfrac12 (s_x^2 / n_x + s_y^2 / n_y)^{1/2}` with :math:`s_x^2`
        and :math:`s_y^2` the variances of :math:`\log D(x_i)` and
        :math:`\log(1 - D(y_j))` on the test split (which played no part in
        training).  It measures the sampling spread of the held-out value,
        not the bias of a classifier short of optimal (Notes).
    n_train, n_val, n_test : tuple of int
        Points of ``(x, y)`` used to fit, to choose the stopping step, and to
        estimate.
    best_step : int
        The step whose network was kept (the best validation value).
    steps : int
        Optimisation steps taken.
    js_lower_bound : float
        A lower confidence bound on JS that the classifier's hard decisions on
        the test split certify: with :math:`g = 1[D > 1/2]`,
        :math:`\mathrm{JS}(P, Q) \ge \mathrm{JS}(g_\# P, g_\# Q)` (data
        processing), the JS of two Bernoulli laws whose parameters are bounded
        by Wilson score intervals at :data:`BOUND_Z` standard errors.
    converged : bool
        False when ``js`` is below ``js_lower_bound``: the held-out log-loss
        contradicts the classifier's own accuracy, so its confidences are
        wrong (training diverged or overfit); a ``ConvergenceWarning`` says so.
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
    std_error: float = float("nan")
    js_lower_bound: float = 0.0
    converged: bool = True


#: Fraction of the training split set aside to choose the stopping step.
VAL_FRACTION = 0.2

#: Steps between two evaluations of the validation value.
EVAL_EVERY = 10

#: Standard errors of the Wilson intervals behind ``js_lower_bound`` (two-sided tails of
#: about 6e-5 for the pair).
BOUND_Z = 4.0


def _wilson(hits: float, n: int, z: float) -> tuple[float, float]:
    """The Wilson score interval of a proportion ``hits`` out of ``n`` trials."""
    centre, spread = hits + z * z / (2 * n), z * math.sqrt(hits * (1 - hits) / n + z * z / (4 * n * n))
    return (centre - spread) / (1 + z * z / n), (centre + spread) / (1 + z * z / n)


def _bernoulli_js(p: float, q: float) -> float:
    """JS (natural log, the 1/2 convention) between Bernoulli(p) and Bernoulli(q)."""
    def term(u, v):
        return u * math.log(2 * u / (u + v)) if u > 0 else 0.0

    return 0.5 * (term(p, q) + term(1 - p, 1 - q) + term(q, p) + term(1 - q, 1 - p))


def _accuracy_bound(net, x, y, z: float = BOUND_Z) -> float:
    r"""Lower confidence bound on JS from the hard decisions :math:`1[f > 0]` on ``x``, ``y``.

    With :math:`p = P(f > 0)` and :math:`q = Q(f > 0)`, JS of the two Bernoulli laws is
    increasing in :math:`p - q` away from :math:`p = q`, so its value at the near ends of
    the two intervals bounds it below (either orientation of the classifier).
    """
    p = float((net(x) > 0).double().mean())
    q = float((net(y) > 0).double().mean())
    (p_lo, p_hi), (q_lo, q_hi) = _wilson(p, x.shape[0], z), _wilson(q, y.shape[0], z)
    if p_lo > q_hi:
        return _bernoulli_js(p_lo, q_hi)
    if q_lo > p_hi:
        return _bernoulli_js(p_hi, q_lo)
    return 0.0


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


def _value_std_error(net, x, y) -> float:
    """Standard error of :func:`_value` over the rows of ``x`` and ``y`` (independent terms)."""
    import torch.nn.functional as F

    terms = (F.logsigmoid(net(x)).double(), F.logsigmoid(-net(y)).double())
    variance = sum(t.var() / t.numel() if t.numel() > 1 else float("nan") for t in terms)
    return float(variance) ** 0.5


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
        ``js`` (held-out, clipped), ``js_raw``, ``std_error`` (of ``js_raw``),
        ``js_train``, ``accuracy`` (held-out, balanced), ``train_accuracy``,
        ``n_train``, ``n_val``, ``n_test``, ``best_step``, ``steps``,
        ``js_lower_bound`` and ``converged``.

    Warns
    -----
    ConvergenceWarning
        When ``js`` is below ``js_lower_bound``, the lower bound on JS that the
        classifier's hard decisions on the test split certify
        (``converged=False``): the log-loss contradicts the accuracy, so the
        network's confidences are wrong.  With ``lr=1`` on two Gaussians 10 sd
        apart, a few test points with huge wrong logits made ``js_raw`` about
        -2.5 (clipped to 0) at a balanced accuracy of 0.9994, with no warning.

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
    (one scalar, so the geometry is kept; computed without overflow or
    underflow, so the estimate is the same at any offset and at scales from
    1e-300 to 1e300).  The network is trained by
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
    :math:`P = Q` (overfitting takes it to about -4 standard errors); ``js``
    clips it at 0.  A threshold on ``js_raw`` cannot tell that from a
    diverged network; the hard decisions can: by data processing
    :math:`\mathrm{JS}(P, Q) \ge \mathrm{JS}(g_\# P, g_\# Q)` for
    :math:`g = 1[D > 1/2]`, and at :math:`P = Q` the test accuracy beats chance
    by 4 standard errors with probability about 3e-5, so ``js_lower_bound`` is
    0 there.  ``std_error`` is the sampling
    error of ``js_raw`` given the trained network; a difference
    ``js_train - js_raw`` much larger than it signals overfitting.  When the supports are disjoint the
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

    from ..networks import mlp, seeded

    x, y = two_samples(x, y)
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
    mean, scale = common_scale(x[x_idx[0]], y[y_idx[0]])

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
        std_error = 0.5 * _value_std_error(net, x_test, y_test)
        js_train = 0.5 * (float(_value(net, x_fit, y_fit)) + 2 * _LOG2)
        accuracy = _balanced_accuracy(net, x_test, y_test)
        train_accuracy = _balanced_accuracy(net, x_fit, y_fit)
        bound = _accuracy_bound(net, x_test, y_test)
    js = min(max(js_raw, 0.0), _LOG2)
    if js < bound:
        warnings.warn(
            f"classifier_js: the held-out estimate {js:.4g} (raw {js_raw:.4g} +- {std_error:.2g}) "
            f"is below {bound:.4g}, the lower bound on JS that the classifier's own held-out "
            f"decisions certify (balanced accuracy {accuracy:.4f}): its confidences are wrong, "
            f"as when training diverges or overfits (lr={lr:g}); converged=False. Try a "
            "smaller lr.", ConvergenceWarning, stacklevel=external_stacklevel())
    return ClassifierJSResult(
        js=js,
        js_raw=js_raw,
        js_train=js_train,
        accuracy=accuracy,
        train_accuracy=train_accuracy,
        n_train=tuple(len(i) for i in (x_idx[0], y_idx[0])),
        n_val=tuple(len(i) for i in (x_idx[1], y_idx[1])),
        n_test=tuple(len(i) for i in (x_idx[2], y_idx[2])),
        best_step=best_step,
        steps=steps,
        std_error=std_error,
        js_lower_bound=bound,
        converged=not js < bound,
    )
