"""Pieces every demo shares: the argument parser, option types, the output folder, tables."""

from __future__ import annotations

import argparse
import csv
import math
import re
import tempfile
from pathlib import Path

from .._json import strict_json

__all__ = ["demo_parser", "prepare_out", "write_table", "positive_int", "int_at_least",
           "non_negative_int", "positive_float", "non_negative_float", "finite_float",
           "out_folder", "add_device_option", "resolve_device", "device_note", "METAVARS",
           "format_value", "paper_default_text", "train_or_exit"]


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


def out_folder(text: str) -> Path:
    """argparse type: a non-empty folder path (``""`` would silently mean the current folder).

    >>> out_folder("runs/a")
    PosixPath('runs/a')
    >>> out_folder("")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: must be a folder path; got '' (use . for the current folder)
    """
    if not text.strip():
        raise argparse.ArgumentTypeError(
            f"must be a folder path; got {text!r} (use . for the current folder)")
    return Path(text)


#: The metavar of an option, by the type of its value: one convention for every demo.
METAVARS = {"int": "N", "float": "X", "lr": "LR", "path": "DIR", "device": "DEVICE"}


def _metavar(dest: str, kind) -> str | None:
    """The conventional metavar of an option storing ``dest`` with argparse type ``kind``."""
    if dest.startswith("lr"):
        return METAVARS["lr"]
    if kind in (positive_int, non_negative_int) or getattr(kind, "__name__", "").startswith(
            "integer"):
        return METAVARS["int"]
    if kind in (positive_float, non_negative_float, finite_float):
        return METAVARS["float"]
    if kind in (out_folder, Path):
        return METAVARS["path"]
    return None


class _DemoParser(argparse.ArgumentParser):
    """An argument parser whose options get their metavar from :data:`METAVARS` by type:
    ``N`` for integers (counts, sizes, seeds), ``X`` for other numbers, ``LR`` for learning
    rates, ``DIR`` for folders; an explicit ``metavar`` still wins."""

    def add_argument(self, *args, **kwargs):
        if args and args[0].startswith("-") and "metavar" not in kwargs and "choices" not in kwargs:
            dest = kwargs.get("dest") or args[-1].lstrip("-").replace("-", "_")
            metavar = _metavar(dest, kwargs.get("type"))
            if metavar is not None:
                kwargs["metavar"] = metavar
        return super().add_argument(*args, **kwargs)


def demo_parser(name: str, description: str) -> argparse.ArgumentParser:
    """Parser with the options every demo has: ``--out`` and ``--seed``."""
    parser = _DemoParser(prog=f"python -m otlab.demo {name}", description=description)
    parser.add_argument("--out", type=out_folder, default=Path("demo-out") / name,
                        help="folder for figures and tables, created if needed "
                             "(default: %(default)s)")
    parser.add_argument("--seed", type=non_negative_int, default=0,
                        help="random seed (default: %(default)s)")
    return parser


def add_device_option(parser: argparse.ArgumentParser) -> None:
    """``--device``: ``auto`` (the default: CUDA when there is a GPU, else the CPU), ``cpu``,
    ``cuda`` or ``cuda:N``."""
    parser.add_argument("--device", default="auto", metavar=METAVARS["device"],
                        help="auto, cpu, cuda or cuda:N; auto takes cuda when torch sees a "
                             "GPU, else cpu, and says which (default: %(default)s)")


def resolve_device(parser: argparse.ArgumentParser | None, device: str) -> str:
    """The device ``--device`` names, with ``auto`` resolved; a device that does not exist
    here ends the program through ``parser.error`` (one line, exit status 2).

    >>> resolve_device(None, "cpu")
    'cpu'
    >>> resolve_device(None, "auto") in ("cpu", "cuda")
    True
    """
    import torch

    def error(message):
        if parser is None:
            raise ValueError(message)
        parser.error(message)

    device = str(device)
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device != "cpu" and not re.fullmatch(r"cuda(:\d+)?", device):
        error(f"--device must be auto, cpu, cuda or cuda:N; got {device!r}")
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            error(f"--device {device}: CUDA is not available on this machine "
                  f"(torch {torch.__version__}); use --device cpu or auto")
        index = int(device.partition(":")[2] or 0)
        if index >= torch.cuda.device_count():
            error(f"--device {device}: this machine has {torch.cuda.device_count()} CUDA "
                  f"device(s), numbered from 0")
    return device


def device_note(requested: str, device: str) -> str:
    """The line a demo prints about the device it trains on.

    >>> device_note("auto", "cpu")
    'device: cpu (--device auto: torch sees no CUDA device)'
    >>> device_note("cuda", "cuda")
    'device: cuda'
    """
    if requested != "auto":
        return f"device: {device}"
    why = "a CUDA device is available" if device.startswith("cuda") else \
        "torch sees no CUDA device"
    return f"device: {device} (--device auto: {why})"


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


def format_value(value) -> str:
    """A setting as the help texts show it.

    >>> format_value(1e-4), format_value((0.5, 0.9)), format_value(256)
    ('0.0001', '(0.5, 0.9)', '256')
    """
    if isinstance(value, tuple):
        return "(" + ", ".join(format_value(v) for v in value) + ")"
    return f"{value:g}" if isinstance(value, float) else str(value)


def paper_default_text(name: str, make, losses, *, quick: dict | None = None,
                       full: dict | None = None) -> str:
    """``"(default: ...)"`` of a training option: its value, per loss where losses differ.

    ``make(loss)`` is the configuration a loss gets by default (its paper
    settings); ``full`` and ``quick`` are the presets applied without and
    with ``--quick``.  ``z_dim`` left at ``None`` means the data's latent
    dimension (2, or 16 for the digits).

    >>> from otlab.gan.config import TrainConfig
    >>> paper_default_text("lr_d", TrainConfig.for_loss, ("gan", "wgan"), quick={"lr_d": 1e-3})
    '(default: 0.0001 for gan; 5e-05 for wgan; --quick: 0.001)'
    >>> paper_default_text("z_dim", TrainConfig.for_loss, ("gan", "wgan"))
    '(default: 2; 16 for digits)'
    """
    if full and name in full:
        paper = format_value(full[name])
    else:
        values: dict[str, list[str]] = {}
        for loss in losses:
            values.setdefault(format_value(getattr(make(loss), name)), []).append(loss)
        if name == "z_dim" and set(values) == {"None"}:
            paper = "2; 16 for digits"
        elif len(values) == 1:
            paper = next(iter(values))
        else:
            paper = "; ".join(f"{v} for {', '.join(group)}" for v, group in values.items())
    extra = f"; --quick: {format_value(quick[name])}" if quick and name in quick else ""
    return f"(default: {paper}{extra})"


def train_or_exit(parser: argparse.ArgumentParser, config, **kwargs):
    """:func:`otlab.gan.train` ``(config, **kwargs)``; what stops it ends the program in one line.

    A checkpoint that cannot be resumed exits 2 (``parser.error``), a loss
    that became NaN exits 1, and Ctrl-C (after the training loop has written
    its checkpoint) exits 130 with how to continue.
    """
    from ..gan import CheckpointError, NonFiniteLossError, train

    try:
        return train(config, **kwargs)
    except CheckpointError as exc:
        parser.error(str(exc))
    except NonFiniteLossError as exc:
        parser.exit(1, f"{parser.prog}: training stopped: {exc}\n")
    except KeyboardInterrupt:
        parser.exit(130, f"{parser.prog}: interrupted; --resume continues the run\n")
