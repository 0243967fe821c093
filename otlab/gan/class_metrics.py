r"""Measures of class-conditional and code-controlled generators, exact on finite samples.

A conditional generator is judged class by class: for each class :math:`k`
the exact :math:`W_1` between the real points of class :math:`k` and the
points generated for class :math:`k` (:func:`per_class_w1`), and whether the
points generated for :math:`k` land on class :math:`k` (:func:`class_report`).

An InfoGAN code :math:`C` is judged by the **mutual information** between the
code and the class :math:`M` of the generated point (nearest mode, or the
digit a classifier reads), computed exactly from the table of counts
:math:`n_{cm}` (:func:`contingency`), with :math:`N = \sum n_{cm}` and
:math:`p_{cm} = n_{cm} / N`:

.. math::

    I(C; M) = \sum_{c, m} p_{cm} \log \frac{p_{cm}}{p_{c\cdot}\, p_{\cdot m}}
    \quad \text{(nats)}, \qquad 0 \le I(C; M) \le \min(H(C), H(M)).

InfoGAN's variational bound with a decoder :math:`q(c \mid m)` that sees the
class only,

.. math::

    L_I(q) = H(C) + \sum_{c, m} p_{cm} \log q(c \mid m) \;\le\; I(C; M),

with equality exactly when :math:`q(c \mid m) = p_{cm} / p_{\cdot m}`
(Gibbs' inequality; :func:`variational_bound`).  InfoGAN's own bound uses
a decoder :math:`Q(c \mid x)` of the whole point and bounds :math:`I(C; X)`;
since :math:`M` is a function of :math:`X`, :math:`I(C; M) \le I(C; X)` too,
so the two numbers are two lower bounds of the same quantity and neither
need be below the other.
"""

from __future__ import annotations

import numpy as np

from .._validation import check_positive_int
from .data import assign_classes, mixture_modes, n_classes
from .metrics import exact_w1

__all__ = ["contingency", "mutual_information", "variational_bound", "mode_ownership",
           "match_codes", "per_class_w1", "class_report", "code_report", "class_sampling_floor"]


def _as_counts(counts) -> np.ndarray:
    n = np.asarray(counts, dtype=np.float64)
    if n.ndim != 2 or n.size == 0:
        raise ValueError(f"counts must be a non-empty 2-D table; got shape {n.shape}")
    if not np.all(np.isfinite(n)) or n.min() < 0:
        raise ValueError(f"counts must be finite and non-negative; got min {n.min()!r}")
    if n.sum() <= 0:
        raise ValueError("counts must have a positive total; got an all-zero table")
    return n


def contingency(codes, classes, *, n_codes: int, n_classes: int) -> np.ndarray:
    """Table ``counts[c, m]`` of how often code ``c`` came with class ``m``.

    >>> contingency([0, 0, 1, 1, 1], [2, 2, 0, 0, 1], n_codes=2, n_classes=3)
    array([[0, 0, 2],
           [2, 1, 0]])
    """
    n_codes, n_classes = check_positive_int(n_codes, "n_codes"), check_positive_int(n_classes,
                                                                                     "n_classes")
    codes, classes = np.asarray(codes, dtype=np.int64), np.asarray(classes, dtype=np.int64)
    if codes.shape != classes.shape or codes.ndim != 1:
        raise ValueError(f"codes and classes must be 1-D of one length; got shapes "
                         f"{codes.shape} and {classes.shape}")
    for name, v, k in (("codes", codes, n_codes), ("classes", classes, n_classes)):
        if v.size and (v.min() < 0 or v.max() >= k):
            raise ValueError(f"{name} must lie in [0, {k}); got values {v.min()}..{v.max()}")
    return np.bincount(codes * n_classes + classes,
                       minlength=n_codes * n_classes).reshape(n_codes, n_classes)


def mutual_information(counts) -> float:
    r"""Exact mutual information (nats) of the joint law given by a table of counts.

    :math:`I = \sum_{cm} p_{cm} \log(p_{cm} / (p_{c\cdot} p_{\cdot m}))` with
    :math:`p = n / N`; empty cells contribute 0.  Rounding below 0 is
    returned as 0.

    Examples
    --------
    A code that names the class among four equally likely ones carries
    :math:`\log 4` nats; a code independent of the class carries none.

    >>> bool(np.isclose(mutual_information(25 * np.eye(4)), np.log(4), rtol=1e-14))
    True
    >>> mutual_information([[10, 30], [20, 60]])
    0.0
    """
    n = _as_counts(counts)
    total = n.sum()
    rows, cols = n.sum(axis=1, keepdims=True), n.sum(axis=0, keepdims=True)
    nz = n > 0
    ratio = (n * total)[nz] / (rows * cols)[nz]  # p_cm / (p_c p_m), no underflow at huge N
    value = float(np.sum(n[nz] / total * np.log(ratio)))
    return max(value, 0.0)


def variational_bound(counts, q) -> float:
    r"""InfoGAN's bound :math:`L_I = H(C) + \mathbb{E} \log q(C \mid M)` for a class-only decoder.

    Parameters
    ----------
    counts : array_like, shape (n_codes, n_classes)
        Joint counts of code and class (:func:`contingency`).
    q : array_like, shape (n_codes, n_classes)
        The decoder :math:`q(c \mid m)`: non-negative, each column sums to 1.

    Returns
    -------
    float
        :math:`L_I(q) \le I(C; M)` (:func:`mutual_information`), with equality
        at :math:`q(c \mid m) = n_{cm} / n_{\cdot m}`; ``-inf`` when ``q``
        gives probability 0 to a pair that occurs.

    Examples
    --------
    >>> counts = np.array([[8, 2], [2, 8]])
    >>> posterior = counts / counts.sum(axis=0)
    >>> bool(np.isclose(variational_bound(counts, posterior), mutual_information(counts)))
    True
    >>> variational_bound(counts, np.full((2, 2), 0.5))  # a decoder that guesses: L_I = 0
    0.0
    """
    n = _as_counts(counts)
    q = np.asarray(q, dtype=np.float64)
    if q.shape != n.shape:
        raise ValueError(f"q must have the shape of counts {n.shape}; got {q.shape}")
    if q.min() < 0 or not np.allclose(q.sum(axis=0), 1.0, rtol=0, atol=1e-9):
        raise ValueError(f"q must be non-negative with columns summing to 1 (q(c | m)); got "
                         f"column sums {np.round(q.sum(axis=0), 6).tolist()}")
    p = n / n.sum()
    pc = p.sum(axis=1)
    entropy = -float(np.sum(pc[pc > 0] * np.log(pc[pc > 0])))
    nz = p > 0
    with np.errstate(divide="ignore"):
        return entropy + float(np.sum(p[nz] * np.log(q[nz])))


def mode_ownership(counts, *, purity: float = 0.9, min_count: int = 20) -> dict:
    """Does each code value pick one mode (class)?  Fractions from a table of counts.

    A class is *owned* by one code value when it received at least
    ``min_count`` generated points and at least ``purity`` of them carry the
    same code value.  ``code_purity`` is the mean over the code values that
    occur of the share of their points in their most frequent class (1 when
    every code value puts all its points in one class).

    Returns
    -------
    dict with ``modes_owned_fraction`` (owned classes / all classes) and
    ``code_purity``.

    Examples
    --------
    >>> mode_ownership(30 * np.eye(3))
    {'modes_owned_fraction': 1.0, 'code_purity': 1.0}
    >>> mode_ownership([[30, 30, 0], [0, 0, 30], [0, 0, 0]])  # code 0 spans two classes
    {'modes_owned_fraction': 1.0, 'code_purity': 0.75}
    >>> mode_ownership([[20, 0], [20, 20]])  # class 0 is split between the codes
    {'modes_owned_fraction': 0.5, 'code_purity': 0.75}
    """
    n = _as_counts(counts)
    cols, rows = n.sum(axis=0), n.sum(axis=1)
    seen = cols >= min_count
    owned = seen & (n.max(axis=0) >= purity * np.where(seen, cols, np.inf))
    used = rows > 0
    return {"modes_owned_fraction": float(owned.sum() / n.shape[1]),
            "code_purity": float(np.mean(n.max(axis=1)[used] / rows[used]))}


def match_codes(counts) -> np.ndarray:
    """The class matched to each code value: the one-to-one matching with most points in agreement.

    Solved as an assignment problem on ``counts`` (SciPy's
    :func:`~scipy.optimize.linear_sum_assignment`); a code value left over
    (more codes than classes) gets ``-1``.

    >>> match_codes([[0, 9, 1], [8, 0, 2]]).tolist()
    [1, 0]
    >>> match_codes([[5], [7]]).tolist()
    [-1, 0]
    """
    from scipy.optimize import linear_sum_assignment

    n = _as_counts(counts)
    rows, cols = linear_sum_assignment(n, maximize=True)
    match = np.full(n.shape[0], -1, dtype=np.int64)
    match[rows] = cols
    return match


def per_class_w1(real, real_labels, fake, fake_labels, n_labels: int, *,
                 max_iter: int = 100_000_000) -> np.ndarray:
    r"""Exact :math:`W_1` between the real and the generated points of each class.

    Returns an array of length ``n_labels``; a class without a real or
    without a generated point gets NaN (its :math:`W_1` is undefined).

    Examples
    --------
    Shifting the points of class 1 by 0.3 moves its :math:`W_1` by exactly
    0.3 and leaves class 0 at 0:

    >>> x = np.array([[0.0, 0.0], [1.0, 0.0], [5.0, 5.0], [6.0, 5.0]])
    >>> labels = np.array([0, 0, 1, 1])
    >>> per_class_w1(x, labels, x + [[0, 0], [0, 0], [0.3, 0], [0.3, 0]], labels, 3).round(6)
    array([0. , 0.3, nan])
    """
    n_labels = check_positive_int(n_labels, "n_labels")
    real, fake = np.asarray(real, dtype=np.float64), np.asarray(fake, dtype=np.float64)
    real_labels, fake_labels = np.asarray(real_labels), np.asarray(fake_labels)
    out = np.full(n_labels, np.nan)
    for k in range(n_labels):
        x, y = real[real_labels == k], fake[fake_labels == k]
        if len(x) and len(y):
            out[k] = exact_w1(x, y, max_iter=max_iter)
    return out


def _mean_or_nan(values: np.ndarray) -> float:
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if finite.size else float("nan")


def _on_target(data: str, fake, fake_labels, assigned) -> np.ndarray:
    """Generated points whose class is their label (for mixtures: within 3 sigma of its mode)."""
    hit = assigned == fake_labels
    mix = mixture_modes(data)
    if mix is not None:
        modes, std = mix
        hit &= np.linalg.norm(fake - modes[fake_labels], axis=1) <= 3.0 * std
    return hit


def class_hits(data: str, fake, fake_labels=None) -> np.ndarray:
    r"""Per class, the generated points labelled with it that are of that class.

    For mixtures a point must also lie within :math:`3\sigma` of the class's
    mode; without ``fake_labels`` (an unconditional generator) each point takes
    the class :func:`~otlab.gan.data.assign_classes` gives it.  A class is
    *covered* when its count reaches ``min_count`` (:func:`class_report`).

    >>> from otlab.gan.data import mixture_modes
    >>> modes = mixture_modes("8gaussians")[0]
    >>> class_hits("8gaussians", modes[[0, 0, 3]], [0, 1, 3]).tolist()
    [1, 0, 0, 1, 0, 0, 0, 0]
    """
    fake = np.asarray(fake, dtype=np.float64)
    assigned = assign_classes(data, fake)
    labels = assigned if fake_labels is None else np.asarray(fake_labels, dtype=np.int64)
    return np.bincount(labels[_on_target(data, fake, labels, assigned)],
                       minlength=n_classes(data))


def class_report(data: str, real, real_labels, fake, fake_labels=None, *,
                 min_count: int = 20, max_iter: int = 100_000_000) -> dict:
    r"""Per-class exact :math:`W_1`, class coverage and label accuracy of a generator.

    ``fake_labels`` are the labels the generated points were conditioned on;
    without them (an unconditional generator) each generated point takes the
    class :func:`~otlab.gan.data.assign_classes` gives it, so both kinds
    of generator are measured by the same rule.

    Returns
    -------
    dict
        ``w1_class_k`` for every class ``k`` (NaN when no point was generated
        for ``k``), ``mean_class_w1`` (their mean; NaN unless every class was
        generated, since a missing class has no :math:`W_1`),
        ``mean_generated_class_w1`` (the mean over the classes generated),
        ``classes_generated``, ``classes_covered`` (classes with at
        least ``min_count`` generated points labelled ``k`` that are of class
        ``k`` -- for mixtures, within :math:`3\sigma` of mode ``k``) and
        ``label_accuracy`` (share of the generated points whose class is
        their label; NaN without ``fake_labels``).

    Examples
    --------
    >>> from otlab.gan.data import LabelledSampler
    >>> import torch
    >>> sampler = LabelledSampler("8gaussians")
    >>> x, y = (t.numpy() for t in sampler(800, generator=torch.Generator().manual_seed(0)))
    >>> r = class_report("8gaussians", x, y, x, y)  # a perfect conditional generator
    >>> r["mean_class_w1"], r["classes_covered"], r["label_accuracy"]
    (0.0, 8, 1.0)
    """
    k = n_classes(data)
    fake = np.asarray(fake, dtype=np.float64)
    assigned = assign_classes(data, fake)
    labels = assigned if fake_labels is None else np.asarray(fake_labels, dtype=np.int64)
    w1 = per_class_w1(real, real_labels, fake, labels, k, max_iter=max_iter)
    hits = class_hits(data, fake, fake_labels)
    accuracy = float("nan") if fake_labels is None else float(np.mean(assigned == labels))
    return {**{f"w1_class_{j}": float(w) for j, w in enumerate(w1)},
            "mean_class_w1": float(w1.mean()),
            "mean_generated_class_w1": _mean_or_nan(w1),
            "classes_generated": int(np.isfinite(w1).sum()),
            "classes_covered": int((hits >= min_count).sum()),
            "label_accuracy": accuracy}


def code_report(data: str, real, real_labels, fake, codes, n_codes: int, *,
                min_count: int = 20, max_iter: int = 100_000_000) -> dict:
    r"""How an InfoGAN code controls the class: exact mutual information, ownership, :math:`W_1`.

    Each generated point takes the class :func:`~otlab.gan.data.assign_classes`
    gives it; the table of (code, class) counts gives the exact
    :func:`mutual_information`, :func:`mode_ownership` and the matching of
    code values to classes (:func:`match_codes`).  The exact :math:`W_1` of
    code value ``c`` is between its generated points and the real points of
    its matched class.

    Returns
    -------
    dict
        ``mutual_information`` (nats), ``modes_owned_fraction``,
        ``code_purity``, ``w1_code_c`` for every code value (NaN when it has
        no matched class), ``mean_code_w1`` and ``classes_covered`` (classes
        with at least ``min_count`` generated points; for mixtures within
        :math:`3\sigma` of the mode).

    Examples
    --------
    A generator whose code ``c`` always draws the real class ``c`` carries
    :math:`\log 8` nats and owns every mode:

    >>> from otlab.gan.data import LabelledSampler
    >>> import torch
    >>> x, y = (t.numpy() for t in LabelledSampler("8gaussians")(
    ...     1600, generator=torch.Generator().manual_seed(1)))
    >>> r = code_report("8gaussians", x, y, x, y, 8)
    >>> bool(np.isclose(r["mutual_information"], mutual_information(
    ...     contingency(y, y, n_codes=8, n_classes=8))))
    True
    >>> r["modes_owned_fraction"], r["code_purity"], r["mean_code_w1"]
    (1.0, 1.0, 0.0)
    """
    k = n_classes(data)
    fake = np.asarray(fake, dtype=np.float64)
    codes = np.asarray(codes, dtype=np.int64)
    classes = assign_classes(data, fake)
    counts = contingency(codes, classes, n_codes=n_codes, n_classes=k)
    match = match_codes(counts)
    fake_labels = np.where(match[codes] >= 0, match[codes], k)  # k: no class (dropped)
    by_class = per_class_w1(real, real_labels, fake, fake_labels, k, max_iter=max_iter)
    w1 = np.where(match >= 0, by_class[np.maximum(match, 0)], np.nan)
    hits = np.bincount(classes[_on_target(data, fake, classes, classes)], minlength=k)
    return {"mutual_information": mutual_information(counts),
            **mode_ownership(counts, min_count=min_count),
            **{f"w1_code_{c}": float(w) for c, w in enumerate(w1)},
            "mean_code_w1": _mean_or_nan(w1),
            "classes_covered": int((hits >= min_count).sum())}


def class_sampling_floor(data: str, n_samples: int, *, seed: int = 0,
                         max_iter: int = 100_000_000) -> float:
    r"""Mean per-class exact :math:`W_1` between two independent sets of ``n_samples`` real points.

    What a perfect conditional generator scores on an evaluation of
    ``n_samples`` points: finite samples of the same law are not at
    distance 0.  The sets are drawn from a CPU generator seeded with
    ``seed``.

    >>> floor = class_sampling_floor("8gaussians", 400)
    >>> bool(0 < floor < 0.05)  # modes of standard deviation 0.02, 50 points each
    True
    """
    import torch

    from .data import LabelledSampler

    sampler, gen = LabelledSampler(data), torch.Generator().manual_seed(seed)
    (x, y), (x2, y2) = (sampler(n_samples, generator=gen) for _ in range(2))
    return _mean_or_nan(per_class_w1(x.numpy(), y.numpy(), x2.numpy(), y2.numpy(),
                                     n_classes(data), max_iter=max_iter))
