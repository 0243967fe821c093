r"""Entropic optimal transport: log-domain Sinkhorn with ε-scaling, on CPU and GPU.

* :func:`sinkhorn` — histograms and a cost matrix (``reg`` = absolute ε, as POT);
* :func:`sinkhorn_samples` — point clouds, with a dense, tiled (costs never all
  in memory) or fused Triton back-end chosen by the memory available;
* :func:`sinkhorn_divergence` — the debiased :math:`S_\varepsilon`;
* :func:`unbalanced_sinkhorn`, :func:`unbalanced_sinkhorn_samples` — KL marginal
  penalties instead of constraints, on the same loop (:mod:`~otlab.entropic.penalty`
  has the maths and the conventions of the peers);
* :func:`wasserstein_sinkhorn` — the engine of
  ``otlab.wasserstein(p, q, method="sinkhorn")``.

The modules are named by their role, lowest first:

* :mod:`~otlab.entropic.operators` — the soft-min protocol and its dense and
  tiled back-ends (the fused Triton kernel in ``_triton``);
* :mod:`~otlab.entropic.backend` — which back-end, by the memory budget;
* :mod:`~otlab.entropic.problem` — two samples in a common power-of-two frame
  (:mod:`otlab.costs`), their costs and the default ε, so results are exact
  under translation and scale;
* :mod:`~otlab.entropic.solver` — the one loop
  (:func:`~otlab.entropic.solver.sinkhorn_loop`), its options, its
  acceleration (:mod:`~otlab.entropic.acceleration`: :class:`Anderson`, the
  default, or :class:`Overrelaxation`) and its honest status;
* :mod:`~otlab.entropic.result` — :class:`SinkhornResult`;
* :mod:`~otlab.entropic.divergence` — :math:`S_\varepsilon` of a built problem;
* :mod:`~otlab.entropic.api` — the four balanced entry points above;
  :mod:`~otlab.entropic.unbalanced` — the two unbalanced ones.
"""

from .acceleration import ACCELERATIONS, Anderson, Overrelaxation
from .api import sinkhorn, sinkhorn_divergence, sinkhorn_samples, wasserstein_sinkhorn
from .backend import BACKENDS
from .problem import default_reg
from .penalty import rho_from_reach, rho_from_tau, tau_from_rho
from .result import SinkhornResult, UnbalancedResult
from .solver import SinkhornOptions, epsilon_schedule
from .unbalanced import unbalanced_sinkhorn, unbalanced_sinkhorn_divergence, unbalanced_sinkhorn_samples

__all__ = [
    "ACCELERATIONS",
    "Anderson",
    "BACKENDS",
    "Overrelaxation",
    "SinkhornOptions",
    "SinkhornResult",
    "UnbalancedResult",
    "default_reg",
    "epsilon_schedule",
    "sinkhorn",
    "sinkhorn_divergence",
    "sinkhorn_samples",
    "rho_from_reach",
    "rho_from_tau",
    "tau_from_rho",
    "unbalanced_sinkhorn",
    "unbalanced_sinkhorn_divergence",
    "unbalanced_sinkhorn_samples",
    "wasserstein_sinkhorn",
]
