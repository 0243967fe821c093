r"""The exact Kantorovich critic: LP dual potentials extended by the c-transform.

For :math:`W_1` the Kantorovich–Rubinstein duality reads

.. math::

    W_1(\mu, \nu) = \sup_{\operatorname{Lip}(\varphi) \le 1}
    \mathbb E_\mu \varphi - \mathbb E_\nu \varphi .

Between two discrete samples the supremum is attained, and an optimal
:math:`\varphi` is built from the dual potentials :math:`(f, g)` of the LP
(:func:`otlab.emd_points`, with :math:`f_i + g_j \le \lVert x_i - y_j\rVert`
on every pair) by the c-transform

.. math:: \varphi(z) = \min_j \big(\lVert z - y_j \rVert - g_j\big).

It is a minimum of 1-Lipschitz functions, hence 1-Lipschitz on the whole
space; :math:`\varphi(x_i) \ge f_i` (dual feasibility) and
:math:`\varphi(y_j) \le -g_j` (take the j-th term), so
:math:`\langle a, \varphi(x)\rangle - \langle b, \varphi(y)\rangle \ge
\langle a, f\rangle + \langle b, g\rangle = W_1`, and the reverse inequality
is Kantorovich–Rubinstein: the gap equals :math:`W_1` exactly.

Neither the LP nor the critic forms the :math:`n \times m` cost matrix: the
LP is solved densely or by the sparse solver as size and memory allow, and
:math:`\varphi` is evaluated by the pruned c-transform of
:mod:`otlab.exact.duals`, so the critic of two samples of :math:`10^5` points
costs memory of order :math:`n + m`.
"""

from __future__ import annotations

import numpy as np

from .._backend import is_torch, to_numpy
from ..costs import PowerCost, pairwise_cost
from ..exact import emd_points
from ..exact.duals import local_c_transform
from ..frames import power_of_two_at_least
from ..sample import Sample, sample_pair, with_mass
from ._function import query_points

__all__ = ["ExactCritic", "exact_critic"]

#: Rows farther out than this many frame units are evaluated in units of their own reach
#: (:meth:`ExactCritic._units`): the squared distances stay below the float range.
_FAR = 2.0**256


class ExactCritic:
    r"""The optimal 1-Lipschitz critic between two samples (see :func:`exact_critic`).

    Calling it evaluates :math:`\varphi(z) = \min_j (\lVert z - y_j\rVert - g_j)`,
    computed as :math:`s \min_j (\lVert (z - c)/s - v_j\rVert - g_j / s)` on
    the points :math:`v_j = (y_j - c)/s` of the LP's frame (centre :math:`c`,
    power-of-two scale :math:`s`, shared by both samples), so offsets far
    larger than the data's spread and extreme scales lose no precision.  Only
    the blocks of anchors that a bound on their k-d boxes cannot rule out are
    visited (:func:`otlab.exact.c_transform`), never all :math:`k \times m`
    pairs at once.

    Attributes
    ----------
    w1 : float
        The exact :math:`W_1` between the samples (the LP optimum).
    gap : float
        :math:`\sum_i a_i \varphi(x_i) - \sum_j b_j \varphi(y_j)`, equal to
        ``w1`` up to round-off.
    potentials : tuple of ndarray
        ``(phi(x), phi(y))``: the critic's values on both samples.  They are
        optimal dual potentials for the KR form: ``(phi(x), -phi(y))`` is
        feasible and optimal for the LP dual.
    lp : PointsEMDResult
        The LP solution of :func:`otlab.emd_points`, in data units: sparse
        plan, potentials ``f, g``, certificate; its ``cost`` is ``w1``.
    center, scale : ndarray, float
        :math:`c` and :math:`s`.
    anchors, offsets : ndarray
        The points :math:`y_j` and the values :math:`g_j` of the c-transform,
        in the data's units.
    """

    def __init__(self, lp, x, y):
        self.lp = lp
        self.center = np.asarray(lp.frame.centre, dtype=np.float64)
        self.scale = float(lp.frame.scale)
        self.anchors, self.offsets = y, lp.g
        self._anchors = lp.frame.local(y)
        self._offsets = lp.unit_g * lp.unit  # g / s: the LP's potentials are in units of s * unit
        self.w1 = float(lp.distance)
        phi_x, phi_y = self(x), self(y)
        self.potentials = (phi_x, phi_y)
        self.gap = float(lp.a @ phi_x - lp.b @ phi_y)

    def _local(self, u: np.ndarray, *, argmin: bool = False):
        return local_c_transform(u, self._anchors, self._offsets, PowerCost(1), argmin=argmin)

    def _units(self, offsets: np.ndarray) -> np.ndarray:
        """The unit of each row: the frame's scale, or a power of two at or above a far row's reach.

        The squared distances of the c-transform overflow beyond about
        :math:`10^{154}` frame units; a row farther out than :data:`_FAR` frame
        units is evaluated in units of its own reach, where the anchors shrink
        by an exact power of two.
        """
        with np.errstate(over="ignore", invalid="ignore"):
            reach = np.abs(offsets).max(axis=1)
        units = np.full(offsets.shape[0], self.scale)
        far = ~(reach <= self.scale * _FAR)
        units[far] = [power_of_two_at_least(r) for r in reach[far]]
        return units

    def _evaluate(self, offsets: np.ndarray, units: np.ndarray, *, argmin: bool = False):
        """``(values in frame units of each row, argmin index)`` of the rows ``offsets = z - c``."""
        values = np.empty(offsets.shape[0])
        index = np.empty(offsets.shape[0], dtype=np.int64)
        for unit in np.unique(units):
            rows = units == unit
            ratio = self.scale / unit  # a power of two: the anchors shrink exactly
            found = local_c_transform(offsets[rows] / unit, self._anchors * ratio,
                                      self._offsets * ratio, PowerCost(1), argmin=argmin)
            values[rows], index[rows] = found if argmin else (found, 0)
        return values, index

    def __call__(self, z):
        r"""Evaluate the critic at points ``z`` of shape (k, d) or (k,) for d = 1.

        numpy (or list) in, numpy out of shape (k,); a torch tensor in, a
        differentiable tensor out on the same device and dtype (float64 for an
        integer tensor; its gradient
        is that of the active term :math:`\lVert z - y_{j^*}\rVert`, a unit
        vector).  Points far beyond the samples (up to the float range) are
        evaluated in units of their own distance, so their values keep the
        relative precision of that distance.
        """
        z = query_points(z)
        if z.shape[1] != self._anchors.shape[1]:
            raise ValueError(
                f"z must have dimension {self._anchors.shape[1]}; got d={z.shape[1]}"
            )
        with np.errstate(over="ignore"):
            offsets = to_numpy(z).astype(np.float64) - self.center
        units = self._units(offsets)
        if not is_torch(z):
            return self._evaluate(offsets, units)[0] * units
        import torch

        _, nearest = self._evaluate(offsets, units, argmin=True)
        f64, device = torch.float64, z.device
        centre = torch.as_tensor(self.center, dtype=f64, device=device)
        unit = torch.as_tensor(units, dtype=f64, device=device)
        ratio = torch.as_tensor(self.scale / units, dtype=f64, device=device)
        anchors = torch.as_tensor(self._anchors[nearest], dtype=f64, device=device)
        offsets = torch.as_tensor(self._offsets[nearest], dtype=f64, device=device)
        out = (pairwise_cost((z.to(f64) - centre) / unit[:, None], anchors * ratio[:, None])
               - offsets * ratio)
        return (out * unit).to(z.dtype)

    def __repr__(self) -> str:
        return f"ExactCritic(w1={self.w1:.6g}, n_anchors={self._anchors.shape[0]})"


def exact_critic(x, y, *, a=None, b=None, max_iter: int | None = None,
                 solver: str = "auto") -> ExactCritic:
    r"""The optimal Kantorovich critic for :math:`W_1` between two samples.

    Solves the W_1 linear programme with :func:`otlab.emd_points` (dense for
    small samples, the certified sparse solver for large ones, in a frame
    where offsets and scales cost no accuracy) and extends the dual potential
    to the whole space by the c-transform

    .. math:: \varphi(z) = \min_j \big(\lVert z - y_j\rVert - g_j\big),

    which is 1-Lipschitz everywhere and satisfies
    :math:`\mathbb E_x \varphi - \mathbb E_y \varphi = W_1(x, y)` exactly.

    Parameters
    ----------
    x, y : array-like, Tensor or Sample
        Samples as for :func:`otlab.wasserstein`: arrays of shape (n, d) or
        (n,), numpy or torch, or :class:`otlab.Sample` objects with weights.
    a, b : array-like or Tensor, optional
        Weights of ``x`` and ``y`` (non-negative, normalised to sum 1), as for
        :func:`otlab.wasserstein`; uniform when omitted.  Points of weight 0
        are left out of the LP, its frame and the anchors (they carry no
        mass, but a far one would set the frame: at 1e100 beside data of
        size 1 the critic was 0 everywhere); ``potentials``, ``lp`` and
        ``anchors`` hold the points with mass, and the critic is defined
        everywhere.
    max_iter : int, optional
        Network-simplex pivot cap per solve (see :func:`otlab.emd_points`).
    solver : {"auto", "dense", "sparse"}, default "auto"
        As for :func:`otlab.emd_points`.

    Returns
    -------
    ExactCritic
        Callable on numpy arrays and torch tensors (differentiable, any
        device), with ``w1``, ``gap``, ``potentials`` and the LP result ``lp``.

    Raises
    ------
    ValueError
        On invalid samples or weights, or samples of different dimensions.

    References
    ----------
    C. Villani (2009). Optimal Transport: Old and New, Thm. 5.10 and §5.4
    (c-transforms, Kantorovich–Rubinstein).
    G. Peyré, M. Cuturi (2019). Computational Optimal Transport, §6.1.

    Examples
    --------
    Two Diracs two units apart: W_1 = 2 and the critic has slope one.

    >>> critic = exact_critic([[0.0]], [[2.0]])
    >>> critic.w1, critic.gap
    (2.0, 2.0)
    >>> critic([[0.0], [1.0], [2.0]]) - critic([[2.0]])
    array([2., 1., 0.])
    """
    sx, sy = sample_pair(x, y, a, b, names=("x", "y"))
    x, a = with_mass(to_numpy(sx.points), to_numpy(sx.probabilities))
    y, b = with_mass(to_numpy(sy.points), to_numpy(sy.probabilities))
    lp = emd_points(Sample(x, a), Sample(y, b), order=1, solver=solver, max_iter=max_iter)
    return ExactCritic(lp, x, y)
