r"""What a model family brings to the training loop: models, batches, losses, evaluation.

:func:`otlab.gan.train` is one loop for every GAN-like model.  What differs
between families (an unconditional GAN on points, a conditional GAN, InfoGAN,
pix2pix) is supplied by a *family* object with the methods of :class:`Family`:

=========================  ================================================================
``build_models()``         ``(generator, critic)`` modules on the device
``parameter_groups(g, d)`` the parameters the generator and the critic optimiser update
``critic_batches(g, k)``   ``k`` batches (tuples of tensors) for the ``k`` critic steps,
                           drawn at once while the generator is fixed
``critic_loss(d, *b)``     ``(loss, estimate)`` on one such batch
``constrain_critic(d)``    after every critic step (weight clipping); may do nothing
``generator_batch()``      one batch (a tuple of tensors) for the generator step
``generator_loss(g, d,     the generator's loss on it
*b)``
``evaluate(g, d, it)``     an :class:`Evaluation`: device tensors measured at iteration ``it``
``metrics(real, fake)``    host-side measures (runs in a worker thread): ``{column: value}``
``columns``                the history columns, starting with ``"iteration"``
=========================  ================================================================

A conditional GAN draws ``(x, y)`` pairs in ``critic_batches`` and feeds the
labels to both networks in its losses; InfoGAN returns the :math:`Q` head's
parameters with the generator's in ``parameter_groups`` and adds the mutual
information term to ``generator_loss``; pix2pix draws paired images and adds
its :math:`L_1` term.  None of them needs a second training loop.

Everything ``critic_batches``, the losses and ``generator_batch`` do must stay
on the device without host synchronisation (no ``.item()``, no
data-dependent Python control flow), so that an iteration can be captured in a
CUDA graph and compiled.

:class:`UnconditionalGAN` is the family of :mod:`otlab.gan`'s own data sets
and losses.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from .. import networks
from . import losses
from .data import Sampler, make_sampler, mixture_modes
from .evaluation import evaluate_samples
from .models import build_models

__all__ = ["Family", "UnconditionalGAN", "Evaluation", "HISTORY_COLUMNS", "PLOT_BOUNDS"]

#: Columns of the history of :class:`UnconditionalGAN` (``None`` where a row
#: has no value, e.g. no evaluation).  ``high_quality`` is a percentage.
HISTORY_COLUMNS = ("iteration", "d_loss", "g_loss", "batch_estimate", "exact_w1",
                   "critic_estimate", "modes_covered", "high_quality", "mode_kl")

#: Square plotting window ``(low, high)`` of each 2-D data set (for critic contours).
PLOT_BOUNDS = {"8gaussians": (-3.0, 3.0), "25gaussians": (-5.5, 5.5), "ring": (-3.0, 3.0),
               "swissroll": (-2.2, 2.2), "parallel_lines": (-1.5, 1.5)}

_GRID = 96  # critic snapshot resolution


@dataclass
class Evaluation:
    """What a family measures on the device at one evaluation.

    ``real`` and ``fake`` (shape ``(n, d)``) go to :meth:`Family.metrics` in a
    worker thread; ``fields`` are 0-d tensors already measured (the critic's
    estimate); ``snapshot`` are extra arrays saved with the samples for the
    figures (the critic on a grid).
    """

    real: torch.Tensor
    fake: torch.Tensor
    fields: dict = field(default_factory=dict)
    snapshot: dict = field(default_factory=dict)


class Family:
    """The hooks :func:`otlab.gan.train` calls; subclass and fill them in.

    See the module docstring for the contract of each method.
    """

    columns: tuple = ("iteration", "d_loss", "g_loss", "batch_estimate")

    def build_models(self):
        raise NotImplementedError

    def parameter_groups(self, generator, critic):
        return list(generator.parameters()), list(critic.parameters())

    def critic_batches(self, generator, n_steps: int):
        raise NotImplementedError

    def critic_loss(self, critic, *batch):
        raise NotImplementedError

    def constrain_critic(self, critic) -> None:
        return None

    def generator_batch(self):
        raise NotImplementedError

    def generator_loss(self, generator, critic, *batch):
        raise NotImplementedError

    def evaluate(self, generator, critic, iteration: int) -> Evaluation:
        raise NotImplementedError

    def metrics(self, real, fake) -> dict:
        return {}


class UnconditionalGAN(Family):
    r"""A generator :math:`G(z)` against samples of ``config.data``, any loss of :data:`LOSSES`.

    Per iteration the real samples, the interpolation weights of the
    penalties and the noise of all ``n_critic`` critic steps are drawn at once
    (fewer, larger kernels); the generator is fixed meanwhile, so the fake
    batches come from one forward pass.  ``loss="wgan"`` clips the critic's
    weights to :math:`[-c, c]` after every critic step.  An evaluation draws
    ``eval_samples`` real points and noise vectors from a CPU generator
    seeded with ``(seed, iteration)`` (the training RNG streams are
    untouched), and measures the critic estimate and, for 2-D data, the
    critic on a 96 x 96 grid; the exact :math:`W_1` and the mode metrics
    (:func:`otlab.gan.evaluation.evaluate_samples`) run in the worker thread.

    Examples
    --------
    >>> from otlab.gan import TrainConfig
    >>> family = UnconditionalGAN(TrainConfig(hidden=8, depth=1, batch_size=4), "cpu")
    >>> g, d = family.build_models()
    >>> [tuple(t.shape) for t in family.critic_batches(g, 5)[0]]
    [(4, 2), (4, 2), (4, 1)]
    """

    columns = HISTORY_COLUMNS

    def __init__(self, config, device="cpu"):
        self.config, self.device = config, torch.device(device)
        self.sampler = Sampler(config.data, device=self.device)
        mix = mixture_modes(config.data)
        self.modes, self.std = (None, 0.0) if mix is None else mix

    def build_models(self):
        return build_models(self.config, self.sampler.dim, device=self.device)

    def critic_batches(self, generator, n_steps):
        b, z_dim, dev = self.config.batch_size, self.config.latent_dim, self.device
        real = self.sampler(n_steps * b).view(n_steps, b, -1)
        alpha = torch.rand(n_steps, b, 1, device=dev)
        with torch.no_grad():
            fake = generator(torch.randn(n_steps * b, z_dim, device=dev)).view(n_steps, b, -1)
        return [(real[k], fake[k], alpha[k]) for k in range(n_steps)]

    def critic_loss(self, critic, real, fake, alpha):
        return losses.critic_loss(self.config.loss, critic, real, fake,
                                  penalty=self.config.penalty, alpha=alpha)

    def constrain_critic(self, critic):
        if self.config.loss == "wgan":
            networks.clip_weights_(critic.parameters(), self.config.clip)

    def generator_batch(self):
        return (torch.randn(self.config.batch_size, self.config.latent_dim, device=self.device),)

    def generator_loss(self, generator, critic, z):
        return losses.generator_loss(self.config.loss, critic, generator(z))

    def evaluate(self, generator, critic, iteration):
        cfg = self.config
        cpu_gen = torch.Generator().manual_seed(cfg.seed * 7919 + iteration)
        real = make_sampler(cfg.data)(cfg.eval_samples, generator=cpu_gen)
        z = torch.randn(cfg.eval_samples, cfg.latent_dim, generator=cpu_gen)
        critic.eval()  # no spectral-norm power iteration during evaluation
        snapshot = {}
        with torch.no_grad():
            fake = generator(z.to(self.device))
            estimate = losses.critic_estimate(critic, real.to(self.device), fake)
            if cfg.data in PLOT_BOUNDS:
                lo, hi = PLOT_BOUNDS[cfg.data]
                axis = torch.linspace(lo, hi, _GRID, device=self.device)
                grid = torch.stack(torch.meshgrid(axis, axis, indexing="xy"), -1).reshape(-1, 2)
                snapshot = {"critic": critic(grid).reshape(_GRID, _GRID),
                            "bounds": torch.tensor([lo, hi], dtype=torch.float64)}
        critic.train()
        return Evaluation(real=real, fake=fake, fields={"critic_estimate": estimate},
                          snapshot=snapshot)

    def metrics(self, real, fake):
        return evaluate_samples(real, fake, modes=self.modes, std=self.std,
                                max_iter=self.config.emd_max_iter)

