r"""Samplers that draw training data directly on the device with torch.

Each sampler draws from the same law as its numpy counterpart in
:mod:`otlab.datasets` (same mode centres, widths and scaling; the centres of
the mixtures come from :func:`otlab.datasets.mixtures.gaussian_mixture_modes`),
but uses torch's default generator of the device, so one ``torch.manual_seed``
makes a training run reproducible and the samples never leave the GPU.

- ``8gaussians``: radius 2, std 0.02; ``25gaussians``: grid spacing 2, std 0.05;
- ``25gaussians-ref``: the same grid at the WGAN-GP reference code's scale
  (divided by 2.828: spacing :math:`2/2.828 \approx 0.707`, std :math:`0.05/2.828
  \approx 0.0177`);
- ``ring``: radius 2, uniform angle, std 0.02;
- ``swissroll``: :math:`t = \tfrac{3\pi}{2}(1+2u)`,
  :math:`((t\cos t, t\sin t) + 0.25\varepsilon) / 7.5`;
- ``parallel_lines``: the real line :math:`\{0\} \times [0, 1]` of the WGAN paper's Example 1;
- ``digits``: scikit-learn's 8x8 digits, scaled from [0, 16] to [-1, 1], flattened to 64-D.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch

from ..datasets.mixtures import MIXTURE_DEFAULTS, gaussian_mixture_modes
from .config import DATASETS
from .._validation import check_choice

__all__ = ["Sampler", "make_sampler", "data_dim", "mixture_modes"]


def data_dim(name: str) -> int:
    """Dimension of data set ``name`` (64 for digits, else 2).

    The 8x8 digit images are flattened to :math:`\\mathbb R^{64}`; every
    other data set lives in the plane :math:`\\mathbb R^2`.

    Examples
    --------
    >>> data_dim("digits"), data_dim("8gaussians"), data_dim("swissroll")
    (64, 2, 2)
    """
    check_choice(name, "data", DATASETS)
    return 64 if name == "digits" else 2


def mixture_modes(name: str):
    """``(modes, std)`` of a Gaussian-mixture data set, or ``None`` for the others.

    >>> modes, std = mixture_modes("8gaussians")
    >>> modes.shape, std
    ((8, 2), 0.02)
    >>> modes, std = mixture_modes("25gaussians-ref")
    >>> modes.shape, round(std, 4), round(float(modes[1, 1] - modes[0, 1]), 4)
    ((25, 2), 0.0177, 0.7072)
    >>> mixture_modes("ring") is None
    True
    """
    if name not in MIXTURE_DEFAULTS:
        return None
    defaults = MIXTURE_DEFAULTS[name]
    return gaussian_mixture_modes(name, scale=defaults["scale"]), float(defaults["std"])


class Sampler:
    """Draw ``n`` points of a named data set on ``device``.

    Parameters
    ----------
    name : str
        One of :data:`otlab.gan.config.DATASETS`.
    device : str or torch.device

    Examples
    --------
    >>> _ = torch.manual_seed(0)
    >>> x = Sampler("8gaussians")(1000)
    >>> tuple(x.shape), round(float(x.norm(dim=1).mean()), 1)
    ((1000, 2), 2.0)
    """

    def __init__(self, name: str, *, device="cpu"):
        self.name = check_choice(name, "data", DATASETS)
        self.device = torch.device(device)
        self.dim = data_dim(name)
        self._modes = None
        self._std = 0.0
        mix = mixture_modes(name)
        if mix is not None:
            self._modes = torch.as_tensor(mix[0], dtype=torch.float32, device=self.device)
            self._std = mix[1]
        self._digits = None
        if name == "digits":
            from sklearn.datasets import load_digits

            pixels = load_digits().data.astype(np.float32) / 8.0 - 1.0
            self._digits = torch.as_tensor(pixels, device=self.device)

    def __call__(self, n: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` points as a float32 tensor on the sampler's device.

        ``generator`` (on the same device) replaces torch's default generator.
        """
        dev, g = self.device, generator
        if self._modes is not None:
            k = torch.randint(0, self._modes.shape[0], (n,), device=dev, generator=g)
            return self._modes[k] + self._std * torch.randn(n, 2, device=dev, generator=g)
        if self.name == "ring":
            phi = 2.0 * math.pi * torch.rand(n, device=dev, generator=g)
            circle = 2.0 * torch.stack([torch.cos(phi), torch.sin(phi)], dim=1)
            return circle + 0.02 * torch.randn(n, 2, device=dev, generator=g)
        if self.name == "swissroll":
            t = 1.5 * math.pi * (1.0 + 2.0 * torch.rand(n, device=dev, generator=g))
            roll = torch.stack([t * torch.cos(t), t * torch.sin(t)], dim=1)
            return (roll + 0.25 * torch.randn(n, 2, device=dev, generator=g)) / 7.5
        if self.name == "parallel_lines":
            z = torch.rand(n, device=dev, generator=g)
            return torch.stack([torch.zeros_like(z), z], dim=1)
        k = torch.randint(0, self._digits.shape[0], (n,), device=dev, generator=g)
        return self._digits[k]


@functools.lru_cache(maxsize=None)
def _cached_sampler(name: str, device: str) -> Sampler:
    return Sampler(name, device=device)


def make_sampler(name: str, *, device="cpu") -> Sampler:
    """A (cached) :class:`Sampler` for ``name`` on ``device``.

    One sampler per ``(name, device)`` is built and reused, so the digits are
    loaded (and copied to the device) only once.

    Examples
    --------
    ``ring`` draws :math:`2(\\cos\\varphi, \\sin\\varphi) + 0.02\\,\\varepsilon` with
    :math:`\\varphi \\sim U[0, 2\\pi)`: radii close to 2.

    >>> sampler = make_sampler("ring")
    >>> sampler is make_sampler("ring")
    True
    >>> x = sampler(1000, generator=torch.Generator().manual_seed(0))
    >>> tuple(x.shape), round(float(x.norm(dim=1).mean()), 2)
    ((1000, 2), 2.0)
    """
    return _cached_sampler(name, str(torch.device(device)))
