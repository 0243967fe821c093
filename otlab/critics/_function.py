"""A trained neural critic as a function of the data (numpy or torch, in the data's units)."""

from __future__ import annotations

import copy

import numpy as np

from .._backend import is_torch, to_numpy
from .._validation import as_points

__all__ = ["NeuralCritic"]


#: Largest number of point-anchor distances the c-transform holds at once (64 MiB in float32):
#: more points are evaluated in chunks of rows.
ANCHOR_BLOCK = 2**24


def _row_chunks(u, width: int):
    """``u`` cut into consecutive row blocks of at most ``ANCHOR_BLOCK / width`` rows."""
    rows = max(1, ANCHOR_BLOCK // max(1, width))
    return [u[start:start + rows] for start in range(0, max(u.shape[0], 1), rows)]


def _width(net) -> int:
    """The widest layer of ``net`` (its largest ``out_features``; 1 for none)."""
    return max((int(m.out_features) for m in net.modules() if hasattr(m, "out_features")),
               default=1)


def _plain(net, u):
    """``net(u)`` in row blocks of at most ``ANCHOR_BLOCK`` activations of its widest layer.

    The held-out sample (``n_holdout``, any size) is evaluated at once: 10**7 points
    through layers of width 256 held 10 GB per activation.  Blocks of at least 65536 rows
    (width 256 and below) leave training batches and the default 65536 held-out points
    in one block.  A network in training mode takes ``u`` whole: each forward pass of a
    spectrally normalised one runs a power iteration, which blocks would repeat.
    """
    import torch

    if net.training:
        return net(u).squeeze(-1)
    parts = [net(part).squeeze(-1) for part in _row_chunks(u, _width(net))]
    return parts[0] if len(parts) == 1 else torch.cat(parts)


def _forward(net, anchors, u):
    """The network on standardised points ``u``, or its c-transform over ``anchors``."""
    import torch

    if anchors is None:
        return _plain(net, u)
    f_anchor = net(anchors).squeeze(-1)
    parts = [(f_anchor[None, :] - torch.cdist(part, anchors,
                                              compute_mode="donot_use_mm_for_euclid_dist")
              ).amax(dim=1) for part in _row_chunks(u, anchors.shape[0])]
    return parts[0] if len(parts) == 1 else torch.cat(parts)


#: Standardised inputs farther out than this are evaluated in float64 (:class:`NeuralCritic`):
#: the float32 network's pre-activations and the c-transform's squared distances
#: overflow float32 from about 2^64 on.
FLOAT32_REACH = 2.0**40


def _far_forward(net, anchors, u):
    """:func:`_forward` for far points in float64: the c-transform's distances in units of
    each difference's largest coordinate (no squares beyond the float range)."""
    import torch

    if anchors is None:
        return _plain(net, u)
    f_anchor = net(anchors).squeeze(-1)
    parts = []
    for part in _row_chunks(u, anchors.shape[0] * anchors.shape[1]):
        diff = part[:, None, :] - anchors[None]
        top = diff.abs().amax(dim=-1, keepdim=True)
        top = torch.where(top > 0, top, torch.ones_like(top))
        dist = torch.linalg.vector_norm(diff / top, dim=-1) * top.squeeze(-1)
        parts.append((f_anchor[None, :] - dist).amax(dim=1))
    return parts[0] if len(parts) == 1 else torch.cat(parts)


def query_points(z):
    """``z`` validated as points (:func:`otlab._validation.as_points`, named ``z``).

    An integer or boolean tensor becomes float64 first, not the default float dtype:
    float32 would round integer coordinates beyond 2^24.
    """
    if is_torch(z) and not (z.is_floating_point() or z.is_complex()):
        import torch

        z = z.to(torch.float64)
    return as_points(z, "z")


class NeuralCritic:
    r"""A trained critic as a function: numpy in, numpy out; torch in, torch out.

    The network :math:`g` was trained on standardised points
    :math:`u = (z - c) / s` (the pooled mean :math:`c` of both samples and
    the RMS distance :math:`s` to it, :mod:`otlab.frames`), and the
    critic in the data's units is

    .. math:: f(z) = s\, g\big((z - c) / s\big),

    with the same Lipschitz constant as :math:`g`.  For ``"ctransform"``
    :math:`g` is the c-transform of the network over the standardised training
    points, :math:`g(u) = \max_i (h(u_i) - \lVert u - u_i\rVert)`.  The
    standardisation is done in float64 before the network's dtype, so offsets
    far larger than the data's spread cost no precision.

    Attributes
    ----------
    net : torch.nn.Module
        The MLP (in eval mode, parameters frozen).
    anchors : Tensor or None
        The standardised training x points of the c-transform (``"ctransform"`` only).
    center, shift : ndarray of shape (d,)
        :math:`c` as ``center + shift``: an anchor (a data value) and the mean
        offset from it, applied one after the other,
        :math:`u = ((z - \text{center}) - \text{shift}) / s`, so that an exact
        translation of the data changes no bit of :math:`u`
        (:func:`otlab.frames.anchored_standardise`); ``shift`` defaults to 0.
    scale : float
        :math:`s`.
    """

    def __init__(self, net, anchors=None, *, center, scale: float, shift=None):
        self.net = net.eval()
        for p in net.parameters():
            p.requires_grad_(False)
        self.anchors = anchors
        first = next(net.parameters())
        self.dtype, self.device = first.dtype, first.device
        self.center = np.asarray(center, dtype=np.float64)
        self.shift = (np.zeros_like(self.center) if shift is None
                      else np.asarray(shift, dtype=np.float64))
        self.scale = float(scale)

    def to(self, dtype) -> "NeuralCritic":
        """A copy whose network (and anchors) compute in ``dtype`` (e.g. ``torch.float64``)."""
        net = copy.deepcopy(self.net).to(dtype=dtype)
        anchors = None if self.anchors is None else self.anchors.to(dtype=dtype)
        return NeuralCritic(net, anchors, center=self.center, scale=self.scale, shift=self.shift)

    def standardised(self, u):
        """:math:`g(u)` on standardised points (a tensor of the network's dtype and device)."""
        return _forward(self.net, self.anchors, u)

    def _double(self) -> "NeuralCritic":
        """A float64 copy (made once), for points beyond :data:`FLOAT32_REACH`."""
        import torch

        if self.dtype == torch.float64:
            return self
        if getattr(self, "_float64", None) is None:
            self._float64 = self.to(torch.float64)
        return self._float64

    def _evaluate(self, u):
        """:math:`g(u)` of float64 standardised points ``u`` (a tensor on the network's device):
        in the network's dtype, rows beyond :data:`FLOAT32_REACH` in float64."""
        import torch

        reach = u.abs().amax(dim=1)
        if not bool(torch.isfinite(reach).all()):
            raise ValueError(
                f"z holds points beyond what the critic's frame holds: their offsets from the "
                f"samples' centre, in units of the samples' scale {self.scale:.3g}, overflow "
                f"float64 (largest {float(reach.max()):g}); the critic is not evaluated there")
        far = ~(reach <= FLOAT32_REACH)
        if not bool(far.any()):
            return self.standardised(u.to(self.dtype)).to(torch.float64)
        out = torch.empty(u.shape[0], dtype=torch.float64, device=u.device)
        near = ~far
        if bool(near.any()):
            out[near] = self.standardised(u[near].to(self.dtype)).to(torch.float64)
        double = self._double()
        out[far] = _far_forward(double.net, double.anchors, u[far])
        return out

    def __call__(self, z):
        """Evaluate the critic at points ``z`` of shape (k, d) (or (k,) when d = 1).

        Points whose standardised coordinates exceed :data:`FLOAT32_REACH` (far beyond
        the samples) are evaluated by a float64 copy of the network, where a float32
        network would return NaN or infinities.  ``z`` is validated as the samples are
        (a ValueError naming it when it holds NaN or infinities, no point, or points of
        another dimension, or points so far out that their standardised coordinates
        overflow float64, e.g. 1e10 beside samples of size 1e-300).
        """
        import torch

        z = query_points(z)
        if z.shape[1] != self.center.shape[0]:
            raise ValueError(f"z must have dimension {self.center.shape[0]}; got d={z.shape[1]}")
        if is_torch(z):
            zz = z
            center = torch.as_tensor(self.center, dtype=torch.float64, device=zz.device)
            shift = torch.as_tensor(self.shift, dtype=torch.float64, device=zz.device)
            u = (((zz.to(torch.float64) - center) - shift) / self.scale).to(self.device)
            out = self._evaluate(u) * self.scale
            return out.to(device=z.device, dtype=z.dtype if z.is_floating_point() else out.dtype)
        with np.errstate(over="ignore"):  # an overflow is refused by name in _evaluate
            u = ((np.asarray(z, dtype=np.float64) - self.center) - self.shift) / self.scale
        with torch.no_grad():
            out = self._evaluate(torch.as_tensor(u, dtype=torch.float64, device=self.device))
        return to_numpy(out) * self.scale

    def __repr__(self) -> str:
        kind = "c-transform of " if self.anchors is not None else ""
        return f"NeuralCritic({kind}{self.net!r}, scale={self.scale:.6g})"
