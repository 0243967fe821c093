r"""CycleGAN (Zhu et al. 2017): unpaired translation between two domains of 8x8 digits.

Two domains of 64-D images in :math:`[-1, 1]`: :math:`A` = the digits
(``"digits"``) and :math:`B` = the same digits with their strokes thickened
(``"digits-thick"``, :func:`otlab.gan.data.thicken_strokes`).  The first
80 % of a fixed class-stratified split (the 1437 training images of
:func:`split`) feed both domains, **unpaired**: a batch of :math:`A` and a
batch of :math:`B` are drawn with independent indices, so the model never
sees which thick digit belongs to which digit.  The other 360 pairs are held
out for the evaluation.

Two generators :math:`G: A \to B`, :math:`F: B \to A` (:class:`Translator`)
and two critics :math:`D_B, D_A` (:func:`otlab.gan.models.conv_critic`).
The critics minimise the binary cross-entropy of real against translated
images; the generators minimise

.. math::

    \mathcal L = \ell(D_B(G(a))) + \ell(D_A(F(b)))
    + \lambda_{\text{cyc}} \big(\lVert F(G(a)) - a \rVert_1 + \lVert G(F(b)) - b \rVert_1\big)
    + \lambda_{\text{id}} \big(\lVert G(b) - b \rVert_1 + \lVert F(a) - a \rVert_1\big),

with :math:`\ell` the non-saturating :math:`-\log\sigma(D)` (``loss="gan-ns"``)
or the minimax :math:`\log(1 - \sigma(D))` (``"gan"``), and the paper's
:math:`\lambda_{\text{cyc}} = 10`, :math:`\lambda_{\text{id}} = 5`.  Variants
(:data:`VARIANTS`): ``"cyclegan"`` (all terms), ``"no-cycle"`` (the adversarial
terms alone: an unpaired GAN, the paper's ablation) and ``"paired"``, the
paired upper bound: the same networks trained with pix2pix's objective on
the pairs :math:`(a, b)` themselves (adversarial terms plus
:math:`\lambda_{L_1} = 100` times :math:`\lVert G(a) - b \rVert_1 + \lVert F(b) - a \rVert_1`).

**Measured** on the held-out pairs at every evaluation: ``exact_w1``, the
exact :math:`W_1` between the set :math:`G(A_{\text{test}})` and the set
:math:`B_{\text{test}}` of held-out thick digits (pairing ignored: how far the
*law* of the translations is from the target domain), ``exact_w1_ba`` the
same for :math:`F`, ``cycle_l1`` the mean absolute cycle reconstruction error
:math:`\tfrac12(\lVert F(G(a)) - a \rVert_1 + \lVert G(F(b)) - b \rVert_1)` and
``translation_l1`` the mean absolute error of :math:`G(a)` against the true
:math:`b` of each pair, both with pixels read on :math:`[0, 1]`.

Examples
--------
>>> from otlab.gan import train
>>> cfg = CycleGANConfig.for_variant("cyclegan", iters=2, hidden=16, batch_size=8,
...                                  eval_every=2, progress=False)
>>> row = train(cfg)[-1]
>>> row["iteration"], row["exact_w1"] > 0, 0 <= row["cycle_l1"] <= 1
(2, True, True)
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..._validation import check_choice, check_positive, check_positive_int
from .. import losses
from ..config import LoopConfig
from ..data import data_spec
from ..family import Evaluation, Family
from ..metrics import exact_w1
from ..models import conv_critic, conv_width

__all__ = ["FAMILY", "CycleGANConfig", "CycleGAN", "Translator", "VARIANTS",
           "CYCLEGAN_DEFAULTS", "split", "translation_scores"]

#: Weights of each variant: adversarial, cycle, identity and paired L1 terms.
VARIANTS = {"cyclegan": {"cycle_weight": 10.0, "identity_weight": 5.0, "paired_weight": 0.0},
            "no-cycle": {"cycle_weight": 0.0, "identity_weight": 0.0, "paired_weight": 0.0},
            "paired": {"cycle_weight": 0.0, "identity_weight": 0.0, "paired_weight": 100.0}}

#: The paper's optimiser (Adam 2e-4, betas (0.5, 0.999), one D step per G step) and a
#: CPU-sized batch and width (``hidden=128``: 16 base channels).
CYCLEGAN_DEFAULTS = {"loss": "gan-ns", "optimizer": "adam", "lr_g": 2e-4, "lr_d": 2e-4,
                     "betas": (0.5, 0.999), "n_critic": 1, "batch_size": 64, "hidden": 128}

_HELD_OUT = 0.2


@dataclass(frozen=True)
class CycleGANConfig(LoopConfig):
    r"""CycleGAN between two domains of 8x8 images: the loop's settings and the model's.

    Parameters
    ----------
    loss : {"gan-ns", "gan"}
        The adversarial objective of both directions.
    source, target : str
        The two domains (data sets of the registry with 8x8 images).
    hidden : int
        Sets the base channel count :math:`C = \max(\lfloor \text{hidden}/8 \rfloor, 1)`
        of the four networks.
    cycle_weight, identity_weight, paired_weight : float
        :math:`\lambda_{\text{cyc}}`, :math:`\lambda_{\text{id}}` and the paired
        :math:`L_1` weight (see :data:`VARIANTS`).
    **loop
        Every field of :class:`~otlab.gan.config.LoopConfig`.

    Examples
    --------
    >>> cfg = CycleGANConfig.for_variant("cyclegan", iters=100)
    >>> cfg.cycle_weight, cfg.identity_weight, cfg.lr_g, cfg.family
    (10.0, 5.0, 0.0002, 'cyclegan')
    """

    family: ClassVar[str] = "cyclegan"

    loss: str = "gan-ns"
    source: str = "digits"
    target: str = "digits-thick"
    hidden: int = 128
    cycle_weight: float = 10.0
    identity_weight: float = 5.0
    paired_weight: float = 0.0

    def __post_init__(self):
        super().__post_init__()
        check_choice(self.loss, "loss", ("gan", "gan-ns"))
        for name in ("source", "target"):
            if data_spec(getattr(self, name)).image_shape != (1, 8, 8):
                raise ValueError(f"{name} must be a data set of 8x8 images; got "
                                 f"{getattr(self, name)!r}")
        if self.source == self.target:
            raise ValueError(f"source and target must differ; got {self.source!r} for both")
        check_positive_int(self.hidden, "hidden")
        for name in ("cycle_weight", "identity_weight", "paired_weight"):
            check_positive(getattr(self, name), name, allow_zero=True)

    @classmethod
    def for_variant(cls, variant: str = "cyclegan", **overrides) -> "CycleGANConfig":
        """The defaults (:data:`CYCLEGAN_DEFAULTS`) with the weights of ``variant``."""
        check_choice(variant, "variant", tuple(VARIANTS))
        return cls.from_fields(**{**CYCLEGAN_DEFAULTS, **VARIANTS[variant], **overrides})


@functools.lru_cache(maxsize=4)
def split(source: str = "digits", target: str = "digits-thick") -> dict:
    """``{"train": (a, b), "test": (a, b)}``: the two domains' images of the same digits.

    Row ``i`` of ``a`` and of ``b`` show the same digit in both domains (the
    pairs); the split is fixed, 20 % held out, stratified by class
    (``train_test_split`` with ``random_state=0``).

    >>> s = split()
    >>> [x.shape for x in s["train"]], [x.shape for x in s["test"]]
    ([(1437, 64), (1437, 64)], [(360, 64), (360, 64)])
    """
    from sklearn.model_selection import train_test_split

    a, labels, _ = data_spec(source).table()
    b, labels_b, _ = data_spec(target).table()
    if len(a) != len(b) or not np.array_equal(labels, labels_b):
        raise ValueError(f"{source!r} and {target!r} do not show the same images")
    index = np.arange(len(a))
    train, test = train_test_split(index, test_size=_HELD_OUT, stratify=labels, random_state=0)
    return {"train": (np.array(a[train]), np.array(b[train])),
            "test": (np.array(a[test]), np.array(b[test]))}


class Translator(nn.Module):
    r"""Image-to-image generator for 8x8 images given as 64-D rows, with a residual path.

    Conv2d(1 → :math:`C`, 3x3) → ReLU → Conv2d(:math:`C` → :math:`C`, 3x3) →
    ReLU → Conv2d(:math:`C` → 1, 3x3), added to the input, then tanh: the
    identity map is one set of weights away, as CycleGAN's residual generator.

    Examples
    --------
    >>> t = Translator(width=4)
    >>> y = t(torch.zeros(3, 64))
    >>> tuple(y.shape), bool(y.abs().max() <= 1)
    ((3, 64), True)
    """

    def __init__(self, width: int = 16):
        super().__init__()
        c = int(width)
        self.net = nn.Sequential(nn.Conv2d(1, c, 3, 1, 1), nn.ReLU(),
                                 nn.Conv2d(c, c, 3, 1, 1), nn.ReLU(),
                                 nn.Conv2d(c, 1, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x.view(-1, 1, 8, 8)
        return torch.tanh(h + self.net(h)).flatten(1)


class _Pair(nn.Module):
    """Two networks trained together: ``ab`` (A to B) and ``ba`` (B to A)."""

    def __init__(self, ab: nn.Module, ba: nn.Module):
        super().__init__()
        self.ab, self.ba = ab, ba


def _l1(x, y) -> torch.Tensor:
    return (x - y).abs().mean()


def translation_scores(a, b, g_a, f_b, f_g_a, g_f_b, *, max_iter: int = 100_000_000) -> dict:
    r"""The evaluation's measures from host arrays of held-out pairs and their translations.

    ``exact_w1`` (:math:`W_1` of the set ``g_a`` to the set ``b``), ``exact_w1_ba``
    (``f_b`` to ``a``), ``cycle_l1`` and ``translation_l1`` (pixels on [0, 1]).

    Examples
    --------
    A perfect translation scores 0 everywhere:

    >>> a, b = np.zeros((4, 64)), np.ones((4, 64))
    >>> translation_scores(a, b, b, a, a, b)["exact_w1"], translation_scores(a, b, b, a, a, b)["cycle_l1"]
    (0.0, 0.0)
    """
    half = lambda x, y: float(np.mean(np.abs(np.asarray(x) - np.asarray(y)))) / 2.0  # noqa: E731
    return {"exact_w1": exact_w1(g_a, b, max_iter=max_iter),
            "exact_w1_ba": exact_w1(f_b, a, max_iter=max_iter),
            "cycle_l1": 0.5 * (half(f_g_a, a) + half(g_f_b, b)),
            "translation_l1": half(g_a, b)}


class CycleGAN(Family):
    """The family of :class:`CycleGANConfig`: unpaired (or paired) batches of both domains,
    the adversarial, cycle, identity and paired terms, and the translation measures.

    History columns: the loop's, ``exact_w1``, ``exact_w1_ba``, ``cycle_l1``,
    ``translation_l1`` and ``critic_estimate`` (the mean logit gap of both critics on
    the held-out images).
    """

    columns = ("iteration", "d_loss", "g_loss", "batch_estimate", "exact_w1", "exact_w1_ba",
               "cycle_l1", "translation_l1", "critic_estimate")
    config_class = CycleGANConfig

    def __init__(self, config: CycleGANConfig, device="cpu"):
        self.check_config(config)
        self.config, self.device = config, torch.device(device)
        data = split(config.source, config.target)
        self.a, self.b = (torch.tensor(x, device=self.device) for x in data["train"])
        self.test_a, self.test_b = (torch.tensor(x) for x in data["test"])
        self.paired = config.paired_weight > 0

    def build_models(self):
        width = conv_width(self.config.hidden)
        generators = _Pair(Translator(width), Translator(width))
        critics = _Pair(conv_critic(width=width), conv_critic(width=width))
        return generators.to(self.device), critics.to(self.device)

    def _draw(self, n: int):
        """``n`` images of each domain: unpaired (independent rows) unless paired."""
        i = torch.randint(0, self.a.shape[0], (n,), device=self.device)
        j = i if self.paired else torch.randint(0, self.b.shape[0], (n,), device=self.device)
        return self.a[i], self.b[j]

    def critic_batches(self, generator, n_steps):
        b = self.config.batch_size
        real_a, real_b = self._draw(n_steps * b)
        with torch.no_grad():
            fake_b, fake_a = generator.ab(real_a), generator.ba(real_b)
        parts = [t.view(n_steps, b, -1) for t in (real_a, real_b, fake_a, fake_b)]
        return [tuple(t[k] for t in parts) for k in range(n_steps)]

    def critic_loss(self, critic, real_a, real_b, fake_a, fake_b):
        loss_b, est_b = losses.critic_loss("gan", critic.ab, real_b, fake_b)
        loss_a, est_a = losses.critic_loss("gan", critic.ba, real_a, fake_a)
        return loss_a + loss_b, 0.5 * (est_a + est_b)

    def generator_batch(self):
        return self._draw(self.config.batch_size)

    def generator_loss(self, generator, critic, a, b):
        cfg = self.config
        g_a, f_b = generator.ab(a), generator.ba(b)
        value = (losses.generator_loss(cfg.loss, critic.ab, g_a)
                 + losses.generator_loss(cfg.loss, critic.ba, f_b))
        if cfg.cycle_weight:
            value = value + cfg.cycle_weight * (_l1(generator.ba(g_a), a)
                                                + _l1(generator.ab(f_b), b))
        if cfg.identity_weight:
            value = value + cfg.identity_weight * (_l1(generator.ab(b), b)
                                                   + _l1(generator.ba(a), a))
        if cfg.paired_weight:
            value = value + cfg.paired_weight * (_l1(g_a, b) + _l1(f_b, a))
        return value

    def evaluate(self, generator, critic, iteration):
        a, b = self.test_a.to(self.device), self.test_b.to(self.device)
        generator.eval()
        critic.eval()
        with torch.no_grad():
            g_a, f_b = generator.ab(a), generator.ba(b)
            cycles = torch.cat([generator.ba(g_a), generator.ab(f_b)], dim=1)
            estimate = 0.5 * (losses.critic_estimate(critic.ab, b, g_a)
                              + losses.critic_estimate(critic.ba, a, f_b))
        generator.train()
        critic.train()
        # real: the held-out pairs side by side; fake: both translations and both cycles
        return Evaluation(real=torch.cat([a, b], dim=1),
                          fake=torch.cat([g_a, f_b, cycles], dim=1),
                          fields={"critic_estimate": estimate},
                          snapshot={"inputs": a})

    def metrics(self, real, fake):
        a, b = real[:, :64], real[:, 64:]
        g_a, f_b, f_g_a, g_f_b = (fake[:, 64 * k:64 * (k + 1)] for k in range(4))
        return translation_scores(a, b, g_a, f_b, f_g_a, g_f_b,
                                  max_iter=self.config.emd_max_iter)


FAMILY = CycleGAN
