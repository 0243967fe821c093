"""Pieces every demo shares: the argument parser, option types, the output folder, tables."""

from __future__ import annotations

import argparse
import csv
import math
import tempfile
from pathlib import Path

from .._json import strict_json

__all__ = ["demo_parser", "prepare_out", "write_table", "positive_int", "int_at_least",
           "non_negative_int", "positive_float", "non_negative_float", "finite_float"]


def _number(kind, text: str, what: str, ok) -> float:
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be {what}; got {text!r}") from None
    if not ok(value):
        raise argparse.ArgumentTypeError(f"must be {what}; got {text!r}")
    return value


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1.

    >>> positive_int("3")
    3
    >>> positive_int("0")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: must be an integer >= 1; got '0'
    """
    return _number(int, text, "an integer >= 1", lambda v: v >= 1)


def int_at_least(low: int):
    """argparse type: an integer >= ``low``.

    >>> int_at_least(2)("1")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: must be an integer >= 2; got '1'
    """
    def parse(text: str) -> int:
        return _number(int, text, f"an integer >= {low}", lambda v: v >= low)

    parse.__name__ = f"integer >= {low}"
    return parse


def non_negative_int(text: str) -> int:
    """argparse type: an integer >= 0."""
    return _number(int, text, "an integer >= 0", lambda v: v >= 0)


def positive_float(text: str) -> float:
    """argparse type: a finite number > 0.

    >>> positive_float("nan")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: must be a finite number > 0; got 'nan'
    """
    return _number(float, text, "a finite number > 0", lambda v: math.isfinite(v) and v > 0)


def non_negative_float(text: str) -> float:
    """argparse type: a finite number >= 0."""
    return _number(float, text, "a finite number >= 0", lambda v: math.isfinite(v) and v >= 0)


def finite_float(text: str) -> float:
    """argparse type: a finite number."""
    return _number(float, text, "a finite number", math.isfinite)


def demo_parser(name: str, description: str) -> argparse.ArgumentParser:
    """Parser with the options every demo has: ``--out`` and ``--seed``."""
    parser = argparse.ArgumentParser(prog=f"python -m otlab.demo {name}", description=description)
    parser.add_argument("--out", type=Path, default=Path("demo-out") / name,
                        help="folder for figures and tables, created if needed "
                             "(default: %(default)s)")
    parser.add_argument("--seed", type=non_negative_int, default=0,
                        help="random seed (default: %(default)s)")
    return parser


def prepare_out(path: Path, parser: argparse.ArgumentParser | None = None) -> Path:
    """Create the output folder (and parents), check that files can be written there, return it.

    With ``parser``, a folder that cannot be created or written to ends the
    program through ``parser.error`` (one line, exit status 2); without, the
    :class:`OSError` propagates.
    """
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        if parser is None:
            raise
        parser.error(f"--out {path}: cannot write there ({exc.strerror or exc})")
    return path


def write_table(rows: list[dict], path_stem: Path) -> tuple[Path, Path]:
    """Write ``rows`` (dicts with the same keys) as ``.csv`` and strict ``.json``.

    The JSON is standard: non-finite values (``inf`` KL, ``nan`` derivatives)
    are written as ``null``; the CSV keeps ``inf``/``nan``.
    """
    path_stem = Path(path_stem)
    csv_path = path_stem.with_suffix(".csv")
    json_path = path_stem.with_suffix(".json")
    with csv_path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    json_path.write_text(strict_json(rows, indent=1) + "\n")
    return csv_path, json_path
