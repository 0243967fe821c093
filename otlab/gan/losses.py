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

For a plain ReLU MLP critic (an ``nn.Sequential`` of ``Linear`` and ``ReLU``
layers ending in a ``Linear`` with one output) the input gradient in the
penalty is written out rather than obtained by double backpropagation:

.. math::

    \nabla_x D(x) = W_1^\top \big(m_1 \odot W_2^\top \big(m_2 \odot \cdots
    W_L^\top\big)\big), \qquad m_l = \mathbb{1}[W_l h_{l-1} + b_l > 0],

a first-order expression whose derivative with respect to the weights is
exactly what double backpropagation computes (the masks are piecewise
constant, :math:`\mathrm{relu}'' = 0`).  It costs fewer, larger kernels and
leaves a graph that ordinary autograd (and ``torch.compile``) handles.  Any
other critic (convolutional, spectrally normalised, custom) takes the
double-backpropagation path.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["critic_loss", "generator_loss", "critic_estimate", "relu_mlp_input_gradient",
           "WASSERSTEIN_LOSSES"]

WASSERSTEIN_LOSSES = ("wgan", "wgan-gp", "wgan-lp", "wgan-sn")


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


def _plain_relu_mlp(critic) -> list[nn.Linear] | None:
    """The ``Linear`` layers of a ``Linear, ReLU, ..., Linear(., 1)`` Sequential, else ``None``.

    Parametrised layers (spectral norm) and subclasses are left to autograd.
    """
    if type(critic) is not nn.Sequential or len(critic) % 2 == 0:
        return None
    modules = list(critic)
    linears, relus = modules[0::2], modules[1::2]
    plain = (all(type(m) is nn.Linear and not nn.utils.parametrize.is_parametrized(m)
                 for m in linears)
             and all(type(m) is nn.ReLU for m in relus) and linears[-1].out_features == 1)
    return linears if plain else None


def relu_mlp_input_gradient(layers, x, *, start: int = 0):
    r"""Outputs of a ReLU MLP on all rows of ``x`` and input gradients of rows ``start:``.

    With :math:`h_0 = x`, :math:`h_l = \mathrm{relu}(W_l h_{l-1} + b_l)` and
    :math:`D(x) = W_L h_{L-1} + b_L` (one output),
    :math:`\nabla_x D = W_1^\top (m_1 \odot \cdots W_{L-1}^\top(m_{L-1} \odot W_L^\top))`
    with the masks :math:`m_l = \mathbb{1}[W_l h_{l-1} + b_l > 0]` (the convention of
    autograd's ReLU backward).  The result is differentiable in the weights with
    first-order autograd: no ``create_graph`` double backward.

    Parameters
    ----------
    layers : sequence of torch.nn.Linear
        The affine layers; a ReLU follows every one but the last, which has one output.
    x : Tensor, shape (n, d)
    start : int
        First row whose input gradient is wanted.

    Returns
    -------
    out : Tensor, shape (n,)
    grad : Tensor, shape (n - start, d)

    Examples
    --------
    >>> _ = torch.manual_seed(0)
    >>> net = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 1))
    >>> x = torch.randn(5, 2, requires_grad=True)
    >>> out, grad = relu_mlp_input_gradient([net[0], net[2]], x)
    >>> (expected,) = torch.autograd.grad(net(x).sum(), x)
    >>> torch.allclose(grad, expected), torch.allclose(out, net(x).squeeze(-1))
    (True, True)
    """
    h, masks = x, []
    for layer in layers[:-1]:
        pre = F.linear(h, layer.weight, layer.bias)
        masks.append((pre[start:] > 0).to(pre.dtype))
        h = torch.relu(pre)
    out = F.linear(h, layers[-1].weight, layers[-1].bias).squeeze(-1)
    grad = layers[-1].weight  # (1, H): broadcasts over the rows in the first product
    for layer, mask in zip(reversed(layers[:-1]), reversed(masks)):
        grad = (grad * mask) @ layer.weight
    return out, grad


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
        stacked = torch.cat([real, fake, interp])
        layers = _plain_relu_mlp(critic)
        if layers is not None:
            out, grad = relu_mlp_input_gradient(layers, stacked, start=2 * n)
        else:
            stacked.requires_grad_(True)
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
