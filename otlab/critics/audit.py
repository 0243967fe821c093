r"""A Lipschitz audit of any critic: gradient norms and empirical slopes.

A critic :math:`f` is 1-Lipschitz when :math:`|f(z) - f(z')| \le \lVert z -
z'\rVert` for all pairs.  The audit measures, on the samples and between them:

- the largest gradient norm :math:`\lVert\nabla f\rVert` at the sample points,
- the largest gradient norm at random interpolates :math:`t x + (1 - t) y`,
- the largest slope :math:`|f(z) - f(z')| / \lVert z - z'\rVert` over random
  pairs of sample points, and over random (x, y) pairs.

Any critic satisfies :math:`\mathbb E_x f - \mathbb E_y f \le L_{xy} W_1(x, y)`
with :math:`L_{xy}` the largest slope over *all* (x, y) pairs; the sampled
``max_slope_xy`` is a lower bound of :math:`L_{xy}`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._backend import to_numpy
from .._validation import as_points, check_positive_int, scaled_norm

__all__ = ["LipschitzAudit", "lipschitz_audit"]


@dataclass(frozen=True)
class LipschitzAudit:
    """Largest gradient norms and slopes of a critic (see :func:`lipschitz_audit`).

    Attributes
    ----------
    max_grad_on_samples : float
        Largest :math:`\\lVert\\nabla f\\rVert` at the x and y points.
    max_grad_between : float
        Largest gradient norm at random interpolates between x and y points.
    max_slope : float
        Largest :math:`|f(z) - f(z')| / \\lVert z - z'\\rVert` over random pairs
        of sample points (x or y).
    max_slope_xy : float
        The same over random (x, y) pairs.
    n_interpolates, n_pairs : int
        How many interpolates and pairs were drawn.
    """

    max_grad_on_samples: float
    max_grad_between: float
    max_slope: float
    max_slope_xy: float
    n_interpolates: int
    n_pairs: int

    @property
    def lipschitz_bound(self) -> float:
        """The largest of the four measured quantities (a lower bound of Lip(f))."""
        return max(self.max_grad_on_samples, self.max_grad_between, self.max_slope,
                   self.max_slope_xy)


def _max_grad(critic, z, chunk=4096) -> float:
    import torch

    best = 0.0
    for start in range(0, z.shape[0], chunk):
        zc = z[start:start + chunk].detach().clone().requires_grad_(True)
        with torch.enable_grad():
            (grad,) = torch.autograd.grad(critic(zc).sum(), zc)
        best = max(best, float(grad.norm(dim=1).max()))
    return best


def _in_dtype(critic, dtype, device):
    """A copy of a neural critic (or module) that computes in ``dtype``; others as they are."""
    import copy

    import torch

    from ._function import NeuralCritic

    if isinstance(critic, NeuralCritic) and critic.dtype != dtype:
        return critic.to(dtype)
    if isinstance(critic, torch.nn.Module):
        return copy.deepcopy(critic).to(device=device, dtype=dtype)
    return critic


def _spread(points: np.ndarray) -> float:
    """The points' largest coordinate offset from the midpoint of their bounding box.

    The size of the data as a translation leaves it (their largest coordinate is not:
    at an offset of 1e14 it would be 1e14 for data one unit wide).
    """
    low, high = points.min(axis=0), points.max(axis=0)
    mid = low / 2 + high / 2  # no overflow at the ends of the float range
    return max(float(np.abs(low - mid).max()), float(np.abs(high - mid).max()))


def _max_slope(fa, fb, a, b, spread: float) -> float:
    """Largest ``|fa - fb| / |a - b|`` over pairs farther apart than round-off of the data.

    Distances are formed in units of each pair's largest coordinate difference (no overflow
    at 1e200, no underflow at 1e-200), and pairs closer than ``1e-12`` times the data's
    ``spread`` (:func:`_spread`) are left out, so the slopes do not change with the data's
    scale or with a translation.
    """
    dist = scaled_norm(a - b, axis=1)
    keep = dist > 1e-12 * spread
    if not keep.any():
        return 0.0
    return float((np.abs(fa - fb)[keep] / dist[keep]).max())


def lipschitz_audit(critic, x, y, *, n_interpolates: int = 2048, n_pairs: int = 4096,
                    seed: int = 0, device="cpu", dtype=None) -> LipschitzAudit:
    """Measure how far a critic is from 1-Lipschitz on and between two samples.

    Parameters
    ----------
    critic : callable
        Takes a torch tensor of shape (k, d) and returns a differentiable
        tensor of shape (k,) (an :class:`ExactCritic`, a :class:`NeuralCritic`
        or any ``torch.nn.Module`` with scalar output per row).
    x, y : array-like, shapes (n, d) and (m, d)
        The samples (weights play no role here).
    n_interpolates, n_pairs : int
        Number of random interpolates and of random pairs.
    seed : int
        Seed of the random interpolates and pairs.
    device, dtype
        Where and in which dtype the critic is evaluated (default float64:
        slopes between nearby points are differences of nearly equal values,
        which float32 round-off would inflate).  A :class:`NeuralCritic` or a
        ``torch.nn.Module`` is evaluated through a copy converted to
        ``dtype``.

    Returns
    -------
    LipschitzAudit

    Examples
    --------
    The exact critic between two Diracs has slope exactly one:

    >>> from otlab.critics import exact_critic
    >>> audit = lipschitz_audit(exact_critic([[0.0]], [[2.0]]), [[0.0]], [[2.0]], n_pairs=10)
    >>> audit.max_slope_xy
    1.0
    """
    import torch

    x, y = to_numpy(as_points(x, "x")), to_numpy(as_points(y, "y"))
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"x and y must have the same dimension; got d={x.shape[1]} and "
                         f"d={y.shape[1]}")
    n_interpolates = check_positive_int(n_interpolates, "n_interpolates")
    n_pairs = check_positive_int(n_pairs, "n_pairs")
    dtype = torch.float64 if dtype is None else dtype
    critic = _in_dtype(critic, dtype, device)
    rng = np.random.default_rng(seed)
    both = np.concatenate([x, y])

    def tensor(a):
        return torch.as_tensor(a, dtype=dtype, device=device)

    def values(a):
        with torch.no_grad():
            return to_numpy(critic(tensor(a))).reshape(-1)

    grad_on = _max_grad(critic, tensor(both))
    ix = rng.integers(0, len(x), n_interpolates)
    iy = rng.integers(0, len(y), n_interpolates)
    t = rng.random((n_interpolates, 1))
    grad_between = _max_grad(critic, tensor(t * x[ix] + (1 - t) * y[iy]))

    f_both = values(both)
    i, j = rng.integers(0, len(both), n_pairs), rng.integers(0, len(both), n_pairs)
    spread = _spread(both)
    slope = _max_slope(f_both[i], f_both[j], both[i], both[j], spread)
    fx, fy = f_both[:len(x)], f_both[len(x):]
    ix, iy = rng.integers(0, len(x), n_pairs), rng.integers(0, len(y), n_pairs)
    slope_xy = _max_slope(fx[ix], fy[iy], x[ix], y[iy], spread)
    return LipschitzAudit(grad_on, grad_between, slope, slope_xy, n_interpolates, n_pairs)
