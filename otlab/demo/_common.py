"""Pieces every demo shares: the argument parser and the output folder."""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

__all__ = ["demo_parser", "prepare_out", "write_table"]


def demo_parser(name: str, description: str) -> argparse.ArgumentParser:
    """Parser with the options every demo has: ``--out`` and ``--seed``."""
    parser = argparse.ArgumentParser(prog=f"python -m otlab.demo {name}", description=description)
    parser.add_argument("--out", type=Path, default=Path("demo-out") / name,
                        help="folder for figures and tables (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    return parser


def prepare_out(path: Path) -> Path:
    """Create the output folder (and parents) and return it."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    return path


def write_table(rows: list[dict], path_stem: Path) -> tuple[Path, Path]:
    """Write ``rows`` (dicts with the same keys) as ``.csv`` and ``.json``."""
    path_stem = Path(path_stem)
    csv_path = path_stem.with_suffix(".csv")
    json_path = path_stem.with_suffix(".json")
    with csv_path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    json_path.write_text(json.dumps(rows, indent=1, default=float) + "\n")
    return csv_path, json_path
