"""A point-cloud OT problem whose rows are spread over the ranks, checked and gathered once.

Every rank holds both point clouds, gathered in rank order (:math:`O((n + m) d)`
numbers), in which its own rows are the caller's tensors: gradients of
anything computed from the gathered clouds flow back to the rank's own points
and weights, and to nothing else.  With this, the single-process problem
(:class:`otlab.entropic.problem.PointProblem`: common frame, default ε,
result units, envelope gradients, the divergence's logic) applies as it is;
only the soft-min operator differs (:meth:`ShardedPointProblem.operator`).

A rank whose input is invalid must not raise alone (the others would wait for
it at the next collective), so each rank checks its own input and one
``all_gather_object`` shares the outcomes, sizes and options: every rank then
raises the same :class:`ValueError` (naming the ranks at fault) or goes on.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch

from .._backend import any_torch, is_torch, working_dtype
from .._validation import as_float_array, as_points, check_finite, check_order, to_float
from ..frames import common_frame
from ..entropic.problem import PointProblem, check_massless_reach
from ..entropic.result import Output
from ._shards import Shards
from .operator import ShardedOperator, rank_slice

__all__ = ["ShardedPointProblem", "build_problem"]


@dataclass(frozen=True)
class ShardedPointProblem(PointProblem):
    """:class:`~otlab.entropic.problem.PointProblem` of the gathered clouds, with its sharding.

    ``x_sizes`` and ``y_sizes`` are the rows of each cloud held by each rank.
    """

    shards: Shards
    x_sizes: tuple
    y_sizes: tuple

    @property
    def x_rows(self) -> slice:
        return rank_slice(self.x_sizes, self.shards.rank)

    @property
    def y_rows(self) -> slice:
        return rank_slice(self.y_sizes, self.shards.rank)

    def operator(self, x, y, backend: str, *, available: int | None = None):
        """The :class:`~otlab.distributed.operator.ShardedOperator` on ``x`` (rows), ``y``."""
        own_cols = self.x_rows if y is x else self.y_rows  # y is x: a symmetric term
        return ShardedOperator(x, y, self.order, backend, self.shards, self.x_sizes, own_cols,
                               available=available)

    def swapped(self) -> "ShardedPointProblem":
        return replace(super().swapped(), x_sizes=self.y_sizes, y_sizes=self.x_sizes)


def _local_weights(w, n: int, name: str):
    """This rank's raw weights: finite, non-negative, one per point (the sum is checked globally)."""
    w = as_float_array(w, name)
    if w.ndim != 1 or w.shape[0] != n:
        raise ValueError(f"{name} must have one weight per point: expected shape ({n},), got "
                         f"{tuple(w.shape)}")
    check_finite(w, name)
    low = to_float(w.min())
    if low < 0:
        raise ValueError(f"{name} must be non-negative; got min {low:g}")
    return w


def _dtype_device(values):
    """The input dtype and device, by the rule of :class:`~otlab.entropic.problem.PointProblem`."""
    ref = next((v for v in values if is_torch(v)), None)
    if ref is not None:
        return ref.dtype, ref.device
    return (torch.float32 if values[0].dtype == np.float32 else torch.float64), torch.device("cpu")


def _raise_unless_equal(infos, key, what):
    values = [info[key] for info in infos]
    if any(v != values[0] for v in values):
        listing = ", ".join(f"rank {r}: {v!r}" for r, v in enumerate(values))
        raise ValueError(f"{what} must be the same on every rank; got {listing}")


def _check_together(shards, specs, options):
    """Validate this rank's clouds; share the outcome with every rank; raise on all if any failed."""
    error, checked, info = None, None, {}
    try:
        checked = []
        for points, weights, name, weight_name in specs:
            points = as_points(points, name)
            if weights is not None:
                weights = _local_weights(weights, points.shape[0], weight_name)
            checked.append((points, weights))
    except (ValueError, TypeError) as exc:
        error = f"{type(exc).__name__}: {exc}"
    else:
        info = {"sizes": [p.shape[0] for p, _ in checked], "dims": [p.shape[1] for p, _ in checked],
                "dtype": str(_dtype_device([v for pair in checked for v in pair
                                            if v is not None])[0]),
                "weighted": [w is not None for _, w in checked]}
    infos = shards.objects({"error": error, "options": options, **info})
    failed = [(r, i["error"]) for r, i in enumerate(infos) if i["error"] is not None]
    if failed:
        raise ValueError("; ".join(f"rank {r}: {message}" for r, message in failed))
    _raise_unless_equal(infos, "options", "the solver options")
    _raise_unless_equal(infos, "dtype", "the dtype of the points and weights")
    _raise_unless_equal(infos, "weighted", "whether weights are given")
    dims = {d for i in infos for d in i["dims"]}
    if len(dims) != 1:
        raise ValueError(f"the points must have the same dimension on every rank and in both "
                         f"clouds; got dimensions {sorted(dims)}")
    return checked, [tuple(i["sizes"][k] for i in infos) for k in range(len(specs))]


def _gathered(shards, mine: torch.Tensor, sizes, kind: str) -> torch.Tensor:
    """Every rank's rows in rank order, this rank's own being ``mine`` itself (with its graph)."""
    parts = list(shards.cat(mine.detach(), sizes, kind).split(list(sizes)))
    parts[shards.rank] = mine
    return torch.cat(parts)


def _cloud(shards, points, weights, sizes, dtype, device, weight_name):
    """``(points, probabilities)`` of one cloud over all ranks, in the input dtype."""
    points = torch.as_tensor(points).to(dtype=dtype, device=device)
    x = _gathered(shards, points, sizes, "points")
    if weights is None:
        return x, torch.full((x.shape[0],), 1.0 / x.shape[0], dtype=dtype, device=device)
    raw = _gathered(shards, torch.as_tensor(weights).to(dtype=dtype, device=device), sizes,
                    "weights")
    mass = raw.sum()
    if not to_float(mass) > 0:
        raise ValueError(f"{weight_name} must have a positive sum over all ranks; got sum "
                         f"{to_float(mass):g}")
    return x, raw / mass


def _with_mass(x, w, sizes):
    """The points of positive weight and each rank's count of them (all, if ``w`` needs a gradient).

    Every rank holds the same gathered weights, so every rank keeps the same rows; a
    rank's own rows stay contiguous and in order, ``sizes`` are counted anew.
    """
    if w.requires_grad:
        return x, w, sizes
    keep = w > 0
    if bool(keep.all()):
        return x, w, sizes
    kept = tuple(int(part.sum()) for part in keep.split(list(sizes)))
    return x[keep], w[keep], kept


def build_problem(shards, x_local, a_local, y_local, b_local, order, options: dict, *,
                  massless: str = "keep"):
    """Check every rank's input together, gather the clouds, return the :class:`ShardedPointProblem`.

    ``options`` (the caller's solver options) must be the same on every rank.
    ``massless="drop"`` leaves the points of weight 0 out, as
    :meth:`otlab.entropic.problem.PointProblem.build` does (unless the weights
    require a gradient); a rank may then hold no row.
    """
    specs = [(x_local, a_local, "x_local", "a_local"), (y_local, b_local, "y_local", "b_local")]
    checked, (x_sizes, y_sizes) = _check_together(shards, specs, options)
    order = check_order(order)
    values = [v for pair in checked for v in pair if v is not None]
    dtype, device = _dtype_device(values)
    (xp, xw), (yp, yw) = checked
    x, a = _cloud(shards, xp, xw, x_sizes, dtype, device, "a_local")
    y, b = _cloud(shards, yp, yw, y_sizes, dtype, device, "b_local")
    work = working_dtype(dtype)
    x, a, y, b = (v.to(work) for v in (x, a, y, b))
    if massless == "drop":
        x, a, x_sizes = _with_mass(x, a, x_sizes)
        y, b, y_sizes = _with_mass(y, b, y_sizes)
    frame = common_frame(x, y)
    if massless == "drop" and (a.requires_grad or b.requires_grad):
        check_massless_reach(x, a, y, b, frame)
    out = Output(numpy=not any_torch(*values), dtype=dtype, scale=frame.scale, order=order)
    return ShardedPointProblem(x, a, y, b, frame.local(x), frame.local(y), frame, order, out,
                               shards, x_sizes, y_sizes)

