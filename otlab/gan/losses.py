r"""Critic and generator objectives of the GAN family.

With critic (discriminator logit) :math:`D`, real :math:`x \sim P_r` and fake
:math:`\tilde x = G(z)`, the critic minimises

- ``gan``, ``gan-ns``: :math:`-\mathbb{E}\log\sigma(D(x)) - \mathbb{E}\log(1-\sigma(D(\tilde x)))`;
- ``wgan``, ``wgan-sn``: :math:`\mathbb{E} D(\tilde x) - \mathbb{E} D(x)` (Lipschitz
  constraint by weight clipping in the trainer, resp. spectral normalisation);
- ``wgan-gp``: the same plus :math:`\lambda\,\mathbb{E}(\|\nabla D(\hat x)\| - 1)^2`;
- ``wgan-lp``: the same plus :math:`\lambda\,\mathbb{E}\max(0, \|\nabla D(\hat x)\| - 1)^2`,

with :math:`\hat x = \alpha x + (1-\alpha)\tilde x`, :math:`\alpha \sim U[0,1]`.
The generator minimises :math:`\mathbb{E}\log(1-\sigma(D(\tilde x)))` (``gan``,
minimax), :math:`-\mathbb{E}\log\sigma(D(\tilde x))` (``gan-ns``) or
:math:`-\mathbb{E} D(\tilde x)` (the WGANs).

The critic's estimate of :math:`W_1` is :math:`\mathbb{E} D(x) - \mathbb{E} D(\tilde x)`
(Kantorovich-Rubinstein; a lower bound when :math:`D` is 1-Lipschitz).

Real, fake and interpolated points go through the critic in **one** batched
pass (an MLP treats rows independently, so the gradient of the interpolated
outputs with respect to the stacked input is zero outside their rows).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["critic_loss", "generator_loss", "critic_estimate", "WASSERSTEIN_LOSSES"]

WASSERSTEIN_LOSSES = ("wgan", "wgan-gp", "wgan-lp", "wgan-sn")


def critic_estimate(critic, real, fake) -> torch.Tensor:
    """:math:`\\mathbb{E} D(x) - \\mathbb{E} D(\\tilde x)` as a 0-d tensor (no grad)."""
    with torch.no_grad():
        out = critic(torch.cat([real, fake]))
        n = real.shape[0]
        return out[:n].mean() - out[n:].mean()


def critic_loss(loss: str, critic, real, fake, *, penalty: float = 10.0, alpha=None):
    """Return ``(loss, estimate)``: the critic's objective and its detached W estimate.

    ``alpha`` (shape ``(n, 1)``, in [0, 1]) are the interpolation weights of the
    penalties; drawn from :math:`U[0, 1]` when not given.

    >>> _ = torch.manual_seed(0)
    >>> lin = torch.nn.Linear(2, 1)
    >>> x = torch.randn(64, 2)
    >>> value, est = critic_loss("wgan-gp", lin, x, x.clone())
    >>> bool(value >= 0), float(est)
    (True, 0.0)
    """
    n = real.shape[0]
    fake = fake.detach()
    if loss in ("wgan-gp", "wgan-lp"):
        if alpha is None:
            alpha = torch.rand(n, 1, device=real.device, dtype=real.dtype)
        interp = alpha * real + (1.0 - alpha) * fake
        stacked = torch.cat([real, fake, interp]).requires_grad_(True)
        out = critic(stacked).squeeze(-1)
        grad = torch.autograd.grad(out[2 * n:].sum(), stacked, create_graph=True)[0][2 * n:]
        excess = grad.norm(dim=1) - 1.0
        if loss == "wgan-lp":
            excess = excess.clamp(min=0.0)
        d_real, d_fake = out[:n], out[n:2 * n]
        value = d_fake.mean() - d_real.mean() + penalty * excess.pow(2).mean()
    else:
        out = critic(torch.cat([real, fake])).squeeze(-1)
        d_real, d_fake = out[:n], out[n:]
        if loss in WASSERSTEIN_LOSSES:
            value = d_fake.mean() - d_real.mean()
        else:  # gan, gan-ns: binary cross-entropy on the logits
            value = F.softplus(-d_real).mean() + F.softplus(d_fake).mean()
    estimate = (d_real.mean() - d_fake.mean()).detach()
    return value, estimate


def generator_loss(loss: str, critic, fake) -> torch.Tensor:
    """The generator's objective on fake samples (with gradient to the generator)."""
    d_fake = critic(fake).squeeze(-1)
    if loss == "gan":  # minimax: minimise log(1 - sigmoid(D)) = -softplus(D)
        return -F.softplus(d_fake).mean()
    if loss == "gan-ns":  # non-saturating: minimise -log sigmoid(D) = softplus(-D)
        return F.softplus(-d_fake).mean()
    return -d_fake.mean()
