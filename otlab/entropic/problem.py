r"""The entropic problem on point clouds: two samples in one frame, their costs, the default ε.

The cost is :math:`c(x, y) = \lVert x - y\rVert_2^k` (``order = k``).  Both
clouds are first moved to a common frame (:func:`otlab.frames.common_frame`:
translated by a common centre, divided by a power of two ``s``), where the
back-end — a dense matrix, tiles recomputed on the fly, or a fused Triton
kernel (:mod:`otlab.entropic.backend`) — forms the costs from coordinate
differences.  The solver (:mod:`otlab.entropic.solver`) runs there, with
:math:`\varepsilon / s^k`, and costs, potentials and ε are scaled back by
:math:`s^k` (and :math:`W_k` by :math:`s`) at the end, so every result is
exactly translation-invariant and scale-equivariant up to round-off.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch

from .._backend import any_torch, working_dtype
from .._validation import check_order, check_positive
from ..costs import mean_squared_distance
from ..frames import Frame, common_frame, scale_by_power
from ..sample import Sample, sample_pair, with_mass
from .backend import choose_backend, make_operator
from .result import Output

__all__ = ["PointProblem", "default_reg", "REG_FRACTION", "check_massless_reach"]

#: Default ε as a fraction of the k-th power of the root-mean-square distance.
REG_FRACTION = 0.004


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
    def build(cls, sp: Sample, sq: Sample, order: float, *,
              massless: str = "keep") -> "PointProblem":
        """The problem of two samples of one dimension (from :func:`otlab.sample.sample_pair`).

        ``massless="drop"`` leaves the points of weight 0 out (for a value alone: they
        change no transport cost, but where they lie sets the frame and the cost scale)
        unless their weights require a gradient, whose entries at those points are their
        potentials; ``"keep"`` keeps every point (a plan or potentials of every point).
        """
        parts = (sp.points, sp.probabilities, sq.points, sq.probabilities)
        ref = next((v for v in parts if isinstance(v, torch.Tensor)), None)
        if ref is not None:
            dtype, device = ref.dtype, ref.device
        else:
            dtype = torch.float32 if sp.points.dtype == np.float32 else torch.float64
            device = torch.device("cpu")
        work = working_dtype(dtype)
        x, a, y, b = (torch.as_tensor(v).to(dtype=work, device=device) for v in parts)
        if massless == "drop":
            x, a = with_mass(x, a, tensors=True)
            y, b = with_mass(y, b, tensors=True)
        frame = common_frame(x, y)
        if massless == "drop" and (a.requires_grad or b.requires_grad):
            check_massless_reach(x, a, y, b, frame)
        out = Output(numpy=not any_torch(*parts), dtype=dtype, scale=frame.scale, order=order)
        return cls(x, a, y, b, frame.local(x), frame.local(y), frame, order, out)

    def local_reg(self, reg) -> float:
        """``reg`` in the frame's cost units (default rule for ``None``), validated."""
        if reg is None:
            return _default_reg_local(self.xl.detach(), self.a.detach(), self.yl.detach(),
                                      self.b.detach(), self.order)
        reg = check_positive(reg, "reg")
        eps = scale_by_power(reg, self.frame.scale, -self.order)
        if eps < np.finfo(np.float64).tiny <= reg:  # else check_resolution names reg=0
            raise ValueError(
                f"reg={reg:g} is below what float64 resolves for these points: in the units of "
                f"their frame (scale {self.frame.scale:.3g}, costs in its power {self.order:g}) "
                f"it underflows to {eps:.3g}. Use a larger reg, or leave out the points of "
                "weight 0 that widen the frame.")
        return eps

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


#: How much farther than the points with mass the points of weight 0 may reach when they are
#: kept (weights that require a gradient): beyond, the data keep less than half their digits.
MASSLESS_REACH = 2.0 ** 26


def check_massless_reach(x, a, y, b, frame) -> None:
    """Raise if points of weight 0 set a frame ``MASSLESS_REACH`` times wider than the rest."""
    keep_x, keep_y = a.detach() > 0, b.detach() > 0
    if bool(keep_x.all()) and bool(keep_y.all()):
        return
    ratio = frame.scale / common_frame(x[keep_x], y[keep_y]).scale
    if ratio > MASSLESS_REACH:
        raise ValueError(
            f"the points of weight 0 lie {ratio:.2g} times farther out than the points with mass "
            "and set the costs' scale, so the points with mass lose their digits; they are kept "
            "because the weights require a gradient (its entries at those points are their "
            "potentials). Leave those points out, or detach the weights.")


def _normalised(w):
    """Weights divided by their total (by their largest first, so that no sum overflows)."""
    w = w / w.max()
    return w / w.sum()


def _default_reg_local(x, a, y, b, order) -> float:
    """The default rule in the frame's units, on the weights normalised.

    A length scale of the data: the same for weights ``s a``, ``s b`` (unbalanced masses);
    read on the masses as given it was 0.0127 at unit masses, 1.50 at masses 10.
    """
    m2 = mean_squared_distance(x, _normalised(a), y, _normalised(b))
    return REG_FRACTION * m2 ** (order / 2) if m2 > 0 else 1.0


def default_reg(x, y, order: float = 1, a=None, b=None) -> float:
    r"""Default ε for samples: :math:`\varepsilon = 0.004\, m_2^{k/2}`.

    :math:`m_2 = \sum_{ij} a_i b_j \lVert x_i - y_j\rVert^2` is the mean
    squared distance between the two samples (weights normalised to sum to 1,
    so it is a length scale of the data whatever their masses: the default of
    the unbalanced entry points too), computed from centred moments
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
    p = PointProblem.build(*sample_pair(x, y, a, b, names=("x", "y")), order)
    m2 = mean_squared_distance(p.xl.detach(), _normalised(p.a.detach()), p.yl.detach(),
                               _normalised(p.b.detach()))
    return p.input_reg(REG_FRACTION * m2 ** (order / 2)) if m2 > 0 else 1.0
