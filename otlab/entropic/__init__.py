r"""Entropic optimal transport: log-domain Sinkhorn with ε-scaling, on CPU and GPU.

* :func:`sinkhorn` — histograms and a cost matrix (``reg`` = absolute ε, as POT);
* :func:`sinkhorn_samples` — point clouds, with a dense, tiled (never
  :math:`n \times m` in memory) or fused Triton back-end chosen by size;
* :func:`sinkhorn_divergence` — the debiased :math:`S_\varepsilon`;
* :func:`wasserstein_sinkhorn` — the engine of
  ``otlab.wasserstein(p, q, method="sinkhorn")``.

The loop is written once (:func:`otlab.entropic.solver.sinkhorn_loop`) on top
of a soft-min operator that each back-end implements
(:mod:`otlab.entropic._softmin`, :mod:`otlab.entropic._triton`); so is its
acceleration at the target ε, safeguarded Anderson mixing
(:mod:`otlab.entropic._anderson`, ``acceleration=`` one of :data:`ACCELERATIONS`).
"""

from .divergence import sinkhorn_divergence
from .samples import BACKENDS, default_reg, sinkhorn_samples, wasserstein_sinkhorn
from .solver import ACCELERATIONS, SinkhornResult, epsilon_schedule, sinkhorn

__all__ = [
    "ACCELERATIONS",
    "BACKENDS",
    "SinkhornResult",
    "default_reg",
    "epsilon_schedule",
    "sinkhorn",
    "sinkhorn_divergence",
    "sinkhorn_samples",
    "wasserstein_sinkhorn",
]
