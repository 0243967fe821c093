r"""Kantorovich dual critics for :math:`W_1`: exact and neural.

:math:`W_1(\mu, \nu) = \sup_{\operatorname{Lip}(f) \le 1} \mathbb E_\mu f -
\mathbb E_\nu f` (Kantorovich–Rubinstein).  :func:`exact_critic` builds the
optimal :math:`f` between two samples from the LP duals; :func:`estimate_w1`
trains a neural critic with one of five Lipschitz methods and measures it
against that reference (:func:`lipschitz_audit`).
"""

from .audit import LipschitzAudit, lipschitz_audit
from .exact import ExactCritic, exact_critic
from .lipschitz import DEFAULT_SETTINGS, LIPSCHITZ_METHODS, PAPER_SETTINGS
from .neural import (EXACT_SN_MAX_WIDTH, LR_SCHEDULES, CriticConfig, CriticDivergedError,
                     CriticFailedWarning, CriticResult, NeuralCritic, ScaledEstimateWarning,
                     default_batch_size, default_hidden, default_holdout_points,
                     default_input_scale,
                     default_penalty, default_penalty_batch, default_radial,
                     default_steps, estimate_w1, input_gain,
                     spectral_norms)

__all__ = [
    "exact_critic",
    "ExactCritic",
    "estimate_w1",
    "CriticResult",
    "CriticConfig",
    "NeuralCritic",
    "CriticFailedWarning",
    "ScaledEstimateWarning",
    "CriticDivergedError",
    "lipschitz_audit",
    "LipschitzAudit",
    "spectral_norms",
    "LIPSCHITZ_METHODS",
    "PAPER_SETTINGS",
    "DEFAULT_SETTINGS",
    "EXACT_SN_MAX_WIDTH",
    "LR_SCHEDULES",
    "default_hidden",
    "default_steps",
    "default_radial",
    "default_input_scale",
    "default_penalty",
    "default_batch_size",
    "default_penalty_batch",
    "default_holdout_points",
    "input_gain",
]
