"""The critic network: a plain MLP with scalar output, optionally spectrally normalised."""

from __future__ import annotations

__all__ = ["build_mlp", "linear_layers", "ACTIVATIONS"]

#: Activations accepted by :func:`build_mlp` (all 1-Lipschitz).
ACTIVATIONS = ("leaky_relu", "relu", "tanh", "elu")


def _activation(name: str):
    import torch.nn as nn

    return {"leaky_relu": lambda: nn.LeakyReLU(0.2), "relu": nn.ReLU, "tanh": nn.Tanh,
            "elu": nn.ELU}[name]()


def build_mlp(dim: int, hidden: tuple[int, ...], *, activation: str = "leaky_relu",
              spectral: bool = False, generator=None):
    """An MLP ``R^dim -> R`` with the given hidden widths.

    Parameters (PyTorch's default initialisation) are drawn from a seed taken
    from ``generator`` (a ``torch.Generator``), so that the network is
    reproducible without touching the global RNG.  With
    ``spectral=True`` every linear layer is wrapped in
    ``torch.nn.utils.parametrizations.spectral_norm``.
    """
    import torch
    import torch.nn as nn

    # nn.Linear and spectral_norm draw from the global RNG: fork it and seed it
    # from our generator (reproducible, and the caller's RNG is left alone).
    seed = int(torch.randint(0, 2**31 - 1, (1,), generator=generator))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        layers = _layers(dim, hidden, activation, spectral)
    return nn.Sequential(*layers)


def _layers(dim, hidden, activation, spectral):
    import torch
    import torch.nn as nn
    from torch.nn.utils.parametrizations import spectral_norm

    widths = [dim, *hidden, 1]
    layers: list = []
    for i, (n_in, n_out) in enumerate(zip(widths[:-1], widths[1:])):
        lin = nn.Linear(n_in, n_out)
        if spectral:
            lin = spectral_norm(lin, n_power_iterations=1)
            with torch.no_grad():
                for _ in range(20):  # converge the estimate of sigma before training
                    _ = lin.weight
        layers.append(lin)
        if i < len(widths) - 2:
            layers.append(_activation(activation))
    return layers


def linear_layers(net):
    """The ``nn.Linear`` layers of ``net``, in order."""
    import torch.nn as nn

    return [m for m in net.modules() if isinstance(m, nn.Linear)]
