"""Tiny numpy/torch helpers: recognise tensors, move data between the two.

The rule everywhere in otlab: results follow the input. numpy (or list) in,
numpy or Python floats out; torch in, torch out on the input's device and in
the input's dtype.  Half-precision tensors (float16, bfloat16) are computed in
float32 (:func:`working_dtype`) and the results cast back.  torch is imported
lazily so that numpy-only users never pay for it.
"""

from __future__ import annotations

import sys

import numpy as np

__all__ = ["is_torch", "to_numpy", "any_torch", "reference_tensor", "working_dtype",
           "common_backend", "result_like"]


def is_torch(x) -> bool:
    """Return True if ``x`` is a ``torch.Tensor`` (without importing torch)."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, torch.Tensor)


def any_torch(*xs) -> bool:
    """Return True if any argument is a ``torch.Tensor``."""
    return any(is_torch(x) for x in xs)


def reference_tensor(*xs):
    """Return the first tensor among ``xs`` (the one whose device/dtype wins)."""
    for x in xs:
        if is_torch(x):
            return x
    return None


def working_dtype(dtype):
    """The torch dtype computations run in: float32 for float16 and bfloat16, else ``dtype``.

    Half-precision arithmetic cannot hold a cost matrix or a log-sum-exp to a
    useful accuracy (bfloat16 has 8 significant bits), so otlab computes in
    float32 and returns results in the input's dtype.
    """
    import torch

    return torch.float32 if dtype in (torch.float16, torch.bfloat16) else dtype


def to_numpy(x, dtype=np.float64) -> np.ndarray:
    """Detach a tensor (any device, any float dtype) or convert an array-like to numpy."""
    if is_torch(x):
        x = x.detach().cpu()
        if x.is_floating_point() and x.dtype != working_dtype(x.dtype):
            x = x.float()  # numpy has no bfloat16
        x = x.numpy()
    return np.asarray(x, dtype=dtype)


def common_backend(*xs):
    """All numpy, or all tensors on the first tensor's device and in its (floating) dtype."""
    ref = reference_tensor(*xs)
    if ref is None:
        return xs
    import torch

    dtype = ref.dtype if torch.is_floating_point(ref) else torch.get_default_dtype()
    return tuple(torch.as_tensor(v, dtype=dtype, device=ref.device) for v in xs)


def result_like(value, like):
    """A scalar result following ``like``: a Python float, or a 0-dim tensor on its device and dtype.

    >>> result_like(np.float64(0.5), np.zeros(3))
    0.5
    """
    if not is_torch(like):
        return float(value)
    import torch

    if not is_torch(value):
        value = torch.tensor(value, dtype=torch.float64, device=like.device)
    return value.to(like.dtype)
