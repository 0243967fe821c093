r"""Neural Kantorovich critics: estimate :math:`W_1` by training an MLP.

:func:`estimate_w1` maximises the Kantorovich–Rubinstein objective

.. math:: \max_{f \in \mathcal F} \; \mathbb E_x f - \mathbb E_y f

over MLPs kept (close to) 1-Lipschitz by one of the methods of
:mod:`otlab.critics.lipschitz`, and reports the estimate on the training
samples and on a held-out split, with a Lipschitz audit of the result.
"""

from __future__ import annotations

import time

import numpy as np

from .._backend import to_numpy
from .._validation import check_choice, check_positive, check_positive_int
from ..frames import anchored_standardise
from ..sample import sample_pair
from ._function import NeuralCritic, _forward
from ._loop import LR_SCHEDULES, CriticDivergedError, train_critic
from ._result import (EXACT_SN_MAX_WIDTH, INPUT_SCALES, CriticConfig, CriticFailedWarning,
                      CriticResult, ScaledEstimateWarning, build_net, default_hidden,
                      default_batch_size, default_input_scale, default_penalty,
                      default_holdout_points, default_penalty_batch, default_radial,
                      default_steps, finish, input_gain,
                      with_dimension)
from .lipschitz import DEFAULT_SETTINGS, LIPSCHITZ_METHODS

__all__ = ["CriticConfig", "CriticResult", "NeuralCritic", "CriticFailedWarning",
           "ScaledEstimateWarning", "CriticDivergedError", "estimate_w1", "spectral_norms",
           "EXACT_SN_MAX_WIDTH", "LR_SCHEDULES", "INPUT_SCALES", "default_hidden",
           "default_steps", "default_radial", "default_input_scale", "default_penalty",
           "default_batch_size", "default_penalty_batch", "default_holdout_points",
           "input_gain"]


def _canonical(x, w):
    """The distinct rows, sorted lexicographically, each with the sum of its weights.

    The estimate then depends on the empirical measure alone: not on the order of the
    rows, nor on a point being given once or split into copies (a point held out is
    held out with all its copies).
    """
    rows, inverse = np.unique(x, axis=0, return_inverse=True)
    return rows, np.bincount(inverse.reshape(-1), weights=w, minlength=rows.shape[0])


def _split(x, w, holdout, rng):
    """Training and held-out splits of the points that carry mass.

    Points of weight zero are not part of the measure and are dropped first,
    so both splits carry positive mass (a held-out split that would leave the
    training split without mass cannot happen); each split's weights are
    renormalised in float64 and sum to 1.
    """
    keep = w > 0
    x, w = x[keep], w[keep]
    n = x.shape[0]
    n_hold = int(round(holdout * n))
    n_hold = min(n_hold, n - 1)
    perm = rng.permutation(n)
    tr, ho = np.sort(perm[n_hold:]), np.sort(perm[:n_hold])
    wt = w[tr] / w[tr].sum()
    wh = w[ho] / w[ho].sum() if n_hold else w[ho]
    return (x[tr], wt), (x[ho], wh)


def _check_device(device):
    """``device`` as torch reads it; a ValueError naming it where torch does not."""
    import torch

    try:
        device = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"device must be a torch.device or a device name such as 'cpu', "
                         f"'cuda' or 'cuda:1'; got {device!r} ({str(exc).splitlines()[0]})"
                         ) from None
    if device.type == "meta":
        raise ValueError(f"device must hold data; got {str(device)!r} (a meta device holds "
                         "shapes only)")
    if device.type == "cuda" and not (torch.cuda.is_available()
                                      and (device.index or 0) < torch.cuda.device_count()):
        raise ValueError(f"device {str(device)!r} is not available: torch sees "
                         f"{torch.cuda.device_count() if torch.cuda.is_available() else 0} "
                         "CUDA device(s)")
    return device


#: The largest float32: the network trains in float32, so lr, penalty and clip_value
#: beyond it overflow inside the optimiser (a raw RuntimeError) or the loss.
_FLOAT32_MAX = float(np.finfo(np.float32).max)


def _in_float32(value: float, name: str) -> float:
    """``value`` (checked finite) if float32 holds it; a ValueError naming ``name`` if not."""
    if value > _FLOAT32_MAX:
        raise ValueError(f"{name} must be at most {_FLOAT32_MAX:.4g} (the critic trains in "
                         f"float32); got {value!r}")
    return value


def _check_betas(betas) -> tuple[float, float]:
    """Adam's ``betas``: two numbers in [0, 1)."""
    try:
        pair = tuple(betas)
    except TypeError:
        raise TypeError(f"betas must be a pair of numbers (beta1, beta2); got {betas!r}") from None
    if len(pair) != 2 or isinstance(betas, str):
        raise ValueError(f"betas must be a pair of numbers (beta1, beta2); got {betas!r}")
    values = tuple(check_positive(b, "betas", allow_zero=True) for b in pair)
    if not all(b < 1 for b in values):
        raise ValueError(f"betas must lie in [0, 1); got {betas!r}")
    return values


def _resolve(lipschitz, hidden, activation, steps, batch_size, lr, optimizer, betas, penalty,
             clip_value, device, seed, holdout, log_every, fix_sign, lr_schedule,
             n_eval, radial, input_scale, average, penalty_batch=None,
             n_holdout=None) -> CriticConfig:
    from ..networks import ACTIVATIONS

    check_choice(lipschitz, "lipschitz", LIPSCHITZ_METHODS)
    base = DEFAULT_SETTINGS[lipschitz]
    activation = check_choice(activation or base["activation"], "activation", ACTIVATIONS)
    lr_schedule = check_choice(lr_schedule or base["lr_schedule"], "lr_schedule", LR_SCHEDULES)
    if input_scale is not None:
        input_scale = check_choice(input_scale, "input_scale", INPUT_SCALES)
    if hidden is not None:
        hidden = tuple(hidden) if isinstance(hidden, (tuple, list)) else (hidden,)
        hidden = tuple(check_positive_int(h, "hidden") for h in hidden)
    n_eval = check_positive_int(n_eval, "n_eval")
    if n_holdout is not None:  # None: default_holdout_points (with_dimension, samplers)
        n_holdout = check_positive_int(n_holdout, "n_holdout")
    steps = None if steps is None else check_positive_int(steps, "steps")
    if batch_size is not None:  # None: default_batch_size (with_dimension)
        batch_size = check_positive_int(batch_size, "batch_size")
    if penalty_batch is not None:  # None: default_penalty_batch (with_dimension)
        penalty_batch = check_positive_int(penalty_batch, "penalty_batch")
    lr = _in_float32(check_positive(base["lr"] if lr is None else lr, "lr"), "lr")
    optimizer = check_choice(optimizer or base["optimizer"], "optimizer", ("adam", "rmsprop"))
    betas = base["betas"] if betas is None else _check_betas(betas)
    if penalty is not None:  # None: default_penalty of the dimension (with_dimension)
        penalty = _in_float32(check_positive(penalty, "penalty", allow_zero=True), "penalty")
    clip_value = base["clip_value"] if clip_value is None else clip_value
    if lipschitz == "clip":
        clip_value = _in_float32(check_positive(clip_value, "clip_value"), "clip_value")
    holdout = check_positive(holdout, "holdout", allow_zero=True)
    if holdout >= 1:
        raise ValueError(f"holdout must be in [0, 1); got {holdout!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an integer; got {seed!r}")
    if not 0 <= seed < 2**64:  # what numpy's and torch's generators both take
        raise ValueError(f"seed must be between 0 and 2**64 - 1; got {seed!r}")
    device = _check_device(device)
    log_every = None if log_every is None else check_positive_int(log_every, "log_every")
    if not isinstance(fix_sign, bool):
        raise TypeError(f"fix_sign must be True or False; got {fix_sign!r}")
    if radial is not None and not isinstance(radial, bool):
        raise TypeError(f"radial must be True, False or None; got {radial!r}")
    if radial and lipschitz == "sn":
        raise ValueError("radial=True does not go with lipschitz='sn': the spectral norms "
                         "would not bound the slope of the norm feature; got radial=True")
    average = check_positive(average, "average", allow_zero=True)
    if average > 1:
        raise ValueError(f"average must be a fraction of the steps in [0, 1]; got {average!r}")
    return CriticConfig(lipschitz, hidden, activation, steps, batch_size, lr, optimizer, betas,
                        penalty, clip_value, str(device), int(seed), holdout, log_every,
                        fix_sign, lr_schedule, n_eval, radial, input_scale, average,
                        penalty_batch, n_holdout)


def _gap(values_x, wx, values_y, wy) -> float:
    return float(wx @ to_numpy(values_x) - wy @ to_numpy(values_y))


def estimate_w1(x, y, *, a=None, b=None, lipschitz: str = "lp", hidden=None,
                activation: str | None = None, steps: int | None = None,
                batch_size: int | None = None,
                lr: float | None = None, optimizer: str | None = None, betas=None,
                penalty: float | None = None, clip_value: float | None = None, device="cpu",
                seed: int = 0, holdout: float = 0.2, log_every: int | None = None,
                audit: bool = True, fix_sign: bool = True, lr_schedule: str | None = None,
                n_eval: int = 4096, radial: bool | None = None,
                input_scale: str | None = None,
                average: float = 0.0, penalty_batch: int | None = None,
                n_holdout: int | None = None) -> CriticResult:
    r"""Estimate :math:`W_1(x, y)` with a trained neural Kantorovich critic.

    .. math::

        \widehat W_1 = \mathbb E_x f_\theta - \mathbb E_y f_\theta, \qquad
        \theta \in \arg\max \; \mathbb E_{x_b} f_\theta - \mathbb E_{y_b} f_\theta
        - \text{(Lipschitz penalty)}

    Parameters
    ----------
    x, y : array-like, Tensor, Sample or sampler
        Samples as for :func:`otlab.wasserstein`: (n, d) arrays (numpy or
        torch) or :class:`otlab.Sample` objects with weights; minibatches are
        drawn with replacement according to the weights.  Or two *samplers*,
        callables ``sampler(n, rng) -> (n, d) array`` (``rng`` a
        ``numpy.random.Generator`` seeded from ``seed``; ``sampler(n)`` is
        accepted too): then every step trains on fresh minibatches and the
        estimate is scored on fresh held-out samples
        (:mod:`otlab.critics.samplers`).  A critic trained on a fixed sample
        in high dimension fits the sample (see ``generalisation_gap``); with
        samplers it cannot.
    a, b : array-like or Tensor, optional
        Weights of ``x`` and ``y`` (non-negative, normalised to sum 1), as for
        :func:`otlab.wasserstein`; uniform when omitted.
    lipschitz : {"lp", "gp", "sn", "clip", "ctransform"}, default "lp"
        How the critic is kept 1-Lipschitz (:mod:`otlab.critics.lipschitz`).
        The one-sided penalty ``"lp"`` is the default: on the known-answer
        pairs of ``benchmarks/critics_w1_benchmark.py`` it came closer to
        :math:`W_1` and to the true potential's gradient than ``"gp"`` in
        every cell measured (guide "How good is a neural critic?").
        ``"clip"`` estimates :math:`K \cdot W_1` for an unknown K: its result
        has ``status="scaled"``, warns (:class:`ScaledEstimateWarning`) and
        gives ``rescaled_estimate`` = estimate / audited K.
    hidden : tuple of int, optional
        Hidden layer widths of the MLP; default :func:`default_hidden` of the
        dimension: two layers of 128 units up to D = 16, of 256 above; for
        ``"lp"`` on samplers 256 from D = 16 on.
    activation : {"relu", "leaky_relu", "tanh", "elu", "groupsort"}, optional
        Default ``DEFAULT_SETTINGS[lipschitz]["activation"]``: ``"relu"`` for
        ``"lp"``, ``"leaky_relu"`` otherwise.  ``"groupsort"`` is MaxMin
        (:class:`otlab.networks.GroupSort` on pairs of units; Anil, Lucas &
        Grosse 2019), gradient-norm preserving; its penalty gradients take
        the first-order path as ReLU's do
        (:func:`otlab.critics.lipschitz.input_gradients`), and the hidden
        widths must be even.  On the known-answer pairs it did not beat ReLU
        (guide "How good is a neural critic?", the seventh round).
    steps : int, optional
        Optimiser steps (one minibatch of x and of y each); default
        :func:`default_steps` of the dimension and method: on samplers for
        ``"lp"`` 64000 up to D = 32, 16000 from D = 33 to 96 and 32000 from
        D = 97 on; on fixed samples, and for the other
        methods, 1000 up to D = 32, 1000 more per 32 dimensions, 4000 from
        D = 97 on.
    batch_size : int, optional
        Points of each side per step; default :func:`default_batch_size`:
        256, but 512 for ``"lp"`` on samplers from D = 33 on.
    penalty_batch : int, optional
        Interpolates per step at which the ``"gp"``/``"lp"`` penalty is
        evaluated: those of the first ``penalty_batch`` pairs of the minibatch
        (in random order), at most ``batch_size``; default
        :func:`default_penalty_batch`: 256 for ``"lp"`` on samplers, every
        pair otherwise.  The penalty's input gradients are the costly part of
        a step, so a larger ``batch_size`` with the penalty at 256 pairs
        lowers the noise of the objective for a fraction of the cost of the
        whole larger batch: on the known-answer pairs at D = 128 with 16
        funnels, 512 points with the penalty at 256 took the slope along the
        optimal moves from 0.91 to 0.95-0.96 and the gradient cosine from 0.89
        to 0.93-0.94 (two seeds), where 1024 with the penalty at 256 did no
        better than 512 (0.945, seed 0); at D = 16 it gained nothing (guide
        "How good is a neural critic?").
    lr : float, optional
        Learning rate; default ``DEFAULT_SETTINGS[lipschitz]["lr"]`` (1e-3;
        5e-4 for ``"clip"``).  The papers' values are in ``PAPER_SETTINGS``
        (1e-4; 5e-5 for ``"clip"``): pass ``lr=1e-4`` to reproduce them.
    optimizer : {"adam", "rmsprop"}, optional
        Default RMSProp for ``"clip"``, Adam otherwise.
    betas : tuple of float, optional
        Adam's betas; default (0, 0.9) for ``"gp"``/``"lp"``, (0.5, 0.999)
        otherwise.
    penalty : float, optional
        λ of ``"gp"``/``"lp"``; default :func:`default_penalty`: 10, but 30
        for ``"lp"`` on samplers up to D = 32.
    clip_value : float, optional
        c of ``"clip"``; default 0.01.
    device : str or torch.device, default "cpu"
        Where to train (``"cuda"`` for the GPU).
    seed : int, default 0
        Seeds the split, the initialisation and the minibatches (a private
        ``torch.Generator``; the global RNG is not touched).
    holdout : float, default 0.2
        Fraction of each sample held out of training (arrays only): of its
        distinct points, copies of a point merged into one of their summed
        weight first.
    log_every : int, optional
        Steps between history entries; default ``steps // 20``.
    audit : bool, default True
        Run :func:`lipschitz_audit` on the trained critic.
    fix_sign : bool, default True
        Negate the critic whenever its training gap is negative (Notes);
        ``False`` trains the plain objective, whose ``"gp"`` runs can end
        near :math:`-W_1`.
    lr_schedule : {"cosine", "constant"}, optional
        ``"cosine"`` decays the learning rate to 0 over the steps
        (:math:`\tfrac12 (1 + \cos \pi s / S)`); default
        ``DEFAULT_SETTINGS[lipschitz]["lr_schedule"]``: ``"cosine"`` for
        ``"lp"``, ``"constant"`` otherwise.
    n_eval : int, default 4096
        Samplers only: points per side of the reference sample drawn before
        training (standardisation, sign checks, ``estimate``, the audit and,
        for ``"ctransform"``, the anchors of the c-transform).
    n_holdout : int, optional
        Samplers only: points per side of the held-out sample drawn after
        training (``holdout_estimate`` and ``holdout_stderr``); default
        :func:`default_holdout_points`: 65536, fewer where D is so large
        that they would take more than 64 MiB per side (at least
        ``n_eval``).  With fixed samples the held-out split is ``holdout``,
        and passing ``n_holdout`` is a ValueError.
    radial : bool, optional
        Give the network the norm of its standardised input as one more
        input (:class:`otlab.networks.WithRadius`): :math:`f(z) = s\,
        g(u, \lVert u\rVert)` with :math:`u = (z - c)/s`.  Default
        :func:`default_radial`: for ``"lp"`` from D = 33 on, otherwise
        never; ``"sn"`` refuses it (its spectral norms would not bound the
        slope of the norm).  High-dimensional data lie near a sphere around
        their mean, and a potential's part along the radius, which a ReLU MLP
        draws from many units, is then one weight: on the known-answer pairs
        at D = 128 it took the gradient cosine from 0.75 to 0.89; up to D = 32
        it did not help (guide "How good is a neural critic?").
    input_scale : {"radius", "coordinate"}, optional
        How the standardised input is scaled for the network
        (:func:`input_gain`): ``"radius"`` gives the points RMS norm 1,
        ``"coordinate"`` multiplies that by :math:`\sqrt D` so each
        coordinate has RMS 1, the scale PyTorch's default initialisation
        expects.  Default :func:`default_input_scale`: ``"coordinate"`` for
        ``"lp"`` (on fixed samples from D = 33 on), ``"radius"`` otherwise.
        On the known-answer pairs at
        D = 128, 16 funnels it took the default critic from -31 % to -22 %
        (cosine 0.74 to 0.80) at the same cost; at D = 4 to 32 with 4 funnels
        it made the estimate overshoot (+4 % to +8 %) with the penalty weight
        10, not with the default 30 there (:func:`default_penalty`; guide
        "How good is a neural critic?").
    average : float, default 0
        Evaluate the critic with its parameters averaged over the last
        fraction ``average`` of the steps (Polyak-Ruppert averaging):

        .. math:: \bar\theta = \frac1m \sum_{s = S - m + 1}^{S} \theta_s,
            \qquad m = \lceil \text{average} \cdot S \rceil,

        with :math:`\theta_s` the parameters after step s of S; 0 returns
        the last iterate :math:`\theta_S`.  The average of the parameters is
        not the average of the critics (the network is not linear in them), and
        its Lipschitz constant is whatever the audit finds.  It lowers the
        noise of the last iterate when the learning rate stays large
        (``lr_schedule="constant"``).  On the known-answer pairs, under the
        ``"lp"`` default's cosine decay, averaging the last quarter or half of
        the steps changed the slope along the optimal moves by under 0.01 at
        D = 4 to 32 and lowered the gradient cosine at D = 2 (it blurs the
        funnels' tips), so it is off by default (guide "How good is a neural
        critic?").

    Returns
    -------
    CriticResult
        ``estimate``, ``holdout_estimate`` with its standard error
        ``holdout_stderr`` and ``generalisation_gap`` (their difference),
        ``critic``, ``history``, ``audit``, the audited
        Lipschitz constant ``lipschitz_bound`` and ``rescaled_estimate``,
        ``flips``, ``status``.

    Raises
    ------
    ValueError
        Invalid samples (as :func:`otlab.wasserstein`), an unknown
        ``lipschitz`` (the message lists the valid names), non-positive
        ``steps``, ``batch_size`` or ``lr``; ``lr``, ``penalty`` or
        ``clip_value`` beyond the largest float32 (the network trains in
        float32); ``betas`` that are not two numbers in [0, 1); a ``device``
        that torch does not have; a sampler whose output has the wrong shape
        or non-finite values, or weights given with samplers.
    TypeError
        One sampler and one sample, a sampler that returns no real array, or
        ``betas`` that is not a sequence.
    CriticDivergedError
        When the loss becomes NaN or infinite (too large a learning rate):
        there is no estimate to return.

    Warns
    -----
    CriticFailedWarning
        When the critic is constant on the training points (it collapsed:
        its estimate, about 0, says nothing about W_1; ``status="collapsed"``),
        when its gradient norm exceeds 2 at a sample point, or the audit
        finds a gradient norm or slope above 2 anywhere it looks (the constraint
        failed and the estimate can exceed W_1 by that factor;
        ``status="not_lipschitz"``), when its audited Lipschitz constant K is
        below 0.5 (a :class:`ScaledEstimateWarning`: the estimate is
        :math:`K \cdot W_1`, as always with ``"clip"``; ``status="scaled"``),
        or when the final ``"ctransform"``
        estimate is negative (the constant 0 would do better;
        ``status="negative"``).

    Notes
    -----
    **Units.**  The network is trained on standardised points
    :math:`u = k\,(z - c)/s`, with :math:`c` the pooled mean (formed as an
    anchor, a data value, plus the mean offset from it, and applied in that
    order, so a translation that float64 holds exactly changes no bit of
    :math:`u`: offsets of 1e100 give the estimate of the data at 0), :math:`s` the
    RMS distance to it of the training points and :math:`k` the
    :func:`input_gain` of ``input_scale`` (:class:`NeuralCritic`), and
    the critic returned is
    :math:`f(z) = (s/k)\, g(k\,(z - c)/s)`, which has the Lipschitz constant of
    :math:`g`.  So the estimate moves with translations and scales of the
    data exactly as :math:`W_1` does (offsets of 1e8, scales from 1e-150 to
    1e150), the learning rates and λ mean the same on any data, and the rows
    are put in a canonical (lexicographic) order first, copies of a point
    merged, so the estimate does not depend on their order nor on a point
    being split into copies of the same total weight.

    **Sign.**  Negating a critic leaves every gradient norm, weight and
    spectral norm unchanged and flips the sign of
    :math:`\mathbb E_x f - \mathbb E_y f`.  The two-sided penalty of
    ``"gp"`` has a spurious local maximum on the wrong side: for a critic of
    slope :math:`w` along :math:`x - y` the objective is
    :math:`w \Delta - \lambda (|w| - 1)^2`, maximal at
    :math:`w = 1 + \Delta/2\lambda` but also, locally, at
    :math:`w = -(1 - \Delta/2\lambda)`, and the slope cannot pass through 0
    without paying the penalty.  In 1-D about 4 runs in 10 started on the wrong
    side and ended near :math:`-W_1`.  So for ``"clip"``, ``"gp"``, ``"lp"``
    and ``"sn"``, whenever the training gap is negative at a logging step
    (and after the last step) the output layer is negated (with its Adam
    momentum) and training goes on; ``flips`` lists those steps.

    **Failures.**  A NaN or infinite loss raises
    :class:`CriticDivergedError`; a critic constant on the training points,
    or steeper than 2 at one of them, warns (:class:`CriticFailedWarning`).

    **Spectral normalisation.**  ``"sn"`` divides every weight by its exact
    largest singular value at every step when no hidden layer is wider than
    :data:`EXACT_SN_MAX_WIDTH` (otherwise by one power-iteration estimate per
    step), and before evaluation every weight is divided by its exact norm
    computed in float64 (:func:`otlab.networks.freeze_spectral_norm`): the
    returned critic is 1-Lipschitz up to float round-off, so its estimate never
    exceeds W_1.

    The network trains in float32 on ``device``; estimates are accumulated
    in float64.  The defaults (:data:`DEFAULT_SETTINGS`) use learning rates 10x
    the papers' (:data:`PAPER_SETTINGS`) so that 1000 CPU steps converge
    (measured in ``benchmarks/reports/critic_accuracy.md``).  ``"clip"``
    estimates :math:`K \cdot W_1` with a small unknown K and is not an
    estimate of W_1.

    References
    ----------
    See :mod:`otlab.critics.lipschitz`; Mallasto et al. (2019) and Stanczuk
    et al. (2021), "Wasserstein GANs work because they fail (to approximate the
    Wasserstein distance)", for how far such estimates can be from W_1.

    Examples
    --------
    Two clusters 10 apart along a line: W_1 = 10.  The c-transform critic is
    1-Lipschitz by construction, so its estimate never exceeds W_1:

    >>> import numpy as np
    >>> x = np.linspace(-0.5, 0.5, 40)[:, None]
    >>> res = estimate_w1(x, x + 10, lipschitz="ctransform", steps=50, hidden=(16,),
    ...                   holdout=0, audit=False)
    >>> 9.5 < res.estimate <= 10 + 1e-5
    True

    Samplers: fresh minibatches at every step, the estimate on fresh points.
    A law and its translate by (3, 4) are :math:`W_1 = 5` apart:

    >>> def p(n, rng):
    ...     return rng.standard_normal((n, 2))
    >>> def q(n, rng):
    ...     return rng.standard_normal((n, 2)) + [3.0, 4.0]
    >>> res = estimate_w1(p, q, hidden=(32, 32), steps=200, n_eval=1024, audit=False)
    >>> bool(abs(res.holdout_estimate - 5) < 0.75)
    True
    """
    import torch

    cfg = _resolve(lipschitz, hidden, activation, steps, batch_size, lr, optimizer, betas,
                   penalty, clip_value, device, seed, holdout, log_every, fix_sign,
                   lr_schedule, n_eval, radial, input_scale, average, penalty_batch, n_holdout)
    if n_holdout is not None and not (callable(x) or callable(y)):
        raise ValueError(f"n_holdout sets the held-out points drawn from samplers; with fixed "
                         f"samples the held-out split is the fraction holdout={holdout!r}; "
                         f"got n_holdout={n_holdout!r}")
    if callable(x) or callable(y):
        from .samplers import estimate_from_samplers

        return estimate_from_samplers(x, y, a, b, cfg, audit=audit)
    sx, sy = sample_pair(x, y, a, b, names=("x", "y"))
    xs, wx, ys, wy = sx.points, sx.probabilities, sy.points, sy.probabilities
    rng = np.random.default_rng(cfg.seed)
    (x_tr, wx_tr), (x_ho, wx_ho) = _split(*_canonical(to_numpy(xs), to_numpy(wx)), cfg.holdout, rng)
    (y_tr, wy_tr), (y_ho, wy_ho) = _split(*_canonical(to_numpy(ys), to_numpy(wy)), cfg.holdout, rng)
    (u_x, u_y), center, shift, scale = anchored_standardise(x_tr, y_tr, radius=True)

    dev = torch.device(cfg.device)
    gen = torch.Generator().manual_seed(cfg.seed)
    cfg = with_dimension(cfg, xs.shape[1])
    gain = input_gain(cfg.input_scale, xs.shape[1])
    u_x, u_y, scale = u_x * gain, u_y * gain, scale / gain
    net = build_net(cfg, xs.shape[1], gen).to(dev)
    X = torch.as_tensor(u_x, dtype=torch.float32, device=dev)
    Y = torch.as_tensor(u_y, dtype=torch.float32, device=dev)
    px = torch.as_tensor(wx_tr, dtype=torch.float32)
    py = torch.as_tensor(wy_tr, dtype=torch.float32)
    anchors = X if cfg.lipschitz == "ctransform" else None

    def draw(step):
        ix = torch.multinomial(px, cfg.batch_size, replacement=True, generator=gen)
        iy = torch.multinomial(py, cfg.batch_size, replacement=True, generator=gen)
        return X[ix.to(dev)], Y[iy.to(dev)]

    def gap():
        return _gap(_forward(net, anchors, X), wx_tr, _forward(net, anchors, Y), wy_tr)

    start = time.perf_counter()
    history, flips = train_critic(cfg, net, draw, gap, gen)
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    return finish(cfg, net, X, Y, train=(x_tr, wx_tr, y_tr, wy_tr),
                  holdout=(x_ho, wx_ho, y_ho, wy_ho), center=(center, shift), scale=scale,
                  history=history, flips=flips, seconds=time.perf_counter() - start,
                  audit=audit, stacklevel=2)


def spectral_norms(net) -> list[float]:
    r"""Exact largest singular value of each linear layer's weight, in float64.

    :func:`otlab.networks.spectral_norms`: with 1-Lipschitz activations the
    network is :math:`\prod_l \sigma_{\max}(W_l)`-Lipschitz.  The critic of
    an ``"sn"`` run (``result.critic.net``) holds plain weights divided by
    their exact norms, so every value is at most one.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.linspace(0, 1, 40)[:, None]
    >>> res = estimate_w1(x, x + 1, lipschitz="sn", steps=20, hidden=(16, 16), audit=False)
    >>> max(spectral_norms(res.critic.net)) <= 1
    True
    """
    from ..networks import spectral_norms as _spectral_norms

    return _spectral_norms(net)
