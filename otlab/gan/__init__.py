"""WGAN trainer whose critic estimate is checked against the exact POT distance.

The package in layers, lowest first: the data-spec registry (:mod:`~otlab.gan.data`);
settings as pure data (:mod:`~otlab.gan.config`); the shared models, losses and
metrics (:mod:`~otlab.gan.models`, :mod:`~otlab.gan.losses`,
:mod:`~otlab.gan.metrics`, :mod:`~otlab.gan.class_metrics`); the ``Family``
protocol (:mod:`~otlab.gan.family`) and what the labelled families share
(:mod:`~otlab.gan.conditioning`); the run record and folder
(:mod:`~otlab.gan.record`); the loop (:mod:`~otlab.gan.train`, with the
generator's weight average of :mod:`~otlab.gan.ema`); the figures.
The families themselves are plug-ins in :mod:`otlab.gan.families`, one module
each, which only the loop's registry (:func:`~otlab.gan.family.family_for`)
imports; their public names are also reachable from here, loaded on first use.

>>> from otlab.gan import TrainConfig, train
>>> cfg = TrainConfig.for_loss("wgan-gp", data="8gaussians", iters=20000)
>>> cfg.lr_d, cfg.betas, cfg.penalty, cfg.n_critic
(0.0001, (0.0, 0.9), 10.0, 5)
"""

from .config import ARCHS, DATASETS, LOSSES, LR_DECAYS, PAPER_DEFAULTS, LoopConfig, TrainConfig
from .data import DataSpec, Sampler, data_spec, make_sampler, mixture_modes
from .metrics import (evaluate_samples, exact_w1, mode_capture_metrics, mode_metrics,
                      sampling_floor)
from .losses import critic_estimate, critic_loss, generator_loss, relu_mlp_input_gradient
from .models import build_models, conv_critic, conv_generator, mlp
from .family import Evaluation, Family, family_for, family_module
from .record import BackgroundEvaluator, CheckpointError, RunFolder, RunFolderError, RunRecord
from .train import NonFiniteLossError, Replica, load_history, train
from .ema import WeightAverage

#: Public names of the family plug-ins, and the module of :mod:`otlab.gan.families` of each.
_FAMILY_NAMES = {
    "UnconditionalGAN": "unconditional", "HISTORY_COLUMNS": "unconditional",
    "CGANConfig": "conditional", "ConditionalGAN": "conditional",
    "InfoGANConfig": "infogan", "InfoGAN": "infogan",
    "Pix2PixConfig": "pix2pix", "Pix2Pix": "pix2pix",
}


def __getattr__(name):
    if name in _FAMILY_NAMES:
        return getattr(family_module(_FAMILY_NAMES[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "TrainConfig", "LoopConfig", "LOSSES", "DATASETS", "ARCHS", "LR_DECAYS", "PAPER_DEFAULTS",
    "train", "load_history", "HISTORY_COLUMNS", "NonFiniteLossError", "CheckpointError",
    "RunFolderError", "Replica", "Family", "family_for", "family_module", "UnconditionalGAN", "Evaluation",
    "RunRecord", "RunFolder", "CGANConfig", "ConditionalGAN", "InfoGANConfig", "InfoGAN",
    "Pix2PixConfig", "Pix2Pix", "DataSpec", "data_spec", "Sampler", "make_sampler",
    "mixture_modes", "exact_w1", "mode_metrics", "mode_capture_metrics", "evaluate_samples",
    "sampling_floor",
    "BackgroundEvaluator", "critic_loss", "generator_loss", "critic_estimate",
    "relu_mlp_input_gradient", "mlp", "conv_generator", "conv_critic", "build_models",
    "WeightAverage",
]
