r"""What a model family brings to the training loop: models, batches, losses, evaluation.

:func:`otlab.gan.train` is one loop for every GAN-like model.  What differs
between families (an unconditional GAN on points, a conditional GAN, InfoGAN,
pix2pix) is supplied by a *family* object with the methods of :class:`Family`:

=========================  ================================================================
``build_models()``         ``(generator, critic)`` modules on the device
``parameter_groups(g, d)`` the parameters the generator and the critic optimiser update
``critic_batches(g, k)``   ``k`` batches (tuples of tensors) for the ``k`` critic steps,
                           drawn at once while the generator is fixed
``critic_loss(d, *b)``     ``(loss, estimate)`` on one such batch
``constrain_critic(d)``    after every critic step (weight clipping); may do nothing
``generator_batch()``      one batch (a tuple of tensors) for the generator step
``generator_loss(g, d,     the generator's loss on it
*b)``
``evaluate(g, d, it)``     an :class:`Evaluation`: device tensors measured at iteration ``it``
``metrics(real, fake)``    host-side measures (runs in a worker thread): ``{column: value}``
``columns``                the history columns, starting with ``"iteration"``
=========================  ================================================================

A conditional GAN draws ``(x, y)`` pairs in ``critic_batches`` and feeds the
labels to both networks in its losses; InfoGAN returns the :math:`Q` head's
parameters with the generator's in ``parameter_groups`` and adds the mutual
information term to ``generator_loss``; pix2pix draws paired images and adds
its :math:`L_1` term.  None of them needs a second training loop.

Everything ``critic_batches``, the losses and ``generator_batch`` do must stay
on the device without host synchronisation (no ``.item()``, no
data-dependent Python control flow), so that an iteration can be captured in a
CUDA graph and compiled.

**Families are plug-ins.**  Each lives in one module of
:mod:`otlab.gan.families` (``unconditional``, ``conditional``, ``infogan``,
``pix2pix``, ...) that defines its configuration class and its family class,
and names the latter ``FAMILY``.  A configuration names its module in the
class attribute ``family``; :func:`family_for` imports that module and builds
its ``FAMILY``.  Nothing else imports a family module, so adding a family
touches no existing file.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field

import torch

__all__ = ["Family", "Evaluation", "family_for", "family_module"]


@dataclass
class Evaluation:
    """What a family measures on the device at one evaluation.

    ``real`` and ``fake`` (shape ``(n, d)``) go to :meth:`Family.metrics` in a
    worker thread; ``fields`` are 0-d tensors already measured (the critic's
    estimate); ``snapshot`` are extra arrays saved with the samples for the
    figures (the critic on a grid).
    """

    real: torch.Tensor
    fake: torch.Tensor
    fields: dict = field(default_factory=dict)
    snapshot: dict = field(default_factory=dict)


class Family:
    """The hooks :func:`otlab.gan.train` calls; subclass and fill them in.

    See the module docstring for the contract of each method.
    """

    columns: tuple = ("iteration", "d_loss", "g_loss", "batch_estimate")
    #: The configuration class this family trains (checked by :meth:`check_config`).
    config_class: type = object

    def check_config(self, config) -> None:
        """``TypeError`` unless ``config`` is an instance of :attr:`config_class`."""
        if not isinstance(config, self.config_class):
            raise TypeError(f"config must be an instance of {self.config_class.__name__}; "
                            f"got {type(config).__name__}")

    def build_models(self):
        raise NotImplementedError

    def parameter_groups(self, generator, critic):
        return list(generator.parameters()), list(critic.parameters())

    def critic_batches(self, generator, n_steps: int):
        raise NotImplementedError

    def critic_loss(self, critic, *batch):
        raise NotImplementedError

    def constrain_critic(self, critic) -> None:
        return None

    def generator_batch(self):
        raise NotImplementedError

    def generator_loss(self, generator, critic, *batch):
        raise NotImplementedError

    def evaluate(self, generator, critic, iteration: int) -> Evaluation:
        raise NotImplementedError

    def metrics(self, real, fake) -> dict:
        return {}


def family_module(name: str):
    """The module ``otlab.gan.families.<name>`` of a family (its configuration, its
    ``FAMILY`` and its public helpers), imported on demand: the registry's one lookup.

    >>> family_module("pix2pix").FAMILY.__name__
    'Pix2Pix'
    """
    return importlib.import_module(f"{__package__}.families.{name}")


def family_for(config, device="cpu") -> Family:
    """The family that trains ``config``: ``FAMILY`` of ``otlab.gan.families.<config.family>``.

    Examples
    --------
    >>> from otlab.gan import TrainConfig
    >>> type(family_for(TrainConfig(hidden=8, depth=1))).__name__
    'UnconditionalGAN'
    """
    name = getattr(config, "family", "")
    if not name:
        raise TypeError(f"config must name its family (a module of otlab.gan.families) in "
                        f"its class attribute 'family'; {type(config).__name__} names none")
    return family_module(name).FAMILY(config, device)
