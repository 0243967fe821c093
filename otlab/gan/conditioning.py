"""What the families on labelled data share: labels carried with rows, a generator that
reads a label, and the family base with the samplers.

The conditional GAN and InfoGAN both generate points for a class (or a code)
and send the points with their labels to the evaluation worker; this module
holds those parts once, so that neither family imports the other.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from . import losses
from .config import TrainConfig
from .data import LabelledSampler
from .family import Family

__all__ = ["with_labels", "split_labels", "ConditionalGenerator", "LabelledFamily"]


def with_labels(x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Rows of ``x`` with their label appended as a last column (how an evaluation carries labels).

    >>> with_labels(torch.zeros(2, 2), torch.tensor([3, 1]))
    tensor([[0., 0., 3.],
            [0., 0., 1.]])
    """
    return torch.cat([x, labels.to(x.dtype)[:, None]], dim=1)


def split_labels(rows) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of :func:`with_labels` on host arrays: ``(points, int64 labels)``.

    >>> x, y = split_labels(np.array([[0.5, 2.0], [1.5, 0.0]]))
    >>> x.tolist(), y.tolist()
    ([[0.5], [1.5]], [2, 0])
    """
    rows = np.asarray(rows)
    return rows[:, :-1], np.rint(rows[:, -1]).astype(np.int64)


class ConditionalGenerator(nn.Module):
    r""":math:`G(z, y) = g([z, e_y])` with the one-hot label :math:`e_y`; without classes, :math:`g(z)`.

    Parameters
    ----------
    net : torch.nn.Module
        Maps rows of width ``z_dim + n_classes`` (``z_dim`` when
        ``n_classes == 0``) to data rows.
    n_classes : int
        Number of classes; 0 ignores the label (unconditional).

    Examples
    --------
    >>> g = ConditionalGenerator(nn.Linear(2 + 3, 2), 3)
    >>> z = torch.zeros(2, 2)
    >>> bool((g(z, torch.tensor([0, 0])) != g(z, torch.tensor([1, 2]))).any())
    True
    """

    def __init__(self, net: nn.Module, n_classes: int):
        super().__init__()
        self.net, self.n_classes = net, int(n_classes)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        if self.n_classes == 0:
            return self.net(z)
        return self.net(torch.cat([z, F.one_hot(labels, self.n_classes).to(z.dtype)], dim=1))


class LabelledFamily(Family):
    """What the families on labelled data share: the configuration check, the samplers
    (on the device for training, on the CPU for evaluation) and weight clipping."""

    config_class = TrainConfig

    def __init__(self, config, device="cpu"):
        self.check_config(config)
        self.config, self.device = config, torch.device(device)
        self.sampler = LabelledSampler(config.data, device=self.device)
        self._eval_sampler = LabelledSampler(config.data)

    def constrain_critic(self, critic):
        losses.clip_critic(self.config, critic)  # weight clipping for loss="wgan"
