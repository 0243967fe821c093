"""Train a GAN/WGAN on toy data and check the critic against the exact W_1 (POT).

``--data digits --arch conv`` trains the DCGAN-style convolutional pair on the
8x8 digits; the run folder gets ``training.gif``, one frame per evaluation.
``torchrun --nproc_per_node N -m otlab.demo wgan ...`` trains data-parallel on
``N`` processes (``--batch-size`` points each); rank 0 writes the files.
"""

from __future__ import annotations

import dataclasses

from ._common import demo_parser, prepare_out, write_table

__all__ = ["main", "build_parser", "slow_on_cpu", "QUICK"]

#: Run length and evaluation interval when neither they nor ``--quick`` are given.
FULL = {"iters": 20_000, "eval_every": 500}
#: ``--quick``: a small run for the CPU (15 s on one thread, measured on 8 Gaussians with
#: wgan-gp); options given explicitly still win.
QUICK = {"iters": 400, "eval_every": 100, "hidden": 64, "batch_size": 64, "lr_d": 2e-3,
         "lr_g": 2e-3}

_OVERRIDES = ("batch_size", "n_critic", "lr_g", "lr_d", "clip", "penalty", "hidden", "depth",
              "z_dim", "eval_samples", "log_every", "checkpoint_every", "optimizer")


def build_parser():
    from ..gan.config import ARCHS, DATASETS, LOSSES

    p = demo_parser("wgan", __doc__.strip())
    p.add_argument("--data", default="8gaussians", choices=DATASETS)
    p.add_argument("--loss", default="wgan-gp", choices=LOSSES)
    p.add_argument("--arch", default="mlp", choices=ARCHS,
                   help="network architecture; conv needs --data digits (default: %(default)s)")
    p.add_argument("--iters", type=int, default=None,
                   help="generator iterations (default: 20000, the papers'; 400 with --quick)")
    p.add_argument("--quick", action="store_true",
                   help="small CPU settings: 400 iterations, 3x64 MLPs, batch 64, learning "
                        "rates 2e-3, evaluation every 100; explicit options still win")
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default: %(default)s)")
    p.add_argument("--eval-every", type=int, default=None, dest="eval_every",
                   help="iterations between exact-W evaluations (default: 500; 100 with --quick)")
    p.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt")
    p.add_argument("--no-cuda-graph", action="store_false", dest="cuda_graph", default=None)
    p.add_argument("--compile", action="store_true",
                   help="compile the objectives with torch.compile (fused kernels; tens of "
                        "seconds of compilation at the start)")
    p.add_argument("--no-progress", action="store_false", dest="progress")
    p.add_argument("--threads", type=int, default=1,
                   help="torch CPU threads (default: %(default)s; small MLPs gain nothing "
                        "from more, and oversubscribed OpenMP threads are very slow)")
    types = {"batch_size": int, "n_critic": int, "hidden": int, "depth": int, "z_dim": int,
             "eval_samples": int, "log_every": int, "checkpoint_every": int, "optimizer": str}
    for name in _OVERRIDES:
        p.add_argument("--" + name.replace("_", "-"), dest=name, type=types.get(name, float),
                       default=None, help="override the paper default")
    return p


def slow_on_cpu(args) -> bool:
    """Whether parsed ``args`` ask for a long run with large networks on the CPU.

    >>> slow_on_cpu(build_parser().parse_args(["--iters", "20000"]))
    True
    >>> slow_on_cpu(build_parser().parse_args(["--iters", "20000", "--hidden", "64"]))
    False
    >>> slow_on_cpu(build_parser().parse_args(["--iters", "20000", "--device", "cuda"]))
    False
    """
    iters = FULL["iters"] if args.iters is None else args.iters
    return (str(args.device).startswith("cpu") and not args.quick and iters >= 5000
            and (args.hidden is None or args.hidden >= 256))


def main(argv=None):
    from ..distributed.launch import process_group
    from ..gan import TrainConfig, train
    from ..gan.figures import write_figures

    import torch

    parser = build_parser()
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    for preset in (QUICK, FULL) if args.quick else (FULL,):  # explicit options win
        for name, value in preset.items():
            if getattr(args, name) is None:
                setattr(args, name, value)
    overrides = {k: getattr(args, k) for k in _OVERRIDES if getattr(args, k) is not None}
    try:
        config = TrainConfig.for_loss(
            args.loss, data=args.data, arch=args.arch, iters=args.iters, device=args.device,
            seed=args.seed, eval_every=args.eval_every, resume=args.resume,
            cuda_graph=args.cuda_graph, compile=args.compile, progress=args.progress,
            out=args.out, **overrides)
    except (TypeError, ValueError) as exc:
        parser.error(str(exc))
    with process_group(config.device) as replica:  # torchrun: data parallel
        out = prepare_out(args.out) if replica.rank == 0 else None
        if slow_on_cpu(args) and replica.rank == 0:
            print("note: the papers' settings (3x512 MLPs) cost about 0.3 s per iteration on "
                  "one CPU thread; --quick runs a small version, --device cuda the full one")
        history = train(config, replica=replica)
    if replica.rank != 0:  # rank 0 alone writes files and prints
        return 0
    arch = "" if args.arch == "mlp" else f" ({args.arch})"
    paths = write_figures(history, out, title=f"{args.loss} on {args.data}{arch}",
                          world_size=replica.world_size)
    from ..gan.evaluation import sampling_floor
    from ..gan.figures import summary

    s = summary(history)
    floor = sampling_floor(args.data, config.eval_samples, draws=3, seed=args.seed).mean()
    write_table([{"loss": args.loss, "data": args.data, "arch": args.arch, "iters": args.iters,
                  "world_size": replica.world_size, **s, "real_vs_real_w1": floor}],
                out / "summary_table")
    first = next((r["exact_w1"] for r in history if r["exact_w1"] is not None), float("nan"))
    print(f"exact W1 {first:.4f} at the start, final exact W1 {s['final_exact_w1']:.4f} "
          f"(two sets of {config.eval_samples} real samples: {floor:.4f}), "
          f"critic estimate {s['final_critic_estimate']:.4f}, Pearson {s['pearson']:.3f}, "
          f"Spearman {s['spearman']:.3f} (trained critic, iteration > 0), "
          f"modes covered {s['modes_covered']}")
    if replica.world_size > 1:
        print(f"data parallel: {replica.world_size} processes x batch {config.batch_size} = "
              f"{replica.world_size * config.batch_size} points per step")
    print("wrote " + ", ".join(str(p) for p in paths.values()))
    print("config: " + ", ".join(f"{k}={v}" for k, v in dataclasses.asdict(config).items()))
    return 0
