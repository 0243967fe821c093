r"""Generator and critic networks: ReLU MLPs, and a DCGAN-style pair for the 8x8 digits.

**MLPs** (``arch="mlp"``, every data set).  Gulrajani et al.'s toy
experiments use, for both networks, three hidden layers of 512 ReLU units
(``hidden=512, depth=3``).  For data in a box (the 64-D digits, pixels in
[-1, 1]; :attr:`otlab.gan.data.DataSpec.bounded`) the generator ends in
``tanh`` (:func:`output_activation`).

**Convolutional** (``arch="conv"``, digits only).  A DCGAN-style pair (Radford
et al. 2016) scaled down to 8x8x1 images, with base width
:math:`C = \max(\lfloor \text{hidden}/8 \rfloor, 1)`:

- generator: :math:`z` → Linear → ReLU → :math:`(4C, 2, 2)` → ConvTranspose2d
  (kernel 4, stride 2) → ReLU → :math:`(2C, 4, 4)` → ConvTranspose2d → :math:`(1, 8, 8)`
  → tanh → flattened to 64;
- critic: 64 → :math:`(1, 8, 8)` → Conv2d (kernel 4, stride 2) → LeakyReLU(0.2)
  → :math:`(C, 4, 4)` → Conv2d → LeakyReLU(0.2) → :math:`(2C, 2, 2)` → Linear → 1.

``hidden=512`` gives 64, 128 and 256 channels, DCGAN's widths.  Both networks
take and return *flattened* 64-D rows, so the sampler, the losses, the exact
:math:`W_1` evaluation and the trainer see the same tensors as with the MLPs.
Neither has batch normalisation: batch norm couples the rows of a batch, which
breaks the per-sample gradient penalty (Gulrajani et al. 2017, Sec. 4) and the
trainer's single critic pass over stacked real, fake and interpolated rows.
Without it the law of :math:`G(z)` also does not depend on the batch size, so
the evaluation samples come from the law that was trained.

The critic of ``loss="wgan-sn"`` has every linear and convolutional layer
spectrally normalised (Miyato et al. 2018; for a convolution, the norm of the
kernel reshaped to ``(out_channels, in_channels * kh * kw)``, as in their code).

All models are plain :class:`torch.nn.Sequential` stacks with fixed shapes: no
host synchronisation and no data-dependent control flow, so a training
iteration can be captured in a CUDA graph.
"""

from __future__ import annotations

import torch
from torch import nn

from .. import networks
from .data import data_spec

__all__ = ["mlp", "conv_generator", "conv_critic", "conv_width", "build_models", "IMAGE_SHAPE",
           "output_activation"]

#: ``(channels, height, width)`` of the images the convolutional models handle.
IMAGE_SHAPE = (1, 8, 8)

_IMAGE_DIM = IMAGE_SHAPE[0] * IMAGE_SHAPE[1] * IMAGE_SHAPE[2]


def mlp(in_dim: int, out_dim: int, *, hidden: int = 512, depth: int = 3,
        spectral_norm: bool = False, out_activation: nn.Module | None = None) -> nn.Sequential:
    """``depth`` hidden ReLU layers of width ``hidden``, then a linear output.

    :func:`otlab.networks.mlp` with ``depth`` equal widths; ``spectral_norm``
    applies one power iteration per call (:func:`otlab.networks.spectral_normalise`).

    >>> net = mlp(2, 1, hidden=8, depth=2)
    >>> net(torch.zeros(5, 2)).shape
    torch.Size([5, 1])
    """
    return networks.mlp(in_dim, out_dim, [hidden] * depth, activation="relu",
                        spectral_norm="power" if spectral_norm else None,
                        out_activation=out_activation)


def output_activation(data: str) -> nn.Module | None:
    """The generator's last layer for data set ``data``: ``tanh`` for data in a box, else none.

    >>> output_activation("digits"), output_activation("8gaussians")
    (Tanh(), None)
    """
    return nn.Tanh() if data_spec(data).bounded else None


def conv_width(hidden: int) -> int:
    """Base channel count :math:`C` of the convolutional models for a given ``hidden``.

    >>> conv_width(512), conv_width(64), conv_width(4)
    (64, 8, 1)
    """
    return max(int(hidden) // 8, 1)


def conv_generator(z_dim: int, *, width: int = 64) -> nn.Sequential:
    r"""DCGAN-style generator of 8x8 images in :math:`[-1, 1]`, returned as flattened 64-D rows.

    :math:`z` → Linear → ReLU → :math:`(4C, 2, 2)` → ConvTranspose2d → ReLU →
    :math:`(2C, 4, 4)` → ConvTranspose2d → :math:`(1, 8, 8)` → tanh → 64, with
    :math:`C` = ``width``.

    Parameters
    ----------
    z_dim : int
        Latent dimension.
    width : int
        Base channel count :math:`C` (see :func:`conv_width`).

    Examples
    --------
    >>> g = conv_generator(16, width=4)
    >>> x = g(torch.randn(5, 16))
    >>> tuple(x.shape), bool(x.abs().max() <= 1)
    ((5, 64), True)
    """
    c = int(width)
    return nn.Sequential(
        nn.Linear(z_dim, 4 * c * 2 * 2), nn.ReLU(),
        nn.Unflatten(1, (4 * c, 2, 2)),
        nn.ConvTranspose2d(4 * c, 2 * c, kernel_size=4, stride=2, padding=1), nn.ReLU(),
        nn.ConvTranspose2d(2 * c, IMAGE_SHAPE[0], kernel_size=4, stride=2, padding=1),
        nn.Tanh(),
        nn.Flatten(1),
    )


def conv_critic(*, width: int = 64, spectral_norm: bool = False) -> nn.Sequential:
    r"""DCGAN-style critic of 8x8 images given as flattened 64-D rows; one score per row.

    64 → :math:`(1, 8, 8)` → Conv2d → LeakyReLU(0.2) → :math:`(C, 4, 4)` →
    Conv2d → LeakyReLU(0.2) → :math:`(2C, 2, 2)` → Linear → 1, with :math:`C` =
    ``width``.  No batch normalisation, so rows are scored independently (the
    gradient penalty needs per-sample gradients).

    Parameters
    ----------
    width : int
        Base channel count :math:`C` (see :func:`conv_width`).
    spectral_norm : bool
        Spectrally normalise both convolutions and the linear layer.

    Examples
    --------
    >>> d = conv_critic(width=4)
    >>> d(torch.zeros(5, 64)).shape
    torch.Size([5, 1])
    """
    c = int(width)
    layers: list[nn.Module] = [
        nn.Unflatten(1, IMAGE_SHAPE),
        nn.Conv2d(IMAGE_SHAPE[0], c, kernel_size=4, stride=2, padding=1), nn.LeakyReLU(0.2),
        nn.Conv2d(c, 2 * c, kernel_size=4, stride=2, padding=1), nn.LeakyReLU(0.2),
        nn.Flatten(1),
        nn.Linear(2 * c * 2 * 2, 1),
    ]
    if spectral_norm:
        layers = networks.spectral_normalise(layers, method="power")
    return nn.Sequential(*layers)


def build_models(config, data_dim: int, *, device="cpu") -> tuple[nn.Module, nn.Module]:
    """``(generator, critic)`` for ``config``, initialised from torch's current RNG.

    ``config.arch`` picks the architecture: ``"mlp"`` (:func:`mlp`, ``hidden``
    x ``depth``) or ``"conv"`` (:func:`conv_generator` and :func:`conv_critic`
    with width :func:`conv_width` of ``config.hidden``).  With
    ``config.loss == "wgan-sn"`` the critic is spectrally normalised.

    Examples
    --------
    >>> from otlab.gan import TrainConfig
    >>> cfg = TrainConfig(data="digits", arch="conv", hidden=32)
    >>> g, d = build_models(cfg, 64)
    >>> d(g(torch.randn(3, cfg.latent_dim))).shape
    torch.Size([3, 1])
    """
    sn = config.loss == "wgan-sn"
    if config.arch == "conv":
        if data_dim != _IMAGE_DIM:
            raise ValueError(f"arch='conv' needs data_dim={_IMAGE_DIM} (8x8 images); "
                             f"got data_dim={data_dim}")
        width = conv_width(config.hidden)
        generator = conv_generator(config.latent_dim, width=width)
        critic = conv_critic(width=width, spectral_norm=sn)
    else:
        generator = mlp(config.latent_dim, data_dim, hidden=config.hidden, depth=config.depth,
                        out_activation=output_activation(config.data))
        critic = mlp(data_dim, 1, hidden=config.hidden, depth=config.depth, spectral_norm=sn)
    return generator.to(device), critic.to(device)
