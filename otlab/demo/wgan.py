"""Train a GAN/WGAN on toy data and check the critic against the exact W_1 (POT).

``--quick`` is the CPU version of the story: WGAN-GP on 8 Gaussians with
small networks and a gradient penalty of 1, where the critic's estimate tracks
the exact distance and every mode is covered, next to the minimax GAN trained
with the same budget, which collapses onto a few modes (``--compare``).  ``--data digits --arch
conv`` trains the DCGAN-style convolutional pair on the 8x8 digits.
``torchrun --nproc_per_node N -m otlab.demo wgan ...`` trains data-parallel on
``N`` processes (``--batch-size`` points each); rank 0 writes the files.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys

from ._common import (
    add_device_option,
    demo_parser,
    device_note,
    format_value,
    non_negative_float,
    non_negative_int,
    paper_default_text,
    positive_float,
    positive_int,
    prepare_out,
    resolve_device,
    train_or_exit,
    write_table,
)

__all__ = ["main", "build_parser", "slow_on_cpu", "QUICK", "FULL"]

#: Run length and evaluation interval when neither they nor ``--quick`` are given.
FULL = {"iters": 20_000, "eval_every": 500}

#: ``--quick``: the settings picked by ``benchmarks/quick_wgan.py`` (8 Gaussians, ten
#: seeds; ``benchmarks/reports/quick_wgan.md``); options given explicitly still win.
QUICK = {"iters": 2000, "eval_every": 200, "hidden": 64, "batch_size": 256, "lr_d": 1e-3,
         "lr_g": 3e-4, "betas": (0.5, 0.9), "penalty": 1.0}

#: CPU time of the whole ``--quick`` demo (both runs, evaluations and figures), measured.
QUICK_CPU_TIME = "about 90 s"

HELP = f"""\
Train a GAN or WGAN on a toy data set and check, while it trains, the critic's
estimate E D(x) - E D(G(z)) against the exact W_1 between real and generated
samples (POT's network simplex, in a background thread).

--quick is a CPU run ({QUICK_CPU_TIME} of CPU time): WGAN-GP on 8 Gaussians with
3x{QUICK["hidden"]} MLPs, whose critic estimate tracks the exact W_1 and which covers
every mode, next to the minimax GAN with the same budget, which collapses onto a
few modes. Without --quick the papers' settings are used (3x512 MLPs, 20000
iterations: a GPU run; the default --device auto trains on the GPU when torch
sees one, else on the CPU, and says which).
"""

#: Loss trained next to ``--loss`` with the same budget when ``--quick`` is given.
QUICK_COMPARE = "gan"

#: Settings the compared loss takes from its own paper setup unless given explicitly.
_LOSS_SPECIFIC = ("n_critic", "optimizer", "clip", "penalty")

_OVERRIDES = {  # option -> (type, help); the metavar follows the demos' convention (N, X, LR)
    "batch_size": (positive_int, "real and fake samples per step"),
    "n_critic": (positive_int, "critic steps per generator step"),
    "lr_g": (positive_float, "generator learning rate"),
    "lr_d": (positive_float, "critic learning rate"),
    "betas": (non_negative_float, "Adam's beta1 and beta2 (two numbers in [0, 1))"),
    "optimizer": (str, "adam or rmsprop"),
    "lr_decay": (str, "learning-rate schedule: none, or linear decay to 0 over the run"),
    "clip": (positive_float, "weight-clipping bound of --loss wgan"),
    "penalty": (non_negative_float, "gradient-penalty weight lambda of wgan-gp/wgan-lp"),
    "hidden": (positive_int, "hidden width of both MLPs (conv: 8 x base channels)"),
    "depth": (positive_int, "hidden layers of both MLPs"),
    "z_dim": (positive_int, "latent dimension"),
    "eval_samples": (positive_int, "real and generated samples per evaluation"),
    "log_every": (positive_int, "iterations between loss logs and NaN checks"),
    "checkpoint_every": (non_negative_int, "iterations between checkpoints (0: at the end)"),
}


def _default_text(name: str) -> str:
    """What an override defaults to: the paper value per loss, and the --quick value."""
    from ..gan.config import LOSSES, TrainConfig

    return paper_default_text(name, TrainConfig.for_loss, LOSSES, quick=QUICK)


def _quick_help() -> str:
    q = QUICK
    return (f"small CPU run ({QUICK_CPU_TIME} of CPU time): {q['iters']} iterations, "
            f"3x{q['hidden']} MLPs, batch {q['batch_size']}, critic/generator learning rates "
            f"{q['lr_d']:g}/{q['lr_g']:g}, Adam betas {format_value(q['betas'])}, gradient-penalty "
            f"weight {q['penalty']:g}, an evaluation of {q.get('eval_samples', 2048)} samples "
            f"every {q['eval_every']} iterations, and the minimax GAN trained next to it; "
            f"options given explicitly still win (default: off)")


def build_parser():
    from ..gan.config import ARCHS, DATASETS, LOSSES, LR_DECAYS

    p = demo_parser("wgan", HELP)
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.add_argument("--data", default="8gaussians", choices=DATASETS,
                   help="data set (default: %(default)s)")
    p.add_argument("--loss", default="wgan-gp", choices=LOSSES,
                   help="gan (minimax), gan-ns (non-saturating), wgan (weight clipping), "
                        "wgan-gp (gradient penalty), wgan-lp (one-sided penalty), wgan-sn "
                        "(spectral norm) (default: %(default)s)")
    p.add_argument("--arch", default="mlp", choices=ARCHS,
                   help="network architecture; conv needs --data digits (default: %(default)s)")
    p.add_argument("--quick", action="store_true", help=_quick_help())
    p.add_argument("--compare", default=None, choices=("none", *LOSSES),
                   help="also train this loss with the same networks, batch, learning rates and "
                        "iterations (its own n_critic, optimiser and clipping unless given), and "
                        "draw both runs side by side (default: gan with --quick, none otherwise)")
    p.add_argument("--iters", type=positive_int, default=None,
                   help=f"generator iterations (default: {FULL['iters']}, the papers'; "
                        f"{QUICK['iters']} with --quick)")
    p.add_argument("--eval-every", type=non_negative_int, default=None, dest="eval_every",
                   help=f"iterations between exact-W evaluations, 0 for none (default: "
                        f"{FULL['eval_every']}; {QUICK['eval_every']} with --quick)")
    add_device_option(p)
    p.add_argument("--threads", type=positive_int, default=1,
                   help="torch CPU threads (default: %(default)s; small MLPs gain nothing "
                        "from more, and oversubscribed OpenMP threads are very slow)")
    p.add_argument("--resume", action="store_true",
                   help="continue from OUT/checkpoint.pt; the settings must be those of the "
                        "checkpoint, except --iters (default: off)")
    p.add_argument("--overwrite", action="store_true",
                   help="start afresh when OUT holds an earlier run, removing that run's files "
                        "(default: refuse such an OUT; --resume continues it)")
    p.add_argument("--no-cuda-graph", action="store_false", dest="cuda_graph", default=None,
                   help="on CUDA, run eagerly instead of replaying a CUDA graph (default: "
                        "graph on CUDA)")
    p.add_argument("--compile", action="store_true",
                   help="compile the losses with torch.compile: fused kernels, after a "
                        "compilation at the start (default: off)")
    p.add_argument("--no-progress", action="store_false", dest="progress",
                   help="no progress bar (default: a bar)")
    choices = {"optimizer": ("adam", "rmsprop"), "lr_decay": LR_DECAYS}
    for name, (kind, text) in _OVERRIDES.items():
        extra = {"nargs": 2} if name == "betas" else {}
        if name in choices:
            extra = {"choices": choices[name]}
        p.add_argument("--" + name.replace("_", "-"), dest=name, type=kind, default=None,
                       help=f"{text} {_default_text(name)}", **extra)
    return p


def slow_on_cpu(args) -> bool:
    """Whether parsed ``args`` ask for a long run with large networks on the CPU.

    >>> slow_on_cpu(build_parser().parse_args(["--iters", "20000", "--device", "cpu"]))
    True
    >>> slow_on_cpu(build_parser().parse_args(["--iters", "20000", "--device", "cpu",
    ...                                        "--hidden", "64"]))
    False
    >>> slow_on_cpu(build_parser().parse_args(["--iters", "20000", "--device", "cuda"]))
    False
    """
    iters = FULL["iters"] if args.iters is None else args.iters
    device = resolve_device(None, "auto") if args.device == "auto" else str(args.device)
    return (device.startswith("cpu") and not args.quick and iters >= 5000
            and (args.hidden is None or args.hidden >= 256))


def short_with_paper_rates(args) -> bool:
    """Whether ``args`` ask for far fewer iterations than the papers' learning rates need.

    >>> short_with_paper_rates(build_parser().parse_args(["--iters", "400"]))
    True
    >>> short_with_paper_rates(build_parser().parse_args(["--iters", "400", "--quick"]))
    False
    """
    return (not args.quick and args.iters is not None and args.iters < 5000
            and args.lr_g is None and args.lr_d is None)


def _configs(parser, args):
    """The TrainConfig of ``--loss`` and, when compared, of the other loss (same budget)."""
    from ..gan import PAPER_DEFAULTS, TrainConfig

    presets = (QUICK, FULL) if args.quick else (FULL,)
    for preset in presets:  # explicit options win
        for name, value in preset.items():
            if getattr(args, name) is None:
                setattr(args, name, value)
    overrides = {k: getattr(args, k) for k in _OVERRIDES if getattr(args, k) is not None}
    compare = args.compare or (QUICK_COMPARE if args.quick else "none")
    common = dict(data=args.data, arch=args.arch, iters=args.iters, device=args.device,
                  seed=args.seed, eval_every=args.eval_every, resume=args.resume,
                  overwrite=args.overwrite,
                  cuda_graph=args.cuda_graph, compile=args.compile, progress=args.progress,
                  **overrides)
    try:
        primary = TrainConfig.for_loss(args.loss, out=args.out, **common)
        other = None
        if compare not in ("none", args.loss):
            # the same networks, batch, learning rates and iterations; what defines the other
            # loss's training (its critic steps, optimiser, clipping) from its paper setup
            own = {k: v for k, v in PAPER_DEFAULTS[compare].items()
                   if k in _LOSS_SPECIFIC and k not in overrides}
            other = primary.replace(loss=compare, out=args.out / f"compare-{compare}", **own)
    except (TypeError, ValueError) as exc:
        parser.error(str(exc))
    return primary, other


def _notes(args, config) -> None:
    """Print what the options will cost or fail to show, before training starts."""
    if slow_on_cpu(args):
        print("note: the papers' settings (3x512 MLPs) cost about 0.3 s per iteration on one "
              "CPU thread; --quick runs a small version, --device cuda the full one")
    if short_with_paper_rates(args):
        print(f"note: with the papers' learning rates ({config.lr_d:g} for the critic) WGAN "
              f"training needs about 20000 iterations; in {config.iters} the generator barely "
              f"moves and the exact W1 stays near its start. --quick uses larger learning "
              f"rates and smaller networks that make the point in {QUICK['iters']} iterations")


def _check_run_folders(parser, configs) -> None:
    """Refuse (exit 2, one line) before anything trains when a run folder holds an earlier run."""
    from ..gan import RunFolder, RunFolderError

    try:
        for cfg in configs:
            RunFolder(cfg.out).check(resume=cfg.resume, overwrite=cfg.overwrite)
    except RunFolderError as exc:
        parser.error(str(exc))


def _report(loss, history, floor):
    """Print one run's summary line and return :func:`otlab.gan.figures.summary`."""
    from ..gan.figures import correlation_text, summary
    from ..gan.losses import WASSERSTEIN_LOSSES

    s = summary(history)
    if s["n_evaluations"] == 0:
        print(f"{loss}: no evaluation of the exact W1 (--eval-every 0)")
        return s
    first = next((r["exact_w1"] for r in history if r["exact_w1"] is not None), None)
    later = [r["critic_estimate"] for r in history
             if r["iteration"] > 0 and r["critic_estimate"] is not None]
    start = "" if first is None else f"exact W1 {first:.4f} at the start, "
    modes = "" if s["modes_covered"] is None else (
        f"; modes covered {s['modes_covered']}, {s['high_quality']:.1f} % of the generated "
        f"samples within 3 sigma of a mode")
    if loss in WASSERSTEIN_LOSSES:
        sign = "" if not later else (
            "; > 0 at every evaluation after iteration 0" if min(later) > 0 else
            f"; <= 0 at {sum(v <= 0 for v in later)} of {len(later)} evaluations after "
            f"iteration 0")
        critic = (f"critic estimate {s['final_critic_estimate']:.4f}{sign}; "
                  f"{correlation_text(s)} with the exact W1 over the trained critic's "
                  f"evaluations")
    else:
        critic = (f"discriminator logit gap E D(x) - E D(G(z)) {s['final_critic_estimate']:.4f} "
                  f"(a score, not a distance)")
    print(f"{loss}: {start}final exact W1 {s['final_exact_w1']:.4f} (two sets of real "
          f"samples: {floor:.4f}); {critic}{modes}")
    return s


def main(argv=None):
    from ..distributed.launch import process_group
    from ..gan.metrics import sampling_floor
    from ..gan.figures import plot_comparison, write_figures

    import torch

    parser = build_parser()
    args = parser.parse_args(argv)
    requested, args.device = args.device, resolve_device(parser, args.device)
    config, other = _configs(parser, args)
    out = prepare_out(args.out, parser)
    if other is not None:
        prepare_out(other.out, parser)
    _check_run_folders(parser, [config] if other is None else [config, other])
    torch.set_num_threads(args.threads)
    with process_group(config.device) as replica:  # torchrun: data parallel
        if replica.rank == 0:
            print(device_note(requested, args.device))
            _notes(args, config)
        runs = {config.loss: (config, train_or_exit(parser, config, replica=replica))}
        if other is not None:
            runs[other.loss] = (other, train_or_exit(parser, other, replica=replica))
    if replica.rank != 0:  # rank 0 alone writes files and prints
        return 0
    floor = sampling_floor(args.data, config.eval_samples, draws=3, seed=args.seed).mean()
    rows, written = [], []
    arch = "" if args.arch == "mlp" else f" ({args.arch})"
    for loss, (cfg, history) in runs.items():
        paths = write_figures(history, cfg.out, title=f"{loss} on {args.data}{arch}",
                              world_size=replica.world_size, loss=loss)
        written += paths.values()
        s = _report(loss, history, floor)
        s["high_quality_percent"] = s.pop("high_quality")
        rows.append({"loss": loss, "data": args.data, "arch": args.arch, "iters": cfg.iters,
                     "world_size": replica.world_size, **s, "real_vs_real_w1": float(floor)})
    if other is not None:
        written.append(plot_comparison({loss: (h, cfg.out) for loss, (cfg, h) in runs.items()},
                                       out / "comparison.png", floor=float(floor),
                                       data=args.data))
    written += write_table(rows, out / "summary_table")
    if replica.world_size > 1:
        print(f"data parallel: {replica.world_size} processes x batch {config.batch_size} = "
              f"{replica.world_size * config.batch_size} points per step")
    print("wrote " + ", ".join(str(p) for p in written))
    print("config: " + ", ".join(f"{k}={v}" for k, v in dataclasses.asdict(config).items()))
    sys.stdout.flush()
    return 0
