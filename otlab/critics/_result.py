"""What a neural critic run returns: its settings, its result and its status checks."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field, replace

import numpy as np

from .._backend import to_numpy
from .._validation import check_positive_int, scaled_norm
from ._function import NeuralCritic
from .audit import LipschitzAudit

__all__ = ["CriticConfig", "CriticResult", "CriticFailedWarning", "ScaledEstimateWarning",
           "EXACT_SN_MAX_WIDTH", "INPUT_SCALES", "default_hidden", "default_steps",
           "default_radial", "default_input_scale", "default_penalty", "default_batch_size",
           "default_penalty_batch", "default_holdout_points", "input_gain",
           "with_dimension", "build_net", "finish",
           "holdout_estimate", "max_gradient",
           "run_status"]

#: Widest hidden layer for which ``"sn"`` divides by the exact spectral norm at
#: every step (one SVD per layer and step); wider networks use one power
#: iteration per step and the exact norm once, at the end of training.
EXACT_SN_MAX_WIDTH = 256

#: Values of ``estimate_w1(input_scale=...)`` (:func:`input_gain`).
INPUT_SCALES = ("radius", "coordinate")
#: Up to this dimension the critic keeps its low-dimensional defaults: the fewest steps
#: (:func:`default_steps` grows by one unit per further ``LOW_DIM`` dimensions, except
#: for ``"lp"`` on samplers), no norm
#: feature (:func:`default_radial`) and, on fixed samples, the radius scale
#: (:func:`default_input_scale`); on samplers the ``"penalty_up_to_d32"`` weight
#: (:func:`default_penalty`).
LOW_DIM = 32
#: From this dimension on (exclusive) ``"lp"`` on samplers takes
#: ``DEFAULT_SETTINGS["lp"]["samplers_steps_from_d97"]`` steps (:func:`default_steps`).
HIGH_DIM = 96
#: The steps per ``LOW_DIM`` dimensions on fixed samples, every method (:func:`default_steps`).
FIXED_STEPS_UNIT = 1000

#: A critic whose values on the training points spread over less than this
#: fraction of their size (or of the unit data scale) is constant: collapsed.
_COLLAPSE_SPREAD = 1e-6

#: A critic with a larger gradient norm at a sample point has escaped its
#: Lipschitz constraint: its estimate can exceed W_1 by that factor.
_MAX_SLOPE = 2.0

#: A critic whose audited Lipschitz constant is below this is K-Lipschitz with
#: K far from 1 (weight clipping): its estimate is K * W_1, not W_1.
_MIN_SLOPE = 0.5


class CriticFailedWarning(UserWarning):
    """A trained critic failed: its estimate is negative, or it is constant on the samples."""


class ScaledEstimateWarning(CriticFailedWarning):
    """The raw estimate is :math:`K \\cdot W_1` for a critic whose Lipschitz constant K is far from 1.

    Weight clipping (``"clip"``) bounds the weights, not the slope: its critic
    is K-Lipschitz for a small unknown K, so ``estimate`` is not a
    :math:`W_1` estimate; ``rescaled_estimate`` divides it by the audited K.
    """


@dataclass(frozen=True)
class CriticConfig:
    """The resolved settings of one :func:`estimate_w1` run (see its parameters)."""

    lipschitz: str
    hidden: tuple[int, ...]
    activation: str
    steps: int
    batch_size: int | None
    lr: float
    optimizer: str
    betas: tuple[float, float] | None
    penalty: float
    clip_value: float | None
    device: str
    seed: int
    holdout: float
    log_every: int
    fix_sign: bool = True
    lr_schedule: str = "constant"
    n_eval: int = 0
    radial: bool | None = False
    input_scale: str | None = "radius"
    average: float = 0.0
    penalty_batch: int | None = None
    n_holdout: int | None = None


@dataclass(frozen=True)
class CriticResult:
    """Result of :func:`estimate_w1`.

    Attributes
    ----------
    estimate : float
        :math:`\\mathbb E_x f - \\mathbb E_y f` on the training samples
        (samplers: on the reference samples drawn before training).
    holdout_estimate : float
        The same on the held-out samples (NaN when ``holdout=0``; samplers:
        fresh samples drawn after training).
    critic : NeuralCritic
        The trained critic, in the data's units.
    history : dict of ndarray
        ``step``, ``loss`` (the minibatch loss, in standardised units) and
        ``estimate`` (on the training samples, in the data's units) at every
        logging step.
    audit : LipschitzAudit or None
        Gradient norms and slopes of the trained critic, in float64 (None
        with ``audit=False``).
    config : CriticConfig
        The settings used, defaults resolved.
    train, holdout_samples : tuple
        ``(x, wx, y, wy)`` numpy arrays of the training and held-out splits
        (samplers: of the reference and the fresh held-out samples).
    seconds : float
        Wall time of the training loop.
    flips : tuple of int
        Logging steps at which the critic's training gap was negative and its
        output layer was negated (see Notes of :func:`estimate_w1`).
    status : {"ok", "scaled", "collapsed", "not_lipschitz", "negative"}
        ``"ok"``, or why a :class:`CriticFailedWarning` was raised:
        ``"scaled"`` (a :class:`ScaledEstimateWarning`) when the critic is
        K-Lipschitz with K far from 1 (weight clipping), so that ``estimate``
        is :math:`K \\cdot W_1` and only ``rescaled_estimate`` estimates
        :math:`W_1`.
    lipschitz_bound : float
        The audited Lipschitz constant K of the critic: the largest gradient
        norm or slope measured by the audit (:attr:`LipschitzAudit.lipschitz_bound`),
        or the largest gradient norm at the training points with
        ``audit=False``; 1 for ``"ctransform"`` (1-Lipschitz by construction).
        A lower bound of the true constant.
    holdout_stderr : float
        Standard error of ``holdout_estimate`` over the held-out points,
        :math:`\\sqrt{\\sum_i a_i^2 (f(x_i) - \\bar f_x)^2 + \\sum_j b_j^2 (f(y_j) -
        \\bar f_y)^2}` with the held-out weights (NaN when ``holdout=0`` or when
        a side holds out a single point of positive weight): the
        sampling error bar of the estimate for this critic (not the spread over
        seeds of training).
    """

    estimate: float
    holdout_estimate: float
    critic: NeuralCritic
    history: dict = field(repr=False)
    audit: LipschitzAudit | None
    config: CriticConfig
    train: tuple = field(repr=False)
    holdout_samples: tuple = field(repr=False)
    seconds: float = 0.0
    flips: tuple = ()
    status: str = "ok"
    lipschitz_bound: float = float("nan")
    holdout_stderr: float = float("nan")

    @property
    def rescaled_estimate(self) -> float:
        """``estimate / lipschitz_bound``: the estimate of the critic divided by its audited K.

        For a K-Lipschitz critic :math:`f`, :math:`f / K` is 1-Lipschitz, so this
        is the Kantorovich estimate of the rescaled critic; for ``"clip"``
        it is the only number that estimates :math:`W_1` (the raw
        ``estimate`` is :math:`K \\cdot W_1`).  Since the audited K is a lower
        bound of the true constant, it can exceed :math:`W_1` a little.
        """
        return self.estimate / self.lipschitz_bound

    @property
    def generalisation_gap(self) -> float:
        r"""``estimate - holdout_estimate``: how much better the critic does on its training points.

        Compare it with ``holdout_stderr``: a gap of many standard errors is a
        critic that fits the sample rather than the distributions.  With
        samplers both estimates are on points the critic never trained on, so
        the gap is sampling noise, of both samples: the reference sample has
        ``n_eval`` points against the ``n_holdout`` held-out ones, so the gap's
        error is about :math:`\sqrt{1 + n_\text{holdout}/n_\text{eval}}` times
        ``holdout_stderr`` (4.1 with the defaults up to D = 128, where
        ``n_holdout`` is 65536; 1.9 at D = 784, where it is 10 699).  NaN
        without a held-out split.
        """
        return self.estimate - self.holdout_estimate


def default_hidden(dim: int, lipschitz: str | None = None, *,
                   samplers: bool = False) -> tuple[int, ...]:
    r"""The critic's hidden widths when ``hidden`` is not given, for dimension D.

    Two layers of :math:`\min(256, \max(128, 8D))` units: 128 up to
    D = 16, 256 from D = 32 on.  On the known-answer pairs (D = 32, 4
    funnels, fresh samples, 1000 steps) a 64x64 MLP missed :math:`W_1` by
    11 %, a 128x128 one by 6 %, a 256x256 one by under 1 %
    (``benchmarks/reports/critics_w1_diagnosis.md``); the paper's critics are
    two layers of :math:`\max(2D, 128)`.  For a method whose
    ``DEFAULT_SETTINGS[lipschitz]["samplers_width_from_d16"]`` is set
    (``"lp"``: 256) on samplers (``samplers=True``), at least that many from
    D = 16 on: with 16 funnels at D = 16 and 16000 steps, 256 units took the
    slope along the optimal moves from 0.937-0.938 to 0.965-0.968, the
    gradient cosine from 0.91 to 0.94 and the held-out error from -5.8 % and
    -6.4 % to -3.1 % and -3.4 % (two seeds), where a larger batch gained
    nothing; with 4 funnels +4.5 % and +2.9 % (+3.5 % and +1.9 % with 128
    units; the scoring sample itself +3.3 % and +1.6 %).

    Examples
    --------
    >>> default_hidden(2), default_hidden(16), default_hidden(32), default_hidden(1000)
    ((128, 128), (128, 128), (256, 256), (256, 256))
    >>> default_hidden(8, "lp", samplers=True), default_hidden(16, "lp", samplers=True)
    ((128, 128), (256, 256))
    """
    width = min(256, max(128, 8 * int(dim)))
    if lipschitz is not None and samplers and int(dim) >= 16:
        from .lipschitz import DEFAULT_SETTINGS

        wider = DEFAULT_SETTINGS[lipschitz]["samplers_width_from_d16"]
        if wider is not None:
            width = max(width, int(wider))
    return (width, width)


def default_steps(dim: int, lipschitz: str = "lp", *, samplers: bool = True) -> int:
    r"""The critic's optimiser steps when ``steps`` is not given, for dimension D.

    On samplers (fresh minibatches) with ``DEFAULT_SETTINGS[lipschitz]
    ["samplers_steps"]`` set, that many at every D: 16000 for the default
    ``"lp"`` from D = 33 to 96 (where its minibatches hold 512 points),
    ``["samplers_steps_up_to_d32"]``, 64000, up to D = 32, and
    ``["samplers_steps_from_d97"]``, 32000, from D = 97 on.  Otherwise
    :math:`S \cdot \min(4, \lceil D / 32 \rceil)`, S = ``DEFAULT_SETTINGS[lipschitz]["steps_unit"]`` on samplers and
    ``FIXED_STEPS_UNIT`` on fixed samples, 1000 for every method: 1000 steps
    up to D = 32, 2000 up to 64, 3000 up to 96 and 4000 from 97 on.  On fixed
    samples (``samplers=False``) more steps fit the sample more (the
    generalisation gap of ``benchmarks/reports/critics_w1_diagnosis.md``), and
    the larger counts were measured on fresh samples only.

    On the known-answer pairs (fresh samples, 16 funnels) the ``"lp"`` critic
    is still learning when its steps end.  The fourth round gave it four times
    the former rule (4000 up to D = 32, 8000 at 64, 16000 from 97 on): its
    slope along the optimal moves (its estimate over :math:`W_1`) went from
    0.82 to 0.91 at D = 128 and from 0.76 to 0.91 at D = 16.  The fifth round
    gave every D the 16000 steps that D = 128 had: at
    D = 4, 16 and 32 the slope went from 0.94, 0.91 and 0.91 to 0.97, 0.94 and
    0.93-0.95 and the gradient cosine from 0.89-0.90 to 0.91-0.93 (two seeds; D = 2:
    0.95 to 0.98, cosine 0.82-0.85 to 0.86-0.88), in 72 to 187 CPU seconds
    instead of 11 to 42; at D = 64 (8000 before) from 0.95-0.96 to 0.98,
    cosine 0.95; with 4 funnels the slope stayed at 1.001 to 1.017 (D = 2 to
    64).  Nothing else measured gained more per CPU second
    (width, depth, batch, the learning rate, Adam's betas, a warm-up, the
    penalty's weight and points, a two-sided penalty, averaging the weights;
    ``benchmarks/reports/critics_w1_diagnosis.md``) until the sixth round: a
    larger batch for the objective with the penalty at 256 of its pairs
    (:func:`default_batch_size`, :func:`default_penalty_batch`) gained at
    D = 128 as much as twice the steps.  The eleventh round gave D = 97 on
    twice the steps: at D = 128 with 16 funnels 16000 steps of 512 points left
    the estimate 3.6 % to 7.2 % low on six seeds (two beyond 5 %; slope 0.935
    to 0.973), 32000 left it 1.0 % to 3.8 % low (slope 0.969 to 0.991, cosine
    0.938 to 0.964) in about 470 CPU seconds instead of 210 to 280.  The
    eighth round gave D = 1 and 2 four
    times the steps: at D = 2 with 16 funnels the source's mass sits at the
    funnels' tips, where the true gradient turns round within a tiny radius,
    and each doubling of the steps drew them sharper: the gradient cosine
    went from 0.88 and 0.86 (16000) to 0.91 and 0.89 (32000) and 0.92 and
    0.905 (64000; slope 0.995 and 0.993; two seeds), with 4 funnels 0.98 and
    0.96 (relative error +3.3 % and +0.6 %), in about 165-210 CPU seconds
    instead of 80.  Wider layers (256 units, 32000 steps) gave the same
    cosine as 128 (0.916 against 0.914).  D = 3 was not measured; at D = 4
    16000 steps already gave 0.92-0.93.

    Examples
    --------
    >>> [default_steps(d) for d in (1, 2, 3, 32, 33, 96, 97, 128, 10_000)]
    [64000, 64000, 64000, 64000, 16000, 16000, 32000, 32000, 32000]
    >>> default_steps(128, "gp"), default_steps(32, samplers=False), default_steps(64, "sn")
    (4000, 1000, 2000)
    """
    from .lipschitz import DEFAULT_SETTINGS

    settings = DEFAULT_SETTINGS[lipschitz]
    if samplers and settings["samplers_steps"] is not None:
        low = settings.get("samplers_steps_up_to_d32")
        high = settings.get("samplers_steps_from_d97")
        if low is not None and int(dim) <= LOW_DIM:
            return int(low)
        if high is not None and int(dim) > HIGH_DIM:
            return int(high)
        return int(settings["samplers_steps"])
    unit = int(settings["steps_unit"]) if samplers else FIXED_STEPS_UNIT
    return unit * min(4, max(1, -(-int(dim) // LOW_DIM)))


def default_radial(lipschitz: str, dim: int) -> bool:
    r"""Whether the critic sees the norm of its input when ``radial`` is not given.

    For the methods whose ``DEFAULT_SETTINGS[lipschitz]["radial"]`` is True
    (``"lp"``), from D = 33 on, where :func:`default_steps` starts growing
    (on fixed samples) and :func:`default_penalty` drops to 10.  On the known-answer pairs the
    norm feature took D = 128, 4 funnels from -28 % to -18 % and the gradient
    cosine from 0.75 to 0.89 (1000 steps); up to D = 32 it changed the error
    by a few points either way and lowered the cosine slightly (W = 4 and 16,
    two seeds; ``benchmarks/reports/critics_w1_benchmark.md``).

    Examples
    --------
    >>> default_radial("lp", 32), default_radial("lp", 33), default_radial("gp", 128)
    (False, True, False)
    """
    from .lipschitz import DEFAULT_SETTINGS

    return bool(DEFAULT_SETTINGS[lipschitz]["radial"]) and int(dim) > LOW_DIM


def default_input_scale(lipschitz: str, dim: int, *, samplers: bool = True) -> str:
    r"""How the network's input is scaled (:func:`input_gain`) when ``input_scale`` is not given.

    On samplers, ``DEFAULT_SETTINGS[lipschitz]["input_scale"]``: ``"coordinate"``
    for ``"lp"`` at every D, ``"radius"`` for the other methods.  On fixed
    samples (``samplers=False``) the same from D = 33 on and ``"radius"`` up to
    D = 32, as before the change below, which was measured on fresh samples
    only (a one-off check on the fixed 2-D samples of
    ``benchmarks/critic_accuracy.py``, not committed, took the parallel lines
    from +7-9 % to +3-4 % and the shifted Gaussians from +5-6 % to +1-2 %, but
    the mode-rich cases 1.5 to 4 points lower).  On the
    known-answer pairs (fresh samples) each coordinate at RMS 1 took the error
    at D = 128, 16 funnels from -31 % to -22 % at the same cost, and at
    D = 16 and 32, 16 funnels from -23 % to -10 % and -11 %.  With the
    paper's penalty weight 10 it made the estimate overshoot at D = 4 to 32
    with 4 funnels (+4 % to +8 %: the soft penalty let the critic's gradient
    norm along the moves reach 1.07), so up to D = 32 it was off; with the
    weight 30 of :func:`default_penalty` there, the gradient norm along the
    moves is 0.96 to 1.02 and both the 4- and the 16-funnel estimates gain
    (``benchmarks/reports/critics_w1_diagnosis.md``).

    Examples
    --------
    >>> default_input_scale("lp", 2), default_input_scale("lp", 33)
    ('coordinate', 'coordinate')
    >>> default_input_scale("lp", 2, samplers=False), default_input_scale("gp", 128)
    ('radius', 'radius')
    """
    from .lipschitz import DEFAULT_SETTINGS

    if not samplers and int(dim) <= LOW_DIM:
        return "radius"
    return DEFAULT_SETTINGS[lipschitz]["input_scale"]


def default_penalty(lipschitz: str, dim: int, *, samplers: bool = True) -> float:
    r"""The penalty weight λ of ``"gp"`` and ``"lp"`` when ``penalty`` is not given.

    ``DEFAULT_SETTINGS[lipschitz]["penalty"]`` (the papers' 10) from D = 33
    on, ``DEFAULT_SETTINGS[lipschitz]["penalty_up_to_d32"]`` up to D = 32 on
    samplers: 30 for ``"lp"``, whose input has each coordinate at RMS 1
    there (:func:`default_input_scale`).  On fixed samples
    (``samplers=False``) 10 at every D, with the radius scale up to D = 32.  The
    one-sided penalty is soft: on the known-answer pairs (fresh samples, 4000
    steps, seed 0) the weight 10 let the critic's mean gradient norm along the
    optimal moves reach 1.05 to 1.08
    at D = 16 and 32 and the 4-funnel estimate overshoot by 5 %; with 30
    the norm was 0.96 to 1.02 and the estimate's slope along the moves
    (estimate over :math:`W_1`) 0.996 to 1.007 with 4 funnels, 0.91 to 0.96
    with 16 (D = 2, 8, 16, 32).  From D = 33 on 30 cost 5 points with 16
    funnels and 4 with 4 at D = 64 (norm 0.99 where 10 gives 1.04, slopes
    0.90 and 0.96 against 0.95 and 1.01), so 10 stays there
    (``benchmarks/reports/critics_w1_diagnosis.md``).  0 for the methods
    without a penalty.

    Examples
    --------
    >>> default_penalty("lp", 32), default_penalty("lp", 33), default_penalty("gp", 2)
    (30.0, 10.0, 10.0)
    >>> default_penalty("lp", 32, samplers=False), default_penalty("sn", 2)
    (10.0, 0.0)
    """
    from .lipschitz import DEFAULT_SETTINGS

    settings = DEFAULT_SETTINGS[lipschitz]
    up_to_d32 = settings["penalty_up_to_d32"] if samplers else settings["penalty"]
    return float(up_to_d32 if int(dim) <= LOW_DIM else settings["penalty"])


def default_batch_size(lipschitz: str, dim: int, *, samplers: bool = True) -> int:
    r"""Points per side of each minibatch when ``batch_size`` is not given, for dimension D.

    ``DEFAULT_SETTINGS[lipschitz]["samplers_batch_size_above_d32"]`` on
    samplers from D = 33 on where it is set (512 for ``"lp"``), else
    ``DEFAULT_SETTINGS[lipschitz]["batch_size"]`` (256).  With
    :func:`default_penalty_batch` the ``"lp"`` critic on samplers then
    evaluates its objective on 512 points per side and its penalty at 256
    interpolates: on the known-answer pairs at D = 128 with 16 funnels the
    slope along the optimal moves went from 0.91 to 0.95-0.96 and the
    gradient cosine from 0.89 to 0.93-0.94 (two seeds); at D = 16 nothing
    changed and at D = 32 the slope gained 0.4-1.6 points, so up to D = 32
    the batch stays 256 (``benchmarks/reports/critics_w1_diagnosis.md``).

    Examples
    --------
    >>> default_batch_size("lp", 32), default_batch_size("lp", 33)
    (256, 512)
    >>> default_batch_size("gp", 128), default_batch_size("lp", 128, samplers=False)
    (256, 256)
    """
    from .lipschitz import DEFAULT_SETTINGS

    settings = DEFAULT_SETTINGS[lipschitz]
    above = settings["samplers_batch_size_above_d32"]
    if samplers and above is not None and int(dim) > LOW_DIM:
        return int(above)
    return int(settings["batch_size"])


def default_penalty_batch(lipschitz: str, batch_size: int, *,
                          samplers: bool = True) -> int | None:
    r"""Interpolates per step for the penalty when ``penalty_batch`` is not given.

    None (every pair of the minibatch) unless
    ``DEFAULT_SETTINGS[lipschitz]["samplers_penalty_batch"]`` is set (256
    for ``"lp"``) and the critic trains on samplers: then the smaller of it
    and ``batch_size``.  Only ``"gp"`` and ``"lp"`` have a penalty.  The
    penalty's input gradients (the gradient of the critic at each
    interpolate, differentiated again with respect to the weights) cost more
    per row than the objective's values, so capping them at 256 rows lets
    :func:`default_batch_size` give the objective 512 points per side for a
    fraction of the cost of a whole batch of 512.

    Examples
    --------
    >>> default_penalty_batch("lp", 512), default_penalty_batch("lp", 100)
    (256, 100)
    >>> default_penalty_batch("gp", 512) is None, default_penalty_batch("lp", 512, samplers=False)
    (True, None)
    """
    from .lipschitz import DEFAULT_SETTINGS

    rows = DEFAULT_SETTINGS[lipschitz]["samplers_penalty_batch"]
    if not samplers or rows is None:
        return None
    return min(int(rows), int(batch_size))


#: Most points per side of the held-out sample drawn from samplers by default.
HOLDOUT_MAX_POINTS = 65536
#: Bytes per side of that sample in float64 (64 MiB): the default's cap in high dimension.
HOLDOUT_BYTES = 2**26


def default_holdout_points(dim: int, n_eval: int) -> int:
    r"""Points per side of the held-out sample drawn from samplers after training.

    The held-out estimate :math:`\bar f_x - \bar f_y` of a fixed critic is
    unbiased whatever the number of points, but its sampling error can hide
    the critic's own: at D = 128 with 16 funnels
    (:func:`otlab.datasets.w1_benchmark`) the *true* potential scored 3.3-3.4 %
    below :math:`W_1` on two draws of 4096 points per side, and -1.3 % and
    +0.1 % on 65536 (``benchmarks/reports/critics_w1_diagnosis.md``).  So the
    sample is :data:`HOLDOUT_MAX_POINTS` (65536) points per side, 16 times
    ``n_eval``'s default and a quarter of its standard error, or as many as
    fit in :data:`HOLDOUT_BYTES` (64 MiB) per side in float64 when D is large
    (10 699 at D = 784), and never fewer than ``n_eval``.  Evaluating the
    critic there is a forward pass, a small part of training.

    Raises
    ------
    TypeError, ValueError
        ``dim`` or ``n_eval`` not an integer >= 1 (``dim=0`` raised ZeroDivisionError,
        ``dim=-5`` and ``dim=2.7`` returned a number).

    Examples
    --------
    >>> default_holdout_points(128, 4096), default_holdout_points(784, 4096)
    (65536, 10699)
    >>> default_holdout_points(100_000, 4096)
    4096
    """
    dim, n_eval = check_positive_int(dim, "dim"), check_positive_int(n_eval, "n_eval")
    return max(n_eval, min(HOLDOUT_MAX_POINTS, HOLDOUT_BYTES // (8 * dim)))


def input_gain(input_scale: str, dim: int) -> float:
    r"""The factor k of the network's input :math:`u = k\,(z - c)/s` for dimension D.

    :math:`c` is the pooled mean and :math:`s` the RMS distance to it of the
    reference points, so :math:`(z - c)/s` has RMS norm 1.  ``"radius"``:
    k = 1, the input as it is (each coordinate then has RMS about
    :math:`1/\sqrt D`).  ``"coordinate"``: :math:`k = \sqrt D`, each
    coordinate of RMS 1 on average, the scale that PyTorch's default
    initialisation of a linear layer (weights of variance :math:`1/(3D)`)
    expects.  At initialisation the first layer's pre-activations then spread
    over the points about 11 times more than its biases in D = 128 (0.58
    against 0.05), where with ``"radius"`` they spread as little as the biases
    (0.05).  The critic returned is
    :math:`f(z) = (s/k)\, g(k\,(z - c)/s)` either way, with the Lipschitz
    constant of :math:`g`.

    Examples
    --------
    >>> input_gain("radius", 128), input_gain("coordinate", 4)
    (1.0, 2.0)
    """
    if input_scale not in INPUT_SCALES:
        raise ValueError(f"input_scale must be one of {', '.join(map(repr, INPUT_SCALES))}; "
                         f"got {input_scale!r}")
    return float(np.sqrt(int(dim))) if input_scale == "coordinate" else 1.0


def with_dimension(cfg: CriticConfig, dim: int, *, samplers: bool = False) -> CriticConfig:
    """``cfg`` with ``hidden`` (:func:`default_hidden`), ``steps`` (:func:`default_steps`,
    on samplers or fixed samples), ``log_every`` (a twentieth of the steps), ``radial``
    (:func:`default_radial`), ``input_scale`` (:func:`default_input_scale`), ``penalty``
    (:func:`default_penalty`), ``batch_size`` (:func:`default_batch_size`) and
    ``penalty_batch`` (:func:`default_penalty_batch`) and, on samplers, ``n_holdout``
    (:func:`default_holdout_points`) resolved for data of dimension ``dim``."""
    hidden = (default_hidden(dim, cfg.lipschitz, samplers=samplers) if cfg.hidden is None
              else cfg.hidden)
    steps = (default_steps(dim, cfg.lipschitz, samplers=samplers) if cfg.steps is None
             else cfg.steps)
    log_every = max(1, steps // 20) if cfg.log_every is None else cfg.log_every
    radial = default_radial(cfg.lipschitz, dim) if cfg.radial is None else cfg.radial
    input_scale = (default_input_scale(cfg.lipschitz, dim, samplers=samplers)
                   if cfg.input_scale is None else cfg.input_scale)
    penalty = (default_penalty(cfg.lipschitz, dim, samplers=samplers) if cfg.penalty is None
               else cfg.penalty)
    batch_size = (default_batch_size(cfg.lipschitz, dim, samplers=samplers)
                  if cfg.batch_size is None else cfg.batch_size)
    penalty_batch = (default_penalty_batch(cfg.lipschitz, batch_size, samplers=samplers)
                     if cfg.penalty_batch is None else min(cfg.penalty_batch, batch_size))
    n_holdout = cfg.n_holdout
    if samplers and n_holdout is None:
        n_holdout = default_holdout_points(dim, cfg.n_eval)
    return replace(cfg, hidden=hidden, steps=steps, log_every=log_every, radial=radial,
                   input_scale=input_scale, penalty=penalty, batch_size=batch_size,
                   penalty_batch=penalty_batch, n_holdout=n_holdout)


def build_net(cfg: CriticConfig, dim: int, generator):
    """The MLP, initialised from a seed drawn from ``generator`` (global RNG untouched)."""
    import torch

    from ..networks import WithRadius, mlp, seeded

    spectral = None
    if cfg.lipschitz == "sn":
        spectral = "exact" if max(cfg.hidden, default=0) <= EXACT_SN_MAX_WIDTH else "power"
    seed = int(torch.randint(0, 2**31 - 1, (1,), generator=generator))
    with seeded(seed):
        if cfg.radial:
            return WithRadius(mlp(dim + 1, 1, cfg.hidden, activation=cfg.activation))
        return mlp(dim, 1, cfg.hidden, activation=cfg.activation, spectral_norm=spectral)


def _spread(w, f, mean: float) -> float:
    """``sqrt(sum w_i^2 (f_i - mean)^2)`` without squaring huge or tiny values.

    NaN for a single point of positive weight: the spread of one value is no error bar.
    """
    if np.count_nonzero(w) < 2:
        return float("nan")
    return float(scaled_norm(w * (f - mean)))


def holdout_estimate(critic, x, wx, y, wy) -> tuple[float, float]:
    """The critic's estimate on the held-out points and its standard error (weighted)."""
    fx, fy = critic(x), critic(y)
    mx, my = float(wx @ fx), float(wy @ fy)
    return mx - my, float(np.hypot(_spread(wx, fx, mx), _spread(wy, fy, my)))


def max_gradient(net, X, Y) -> float:
    """Largest gradient norm of the network at the (standardised) training points."""
    import torch

    from .lipschitz import gradient_norms

    return float(gradient_norms(net, torch.cat([X, Y])).max())


def run_status(cfg: CriticConfig, estimate: float, values: np.ndarray, slope: float,
               bound: float, *, stacklevel: int = 3) -> str:
    """``"collapsed"``, ``"not_lipschitz"``, ``"scaled"``, ``"negative"`` (each with a warning) or ``"ok"``."""
    size = max(1.0, float(np.abs(values).max()))
    spread = float(values.max() - values.min())
    if not spread > _COLLAPSE_SPREAD * size:
        warnings.warn(
            f"the trained {cfg.lipschitz!r} critic is constant on the training points (its "
            f"values spread over {spread:.3g} in standardised units): it collapsed and its "
            f"estimate ({estimate:.4g}) says nothing about W_1. Try a smaller lr "
            f"(lr={cfg.lr:g}).", CriticFailedWarning, stacklevel=stacklevel,
        )
        return "collapsed"
    if not max(slope, bound) <= _MAX_SLOPE:  # at a sample point, or anywhere the audit looked
        where = "at a sample point" if not slope <= _MAX_SLOPE else "where the audit looked"
        steepest = slope if not slope <= _MAX_SLOPE else bound
        warnings.warn(
            f"the trained {cfg.lipschitz!r} critic has gradient norm or slope {steepest:.3g} "
            f"{where}: its Lipschitz constraint failed and its estimate ({estimate:.4g}) can "
            f"exceed W_1 by that factor. Try a smaller lr (lr={cfg.lr:g}).",
            CriticFailedWarning, stacklevel=stacklevel,
        )
        return "not_lipschitz"
    if not bound >= _MIN_SLOPE:
        warnings.warn(
            f"the trained {cfg.lipschitz!r} critic is K-Lipschitz with audited K = {bound:.3g}, "
            f"not 1: its estimate ({estimate:.4g}) is K * W_1, not an estimate of W_1; "
            f"result.rescaled_estimate = estimate / K = {estimate / bound:.4g} estimates W_1"
            + (" (weight clipping bounds the weights, not the slope)." if cfg.lipschitz == "clip"
               else "."), ScaledEstimateWarning, stacklevel=stacklevel,
        )
        return "scaled"
    if estimate < 0:
        warnings.warn(
            f"the trained {cfg.lipschitz!r} critic's estimate is negative ({estimate:.4g}): the "
            "critic failed (the constant 0 would score 0). Try more steps or another lr.",
            CriticFailedWarning, stacklevel=stacklevel,
        )
        return "negative"
    return "ok"


def finish(cfg: CriticConfig, net, X, Y, *, train, holdout, center, scale, history, flips,
           seconds: float, audit: bool, stacklevel: int) -> CriticResult:
    """The result of a trained network: estimates, error bar, audit and status.

    ``X``, ``Y`` are the standardised training (or reference) points as
    tensors, ``train`` and ``holdout`` the ``(x, wx, y, wy)`` numpy tuples in
    the data's units, ``center`` the pair (anchor, shift) of
    :func:`otlab.frames.anchored_standardise`.
    """
    import torch

    from ._loop import diverged
    from .audit import lipschitz_audit

    if cfg.lipschitz == "sn":
        from ..networks import freeze_spectral_norm

        freeze_spectral_norm(net)
    x_tr, wx_tr, y_tr, wy_tr = train
    x_ho, wx_ho, y_ho, wy_ho = holdout
    anchor, shift = center
    critic = NeuralCritic(net, X if cfg.lipschitz == "ctransform" else None, center=anchor,
                          scale=scale, shift=shift)
    with torch.no_grad():
        fx, fy = to_numpy(critic.standardised(X)), to_numpy(critic.standardised(Y))
    est = scale * float(wx_tr @ fx - wy_tr @ fy)
    if not np.isfinite(est):
        raise diverged(cfg, 1, cfg.steps)
    history["estimate"] = [scale * g for g in history["estimate"]]
    history["estimate"][-1] = est
    ho_est, ho_se = float("nan"), float("nan")
    if x_ho.shape[0] and y_ho.shape[0]:
        ho_est, ho_se = holdout_estimate(critic, x_ho, wx_ho, y_ho, wy_ho)
    slope = 1.0 if cfg.lipschitz == "ctransform" else max_gradient(net, X, Y)
    report = None
    if audit:
        report = lipschitz_audit(critic, x_tr, y_tr, seed=cfg.seed, device=X.device,
                                 dtype=torch.float64)
    bound = slope if report is None or cfg.lipschitz == "ctransform" else max(
        slope, report.lipschitz_bound)
    status = run_status(cfg, est, np.concatenate([fx, fy]), slope, bound,
                        stacklevel=stacklevel + 2)
    return CriticResult(
        estimate=est, holdout_estimate=ho_est, critic=critic,
        history={k: np.asarray(v, dtype=float) for k, v in history.items()}, audit=report,
        config=cfg, train=train, holdout_samples=holdout, seconds=seconds, flips=tuple(flips),
        status=status, lipschitz_bound=bound, holdout_stderr=ho_se,
    )
