"""Tiny numpy/torch helpers: recognise tensors, move data between the two.

The rule everywhere in otlab: results follow the input. numpy (or list) in,
numpy or Python floats out; torch in, torch out on the input's device.
torch is imported lazily so that numpy-only users never pay for it.
"""

from __future__ import annotations

import sys

import numpy as np

__all__ = ["is_torch", "to_numpy", "any_torch", "reference_tensor"]


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


def to_numpy(x, dtype=np.float64) -> np.ndarray:
    """Detach a tensor (any device) or convert an array-like to numpy."""
    if is_torch(x):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=dtype)
