r"""Neural Kantorovich critics: estimate :math:`W_1` by training an MLP.

:func:`estimate_w1` maximises the Kantorovich–Rubinstein objective

.. math:: \max_{f \in \mathcal F} \; \mathbb E_x f - \mathbb E_y f

over MLPs kept (close to) 1-Lipschitz by one of the methods of
:mod:`otlab.critics.lipschitz`, and reports the estimate on the training
samples and on a held-out split, with a Lipschitz audit of the result.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field

import numpy as np

from .._backend import to_numpy
from .._validation import check_choice, check_positive, check_positive_int
from ..frames import standardise
from ..sample import sample_pair
from ._function import NeuralCritic, _forward
from .audit import LipschitzAudit, lipschitz_audit
from .lipschitz import DEFAULT_SETTINGS, LIPSCHITZ_METHODS, critic_loss, project

__all__ = ["CriticConfig", "CriticResult", "NeuralCritic", "CriticFailedWarning",
           "ScaledEstimateWarning", "CriticDivergedError", "estimate_w1", "spectral_norms", "EXACT_SN_MAX_WIDTH"]

#: Widest hidden layer for which ``"sn"`` divides by the exact spectral norm at
#: every step (one SVD per layer and step); wider networks use one power
#: iteration per step and the exact norm once, at the end of training.
EXACT_SN_MAX_WIDTH = 256

#: Methods whose constraint is unchanged when the critic is negated (the
#: penalties see the same gradient norms, clipping and spectral norms the same
#: weights), so a critic with a negative gap can be replaced by its negation.
_SYMMETRIC = ("clip", "gp", "lp", "sn")

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


class CriticDivergedError(FloatingPointError):
    """Training a neural critic produced a NaN or infinite loss: there is no estimate."""


@dataclass(frozen=True)
class CriticConfig:
    """The resolved settings of one :func:`estimate_w1` run (see its parameters)."""

    lipschitz: str
    hidden: tuple[int, ...]
    activation: str
    steps: int
    batch_size: int
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


@dataclass(frozen=True)
class CriticResult:
    """Result of :func:`estimate_w1`.

    Attributes
    ----------
    estimate : float
        :math:`\\mathbb E_x f - \\mathbb E_y f` on the training samples.
    holdout_estimate : float
        The same on the held-out samples (NaN when ``holdout=0``).
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
        ``(x, wx, y, wy)`` numpy arrays of the training and held-out splits.
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
        \\bar f_y)^2}` with the held-out weights (NaN when ``holdout=0``): the
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


def _canonical(x, w):
    """Rows sorted lexicographically (then by weight): the estimate depends on the
    empirical measure, not on the order of the rows."""
    order = np.lexsort((w, *x.T[::-1]))
    return x[order], w[order]


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


def _resolve(lipschitz, hidden, activation, steps, batch_size, lr, optimizer, betas, penalty,
             clip_value, device, seed, holdout, log_every, fix_sign) -> CriticConfig:
    from ..networks import ACTIVATIONS

    check_choice(lipschitz, "lipschitz", LIPSCHITZ_METHODS)
    check_choice(activation, "activation", ACTIVATIONS)
    hidden = tuple(hidden) if isinstance(hidden, (tuple, list)) else (hidden,)
    hidden = tuple(check_positive_int(h, "hidden") for h in hidden)
    steps = check_positive_int(steps, "steps")
    batch_size = check_positive_int(batch_size, "batch_size")
    base = DEFAULT_SETTINGS[lipschitz]
    lr = check_positive(base["lr"] if lr is None else lr, "lr")
    optimizer = check_choice(optimizer or base["optimizer"], "optimizer", ("adam", "rmsprop"))
    betas = base["betas"] if betas is None else tuple(float(b) for b in betas)
    penalty = check_positive(base["penalty"] if penalty is None else penalty, "penalty",
                             allow_zero=True)
    clip_value = base["clip_value"] if clip_value is None else clip_value
    if lipschitz == "clip":
        clip_value = check_positive(clip_value, "clip_value")
    holdout = check_positive(holdout, "holdout", allow_zero=True)
    if holdout >= 1:
        raise ValueError(f"holdout must be in [0, 1); got {holdout!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an integer; got {seed!r}")
    log_every = max(1, steps // 20) if log_every is None else check_positive_int(log_every,
                                                                                 "log_every")
    if not isinstance(fix_sign, bool):
        raise TypeError(f"fix_sign must be True or False; got {fix_sign!r}")
    return CriticConfig(lipschitz, hidden, activation, steps, batch_size, lr, optimizer, betas,
                        penalty, clip_value, str(device), int(seed), holdout, log_every,
                        fix_sign)


def _build_net(cfg: CriticConfig, dim: int, generator):
    """The MLP, initialised from a seed drawn from ``generator`` (global RNG untouched)."""
    import torch

    from ..networks import mlp, seeded

    spectral = None
    if cfg.lipschitz == "sn":
        spectral = "exact" if max(cfg.hidden, default=0) <= EXACT_SN_MAX_WIDTH else "power"
    seed = int(torch.randint(0, 2**31 - 1, (1,), generator=generator))
    with seeded(seed):
        return mlp(dim, 1, cfg.hidden, activation=cfg.activation, spectral_norm=spectral)


def _make_optimizer(cfg: CriticConfig, params):
    import torch

    if cfg.optimizer == "rmsprop":
        return torch.optim.RMSprop(params, lr=cfg.lr)
    return torch.optim.Adam(params, lr=cfg.lr, betas=cfg.betas or (0.9, 0.999))


def _negate_output(net, optimizer) -> None:
    """Replace the critic f by -f: negate the last layer and its optimiser momentum."""
    import torch

    from ..networks import linear_layers

    with torch.no_grad():
        for p in linear_layers(net)[-1].parameters():  # a parametrised weight: its raw tensor
            p.neg_()
            state = optimizer.state.get(p, {})
            for key in ("exp_avg", "momentum_buffer"):
                if key in state:
                    state[key].neg_()


def _gap(values_x, wx, values_y, wy) -> float:
    return float(wx @ to_numpy(values_x) - wy @ to_numpy(values_y))


def _diverged(cfg: CriticConfig, first: int, last: int) -> CriticDivergedError:
    default = DEFAULT_SETTINGS[cfg.lipschitz]["lr"]
    return CriticDivergedError(
        f"training the {cfg.lipschitz!r} critic diverged: the loss became NaN or infinite "
        f"between steps {first} and {last} (lr={cfg.lr:g}); there is no estimate. Lower lr "
        f"(default {default:g})."
    )


def _train(cfg: CriticConfig, net, data, generator):
    """The optimisation loop on standardised tensors; returns ``(history, flips)``.

    ``data = (X, px, wx, Y, py, wy)``: points, sampling weights (torch) and
    weights (numpy) of both samples.  At every logging step the training gap
    is measured; for the symmetric methods a negative gap negates the critic.
    """
    import torch

    X, px, wx, Y, py, wy = data
    anchors = X if cfg.lipschitz == "ctransform" else None
    opt = _make_optimizer(cfg, net.parameters())
    project(cfg.lipschitz, net, clip_value=cfg.clip_value)
    history = {"step": [], "loss": [], "estimate": []}
    flips, bad, checked = [], torch.zeros((), dtype=torch.bool, device=X.device), 0
    for step in range(1, cfg.steps + 1):
        ix = torch.multinomial(px, cfg.batch_size, replacement=True, generator=generator)
        iy = torch.multinomial(py, cfg.batch_size, replacement=True, generator=generator)
        loss, _ = critic_loss(cfg.lipschitz, net, X[ix.to(X.device)], Y[iy.to(X.device)],
                              generator, penalty=cfg.penalty)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        project(cfg.lipschitz, net, clip_value=cfg.clip_value)
        bad |= ~torch.isfinite(loss.detach())
        if step % cfg.log_every == 0 or step == cfg.steps:
            with torch.no_grad():
                gap = _gap(_forward(net, anchors, X), wx, _forward(net, anchors, Y), wy)
            if bool(bad) or not np.isfinite(gap):
                raise _diverged(cfg, checked + 1, step)
            checked = step
            if gap < 0 and cfg.fix_sign and cfg.lipschitz in _SYMMETRIC:
                _negate_output(net, opt)
                flips.append(step)
                gap = -gap
            history["step"].append(step)
            history["loss"].append(loss.item())
            history["estimate"].append(gap)
    return history, flips


def estimate_w1(x, y, *, a=None, b=None, lipschitz: str = "lp", hidden=(64, 64),
                activation: str = "leaky_relu", steps: int = 1000, batch_size: int = 256,
                lr: float | None = None, optimizer: str | None = None, betas=None,
                penalty: float | None = None, clip_value: float | None = None, device="cpu",
                seed: int = 0, holdout: float = 0.2, log_every: int | None = None,
                audit: bool = True, fix_sign: bool = True) -> CriticResult:
    r"""Estimate :math:`W_1(x, y)` with a trained neural Kantorovich critic.

    .. math::

        \widehat W_1 = \mathbb E_x f_\theta - \mathbb E_y f_\theta, \qquad
        \theta \in \arg\max \; \mathbb E_{x_b} f_\theta - \mathbb E_{y_b} f_\theta
        - \text{(Lipschitz penalty)}

    Parameters
    ----------
    x, y : array-like, Tensor or Sample
        Samples as for :func:`otlab.wasserstein`: (n, d) arrays (numpy or
        torch) or :class:`otlab.Sample` objects with weights; minibatches are
        drawn with replacement according to the weights.
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
    hidden : tuple of int, default (64, 64)
        Hidden layer widths of the MLP.
    activation : {"leaky_relu", "relu", "tanh", "elu"}, default "leaky_relu"
    steps : int, default 1000
        Optimiser steps (one minibatch of x and of y each).
    batch_size : int, default 256
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
        λ of ``"gp"``/``"lp"``; default 10.
    clip_value : float, optional
        c of ``"clip"``; default 0.01.
    device : str or torch.device, default "cpu"
        Where to train (``"cuda"`` for the GPU).
    seed : int, default 0
        Seeds the split, the initialisation and the minibatches (a private
        ``torch.Generator``; the global RNG is not touched).
    holdout : float, default 0.2
        Fraction of each sample held out of training.
    log_every : int, optional
        Steps between history entries; default ``steps // 20``.
    audit : bool, default True
        Run :func:`lipschitz_audit` on the trained critic.
    fix_sign : bool, default True
        Negate the critic whenever its training gap is negative (Notes);
        ``False`` trains the plain objective, whose ``"gp"`` runs can end
        near :math:`-W_1`.

    Returns
    -------
    CriticResult
        ``estimate``, ``holdout_estimate`` with its standard error
        ``holdout_stderr``, ``critic``, ``history``, ``audit``, the audited
        Lipschitz constant ``lipschitz_bound`` and ``rescaled_estimate``,
        ``flips``, ``status``.

    Raises
    ------
    ValueError
        Invalid samples (as :func:`otlab.wasserstein`), an unknown
        ``lipschitz`` (the message lists the valid names), non-positive
        ``steps``, ``batch_size`` or ``lr``.
    CriticDivergedError
        When the loss becomes NaN or infinite (too large a learning rate):
        there is no estimate to return.

    Warns
    -----
    CriticFailedWarning
        When the critic is constant on the training points (it collapsed:
        its estimate, about 0, says nothing about W_1; ``status="collapsed"``),
        when its gradient norm exceeds 2 at a sample point (the constraint
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
    :math:`u = (z - c)/s`, with :math:`c` the pooled mean and :math:`s` the
    RMS distance to it of the training points (:class:`NeuralCritic`), and
    the critic returned is
    :math:`f(z) = s\, g((z - c)/s)`, which has the Lipschitz constant of
    :math:`g`.  So the estimate moves with translations and scales of the
    data exactly as :math:`W_1` does (offsets of 1e8, scales from 1e-150 to
    1e150), the learning rates and λ mean the same on any data, and the rows
    are put in a canonical (lexicographic) order first, so the estimate does
    not depend on their order.

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
    """
    import torch

    cfg = _resolve(lipschitz, hidden, activation, steps, batch_size, lr, optimizer, betas,
                   penalty, clip_value, device, seed, holdout, log_every, fix_sign)
    sx, sy = sample_pair(x, y, a, b, names=("x", "y"))
    xs, wx, ys, wy = sx.points, sx.probabilities, sy.points, sy.probabilities
    rng = np.random.default_rng(cfg.seed)
    (x_tr, wx_tr), (x_ho, wx_ho) = _split(*_canonical(to_numpy(xs), to_numpy(wx)), cfg.holdout, rng)
    (y_tr, wy_tr), (y_ho, wy_ho) = _split(*_canonical(to_numpy(ys), to_numpy(wy)), cfg.holdout, rng)
    (u_x, u_y), center, scale = standardise(x_tr, y_tr, radius=True)

    dev = torch.device(cfg.device)
    gen = torch.Generator().manual_seed(cfg.seed)
    net = _build_net(cfg, xs.shape[1], gen).to(dev)
    X = torch.as_tensor(u_x, dtype=torch.float32, device=dev)
    Y = torch.as_tensor(u_y, dtype=torch.float32, device=dev)
    data = (X, torch.as_tensor(wx_tr, dtype=torch.float32), wx_tr,
            Y, torch.as_tensor(wy_tr, dtype=torch.float32), wy_tr)
    start = time.perf_counter()
    history, flips = _train(cfg, net, data, gen)
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    seconds = time.perf_counter() - start

    if cfg.lipschitz == "sn":
        from ..networks import freeze_spectral_norm

        freeze_spectral_norm(net)
    critic = NeuralCritic(net, X if cfg.lipschitz == "ctransform" else None, center=center,
                          scale=scale)
    with torch.no_grad():
        fx, fy = to_numpy(critic.standardised(X)), to_numpy(critic.standardised(Y))
    est = scale * float(wx_tr @ fx - wy_tr @ fy)
    if not np.isfinite(est):
        raise _diverged(cfg, 1, cfg.steps)
    history["estimate"] = [scale * g for g in history["estimate"]]
    history["estimate"][-1] = est
    ho_est, ho_se = float("nan"), float("nan")
    if x_ho.shape[0] and y_ho.shape[0]:
        ho_est, ho_se = _holdout_estimate(critic, x_ho, wx_ho, y_ho, wy_ho)
    slope = 1.0 if cfg.lipschitz == "ctransform" else _max_gradient(net, X, Y)
    report = None
    if audit:
        report = lipschitz_audit(critic, x_tr, y_tr, seed=cfg.seed, device=dev,
                                 dtype=torch.float64)
    bound = slope if report is None or cfg.lipschitz == "ctransform" else max(
        slope, report.lipschitz_bound)
    status = _status(cfg, est, np.concatenate([fx, fy]), slope, bound)
    return CriticResult(
        estimate=est, holdout_estimate=ho_est, critic=critic,
        history={k: np.asarray(v, dtype=float) for k, v in history.items()}, audit=report,
        config=cfg, train=(x_tr, wx_tr, y_tr, wy_tr), holdout_samples=(x_ho, wx_ho, y_ho, wy_ho),
        seconds=seconds, flips=tuple(flips), status=status, lipschitz_bound=bound,
        holdout_stderr=ho_se,
    )


def _holdout_estimate(critic, x, wx, y, wy) -> tuple[float, float]:
    """The critic's estimate on the held-out points and its standard error (weighted)."""
    fx, fy = critic(x), critic(y)
    mx, my = float(wx @ fx), float(wy @ fy)
    var = float(wx**2 @ (fx - mx) ** 2 + wy**2 @ (fy - my) ** 2)
    return mx - my, float(np.sqrt(var))


def _max_gradient(net, X, Y) -> float:
    """Largest gradient norm of the network at the (standardised) training points."""
    import torch

    from .lipschitz import gradient_norms

    return float(gradient_norms(net, torch.cat([X, Y])).max())


def _status(cfg: CriticConfig, estimate: float, values: np.ndarray, slope: float,
            bound: float) -> str:
    """``"collapsed"``, ``"not_lipschitz"``, ``"scaled"``, ``"negative"`` (each with a warning) or ``"ok"``."""
    size = max(1.0, float(np.abs(values).max()))
    spread = float(values.max() - values.min())
    if not spread > _COLLAPSE_SPREAD * size:
        warnings.warn(
            f"the trained {cfg.lipschitz!r} critic is constant on the training points (its "
            f"values spread over {spread:.3g} in standardised units): it collapsed and its "
            f"estimate ({estimate:.4g}) says nothing about W_1. Try a smaller lr "
            f"(lr={cfg.lr:g}).", CriticFailedWarning, stacklevel=3,
        )
        return "collapsed"
    if not slope <= _MAX_SLOPE:
        warnings.warn(
            f"the trained {cfg.lipschitz!r} critic has gradient norm {slope:.3g} at a sample "
            f"point: its Lipschitz constraint failed and its estimate ({estimate:.4g}) can "
            f"exceed W_1 by that factor. Try a smaller lr (lr={cfg.lr:g}).",
            CriticFailedWarning, stacklevel=3,
        )
        return "not_lipschitz"
    if not bound >= _MIN_SLOPE:
        warnings.warn(
            f"the trained {cfg.lipschitz!r} critic is K-Lipschitz with audited K = {bound:.3g}, "
            f"not 1: its estimate ({estimate:.4g}) is K * W_1, not an estimate of W_1; "
            f"result.rescaled_estimate = estimate / K = {estimate / bound:.4g} estimates W_1"
            + (" (weight clipping bounds the weights, not the slope)." if cfg.lipschitz == "clip"
               else "."), ScaledEstimateWarning, stacklevel=3,
        )
        return "scaled"
    if estimate < 0:
        warnings.warn(
            f"the trained {cfg.lipschitz!r} critic's estimate is negative ({estimate:.4g}): the "
            "critic failed (the constant 0 would score 0). Try more steps or another lr.",
            CriticFailedWarning, stacklevel=3,
        )
        return "negative"
    return "ok"


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
