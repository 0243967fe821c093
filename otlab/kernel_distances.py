r"""Kernel distances between samples: MMD (Gaussian, Laplacian kernels) and the energy distance.

For a kernel :math:`k` the squared maximum mean discrepancy is

.. math::

    \mathrm{MMD}_k^2(\mu, \nu) = \mathbb E\, k(X, X') + \mathbb E\, k(Y, Y')
    - 2\, \mathbb E\, k(X, Y), \qquad X, X' \sim \mu,\; Y, Y' \sim \nu,

with the kernels (:math:`\sigma` the bandwidth, :math:`r = \lVert x - y \rVert_2`)

* ``"gaussian"``: :math:`k = \exp(-r^2 / 2\sigma^2)`;
* ``"laplacian"``: :math:`k = \exp(-r / \sigma)`;
* ``"energy"``: :math:`k = -r`, for which :math:`\mathrm{MMD}^2` is the
  energy distance :math:`D^2 = 2\mathbb E\lVert X - Y\rVert - \mathbb E\lVert X - X'\rVert
  - \mathbb E\lVert Y - Y'\rVert` of Székely and Rizzo.

**Estimators.**  ``"biased"`` is the V-statistic, the exact
:math:`\mathrm{MMD}^2` of the two empirical measures (never negative);
``"unbiased"`` drops the pairs of a point with itself (a U-statistic,
unbiased for the population value, possibly negative).  With weights, the
U-statistic divides the off-diagonal sums by :math:`1 - \sum_i w_i^2`.

**Conventions.**  The results carry ``squared`` (:math:`\mathrm{MMD}^2` or
:math:`D^2`) and ``value``, its non-negative square root, as
:func:`scipy.stats.energy_distance` returns :math:`D`.  GeomLoss's
``SamplesLoss("gaussian" | "laplacian" | "energy", blur=sigma)`` returns
*half* the biased squared value: ``geomloss = squared / 2`` with the same
:math:`\sigma` (its Gaussian kernel is :math:`\exp(-r^2/2\,\text{blur}^2)`).

**Standard error.**  The delta-method (influence function) error of
``squared``: with :math:`\phi_x(i) = 2(\sum_j w_j k(x_i, x_j) - \sum_j v_j
k(x_i, y_j))` and :math:`\phi_y` alike, :math:`\mathrm{se}^2 = \sum_i w_i^2
(\phi_x(i) - \bar\phi_x)^2 / (1 - \sum_i w_i^2) + (\text{same for } y)`.
At :math:`\mu = \nu` the first-order term vanishes and the estimator's
spread is of order :math:`1/n`, which the estimate then also has.

**Memory and time.**  The kernel matrices are never formed: rows are
processed in tiles of at most :data:`TILE_ELEMENTS` entries, so memory is
:math:`O(n + m)` plus one tile (with torch autograd, every tile is kept for
the backward pass).  Each kernel value is computed once: :math:`K(x, x)` and
:math:`K(y, y)` by their upper triangles of tiles (the rest by symmetry) and
one pass over :math:`K(x, y)` gives both its row and its column sums, so
:math:`(n^2 + m^2)/2 + nm` kernel values in all.  Distances come from coordinate differences in a common
centred frame (:mod:`otlab.costs`), so the values are exact under translation
and the energy distance scales with the points.  For the Gaussian and Laplacian
kernels, a point more than :data:`FAR_BANDWIDTHS` bandwidths from the median of
the points with mass is left out of that frame and its kernel values come from
its coordinate differences (divided by the bandwidth before squaring), so a
light point at 1e300 beside data of size 1 neither collapses the data's
distances nor loses its own term.  Points of weight 0 are left out (for
tensors, unless the weights require a gradient).  Those kept are left out of
the energy kernel's frame, and its terms with a point of weight 0 beyond it
are shifted by :math:`\lVert z - c\rVert` (:func:`_energy_row_sums_with_far_points`),
so the value is that without them and the derivative in such a point's
weight (the first variation :math:`2\sum_j b_j \lVert z - y_j\rVert - 2\sum_k a_k
\lVert z - x_k\rVert` less its mean) is exact even at 1e300; for the unbiased
estimator it holds :math:`\lVert z\rVert \sum a^2 / (1 - \sum a^2)` and
raises a ValueError where that overflows.  GeomLoss clamps squared
distances at 1e-8, so its laplacian and energy losses differ from the
formulas above by the pairs closer than 1e-4 (every point with itself:
``(1e-4/2)(sum a^2 + sum b^2)`` for the energy loss).
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass

import numpy as np

from ._backend import common_backend, is_torch, result_like, working_dtype
from ._validation import check_choice, check_positive
from .costs import kth_root
from .frames import Frame, median_frame, power_of_two_at_least
from .sample import as_sample, check_same_dimension, with_mass

__all__ = ["KernelDistanceResult", "mmd", "energy_distance", "median_bandwidth",
           "gaussian_mixture_mmd2", "KERNELS", "TILE_ELEMENTS", "FAR_BANDWIDTHS"]

#: Kernels accepted by :func:`mmd`.
KERNELS = ("gaussian", "laplacian", "energy")
#: Entries of one tile of kernel values (64 MiB in float64).
TILE_ELEMENTS = 1 << 23
#: Tiles per side at least (below that, a tile is a smaller band of rows).
_MIN_TILES = 16
#: Points of the pooled sample that the median heuristic looks at (at most).
_MEDIAN_POINTS = 1000


@dataclass(frozen=True)
class KernelDistanceResult:
    r"""An MMD or energy distance with its standard error.

    Attributes
    ----------
    squared : float or Tensor
        :math:`\mathrm{MMD}^2` (or :math:`D^2`) as estimated; the unbiased
        estimate may be negative.  A 0-dim differentiable tensor for torch input.
    value : float or Tensor
        :math:`\sqrt{\max(\text{squared}, 0)}`.
    standard_error : float
        Standard error of ``squared`` (see the module notes).
    bandwidth : float or None
        The kernel's :math:`\sigma` (given, or the median heuristic's);
        ``None`` for the energy distance.
    kernel, estimator : str
        As asked for.
    """

    squared: object
    value: object
    standard_error: float
    bandwidth: float | None
    kernel: str
    estimator: str

    def __float__(self) -> float:
        return float(self.value.detach()) if is_torch(self.value) else float(self.value)


def _pairwise(x, y, kernel: str, sigma: float):
    r"""Kernel values between the rows of x and y (one tile), in the common centred frame.

    Gaussian: squared distances by :math:`|x|^2 + |y|^2 - 2 x \cdot y` (one matrix
    product); the coordinates are at most 1 in the frame, so each squared distance is
    exact to about 1e-16 absolute and so is each kernel value.  Laplacian and energy:
    distances from coordinate differences, whose square roots stay exact near 0.
    """
    if is_torch(x):
        import torch

        if kernel == "gaussian":
            sq = ((x * x).sum(1)[:, None] + (y * y).sum(1)[None, :]).addmm_(x, y.T, alpha=-2)
            # divided by sigma twice: -0.5 / sigma**2 alone overflows for sigma below 1e-154
            # (then 0 * -inf = NaN on the diagonal)
            return torch.exp(sq.clamp_(min=0).div_(sigma).div_(sigma).mul_(-0.5))
        d = torch.cdist(x, y, p=2.0, compute_mode="donot_use_mm_for_euclid_dist")
        return torch.exp(-d / sigma) if kernel == "laplacian" else -d
    # numpy input: the exponentials by torch on the same memory (its vectorised exp is about
    # 3x numpy's where numpy has no AVX-512 one: 2.9 ns against 8.5 ns a value, measured).
    import torch

    if kernel == "gaussian":
        with torch.no_grad():
            return _pairwise(torch.from_numpy(x), torch.from_numpy(y), kernel, sigma).numpy()
    from scipy.spatial.distance import cdist  # imported here: the Gaussian kernel needs none

    d = cdist(x, y, "euclidean")
    if kernel == "laplacian":
        torch.from_numpy(d).mul_(-1.0 / sigma).exp_()
        return d
    return np.negative(d, out=d)


#: A point farther than this many bandwidths from the centre of the points with mass is
#: "far" for the Gaussian and Laplacian kernels: its kernel values come from coordinate
#: differences (:func:`_direct`), and the frame of the other points ignores it.  A frame
#: reaching R bandwidths keeps the squared local distance of a pair 1e-4 bandwidths apart
#: (where a float32 kernel value starts to differ from 1) at (1e-4 / R)^2, a normal number
#: in float32 up to R of about 1e15 and in float64 far beyond: 2^40 (1.1e12) leaves the
#: frames of ordinary data alone.  At 2^10 a bandwidth of 1e-3 on unit normals made every
#: point "far": 2000 + 2000 points took 0.9 s of CPU instead of 0.09 s.
FAR_BANDWIDTHS = 2.0 ** 40


def _far_points(z, centre, sigma):
    """Mask of the points of ``z`` more than :data:`FAR_BANDWIDTHS` bandwidths from ``centre``
    (``None`` if there are none, or for the energy kernel)."""
    if sigma is None:
        return None
    if is_torch(z):
        offset = (z.detach() - (0.0 if centre is None else centre)).abs().amax(dim=1)
        far = ~(offset <= FAR_BANDWIDTHS * sigma)
        return far if bool(far.any()) else None
    with np.errstate(over="ignore", invalid="ignore"):
        offset = np.abs(z - (0.0 if centre is None else centre)).max(axis=1)
        far = ~(offset <= FAR_BANDWIDTHS * sigma)
    return far if far.any() else None


def _direct(x, y, kernel, sigma):
    r"""Kernel values between the rows of ``x`` and ``y`` from coordinate differences in the
    caller's units, divided by :math:`\sigma` before they are squared.

    Used for the pairs with a far point: a difference that overflows gives the kernel 0, a
    pair of equal points 1, whatever the size of the coordinates, and no frame is needed (a
    frame that fits a point at 1e200 beside data of size 1 made the data's squared
    coordinates underflow).
    """
    import torch

    numpy = not is_torch(x)
    if numpy:
        x, y = torch.from_numpy(x), torch.from_numpy(y)
    rows = max(1, TILE_ELEMENTS // max(1, y.shape[0] * y.shape[1]))
    parts = []
    with torch.no_grad() if numpy else contextlib.nullcontext():
        for start in range(0, x.shape[0], rows):
            diff = (x[start:start + rows, None, :] - y[None, :, :]) / sigma
            sq = (diff * diff).sum(dim=2)
            if kernel == "gaussian":
                parts.append(torch.exp(-0.5 * sq))
            else:  # the double where keeps the gradient at coinciding points 0, not NaN
                positive = sq > 0
                r = torch.where(positive, torch.where(positive, sq, 1.0).sqrt(), 0.0)
                parts.append(torch.exp(-r))
    k = torch.cat(parts) if parts else x.new_zeros((0, y.shape[0]))
    return k.numpy() if numpy else k


def _row_sums_with_far_points(x, wx, far_x, y, wy, far_y, kernel, sigma, centre):
    r"""``(K(x, x) w_x, K(x, y) w_y, K(y, y) w_y, K(y, x) w_x)`` when some points are far.

    The points within :data:`FAR_BANDWIDTHS` bandwidths of ``centre`` (the median of the
    points with mass) are summed in their own frame by the tiled sums, the pairs with a far
    point by :func:`_direct`.
    """
    n, m = x.shape[0], y.shape[0]
    if is_torch(x):
        import torch

        near_x = torch.ones(n, dtype=torch.bool, device=x.device) if far_x is None else ~far_x
        near_y = torch.ones(m, dtype=torch.bool, device=y.device) if far_y is None else ~far_y
        offsets = [(z[k].detach() - centre).abs() for z, k in ((x, near_x), (y, near_y))]
        reach = max((float(o.max()) for o in offsets if o.numel()), default=0.0)
    else:
        near_x = np.ones(n, dtype=bool) if far_x is None else ~far_x
        near_y = np.ones(m, dtype=bool) if far_y is None else ~far_y
        offsets = [np.abs(z[k] - centre) for z, k in ((x, near_x), (y, near_y))]
        reach = max((float(o.max()) for o in offsets if o.size), default=0.0)
    frame = Frame(centre=centre, scale=power_of_two_at_least(reach))
    local_sigma = sigma / frame.scale
    xn, yn = frame.local(x[near_x]), frame.local(y[near_y])
    wxn, wyn, wxf, wyf = wx[near_x], wy[near_y], wx[~near_x], wy[~near_y]
    xf, yf = x[~near_x], y[~near_y]

    def k(u, v):
        return _direct(u, v, kernel, sigma)

    rxx, ryy, rxy, cxy = (x.new_zeros(s) if is_torch(x) else np.zeros(s) for s in (n, m, n, m))
    rxx[near_x] = _symmetric_row_sums(xn, wxn, kernel, local_sigma) + k(x[near_x], xf) @ wxf
    ryy[near_y] = _symmetric_row_sums(yn, wyn, kernel, local_sigma) + k(y[near_y], yf) @ wyf
    rxx[~near_x], ryy[~near_y] = k(xf, x) @ wx, k(yf, y) @ wy
    if xn.shape[0] and yn.shape[0]:
        rn, cn = _cross_row_sums(xn, wxn, yn, wyn, kernel, local_sigma)
        rxy[near_x], cxy[near_y] = rn, cn
    rxy[near_x] = rxy[near_x] + k(x[near_x], yf) @ wyf
    cxy[near_y] = cxy[near_y] + k(y[near_y], xf) @ wxf
    rxy[~near_x], cxy[~near_y] = k(xf, y) @ wy, k(yf, x) @ wx
    return rxx, rxy, ryy, cxy


def _energy_frame(x, wx, y, wy):
    """``(frame, far_x, far_y)``: the frame of the points with mass, and masks of the points
    outside it (``None`` where there are none), of weight 0, kept for their weights' gradient."""
    if not is_torch(x):  # numpy samples keep no point of weight 0 (with_mass)
        return median_frame(x, wx, y, wy), None, None
    kx, ky = wx.detach() > 0, wy.detach() > 0
    frame = median_frame(x.detach()[kx], wx.detach()[kx], y.detach()[ky], wy.detach()[ky])
    far = (~((z.detach() - frame.centre).abs().amax(dim=1) <= frame.scale) for z in (x, y))
    return (frame, *(f if bool(f.any()) else None for f in far))


def _far_halves(z, centre):
    r"""``(u, t)``: :math:`h = z/2 - c/2` (no overflow) as ``u = h / t``, ``t`` a power of two
    per row at or above :math:`\max_k |h_k|`, so :math:`\tfrac12 \le \max_k |u_k| \le 1`."""
    import torch

    h = z / 2 - centre / 2
    _, exponent = torch.frexp(h.detach().abs().amax(dim=1, keepdim=True))
    t = torch.ldexp(torch.ones_like(h[:, :1]), exponent)
    return h / t, t


def _far_energy_kernel(z, y, yl, centre):
    r"""The energy kernel of far points ``z`` (weight 0) and near points ``y``, shifted by
    :math:`g(z) = \lVert z - c\rVert`: :math:`\lVert z - c\rVert - \lVert z - y\rVert`, in the
    frame's units (``yl`` are the frame's coordinates of ``y``).

    Written as :math:`(y - c)\cdot(2(z - c) - (y - c)) / (\lVert z - c\rVert + \lVert z - y\rVert)`
    and evaluated in units of the far point's own reach, it is bounded by
    :math:`\lVert y - c\rVert` and exact for a point at 1e300 beside data of size 1e-300, where
    each distance alone has lost the data's digits (or overflows the frame).
    """
    import torch

    u, t = _far_halves(z, centre)
    rows = max(1, TILE_ELEMENTS // max(1, y.shape[0] * y.shape[1]))
    parts = []
    for start in range(0, z.shape[0], rows):
        uu, tt = u[start:start + rows, None, :], t[start:start + rows, :, None]
        yt = (y[None, :, :] / 2 - centre / 2) / tt
        num = (yl[None, :, :] * (2 * uu - yt)).sum(dim=2)
        den = torch.linalg.vector_norm(uu, dim=2) + torch.linalg.vector_norm(uu - yt, dim=2)
        parts.append(num / den)
    return torch.cat(parts) if parts else y.new_zeros((0, y.shape[0]))


def _energy_row_sums_with_far_points(x, wx, far_x, y, wy, far_y, frame):
    r"""``(K x w_x, K x w_y, K y w_y, K y w_x)`` of the energy kernel when points of weight 0
    (kept for their weights' gradient) lie outside the frame of the points with mass.

    The pairs of near points are summed in the frame; a far point :math:`z` has the kernel
    shifted by :math:`g(z) = \lVert z - c\rVert` (:func:`_far_energy_kernel`), and far pairs
    0.  A term :math:`g(z) + g(y)` changes no biased :math:`\mathrm{MMD}^2` of probability
    measures, and the far pairs carry weight 0 twice: the value and its first derivatives
    are the energy kernel's, and the derivative in a far point's weight, the difference of
    two distances of size :math:`\lVert z\rVert`, is formed without their cancellation.
    """
    import torch

    n, m, dev = x.shape[0], y.shape[0], x.device
    far_x = torch.zeros(n, dtype=torch.bool, device=dev) if far_x is None else far_x
    far_y = torch.zeros(m, dtype=torch.bool, device=dev) if far_y is None else far_y
    near_x, near_y = ~far_x, ~far_y
    xn, yn = frame.local(x[near_x]), frame.local(y[near_y])
    rxx, ryy, rxy, cxy = (x.new_zeros(k) for k in (n, m, n, m))
    rxx[near_x] = _symmetric_row_sums(xn, wx[near_x], "energy", None)
    ryy[near_y] = _symmetric_row_sums(yn, wy[near_y], "energy", None)
    if xn.shape[0] and yn.shape[0]:
        rxy[near_x], cxy[near_y] = _cross_row_sums(xn, wx[near_x], yn, wy[near_y], "energy", None)

    def add(z, far, wz, sums_far, v, vl, near, wv, sums_near):
        if bool(far.any()):
            k = _far_energy_kernel(z[far], v[near], vl, frame.centre)
            sums_far[far] = sums_far[far] + k @ wv[near]
            sums_near[near] = sums_near[near] + k.T @ wz[far]

    add(x, far_x, wx, rxx, x, xn, near_x, wx, rxx)
    add(x, far_x, wx, rxy, y, yn, near_y, wy, cxy)
    add(y, far_y, wy, cxy, x, xn, near_x, wx, rxy)
    add(y, far_y, wy, ryy, y, yn, near_y, wy, ryy)
    return rxx, rxy, ryy, cxy


def _unbiased_far_terms(x, wx, far_x, y, wy, far_y, frame):
    r"""What the shift :math:`g` of :func:`_energy_row_sums_with_far_points` adds to the
    unbiased estimate: :math:`2\sum_z w_z g(z)\, \sum w^2 / (1 - \sum w^2)` for each sample,
    0 in value (the weights are 0), the part :math:`\propto \lVert z - c\rVert` of the
    derivative in a far point's weight (in the caller's units)."""
    import torch

    total = 0.0
    for z, w, far, name in ((x, wx, far_x, "a"), (y, wy, far_y, "b")):
        if far is None:
            continue
        u, t = _far_halves(z[far], frame.centre)
        g = 2 * t[:, 0] * torch.linalg.vector_norm(u, dim=1)
        if not bool(torch.isfinite(g.detach()).all()):
            raise ValueError(
                f"{name} gives weight 0 to points more than {torch.finfo(g.dtype).max:.2g} from "
                "the points with mass: the unbiased energy distance's derivative in their weights "
                f"(about their distance times sum {name}^2 / (1 - sum {name}^2)) overflows; "
                f"detach {name}, leave those points out or use estimator='biased'")
        squares = (w * w).sum()
        total = total + 2 * (w[far] * g).sum() * squares / (1 - squares)
    return total


def _tile_rows(columns: int, rows: int) -> int:
    """Rows per tile: at most TILE_ELEMENTS values, and at most 1/16 of the rows (the upper
    triangle of 16 x 16 tiles holds 53 % of the matrix)."""
    return max(1, min(TILE_ELEMENTS // max(1, columns), -(-rows // _MIN_TILES)))


def _symmetric_row_sums(x, w, kernel, sigma):
    r"""``K(x, x) @ w``, each kernel value computed once: row tiles against the columns from
    the tile's first row on (the upper triangle of tiles), the rest by symmetry."""
    n = x.shape[0]
    rows = _tile_rows(n, n)
    out = x.new_zeros(n) if is_torch(x) else np.zeros(n)
    for start in range(0, n, rows):
        stop = min(n, start + rows)
        k = _pairwise(x[start:stop], x[start:], kernel, sigma)
        out[start:stop] = out[start:stop] + k @ w[start:]
        if stop < n:
            out[stop:] = out[stop:] + k[:, stop - start:].T @ w[start:stop]
    return out


def _cross_row_sums(x, wx, y, wy, kernel, sigma):
    """``(K(x, y) @ wy, K(y, x) @ wx)`` from one pass over row tiles of ``K(x, y)``."""
    rows = _tile_rows(y.shape[0], x.shape[0])
    parts, cols = [], 0.0
    for start in range(0, x.shape[0], rows):
        k = _pairwise(x[start:start + rows], y, kernel, sigma)
        parts.append(k @ wy)
        cols = cols + k.T @ wx[start:start + rows]
    if is_torch(x):
        import torch

        return torch.cat(parts), cols
    return np.concatenate(parts), cols


def median_bandwidth(p, q) -> float:
    r"""The median heuristic: the median distance between points of the pooled sample.

    :math:`\sigma = \operatorname{median}\{\lVert z_i - z_j \rVert : i < j\}`
    over the pooled points (weights are not used), on at most 1000 of them
    taken at even strides, so the cost is bounded.

    Examples
    --------
    >>> median_bandwidth([[0.0], [1.0]], [[3.0]])
    2.0
    """
    from scipy.spatial.distance import pdist

    sp, sq = as_sample(p, "p"), as_sample(q, "q")
    check_same_dimension(sp, sq)
    z = np.vstack([_host(sp.points), _host(sq.points)])
    stride = max(1, -(-z.shape[0] // _MEDIAN_POINTS))
    z = z[::stride]
    if z.shape[0] < 2:
        return 0.0
    # In units of the typical offset from the median, so that a lone far point neither moves
    # the bulk's coordinates nor makes their squares underflow (its own distances may
    # overflow to inf: above the median either way).  In the bounding box's frame a point at
    # 1e20 beside data of size 1 gave 1.003 for a median distance of 1.673.
    centre = np.median(z, axis=0)
    with np.errstate(over="ignore", invalid="ignore"):
        offsets = np.abs(z - centre).max(axis=1)
        scale = power_of_two_at_least(float(np.median(offsets)) or float(offsets.max()))
        value = float(np.median(pdist((z - centre) / scale))) * scale
    if math.isfinite(value):
        return value
    ones = np.ones(z.shape[0])
    frame = median_frame(z, ones, z, ones)  # most points far apart: the farthest sets the unit
    return float(np.median(pdist(frame.local(z)))) * frame.scale


def _host(x):
    return x.detach().cpu().double().numpy() if is_torch(x) else np.asarray(x, dtype=np.float64)


def _check_bandwidth(bandwidth, kernel, p, q):
    if kernel == "energy":
        if bandwidth is not None:
            raise ValueError(f"bandwidth does not apply to the energy kernel; got {bandwidth!r}")
        return None
    if bandwidth is None or (isinstance(bandwidth, str) and bandwidth == "median"):
        sigma = median_bandwidth(p, q)
        if not sigma > 0:
            raise ValueError("bandwidth='median' needs two distinct points in p and q; "
                             "every pooled point is the same: pass a bandwidth")
        return sigma
    return check_positive(bandwidth, "bandwidth")


def _centred_sums(rxx, rxy, ryy, cxy, wx, wy, kdiag, estimator):
    """MMD^2 and its standard error from the four row-sum vectors."""
    sxx, syy, sxy = wx @ rxx, wy @ ryy, wx @ rxy
    if estimator == "unbiased":
        px, py = (wx * wx).sum(), (wy * wy).sum()
        sxx = (sxx - px * kdiag) / (1 - px)
        syy = (syy - py * kdiag) / (1 - py)
    return sxx + syy - 2 * sxy


def _standard_error(rxx, rxy, ryy, cxy, wx, wy) -> float:
    total = 0.0
    for r_self, r_cross, w in ((rxx, rxy, wx), (ryy, cxy, wy)):
        phi, w = 2 * (_host(r_self) - _host(r_cross)), _host(w)
        p2 = float((w * w).sum())
        if p2 < 1:
            total += float((w * w) @ (phi - w @ phi) ** 2) / (1 - p2)
    return math.sqrt(total)


def mmd(p, q, *, a=None, b=None, kernel: str = "gaussian", bandwidth=None,
        estimator: str = "unbiased") -> KernelDistanceResult:
    r"""Maximum mean discrepancy between two (weighted) samples.

    .. math::

        \mathrm{MMD}_k^2 = \sum_{ij} a_i a_j k(x_i, x_j) + \sum_{ij} b_i b_j k(y_i, y_j)
        - 2 \sum_{ij} a_i b_j k(x_i, y_j)

    (the biased V-statistic; the unbiased one leaves out :math:`i = j` in the
    first two sums).  See the module notes for kernels and conventions.

    Parameters
    ----------
    p, q : array-like, Tensor or Sample
        The samples, as for :func:`otlab.wasserstein`.
    a, b : array-like or Tensor, optional
        Weights of the points of ``p`` and ``q``.
    kernel : {"gaussian", "laplacian", "energy"}, default "gaussian"
    bandwidth : float or "median", optional
        :math:`\sigma > 0` of the Gaussian or Laplacian kernel; ``None`` or
        ``"median"`` uses :func:`median_bandwidth` (returned in the result).
        Not allowed with ``kernel="energy"``.
    estimator : {"unbiased", "biased"}, default "unbiased"

    Returns
    -------
    KernelDistanceResult
        ``squared``, ``value``, ``standard_error``, ``bandwidth``.

    Raises
    ------
    ValueError
        On invalid samples or weights, a non-positive or NaN ``bandwidth``,
        an unknown ``kernel`` or ``estimator``, or the unbiased estimator
        with a one-point sample.

    Examples
    --------
    >>> res = mmd([[0.0], [1.0]], [[0.0], [1.0]], bandwidth=1.0, estimator="biased")
    >>> float(res.squared), res.bandwidth
    (0.0, 1.0)
    >>> import math
    >>> res = mmd([[0.0]], [[2.0]], bandwidth=1.0, estimator="biased")  # 2 - 2 exp(-2)
    >>> math.isclose(float(res.squared), 2 - 2 * math.exp(-2))
    True
    """
    check_choice(kernel, "kernel", KERNELS)
    check_choice(estimator, "estimator", ("unbiased", "biased"))
    sp = as_sample(p, "p", weights=a, weights_name="a")
    sq = as_sample(q, "q", weights=b, weights_name="b")
    check_same_dimension(sp, sq)
    if estimator == "unbiased":
        for s, name in ((sp, "p"), (sq, "q")):
            if s.n < 2:
                raise ValueError(f"the unbiased estimator needs at least 2 points in {name}; "
                                 f"got {s.n} (use estimator='biased')")
    sigma = _check_bandwidth(bandwidth, kernel, sp, sq)
    data = common_backend(sp.points, sp.probabilities, sq.points, sq.probabilities)
    like = data[0]
    if is_torch(like):
        data = tuple(v.to(working_dtype(v.dtype)) for v in data)
    x, wx, y, wy = data
    # points of weight 0 are left out (they enter no sum; for tensors, unless the weights need
    # their gradient): a weight-0 point at 1e200 beside data of size 1 set the energy
    # kernel's frame, and the data's squared differences underflowed (energy distance 0)
    x, wx = with_mass(x, wx, tensors=True)
    y, wy = with_mass(y, wy, tensors=True)
    # Centred on the median of the points with mass, not on the bounding box's midpoint: a
    # point at 1e8 beside data of size 1 left the Gaussian MMD^2 24 % off (the squared
    # distances |x|^2 + |y|^2 - 2 x.y of points near -1/2 in the frame cancel).
    if kernel == "energy":
        # in the frame of the points with mass: points of weight 0 kept for their weights'
        # gradient set it before, and one at 1e300 beside data of size 1 left the data's
        # distances no digits (energy distance 0 for 1.26)
        frame, far_x, far_y = _energy_frame(x, wx, y, wy)
    else:
        frame = median_frame(x, wx, y, wy)
        far_x, far_y = (_far_points(z, frame.centre, sigma) for z in (x, y))
    if far_x is None and far_y is None:
        x, y = frame.local(x), frame.local(y)
        local_sigma = None if sigma is None else sigma / frame.scale
        rxx = _symmetric_row_sums(x, wx, kernel, local_sigma)
        ryy = _symmetric_row_sums(y, wy, kernel, local_sigma)
        rxy, cxy = _cross_row_sums(x, wx, y, wy, kernel, local_sigma)
    elif kernel == "energy":
        rxx, rxy, ryy, cxy = _energy_row_sums_with_far_points(x, wx, far_x, y, wy, far_y, frame)
    else:
        rxx, rxy, ryy, cxy = _row_sums_with_far_points(x, wx, far_x, y, wy, far_y, kernel, sigma,
                                                       frame.centre)
    kdiag = 0.0 if kernel == "energy" else 1.0
    squared = _centred_sums(rxx, rxy, ryy, cxy, wx, wy, kdiag, estimator)
    se = _standard_error(rxx, rxy, ryy, cxy, wx, wy)
    unit = frame.scale if kernel == "energy" else 1.0
    squared = squared * unit
    if kernel == "energy" and estimator == "unbiased" and (far_x is not None or far_y is not None):
        squared = squared - _unbiased_far_terms(x, wx, far_x, y, wy, far_y, frame)
    # gradient 0 where the squared value is 0 (the sqrt's infinite slope gave NaN)
    root = kth_root(squared.clamp(min=0), 2) if is_torch(squared) else math.sqrt(max(float(squared), 0))
    return KernelDistanceResult(squared=result_like(squared, like), value=result_like(root, like),
                                standard_error=se * unit, bandwidth=sigma, kernel=kernel,
                                estimator=estimator)


def energy_distance(p, q, *, a=None, b=None, estimator: str = "biased") -> KernelDistanceResult:
    r"""The energy distance :math:`D` between two (weighted) samples.

    .. math::

        D^2 = 2 \sum_{ij} a_i b_j \lVert x_i - y_j\rVert - \sum_{ij} a_i a_j \lVert x_i - x_j\rVert
        - \sum_{ij} b_i b_j \lVert y_i - y_j\rVert

    :func:`mmd` with ``kernel="energy"``; by default the biased (V-statistic)
    value, which is :math:`D^2` of the empirical measures and equals
    :func:`scipy.stats.energy_distance` squared.  In 1-D,
    :math:`D^2 = 2 \int (F_\mu - F_\nu)^2\, dx`.

    Examples
    --------
    >>> float(energy_distance([0.0], [1.0]).squared)  # 2 |0 - 1|
    2.0
    """
    return mmd(p, q, a=a, b=b, kernel="energy", estimator=estimator)


def gaussian_mixture_mmd2(weights_p, means_p, covs_p, weights_q, means_q, covs_q, *,
                          bandwidth: float) -> float:
    r"""Closed-form Gaussian-kernel :math:`\mathrm{MMD}^2` between two Gaussian mixtures.

    For Gaussians :math:`N(m_1, \Sigma_1)`, :math:`N(m_2, \Sigma_2)` and the
    kernel :math:`\exp(-\lVert x-y\rVert^2 / 2\sigma^2)`,

    .. math::

        \mathbb E\, k(X, Y) = \det(I + (\Sigma_1 + \Sigma_2)/\sigma^2)^{-1/2}
        \exp\!\big(-\tfrac12 \Delta^\top (\sigma^2 I + \Sigma_1 + \Sigma_2)^{-1} \Delta\big),
        \quad \Delta = m_1 - m_2,

    and the mixtures' expectations are the weighted sums over components.

    Parameters
    ----------
    weights_p, weights_q : array-like, shapes (K,) and (L,)
        Mixture weights (normalised here).
    means_p, means_q : array-like, shapes (K, d) and (L, d)
    covs_p, covs_q : array-like, shapes (K, d, d) and (L, d, d)
    bandwidth : float
        :math:`\sigma > 0`.

    Examples
    --------
    >>> import numpy as np
    >>> value = gaussian_mixture_mmd2([1], [[0.0]], [[[0.0]]], [1], [[2.0]], [[[0.0]]], bandwidth=1.0)
    >>> bool(np.isclose(value, 2 - 2 * np.exp(-2)))  # two Diracs 2 apart
    True
    """
    sigma = check_positive(bandwidth, "bandwidth")

    def cross(wa, ma, ca, wb, mb, cb):
        total = 0.0
        dim = ma.shape[1]
        for i in range(len(wa)):
            for j in range(len(wb)):
                s = sigma ** 2 * np.eye(dim) + ca[i] + cb[j]
                delta = ma[i] - mb[j]
                det = np.linalg.det(s / sigma ** 2)
                total += wa[i] * wb[j] * np.exp(-0.5 * delta @ np.linalg.solve(s, delta)) / np.sqrt(det)
        return total

    parts = []
    for w, m, c in ((weights_p, means_p, covs_p), (weights_q, means_q, covs_q)):
        w = np.asarray(w, dtype=np.float64)
        parts.append((w / w.sum(), np.atleast_2d(np.asarray(m, dtype=np.float64)),
                      np.asarray(c, dtype=np.float64)))
    (wp, mp, cp), (wq, mq, cq) = parts
    return float(cross(wp, mp, cp, wp, mp, cp) + cross(wq, mq, cq, wq, mq, cq)
                 - 2 * cross(wp, mp, cp, wq, mq, cq))
