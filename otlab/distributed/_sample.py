"""Every rank's rows of a point cloud and its weights: checked together, gathered once.

A rank whose input is invalid must not raise alone (the others would wait
for it at the next collective), so each rank checks its own input, and one
``all_gather_object`` shares the outcome, the shapes and the options: every
rank then raises the same :class:`ValueError` (naming the ranks at fault) or
goes on with the same global sizes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .._backend import any_torch, is_torch
from .._validation import _check_finite, _scalar, as_float_array, as_points
from ..entropic.solver import to_tensor

__all__ = ["ShardedSample", "gather_samples"]


@dataclass
class ShardedSample:
    """One point cloud spread over the ranks.

    ``points`` and ``weights`` are this rank's rows (``points`` as given, with
    its gradient; ``weights`` raw, possibly with gradient, or ``None`` for
    uniform); ``all_points`` and ``all_weights`` (normalised to sum 1) hold
    every rank's rows in rank order, detached; ``rows`` is this rank's slice
    of them and ``sizes`` the rows of every rank.
    """

    points: torch.Tensor
    weights: torch.Tensor | None
    all_points: torch.Tensor
    all_weights: torch.Tensor
    mass: torch.Tensor
    rows: slice
    sizes: list

    def weight_term(self, potential: torch.Tensor) -> torch.Tensor:
        r"""Zero-valued, with gradient :math:`(f_i - \langle a, f\rangle) / s` for raw weights.

        The weights are normalised by the global mass :math:`s`, so the
        envelope gradient :math:`f` with respect to the normalised weights
        becomes :math:`(f - \langle a, f\rangle)/s` with respect to the raw
        ones (as the single-process solvers get by differentiating the
        normalisation).
        """
        if self.weights is None or not self.weights.requires_grad:
            return potential.new_zeros(())
        centred = (potential - self.all_weights @ potential)[self.rows] / self.mass
        return (centred * (self.weights - self.weights.detach())).sum()


def _local_weights(w, n: int, name: str):
    """Validate this rank's raw weights: finite, non-negative, one per point (sum checked later)."""
    w = as_float_array(w, name)
    if w.ndim != 1 or w.shape[0] != n:
        raise ValueError(f"{name} must have one weight per point: expected shape ({n},), got "
                         f"{tuple(w.shape)}")
    _check_finite(w, name)
    low = _scalar(w.min())
    if low < 0:
        raise ValueError(f"{name} must be non-negative; got min {low:g}")
    return w


def _dtype_of(values) -> torch.dtype:
    ref = next((v for v in values if is_torch(v)), None)
    if ref is not None:
        return ref.dtype
    return torch.float32 if values[0].dtype == np.float32 else torch.float64


def _check_local(specs):
    """This rank's validated ``(points, weights)`` pairs, or the error message."""
    checked = []
    for points, weights, name, weight_name in specs:
        points = as_points(points, name)
        if weights is not None:
            weights = _local_weights(weights, points.shape[0], weight_name)
        checked.append((points, weights))
    return checked


def _raise_for(infos, key, what):
    values = [info[key] for info in infos]
    if any(v != values[0] for v in values):
        listing = ", ".join(f"rank {r}: {v!r}" for r, v in enumerate(values))
        raise ValueError(f"{what} must be the same on every rank; got {listing}")


def gather_samples(shards, specs, options: dict):
    """Check every rank's clouds together; return ``(samples, needs_point_grads, use_numpy)``.

    Parameters
    ----------
    shards : Shards
    specs : list of ``(points, weights, name, weight_name)``
        This rank's rows of each cloud.
    options : dict
        Solver options, which must agree on every rank.
    """
    error, checked, info = None, None, {}
    try:
        checked = _check_local(specs)
    except (ValueError, TypeError) as exc:
        error = f"{type(exc).__name__}: {exc}"
    if checked is not None:
        flat = [v for pair in checked for v in pair if v is not None]
        info = {"sizes": [p.shape[0] for p, _ in checked],
                "dims": [p.shape[1] for p, _ in checked],
                "dtype": str(_dtype_of(flat)),
                "weighted": [w is not None for _, w in checked],
                "grads": torch.is_grad_enabled()
                and any(is_torch(p) and p.requires_grad for p, _ in checked)}
    infos = shards.objects({"error": error, "options": options, **info})
    failed = [(r, i["error"]) for r, i in enumerate(infos) if i["error"] is not None]
    if failed:
        raise ValueError("; ".join(f"rank {r}: {message}" for r, message in failed))
    _raise_for(infos, "options", "the solver options")
    _raise_for(infos, "dtype", "the dtype of the points and weights")
    _raise_for(infos, "weighted", "whether weights are given")
    dims = {d for i in infos for d in i["dims"]}
    if len(dims) != 1:
        raise ValueError(f"the points must have the same dimension on every rank and in every "
                         f"cloud; got dimensions {sorted(dims)}")
    use_numpy = not any_torch(*(v for pair in checked for v in pair))
    dtype = getattr(torch, infos[0]["dtype"].split(".")[-1])
    samples = [_gather_one(shards, points, weights, [i["sizes"][k] for i in infos], dtype,
                           weight_name)
               for k, ((points, weights), (_, _, _, weight_name)) in enumerate(zip(checked, specs))]
    return samples, any(i["grads"] for i in infos), use_numpy


def _gather_one(shards, points, weights, sizes, dtype, weight_name):
    ref = next((v for v in (points, weights) if is_torch(v)), None)
    device = ref.device if ref is not None else torch.device("cpu")
    points = to_tensor(points, dtype=dtype, device=device)
    all_points = shards.cat(points.detach(), sizes, "points")
    n = sum(sizes)
    if weights is None:
        all_weights = torch.full((n,), 1.0 / n, dtype=dtype, device=device)
        mass = all_weights.new_ones(())
    else:
        weights = to_tensor(weights, dtype=dtype, device=device)
        raw = shards.cat(weights.detach(), sizes, "weights")
        mass = raw.sum()
        if not float(mass) > 0:
            raise ValueError(f"{weight_name} must have a positive sum over all ranks; got sum "
                             f"{float(mass):g}")
        all_weights = raw / mass
    start = sum(sizes[:shards.rank])
    return ShardedSample(points=points, weights=weights, all_points=all_points,
                         all_weights=all_weights, mass=mass,
                         rows=slice(start, start + sizes[shards.rank]), sizes=sizes)
