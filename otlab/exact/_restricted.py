r"""POT's network simplex, dense and on a list of pairs: dense problems and a reference.

A problem the user solves densely (``solver="dense"``, or ``"auto"`` below
about 400 x 400 points) uses POT's dense network simplex
(:func:`solve_dense`), faster there than anything that lists pairs; the coarse
dense levels of a sparse solve use otlab's own simplex, so that a sparse solve
never imports POT (and with it torch and scikit-learn).
:func:`solve_restricted` (POT's sparse simplex, ``emd_c_sparse``, warm
potentials accepted) is the solver the column generation used before
:mod:`otlab.exact._simplex`; it stays as the reference that
``benchmarks/exact_engine.py`` measures the new engine against.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Restricted", "solve_restricted", "solve_dense"]

#: POT's result codes.
OPTIMAL, MAX_ITER_REACHED = 1, 3


@dataclass(frozen=True)
class Restricted:
    """Optimal flows and potentials of a restricted (or dense) problem."""

    rows: np.ndarray
    cols: np.ndarray
    flows: np.ndarray
    cost: float
    f: np.ndarray
    g: np.ndarray
    code: int


def solve_restricted(a, b, rows, cols, costs, *, max_iter: int, warm=None) -> Restricted:
    """POT's sparse network simplex on the pairs ``(rows, cols)``; ``warm = (f, g)``."""
    from ot.lp.emd_wrap import emd_c_sparse

    args = [a, b, rows.astype(np.uint64), cols.astype(np.uint64), costs, int(max_iter)]
    if warm is not None:
        args += [np.ascontiguousarray(warm[0]), np.ascontiguousarray(warm[1])]
    fs, ft, fv, cost, f, g, code = emd_c_sparse(*args)
    return Restricted(rows=fs.astype(np.int64), cols=ft.astype(np.int64), flows=fv,
                      cost=float(cost), f=np.asarray(f), g=np.asarray(g), code=int(code))


def solve_dense(a, b, M, *, max_iter: int) -> Restricted:
    """POT's dense network simplex on the full cost matrix ``M``."""
    from ot.lp.emd_wrap import emd_c

    plan, cost, f, g, code = emd_c(a, b, np.ascontiguousarray(M), int(max_iter), 1)
    rows, cols = np.nonzero(plan)
    return Restricted(rows=rows, cols=cols, flows=plan[rows, cols], cost=float(cost),
                      f=np.asarray(f), g=np.asarray(g), code=int(code))
