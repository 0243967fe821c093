"""Exact discrete optimal transport: the linear programme, its certificate, and its scale.

* :func:`emd` solves the LP on histograms and a cost matrix (POT's network
  simplex) and returns an :class:`EMDResult` with plan, potentials and an
  optimality certificate.
* :func:`emd_points` solves it between point clouds, densely or with a sparse
  coarse-to-fine column generation whose memory grows like n + m, and
  certifies the answer over all n x m pairs (:class:`PointsEMDResult`).
* :func:`emd_grid` solves it between images and histograms on regular grids
  (1-D to 3-D, pixel centres as weighted points; :class:`GridEMDResult`).
* :func:`choose_exact_solver` says which of the two is faster for a size.
* :func:`wasserstein_exact` is :math:`W_k` between samples, numpy or torch,
  with the envelope-theorem gradient for tensors: the exact path of
  :func:`otlab.wasserstein`.
* :func:`c_transform` and :func:`max_dual_violation` extend and check dual
  potentials over all pairs in memory that grows like n + m.
"""

from .._memory import available_memory_bytes, dense_memory_bytes
from .._warnings import ConvergenceWarning
from ._histogram import EMDResult, default_max_iter, emd
from .duals import c_transform, max_dual_violation
from .grid import GridEMDResult, emd_grid
from .points import SOLVERS, PointsEMDResult, choose_exact_solver, emd_points
from .samples import wasserstein_exact

__all__ = [
    "emd",
    "EMDResult",
    "ConvergenceWarning",
    "default_max_iter",
    "emd_points",
    "PointsEMDResult",
    "emd_grid",
    "GridEMDResult",
    "choose_exact_solver",
    "wasserstein_exact",
    "c_transform",
    "max_dual_violation",
    "dense_memory_bytes",
    "available_memory_bytes",
    "SOLVERS",
]
