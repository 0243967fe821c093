"""Deprecated path: the sample entry points and their parts now live in modules named by role.

``otlab.entropic.samples.NAME`` still works (with a :class:`DeprecationWarning`)
for the names it held: see :mod:`otlab.entropic.api` (entry points),
:mod:`otlab.entropic.problem` (frame, default ε), :mod:`otlab.entropic.backend`
(back-end choice, memory budget) and :mod:`otlab.entropic.solver` (the loop).
"""

import importlib
import warnings

__all__: list[str] = []

_MOVED = {
    "sinkhorn_samples": "api", "wasserstein_sinkhorn": "api",
    "PointProblem": "problem", "default_reg": "problem", "REG_FRACTION": "problem",
    "choose_backend": "backend", "make_operator": "backend", "available_memory": "backend",
    "BACKENDS": "backend", "MEMORY_FRACTION": "backend",
    "SAMPLES_TOL": "solver", "solve": "solver", "gradient_term": "solver",
}


def __getattr__(name):
    if name not in _MOVED:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    where = f"otlab.entropic.{_MOVED[name]}"
    warnings.warn(f"otlab.entropic.samples.{name} moved to {where}.{name}", DeprecationWarning,
                  stacklevel=2)
    return getattr(importlib.import_module(where), name)
