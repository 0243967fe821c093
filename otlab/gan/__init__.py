"""WGAN trainer whose critic estimate is checked against the exact POT distance.

>>> from otlab.gan import TrainConfig, train
>>> cfg = TrainConfig.for_loss("wgan-gp", data="8gaussians", iters=20000)
>>> cfg.lr_d, cfg.betas, cfg.penalty, cfg.n_critic
(0.0001, (0.0, 0.9), 10.0, 5)
"""

from .config import ARCHS, DATASETS, LOSSES, LR_DECAYS, PAPER_DEFAULTS, TrainConfig
from .data import Sampler, make_sampler, mixture_modes
from .evaluation import (
    BackgroundEvaluator,
    evaluate_samples,
    exact_w1,
    mode_metrics,
    sampling_floor,
)
from .losses import critic_estimate, critic_loss, generator_loss, relu_mlp_input_gradient
from .models import build_models, conv_critic, conv_generator, mlp
from .family import Evaluation, Family, UnconditionalGAN
from .record import CheckpointError, RunRecord
from .conditional import CGANConfig, ConditionalGAN
from .infogan import InfoGAN, InfoGANConfig
from .pix2pix import Pix2Pix, Pix2PixConfig
from .train import HISTORY_COLUMNS, NonFiniteLossError, Replica, load_history, train

__all__ = [
    "TrainConfig", "LOSSES", "DATASETS", "ARCHS", "LR_DECAYS", "PAPER_DEFAULTS",
    "train", "load_history", "HISTORY_COLUMNS", "NonFiniteLossError", "CheckpointError",
    "Replica", "Family", "UnconditionalGAN", "Evaluation", "RunRecord",
    "CGANConfig", "ConditionalGAN", "InfoGANConfig", "InfoGAN", "Pix2PixConfig", "Pix2Pix",
    "Sampler", "make_sampler", "mixture_modes",
    "exact_w1", "mode_metrics", "evaluate_samples", "sampling_floor", "BackgroundEvaluator",
    "critic_loss", "generator_loss", "critic_estimate", "relu_mlp_input_gradient",
    "mlp", "conv_generator", "conv_critic", "build_models",
]
