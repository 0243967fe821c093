"""The unconditional GAN: a generator :math:`G(z)` against samples of a data set, any loss."""

from __future__ import annotations

import torch

from .. import losses, metrics
from ..config import TrainConfig
from ..data import Sampler, data_spec, make_sampler, mixture_modes
from ..family import Evaluation, Family
from ..models import build_models

__all__ = ["UnconditionalGAN", "HISTORY_COLUMNS", "FAMILY"]

#: Columns of the history of :class:`UnconditionalGAN` (``None`` where a row
#: has no value, e.g. no evaluation).  ``high_quality`` is a percentage; ``modes``,
#: ``high_quality_fraction`` and ``reverse_kl`` are the published measures of
#: :func:`otlab.gan.metrics.mode_capture_metrics` (mixtures only).
HISTORY_COLUMNS = ("iteration", "d_loss", "g_loss", "batch_estimate", "exact_w1",
                   "critic_estimate", "modes_covered", "high_quality", "mode_kl",
                   "modes", "high_quality_fraction", "reverse_kl")

_GRID = 96  # critic snapshot resolution


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
    (:func:`otlab.gan.metrics.evaluate_samples`) run in the worker thread.

    Examples
    --------
    >>> family = UnconditionalGAN(TrainConfig(hidden=8, depth=1, batch_size=4), "cpu")
    >>> g, d = family.build_models()
    >>> [tuple(t.shape) for t in family.critic_batches(g, 5)[0]]
    [(4, 2), (4, 2), (4, 1)]
    """

    columns = HISTORY_COLUMNS
    config_class = TrainConfig

    def __init__(self, config, device="cpu"):
        self.check_config(config)
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
        losses.clip_critic(self.config, critic)

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
            bounds = data_spec(cfg.data).plot_bounds
            if bounds is not None:
                lo, hi = bounds
                axis = torch.linspace(lo, hi, _GRID, device=self.device)
                grid = torch.stack(torch.meshgrid(axis, axis, indexing="xy"), -1).reshape(-1, 2)
                snapshot = {"critic": critic(grid).reshape(_GRID, _GRID),
                            "bounds": torch.tensor([lo, hi], dtype=torch.float64)}
        critic.train()
        return Evaluation(real=real, fake=fake, fields={"critic_estimate": estimate},
                          snapshot=snapshot)

    def metrics(self, real, fake):
        return metrics.evaluate_samples(real, fake, modes=self.modes, std=self.std,
                                max_iter=self.config.emd_max_iter)


FAMILY = UnconditionalGAN
