"""pix2pix on the digits: the paper's ablation (L1 only, cGAN only, cGAN + L1), measured exactly.

Trains a small U-Net against a PatchGAN on a paired task built from the 8x8
digits (``--task inpaint``: the lower half erased; ``superres``: 2x2 block
means) once per variant, with the same budget, and measures on 360 held-out
pairs: the mean absolute error (L1), the PSNR and the exact W_1 between the
set of generated images and the set of real targets.  Writes
``pix2pix.png``, ``summary.json`` and one run folder per variant.
"""

from __future__ import annotations

from ._common import demo_parser
from ._family import (
    add_training_options,
    configure,
    non_negative_float,
    parse,
    train_runs,
    training_overrides,
    variant_list,
    write_summary,
)

__all__ = ["main", "build_parser", "QUICK", "FULL"]

#: ``--quick``: 600 iterations with 16 base channels, learning rates 1e-3 (about 20 s of CPU
#: per variant); options given explicitly still win.
QUICK = {"iters": 600, "hidden": 128, "lr_g": 1e-3, "lr_d": 1e-3, "eval_every": 150}
#: Without ``--quick``: the paper's optimiser (Adam 2e-4, betas (0.5, 0.999)) for 4000
#: iterations, 32 base channels, batch 64.
FULL = {"iters": 4000, "eval_every": 500}


def build_parser():
    from ..gan.family import family_module

    pix2pix = family_module("pix2pix")
    p = demo_parser("pix2pix", __doc__.strip().splitlines()[0])
    p.add_argument("--task", default="inpaint", choices=pix2pix.TASKS,
                   help="the degradation to undo (default: %(default)s)")
    p.add_argument("--variants", type=variant_list(pix2pix.VARIANTS),
                   default=list(pix2pix.VARIANTS), metavar="LIST",
                   help="comma-separated ablation variants to train "
                        "(default: " + ",".join(pix2pix.VARIANTS) + ")")
    p.add_argument("--l1-weight", type=non_negative_float, default=100.0,
                   help="lambda of the L1 term in the variants that have one "
                        "(default: %(default)s, the paper's)")
    p.add_argument("--loss", default="gan-ns", choices=("gan", "gan-ns"),
                   help="adversarial objective: minimax or non-saturating "
                        "(default: %(default)s, the paper's)")
    p.add_argument("--dropout", type=non_negative_float, default=0.5,
                   help="dropout of the U-Net's inner decoder layers, the generator's noise "
                        "(default: %(default)s)")
    add_training_options(p, quick=QUICK, full=FULL, make=_paper_config, losses=("gan", "gan-ns"),
                         exclude=("depth", "z_dim", "penalty", "eval_samples"))
    return p


def _paper_config(loss: str):
    from ..gan.family import family_module

    return family_module("pix2pix").Pix2PixConfig.for_variant("cgan+l1", loss=loss)


def _configs(args) -> dict:
    from ..gan.family import family_module

    pix2pix = family_module("pix2pix")
    configs = {}
    for name in args.variants:
        weights = {k: (args.l1_weight if k == "l1_weight" and v else v)
                   for k, v in pix2pix.VARIANTS[name].items()}
        configs[name] = pix2pix.Pix2PixConfig.for_variant(
            name, **weights, task=args.task, loss=args.loss, dropout=args.dropout,
            out=args.out / name, **training_overrides(args))
    return configs


def main(argv=None):
    from ..gan.family_figures import plot_translations
    from ..gan.family import family_module
    from ..plotting import save_figure

    parser = build_parser()
    args = parse(parser, argv, quick=QUICK, full=FULL)
    out = args.out
    configs = configure(parser, args, lambda: _configs(args))
    histories = train_runs(parser, configs)
    runs = {name: {"out": out / name, "history": h} for name, h in histories.items()}
    pix2pix = family_module("pix2pix")
    reference = pix2pix.reference_scores(args.task)
    png = save_figure(plot_translations(runs, reference=reference), out / "pix2pix.png",
                      dpi=110)
    cfg = next(iter(configs.values()))
    summary = {"task": args.task, "loss": args.loss, "iters": cfg.iters, "seed": args.seed,
               "l1_weight": args.l1_weight,
               "held_out_pairs": len(pix2pix.paired_digits(args.task)["test"][1]),
               **{key: {name: h[-1][key] for name, h in histories.items()}
                  for key in ("l1", "psnr", "exact_w1", "critic_estimate")},
               "unpaired_exact_w1": {name: h[-1]["unpaired_w1"] for name, h in histories.items()},
               "input": reference["input"], "real_vs_real_w1": reference["real_vs_real_w1"]}
    path = write_summary(out, summary, why={"psnr": "identical images: the PSNR is infinite"})
    for name in histories:
        print(f"{name:8s} held-out L1 {summary['l1'][name]:.4f}, PSNR "
              f"{summary['psnr'][name]:.2f} dB, exact W1 to the targets "
              f"{summary['exact_w1'][name]:.4f}, to as many training digits "
              f"{summary['unpaired_exact_w1'][name]:.4f}")
    inp = reference["input"]
    print(f"the degraded inputs themselves: L1 {inp['l1']:.4f}, PSNR {inp['psnr']:.2f} dB, "
          f"exact W1 {inp['exact_w1']:.4f} and {inp['unpaired_w1']:.4f}; real training digits "
          f"vs the held-out targets: exact W1 {reference['real_vs_real_w1']:.4f}")
    print(f"wrote {png}, {path}")
    return 0
