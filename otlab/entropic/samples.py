r"""Sinkhorn on point clouds: the frame, back-end choice, default ε, and ``wasserstein(method="sinkhorn")``.

The cost is :math:`c(x, y) = \lVert x - y\rVert_2^k` (``order = k``).  Both
clouds are first moved to a common frame (:func:`otlab.costs.common_frame`:
translated by a common centre, divided by a power of two ``s``), where the
back-end — a dense matrix, tiles recomputed on the fly, or a fused Triton
kernel — forms the costs from coordinate differences.  The solver runs there,
with :math:`\varepsilon / s^k`, and costs, potentials and ε are scaled back by
:math:`s^k` (and :math:`W_k` by :math:`s`) at the end, so every result is
exactly translation-invariant and scale-equivariant up to round-off.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace

import numpy as np
import torch

from .._backend import any_torch, working_dtype
from .._validation import check_choice, check_order, check_positive
from ..costs import Frame, common_frame, mean_squared_distance, scale_by_power
from ..sample import Sample, as_sample, check_same_dimension
from ._softmin import DenseOperator, TiledOperator
from .solver import (
    DEFAULT_SCALING,
    Output,
    SinkhornOptions,
    SinkhornResult,
    _Solution,
    check_resolution,
    envelope_terms,
    epsilon_schedule,
    finish,
    sinkhorn_loop,
)

__all__ = ["sinkhorn_samples", "wasserstein_sinkhorn", "default_reg", "choose_backend",
           "available_memory", "BACKENDS", "REG_FRACTION", "MEMORY_FRACTION"]

#: Back-ends accepted by :func:`sinkhorn_samples`.
BACKENDS = ("auto", "dense", "tiled", "triton")
#: Default ε as a fraction of the k-th power of the root-mean-square distance.
REG_FRACTION = 0.004
#: Default marginal tolerance of the sample-based entry points.
SAMPLES_TOL = 1e-4
#: Share of the available memory (host RAM, or free GPU memory) that ``backend="auto"``
#: lets the dense operator (costs and two kernels) or the tiled operator's kernels use.
MEMORY_FRACTION = 0.25


def available_memory(device) -> int:
    """Bytes available on ``device``: free GPU memory, or what this process may still allocate.

    On the host this is :func:`otlab.exact.available_memory_bytes` (the tightest of
    ``MemAvailable``, the cgroup limit and the rlimits, as the exact solvers use), falling
    back to the free physical pages reported by ``os.sysconf`` where none of those can be
    read, and to 1 GiB where neither is known.
    """
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    from .._memory import available_memory_bytes

    host = available_memory_bytes()
    if host is not None:
        return host
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return 1 << 30


def _triton_usable(device) -> bool:
    if device.type != "cuda" and os.environ.get("TRITON_INTERPRET") != "1":
        return False
    try:
        import triton  # noqa: F401
    except ImportError:
        return False
    return True


def choose_backend(backend: str, n: int, m: int, device, dtype=torch.float64, *,
                   available: int | None = None) -> str:
    r"""Resolve ``backend`` for an n×m problem, by the memory it would need.

    ``"auto"`` is ``"dense"`` when its three :math:`n \times m` arrays (costs
    and the two absorbed kernels) fit in :data:`MEMORY_FRACTION` of the
    available memory (:func:`available_memory`, or ``available`` bytes), else
    ``"triton"`` on CUDA when triton is installed, else ``"tiled"`` (which
    keeps its two kernels when they fit the same budget, see
    :func:`make_operator`).  ``"triton"`` falls back to ``"tiled"`` when triton
    is not importable; an explicit ``"dense"`` or ``"tiled"`` is kept.

    Examples
    --------
    >>> import torch
    >>> cpu = torch.device("cpu")
    >>> choose_backend("auto", 1000, 1000, cpu, available=8 << 30)
    'dense'
    >>> choose_backend("auto", 10**5, 10**5, cpu, available=8 << 30)
    'tiled'
    """
    check_choice(backend, "backend", BACKENDS)
    if backend == "triton":
        return "triton" if _triton_usable(device) else "tiled"
    if backend != "auto":
        return backend
    if _bytes(n, m, dtype, 3) <= _budget(device, available):
        return "dense"
    return "triton" if device.type == "cuda" and _triton_usable(device) else "tiled"


def _bytes(n, m, dtype, arrays) -> int:
    return arrays * n * m * (torch.finfo(dtype).bits // 8)


def _budget(device, available) -> float:
    return MEMORY_FRACTION * (available_memory(device) if available is None else available)


def make_operator(x, y, order, backend, *, available: int | None = None):
    """The soft-min operator of the named back-end on (local) points ``x``, ``y``.

    The tiled operator keeps, within :data:`MEMORY_FRACTION` of the available
    memory, its costs and kernels (three n×m arrays), else its two kernels,
    else nothing (see :class:`~otlab.entropic._softmin.TiledOperator`).
    """
    if backend == "dense":
        return DenseOperator.from_points(x, y, order)
    if backend == "triton":
        from ._triton import TritonOperator

        return TritonOperator(x, y, order)
    n, m, budget = x.shape[0], y.shape[0], _budget(x.device, available)
    keep = next((keep for keep, arrays in (("all", 3), ("kernels", 2))
                 if _bytes(n, m, x.dtype, arrays) <= budget), None)
    return TiledOperator(x, y, order, keep=keep)


@dataclass(frozen=True)
class PointProblem:
    """Two validated samples as tensors in one working dtype and device, and their common frame.

    ``xl``, ``yl`` are the local coordinates (differentiable in the inputs);
    ``out`` converts local results back to the caller's units and kind.
    """

    x: torch.Tensor
    a: torch.Tensor
    y: torch.Tensor
    b: torch.Tensor
    xl: torch.Tensor
    yl: torch.Tensor
    frame: Frame
    order: float
    out: Output

    @classmethod
    def build(cls, sp: Sample, sq: Sample, order: float, names=("x", "y")) -> "PointProblem":
        check_same_dimension(sp, sq, names)
        parts = (sp.points, sp.probabilities, sq.points, sq.probabilities)
        ref = next((v for v in parts if isinstance(v, torch.Tensor)), None)
        if ref is not None:
            dtype, device = ref.dtype, ref.device
        else:
            dtype = torch.float32 if sp.points.dtype == np.float32 else torch.float64
            device = torch.device("cpu")
        work = working_dtype(dtype)
        x, a, y, b = (torch.as_tensor(v).to(dtype=work, device=device) for v in parts)
        frame = common_frame(x, y)
        out = Output(numpy=not any_torch(*parts), dtype=dtype, scale=frame.scale, order=order)
        return cls(x, a, y, b, frame.local(x), frame.local(y), frame, order, out)

    def local_reg(self, reg) -> float:
        """``reg`` in the frame's cost units (default rule for ``None``), validated."""
        if reg is None:
            return _default_reg_local(self.xl.detach(), self.a.detach(), self.yl.detach(),
                                      self.b.detach(), self.order)
        return scale_by_power(check_positive(reg, "reg"), self.frame.scale, -self.order)

    def input_reg(self, eps: float) -> float:
        return float(scale_by_power(eps, self.frame.scale, self.order))

    def operator(self, x, y, backend: str, *, available: int | None = None):
        """The soft-min operator on local points ``x``, ``y`` (``y is x``: a symmetric term).

        A problem spread over processes (:mod:`otlab.distributed`) overrides it.
        """
        name = choose_backend(backend, x.shape[0], y.shape[0], x.device, x.dtype,
                              available=available)
        return make_operator(x, y, self.order, name, available=available)

    def swapped(self) -> "PointProblem":
        """The same problem with the roles of the two samples exchanged (same frame)."""
        return replace(self, x=self.y, a=self.b, y=self.x, b=self.a, xl=self.yl, yl=self.xl)


def _default_reg_local(x, a, y, b, order) -> float:
    m2 = mean_squared_distance(x, a, y, b)
    return REG_FRACTION * m2 ** (order / 2) if m2 > 0 else 1.0


def default_reg(x, y, order: float = 1, a=None, b=None) -> float:
    r"""Default ε for samples: :math:`\varepsilon = 0.004\, m_2^{k/2}`.

    :math:`m_2 = \sum_{ij} a_i b_j \lVert x_i - y_j\rVert^2` is the mean
    squared distance between the two samples, computed from centred moments
    in the common frame (:func:`otlab.costs.mean_squared_distance`) in
    :math:`O((n + m) d)`, so ε scales like the cost and is invariant to a
    common translation of any size.  The entropic plan's cost exceeds the
    exact one by about :math:`d\varepsilon/2`; with this rule :math:`W_1`
    and :math:`W_2` of samples of a few thousand points are within 1 % of the
    exact values unless the distance is tiny compared with the spread of the
    data (where no fixed relative ε can be accurate).  ε-scaling keeps the
    small ε cheap.  Samples whose points all coincide get :math:`\varepsilon = 1`.

    Examples
    --------
    >>> import numpy as np
    >>> default_reg(np.array([[0.0, 0.0]]), np.array([[3.0, 4.0]]), order=1)
    0.02
    >>> default_reg(np.array([1e8, 1e8 + 2.0]), np.array([1e8, 1e8]), order=2)  # m_2 = 2
    0.008
    """
    order = check_order(order)
    p = PointProblem.build(as_sample(x, "x", weights=a, weights_name="a"),
                           as_sample(y, "y", weights=b, weights_name="b"), order)
    m2 = mean_squared_distance(p.xl.detach(), p.a.detach(), p.yl.detach(), p.b.detach())
    return p.input_reg(REG_FRACTION * m2 ** (order / 2)) if m2 > 0 else 1.0


def solve(problem: PointProblem, eps: float, backend: str, options: SinkhornOptions, *,
          symmetric: bool = False, available: int | None = None, cost_scale: float | None = None):
    """Run the loop in the local frame on detached data; return ``(op, f, g, n_iter, err)``.

    ``cost_scale`` is the cost scale against which ``eps`` is checked
    (:func:`~otlab.entropic.solver.check_resolution`), by default the
    operator's; the divergence passes that of the cross term for all three.
    """
    with torch.no_grad():
        x, a = problem.xl.detach(), problem.a.detach()
        y, b = (x, a) if symmetric else (problem.yl.detach(), problem.b.detach())
        op = problem.operator(x, y, backend, available=available)
        scale = op.cost_scale()
        check_resolution(eps, scale if cost_scale is None else cost_scale, x.dtype,
                         reg=problem.input_reg(eps), cost_unit=problem.input_reg)
        schedule = epsilon_schedule(max(scale, eps), eps, options.scaling)
        f, g, n_iter, err = sinkhorn_loop(op, a, b, schedule, options, symmetric=symmetric)
    return op, f, g, n_iter, err


def needs_grad(*vs) -> bool:
    return torch.is_grad_enabled() and any(v.requires_grad for v in vs)


def gradient_term(problem: PointProblem, op, eps, f, g, *, symmetric=False):
    """The envelope-theorem term (zero-valued) of ⟨a, f⟩ + ⟨b, g⟩ in the local frame, or 0."""
    p = problem
    y, b, yl = (p.x, p.a, p.xl) if symmetric else (p.y, p.b, p.yl)
    if not needs_grad(p.x, p.a, y, b):
        return 0.0
    grads = None
    if p.x.requires_grad or y.requires_grad:
        grads = op.point_gradients(eps, f, g, p.a.detach().log(), b.detach().log())
    return envelope_terms(f, g, p.a, b, x=p.xl, y=yl, grads=grads)


def _entropic(problem, reg, backend, options, name):
    """Solve, measure the plan, attach gradients: the shared body of the two entry points."""
    eps = problem.local_reg(reg)
    op, f, g, n_iter, err = solve(problem, eps, backend, options)
    with torch.no_grad():
        a, b = problem.a.detach(), problem.b.detach()
        cost, err, converged = finish(op, a, b, f, g, eps, err, options, name=name,
                                      reg=problem.input_reg(eps), out=problem.out)
        objective = (a * f).sum() + (b * g).sum()
    term = gradient_term(problem, op, eps, f, g)
    solution = _Solution(op, f, g, eps, a.log(), b.log(), problem.out)
    return cost + term, objective + term, n_iter, err, converged, eps, solution


def sinkhorn_samples(x, y, a=None, b=None, *, reg: float | None = None, order: float = 2,
                     tol: float = SAMPLES_TOL, max_iter: int | None = None,
                     scaling: float | None = DEFAULT_SCALING, backend: str = "auto",
                     acceleration="anderson") -> SinkhornResult:
    r"""Entropic OT between weighted point clouds, without forming the cost matrix if large.

    Solves :func:`otlab.entropic.sinkhorn` with :math:`M_{ij} = \lVert x_i - y_j\rVert_2^k`,
    in a common frame (see the module notes), where the back-end computes the
    costs from coordinate differences:

    * ``"dense"``: the :math:`n \times m` matrix, formed once, and two absorbed
      kernels (three :math:`n \times m` arrays);
    * ``"tiled"``: row blocks of costs recomputed when needed; the two kernels
      are kept (in blocks) when they fit the memory budget, so each soft-min
      is a matrix-vector product as for ``"dense"``, and otherwise every
      soft-min streams an exponential per entry;
    * ``"triton"``: a fused CUDA kernel (costs and log-sum-exp in registers);
      falls back to ``"tiled"`` where triton is not installed;
    * ``"auto"``: dense when its arrays fit in a quarter of the available
      memory (:func:`choose_backend`); beyond, triton on CUDA, else tiled.

    Parameters
    ----------
    x, y : array-like, Tensor or Sample, shapes (n, d) and (m, d)
        The points (1-D input is read as points on the line).
    a, b : array-like or Tensor, optional
        Weights, normalised to sum 1; uniform by default.
    reg : float, optional
        ε in cost units; by default :func:`default_reg`, :math:`0.004\, m_2^{k/2}`.
    order : float, default 2
        The exponent ``k`` of the cost.
    tol : float, default 1e-4
        L1 marginal tolerance (looser than :func:`~otlab.entropic.sinkhorn`'s
        1e-6: it bounds the cost error by about ``tol * max cost``, far below
        the entropic bias).
    max_iter, scaling, acceleration
        As in :func:`otlab.entropic.sinkhorn`.
    backend : {"auto", "dense", "tiled", "triton"}, default "auto"

    Returns
    -------
    SinkhornResult
        For torch input with ``requires_grad``, ``cost`` and ``objective``
        are differentiable with respect to points and weights through the
        potentials (envelope theorem).  ``result.apply(v)`` computes
        :math:`P v` without forming :math:`P`.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[0.0, 0.0], [1.0, 0.0]])
    >>> res = sinkhorn_samples(x, x + [0.0, 2.0], order=2)
    >>> round(res.cost, 6)  # every point moves by 2: cost 2^2
    4.0
    """
    order = check_order(order)
    problem = PointProblem.build(as_sample(x, "x", weights=a, weights_name="a"),
                                 as_sample(y, "y", weights=b, weights_name="b"), order)
    options = SinkhornOptions.build(tol=tol, max_iter=max_iter, scaling=scaling,
                                    acceleration=acceleration)
    cost, objective, n_iter, err, converged, eps, solution = _entropic(
        problem, reg, backend, options, "sinkhorn_samples")
    out = problem.out
    return SinkhornResult(
        f=out.cost(solution.f), g=out.cost(solution.g), cost=out.cost(cost),
        objective=out.cost(objective), n_iter=n_iter, marginal_error=err, converged=converged,
        reg=problem.input_reg(eps), backend=solution.op.name, _solution=solution,
    )


def wasserstein_sinkhorn(p, q, *, a=None, b=None, order: float = 1, max_iter: int | None = None,
                         reg: float | None = None, tol: float = SAMPLES_TOL,
                         scaling: float | None = DEFAULT_SCALING, backend: str = "auto",
                         acceleration="anderson"):
    r"""Entropic estimate of :math:`W_k`: the k-th root of the entropic plan's cost.

    .. math::

        W_{k,\varepsilon} = \langle P_\varepsilon, C_k\rangle^{1/k}
        \ge W_k, \qquad C_k = \lVert x_i - y_j\rVert_2^k,

    where :math:`P_\varepsilon` solves the entropic problem.  This is what
    ``otlab.wasserstein(p, q, method="sinkhorn", ...)`` returns; with the
    default ε (:func:`default_reg`) it is within 1 % of the exact :math:`W_1`
    and :math:`W_2` on samples of a few thousand points.  The root is taken
    in the common frame and scaled back by its power of two, so the value is
    finite wherever :math:`W_k` is, even when :math:`W_k^k` is not.

    Parameters
    ----------
    p, q : array-like, Tensor or Sample
        The samples, as in :func:`otlab.wasserstein`.
    a, b : array-like or Tensor, optional
        Their weights (normalised to sum 1; uniform by default).
    order : float, default 1
    max_iter : int or None
    reg, tol, scaling, backend, acceleration
        As in :func:`sinkhorn_samples`.

    Returns
    -------
    float or Tensor
        A float for numpy input; a 0-dim tensor on the input's device and in
        its dtype for torch input, whose gradient is that of
        :math:`\mathrm{OT}_\varepsilon^{1/k}` (envelope theorem; it tends to
        :math:`\nabla W_k` as ε → 0).

    Examples
    --------
    >>> import numpy as np
    >>> x = np.zeros((3, 2))
    >>> round(wasserstein_sinkhorn(x, x + [3.0, 4.0]), 6)
    5.0
    """
    order = check_order(order)
    problem = PointProblem.build(as_sample(p, "p", weights=a, weights_name="a"),
                                 as_sample(q, "q", weights=b, weights_name="b"), order, ("p", "q"))
    options = SinkhornOptions.build(tol=tol, max_iter=max_iter, scaling=scaling,
                                    acceleration=acceleration)
    cost, *_ = _entropic(problem, reg, backend, options, "wasserstein(method='sinkhorn')")
    cost = cost.clamp_min(0)
    value = (cost if order == 1 else cost ** (1.0 / order)) * problem.frame.scale
    return float(value) if problem.out.numpy else value.to(problem.out.dtype)
