"""InfoGAN: does a categorical code pick one mode? Exact mutual information vs the bound L_I.

Trains InfoGAN (a categorical code of K values, optional continuous codes,
an auxiliary head Q on the critic's body) and measures, on points generated
with every code value equally often: the mutual information between the
code and the class of the point (nearest mode, or the digit a 3-NN
classifier reads) computed exactly from the counts, next to the variational
lower bound L_I; the fraction of modes one code value owns; and the exact
W_1 of each code value's points to the real points of its matched class.
Writes ``infogan.png``, ``summary.json`` and the run folder ``run/``.
"""

from __future__ import annotations

import math

from ..gan.config import LOSSES
from ._common import demo_parser
from ._family import (
    add_model_options,
    add_training_options,
    configure,
    non_negative_float,
    non_negative_int,
    parse,
    positive_int,
    train_runs,
    training_overrides,
    write_summary,
)

__all__ = ["main", "build_parser", "QUICK", "FULL"]

#: ``--quick``: 1500 iterations of 3 x 64 MLPs, batch 64, learning rates 1e-3 (about 25 s of
#: CPU on 8 Gaussians with gan-ns); options given explicitly still win.
QUICK = {"iters": 1500, "hidden": 64, "batch_size": 64, "lr_g": 1e-3, "lr_d": 1e-3,
         "eval_every": 250, "eval_samples": 1024}
#: Without ``--quick``: the loss's paper defaults (3 x 512 MLPs, batch 256) for 10000 iterations.
FULL = {"iters": 10_000, "eval_every": 500}


def build_parser():
    p = demo_parser("infogan", __doc__.strip().splitlines()[0])
    add_model_options(p, data="labelled data (the labels are only used to measure)",
                      loss="training objective (gan-ns as in the InfoGAN paper)",
                      arch="networks: MLPs, or the convolutional pair (digits)")
    p.add_argument("--codes", type=positive_int, default=None,
                   help="K, the values of the categorical code (default: the number of "
                        "classes of --data)")
    p.add_argument("--continuous", type=non_negative_int, default=0,
                   help="continuous codes u ~ U[-1, 1] (default: %(default)s)")
    p.add_argument("--info-weight", type=non_negative_float, default=1.0,
                   help="lambda of the code's cross-entropy in both objectives "
                        "(default: %(default)s, the paper's)")
    p.add_argument("--continuous-weight", type=non_negative_float, default=0.1,
                   help="lambda of the continuous codes' negative log-likelihood "
                        "(default: %(default)s)")
    add_training_options(p, quick=QUICK, full=FULL, make=_paper_config, losses=LOSSES)
    return p


def _paper_config(loss: str):
    from ..gan.family import family_module

    return family_module("infogan").InfoGANConfig.for_loss(loss)


def main(argv=None):
    from ..gan.family_figures import plot_codes
    from ..gan.family import family_module
    from ..plotting import save_figure

    parser = build_parser()
    args = parse(parser, argv, quick=QUICK, full=FULL)
    out = args.out
    InfoGANConfig = family_module("infogan").InfoGANConfig
    cfg = configure(parser, args, lambda: InfoGANConfig.for_loss(
        args.loss, data=args.data, arch=args.arch, out=out / "run", n_codes=args.codes,
        n_continuous=args.continuous, info_weight=args.info_weight,
        continuous_weight=args.continuous_weight, **training_overrides(args)))
    history = train_runs(parser, {"run": cfg})["run"]
    png = save_figure(plot_codes(out / "run", args.data, history), out / "infogan.png", dpi=110)
    last, k = history[-1], cfg.codes
    summary = {"data": args.data, "loss": args.loss, "arch": args.arch, "iters": cfg.iters,
               "seed": args.seed, "eval_samples": cfg.eval_samples, "codes": k,
               "n_continuous": cfg.n_continuous, "log_k": math.log(k),
               "mutual_information": last["mutual_information"],
               "mi_lower_bound": last["mi_lower_bound"],
               "modes_owned_fraction": last["modes_owned_fraction"],
               "code_purity": last["code_purity"],
               "per_code_exact_w1": [last[f"w1_code_{c}"] for c in range(k)],
               "mean_code_exact_w1": last["mean_code_w1"],
               "exact_w1": last["exact_w1"], "classes_covered": last["classes_covered"]}
    if cfg.n_continuous:
        summary["continuous_lower_bound"] = last["continuous_lower_bound"]
    path = write_summary(out, summary, why={
        "per_code_exact_w1": "a code value left without a class (more code values than "
                             "classes) has no W1"})
    print(f"mutual information of code and class (exact, from counts) "
          f"{summary['mutual_information']:.4f} nats, variational bound L_I "
          f"{summary['mi_lower_bound']:.4f}, log K {math.log(k):.4f}")
    print(f"classes owned by one code value {summary['modes_owned_fraction']:.0%}, code "
          f"purity {summary['code_purity']:.3f}, mean exact W1 per code value "
          f"{summary['mean_code_exact_w1']:.4f}, exact W1 of all points "
          f"{summary['exact_w1']:.4f}, classes covered {summary['classes_covered']}")
    print(f"wrote {png}, {path}")
    return 0
