"""``otlab.Sample``: a validated, weighted point cloud, the one way weights travel with points.

Every function that takes samples (:func:`otlab.wasserstein`,
:func:`otlab.sinkhorn_divergence`, the critics) accepts

* points alone: an array-like of shape ``(n, d)`` or ``(n,)`` (numpy, torch,
  nested lists *or tuples*, read like :func:`numpy.asarray` reads them), every
  point with mass ``1/n``;
* an :class:`Sample`, ``Sample(points, weights)``;
* points with weights passed by keyword, ``wasserstein(x, y, a=wx, b=wy)``.

Weights are never guessed from the shape of a tuple.  Earlier versions read a
2-tuple as ``(points, weights)``, so ``((0, 0), (1, 1))`` meant the points 0 and
0 with weights 1 and 1; it now means the two points (0, 0) and (1, 1) in the
plane, as in NumPy and SciPy.  Where a tuple could have been meant the old way,
a ``FutureWarning`` says how it is read now; a ``(points, weights)`` pair that
cannot be read as points (2-D points with 1-D weights) raises a ``TypeError``
that shows the new spelling.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from ._backend import is_torch
from ._validation import as_float_array, as_points, as_weights
from ._warnings import external_stacklevel

__all__ = ["Sample", "as_sample", "sample_pair", "check_same_dimension", "split_sample",
           "with_mass"]

@dataclass(frozen=True, eq=False)
class Sample:
    r"""A discrete measure :math:`\sum_i w_i \delta_{x_i}`: points and (optional) weights.

    Parameters
    ----------
    points : array-like or Tensor, shape (n, d) or (n,)
        Finite coordinates; a 1-D input is ``n`` points on the real line.
        Stored validated, with shape ``(n, d)``, in the input's array kind
        (numpy float64/float32 or a torch tensor on its device).
    weights : array-like or Tensor, shape (n,), optional
        Finite, non-negative, positive sum; stored normalised to sum 1.
        ``None`` (the default) means uniform weights ``1/n``.

    Attributes
    ----------
    points, weights
        As above (``weights`` stays ``None`` for a uniform sample).
    n, dim : int
        Number of points and their dimension.

    Examples
    --------
    >>> s = Sample([[0.0, 0.0], [1.0, 1.0]], weights=[3, 1])
    >>> s.n, s.dim, s.weights.tolist()
    (2, 2, [0.75, 0.25])
    >>> Sample([0.0, 1.0, 2.0]).probabilities.tolist()  # uniform
    [0.3333333333333333, 0.3333333333333333, 0.3333333333333333]
    """

    points: object
    weights: object = None

    def __post_init__(self):
        self._validate("points", "weights")

    @classmethod
    def _named(cls, points, weights, name: str, weights_name: str) -> "Sample":
        """Build and validate, naming the caller's arguments in error messages."""
        sample = object.__new__(cls)
        object.__setattr__(sample, "points", points)
        object.__setattr__(sample, "weights", weights)
        sample._validate(name, weights_name)
        return sample

    def _validate(self, name: str, weights_name: str) -> None:
        x = as_points(self.points, name)
        object.__setattr__(self, "points", x)
        if self.weights is not None:
            w = as_weights(self.weights, x.shape[0], weights_name, like=x)
            if is_torch(x) and not is_torch(w):
                import torch

                w = torch.as_tensor(w, dtype=x.dtype, device=x.device)
            object.__setattr__(self, "weights", w)

    @property
    def n(self) -> int:
        return int(self.points.shape[0])

    @property
    def dim(self) -> int:
        return int(self.points.shape[1])

    @property
    def uniform(self) -> bool:
        """True when no weights were given (every point has mass 1/n)."""
        return self.weights is None

    @property
    def probabilities(self):
        """The weights, or the uniform ``1/n`` vector (same array kind as the points)."""
        if self.weights is not None:
            return self.weights
        return as_weights(None, self.n, "weights", like=self.points)

    def __repr__(self) -> str:
        kind = "uniform" if self.uniform else "weighted"
        return f"Sample(n={self.n}, dim={self.dim}, {kind})"


def as_sample(p, name: str, *, weights=None, weights_name: str | None = None) -> Sample:
    """Read a sample argument (points or a :class:`Sample`) plus optional separate weights.

    Parameters
    ----------
    p : array-like, Tensor or Sample
        The sample; tuples are read as array-likes of points (NumPy's rule).
    name : str
        The argument's name, used in error messages (``"p"``, ``"x"``).
    weights : array-like or Tensor, optional
        Weights given separately (``a=`` / ``b=``); not allowed with a
        weighted :class:`Sample`.
    weights_name : str, optional
        The weights' name in error messages; default ``"<name> weights"``.

    Examples
    --------
    >>> as_sample([[0.0, 0.0], [1.0, 1.0]], "p", weights=[1, 3]).probabilities.tolist()
    [0.25, 0.75]
    """
    weights_name = weights_name or f"{name} weights"
    if isinstance(p, Sample):
        if weights is None:
            return p
        if not p.uniform:
            raise ValueError(f"{name} is a weighted Sample and {weights_name} were also given; "
                             "pass the weights once")
        p = p.points
    elif isinstance(p, tuple):
        p = _tuple_points(p, name, weights_given=weights is not None)
    return Sample._named(p, weights, name, weights_name)


def check_same_dimension(sp: Sample, sq: Sample, names=("p", "q")) -> None:
    """Raise a ValueError naming both samples when their points differ in dimension.

    >>> check_same_dimension(as_sample([[0.0, 1.0]], "p"), as_sample([[2.0]], "q"))
    Traceback (most recent call last):
    ...
    ValueError: p and q must have the same dimension; got d=2 and d=1
    """
    if sp.dim != sq.dim:
        raise ValueError(f"{names[0]} and {names[1]} must have the same dimension; "
                         f"got d={sp.dim} and d={sq.dim}")


def sample_pair(p, q, a=None, b=None, *, names=("p", "q"), weights_names=("a", "b")
                ) -> tuple[Sample, Sample]:
    """Read the two samples of a two-sample entry point: points or Samples, same dimension.

    The one way two samples come in: each is read by :func:`as_sample` (with
    its separate weights ``a``, ``b``, if given), then their dimensions are
    compared (:func:`check_same_dimension`).  ``names`` and ``weights_names``
    are the arguments' names in error messages.

    Returns
    -------
    (Sample, Sample)

    Examples
    --------
    >>> sp, sq = sample_pair([[0.0, 0.0]], [[1.0, 1.0], [2.0, 2.0]], b=[1, 3])
    >>> sp.n, sq.n, sq.probabilities.tolist()
    (1, 2, [0.25, 0.75])
    >>> sample_pair([[0.0, 1.0]], [[2.0]], names=("x", "y"))
    Traceback (most recent call last):
    ...
    ValueError: x and y must have the same dimension; got d=2 and d=1
    """
    sp = as_sample(p, names[0], weights=a, weights_name=weights_names[0])
    sq = as_sample(q, names[1], weights=b, weights_name=weights_names[1])
    check_same_dimension(sp, sq, names)
    return sp, sq


def split_sample(p, name: str, weights=None, weights_name: str | None = None):
    """Read one sample argument as ``(points, weights)``: shape ``(n, d)``, weights summing to 1.

    :func:`as_sample`, unpacked (weights uniform when not given).
    """
    sample = as_sample(p, name, weights=weights, weights_name=weights_name)
    return sample.points, sample.probabilities


def _is_sequence(v) -> bool:
    return is_torch(v) or isinstance(v, (list, tuple, np.ndarray))


def _pair_shaped(p: tuple, *, signed: bool) -> bool:
    """Whether ``p`` has the shape (and, unless ``signed``, the sign) of an old
    ``(points, weights)`` pair: two sequences, the second 1-D with one entry per point."""
    if len(p) != 2 or not all(_is_sequence(v) for v in p):
        return False
    points, w = p
    try:
        w = np.asarray(w.detach().cpu() if is_torch(w) else w, dtype=np.float64)
        n = len(points)
    except (TypeError, ValueError):
        return False
    if w.ndim != 1 or w.shape[0] != n:
        return False
    return signed or bool(np.all(np.isfinite(w)) and np.all(w >= 0))


def _pair_error(name: str) -> TypeError:
    return TypeError(
        f"{name} is a tuple of points and weights; otlab no longer reads weights from a tuple. "
        f"Pass them explicitly: wasserstein(x, y, a=wx, b=wy) or otlab.Sample(x, weights=wx)"
    )


def _tuple_points(p: tuple, name: str, *, weights_given: bool):
    """A tuple as points, like :func:`numpy.asarray`; say so where the old pair reading differed."""
    pair_like = _pair_shaped(p, signed=True)  # cannot be points: say how to pass weights
    if any(is_torch(v) for v in p):
        import torch

        if not all(is_torch(v) and v.shape == p[0].shape for v in p):
            raise _pair_error(name) if pair_like else ValueError(
                f"{name} must be a rectangular array-like; got a tuple of tensors of different shapes")
        points = torch.stack(p)
    else:
        try:
            points = as_float_array(p, name)
        except ValueError:
            if pair_like:
                raise _pair_error(name) from None
            raise
    if not weights_given and _pair_shaped(p, signed=False):  # could have meant weights
        warnings.warn(
            f"{name} is a tuple of 2 sequences of length {len(p[0])}: otlab reads it as 2 points "
            f"in dimension {len(p[0])}, like numpy.asarray (earlier versions read a 2-tuple as "
            "(points, weights)). For weights use a=/b= or otlab.Sample(points, weights); pass "
            "a list or an array to silence this warning.",
            FutureWarning,
            stacklevel=external_stacklevel(),
        )
    return points


def with_mass(x, w, *, tensors: bool = False):
    """The points of positive weight and their weights (numpy arrays; tensors are returned
    as they are, keeping every point for its gradient, unless ``tensors`` is True and the
    weights do not require a gradient).

    A point of weight 0 changes no distance between samples, but where it lies sets the
    solvers' frames and sorted orders: estimators that only sum over the mass leave it out.

    >>> with_mass(np.array([[0.0], [1e300], [2.0]]), np.array([0.5, 0.0, 0.5]))[0].ravel()
    array([0., 2.])
    """
    if is_torch(x) or is_torch(w):
        if not tensors or w.requires_grad:
            return x, w
    keep = w > 0
    return (x, w) if bool(keep.all()) else (x[keep], w[keep])
