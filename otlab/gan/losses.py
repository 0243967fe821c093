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

The Wasserstein losses are the Lipschitz methods of
:mod:`otlab.critics.lipschitz` (``"wgan"`` is ``"clip"``, ``"wgan-gp"`` is
``"gp"``, ...), computed by its :func:`~otlab.critics.lipschitz.kantorovich_loss`,
the one implementation shared with the neural critics: real, fake and
interpolated points go through the critic in **one** batched pass, and for a
plain ReLU MLP critic the input gradient of the penalty is written out
(:func:`relu_mlp_input_gradient`) rather than obtained by double
backpropagation:

.. math::

    \nabla_x D(x) = W_1^\top \big(m_1 \odot W_2^\top \big(m_2 \odot \cdots
    W_L^\top\big)\big), \qquad m_l = \mathbb{1}[W_l h_{l-1} + b_l > 0].
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .. import networks
from ..critics.lipschitz import (GAN_LOSSES, _plain_relu_mlp, kantorovich_loss,  # noqa: F401
                                 relu_mlp_input_gradient)

__all__ = ["critic_loss", "generator_loss", "critic_estimate", "relu_mlp_input_gradient",
           "clip_critic", "WASSERSTEIN_LOSSES"]

#: The Wasserstein GAN losses, one per Lipschitz method of :mod:`otlab.critics.lipschitz`.
WASSERSTEIN_LOSSES = tuple(GAN_LOSSES.values())


def critic_estimate(critic, real, fake) -> torch.Tensor:
    """:math:`\\mathbb{E} D(x) - \\mathbb{E} D(\\tilde x)` as a 0-d tensor (no grad).

    The Kantorovich-Rubinstein estimate of :math:`W_1(P_r, P_g)` by the
    critic :math:`D`, from the rows of ``real`` and ``fake`` (one batched
    pass through ``critic``).

    Examples
    --------
    With :math:`D(z) = z_1`, real points at :math:`z_1 = 1, 3` and fake
    points at the origin: :math:`(1 + 3) / 2 - 0 = 2`.

    >>> critic = nn.Linear(2, 1, bias=False)
    >>> _ = critic.weight.data.copy_(torch.tensor([[1.0, 0.0]]))
    >>> real, fake = torch.tensor([[1.0, 0.0], [3.0, 0.0]]), torch.zeros(2, 2)
    >>> est = critic_estimate(critic, real, fake)
    >>> float(est), est.requires_grad
    (2.0, False)
    """
    with torch.no_grad():
        out = critic(torch.cat([real, fake]))
        n = real.shape[0]
        return out[:n].mean() - out[n:].mean()


def critic_loss(loss: str, critic, real, fake, *, penalty: float = 10.0, alpha=None):
    """Return ``(loss, estimate)``: the critic's objective and its detached W estimate.

    The Wasserstein losses are
    :func:`otlab.critics.lipschitz.kantorovich_loss` (``penalty`` is used by
    ``"wgan-gp"`` and ``"wgan-lp"`` only); ``"gan"`` and ``"gan-ns"`` minimise
    the binary cross-entropy on the logits.  ``alpha`` (shape ``(n, 1)``, in
    [0, 1]) are the interpolation weights of the penalties; drawn from
    :math:`U[0, 1]` when not given.

    >>> _ = torch.manual_seed(0)
    >>> lin = torch.nn.Linear(2, 1)
    >>> x = torch.randn(64, 2)
    >>> value, est = critic_loss("wgan-gp", lin, x, x.clone())
    >>> bool(value >= 0), float(est)
    (True, 0.0)
    """
    if loss in WASSERSTEIN_LOSSES:
        return kantorovich_loss(loss, critic, real, fake, penalty=penalty, alpha=alpha)
    n = real.shape[0]
    out = critic(torch.cat([real, fake.detach()])).squeeze(-1)
    d_real, d_fake = out[:n], out[n:]
    value = F.softplus(-d_real).mean() + F.softplus(d_fake).mean()  # gan, gan-ns: BCE on logits
    return value, (d_real.mean() - d_fake.mean()).detach()


def generator_loss(loss: str, critic, fake) -> torch.Tensor:
    r"""The generator's objective on fake samples (with gradient to the generator).

    With :math:`D` the critic's logit on the rows :math:`\tilde x` of ``fake``:
    :math:`\mathbb{E}\log(1-\sigma(D)) = -\mathbb{E}\,\mathrm{softplus}(D)`
    (``"gan"``), :math:`-\mathbb{E}\log\sigma(D) = \mathbb{E}\,\mathrm{softplus}(-D)`
    (``"gan-ns"``), and :math:`-\mathbb{E} D` for the WGANs.

    Examples
    --------
    Critic values :math:`D = (0, 2)`:
    :math:`-(\log 2 + \log(1 + e^2)) / 2`,
    :math:`(\log 2 + \log(1 + e^{-2})) / 2` and :math:`-(0 + 2) / 2`.

    >>> critic = nn.Linear(2, 1, bias=False)
    >>> _ = critic.weight.data.copy_(torch.tensor([[1.0, 0.0]]))
    >>> fake = torch.tensor([[0.0, 0.0], [2.0, 0.0]])
    >>> [round(generator_loss(name, critic, fake).item(), 6)
    ...  for name in ("gan", "gan-ns", "wgan-gp")]
    [-1.410038, 0.410038, -1.0]
    """
    d_fake = critic(fake).squeeze(-1)
    if loss == "gan":  # minimax: minimise log(1 - sigmoid(D)) = -softplus(D)
        return -F.softplus(d_fake).mean()
    if loss == "gan-ns":  # non-saturating: minimise -log sigmoid(D) = softplus(-D)
        return F.softplus(-d_fake).mean()
    return -d_fake.mean()


def clip_critic(config, critic) -> None:
    """Clip the critic's weights to :math:`[-c, c]`, ``c = config.clip``, when ``config.loss``
    is ``"wgan"`` (after every critic step); nothing for the other losses.

    >>> from types import SimpleNamespace
    >>> lin = nn.Linear(2, 1)
    >>> _ = nn.init.constant_(lin.weight, 5.0)
    >>> clip_critic(SimpleNamespace(loss="wgan", clip=0.01), lin)
    >>> lin.weight.tolist()
    [[0.01, 0.01]]
    """
    if config.loss == "wgan":
        networks.clip_weights_(critic.parameters(), config.clip)
