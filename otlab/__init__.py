"""otlab: optimal transport and divergence analysis.

Exact and entropic Wasserstein distances, Kantorovich critics, and the
KL/JS/TV divergences they are compared with.
"""

from .costs import cost_matrix
from .distance import wasserstein
from .exact import ConvergenceWarning, EMDResult, emd

__version__ = "0.1.0"

__all__ = [
    "ConvergenceWarning",
    "EMDResult",
    "cost_matrix",
    "emd",
    "wasserstein",
]
