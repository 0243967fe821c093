r"""Pairs of distributions with a known :math:`W_1`, optimal plan and optimal potential.

The construction of Korotin, Kolesov & Burnaev (2022), "Kantorovich Strikes
Back! Wasserstein GANs are not Optimal Transport?", written from its
description.  A *MinFunnels* function with centres :math:`a_k` and offsets
:math:`b_k`,

.. math:: u(z) = \min_{k = 1..W} \big(\lVert z - a_k\rVert + b_k\big),

is 1-Lipschitz, and inside the region :math:`R_k` where funnel k is the
minimum, :math:`\nabla u(z) = (z - a_k)/\lVert z - a_k\rVert`.  Each region is
star-shaped around its centre.  The target :math:`\nu` is uniform on the cube
:math:`[-h, h]^D` (h = 2.5).  A point :math:`y \sim \nu` in :math:`R_k` lies
on the ray from :math:`a_k` through :math:`y`; let :math:`e(y)` be where that
ray leaves :math:`R_k` or the cube, and :math:`t = \lVert y - a_k\rVert /
\lVert e(y) - a_k\rVert \in [0, 1]`.  The source point is

.. math:: x = a_k + t^{p}\,(e(y) - a_k), \qquad p = 8,

the same ray, pulled towards the centre.  The source :math:`\mu` is the law
of :math:`x`.  Along the segment from :math:`x` to :math:`y` the funnel k
stays the minimum, so :math:`u(y) - u(x) = \lVert y - x\rVert`: the coupling
:math:`(x, y)` moves mass along the gradient of a 1-Lipschitz function by
exactly its increase, hence it is optimal and

.. math::

    W_1(\mu, \nu) = \mathbb E\,\lVert y - x\rVert
    = \mathbb E_\nu u - \mathbb E_\mu u ,

with the optimal Kantorovich potential :math:`f = -u` (so that
:math:`\mathbb E_\mu f - \mathbb E_\nu f = W_1`, the orientation of
:func:`otlab.critics.estimate_w1` with ``x`` from :math:`\mu`).  The true
:math:`W_1` is computed by Monte Carlo over plan pairs, with its standard
error.

Centres are uniform in the cube and offsets :math:`0.1\,\mathcal N(0, 1)`,
as in the paper; the published pairs are one draw of this construction (their
centres are stored with the paper's code, not re-derived from a seed here),
so the true values of :func:`w1_benchmark` pairs differ from the published
ones by the draw, not by the construction.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field

import numpy as np

from .._backend import is_torch
from .._validation import check_positive, check_positive_int
from ._seed import as_generator

__all__ = ["W1BenchmarkPair", "w1_benchmark"]

#: Rows per block when tracing rays (bounds the (rows, funnels) temporaries).
_BLOCK = 8192
#: Accepted half widths: the rays are traced with squared distances, which underflowed (W_1 = 0)
#: below about 1e-160 and overflowed (W_1 = NaN) above about 1e155; W_1 scales exactly inside.
HALF_WIDTH_RANGE = (1e-100, 1e100)


def _funnel_distances(z, centers):
    """``|z_i - a_k|`` in float64 from differences (no cancellation of the |z|^2 expansion)."""
    from scipy.spatial.distance import cdist

    return cdist(z, centers)


def _ray_ends(y, centers, biases, half_width):
    """Centre ``a_k`` of the funnel that is minimal at each ``y``, and where its ray leaves.

    The ray :math:`y + r v`, :math:`v = (y - a_k)/|y - a_k|`, leaves the cube at
    the smallest :math:`r = (\\pm h - y_i)/v_i > 0`, and the region of funnel
    k where :math:`|y + r v - a_j| + b_j = m + r` first holds for some j
    (:math:`m = u(y)`): with :math:`d = y - a_j` and :math:`c = m - b_j`,
    :math:`r = (|d|^2 - c^2) / (2 (c - d \\cdot v))`, valid when
    :math:`r > 0` and :math:`c + r > 0`.
    """
    dist = _funnel_distances(y, centers)
    values = dist + biases
    k = values.argmin(axis=1)
    rows = np.arange(y.shape[0])
    low = centers[k]
    radius = dist[rows, k]
    with np.errstate(divide="ignore", invalid="ignore"):
        v = (y - low) / radius[:, None]
        v[radius == 0] = 0.0
        r_box = np.where(v != 0, (np.sign(v) * half_width - y) / v, np.inf).min(axis=1)
        c = values[rows, k][:, None] - biases[None, :]
        dv = (y * v).sum(axis=1)[:, None] - v @ centers.T
        r = 0.5 * (dist**2 - c**2) / (c - dv)
    r[~((r > 0) & (c + r > 0) & np.isfinite(r))] = np.inf
    r[rows, k] = np.inf
    r_end = np.minimum(r.min(axis=1), r_box)
    r_end[radius == 0] = 0.0
    return low, y + r_end[:, None] * v, radius


def _pull_back(y, centers, biases, half_width, degree):
    """The source points of the plan pairs with targets ``y``."""
    out = np.empty_like(y)
    for start in range(0, y.shape[0], _BLOCK):
        yb = y[start:start + _BLOCK]
        low, end, radius = _ray_ends(yb, centers, biases, half_width)
        length = np.linalg.norm(end - low, axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            t = np.where(length > 0, radius / length, 0.0)
        t = np.clip(t, 0.0, 1.0)
        out[start:start + _BLOCK] = low + (t**degree)[:, None] * (end - low)
    return out


def _check_degree(degree) -> float:
    if isinstance(degree, bool) or not isinstance(degree, numbers.Real):
        raise TypeError(f"degree must be a real number >= 1; got {degree!r}")
    if not (np.isfinite(degree) and degree >= 1):
        raise ValueError(f"degree must be finite and >= 1; got {degree!r}")
    return float(degree)


def _as_torch(z, dim: int):
    """``(tensor, was_torch)`` for points ``z`` of shape (k, dim); a ValueError naming z otherwise."""
    import torch

    was_torch = is_torch(z)
    t = z if was_torch else torch.as_tensor(np.asarray(z, dtype=np.float64))
    if t.ndim != 2 or t.shape[1] != dim:
        raise ValueError(f"z must have shape (k, {dim}); got shape {tuple(t.shape)}")
    return t, was_torch


@dataclass(frozen=True)
class W1BenchmarkPair:
    r"""A source :math:`\mu` and target :math:`\nu` with known :math:`W_1`, plan and potential.

    Built by :func:`w1_benchmark` (random funnels) or directly from given
    funnels (``centers``, ``biases``), e.g. the published ones.

    Attributes
    ----------
    centers : ndarray, shape (W, D)
        Funnel centres :math:`a_k`, inside the cube.
    biases : ndarray, shape (W,)
        Funnel offsets :math:`b_k`.
    half_width : float
        h: the target is uniform on :math:`[-h, h]^D`.
    degree : float
        p: a target point at relative position t on its ray comes from
        relative position :math:`t^p`.
    w1 : float
        The true :math:`W_1(\mu, \nu)`: the mean of :math:`\lVert y - x\rVert`
        over ``n_mc`` plan pairs (Monte Carlo).
    w1_stderr : float
        Its Monte-Carlo standard error.
    n_mc : int
        Number of plan pairs behind ``w1``.
    """

    centers: np.ndarray = field(repr=False)
    biases: np.ndarray = field(repr=False)
    half_width: float = 2.5
    degree: float = 8.0
    w1: float = float("nan")
    w1_stderr: float = float("nan")
    n_mc: int = 0

    def __post_init__(self):
        """Check the funnels as :func:`w1_benchmark` draws them (a pair may be built directly)."""
        half_width = check_positive(self.half_width, "half_width")
        degree = _check_degree(self.degree)
        centers = np.asarray(self.centers, dtype=np.float64)
        biases = np.asarray(self.biases, dtype=np.float64)
        if centers.ndim != 2 or 0 in centers.shape:
            raise ValueError(f"centers must have shape (W, D) with W, D >= 1; got shape "
                             f"{centers.shape}")
        if biases.shape != (centers.shape[0],):
            raise ValueError(f"biases must have one offset per centre ({centers.shape[0]}); "
                             f"got shape {biases.shape}")
        for name, v in (("centers", centers), ("biases", biases)):
            if not np.isfinite(v).all():
                raise ValueError(f"{name} must be finite; got {int((~np.isfinite(v)).sum())} "
                                 "NaN or infinite entries")
        if np.abs(centers).max() > half_width:
            raise ValueError(f"centers must lie in the cube [-{half_width:g}, {half_width:g}]^D; "
                             f"got a coordinate {np.abs(centers).max():.6g} in absolute value")
        for name, value in (("centers", centers), ("biases", biases),
                            ("half_width", half_width), ("degree", degree)):
            object.__setattr__(self, name, value)

    @property
    def dim(self) -> int:
        """D, the dimension."""
        return int(self.centers.shape[1])

    @property
    def n_funnels(self) -> int:
        """W, the number of funnels."""
        return int(self.centers.shape[0])

    def sample_plan(self, n: int, *, seed=None):
        r"""``n`` pairs :math:`(x_i, y_i)` from the optimal plan, float64 arrays of shape (n, D).

        :math:`y_i` is uniform on the cube and :math:`x_i` its source point,
        so :math:`\tfrac1n \sum_i \lVert y_i - x_i \rVert \to W_1`.
        """
        n = check_positive_int(n, "n")
        rng = as_generator(seed)
        h = self.half_width
        y = rng.uniform(-h, h, size=(n, self.dim))
        return _pull_back(y, self.centers, self.biases, h, self.degree), y

    def sample_source(self, n: int, rng=None):
        r"""``n`` independent points of the source :math:`\mu`, a float64 array of shape (n, D).

        The signature ``(n, rng)`` is a sampler of :func:`otlab.critics.estimate_w1`:
        ``estimate_w1(pair.sample_source, pair.sample_target)`` trains on fresh
        samples.  ``rng``: None, an int or a ``numpy.random.Generator``.
        """
        return self.sample_plan(n, seed=rng)[0]

    def sample_target(self, n: int, rng=None):
        r"""``n`` independent points of the target :math:`\nu` (uniform on the cube), shape (n, D)."""
        n = check_positive_int(n, "n")
        h = self.half_width
        return as_generator(rng).uniform(-h, h, size=(n, self.dim))

    def sample(self, n: int, *, seed=None):
        """``n`` independent points of the source and ``n`` of the target, (n, D) float64 each."""
        n = check_positive_int(n, "n")
        rng = as_generator(seed)
        x, _ = self.sample_plan(n, seed=rng)
        y = rng.uniform(-self.half_width, self.half_width, size=(n, self.dim))
        return x, y

    def potential(self, z):
        r"""The optimal Kantorovich potential :math:`f(z) = -\min_k (\lVert z - a_k\rVert + b_k)`.

        :math:`\mathbb E_\mu f - \mathbb E_\nu f = W_1`.  Torch in (any
        dtype and device; differentiable), torch out; numpy in, numpy out.
        ``z`` has shape (k, D); the result has shape (k,).
        """
        import torch

        t, was_torch = _as_torch(z, self.dim)
        centers = torch.as_tensor(self.centers, dtype=t.dtype, device=t.device)
        biases = torch.as_tensor(self.biases, dtype=t.dtype, device=t.device)
        dist = torch.cdist(t, centers, compute_mode="donot_use_mm_for_euclid_dist")
        out = -(dist + biases).amin(dim=1)
        return out if was_torch else out.numpy()

    def gradient(self, z):
        r""":math:`\nabla f(z) = -(z - a_k)/\lVert z - a_k\rVert` with k the minimal funnel at z.

        Norm 1 everywhere but at the centres (where it is set to 0) and on the
        boundaries between funnels (where f is not differentiable and one of the
        one-sided gradients is returned).  Torch in, torch out (same dtype and
        device); numpy in, numpy out.  Shape (k, D).
        """
        import torch

        t, was_torch = _as_torch(z, self.dim)
        centers = torch.as_tensor(self.centers, dtype=t.dtype, device=t.device)
        biases = torch.as_tensor(self.biases, dtype=t.dtype, device=t.device)
        dist = torch.cdist(t, centers, compute_mode="donot_use_mm_for_euclid_dist")
        k = (dist + biases).argmin(dim=1)
        diff = t - centers[k]
        norm = diff.norm(dim=1, keepdim=True)
        grad = torch.where(norm > 0, -diff / norm.clamp_min(torch.finfo(t.dtype).tiny),
                           torch.zeros_like(diff))
        return grad if was_torch else grad.numpy()


def w1_benchmark(dim: int, n_funnels: int, *, seed, half_width: float = 2.5,
                 degree: float = 8.0, bias_scale: float = 0.1,
                 n_mc: int = 2**16) -> W1BenchmarkPair:
    r"""A benchmark pair of "Kantorovich Strikes Back!" with known :math:`W_1` (module docstring).

    Parameters
    ----------
    dim : int
        D, the dimension (the paper: 2, 4, ..., 128).
    n_funnels : int
        W, the number of funnels of the potential (the paper: 4, 16, 64, 256).
    seed : None, int or numpy.random.Generator
        Draws the funnels and the Monte-Carlo sample of the true :math:`W_1`.
    half_width : float, default 2.5
        The target is uniform on :math:`[-h, h]^D`; the centres too.
        Between 1e-100 and 1e100.
    degree : float, default 8
        p >= 1: how strongly the source is pulled towards the centres.
    bias_scale : float, default 0.1
        Offsets :math:`b_k \sim \text{bias\_scale} \cdot \mathcal N(0, 1)`.
    n_mc : int, default 65536
        Plan pairs behind the true :math:`W_1` (its standard error falls as
        :math:`n_{mc}^{-1/2}`).

    Returns
    -------
    W1BenchmarkPair
        With ``w1``, ``w1_stderr``, ``sample``, ``sample_plan``,
        ``potential`` and ``gradient``.

    Raises
    ------
    TypeError, ValueError
        An argument of the wrong type or out of range; the message names it.

    Examples
    --------
    >>> pair = w1_benchmark(2, 4, seed=0, n_mc=4096)
    >>> x, y = pair.sample_plan(1000, seed=1)
    >>> bool(abs(pair.w1 - 0.8) < 0.3), bool(pair.w1_stderr < 0.02)
    (True, True)
    >>> bool(abs(float((pair.potential(x) - pair.potential(y)).mean()) - pair.w1) < 0.1)
    True
    """
    dim = check_positive_int(dim, "dim")
    n_funnels = check_positive_int(n_funnels, "n_funnels")
    half_width = check_positive(half_width, "half_width")
    if not HALF_WIDTH_RANGE[0] <= half_width <= HALF_WIDTH_RANGE[1]:
        raise ValueError(f"half_width must be between {HALF_WIDTH_RANGE[0]:g} and "
                         f"{HALF_WIDTH_RANGE[1]:g}; got {half_width!r} (the rays are traced "
                         "with squared distances, which leave float64 beyond)")
    degree = _check_degree(degree)
    bias_scale = check_positive(bias_scale, "bias_scale", allow_zero=True)
    n_mc = check_positive_int(n_mc, "n_mc")
    if n_mc < 2:
        raise ValueError(f"n_mc must be >= 2 (a standard error needs two pairs); got {n_mc!r}")
    rng = as_generator(seed)
    centers = rng.uniform(-half_width, half_width, size=(n_funnels, dim))
    biases = bias_scale * rng.standard_normal(n_funnels)
    pair = W1BenchmarkPair(centers, biases, half_width, float(degree))
    x, y = pair.sample_plan(n_mc, seed=rng)
    cost = np.linalg.norm(y - x, axis=1)
    return W1BenchmarkPair(centers, biases, half_width, float(degree), float(cost.mean()),
                           float(cost.std(ddof=1) / np.sqrt(n_mc)), n_mc)
