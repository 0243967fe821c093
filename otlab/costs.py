r"""Ground costs: the one place where distances between points are computed.

otlab's ground metric is Euclidean: the cost of order ``k`` between points
``x`` and ``y`` is :math:`c_k(x, y) = \lVert x - y \rVert_2^k`, so that
:math:`W_k^k = \min_P \langle P, C_k \rangle`.  (POT's ``ot.dist`` defaults
to the *squared* Euclidean distance; otlab never does.)

Every solver — the exact LP, the 1-D closed form, the dense, tiled and Triton
Sinkhorn back-ends and the default ε — computes its costs the same way, so that
they are exact where the data are:

* **in a common frame** (:func:`otlab.frames.common_frame`): both clouds are translated by
  a common centre and divided by a common power of two ``s`` (an exact
  operation), so coordinates are of order 1 whatever their offset (1e8) or
  magnitude (1e-300, 1e300).  Squares then neither underflow nor overflow, and
  results are scaled back by ``s`` (or :math:`s^k` for costs) at the end:
  :math:`W(cx, cy) = |c|\, W(x, y)` holds to round-off.
* **by differences** (:func:`distances`): :math:`\lVert x_i - y_j\rVert` is
  formed from the coordinate differences, never as
  :math:`\sqrt{|x|^2 + |y|^2 - 2 x \cdot y}`, whose cancellation loses every
  digit of the distance between nearby points far from the origin (points
  1e-5 apart near 1e4 get 0).
* **moments about the mean** (:func:`mean_squared_distance`): the mean
  squared distance between two samples is ``Var(x) + Var(y) + |mean x - mean y|^2``,
  with variances about each sample's own mean.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ._backend import is_torch, working_dtype
from ._validation import as_float_array
# The frames moved to otlab.frames; importable from here as before.
from .frames import Frame, common_frame, power_of_two_at_least, scale_by_power  # noqa: F401

__all__ = ["cost_matrix", "pairwise_cost", "distances", "power_cost",
           "PowerCost", "power_sum", "power_mean", "kth_root", "mean_squared_distance"]


def distances(x, y):
    r"""Euclidean distances :math:`D_{ij} = \lVert x_i - y_j\rVert_2` formed from differences.

    numpy input goes to SciPy's ``cdist``, tensors to ``torch.cdist`` with
    ``compute_mode="donot_use_mm_for_euclid_dist"``: both sum squared
    coordinate differences, so each distance is exact to a few ulps of itself;
    in one dimension the distance is the absolute difference itself.  Call it
    on coordinates of order 1 (see :func:`common_frame`): squared differences
    below 1e-308 underflow, so in two or more dimensions distances below 1e-154
    times the cloud's extent come out as 0.
    """
    if is_torch(x):
        import torch

        dtype = working_dtype(x.dtype)
        x, y = x.to(dtype), y.to(dtype)
        if x.shape[1] == 1:
            return (x - y.T).abs()
        return torch.cdist(x, y, p=2.0, compute_mode="donot_use_mm_for_euclid_dist")
    from scipy.spatial.distance import cdist

    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    return np.abs(x - y.T) if x.shape[1] == 1 else cdist(x, y, "euclidean")


def power_cost(dist, order: float):
    r""":math:`D^k`, in place for ``k != 1`` (numpy or torch)."""
    if order == 1:
        return dist
    if is_torch(dist):
        return dist.square_() if order == 2 else dist.pow_(order)
    return np.power(dist, order, out=dist)


def cost_matrix(x, y, *, order: float = 1.0):
    r"""Dense matrix of Euclidean ground costs raised to ``order``.

    .. math:: M_{ij} = \lVert x_i - y_j \rVert_2^{k}

    Distances are formed from coordinate differences in a power-of-two frame
    (see the module notes), so they are exact to round-off for points at any
    offset and any scale; :math:`M` itself over- or underflows only where the
    true costs lie outside the float range.

    Parameters
    ----------
    x : ndarray or Tensor, shape (n, d)
    y : ndarray or Tensor, shape (m, d)
    order : float, default 1
        The exponent ``k``; ``order=2`` gives the squared distance.

    Returns
    -------
    M : ndarray or Tensor, shape (n, m)
        Same kind, dtype and device as ``x`` (half-precision tensors are
        computed in float32 and rounded once at the end).

    Examples
    --------
    >>> import numpy as np
    >>> cost_matrix(np.array([[0.0, 0.0]]), np.array([[3.0, 4.0]]))
    array([[5.]])
    >>> cost_matrix(np.array([[0.0, 0.0]]), np.array([[3.0, 4.0]]), order=2)
    array([[25.]])
    >>> cost_matrix(np.array([[1e-160, 0.0]]), np.array([[4e-160, 4e-160]]))  # no underflow
    array([[5.e-160]])
    """
    x, y = as_float_array(x, "x"), as_float_array(y, "y")  # real numbers only
    if not is_torch(x):
        x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    frame = common_frame(x, y, centre=False)
    dist = distances(frame.local(x), frame.local(y)) * frame.scale
    out = power_cost(dist, order)
    return out.to(x.dtype) if is_torch(x) else out


def mean_squared_distance(x, a, y, b) -> float:
    r""":math:`\sum_{ij} a_i b_j \lVert x_i - y_j\rVert^2` from centred moments, in :math:`O((n+m)d)`.

    .. math::

        m_2 = \operatorname{Var}_a(x) + \operatorname{Var}_b(y)
        + \lVert \bar x - \bar y \rVert^2,
        \qquad \operatorname{Var}_a(x) = \sum_i a_i \lVert x_i - \bar x\rVert^2 ,

    with the variances about each sample's own mean (two passes), so a common
    offset of the data does not cancel the digits of the spread.  ``a`` and
    ``b`` sum to 1; call it on coordinates of order 1 (:func:`common_frame`).

    Examples
    --------
    >>> import numpy as np
    >>> w = np.full(2, 0.5)
    >>> mean_squared_distance(np.array([[1e8], [1e8 + 2.0]]), w, np.array([[1e8], [1e8]]), w)
    2.0
    """
    mx, my = a @ x, b @ y
    var_x = a @ ((x - mx) ** 2).sum(1)
    var_y = b @ ((y - my) ** 2).sum(1)
    return float(var_x + var_y + ((mx - my) ** 2).sum())


def power_sum(weights, dist, order: float):
    r"""``(total, u)`` with :math:`\sum_t w_t d_t^k = u^k\, \text{total}`, both in range.

    :math:`u` is a power of two at least the largest distance carrying mass,
    so ``total`` lies in :math:`[w_{t^*} 2^{-k}, \sum_t w_t]` for ``order=500``
    as for ``order=1``; :func:`scale_by_power` turns it into
    :math:`\sum_t w_t d_t^k` where that is representable.  Differentiable for
    tensors (``u`` is a constant).

    Examples
    --------
    >>> import numpy as np
    >>> power_sum(np.array([0.5, 0.5]), np.array([3.0, 1.0]), 2)  # (9 + 1) / 2 = 4**2 * 0.3125
    (0.3125, 4.0)
    """
    if is_torch(dist):
        with_mass = dist.detach()[weights.detach() > 0]
        top = float(with_mass.abs().max()) if with_mass.numel() else 0.0
    else:
        with_mass = np.abs(dist[weights > 0])
        top = float(with_mass.max()) if with_mass.size else 0.0
    unit = power_of_two_at_least(top)
    scaled = abs(dist / unit)
    # Terms of weight 0 are 0: a weight-0 point at -1e300 in the 1-D coupling gave a segment
    # of length 0 whose scaled distance, squared, overflowed, and 0 * inf made W_2 nan (numpy)
    # or 0.0 (tensors; measured).  Masked before the power, so no inf reaches the gradient.
    if is_torch(scaled):
        import torch

        scaled = torch.where(weights > 0, scaled, torch.zeros_like(scaled))
    else:
        scaled = np.where(weights > 0, scaled, 0.0)
    total = (weights * (scaled if order == 1 else scaled ** order)).sum()
    return (total if is_torch(total) else float(total)), unit


def power_mean(weights, dist, order: float):
    r""":math:`\big(\sum_t w_t\, d_t^k\big)^{1/k}` without under- or overflow, for any order.

    :math:`u \cdot \text{total}^{1/k}` with ``total, u`` from :func:`power_sum`:
    finite for ``order=500`` as for ``order=1``.  Differentiable for tensors.

    Examples
    --------
    >>> import numpy as np
    >>> float(power_mean(np.array([0.5, 0.5]), np.array([10.0, 10.0]), 500))  # 10**500 overflows
    10.0
    """
    total, unit = power_sum(weights, dist, order)
    return unit * kth_root(total, order)


def kth_root(total, order: float):
    r""":math:`t^{1/k}` for :math:`t \ge 0`, with gradient 0 at :math:`t = 0` (tensors).

    A distance :math:`(W^k)^{1/k}` is at its minimum where :math:`W^k = 0`, and there
    the gradient of :math:`W^k` is 0 too; the root's infinite slope made the product
    NaN (the 1-D :math:`W_2` of a sample and itself had NaN gradients).  Like
    ``torch.linalg.norm`` at 0, the gradient there is taken to be 0.

    >>> import torch
    >>> t = torch.zeros((), dtype=torch.float64, requires_grad=True)
    >>> kth_root(t, 2).backward(); t.grad
    tensor(0., dtype=torch.float64)
    """
    if order == 1:
        return total
    if is_torch(total):
        import torch

        positive = total > 0
        safe = torch.where(positive, total, torch.ones_like(total))
        return torch.where(positive, safe ** (1.0 / order), torch.zeros_like(total))
    return total ** (1.0 / order)


@dataclass(frozen=True)
class PowerCost:
    r"""The ground cost on numpy arrays, in a length unit and clipped.

    .. math:: c(x, y) = \min\big((\lVert x - y\rVert / u)^k,\ \text{clip}\big)

    The one evaluation of costs between numpy point sets (dense tiles, listed
    pairs, matched rows) for the exact solvers: squared distances from
    coordinate differences (SciPy's ``cdist`` or an ``einsum`` of the
    differences), then the power :math:`k/2`, skipped for :math:`k = 2`.
    Call it on coordinates of order 1 (:func:`common_frame`).

    Attributes
    ----------
    order : float
        The exponent ``k``.
    unit : float, default 1
        Length unit :math:`u` of the costs: large orders use one near the
        distances that matter, so that their k-th powers stay in range.
    clip : float, default inf
        Costs above ``clip`` count as ``clip``; a finite clip keeps the
        k-th powers of long distances finite, and a transport plan that does
        not use a clipped pair is optimal for the unclipped costs too.

    Examples
    --------
    >>> import numpy as np
    >>> PowerCost(2).tile(np.array([[0.0, 0.0]]), np.array([[3.0, 4.0], [1.0, 0.0]]))
    array([[25.,  1.]])
    >>> PowerCost(1, unit=0.5, clip=4.0).tile(np.array([[0.0]]), np.array([[1.0], [3.0]]))
    array([[2., 4.]])
    """

    order: float
    unit: float = 1.0
    clip: float = math.inf

    def of_squared(self, sq: np.ndarray) -> np.ndarray:
        """Costs from squared distances (a float64 array, overwritten)."""
        if self.unit == 1.0 and self.order in (1.0, 2.0) and self.clip == math.inf:
            return np.sqrt(sq, out=sq) if self.order == 1.0 else sq  # the fast common case
        with np.errstate(over="ignore", under="ignore"):  # beyond the range: inf, then clip
            if self.unit != 1.0:
                sq /= self.unit
                sq /= self.unit  # not by unit**2, which may underflow
            out = np.power(sq, self.order / 2, out=sq) if self.order != 2.0 else sq
            return np.minimum(out, self.clip, out=out) if self.clip < math.inf else out

    def tile(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Dense block of costs between the rows of ``x`` (n, d) and ``y`` (m, d)."""
        from scipy.spatial.distance import cdist

        return self.of_squared(cdist(x, y, "sqeuclidean"))

    def matched(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Costs between matched rows ``x[t]`` and ``y[t]``."""
        diff = x - y
        return self.of_squared(np.einsum("ij,ij->i", diff, diff))

    def pairs(self, x: np.ndarray, y: np.ndarray, rows: np.ndarray, cols: np.ndarray, *,
              chunk: int = 1 << 20) -> np.ndarray:
        """Costs of the listed pairs ``(x[rows[t]], y[cols[t]])``, a chunk at a time."""
        out = np.empty(rows.shape[0])
        for start in range(0, rows.shape[0], chunk):
            stop = start + chunk
            out[start:stop] = self.matched(x[rows[start:stop]], y[cols[start:stop]])
        return out


def pairwise_cost(x, y, *, order: float = 1.0):
    r"""Costs :math:`\lVert x_i - y_i \rVert^k` between matched rows of ``x`` and ``y``.

    Differentiable for torch inputs, with gradient 0 where ``x_i = y_i``
    (where the norm itself is not differentiable).  Call it on coordinates of
    order 1 (:func:`common_frame`) when they may be extreme.

    Examples
    --------
    >>> import numpy as np
    >>> pairwise_cost(np.array([[0.0, 0.0], [1.0, 1.0]]), np.array([[3.0, 4.0], [1.0, 1.0]]))
    array([5., 0.])
    """
    if not (is_torch(x) or is_torch(y)):
        return PowerCost(order).matched(x, y)
    import torch

    sq = (x - y).square().sum(dim=1)
    positive = sq > 0
    safe = torch.where(positive, sq, torch.ones_like(sq))
    return torch.where(positive, safe.pow(order / 2), torch.zeros_like(sq))


#: A point of weight 0 is left out of the LP's frame (and the Sinkhorn solve of
#: otlab.entropic.sinkhorn_samples) when its offset from the mass's centre
#: (coordinate-wise median of the points of positive weight) exceeds this many times the
#: largest offset of a point of positive weight.  Nearer ones stay in the frame (enlarging it
#: at most this much, like any spread of the data) and get their potentials from the pruned
#: c-transform.  Kept in the frame, weight-0 points farther out cost accuracy long before
#: 1e200: at 1e5 beside 1-D data of size 1 (sparse solver, W_2) W_2^2 was 1.9e-4 off and not
#: certified, and 100 of them at 1e3 beside 5000 points in 2-D left the solve uncertified
#: (measured); with this factor, 300 problems with weight-0 points at 4 to 1e5 (1 to 400
#: points, d = 1 to 3, both solvers, W_1 and W_2) were all certified, within 2e-15 relative.
FAR_FACTOR = 16.0


def far_zero_weight(x, a, y, b) -> tuple[np.ndarray, np.ndarray]:
    """Masks of the points of weight 0 beyond :data:`FAR_FACTOR` times the mass's reach.

    ``x`` (n, d) and ``y`` (m, d) are validated finite points, ``a`` and ``b``
    their non-negative weights, each with a positive entry.  When all the mass
    sits at one point every point of weight 0 elsewhere is far.

    >>> x = np.array([[0.0], [1.0], [1e300]])
    >>> far_zero_weight(x, np.array([0.5, 0.5, 0.0]), np.array([[2.0]]), np.ones(1))
    (array([False, False,  True]), array([False]))
    """
    if bool((a > 0).all() and (b > 0).all()):  # the common case: nothing to look for
        return np.zeros(a.shape[0], bool), np.zeros(b.shape[0], bool)
    mass = np.concatenate([x[a > 0], y[b > 0]])
    centre = np.median(mass, axis=0)
    with np.errstate(over="ignore", invalid="ignore"):
        limit = FAR_FACTOR * float(np.abs(mass - centre).max())
        far_x = ~(np.abs(x - centre).max(1) <= limit)
        far_y = ~(np.abs(y - centre).max(1) <= limit)
    return far_x & (a == 0), far_y & (b == 0)


def data_costs(p: np.ndarray, q: np.ndarray, order: float) -> np.ndarray:
    r""":math:`\lVert p_i - q_j \rVert^k` in data units, shape (r, m), from a scaled norm.

    Each difference is divided by its largest coordinate before squaring, so
    distances up to the float range are exact to round-off; their k-th powers
    beyond it are ``inf`` (the true value is larger than any float), as are
    differences that overflow.

    >>> data_costs(np.array([[1e300, 0.0]]), np.array([[0.0, 0.0], [-1e300, 0.0]]), 1)
    array([[1.e+300, 2.e+300]])
    """
    diff = p[:, None, :] - q[None, :, :]
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        top = np.abs(diff).max(2)
        unit = np.where((top > 0) & np.isfinite(top), top, 1.0)
        dist = top * np.sqrt(((diff / unit[..., None]) ** 2).sum(2))
        dist = np.where(np.isfinite(top), dist, np.inf)
        return dist if order == 1 else dist**order
