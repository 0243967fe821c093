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
of the cost matrix (:math:`O(n_r m)` dense, or a tile); no rank holds the
global cost matrix or plan.  The Sinkhorn loop is the single-process one,
:func:`otlab.entropic.solver.sinkhorn_loop`, run on every rank over
:class:`~otlab.distributed.operator.ShardedOperator`, so ε-scaling,
Anderson acceleration, the stopping rule and the warnings are the same, and
so is the fixed point: the results equal those of
:func:`otlab.entropic.sinkhorn_samples` and
:func:`otlab.entropic.sinkhorn_divergence` on one process, up to rounding.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .._validation import check_order
from ..entropic._softmin import diameter
from ..entropic.samples import SAMPLES_TOL, default_reg
from ..entropic.solver import (
    DEFAULT_ACCELERATION,
    DEFAULT_SCALING,
    check_options,
    epsilon_schedule,
    sinkhorn_loop,
    warn_not_converged,
)
from ._sample import gather_samples
from ._shards import Shards
from .operator import ShardedOperator

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


def _options(reg, order, tol, max_iter, scaling, backend, acceleration):
    return {"reg": reg, "order": order, "tol": tol, "max_iter": max_iter, "scaling": scaling,
            "backend": backend, "acceleration": acceleration}


def _prepare(shards, specs, raw_options):
    """Validate on every rank together; return the samples, the options and the output kind."""
    samples, grads, use_numpy = gather_samples(shards, specs, raw_options)
    opts = dict(raw_options)
    opts["order"] = check_order(opts["order"])
    x, y = samples[0], samples[1]
    if opts["reg"] is None:  # the same rule and the same numbers as on one process
        opts["reg"] = default_reg(x.all_points, y.all_points, opts["order"], x.all_weights,
                                  y.all_weights)
    opts["reg"], opts["tol"], opts["max_iter"], opts["scaling"] = check_options(
        opts["reg"], opts["tol"], opts["max_iter"], opts["scaling"], opts["acceleration"])
    return samples, grads, opts, use_numpy


def _solve(shards, p, q, opts, *, symmetric=False):
    """Run the shared loop on the sharded operator of ``p`` (rows) against ``q`` (columns)."""
    with torch.no_grad():
        op = ShardedOperator(p.points.detach(), q.all_points, opts["order"], opts["backend"],
                             shards, p.sizes, q.rows)
        eps = opts["reg"]
        top = max(diameter(p.all_points, q.all_points) ** opts["order"], eps)
        schedule = epsilon_schedule(top, eps, opts["scaling"])
        f, g, n_iter, err = sinkhorn_loop(op, p.all_weights, q.all_weights, schedule,
                                          tol=opts["tol"], max_iter=opts["max_iter"],
                                          symmetric=symmetric, acceleration=opts["acceleration"])
    return op, f, g, n_iter, err


def _envelope(op, p, q, f, g, opts, point_grads: bool):
    """This rank's zero-valued term carrying the gradients of the global objective.

    ``point_grads`` says whether *any* rank needs point gradients: their
    computation is a collective, made by every rank or by none.
    """
    term = p.weight_term(f) + q.weight_term(g) if torch.is_grad_enabled() else 0.0
    if point_grads:
        eps = opts["reg"]
        with torch.no_grad():
            gx, gy = op.point_gradients(eps, f, g, p.all_weights.log(), q.all_weights.log())
        for points, grad in ((p.points, gx), (q.points, gy)):
            if torch.is_grad_enabled() and points.requires_grad:
                term = term + (grad * (points - points.detach())).sum()
    return term


def sharded_sinkhorn(x_local, y_local, *, reg: float | None = None, order: float = 1,
                     a_local=None, b_local=None, tol: float = SAMPLES_TOL,
                     max_iter: int | None = None, scaling: float | None = DEFAULT_SCALING,
                     backend: str = "auto", acceleration: str | None = DEFAULT_ACCELERATION,
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
        rank fills its own points' and weights' ``.grad``.

    Raises
    ------
    ValueError
        On every rank, when any rank's input is invalid (the message names
        the ranks) or the options, dtypes or dimensions differ between ranks.
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
    shards = Shards(group)
    specs = [(x_local, a_local, "x_local", "a_local"), (y_local, b_local, "y_local", "b_local")]
    options = _options(reg, order, tol, max_iter, scaling, backend, acceleration)
    (x, y), grads, opts, use_numpy = _prepare(shards, specs, options)
    op, f, g, n_iter, err = _solve(shards, x, y, opts)
    converged = err <= opts["tol"]
    if not converged:
        warn_not_converged("sharded_sinkhorn", opts["max_iter"], opts["reg"], err, opts["tol"])
    eps = opts["reg"]
    with torch.no_grad():
        cost = op.transport_cost(eps, f, g, x.all_weights.log(), y.all_weights.log())
        objective = x.all_weights @ f + y.all_weights @ g
    term = _envelope(op, x, y, f, g, opts, grads)
    cost, objective = cost + term, objective + term
    f_local, g_local = f[x.rows], g[y.rows]
    if use_numpy:
        f_local, g_local = f_local.cpu().numpy(), g_local.cpu().numpy()
        cost, objective = float(cost), float(objective)
    return ShardedSinkhornResult(
        f=f_local, g=g_local, cost=cost, objective=objective, n_iter=n_iter,
        marginal_error=err, converged=converged, reg=eps, backend=op.name, rows=x.rows,
        cols=y.rows, world_size=shards.world_size, communication_seconds=shards.seconds)


def _entropic_ot(shards, p, q, opts, grads, *, symmetric=False):
    op, f, g, n_iter, err = _solve(shards, p, q, opts, symmetric=symmetric)
    if err > opts["tol"]:
        warn_not_converged("sharded_sinkhorn_divergence", opts["max_iter"], opts["reg"], err,
                           opts["tol"], stacklevel=4)
    return p.all_weights @ f + q.all_weights @ g + _envelope(op, p, q, f, g, opts, grads)


def sharded_sinkhorn_divergence(x_local, y_local, *, reg: float | None = None,
                                order: float = 1, a_local=None, b_local=None,
                                tol: float = SAMPLES_TOL, max_iter: int | None = None,
                                scaling: float | None = DEFAULT_SCALING, backend: str = "auto",
                                acceleration: str | None = DEFAULT_ACCELERATION, group=None):
    r"""The debiased Sinkhorn divergence of two point clouds spread over the ranks.

    .. math::

        S_\varepsilon(\alpha, \beta) = \mathrm{OT}_\varepsilon(\alpha, \beta)
        - \tfrac12 \mathrm{OT}_\varepsilon(\alpha, \alpha)
        - \tfrac12 \mathrm{OT}_\varepsilon(\beta, \beta),

    as :func:`otlab.entropic.sinkhorn_divergence` on the global sample, each
    of the three problems solved as in :func:`sharded_sinkhorn` (the
    symmetric ones with the rows of :math:`\alpha`, resp. :math:`\beta`,
    spread over the ranks).  A collective, with the same parameters.

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
    >>> abs(sharded_sinkhorn_divergence(x, x)) < 1e-6
    True
    >>> dist.destroy_process_group()
    """
    shards = Shards(group)
    specs = [(x_local, a_local, "x_local", "a_local"), (y_local, b_local, "y_local", "b_local")]
    options = _options(reg, order, tol, max_iter, scaling, backend, acceleration)
    (x, y), grads, opts, use_numpy = _prepare(shards, specs, options)
    ot_xy = _entropic_ot(shards, x, y, opts, grads)
    ot_xx = _entropic_ot(shards, x, x, opts, grads, symmetric=True)
    ot_yy = _entropic_ot(shards, y, y, opts, grads, symmetric=True)
    value = ot_xy - 0.5 * (ot_xx + ot_yy)
    return float(value) if use_numpy else value
