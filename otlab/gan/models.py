"""Generator and critic networks: the ReLU MLPs of the WGAN-GP toy code.

Gulrajani et al.'s toy experiments use, for both networks, three hidden
layers of 512 ReLU units (``hidden=512, depth=3``).  For the 64-D digits the
same MLP is used with a ``tanh`` output on the generator (pixels in [-1, 1]).
The critic of ``loss="wgan-sn"`` has every linear layer spectrally normalised.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["mlp", "build_models"]


def mlp(in_dim: int, out_dim: int, *, hidden: int = 512, depth: int = 3,
        spectral_norm: bool = False, out_activation: nn.Module | None = None) -> nn.Sequential:
    """``depth`` hidden ReLU layers of width ``hidden``, then a linear output.

    >>> net = mlp(2, 1, hidden=8, depth=2)
    >>> net(torch.zeros(5, 2)).shape
    torch.Size([5, 1])
    """
    dims = [in_dim] + [hidden] * depth
    layers: list[nn.Module] = []
    for a, b in zip(dims[:-1], dims[1:]):
        layers += [nn.Linear(a, b), nn.ReLU()]
    layers.append(nn.Linear(dims[-1], out_dim))
    if spectral_norm:
        sn = nn.utils.parametrizations.spectral_norm
        layers = [sn(m) if isinstance(m, nn.Linear) else m for m in layers]
    if out_activation is not None:
        layers.append(out_activation)
    return nn.Sequential(*layers)


def build_models(config, data_dim: int, *, device="cpu") -> tuple[nn.Module, nn.Module]:
    """``(generator, critic)`` for ``config``, initialised from torch's current RNG."""
    out_act = nn.Tanh() if config.data == "digits" else None
    generator = mlp(config.latent_dim, data_dim, hidden=config.hidden, depth=config.depth,
                    out_activation=out_act)
    critic = mlp(data_dim, 1, hidden=config.hidden, depth=config.depth,
                 spectral_norm=config.loss == "wgan-sn")
    return generator.to(device), critic.to(device)
