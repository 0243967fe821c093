"""Strict JSON: non-finite floats become ``null`` (``json`` would write ``NaN``/``Infinity``)."""

from __future__ import annotations

import json
import math

__all__ = ["strict_json", "finite_or_none"]


def finite_or_none(value):
    """``value`` with every non-finite float (also inside lists, tuples, dicts) replaced by None.

    >>> finite_or_none({"a": float("inf"), "b": [1.0, float("nan")], "c": "x"})
    {'a': None, 'b': [1.0, None], 'c': 'x'}
    """
    if isinstance(value, dict):
        return {k: finite_or_none(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_or_none(v) for v in value]
    if hasattr(value, "item") and getattr(value, "ndim", None) == 0:  # numpy / torch scalars
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def strict_json(value, **kwargs) -> str:
    """``json.dumps`` of ``value`` with non-finite floats as ``null`` (valid JSON, RFC 8259).

    >>> strict_json([1.5, float("-inf")])
    '[1.5, null]'
    """
    return json.dumps(finite_or_none(value), allow_nan=False, **kwargs)
