r"""InfoGAN (Chen et al. 2016): a latent code the generator must make readable.

The generator takes noise :math:`z`, a categorical code :math:`c` uniform
on :math:`K` values and optional continuous codes :math:`u \sim U[-1, 1]^{n}`;
an auxiliary head :math:`Q` on the critic's body (:class:`InfoCritic`)
reads the code back from the generated point.  The mutual information
between the code and the point is bounded below by the variational bound

.. math::

    I(c; G(z, c, u)) \;\ge\; L_I = H(c) + \mathbb{E}\,\log Q(c \mid G(z, c, u))
    = \log K - \mathrm{CE},

and InfoGAN maximises it: the critic (body and :math:`Q`) minimises its
loss plus :math:`\lambda\,\mathrm{CE}` on the fake points of each critic
step, and the generator its loss plus :math:`\lambda\,\mathrm{CE}` (the
paper's :math:`\lambda = 1` for a categorical code).  A continuous code is
read as a Gaussian :math:`Q(u \mid x) = \mathcal N(\mu(x), \sigma(x)^2)` and
adds :math:`\lambda_u` times its negative log-likelihood;
:math:`n \log 2 - \mathrm{NLL}` bounds :math:`I(u; G)`.

**What is measured** (:func:`otlab.gan.class_metrics.code_report`): at
every evaluation ``eval_samples`` points are generated with the code values
in equal numbers; each point takes its class (nearest mode, or the digit a
classifier reads), and from the table of (code, class) counts come the
*exact* mutual information :math:`I(c; \text{class})` (nats), the fraction
of modes one code value owns and the exact :math:`W_1` of each code value's
points to the real points of its matched class.  ``mi_lower_bound`` is
:math:`L_I` on the same points.  Both bound :math:`I(c; G)` from below
(:math:`I(c; \text{class}) \le I(c; G)` because the class is a function of
the point); both are at most :math:`\log K`.

Examples
--------
>>> from otlab.gan import train
>>> cfg = InfoGANConfig.for_loss("gan-ns", data="8gaussians", iters=2, hidden=16, depth=1,
...                              batch_size=32, eval_every=2, eval_samples=64, progress=False)
>>> row = train(cfg)[-1]
>>> bool(0 <= row["mutual_information"] <= np.log(8)), bool(row["mi_lower_bound"] <= np.log(8))
(True, True)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..._validation import check_choice, check_positive, check_positive_int
from .. import losses
from ..class_metrics import code_report
from ..conditioning import ConditionalGenerator, LabelledFamily, split_labels, with_labels
from ..config import TrainConfig
from ..data import LABELLED_DATASETS, n_classes
from ..family import Evaluation
from ..metrics import exact_w1
from ..models import conv_critic, conv_generator, conv_width, mlp, output_activation

__all__ = ["FAMILY", "InfoGANConfig", "InfoGAN", "InfoCritic", "build_info_models", "info_terms"]

_LOG_STD_RANGE = (-5.0, 2.0)


@dataclass(frozen=True)
class InfoGANConfig(TrainConfig):
    r"""A :class:`~otlab.gan.TrainConfig` for InfoGAN; ``data`` must be labelled.

    Parameters
    ----------
    n_codes : int or None
        :math:`K`, the values of the categorical code; ``None``: the number
        of classes of ``data`` (8, 25 or 10).
    n_continuous : int
        Continuous codes :math:`u \sim U[-1, 1]` (0: none).
    info_weight : float
        :math:`\lambda` of the categorical code's cross-entropy (1 in the paper).
    continuous_weight : float
        :math:`\lambda_u` of the continuous codes' negative log-likelihood.
    **fields
        Every field of :class:`~otlab.gan.TrainConfig`; ``z_dim`` is the
        noise :math:`z` alone (the generator reads ``z_dim + K +
        n_continuous`` numbers).

    Examples
    --------
    >>> cfg = InfoGANConfig.for_loss("gan-ns", data="digits", n_continuous=2)
    >>> cfg.codes, cfg.latent_dim, cfg.family
    (10, 16, 'infogan')
    """

    family: ClassVar[str] = "infogan"

    n_codes: int | None = None
    n_continuous: int = 0
    info_weight: float = 1.0
    continuous_weight: float = 0.1

    def __post_init__(self):
        super().__post_init__()
        check_choice(self.data, "data", LABELLED_DATASETS)
        if self.n_codes is not None:
            check_positive_int(self.n_codes, "n_codes")
            if self.n_codes < 2:
                raise ValueError(f"n_codes must be >= 2 (a code with one value carries no "
                                 f"information); got {self.n_codes}")
        if isinstance(self.n_continuous, bool) or not isinstance(self.n_continuous, int) \
                or self.n_continuous < 0:
            raise ValueError(f"n_continuous must be an integer >= 0; got {self.n_continuous!r}")
        check_positive(self.info_weight, "info_weight", allow_zero=True)
        check_positive(self.continuous_weight, "continuous_weight", allow_zero=True)

    @property
    def codes(self) -> int:
        """:math:`K`: ``n_codes``, or the number of classes of ``data``."""
        return n_classes(self.data) if self.n_codes is None else self.n_codes


class InfoCritic(nn.Module):
    r"""A critic :math:`D = \psi \circ \phi` with an auxiliary head :math:`Q` on its body :math:`\phi`.

    ``forward(x)`` is the critic's score (shape ``(n, 1)``), so every loss of
    :mod:`otlab.gan.losses` applies unchanged; :meth:`q` returns the code's
    logits (``(n, K)``) and the mean and log standard deviation of the
    continuous codes (``(n, n_continuous)`` each).  :math:`Q` is one hidden
    ReLU layer of the body's width and a linear output.

    Examples
    --------
    >>> d = InfoCritic(mlp(2, 1, hidden=8, depth=2), n_codes=4, n_continuous=1)
    >>> x = torch.zeros(3, 2)
    >>> tuple(d(x).shape), [tuple(t.shape) for t in d.q(x)]
    ((3, 1), [(3, 4), (3, 1), (3, 1)])
    """

    def __init__(self, base: nn.Sequential, n_codes: int, n_continuous: int = 0):
        super().__init__()
        self.body, self.head = base[:-1], base[-1]
        self.n_codes, self.n_continuous = int(n_codes), int(n_continuous)
        width = self.head.in_features
        self.q_head = mlp(width, self.n_codes + 2 * self.n_continuous, hidden=width, depth=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))

    def q(self, x: torch.Tensor):
        """``(logits, mean, log_std)`` of :math:`Q(c, u \\mid x)`."""
        out = self.q_head(self.body(x))
        k, n = self.n_codes, self.n_continuous
        return out[:, :k], out[:, k:k + n], out[:, k + n:].clamp(*_LOG_STD_RANGE)


def info_terms(critic: InfoCritic, fake, codes, cont):
    r"""The code's cross-entropy :math:`-\mathbb{E}\log Q(c \mid x)` and the continuous codes'
    Gaussian negative log-likelihood :math:`-\mathbb{E}\log Q(u \mid x)` (0 without them).

    :math:`\log K - \mathrm{CE}` is the variational bound :math:`L_I` of the
    categorical code, :math:`n \log 2 - \mathrm{NLL}` that of the
    continuous codes (:math:`H(U[-1, 1]^n) = n \log 2`).

    Examples
    --------
    A head that has not learnt anything (all logits equal) has cross-entropy
    :math:`\log K`, so :math:`L_I = 0`:

    >>> d = InfoCritic(mlp(2, 1, hidden=4, depth=1), n_codes=4)
    >>> for p in d.q_head.parameters():
    ...     _ = nn.init.zeros_(p)
    >>> ce, nll = info_terms(d, torch.randn(5, 2), torch.arange(5) % 4, torch.zeros(5, 0))
    >>> bool(torch.isclose(ce, torch.tensor(math.log(4)))), float(nll)
    (True, 0.0)
    """
    logits, mean, log_std = critic.q(fake)
    nll = (log_std + 0.5 * ((cont - mean) / log_std.exp()).pow(2)
           + 0.5 * math.log(2 * math.pi)).sum(dim=1).mean() if critic.n_continuous \
        else torch.zeros((), device=fake.device)
    return F.cross_entropy(logits, codes), nll


def build_info_models(config: InfoGANConfig, data_dim: int, *, device="cpu"):
    """``(generator, InfoCritic)``: the generator reads ``[z, u, one-hot c]``."""
    k, n = config.codes, config.n_continuous
    in_g = config.latent_dim + n + k
    if config.arch == "conv":
        width = conv_width(config.hidden)
        net = conv_generator(in_g, width=width)
        base = conv_critic(width=width, spectral_norm=config.loss == "wgan-sn")
    else:
        net = mlp(in_g, data_dim, hidden=config.hidden, depth=config.depth,
                  out_activation=output_activation(config.data))
        base = mlp(data_dim, 1, hidden=config.hidden, depth=config.depth,
                   spectral_norm=config.loss == "wgan-sn")
    return (ConditionalGenerator(net, k).to(device),
            InfoCritic(base, k, n).to(device))


class InfoGAN(LabelledFamily):
    """The family of :class:`InfoGANConfig`: codes in the batches, the information term in
    both objectives, and the code's mutual information and :math:`W_1` in the evaluation.

    History columns: the loop's, ``exact_w1``, ``critic_estimate``,
    ``mutual_information``, ``mi_lower_bound`` (and ``continuous_lower_bound``
    with continuous codes), ``modes_owned_fraction``, ``code_purity``,
    ``mean_code_w1``, ``classes_covered`` and ``w1_code_0`` ... ``w1_code_{K-1}``.
    """

    config_class = InfoGANConfig

    def __init__(self, config: InfoGANConfig, device="cpu"):
        super().__init__(config, device)
        self.k, self.n_cont = config.codes, config.n_continuous
        bounds = ("mi_lower_bound",) + (("continuous_lower_bound",) if self.n_cont else ())
        self.columns = (("iteration", "d_loss", "g_loss", "batch_estimate", "exact_w1",
                         "critic_estimate", "mutual_information") + bounds
                        + ("modes_owned_fraction", "code_purity", "mean_code_w1",
                           "classes_covered")
                        + tuple(f"w1_code_{c}" for c in range(self.k)))

    def build_models(self):
        return build_info_models(self.config, self.sampler.dim, device=self.device)

    def _latents(self, n: int, *, generator=None, codes=None, device=None):
        """Noise with the continuous codes appended, the categorical codes, the continuous codes."""
        dev = self.device if device is None else device
        z = torch.randn(n, self.config.latent_dim, device=dev, generator=generator)
        cont = 2.0 * torch.rand(n, self.n_cont, device=dev, generator=generator) - 1.0
        if codes is None:
            codes = torch.randint(0, self.k, (n,), device=dev, generator=generator)
        return torch.cat([z, cont], dim=1), codes, cont

    def critic_batches(self, generator, n_steps):
        b, dev = self.config.batch_size, self.device
        real = self.sampler(n_steps * b)[0].view(n_steps, b, -1)
        alpha = torch.rand(n_steps, b, 1, device=dev)
        z, codes, cont = self._latents(n_steps * b)
        with torch.no_grad():
            fake = generator(z, codes).view(n_steps, b, -1)
        codes, cont = codes.view(n_steps, b), cont.view(n_steps, b, -1)
        return [(real[k], fake[k], codes[k], cont[k], alpha[k]) for k in range(n_steps)]

    def _information(self, critic, fake, codes, cont):
        r""":math:`\lambda\,\mathrm{CE} + \lambda_u\,\mathrm{NLL}`, added to both objectives."""
        ce, nll = info_terms(critic, fake, codes, cont)
        return self.config.info_weight * ce + self.config.continuous_weight * nll

    def critic_loss(self, critic, real, fake, codes, cont, alpha):
        value, estimate = losses.critic_loss(self.config.loss, critic, real, fake,
                                             penalty=self.config.penalty, alpha=alpha)
        return value + self._information(critic, fake, codes, cont), estimate

    def generator_batch(self):
        return self._latents(self.config.batch_size)

    def generator_loss(self, generator, critic, z, codes, cont):
        fake = generator(z, codes)
        return (losses.generator_loss(self.config.loss, critic, fake)
                + self._information(critic, fake, codes, cont))

    def evaluate(self, generator, critic, iteration):
        cfg, dev = self.config, self.device
        cpu_gen = torch.Generator().manual_seed(cfg.seed * 7919 + iteration)
        real, labels = self._eval_sampler(cfg.eval_samples, generator=cpu_gen)
        codes = torch.arange(cfg.eval_samples) % self.k  # every value equally often: H(c) = log K
        z, codes, cont = self._latents(cfg.eval_samples, generator=cpu_gen, codes=codes,
                                       device=torch.device("cpu"))
        critic.eval()
        with torch.no_grad():
            real, codes, cont = real.to(dev), codes.to(dev), cont.to(dev)
            fake = generator(z.to(dev), codes)
            estimate = losses.critic_estimate(critic, real, fake)
            ce, nll = info_terms(critic, fake, codes, cont)
            fields = {"critic_estimate": estimate, "mi_lower_bound": math.log(self.k) - ce}
            if self.n_cont:
                fields["continuous_lower_bound"] = self.n_cont * math.log(2.0) - nll
        critic.train()
        return Evaluation(real=with_labels(real, labels.to(dev)), fake=with_labels(fake, codes),
                          fields=fields)

    def metrics(self, real, fake):
        x, y = split_labels(real)
        fx, codes = split_labels(fake)
        return {"exact_w1": exact_w1(x, fx, max_iter=self.config.emd_max_iter),
                **code_report(self.config.data, x, y, fx, codes, self.k,
                              max_iter=self.config.emd_max_iter)}


FAMILY = InfoGAN
