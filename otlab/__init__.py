"""otlab: optimal transport and divergence analysis.

Exact and entropic Wasserstein distances, Kantorovich critics, and the
KL/JS/TV divergences they are compared with.

The numpy-only core (exact OT, divergences) is imported eagerly; the parts
built on torch (Sinkhorn, critics, the GAN trainer) are imported on first
use, so ``import otlab`` stays fast.
"""

import importlib

from .costs import cost_matrix
from .distance import wasserstein
from .divergences import js, kl, tv
from ._warnings import ConvergenceWarning, CostOverflowWarning
from .exact import (EMDResult, GridEMDResult, PointsEMDResult, choose_exact_solver, emd, emd_grid,
                    emd_points)
from .kernel_distances import KernelDistanceResult, energy_distance, mmd
from .partial import PartialResult, partial_wasserstein
from .sample import Sample
from .sliced import SlicedResult, max_sliced_wasserstein, sliced_wasserstein

__version__ = "0.1.0"

#: Names provided on first access: name -> module that defines it.
_LAZY = {
    "sinkhorn": "otlab.entropic",
    "sinkhorn_divergence": "otlab.entropic",
    "SinkhornResult": "otlab.entropic",
    "UnbalancedResult": "otlab.entropic",
    "unbalanced_sinkhorn": "otlab.entropic",
    "exact_critic": "otlab.critics",
    "estimate_w1": "otlab.critics",
    "critics": None,
    "datasets": None,
    "entropic": None,
    "estimators": None,
    "gan": None,
}

__all__ = [
    "ConvergenceWarning",
    "CostOverflowWarning",
    "EMDResult",
    "GridEMDResult",
    "KernelDistanceResult",
    "PartialResult",
    "PointsEMDResult",
    "Sample",
    "SinkhornResult",
    "SlicedResult",
    "UnbalancedResult",
    "choose_exact_solver",
    "cost_matrix",
    "critics",
    "datasets",
    "emd",
    "emd_grid",
    "emd_points",
    "energy_distance",
    "entropic",
    "estimate_w1",
    "estimators",
    "exact_critic",
    "gan",
    "js",
    "kl",
    "max_sliced_wasserstein",
    "partial_wasserstein",
    "mmd",
    "sinkhorn",
    "sinkhorn_divergence",
    "sliced_wasserstein",
    "tv",
    "unbalanced_sinkhorn",
    "wasserstein",
]


def __getattr__(name):
    if name not in _LAZY:
        raise AttributeError(f"module 'otlab' has no attribute {name!r}")
    module_name = _LAZY[name]
    if module_name is None:
        value = importlib.import_module(f"otlab.{name}")
    else:
        value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
