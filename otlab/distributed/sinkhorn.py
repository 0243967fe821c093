r"""Entropic OT over the global sample when every rank holds a shard of the points.

Every rank calls :func:`sharded_sinkhorn` (or :func:`sharded_sinkhorn_divergence`)
with *its own* rows of :math:`x` and :math:`y` (and, optionally, their
weights).  The problem solved is the one on all the points,

.. math::

    \mathrm{OT}_\varepsilon(a, b) = \min_{P \in \Pi(a, b)} \langle P, C\rangle
    + \varepsilon\, \mathrm{KL}(P \,\|\, a \otimes b),
    \qquad C_{ij} = \lVert x_i - y_j\rVert_2^k,

with :math:`x`, :math:`y`, :math:`a`, :math:`b` the concatenations of every
rank's rows in rank order, and the weights normalised by their global sums.
Each rank holds the point clouds (:math:`O((n + m) d)` numbers) and its block
of the cost matrix (dense, or recomputed in tiles); no rank holds the global
cost matrix or plan.  Everything else is the single-process solver's: the
common frame, the default ε, the Sinkhorn loop
(:func:`otlab.entropic.solver.sinkhorn_loop`: ε-scaling, acceleration,
stopping rule), the final check of the returned plan and its warnings, the
envelope gradients and the divergence's logic, run on every rank over
:class:`~otlab.distributed.operator.ShardedOperator`
(:class:`~otlab.distributed.problem.ShardedPointProblem`).  The results equal
those of :func:`otlab.entropic.sinkhorn_samples` and
:func:`otlab.entropic.sinkhorn_divergence` on one process, up to rounding.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..entropic.divergence import divergence
from ..entropic.solver import DEFAULT_SCALING, SAMPLES_TOL, SinkhornOptions, solve_problem
from ._shards import Shards
from .problem import build_problem

__all__ = ["sharded_sinkhorn", "sharded_sinkhorn_divergence", "ShardedSinkhornResult"]


@dataclass(frozen=True)
class ShardedSinkhornResult:
    r"""This rank's view of the solution of a sharded entropic OT problem.

    Attributes
    ----------
    f, g : ndarray or Tensor
        This rank's slices of the dual potentials: ``f`` for its rows of
        :math:`x`, ``g`` for its rows of :math:`y`.
    rows, cols : slice
        This rank's rows of :math:`x` and of :math:`y` in the global problem.
    cost : float or Tensor
        :math:`\langle P, C\rangle`, the same on every rank; for torch input
        differentiable with respect to this rank's points and weights.
    objective : float or Tensor
        :math:`\mathrm{OT}_\varepsilon = \langle a, f\rangle + \langle b, g\rangle`
        (global), likewise.
    converged, marginal_error, n_iter, reg
        As in :class:`otlab.SinkhornResult` (global, the same on every rank).
    backend : str
        ``"sharded-"`` and this rank's local back-end (``"dense"``, ``"tiled"``, ``"triton"``).
    world_size : int
    communication_seconds : float
        Time this rank spent in collectives (waiting for slower ranks included).
    """

    f: object
    rows: slice
    g: object
    cols: slice
    cost: object
    objective: object
    converged: bool
    marginal_error: float
    n_iter: int
    reg: float
    backend: str
    world_size: int
    communication_seconds: float


def _prepare(group, x_local, a_local, y_local, b_local, reg, order, tol, max_iter, scaling,
             backend, acceleration, massless="keep"):
    """The shards, the problem (checked on every rank together) and the validated options."""
    shards = Shards(group)
    raw = {"reg": reg, "order": order, "tol": tol, "max_iter": max_iter, "scaling": scaling,
           "backend": backend, "acceleration": repr(acceleration)}
    problem = build_problem(shards, x_local, a_local, y_local, b_local, order, raw,
                            massless=massless)
    options = SinkhornOptions.build(tol=tol, max_iter=max_iter, scaling=scaling,
                                    acceleration=acceleration, default_tol=SAMPLES_TOL)
    return shards, problem, options


def sharded_sinkhorn(x_local, y_local, *, reg: float | None = None, order: float = 1,
                     a_local=None, b_local=None, tol: float | None = None,
                     max_iter: int | None = None, scaling: float | None = DEFAULT_SCALING,
                     backend: str = "auto", acceleration="anderson",
                     group=None) -> ShardedSinkhornResult:
    r"""Entropic OT between point clouds whose rows are spread over the ranks of a process group.

    A collective: every rank of ``group`` calls it, with its own rows and
    the same options.  Solves the problem on the concatenation of all ranks'
    rows (see the module docstring) with the soft-min over the columns
    combined from per-rank log-sum-exp partials,

    .. math::

        g_j = -\varepsilon \log \sum_{r} \exp \ell_{rj},
        \qquad
        \ell_{rj} = \log \sum_{i \in I_r} a_i\, e^{(f_i - C_{ij})/\varepsilon},

    taken with the maximum over the ranks factored out, and the soft-min
    over the rows computed by each rank for its own rows.

    Parameters
    ----------
    x_local, y_local : array-like or Tensor, shapes (n_r, d) and (m_r, d)
        This rank's source and target points (at least one of each).
    reg : float, optional
        ε in cost units; default :func:`otlab.entropic.default_reg` of the
        global sample (the same on every rank).
    order : float, default 1
        The exponent ``k`` of the cost.
    a_local, b_local : array-like or Tensor, optional
        This rank's raw weights (non-negative); the global weights are them
        divided by their sums over all ranks.  Uniform over all points by
        default.  Given on every rank or on none.
    tol, max_iter, scaling, backend, acceleration
        As in :func:`otlab.entropic.sinkhorn_samples`; ``backend`` chooses
        each rank's local operator for its block.
    group : ProcessGroup, optional
        Default: the world.

    Returns
    -------
    ShardedSinkhornResult
        Global ``cost``, ``objective`` and diagnostics (the same on every
        rank) and this rank's slices ``f``, ``g`` of the potentials.  numpy
        in, numpy and floats out.  For torch input with ``requires_grad``,
        ``cost`` and ``objective`` carry this rank's gradients (envelope
        theorem, as in the single-process solver): ``backward()`` on each
        rank fills its own points' and weights' ``.grad``, which are that
        rank's rows of the single-process gradients.

    Raises
    ------
    ValueError
        On every rank, when any rank's input is invalid (the message names
        the ranks), or the options, dtypes or dimensions differ between
        ranks, or ``reg`` is outside what the dtype resolves.
    RuntimeError
        Without an initialised process group.

    Warns
    -----
    ConvergenceWarning
        On every rank, as :func:`otlab.entropic.sinkhorn_samples` warns.

    Examples
    --------
    In a "group" of one process it is :func:`otlab.entropic.sinkhorn_samples`:

    >>> import torch.distributed as dist
    >>> dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
    >>> res = sharded_sinkhorn([[0.0, 0.0], [1.0, 0.0]], [[0.0, 2.0], [1.0, 2.0]], order=2)
    >>> round(res.cost, 6), res.converged  # every point moves by 2: cost 2^2
    (4.0, True)
    >>> dist.destroy_process_group()
    """
    shards, problem, options = _prepare(group, x_local, a_local, y_local, b_local, reg, order,
                                        tol, max_iter, scaling, backend, acceleration)
    cost, objective, n_iter, err, converged, eps, solution = solve_problem(
        problem, reg, backend, options, "sharded_sinkhorn")
    out, rows, cols = problem.out, problem.x_rows, problem.y_rows
    return ShardedSinkhornResult(
        f=out.cost(solution.f[rows]), rows=rows, g=out.cost(solution.g[cols]), cols=cols,
        cost=out.cost(cost), objective=out.cost(objective), converged=converged,
        marginal_error=err, n_iter=n_iter, reg=problem.input_reg(eps),
        backend=solution.op.name, world_size=shards.world_size,
        communication_seconds=shards.seconds)


def sharded_sinkhorn_divergence(x_local, y_local, *, reg: float | None = None,
                                order: float = 1, a_local=None, b_local=None,
                                tol: float | None = None, max_iter: int | None = None,
                                scaling: float | None = DEFAULT_SCALING, backend: str = "auto",
                                acceleration="anderson", group=None):
    r"""The debiased Sinkhorn divergence of two point clouds spread over the ranks.

    .. math::

        S_\varepsilon(\alpha, \beta) = \mathrm{OT}_\varepsilon(\alpha, \beta)
        - \tfrac12 \mathrm{OT}_\varepsilon(\alpha, \alpha)
        - \tfrac12 \mathrm{OT}_\varepsilon(\beta, \beta),

    as :func:`otlab.entropic.sinkhorn_divergence` on the global sample (the
    same value: :math:`\ge 0`, exactly 0 for the same points and weights),
    each of the three problems solved as in :func:`sharded_sinkhorn`, the
    symmetric ones with the rows of :math:`\alpha`, resp. :math:`\beta`,
    spread over the ranks.  A collective, with the parameters of
    :func:`sharded_sinkhorn`.  Points of weight 0 are left out on every rank, as
    :func:`otlab.entropic.sinkhorn_divergence` leaves them out (unless the
    weights require a gradient): where they lie would set the frame and the
    default ε; a rank whose points all weigh 0 then holds no row.  (Beyond
    :math:`\varepsilon = \text{ulp}^{-1/3} \max C`, where the single-process
    function switches to its large-ε expansion, every rank evaluates that
    expansion on all the points, streamed in tiles.)

    Returns
    -------
    float or Tensor
        :math:`S_\varepsilon`, the same on every rank; for torch input a
        0-dim tensor whose ``backward()`` gives each rank the gradients with
        respect to its own points and weights.

    Examples
    --------
    >>> import torch.distributed as dist
    >>> dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
    >>> x = [[0.0, 0.0], [1.0, 0.0]]
    >>> sharded_sinkhorn_divergence(x, x)
    0.0
    >>> dist.destroy_process_group()
    """
    _, problem, options = _prepare(group, x_local, a_local, y_local, b_local, reg, order, tol,
                                   max_iter, scaling, backend, acceleration, massless="drop")
    return divergence(problem, reg, backend, options, name="sharded_sinkhorn_divergence")
