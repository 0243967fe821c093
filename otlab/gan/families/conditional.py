r"""The conditional GAN (Mirza & Osindero 2014): a generator and a critic that see the class.

The generator draws :math:`\tilde x = G(z, y)` for a class :math:`y`, the
critic scores pairs :math:`D(x, y)`, and any loss of :data:`otlab.gan.LOSSES`
compares the joint laws of :math:`(x, y)` and :math:`(G(z, y), y)` with the
labels :math:`y` drawn from the data (the fake points of a critic step are
generated for the labels of its real points).  Two ways to give the class to
the critic (:class:`ConditionalCritic`):

- ``"concat"``: the one-hot label is appended to the input,
  :math:`D(x, y) = f([x, e_y])` (for the MLPs; equivalent to a learned label
  embedding added in the first layer);
- ``"projection"`` (Miyato & Koyama 2018): with the critic's body
  :math:`\phi` and last layer :math:`\psi`,
  :math:`D(x, y) = \psi(\phi(x)) + \langle E_y, \phi(x) \rangle`, a learned
  embedding :math:`E` of each class (MLP and convolutional critics).

The generator always takes :math:`[z, e_y]`.  ``conditioning="none"`` drops
the label from both networks: the *unconditional* GAN with the same networks,
losses and budget, measured class by class with the same rule (each
generated point takes the class of its nearest mode, or the class a
classifier reads; :func:`otlab.gan.class_metrics.class_report`).

Everything else is :func:`otlab.gan.train`'s: the configuration
(:class:`CGANConfig`, a :class:`~otlab.gan.TrainConfig` with one more
field), checkpoints and resume, the exact-:math:`W_1` evaluation in a worker
thread.

Examples
--------
>>> from otlab.gan import train
>>> cfg = CGANConfig.for_loss("wgan-gp", data="8gaussians", iters=2, n_critic=1, hidden=16,
...                           depth=1, batch_size=32, eval_every=2, eval_samples=64,
...                           progress=False)
>>> history = train(cfg)                    # the family comes from the configuration
>>> [row["iteration"] for row in history], len([c for c in history[-1] if "w1_class" in c])
([0, 2], 8)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from ..._validation import check_choice
from .. import losses
from ..class_metrics import class_report
from ..config import TrainConfig
from ..conditioning import ConditionalGenerator, LabelledFamily, split_labels, with_labels
from ..data import LABELLED_DATASETS, n_classes
from ..family import Evaluation
from ..metrics import exact_w1
from ..models import conv_critic, conv_generator, conv_width, mlp, output_activation

__all__ = ["FAMILY", "CGANConfig", "CONDITIONINGS", "ConditionalGAN", "ConditionalCritic",
           "build_conditional_models"]

#: How the class reaches the networks (``"none"``: the unconditional baseline).
CONDITIONINGS = ("concat", "projection", "none")

_BASE_COLUMNS = ("iteration", "d_loss", "g_loss", "batch_estimate", "exact_w1",
                 "critic_estimate", "mean_class_w1", "mean_generated_class_w1",
                 "classes_generated", "classes_covered", "label_accuracy")


@dataclass(frozen=True)
class CGANConfig(TrainConfig):
    """A :class:`~otlab.gan.TrainConfig` for the conditional GAN; ``data`` must be labelled.

    Parameters
    ----------
    conditioning : {"concat", "projection", "none"}
        How the critic sees the class (see :mod:`otlab.gan.families.conditional`);
        ``"none"`` trains the unconditional baseline.  ``arch="conv"`` needs
        ``"projection"`` or ``"none"``.
    **fields
        Every field of :class:`~otlab.gan.TrainConfig`; ``data`` is one of
        :data:`~otlab.gan.data.LABELLED_DATASETS`.

    Examples
    --------
    >>> cfg = CGANConfig.for_loss("gan-ns", data="25gaussians", conditioning="projection")
    >>> cfg.n_classes, cfg.n_critic, cfg.family
    (25, 1, 'conditional')
    """

    conditioning: str = "concat"

    def __post_init__(self):
        super().__post_init__()
        check_choice(self.data, "data", LABELLED_DATASETS)
        check_choice(self.conditioning, "conditioning", CONDITIONINGS)
        if self.arch == "conv" and self.conditioning == "concat":
            raise ValueError("conditioning='concat' needs arch='mlp' (a convolutional critic "
                             "reads 8x8 images, not appended labels); use "
                             "conditioning='projection'")

    family: ClassVar[str] = "conditional"

    @property
    def n_classes(self) -> int:
        """Number of classes of ``data``."""
        return n_classes(self.data)


class ConditionalCritic(nn.Module):
    r"""A critic :math:`D(x, y)` built on an ordinary one: label concatenation or projection.

    Parameters
    ----------
    base : torch.nn.Sequential
        A critic ending in a ``Linear`` layer with one output.  For
        ``"concat"`` it reads rows of width ``dim + n_classes``; otherwise
        ``dim``.
    n_classes : int
    conditioning : {"concat", "projection", "none"}
    spectral_norm : bool
        Spectrally normalise the class embedding too (projection critic of
        ``loss="wgan-sn"``).

    Examples
    --------
    >>> _ = torch.manual_seed(0)
    >>> d = ConditionalCritic(mlp(2, 1, hidden=8, depth=1), 4, "projection")
    >>> _ = nn.init.normal_(d.embed.weight)
    >>> x = torch.randn(3, 2)
    >>> tuple(d(x, torch.tensor([0, 1, 2])).shape)
    (3, 1)
    >>> bool((d(x, torch.tensor([0, 0, 0])) != d(x, torch.tensor([3, 3, 3]))).all())
    True
    """

    def __init__(self, base: nn.Sequential, n_classes: int, conditioning: str, *,
                 spectral_norm: bool = False):
        super().__init__()
        self.n_classes = int(n_classes)
        self.conditioning = check_choice(conditioning, "conditioning", CONDITIONINGS)
        if conditioning == "projection":
            self.body, self.head = base[:-1], base[-1]
            embed = nn.Embedding(self.n_classes, self.head.in_features)
            nn.init.zeros_(embed.weight)  # starts as the unconditional critic
            if spectral_norm:
                embed = nn.utils.parametrizations.spectral_norm(embed)
            self.embed = embed
        else:
            self.net = base

    def forward(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        if self.conditioning == "none":
            return self.net(x)
        if self.conditioning == "concat":
            return self.net(torch.cat([x, F.one_hot(labels, self.n_classes).to(x.dtype)], dim=1))
        features = self.body(x)
        projection = (self.embed(labels) * features).sum(dim=1, keepdim=True)
        return self.head(features) + projection


def _given(critic, labels):
    """The critic of rows given ``labels``; stacked blocks (real, fake, interpolated rows, in
    the order of ``labels`` each, as the losses stack them) get the labels repeated."""
    n = labels.shape[0]
    return lambda rows: critic(rows, labels.repeat(rows.shape[0] // n))


def build_conditional_models(config: CGANConfig, data_dim: int, *, device="cpu"):
    """``(ConditionalGenerator, ConditionalCritic)`` for ``config`` (MLPs or the conv pair)."""
    k = config.n_classes
    in_g = config.latent_dim + (0 if config.conditioning == "none" else k)
    extra = k if config.conditioning == "concat" else 0
    sn = config.loss == "wgan-sn"
    if config.arch == "conv":
        width = conv_width(config.hidden)
        net, base = conv_generator(in_g, width=width), conv_critic(width=width, spectral_norm=sn)
    else:
        net = mlp(in_g, data_dim, hidden=config.hidden, depth=config.depth,
                  out_activation=output_activation(config.data))
        base = mlp(data_dim + extra, 1, hidden=config.hidden, depth=config.depth,
                   spectral_norm=sn)
    generator = ConditionalGenerator(net, 0 if config.conditioning == "none" else k)
    critic = ConditionalCritic(base, k, config.conditioning, spectral_norm=sn)
    return generator.to(device), critic.to(device)


class ConditionalGAN(LabelledFamily):
    r"""The family of :class:`CGANConfig`: class-conditional batches, losses and per-class measures.

    A critic step draws real pairs :math:`(x, y)` and generates
    :math:`G(z, y)` for the same labels; the loss is
    :func:`otlab.gan.critic_loss` with the critic :math:`D(\cdot, y)` (the
    gradient penalty is taken in :math:`x` at fixed :math:`y`).  The
    generator step draws labels from the data's class frequencies.  An
    evaluation draws ``eval_samples`` labelled real points and generates one
    point for each of their labels (from a CPU generator seeded with
    ``(seed, iteration)``: the training streams are untouched); the points
    carry their label as a last column (:func:`with_labels`) to
    :meth:`metrics`, which measures in the worker thread the exact
    :math:`W_1` of all points and :func:`~otlab.gan.class_metrics.class_report`.

    History columns: those of the trainer's loop and evaluation, then
    ``mean_class_w1``, ``mean_generated_class_w1``, ``classes_generated``,
    ``classes_covered``, ``label_accuracy`` and ``w1_class_0`` ... ``w1_class_{K-1}``.
    """

    config_class = CGANConfig

    def __init__(self, config: CGANConfig, device="cpu"):
        super().__init__(config, device)
        self.n_classes = self.sampler.n_classes
        self.columns = _BASE_COLUMNS + tuple(f"w1_class_{k}" for k in range(self.n_classes))

    def build_models(self):
        return build_conditional_models(self.config, self.sampler.dim, device=self.device)

    def critic_batches(self, generator, n_steps):
        b, z_dim, dev = self.config.batch_size, self.config.latent_dim, self.device
        real, labels = self.sampler(n_steps * b)
        alpha = torch.rand(n_steps, b, 1, device=dev)
        with torch.no_grad():
            fake = generator(torch.randn(n_steps * b, z_dim, device=dev), labels)
        real, fake, labels = real.view(n_steps, b, -1), fake.view(n_steps, b, -1), \
            labels.view(n_steps, b)
        return [(real[k], fake[k], labels[k], alpha[k]) for k in range(n_steps)]

    def critic_loss(self, critic, real, fake, labels, alpha):
        return losses.critic_loss(self.config.loss, _given(critic, labels), real, fake,
                                  penalty=self.config.penalty, alpha=alpha)

    def generator_batch(self):
        b = self.config.batch_size
        return (torch.randn(b, self.config.latent_dim, device=self.device),
                self.sampler.labels(b))

    def generator_loss(self, generator, critic, z, labels):
        return losses.generator_loss(self.config.loss, _given(critic, labels),
                                     generator(z, labels))

    def evaluate(self, generator, critic, iteration):
        cfg = self.config
        cpu_gen = torch.Generator().manual_seed(cfg.seed * 7919 + iteration)
        real, labels = self._eval_sampler(cfg.eval_samples, generator=cpu_gen)
        z = torch.randn(cfg.eval_samples, cfg.latent_dim, generator=cpu_gen)
        real, labels = real.to(self.device), labels.to(self.device)
        critic.eval()
        with torch.no_grad():
            fake = generator(z.to(self.device), labels)
            estimate = losses.critic_estimate(_given(critic, labels), real, fake)
        critic.train()
        return Evaluation(real=with_labels(real, labels), fake=with_labels(fake, labels),
                          fields={"critic_estimate": estimate})

    def metrics(self, real, fake):
        x, y = split_labels(real)
        fx, fy = split_labels(fake)
        conditioned = self.config.conditioning != "none"
        return {"exact_w1": exact_w1(x, fx, max_iter=self.config.emd_max_iter),
                **class_report(self.config.data, x, y, fx, fy if conditioned else None,
                               max_iter=self.config.emd_max_iter)}


FAMILY = ConditionalGAN
