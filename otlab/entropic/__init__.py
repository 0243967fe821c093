r"""Entropic optimal transport: log-domain Sinkhorn with ε-scaling, on CPU and GPU.

* :func:`sinkhorn` — histograms and a cost matrix (``reg`` = absolute ε, as POT);
* :func:`sinkhorn_samples` — point clouds, with a dense, tiled (costs never all
  in memory) or fused Triton back-end chosen by the memory available;
* :func:`sinkhorn_divergence` — the debiased :math:`S_\varepsilon`;
* :func:`wasserstein_sinkhorn` — the engine of
  ``otlab.wasserstein(p, q, method="sinkhorn")``.

The loop is written once (:func:`otlab.entropic.solver.sinkhorn_loop`) on top
of the soft-min protocol that each back-end implements
(:class:`otlab.entropic._softmin.SoftminOperator`; :mod:`otlab.entropic._triton`);
so is its acceleration at the target ε (:mod:`otlab.entropic.acceleration`:
:class:`Anderson`, the default, or :class:`Overrelaxation`).  Point clouds are
solved in a common power-of-two frame (:mod:`otlab.costs`), so results are
exact under translation and scale.
"""

from .acceleration import ACCELERATIONS, Anderson, Overrelaxation
from .divergence import sinkhorn_divergence
from .samples import BACKENDS, default_reg, sinkhorn_samples, wasserstein_sinkhorn
from .solver import SinkhornOptions, SinkhornResult, epsilon_schedule, sinkhorn

__all__ = [
    "ACCELERATIONS",
    "Anderson",
    "BACKENDS",
    "Overrelaxation",
    "SinkhornOptions",
    "SinkhornResult",
    "default_reg",
    "epsilon_schedule",
    "sinkhorn",
    "sinkhorn_divergence",
    "sinkhorn_samples",
    "wasserstein_sinkhorn",
]
