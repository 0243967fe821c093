"""Train a GAN/WGAN on toy data and check the critic against the exact W_1 (POT)."""

from __future__ import annotations

import dataclasses

from ._common import demo_parser, prepare_out, write_table

__all__ = ["main", "build_parser"]

_OVERRIDES = ("batch_size", "n_critic", "lr_g", "lr_d", "clip", "penalty", "hidden", "depth",
              "z_dim", "eval_samples", "log_every", "checkpoint_every", "optimizer")


def build_parser():
    from ..gan.config import DATASETS, LOSSES

    p = demo_parser("wgan", __doc__.strip())
    p.add_argument("--data", default="8gaussians", choices=DATASETS)
    p.add_argument("--loss", default="wgan-gp", choices=LOSSES)
    p.add_argument("--iters", type=int, default=20_000)
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default: %(default)s)")
    p.add_argument("--eval-every", type=int, default=500, dest="eval_every")
    p.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt")
    p.add_argument("--no-cuda-graph", action="store_false", dest="cuda_graph", default=None)
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


def main(argv=None):
    from ..gan import TrainConfig, train
    from ..gan.figures import write_figures

    import torch

    args = build_parser().parse_args(argv)
    torch.set_num_threads(args.threads)
    out = prepare_out(args.out)
    overrides = {k: getattr(args, k) for k in _OVERRIDES if getattr(args, k) is not None}
    config = TrainConfig.for_loss(
        args.loss, data=args.data, iters=args.iters, device=args.device, seed=args.seed,
        eval_every=args.eval_every, resume=args.resume, cuda_graph=args.cuda_graph,
        progress=args.progress, out=out, **overrides)
    history = train(config)
    paths = write_figures(history, out, title=f"{args.loss} on {args.data}")
    from ..gan.figures import summary

    s = summary(history)
    write_table([{"loss": args.loss, "data": args.data, "iters": args.iters, **s}],
                out / "summary_table")
    print(f"final exact W1 {s['final_exact_w1']:.4f}, critic estimate "
          f"{s['final_critic_estimate']:.4f}, Pearson {s['pearson']:.3f}, "
          f"Spearman {s['spearman']:.3f}, modes covered {s['modes_covered']}")
    print("wrote " + ", ".join(str(p) for p in paths.values()))
    print("config: " + ", ".join(f"{k}={v}" for k, v in dataclasses.asdict(config).items()))
    return 0
