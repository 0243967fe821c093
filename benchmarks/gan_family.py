"""Conditional GAN, InfoGAN and pix2pix against exact answers, over several seeds.

Three questions, each trained with :func:`otlab.gan.train` and measured with
the exact W_1 (POT's network simplex) and exact counts:

1. cGAN vs the unconditional GAN with the same networks, loss and budget:
   mean per-class exact W_1, classes covered, label accuracy (8 and 25
   Gaussians labelled by mode, 8x8 digits);
2. InfoGAN: exact mutual information between the code and the class
   (from the counts) next to the variational bound L_I, and the fraction of
   classes one code value owns (8 Gaussians, digits);
3. pix2pix on held-out digit pairs: L1, PSNR and exact W_1 for L1 only,
   cGAN only and cGAN + L1 (the paper's ablation).

Each finished run is appended to ``benchmarks/reports/gan_family_runs.jsonl``
(``--results``); a later call skips the runs already there, and the report
(``gan_family.md`` + ``gan_family.png``) is rebuilt from every run in the file.
``--jobs N`` trains N runs at once (processes); ``--time-budget`` stops
starting new runs after that many seconds.

Usage::

    python -m benchmarks.gan_family --seeds 0 1 2 --jobs 2      # the report (CPU, ~40 min CPU)
    python -m benchmarks.gan_family --report-only                 # rebuild from recorded runs
    python -m benchmarks.gan_family --quick --out /tmp/gf         # smoke run of the script
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import sys
import tempfile
from pathlib import Path

import numpy as np

from ._harness import (REPORTS, fields_key, markdown_table, measure, pyplot, run_grid, save_png,
                       write_report)

_SMALL = {"hidden": 64, "depth": 3, "batch_size": 64, "lr_g": 1e-3, "lr_d": 1e-3}
_DIGITS = {"hidden": 256, "depth": 3, "batch_size": 64, "lr_g": 1e-3, "lr_d": 1e-3,
           "eval_samples": 1000}

#: Every case: the model family, its data and loss, the runs compared and their settings
#: (the same for every run of a case: the same budget); ``seeds`` replaces ``--seeds``.
CASES = {
    "cgan 8gaussians gan-ns": {"kind": "cgan", "data": "8gaussians", "loss": "gan-ns",
                               "runs": ["concat", "none"],
                               "settings": {**_SMALL, "iters": 2000, "eval_every": 500}},
    "cgan 8gaussians wgan-gp": {"kind": "cgan", "data": "8gaussians", "loss": "wgan-gp",
                                "runs": ["concat", "none"],
                                "settings": {**_SMALL, "iters": 1000, "eval_every": 250}},
    "cgan 25gaussians gan-ns": {"kind": "cgan", "data": "25gaussians", "loss": "gan-ns",
                                "runs": ["concat", "none"],
                                "settings": {**_SMALL, "iters": 3000, "eval_every": 750}},
    "cgan digits wgan-gp": {"kind": "cgan", "data": "digits", "loss": "wgan-gp",
                            "runs": ["concat", "none"],
                            "settings": {**_DIGITS, "iters": 1200, "eval_every": 300}},
    "infogan 8gaussians gan-ns": {"kind": "infogan", "data": "8gaussians", "loss": "gan-ns",
                                  "runs": ["K=8"],
                                  "settings": {**_SMALL, "iters": 2000, "eval_every": 500}},
    "infogan digits wgan-gp": {"kind": "infogan", "data": "digits", "loss": "wgan-gp",
                               "runs": ["K=10"],
                               "settings": {**_DIGITS, "iters": 1200, "eval_every": 300}},
    "infogan digits wgan-gp 4000": {"kind": "infogan", "data": "digits", "loss": "wgan-gp",
                                    "runs": ["K=10"], "seeds": [0],
                                    "settings": {**_DIGITS, "iters": 4000, "eval_every": 500}},
    "pix2pix digits inpaint": {"kind": "pix2pix", "data": "digits", "loss": "gan-ns",
                               "runs": ["l1", "cgan", "cgan+l1"],
                               "settings": {"hidden": 128, "lr_g": 1e-3, "lr_d": 1e-3,
                                            "iters": 2000, "eval_every": 500,
                                            "task": "inpaint"}},
}
_QUICK = {"iters": 20, "eval_every": 10, "hidden": 16, "eval_samples": 128}


def _config(job: dict):
    from otlab.gan.families.conditional import CGANConfig
    from otlab.gan.families.infogan import InfoGANConfig
    from otlab.gan.families.pix2pix import Pix2PixConfig

    # a job not in the results is trained afresh, even into a folder an earlier try left
    common = {**job["settings"], "seed": job["seed"], "progress": False, "out": job["out"],
              "checkpoint_every": 0, "overwrite": True}
    if job["kind"] == "cgan":
        return CGANConfig.for_loss(job["loss"], data=job["data"], conditioning=job["run"],
                                   **common)
    if job["kind"] == "infogan":
        return InfoGANConfig.for_loss(job["loss"], data=job["data"], **common)
    common.pop("eval_samples", None)  # an evaluation of pix2pix uses every held-out pair
    return Pix2PixConfig.for_variant(job["run"], loss=job["loss"], **common)


def run_one(job: dict, *, runs_dir: str) -> dict:
    """Train one run (its folder under ``runs_dir``) and return its row: the final
    evaluation and the harness's measurement of the training (one run)."""
    import torch

    from otlab.gan import train

    torch.set_num_threads(1)
    out = str(Path(runs_dir) / f"{job['case']}-{job['run']}-{job['seed']}".replace(" ", "_"))
    m = measure(lambda: train(_config({**job, "out": out})), repeat=1, warmup=0)
    final = m.result[-1]
    return {"case": job["case"], "run": job["run"], "seed": job["seed"],
            "final": {k: v for k, v in final.items() if k not in ("d_loss", "g_loss")},
            "wall s": m.wall_s, "cpu s": m.cpu_s, "load": [m.load_before, m.load_after],
            "peak rss": m.peak_rss, "settings": job["settings"]}


#: Which recorded row answers which run.
KEY = fields_key("case", "run", "seed", "settings")


# ------------------------------------------------------------------ findings
def _mean(values) -> float:
    finite = [v for v in values if v is not None and math.isfinite(v)]
    return float(np.mean(finite)) if finite else math.nan


def _by_seed(rows, run, key) -> dict:
    return {r["seed"]: r["final"].get(key) for r in rows if r["run"] == run}


def _cgan_findings(case, rows) -> list[str]:
    key, over = "mean_class_w1", ""
    if any(r["final"].get(key) is None for r in rows):  # a class never generated
        key, over = "mean_generated_class_w1", " (over the classes generated)"
    cond, unc = (_by_seed(rows, run, key) for run in ("concat", "none"))
    seeds = sorted(set(cond) & set(unc))
    if not seeds:
        return []
    lower = sum(1 for k in seeds if cond[k] is not None and unc[k] is not None
                and cond[k] < unc[k])
    cov = {run: _mean(_values([r for r in rows if r["run"] == run], "classes_covered"))
           for run in ("concat", "none")}
    above = all(v is not None and v > _floor(case) for v in [*cond.values(), *unc.values()])
    return [f"*{case}*: mean per-class W1{over} {_mean(cond.values()):.3f} for the cGAN against "
            f"{_mean(unc.values()):.3f} for the unconditional GAN, lower for the cGAN in "
            f"{lower} of {len(seeds)} seeds; classes covered {cov['concat']:.1f} against "
            f"{cov['none']:.1f}; " + ("every run stays above" if above else "not every run "
                                       "stays above") + f" the real-vs-real {_floor(case):.3f}."]


def _infogan_findings(case, rows) -> list[str]:
    k = sum(1 for key in rows[0]["final"] if key.startswith("w1_code_"))
    info, bound = _mean(_values(rows, "mutual_information")), _mean(_values(rows, "mi_lower_bound"))
    owned = _mean(_values(rows, "modes_owned_fraction"))
    text = (f"*{case}* ({len(rows)} seed{'s' * (len(rows) > 1)}): exact I(code; class) "
            f"{info:.3f} nats against the bound L_I {bound:.3f} (log K = {math.log(k):.3f}); "
            f"classes owned by one code value {owned:.2f}. ")
    if bound - info > 0.5:
        text += ("The Q head reads the code back from the generated points far better than "
                 "the class does: the code is written into the points, but mostly not as "
                 "the class, so InfoGAN did *not* discover the classes here.")
    elif owned == 0:
        text += "No class has a code value of its own."
    elif owned < 1:
        text += "Not every class has a code value of its own in every seed."
    else:
        text += "Every class has a code value of its own in every seed."
    return [text]


def _base_case(case: str) -> str | None:
    """For an InfoGAN case with its own seeds (a longer run), the case it extends."""
    spec = CASES[case]
    if spec["kind"] != "infogan" or "seeds" not in spec:
        return None
    return next((c for c, other in CASES.items() if c != case and "seeds" not in other
                 and (other["kind"], other["data"], other["loss"])
                 == (spec["kind"], spec["data"], spec["loss"])), None)


def _longer_run_findings(case, rows, base, base_rows) -> list[str]:
    """The same InfoGAN case trained longer (``case``) against ``base``, on the shared seeds."""
    seeds = sorted({r["seed"] for r in rows} & {r["seed"] for r in base_rows})
    if not seeds:
        return []
    pick = {name: {key: _mean(_values([r for r in sel if r["seed"] in seeds], key))
                   for key in ("mutual_information", "mi_lower_bound", "modes_owned_fraction")}
            for name, sel in (("base", base_rows), ("long", rows))}
    its = {name: CASES[c]["settings"]["iters"] for name, c in (("base", base), ("long", case))}
    return [f"*{case}* against *{base}* (seed {', '.join(map(str, seeds))}: "
            f"{its['long']} iterations against {its['base']}): exact I(code; class) "
            f"{pick['base']['mutual_information']:.3f} -> {pick['long']['mutual_information']:.3f}"
            f", L_I {pick['base']['mi_lower_bound']:.3f} -> {pick['long']['mi_lower_bound']:.3f}"
            f", classes owned {pick['base']['modes_owned_fraction']:.2f} -> "
            f"{pick['long']['modes_owned_fraction']:.2f}."]


def _pix2pix_findings(case, rows) -> list[str]:
    keys = {"l1": ("L1", "{:.4f}", -1), "psnr": ("PSNR", "{:.2f} dB", 1),
            "exact_w1": ("exact W1 to the targets", "{:.3f}", -1)}
    m = {run: {key: _mean(_values([r for r in rows if r["run"] == run], key)) for key in keys}
         for run in CASES[case]["runs"]}
    if not all(math.isfinite(v) for run in m.values() for v in run.values()):
        return []
    sd = {run: {key: float(np.std([v for v in _values([r for r in rows if r["run"] == run], key)
                                   if v is not None])) for key in keys} for run in m}
    out = []
    worse = [name for key, (name, _, sign) in keys.items()
             if sign * (m["cgan"][key] - m["l1"][key]) < 0]
    out.append(f"*{case}*: the cGAN alone is worse than L1 alone on "
               + (", ".join(worse) if worse else "none of the scores") + " ("
               + "; ".join(f"{name} {fmt.format(m['cgan'][key])} against "
                           f"{fmt.format(m['l1'][key])}" for key, (name, fmt, _) in keys.items())
               + ").")
    close = [name for key, (name, _, _) in keys.items()
             if abs(m["cgan+l1"][key] - m["l1"][key]) <= sd["cgan+l1"][key] + sd["l1"][key]]
    ref = _reference(CASES[case]["settings"]["task"])
    unpaired = {run: _mean(_values([r for r in rows if r["run"] == run], "unpaired_w1"))
                for run in m}
    below = [run for run in m if m[run]["exact_w1"] < ref["real_vs_real_w1"]]
    if below:
        out.append(f"The exact W1 to the targets of {', '.join(below)} is below the "
                   f"{ref['real_vs_real_w1']:.3f} of real digits against the targets: outputs "
                   "close to their own targets are close as a set too, sharp or not. Against "
                   "as many training digits (no output's own target among them): " + ", ".join(
                       f"{run} {unpaired[run]:.3f}" for run in m)
                   + f"; the real targets score {ref['real_vs_real_w1']:.3f} against them.")
    out.append("Adding the cGAN term to L1 (cgan+l1 against l1): "
               + "; ".join(f"{name} {fmt.format(m['cgan+l1'][key])} against "
                           f"{fmt.format(m['l1'][key])}" for key, (name, fmt, _) in keys.items())
               + (". On " + ", ".join(close) + " the two means differ by less than the sum of "
                  "their standard deviations over seeds: no measurable gain from the "
                  "adversarial term at this budget." if close else "."))
    return out


def findings(by_case: dict, missing: list[dict]) -> str:
    """The measured answers in words; every number is one of the report's tables."""
    makers = {"cgan": _cgan_findings, "infogan": _infogan_findings,
              "pix2pix": _pix2pix_findings}
    lines = []
    for case, rows in by_case.items():
        base = _base_case(case)
        if rows:
            lines += makers[CASES[case]["kind"]](case, rows)
        if rows and base and by_case[base]:
            lines += _longer_run_findings(case, rows, base, by_case[base])
    if missing:
        lines.append("Not run (wanted, not in the results file): " + "; ".join(
            f"{j['case']} {j['run']} seed {j['seed']}" for j in missing) + ".")
    counts = sorted({len({r["seed"] for r in rows}) for rows in by_case.values() if rows})
    seeds = f"{counts[0]}" + (f" to {counts[-1]}" if counts[-1] > counts[0] else "")
    lines.append("These are short CPU trainings with the settings above, not converged "
                 f"models; with {seeds} seeds per case the spreads are rough.")
    return "\n".join("- " + line for line in lines)


# ------------------------------------------------------------------ report
def _values(rows, key):
    return [r["final"].get(key) for r in rows]


def _stat(values, fmt="{:.3f}") -> str:
    """``mean ± sd (v1, v2, ...)`` over the finite values; ``n/a`` marks the others."""
    shown = ", ".join("n/a" if v is None or not math.isfinite(v) else fmt.format(v)
                      for v in values)
    finite = [v for v in values if v is not None and math.isfinite(v)]
    if not finite:
        return f"n/a ({shown})"
    mean = fmt.format(float(np.mean(finite)))
    sd = fmt.format(float(np.std(finite))) if len(finite) > 1 else "-"
    missing = len(values) - len(finite)
    note = f"; mean of {len(finite)}" if missing else ""
    return f"{mean} ± {sd} ({shown}{note})"


@functools.lru_cache(maxsize=None)
def _floor(case: str) -> float:
    """Mean per-class exact W_1 between two real sets of the case's evaluation size."""
    from otlab.gan.class_metrics import class_sampling_floor

    spec = CASES[case]
    return class_sampling_floor(spec["data"], spec["settings"].get("eval_samples", 2048), seed=0)


@functools.lru_cache(maxsize=None)
def _reference(task: str) -> dict:
    from otlab.gan.families.pix2pix import reference_scores

    return reference_scores(task)


def _cgan_rows(case, rows):
    spec = CASES[case]
    floor = _floor(case)
    out = []
    for run in spec["runs"]:
        sel = [r for r in rows if r["run"] == run]
        if not sel:
            continue
        k = sum(1 for key in sel[0]["final"] if key.startswith("w1_class_"))
        out.append({"case": case, "model": "cGAN (concat)" if run == "concat" else
                    "unconditional", "seeds": len(sel),
                    "mean per-class W1": _stat(_values(sel, "mean_class_w1")),
                    "mean over classes generated": _stat(_values(sel, "mean_generated_class_w1")),
                    "classes generated": _stat(_values(sel, "classes_generated"), "{:.0f}")
                    + f" of {k}",
                    "classes covered": _stat(_values(sel, "classes_covered"), "{:.1f}"),
                    "label accuracy": _stat(_values(sel, "label_accuracy")),
                    "exact W1, all points": _stat(_values(sel, "exact_w1")),
                    "real vs real, per class": f"{floor:.3f}"})
    return out


def _infogan_rows(case, rows):
    sel = rows
    k = sum(1 for key in sel[0]["final"] if key.startswith("w1_code_"))
    return [{"case": case, "seeds": len(sel), "K": k, "log K": f"{math.log(k):.3f}",
             "exact I(code; class)": _stat(_values(sel, "mutual_information")),
             "bound L_I": _stat(_values(sel, "mi_lower_bound")),
             "classes owned by one code value": _stat(_values(sel, "modes_owned_fraction"),
                                                      "{:.2f}"),
             "code purity": _stat(_values(sel, "code_purity")),
             "mean W1 per code value": _stat(_values(sel, "mean_code_w1")),
             "exact W1, all points": _stat(_values(sel, "exact_w1"))}]


def _pix2pix_rows(case, rows):
    spec = CASES[case]
    ref = _reference(spec["settings"]["task"])
    out = []
    for run in spec["runs"]:
        sel = [r for r in rows if r["run"] == run]
        if sel:
            out.append({"variant": run, "seeds": len(sel),
                        "L1": _stat(_values(sel, "l1"), "{:.4f}"),
                        "PSNR dB": _stat(_values(sel, "psnr"), "{:.2f}"),
                        "exact W1 to the targets": _stat(_values(sel, "exact_w1")),
                        "exact W1 to training digits": _stat(_values(sel, "unpaired_w1"))})
    inp = ref["input"]
    out.append({"variant": "degraded input itself", "seeds": "-", "L1": f"{inp['l1']:.4f}",
                "PSNR dB": f"{inp['psnr']:.2f}", "exact W1 to the targets":
                f"{inp['exact_w1']:.3f}", "exact W1 to training digits":
                f"{inp['unpaired_w1']:.3f}"})
    out.append({"variant": "real digits (targets vs training digits)", "seeds": "-",
                "L1": "-", "PSNR dB": "-",
                "exact W1 to the targets": f"{ref['real_vs_real_w1']:.3f}",
                "exact W1 to training digits": f"{ref['real_vs_real_w1']:.3f}"})
    return out


def _n_classes(data: str) -> int:
    from otlab.gan.data import n_classes

    return n_classes(data)


def _bars(ax, groups, ylabel, title, *, log=False):
    """One bar per group at the mean of its finite values, one black dot per seed.

    ``groups``: ``(tick label, values, colour, hatch)``.  Returns the legend
    handles of the dots and of the bar mean.
    """
    from matplotlib.lines import Line2D

    for i, (_, values, colour, hatch) in enumerate(groups):
        finite = [v for v in values if v is not None and math.isfinite(v)]
        ax.bar(i, np.mean(finite) if finite else np.nan, color=colour, alpha=0.7, hatch=hatch,
               edgecolor="white" if hatch else None)
        ax.plot([i] * len(finite), finite, "k.", ms=5, zorder=3)
    ax.set_xticks(range(len(groups)), [g[0] for g in groups], rotation=30, ha="right",
                  fontsize=8)
    finite = [v for g in groups for v in g[1] if v is not None and math.isfinite(v) and v > 0]
    if log and finite:
        ax.set_yscale("log")
    elif finite:
        ax.set_ylim(0, 1.35 * max(finite))
    ax.set_ylabel(ylabel)
    ax.set_title(title if finite else title + " (no runs recorded)", fontsize=9)
    return [Line2D([], [], color="k", marker=".", ls="", label="one seed (bar: mean)")]


def _patch(colour, label, hatch=None):
    from matplotlib.patches import Patch

    return Patch(facecolor=colour, alpha=0.7, hatch=hatch, edgecolor="white", label=label)


def _figure(rows, path: Path) -> Path:
    """Bars of the three questions (mean over seeds, one dot per seed)."""
    plt = pyplot()
    from matplotlib.lines import Line2D

    fig, axes = plt.subplots(1, 3, figsize=(16, 5.2))
    cg, floors = [], []
    for case, spec in CASES.items():
        if spec["kind"] != "cgan":
            continue
        for run in spec["runs"]:
            sel = [r for r in rows if r["case"] == case and r["run"] == run]
            name = case.replace("cgan ", "") + (", cGAN" if run != "none" else ", uncond.")
            cg.append((name, _values(sel, "mean_generated_class_w1"),
                       "C0" if run != "none" else "C1", None))
            floors.append(_floor(case) if sel else np.nan)
    handles = _bars(axes[0], cg, "mean per-class exact $W_1$ (data units; log scale)",
                    "cGAN vs unconditional GAN, same budget", log=True)
    axes[0].plot(range(len(floors)), floors, "k_", ms=14, mew=1.5)
    axes[0].legend(handles=[_patch("C0", "cGAN (concat)"), _patch("C1", "unconditional"),
                            *handles, Line2D([], [], color="k", marker="_", ls="", ms=10,
                                             label="real vs real, per class")],
                   fontsize=7, loc="upper left")
    info = []
    for case, spec in CASES.items():
        if spec["kind"] == "infogan":
            sel = [r for r in rows if r["case"] == case]
            name = f"{spec['data']}, {spec['settings']['iters']} it."
            info += [(name + ": exact I", _values(sel, "mutual_information"), "C0", None),
                     (name + ": $L_I$", _values(sel, "mi_lower_bound"), "C1", None)]
    handles = _bars(axes[1], info, "mutual information (nats)",
                    "InfoGAN: exact I(code; class) vs the bound $L_I$")
    handles = [_patch("C0", "exact I(code; class), from counts"),
               _patch("C1", "variational bound $L_I$"), *handles]
    for k, style in ((8, ":"), (10, "--")):
        if any(CASES[c]["kind"] == "infogan" and _n_classes(CASES[c]["data"]) == k
               for c in CASES):
            handles.append(axes[1].axhline(math.log(k), color="k", ls=style, lw=0.8,
                                           label=f"log K, K = {k}"))
    axes[1].legend(handles=handles, fontsize=7, loc="upper left", ncol=2)
    names = {"exact_w1": ("to targets", None), "unpaired_w1": ("to training digits", "//")}
    runs = CASES["pix2pix digits inpaint"]["runs"]
    p2p = [(f"{r}, {names[key][0]}",
            _values([x for x in rows if x["case"].startswith("pix2pix") and x["run"] == r], key),
            f"C{i}", names[key][1]) for key in names for i, r in enumerate(runs)]
    handles = _bars(axes[2], p2p, "exact $W_1$ between 360-image sets (pixels on [-1, 1])",
                    "pix2pix ablation, 360 held-out inputs")
    handles = [*(_patch(f"C{i}", r) for i, r in enumerate(runs)),
               _patch("0.5", "against training digits", "//"), *handles]
    if any(x["case"].startswith("pix2pix") for x in rows):
        ref = _reference(CASES["pix2pix digits inpaint"]["settings"]["task"])
        handles.append(axes[2].axhline(ref["real_vs_real_w1"], color="k", ls="--", lw=0.8,
                                       label="real targets vs training digits"))
    axes[2].legend(handles=handles, fontsize=7, loc="upper left", ncol=2)
    return save_png(fig, path)


def report(rows, out: Path, *, quick: bool, missing=(), command: str = "") -> Path:
    sections = []
    loads = [x for r in rows for x in r["load"]]
    cpu = sum(r["cpu s"] for r in rows)
    sections.append(("Setting", (
        (f"This file: `{command}` (from the results file; a run not in it is trained "
         "first unless `--report-only`).\n\n" if command else "")
        + "CPU (one torch thread per run), shared with other work: the 1-minute load average "
        f"seen at the start and end of the runs ranged from {min(loads):.1f} to "
        f"{max(loads):.1f} on 2 cores, so wall times say little; the runs took {cpu / 60:.0f} "
        "min of CPU time in all. Each case trains every compared run with the same settings "
        "(the same budget); the numbers are those of the last evaluation. Settings per case "
        "(everything else: the paper defaults of the loss; pix2pix: Adam betas (0.5, 0.999), "
        "lambda = 100):\n\n" + markdown_table(
            [{"case": c, "runs": ", ".join(s["runs"]),
              "seeds": ", ".join(str(k) for k in sorted({r["seed"] for r in rows
                                                          if r["case"] == c})) or "-",
              "settings": json.dumps(s["settings"])} for c, s in CASES.items()])
        + ("\n**Smoke settings (--quick): not the measurement.**\n" if quick else ""))))
    by_case = {c: [r for r in rows if r["case"] == c] for c in CASES}
    sections.append(("Findings", findings(by_case, list(missing))))

    def table(kind, make_rows):
        return markdown_table([row for c, spec in CASES.items() if spec["kind"] == kind
                               and by_case[c] for row in make_rows(c, by_case[c])])

    sections.append(("cGAN vs the unconditional GAN (measured)", (
        "Mean ± standard deviation over seeds, then the value of each seed. W1 is Euclidean, "
        "in the mixtures' own units and, for the digits, between 64-D points with pixels on "
        "[-1, 1]. *Per-class W1*: exact W_1 between the real points of a class and the "
        "points generated for it (cGAN: for its label; unconditional: the points its "
        "generator puts in the class, by nearest mode or a 3-NN digit classifier). The mean "
        "over all classes is n/a when a class was never generated; the mean over the classes "
        "generated is then given too. *Covered*: at least 20 generated points of the class on "
        "target (for mixtures within 3 sigma of the mode). *Real vs real*: the mean per-class "
        "W1 between two independent real sets "
        "of the same size, what a perfect generator scores.\n\n" + table("cgan", _cgan_rows))))
    sections.append(("InfoGAN: exact mutual information vs the bound (measured)", (
        "On points generated with every code value equally often: *exact I(code; class)* "
        "from the table of (code value, class) counts; *bound L_I* = log K - cross-entropy "
        "of the Q head on the same points. Both are lower bounds of I(code; G(z, code)) <= "
        "log K, and neither need be below the other: L_I reads the code from the whole "
        "point, I(code; class) only through its class. *Owned*: share of the classes with "
        "at least 20 points of which 90 % carry one code value.\n\n"
        + table("infogan", _infogan_rows))))
    sections.append(("pix2pix ablation on held-out pairs (measured)", (
        "Task: the lower half of each 8x8 digit erased; 360 held-out pairs (20 %, stratified, "
        "the same for every run). L1 and PSNR with pixels on [0, 1]; exact W1 (Euclidean, "
        "pixels on [-1, 1] as in training) between the 360 generated images and the 360 "
        "real targets (64-D, the pairing ignored), and between the generated images and 360 "
        "real *training* digits (none of them the target of an output).\n\n"
        + table("pix2pix", _pix2pix_rows))))
    every = [{"case": r["case"], "run": r["run"], "seed": r["seed"],
              **{k: r["final"].get(k) for k in ("exact_w1", "mean_class_w1",
                                                 "label_accuracy", "mutual_information",
                                                 "mi_lower_bound", "l1", "psnr")},
              "cpu s": r["cpu s"]}
             for r in sorted(rows, key=lambda r: (list(CASES).index(r["case"]),
                                                  CASES[r["case"]]["runs"].index(r["run"]),
                                                  r["seed"]))]
    every = [{k: ("-" if v is None else v) for k, v in r.items()} for r in every]
    sections.append(("Every run (measured)", markdown_table(every)))
    png = _figure(rows, out / "gan_family.png")
    sections.append(("Figure", f"![cGAN, InfoGAN and pix2pix measured]({png.name})"))
    return write_report("gan_family", "Conditional GAN, InfoGAN and pix2pix against exact answers",
                        device="cpu", sections=sections, out_dir=out)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="seeds of every run")
    p.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES),
                   help="cases to run (default: all)")
    p.add_argument("--jobs", type=int, default=1, help="runs trained at once (processes)")
    p.add_argument("--time-budget", type=float, default=None,
                   help="seconds after which no new run is started")
    p.add_argument("--results", type=Path, default=None,
                   help="JSON-lines file of finished runs (default: <out>/gan_family_runs.jsonl)")
    p.add_argument("--runs-dir", type=Path, default=None,
                   help="folder for the run folders (default: a temporary folder)")
    p.add_argument("--report-only", action="store_true",
                   help="train nothing: rebuild the report from the runs already recorded "
                        "(wanted runs not recorded are listed in it)")
    p.add_argument("--quick", action="store_true", help="smoke settings: 20 iterations, width 16")
    p.add_argument("--out", type=Path, default=None, help="report folder (default: reports/)")
    a = p.parse_args(argv)
    out = a.out or REPORTS
    out.mkdir(parents=True, exist_ok=True)
    results = a.results or out / "gan_family_runs.jsonl"
    if a.quick:
        for spec in CASES.values():
            spec["settings"] = {**spec["settings"], **_QUICK}
    jobs = [{"case": case, "kind": spec["kind"], "data": spec["data"], "loss": spec["loss"],
             "run": run, "seed": seed, "settings": spec["settings"]}
            for case in a.cases for spec in [CASES[case]]
            for seed in spec.get("seeds", a.seeds) for run in spec["runs"]]
    runs_dir = a.runs_dir or ("" if a.report_only else tempfile.mkdtemp(prefix="gan_family_"))
    rows = run_grid(jobs, functools.partial(run_one, runs_dir=str(runs_dir)), results, key=KEY,
                    report_only=a.report_only, n_jobs=a.jobs, budget_s=a.time_budget)
    missing = [*rows.missing, *rows.failed]
    command = " ".join(["python", "-m", "benchmarks.gan_family", *(argv if argv is not None
                                                                 else sys.argv[1:])])
    if rows:
        print(f"wrote {report(rows, out, quick=a.quick, missing=missing, command=command)}")


if __name__ == "__main__":
    from ._harness import run_timed

    run_timed(main)
