"""CycleGAN on the digits: unpaired translation to thick strokes, against the paired upper bound.

Trains CycleGAN between the 8x8 digits and the same digits with thickened
strokes, shown unpaired (``cyclegan``), its ablation without the cycle and
identity terms (``no-cycle``) and, as the paired upper bound, the same networks
trained with pix2pix's objective on the pairs themselves (``paired``), with the
same budget, and measures on 360 held-out pairs: the exact W_1 between the
set of translations and the set of real thick digits (and back), the cycle
reconstruction L1 and the L1 to the true translation.  Writes
``cyclegan.png``, ``summary.json`` and one run folder per variant.
"""

from __future__ import annotations

from ._common import demo_parser
from ._family import (
    add_training_options,
    configure,
    parse,
    train_runs,
    training_overrides,
    variant_list,
    write_summary,
)

__all__ = ["main", "build_parser", "QUICK", "FULL"]

#: ``--quick``: 300 iterations with 16 base channels, learning rates 1e-3 (about 10 s of CPU
#: per variant); options given explicitly still win.
QUICK = {"iters": 300, "lr_g": 1e-3, "lr_d": 1e-3, "eval_every": 100}
#: Without ``--quick``: Adam 2e-4, betas (0.5, 0.999) for 3000 iterations, batch 64.
FULL = {"iters": 3000, "eval_every": 500}

_KEYS = ("exact_w1", "exact_w1_ba", "cycle_l1", "translation_l1", "critic_estimate")


def _family():
    from ..gan.family import family_module

    return family_module("cyclegan")


def build_parser():
    variants = _family().VARIANTS
    p = demo_parser("cyclegan", __doc__.strip().splitlines()[0])
    p.add_argument("--variants", type=variant_list(variants), default=list(variants),
                   metavar="LIST",
                   help="comma-separated variants to train (default: " + ",".join(variants)
                        + ")")
    p.add_argument("--loss", default="gan-ns", choices=("gan", "gan-ns"),
                   help="adversarial objective: minimax or non-saturating (default: "
                        "%(default)s)")
    add_training_options(p, quick=QUICK, full=FULL, make=_paper_config, losses=("gan", "gan-ns"),
                         exclude=("depth", "z_dim", "penalty", "eval_samples"))
    return p


def _paper_config(loss: str):
    return _family().CycleGANConfig.for_variant("cyclegan", loss=loss)


def reference_scores() -> dict:
    """What the measures give without a generator: the untranslated images, and real vs real.

    ``identity``: the held-out digits themselves as translations (exact
    :math:`W_1` to the held-out thick digits); ``real_vs_real_w1``: the exact
    :math:`W_1` between the held-out thick digits and as many training ones.
    """
    from ..gan.metrics import exact_w1

    data = _family().split()
    a, b = data["test"]
    train_b = data["train"][1][:len(b)]
    return {"identity_w1": exact_w1(a, b), "real_vs_real_w1": exact_w1(b, train_b)}


def plot(runs: dict, reference: dict, *, n_examples: int = 10):
    """Held-out digits, each variant's translation and cycle, the targets; and the scores."""
    import numpy as np
    from matplotlib.figure import Figure

    from ..gan.figures import tile_images
    from ..gan.run_folder import RunFolder

    names = list(runs)
    snaps = {n: RunFolder(runs[n]["out"]).last_snapshot() for n in names}
    first = snaps[names[0]]
    rows, labels = [first["inputs"][:n_examples]], ["digit (A)"]
    for n in names:
        rows += [snaps[n]["fake"][:n_examples, :64], snaps[n]["fake"][:n_examples, 128:192]]
        labels += [f"{n}: G(a)", f"{n}: F(G(a))"]
    rows.append(first["real"][:n_examples, 64:])
    labels.append("thick (B)")
    fig = Figure(figsize=(12.5, 4.2), layout="constrained")
    axes = fig.subplots(1, 3, width_ratios=[2.2, 1, 1])
    axes[0].imshow(tile_images(np.concatenate(rows), n_rows=len(rows), n_cols=n_examples),
                   cmap="gray", vmin=-1.0, vmax=1.0, interpolation="nearest")
    axes[0].set_yticks(np.arange(len(rows)) * 9 + 3.5, labels, fontsize=7)
    axes[0].set_xticks([])
    axes[0].set_title(f"held-out digits, iteration {runs[names[0]]['history'][-1]['iteration']}",
                      fontsize=8)
    colours = [f"C{k}" for k in range(len(names))]
    last = {n: runs[n]["history"][-1] for n in names}
    ax = axes[1]
    ax.bar(names, [last[n]["exact_w1"] for n in names], color=colours)
    ax.axhline(reference["identity_w1"], color="k", ls=":", lw=1, label="digits untranslated")
    ax.axhline(reference["real_vs_real_w1"], color="0.4", ls="--", lw=1,
               label="training thick digits vs held-out ones")
    ax.set_ylabel("exact $W_1$, G(A) vs B (64-D, pixels in [-1, 1])")
    ax.set_title("translations vs target domain (lower is better)", fontsize=8)
    ax.legend(fontsize=6, loc="upper center", bbox_to_anchor=(0.5, -0.1))
    ax = axes[2]
    x = np.arange(len(names))
    ax.bar(x - 0.2, [last[n]["cycle_l1"] for n in names], 0.4, color=colours,
           label="cycle |F(G(a)) - a|, |G(F(b)) - b|")
    ax.bar(x + 0.2, [last[n]["translation_l1"] for n in names], 0.4, color=colours, alpha=0.45,
           hatch="//", label="|G(a) - b| to the true pair")
    ax.set_xticks(x, names)
    ax.set_ylabel("mean |error| (pixels in [0, 1])")
    ax.set_title("reconstruction and paired error (lower is better)", fontsize=8)
    ax.legend(fontsize=6, loc="upper center", bbox_to_anchor=(0.5, -0.1))
    for a in axes[1:]:
        a.tick_params(axis="x", labelsize=7)
    return fig


def main(argv=None):
    from ..plotting import save_figure

    cyclegan = _family()
    parser = build_parser()
    args = parse(parser, argv, quick=QUICK, full=FULL)
    out = args.out
    configs = configure(parser, args, lambda: {name: cyclegan.CycleGANConfig.for_variant(
        name, loss=args.loss, out=out / name, **training_overrides(args))
        for name in args.variants})
    histories = train_runs(parser, configs)
    runs = {name: {"out": out / name, "history": h} for name, h in histories.items()}
    reference = reference_scores()
    png = save_figure(plot(runs, reference), out / "cyclegan.png", dpi=110)
    cfg = next(iter(configs.values()))
    summary = {"source": cfg.source, "target": cfg.target, "loss": args.loss,
               "iters": cfg.iters, "seed": args.seed,
               "held_out_pairs": len(cyclegan.split()["test"][0]),
               "weights": {name: cyclegan.VARIANTS[name] for name in histories},
               **{key: {name: h[-1][key] for name, h in histories.items()} for key in _KEYS},
               **reference}
    path = write_summary(out, summary, why={})
    for name in histories:
        print(f"{name:9s} exact W1 of the translations to the thick digits "
              f"{summary['exact_w1'][name]:.4f} (back: {summary['exact_w1_ba'][name]:.4f}), "
              f"cycle L1 {summary['cycle_l1'][name]:.4f}, L1 to the true pair "
              f"{summary['translation_l1'][name]:.4f}")
    print(f"untranslated digits: exact W1 {reference['identity_w1']:.4f}; real thick digits vs "
          f"the held-out ones: {reference['real_vs_real_w1']:.4f}")
    print(f"wrote {png}, {path}")
    return 0
