"""The guide's cGAN, InfoGAN and pix2pix figures, drawn from the runs of ``gan_family.py``.

``gan_family.py`` trains each run into a folder ``<case>-<run>-<seed>`` (spaces
as ``_``) under its ``--runs-dir``; this script reads the last snapshot and
the history of the seed-0 runs (and of InfoGAN's 8 Gaussians seed 1) from one
or more such folders and writes the PNGs that ``docs/guide/cgan.rst``,
``infogan.rst`` and ``pix2pix.rst`` show.  Nothing is trained.

Usage::

    python -m benchmarks.gan_family_figures RUNS_DIR [RUNS_DIR ...] [--out docs/guide/figures]
"""

from __future__ import annotations

import argparse
from pathlib import Path

GUIDE_FIGURES = Path(__file__).resolve().parent.parent / "docs" / "guide" / "figures"

#: PNG name -> (kind, data set (pix2pix: task), {panel name: run folder}).
FIGURES = {
    "cgan_8gaussians.png": ("cgan", "8gaussians", {
        "cGAN": "cgan_8gaussians_gan-ns-concat-0",
        "unconditional": "cgan_8gaussians_gan-ns-none-0"}),
    "cgan_25gaussians.png": ("cgan", "25gaussians", {
        "cGAN": "cgan_25gaussians_gan-ns-concat-0",
        "unconditional": "cgan_25gaussians_gan-ns-none-0"}),
    "cgan_digits.png": ("cgan", "digits", {
        "cGAN": "cgan_digits_wgan-gp-concat-0",
        "unconditional": "cgan_digits_wgan-gp-none-0"}),
    "infogan_8gaussians_seed0.png": ("infogan", "8gaussians",
                                     {"": "infogan_8gaussians_gan-ns-K=8-0"}),
    "infogan_8gaussians_seed1.png": ("infogan", "8gaussians",
                                     {"": "infogan_8gaussians_gan-ns-K=8-1"}),
    "infogan_digits.png": ("infogan", "digits", {"": "infogan_digits_wgan-gp-K=10-0"}),
    "infogan_digits_4000.png": ("infogan", "digits",
                                {"": "infogan_digits_wgan-gp_4000-K=10-0"}),
    "pix2pix.png": ("pix2pix", "inpaint", {
        v: f"pix2pix_digits_inpaint-{v}-0" for v in ("l1", "cgan", "cgan+l1")}),
}


def _find(name: str, dirs) -> Path | None:
    return next((d / name for d in dirs if (d / name / "history.jsonl").exists()), None)


def draw(kind: str, data: str, runs: dict):
    """The figure of one entry of :data:`FIGURES`; ``runs``: panel name -> run folder."""
    from otlab.gan.family_figures import plot_codes, plot_conditional, plot_translations
    from otlab.gan.families.pix2pix import reference_scores
    from otlab.gan.record import load_history

    loaded = {k: {"out": d, "history": load_history(d / "history.jsonl")}
              for k, d in runs.items()}
    if kind == "cgan":
        return plot_conditional({k: {**v, "conditioned": k != "unconditional"}
                                 for k, v in loaded.items()}, data)
    if kind == "infogan":
        (run,) = loaded.values()
        return plot_codes(run["out"], data, run["history"])
    return plot_translations(loaded, reference=reference_scores(data))


def main(argv=None) -> int:
    from otlab.plotting import save_figure

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("runs_dirs", type=Path, nargs="+", help="run folders of gan_family.py")
    p.add_argument("--out", type=Path, default=GUIDE_FIGURES,
                   help="folder of the PNGs (default: docs/guide/figures)")
    a = p.parse_args(argv)
    for png, (kind, data, names) in FIGURES.items():
        runs = {k: _find(name, a.runs_dirs) for k, name in names.items()}
        lost = [names[k] for k, d in runs.items() if d is None]
        if lost:
            print(f"skipped {png}: no run folder {', '.join(lost)}")
            continue
        print("wrote", save_figure(draw(kind, data, runs), a.out / png, dpi=90))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
