r"""pix2pix (Isola et al. 2017): a conditional GAN for paired image-to-image translation.

The task is built from scikit-learn's 8x8 digits (pixels in :math:`[-1, 1]`):
the input :math:`x` is a degraded digit and the target :math:`y` the clean
one (:func:`degrade`):

- ``"inpaint"``: the lower half (rows 4 to 7) erased to the background;
- ``"superres"``: each 2x2 block replaced by its mean (a 4x4 image shown at 8x8).

A fixed, class-stratified 20 % of the digits (360 pairs, the same for every
seed and variant) is held out for the evaluation (:func:`paired_digits`).

The generator is a small U-Net (:class:`UNet`), the discriminator a
PatchGAN (:class:`PatchCritic`) that scores every 4x4 patch of the pair
:math:`(x, y)`; the generator minimises

.. math::

    \mathcal L_G = w_{\text{GAN}}\, \mathbb{E}\,\ell\big(D(x, G(x))\big)
    + \lambda\, \mathbb{E}\,\lVert y - G(x) \rVert_1, \qquad \lambda = 100,

with :math:`\ell` the non-saturating :math:`-\log\sigma(D)` (``loss="gan-ns"``,
as in the paper) or the minimax :math:`\log(1 - \sigma(D))` (``"gan"``),
averaged over the patches, and the critic the binary cross-entropy of real
pairs :math:`(x, y)` against generated pairs :math:`(x, G(x))`.  The
paper's ablation is three settings of the weights (:data:`VARIANTS`):
``"l1"`` (:math:`w_{\text{GAN}} = 0`), ``"cgan"`` (:math:`\lambda = 0`) and
``"cgan+l1"``.  The generator's noise is dropout (p = 0.5 in the two inner
decoder layers) at training *and* at test time, as in the paper.

**Measured** on the held-out pairs at every evaluation: the mean
absolute error ``l1`` and ``psnr`` (pixels on :math:`[0, 1]`;
:math:`10 \log_{10}(1 / \mathrm{MSE})` over all held-out pixels), and the
exact :math:`W_1` between the set of generated images and the set of real
targets (64-D points, uniform weights): how far the *law* of the outputs is
from the law of real digits, whatever the pairing.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..._validation import check_choice, check_positive, check_positive_int
from ..config import LoopConfig
from ..data import digits_dataset
from ..family import Evaluation, Family
from ..metrics import exact_w1
from ..models import conv_width

__all__ = ["FAMILY", "Pix2PixConfig", "Pix2Pix", "UNet", "PatchCritic", "TASKS", "VARIANTS",
           "PIX2PIX_DEFAULTS", "degrade", "paired_digits", "image_scores", "reference_scores"]

#: Degradations that make the input of the paired task.
TASKS = ("inpaint", "superres")

#: The paper's ablation: adversarial weight and L1 weight of each variant.
VARIANTS = {"l1": {"gan_weight": 0.0, "l1_weight": 100.0},
            "cgan": {"gan_weight": 1.0, "l1_weight": 0.0},
            "cgan+l1": {"gan_weight": 1.0, "l1_weight": 100.0}}

#: The paper's optimiser (Adam, learning rate 2e-4, betas (0.5, 0.999), one D step per G
#: step) and otlab's CPU-sized batch and width (``hidden=256``: 32 base channels).
PIX2PIX_DEFAULTS = {"loss": "gan-ns", "optimizer": "adam", "lr_g": 2e-4,
                    "lr_d": 2e-4, "betas": (0.5, 0.999), "n_critic": 1, "batch_size": 64,
                    "hidden": 256}

_SIDE = 8
_HELD_OUT = 0.2


@dataclass(frozen=True)
class Pix2PixConfig(LoopConfig):
    r"""pix2pix on the digits: the loop's settings (:class:`~otlab.gan.config.LoopConfig`) and
    the model's.

    Build it with :meth:`for_variant` (the paper's optimiser and one of
    :data:`VARIANTS`).  An evaluation uses all held-out pairs.

    Parameters
    ----------
    loss : {"gan-ns", "gan"}
        The adversarial objective: non-saturating (the paper's) or minimax.
    hidden : int
        Sets the base channel count :math:`C = \max(\lfloor \text{hidden}/8
        \rfloor, 1)` of the U-Net and the PatchGAN.
    task : {"inpaint", "superres"}
        The degradation (:func:`degrade`).
    l1_weight : float
        :math:`\lambda` of the :math:`L_1` term (100 in the paper).
    gan_weight : float
        Weight of the adversarial term (0: the generator ignores the critic).
    dropout : float
        Dropout probability of the U-Net's inner decoder layers, in [0, 1).

    Examples
    --------
    >>> cfg = Pix2PixConfig.for_variant("cgan+l1", iters=1000)
    >>> cfg.loss, cfg.lr_g, cfg.betas, cfg.l1_weight, cfg.gan_weight
    ('gan-ns', 0.0002, (0.5, 0.999), 100.0, 1.0)
    """

    family: ClassVar[str] = "pix2pix"

    loss: str = "gan-ns"
    hidden: int = 256
    task: str = "inpaint"
    l1_weight: float = 100.0
    gan_weight: float = 1.0
    dropout: float = 0.5

    def __post_init__(self):
        super().__post_init__()
        check_choice(self.loss, "loss", ("gan", "gan-ns"))
        check_positive_int(self.hidden, "hidden")
        check_choice(self.task, "task", TASKS)
        check_positive(self.l1_weight, "l1_weight", allow_zero=True)
        check_positive(self.gan_weight, "gan_weight", allow_zero=True)
        if self.l1_weight == 0 and self.gan_weight == 0:
            raise ValueError("l1_weight and gan_weight are both 0: the generator would learn "
                             "nothing")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must be in [0, 1); got {self.dropout!r}")

    @classmethod
    def for_variant(cls, variant: str = "cgan+l1", **overrides) -> "Pix2PixConfig":
        """The paper's settings (:data:`PIX2PIX_DEFAULTS`) with the weights of ``variant``."""
        check_choice(variant, "variant", tuple(VARIANTS))
        return cls.from_fields(**{**PIX2PIX_DEFAULTS, **VARIANTS[variant], **overrides})


def degrade(images, task: str) -> np.ndarray:
    """The input of the paired task: ``images`` (rows of 64 pixels in [-1, 1]) degraded.

    Examples
    --------
    >>> img = np.linspace(-1, 1, 64)[None]
    >>> bool((degrade(img, "inpaint").reshape(8, 8)[4:] == -1).all())
    True
    >>> blocks = degrade(img, "superres").reshape(8, 8)
    >>> same = blocks[0, 0] == blocks[1, 1] == blocks[0, 1] == blocks[1, 0]
    >>> bool(same), bool(np.isclose(blocks[0, 0], img[0, [0, 1, 8, 9]].mean()))
    (True, True)
    """
    check_choice(task, "task", TASKS)
    x = np.array(images, dtype=np.float32).reshape(-1, _SIDE, _SIDE)
    if task == "inpaint":
        x[:, _SIDE // 2:, :] = -1.0
    else:
        means = x.reshape(-1, _SIDE // 2, 2, _SIDE // 2, 2).mean(axis=(2, 4))
        x = means.repeat(2, axis=1).repeat(2, axis=2)
    return x.reshape(-1, _SIDE * _SIDE)


@functools.lru_cache(maxsize=len(TASKS))
def paired_digits(task: str) -> dict:
    """``{"train": (inputs, targets), "test": (inputs, targets)}`` float32 arrays of 64-D rows.

    The split is fixed: 20 % of the digits, stratified by class
    (scikit-learn's ``train_test_split`` with ``random_state=0``), held out.

    >>> pairs = paired_digits("inpaint")
    >>> [a.shape for a in pairs["train"]], [a.shape for a in pairs["test"]]
    ([(1437, 64), (1437, 64)], [(360, 64), (360, 64)])
    """
    from sklearn.model_selection import train_test_split

    pixels, labels = digits_dataset()
    train, test = train_test_split(pixels, test_size=_HELD_OUT, stratify=labels, random_state=0)
    return {"train": (degrade(train, task), np.array(train)),
            "test": (degrade(test, task), np.array(test))}


def image_scores(real, fake, *, max_iter: int = 100_000_000) -> dict:
    r"""``l1``, ``psnr`` and ``exact_w1`` of paired images ``fake[i]`` against ``real[i]``.

    Pixels are read on :math:`[0, 1]` (rows in :math:`[-1, 1]` are mapped by
    :math:`(v + 1) / 2`): ``l1`` is the mean absolute error,
    ``psnr`` :math:`= 10 \log_{10}(1/\mathrm{MSE})` over all pixels (``inf`` for
    identical sets), ``exact_w1`` the exact :math:`W_1` between the two sets
    of 64-D rows on the :math:`[-1, 1]` scale of the training data
    (pairing ignored).

    Examples
    --------
    Every pixel off by 0.2 on :math:`[-1, 1]` is 0.1 on :math:`[0, 1]`: L1 0.1,
    PSNR 20 dB, and each image moves by :math:`0.2 \sqrt{64} = 1.6`.

    >>> real = np.zeros((4, 64))
    >>> s = image_scores(real, real + 0.2)
    >>> round(s["l1"], 6), round(s["psnr"], 6), round(s["exact_w1"], 6)
    (0.1, 20.0, 1.6)
    """
    real, fake = np.asarray(real, dtype=np.float64), np.asarray(fake, dtype=np.float64)
    diff = (fake - real) / 2.0
    mse = float(np.mean(diff ** 2))
    return {"l1": float(np.mean(np.abs(diff))),
            "psnr": math.inf if mse == 0 else 10.0 * math.log10(1.0 / mse),
            "exact_w1": exact_w1(real, fake, max_iter=max_iter)}


def reference_scores(task: str) -> dict:
    """What the evaluation scores without a generator, for reading the numbers.

    ``input``: the degraded held-out inputs themselves scored as outputs
    (:func:`image_scores` against their targets, and ``unpaired_w1`` against
    the training digits below); ``real_vs_real_w1``: the exact :math:`W_1`
    between the held-out targets and as many training digits (the first of
    the training split), what real digits score against real digits.
    """
    pairs = paired_digits(task)
    inputs, targets = pairs["test"]
    train = pairs["train"][1][:len(targets)]
    return {"input": {**image_scores(targets, inputs), "unpaired_w1": exact_w1(train, inputs)},
            "real_vs_real_w1": exact_w1(targets, train)}


class UNet(nn.Module):
    r"""U-Net for 8x8 images given as 64-D rows: 8 → 4 → 2 → 1 → 2 → 4 → 8 with skips.

    Encoder: three convolutions (kernel 4, stride 2, LeakyReLU 0.2) to
    :math:`C`, :math:`2C` and :math:`4C` channels; decoder: three transposed
    convolutions, each fed the previous output concatenated with the
    encoder's output of the same size (the skips), ReLU, dropout in the two
    inner ones (active in evaluation too), tanh at the end.  No
    normalisation layers (the batch statistics would couple the rows).

    Examples
    --------
    >>> net = UNet(width=4)
    >>> y = net(torch.zeros(3, 64))
    >>> tuple(y.shape), bool(y.abs().max() <= 1)
    ((3, 64), True)
    """

    def __init__(self, width: int = 32, *, dropout: float = 0.5):
        super().__init__()
        c, self.p = int(width), float(dropout)
        self.down = nn.ModuleList([nn.Conv2d(1, c, 4, 2, 1), nn.Conv2d(c, 2 * c, 4, 2, 1),
                                   nn.Conv2d(2 * c, 4 * c, 4, 2, 1)])
        self.up = nn.ModuleList([nn.ConvTranspose2d(4 * c, 2 * c, 4, 2, 1),
                                 nn.ConvTranspose2d(4 * c, c, 4, 2, 1),
                                 nn.ConvTranspose2d(2 * c, 1, 4, 2, 1)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x.view(-1, 1, _SIDE, _SIDE)
        skips = []
        for conv in self.down:
            h = F.leaky_relu(conv(h), 0.2)
            skips.append(h)
        h = skips.pop()
        for conv in self.up[:-1]:
            h = F.dropout(F.relu(conv(h)), self.p, training=True) if self.p else F.relu(conv(h))
            h = torch.cat([h, skips.pop()], dim=1)
        return torch.tanh(self.up[-1](h)).flatten(1)


class PatchCritic(nn.Module):
    r"""PatchGAN discriminator of pairs: one logit per 4x4 patch of the 8x8 pair ``(x, y)``.

    ``(x, y)`` stacked as two channels → Conv2d (kernel 3, padding 1) →
    LeakyReLU(0.2) → :math:`C` channels at 8x8 → Conv2d (kernel 2, stride 2)
    → LeakyReLU(0.2) → :math:`2C` at 4x4 → 1x1 Conv2d → a 4x4 map of logits,
    returned as 16 columns.  Logit :math:`(i, j)` sees input rows and
    columns :math:`2i-1 .. 2i+2` and :math:`2j-1 .. 2j+2` (a 4x4 patch,
    clipped at the border).

    Examples
    --------
    >>> d = PatchCritic(width=4)
    >>> tuple(d(torch.zeros(3, 64), torch.zeros(3, 64)).shape)
    (3, 16)
    """

    def __init__(self, width: int = 32):
        super().__init__()
        c = int(width)
        self.net = nn.Sequential(nn.Conv2d(2, c, 3, 1, 1), nn.LeakyReLU(0.2),
                                 nn.Conv2d(c, 2 * c, 2, 2), nn.LeakyReLU(0.2),
                                 nn.Conv2d(2 * c, 1, 1), nn.Flatten(1))

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.net(torch.stack([x.view(-1, _SIDE, _SIDE), y.view(-1, _SIDE, _SIDE)], 1))


class Pix2Pix(Family):
    """The family of :class:`Pix2PixConfig`: paired batches, the cGAN + L1 objective, and L1,
    PSNR and exact :math:`W_1` on the held-out pairs.

    An evaluation runs the generator on all held-out inputs with its dropout
    noise drawn from a generator seeded with ``(seed, iteration)`` inside
    :func:`torch.random.fork_rng` (the training streams are untouched).
    History columns: the loop's, ``exact_w1``, ``unpaired_w1`` (the exact
    :math:`W_1` between the generated images and as many real *training*
    digits: no output has its own target in that set), ``critic_estimate``
    (mean logit on real minus generated held-out pairs), ``l1`` and ``psnr``.
    """

    columns = ("iteration", "d_loss", "g_loss", "batch_estimate", "exact_w1",
               "unpaired_w1", "critic_estimate", "l1", "psnr")

    config_class = Pix2PixConfig

    def __init__(self, config: Pix2PixConfig, device="cpu"):
        self.check_config(config)
        self.config, self.device = config, torch.device(device)
        pairs = paired_digits(config.task)
        self.inputs, self.targets = (torch.tensor(a, device=self.device) for a in pairs["train"])
        self.test_inputs, self.test_targets = (torch.tensor(a) for a in pairs["test"])
        self._unpaired = pairs["train"][1][:len(self.test_targets)]

    def build_models(self):
        width = conv_width(self.config.hidden)
        return (UNet(width, dropout=self.config.dropout).to(self.device),
                PatchCritic(width).to(self.device))

    def _pairs(self, n: int):
        k = torch.randint(0, self.inputs.shape[0], (n,), device=self.device)
        return self.inputs[k], self.targets[k]

    def critic_batches(self, generator, n_steps):
        b = self.config.batch_size
        x, y = self._pairs(n_steps * b)
        with torch.no_grad():
            fake = generator(x)
        x, y, fake = x.view(n_steps, b, -1), y.view(n_steps, b, -1), fake.view(n_steps, b, -1)
        return [(x[k], y[k], fake[k]) for k in range(n_steps)]

    def critic_loss(self, critic, x, y, fake):
        d_real, d_fake = critic(x, y), critic(x, fake.detach())
        value = F.softplus(-d_real).mean() + F.softplus(d_fake).mean()
        return value, (d_real.mean() - d_fake.mean()).detach()

    def generator_batch(self):
        return self._pairs(self.config.batch_size)

    def generator_loss(self, generator, critic, x, y):
        cfg = self.config
        fake = generator(x)
        value = cfg.l1_weight * (fake - y).abs().mean()
        if cfg.gan_weight:
            d_fake = critic(x, fake)
            adversarial = (F.softplus(-d_fake) if cfg.loss == "gan-ns"
                           else -F.softplus(d_fake)).mean()
            value = value + cfg.gan_weight * adversarial
        return value

    def evaluate(self, generator, critic, iteration):
        dev = self.device
        x, y = self.test_inputs.to(dev), self.test_targets.to(dev)
        devices = [dev] if dev.type == "cuda" else []
        with torch.random.fork_rng(devices=devices), torch.no_grad():
            torch.manual_seed(self.config.seed * 7919 + iteration)
            fake = generator(x)
            critic.eval()
            estimate = critic(x, y).mean() - critic(x, fake).mean()
            critic.train()
        return Evaluation(real=y, fake=fake, fields={"critic_estimate": estimate},
                          snapshot={"inputs": x})

    def metrics(self, real, fake):
        cap = self.config.emd_max_iter
        return {**image_scores(real, fake, max_iter=cap),
                "unpaired_w1": exact_w1(self._unpaired, fake, max_iter=cap)}


FAMILY = Pix2Pix
