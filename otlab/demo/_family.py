"""Pieces the cgan, infogan and pix2pix demos share: options, presets, runs, summary.json."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from .._json import strict_json
from ._common import (
    add_device_option,
    format_value,
    non_negative_float,
    non_negative_int,
    paper_default_text,
    positive_float,
    positive_int,
    prepare_out,
    resolve_device,
    device_note,
    train_or_exit,
)

__all__ = ["positive_int", "non_negative_int", "positive_float", "non_negative_float",
           "add_model_options", "add_training_options", "parse", "configure",
           "training_overrides", "train_runs", "variant_list",
           "write_summary", "non_finite_keys"]

# Options every family demo has; each maps to the TrainConfig field of the same name.
_TRAINING = ("iters", "batch_size", "n_critic", "hidden", "depth", "z_dim", "eval_every",
             "eval_samples", "lr_g", "lr_d", "penalty")


def add_model_options(parser: argparse.ArgumentParser, *, data: str, loss: str,
                      arch: str) -> None:
    """``--data`` (a labelled data set), ``--loss`` and ``--arch``, with these help texts."""
    from ..gan.config import ARCHS, LOSSES
    from ..gan.data import LABELLED_DATASETS

    parser.add_argument("--data", default="8gaussians", choices=LABELLED_DATASETS,
                        help=f"{data} (default: %(default)s)")
    parser.add_argument("--loss", default="gan-ns", choices=LOSSES,
                        help=f"{loss} (default: %(default)s)")
    parser.add_argument("--arch", default="mlp", choices=ARCHS,
                        help=f"{arch} (default: %(default)s)")


def add_training_options(parser: argparse.ArgumentParser, *, quick: dict, full: dict,
                         make, losses, exclude=()) -> None:
    """The training options of the family demos, with help texts that show the numbers.

    An option left out takes its value from ``quick`` with ``--quick``, else
    from ``full``, else from ``make(loss)``, the configuration the loss gets
    by default (its paper settings; one value per loss where they differ).
    Options in ``exclude`` (settings the model does not use) are not offered.
    """
    p = parser
    p.add_argument("--quick", action="store_true",
                   help="small CPU settings (" + ", ".join(f"{k}={format_value(v)}"
                                                          for k, v in quick.items())
                        + "); options given explicitly still win (default: off)")
    helps = {"iters": "generator iterations", "batch_size": "samples per step",
             "n_critic": "critic steps per generator step",
             "hidden": "width of the hidden layers (convolutional models: 8 x base channels)",
             "depth": "hidden layers of the MLPs", "z_dim": "dimension of the noise z",
             "eval_every": "iterations between exact-W evaluations",
             "eval_samples": "real and generated samples per evaluation",
             "lr_g": "generator learning rate", "lr_d": "critic learning rate",
             "penalty": "gradient-penalty weight lambda (wgan-gp, wgan-lp)"}
    types = {"lr_g": positive_float, "lr_d": positive_float, "penalty": non_negative_float}
    for name in (n for n in _TRAINING if n not in exclude):
        text = paper_default_text(name, make, losses, quick=quick, full=full)
        p.add_argument("--" + name.replace("_", "-"), dest=name, type=types.get(name, positive_int),
                       default=None, help=f"{helps[name]} {text}")
    add_device_option(p)
    p.add_argument("--threads", type=positive_int, default=1,
                   help="torch CPU threads (default: %(default)s; small networks gain nothing "
                        "from more)")
    p.add_argument("--resume", action="store_true",
                   help="continue each run from its checkpoint in OUT (default: start afresh)")
    p.add_argument("--overwrite", action="store_true",
                   help="start afresh where OUT holds earlier runs, removing their files "
                        "(default: refuse such an OUT)")
    p.add_argument("--no-progress", action="store_false", dest="progress",
                   help="hide the progress bars (default: shown)")


def variant_list(variants):
    """argparse type: a comma-separated list of names of ``variants`` (duplicates dropped).

    >>> variant_list({"l1": {}, "cgan": {}})("cgan, l1,cgan")
    ['cgan', 'l1']
    >>> variant_list({"l1": {}})("l2")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: expected a comma-separated list of l1; got 'l2'
    """
    def parse(text: str) -> list[str]:
        names = [v.strip() for v in text.split(",") if v.strip()]
        unknown = [v for v in names if v not in variants]
        if not names or unknown:
            raise argparse.ArgumentTypeError(
                f"expected a comma-separated list of {', '.join(variants)}; got {text!r}")
        return list(dict.fromkeys(names))

    parse.__name__ = "variant list"
    return parse


def parse(parser: argparse.ArgumentParser, argv, *, quick: dict, full: dict):
    """Parse ``argv``, set the torch threads and fill the options left out from ``quick``
    (with ``--quick``) and ``full``."""
    import torch

    args = parser.parse_args(argv)
    args.device_requested, args.device = args.device, resolve_device(parser, args.device)
    torch.set_num_threads(args.threads)
    for preset in (quick, full) if args.quick else (full,):
        for name, value in preset.items():
            if getattr(args, name, None) is None:
                setattr(args, name, value)
    return args


def configure(parser: argparse.ArgumentParser, args, make):
    """``make()``, the run configurations; a setting they refuse exits 2 with its message.

    Then prepares ``args.out`` (a folder that cannot be written exits 2) and
    prints the device the runs train on.
    """
    try:
        configs = make()
    except (TypeError, ValueError) as exc:
        parser.error(str(exc))
    prepare_out(args.out, parser)
    print(device_note(args.device_requested, args.device))
    return configs


def training_overrides(args) -> dict:
    """The TrainConfig fields the command line sets (options left at ``None`` are omitted)."""
    fields = {k: getattr(args, k) for k in _TRAINING if getattr(args, k, None) is not None}
    return {**fields, "seed": args.seed, "device": args.device, "resume": args.resume,
            "overwrite": args.overwrite, "progress": args.progress}


def train_runs(parser: argparse.ArgumentParser, configs: dict) -> dict:
    """Train each configuration of ``configs`` (name -> config) in turn; return the histories.

    Every run folder is checked first (:meth:`otlab.gan.run_folder.RunFolder.check`), so
    an OUT holding earlier runs is refused before anything trains; a refused folder or
    checkpoint exits 2 with its one-line message, Ctrl-C exits 130
    (:func:`~otlab.demo._common.train_or_exit`).
    """
    from ..gan import CheckpointError
    from ..gan.run_folder import RunFolder

    try:
        for cfg in configs.values():
            RunFolder(cfg.out).check(resume=cfg.resume, overwrite=cfg.overwrite)
    except CheckpointError as exc:
        parser.error(str(exc))
    return {name: train_or_exit(parser, cfg) for name, cfg in configs.items()}


def non_finite_keys(value, prefix: str = "") -> list[str]:
    """Dotted paths of the non-finite floats in nested dicts and lists.

    >>> non_finite_keys({"a": {"b": [1.0, float("nan")]}, "c": float("inf")})
    ['a.b[1]', 'c']
    """
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in non_finite_keys(v, f"{prefix}{k}.")]
    if isinstance(value, (list, tuple)):
        return [p for i, v in enumerate(value)
                for p in non_finite_keys(v, f"{prefix.rstrip('.')}[{i}].")]
    if isinstance(value, float) and not math.isfinite(value):
        return [prefix.rstrip(".")]
    return []


def write_summary(out: Path, summary: dict, *, why: dict) -> Path:
    """Write ``out/summary.json`` as strict JSON (non-finite numbers become ``null``).

    Prints one line per value written as ``null``, with the reason ``why``
    gives for its top-level key (``why[key]``).
    """
    path = Path(out) / "summary.json"
    path.write_text(strict_json(summary, indent=1) + "\n")
    for key in non_finite_keys(summary):
        top = key.split(".")[0].split("[")[0]
        print(f"summary.json: {key} is null ({why.get(top, 'not a finite number')})")
    return path
