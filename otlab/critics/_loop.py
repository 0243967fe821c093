"""The training loop shared by the neural critics on samples and on samplers.

One loop: draw a minibatch of each side, take an optimiser step on the
method's loss (:func:`otlab.critics.lipschitz.critic_loss`), project (weight
clipping), and at every logging step measure the critic's gap on a fixed
evaluation set, negating the critic when that gap is negative (symmetric
methods).  Where the minibatches come from (a fixed sample or fresh draws of
a sampler) is the caller's ``draw``.
"""

from __future__ import annotations

import math

import numpy as np

from .lipschitz import DEFAULT_SETTINGS, critic_loss, project

__all__ = ["LR_SCHEDULES", "SYMMETRIC", "AVERAGE_KINDS", "CriticDivergedError",
           "WeightAverage", "train_critic"]

#: Learning-rate schedules of ``estimate_w1(lr_schedule=...)``.
LR_SCHEDULES = ("constant", "cosine")

#: Methods whose constraint is unchanged when the critic is negated (the
#: penalties see the same gradient norms, clipping and spectral norms the same
#: weights), so a critic with a negative gap can be replaced by its negation.
SYMMETRIC = ("clip", "gp", "lp", "sn")


#: How the iterates of the last steps are averaged (:class:`WeightAverage`).
AVERAGE_KINDS = ("uniform", "ema")


class WeightAverage:
    r"""An average of a network's parameters over the last ``fraction`` of the steps.

    ``"uniform"`` (Polyak-Ruppert): the mean of the iterates
    :math:`\theta_s` after the steps :math:`s = S - m + 1, \dots, S`, with
    :math:`m = \lceil \text{fraction} \cdot S\rceil`.  ``"ema"``: the
    exponential moving average :math:`\bar\theta \leftarrow \beta \bar\theta
    + (1 - \beta) \theta_s` over every step, with :math:`\beta = 1 - 1/m`
    (an effective window of about m steps).  :meth:`negate_last` keeps the
    average of a critic whose output layer is negated (a sign flip) the
    average of the negated critic; :meth:`copy_to` writes it into the network.
    """

    #: The kind used when none is given (``estimate_w1`` averages uniformly).
    default_kind = "uniform"

    def __init__(self, net, steps: int, fraction: float, kind: str | None = None):
        kind = self.default_kind if kind is None else kind
        self.params = list(net.parameters())
        self.window = max(1, math.ceil(fraction * steps))
        self.start = steps - self.window + 1 if kind == "uniform" else 1
        self.kind = kind
        self.count = 0
        self.mean = [p.detach().clone() for p in self.params]

    def update(self, step: int) -> None:
        """Add the iterate after ``step`` (1-based) when it falls in the window."""
        import torch

        if step < self.start:
            return
        self.count += 1
        # uniform: the running mean; ema: the running mean until the window is full
        weight = 1.0 / (self.count if self.kind == "uniform" else min(self.count, self.window))
        with torch.no_grad():
            for mean, p in zip(self.mean, self.params):
                mean.lerp_(p.detach(), weight)

    def negate_last(self, net) -> None:
        """Negate the average of the output layer's parameters, as :func:`negate_output` does."""
        import torch

        from ..networks import linear_layers

        last = {id(p) for p in linear_layers(net)[-1].parameters()}
        with torch.no_grad():
            for mean, p in zip(self.mean, self.params):
                if id(p) in last:
                    mean.neg_()

    def copy_to(self, net) -> None:
        """Write the averaged parameters into ``net`` (whose parameters were averaged)."""
        import torch

        with torch.no_grad():
            for mean, p in zip(self.mean, self.params):
                p.copy_(mean)


class CriticDivergedError(FloatingPointError):
    """Training a neural critic produced a NaN or infinite loss: there is no estimate."""


def make_optimizer(cfg, params):
    """RMSProp or Adam with the configuration's learning rate (and betas)."""
    import torch

    if cfg.optimizer == "rmsprop":
        return torch.optim.RMSprop(params, lr=cfg.lr)
    return torch.optim.Adam(params, lr=cfg.lr, betas=cfg.betas or (0.9, 0.999))


def lr_factor(schedule: str, step: int, steps: int) -> float:
    r"""Multiplier of the learning rate at ``step`` (1-based) of ``steps``.

    ``"constant"``: 1.  ``"cosine"``: :math:`\tfrac12 (1 + \cos(\pi (s - 1) / S))`,
    from 1 at the first step down to nearly 0 at the last.

    Examples
    --------
    >>> lr_factor("constant", 7, 10), lr_factor("cosine", 1, 10)
    (1.0, 1.0)
    >>> round(lr_factor("cosine", 6, 10), 12)
    0.5
    """
    if schedule == "constant":
        return 1.0
    return 0.5 * (1.0 + math.cos(math.pi * (step - 1) / steps))


def negate_output(net, optimizer) -> None:
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


def diverged(cfg, first: int, last: int) -> CriticDivergedError:
    """The error raised when the loss became NaN or infinite between two logging steps."""
    default = DEFAULT_SETTINGS[cfg.lipschitz]["lr"]
    return CriticDivergedError(
        f"training the {cfg.lipschitz!r} critic diverged: the loss became NaN or infinite "
        f"between steps {first} and {last} (lr={cfg.lr:g}); there is no estimate. Lower lr "
        f"(default {default:g})."
    )


def train_critic(cfg, net, draw, gap, generator, *, check=None):
    """Train ``net``; return ``(history, flips)``.

    Parameters
    ----------
    cfg : CriticConfig
    net : torch.nn.Module
        The critic network, on standardised points.
    draw : callable
        ``draw(step) -> (xb, yb)``: the minibatches of one step (standardised
        tensors on the network's device).
    gap : callable
        ``gap() -> float``: the critic's gap :math:`E_x f - E_y f` on the
        evaluation points (standardised units), measured at logging steps.
    generator : torch.Generator
        Draws the interpolation weights of the penalties.
    check : callable, optional
        Called at every logging step (e.g. to raise on bad sampler output).
    """
    import torch

    opt = make_optimizer(cfg, net.parameters())
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda i: lr_factor(cfg.lr_schedule, i + 1, cfg.steps))
    project(cfg.lipschitz, net, clip_value=cfg.clip_value)
    average = WeightAverage(net, cfg.steps, cfg.average) if cfg.average > 0 else None
    history = {"step": [], "loss": [], "estimate": []}
    flips, bad, checked = [], None, 0
    penalty_rows = ({} if cfg.penalty_batch is None or cfg.penalty_batch >= cfg.batch_size
                    else {"penalty_batch": cfg.penalty_batch})
    for step in range(1, cfg.steps + 1):
        xb, yb = draw(step)
        loss, _ = critic_loss(cfg.lipschitz, net, xb, yb, generator, penalty=cfg.penalty,
                              **penalty_rows)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        project(cfg.lipschitz, net, clip_value=cfg.clip_value)
        if average is not None:
            average.update(step)
        finite = torch.isfinite(loss.detach())
        bad = ~finite if bad is None else bad | ~finite
        if step % cfg.log_every == 0 or step == cfg.steps:
            if check is not None:
                check()
            with torch.no_grad():
                value = gap()
            if bool(bad) or not np.isfinite(value):
                raise diverged(cfg, checked + 1, step)
            checked = step
            if value < 0 and cfg.fix_sign and cfg.lipschitz in SYMMETRIC:
                negate_output(net, opt)
                if average is not None:
                    average.negate_last(net)
                flips.append(step)
                value = -value
            history["step"].append(step)
            history["loss"].append(loss.item())
            history["estimate"].append(value)
    if average is not None:
        average.copy_to(net)
        project(cfg.lipschitz, net, clip_value=cfg.clip_value)
    return history, flips
