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

    python benchmarks/gan_family.py --seeds 0 1 2 --jobs 2      # the report (CPU, ~40 min CPU)
    python benchmarks/gan_family.py --quick --out /tmp/gf         # smoke run of the script
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import json
import math
import multiprocessing
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from _harness import REPORTS, markdown_table, pyplot, save_png, write_report

_SMALL = {"hidden": 64, "depth": 3, "batch_size": 64, "lr_g": 1e-3, "lr_d": 1e-3}
_DIGITS = {"hidden": 256, "depth": 3, "batch_size": 64, "lr_g": 1e-3, "lr_d": 1e-3,
           "eval_samples": 1000}

#: Every case: the model family, its data and loss, the runs compared and their settings
#: (the same for every run of a case: the same budget).
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
    "pix2pix digits inpaint": {"kind": "pix2pix", "data": "digits", "loss": "gan-ns",
                               "runs": ["l1", "cgan", "cgan+l1"],
                               "settings": {"hidden": 128, "lr_g": 1e-3, "lr_d": 1e-3,
                                            "iters": 2000, "eval_every": 500,
                                            "task": "inpaint"}},
}
_QUICK = {"iters": 20, "eval_every": 10, "hidden": 16, "eval_samples": 128}


def _config(job: dict):
    from otlab.gan.conditional import CGANConfig
    from otlab.gan.infogan import InfoGANConfig
    from otlab.gan.pix2pix import Pix2PixConfig

    common = {**job["settings"], "seed": job["seed"], "progress": False, "out": job["out"],
              "checkpoint_every": 0}
    if job["kind"] == "cgan":
        return CGANConfig.for_loss(job["loss"], data=job["data"], conditioning=job["run"],
                                   **common)
    if job["kind"] == "infogan":
        return InfoGANConfig.for_loss(job["loss"], data=job["data"], **common)
    return Pix2PixConfig.for_variant(job["run"], loss=job["loss"], **common)


def run_one(job: dict) -> dict:
    """Train one run and return its row: the final evaluation and the time taken."""
    import torch

    from otlab.gan import train

    torch.set_num_threads(1)
    load = os.getloadavg()[0]
    wall, cpu = time.perf_counter(), time.process_time()
    history = train(_config(job))
    final = history[-1]
    return {"case": job["case"], "run": job["run"], "seed": job["seed"],
            "final": {k: v for k, v in final.items() if k not in ("d_loss", "g_loss")},
            "wall s": time.perf_counter() - wall, "cpu s": time.process_time() - cpu,
            "load": [load, os.getloadavg()[0]], "settings": job["settings"]}


def _key(row) -> tuple:
    return (row["case"], row["run"], row["seed"], json.dumps(row["settings"], sort_keys=True))


def _read(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def run_grid(jobs, *, n_jobs: int, results: Path, budget_s: float | None) -> None:
    """Run ``jobs`` (``n_jobs`` at a time), appending each row to ``results`` as it finishes.

    With ``budget_s`` a job that has not started within that many seconds is skipped.
    """
    from otlab._json import strict_json

    deadline = None if budget_s is None else time.time() + budget_s
    ctx = multiprocessing.get_context("spawn")
    with cf.ProcessPoolExecutor(max_workers=n_jobs, mp_context=ctx) as pool:
        futures = [pool.submit(_run_before, job, deadline) for job in jobs]
        skipped = 0
        for fut in cf.as_completed(futures):
            row = fut.result()
            if row is None:
                skipped += 1
                continue
            with open(results, "a") as fh:
                fh.write(strict_json(row) + "\n")
            print(row["case"], row["run"], row["seed"], f"{row['cpu s']:.0f} s CPU", flush=True)
    if skipped:
        print(f"time budget reached: {skipped} runs not started", flush=True)


def _run_before(job: dict, deadline: float | None):
    """:func:`run_one`, or ``None`` when ``deadline`` (a ``time.time()``) has passed."""
    return None if deadline is not None and time.time() > deadline else run_one(job)


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


def _cgan_rows(case, rows):
    from otlab.gan.class_metrics import class_sampling_floor

    spec = CASES[case]
    n_eval = spec["settings"].get("eval_samples", 2048)
    floor = class_sampling_floor(spec["data"], n_eval, seed=0)
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
    from otlab.gan.pix2pix import reference_scores

    spec = CASES[case]
    ref = reference_scores(spec["settings"]["task"])
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


def _figure(rows, path: Path) -> Path:
    """Bars of the three questions (mean over seeds, one dot per seed)."""
    plt = pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))

    def bars(ax, groups, ylabel, title):
        for i, (label, values) in enumerate(groups):
            finite = [v for v in values if v is not None and math.isfinite(v)]
            ax.bar(i, np.mean(finite) if finite else np.nan, color=f"C{i % 10}", alpha=0.6)
            ax.plot([i] * len(finite), finite, "k.", ms=5)
        ax.set_xticks(range(len(groups)), [g[0] for g in groups], rotation=30, ha="right",
                      fontsize=7)
        ax.set_ylabel(ylabel)
        ax.set_title(title, fontsize=9)

    cg = []
    for case, spec in CASES.items():
        if spec["kind"] != "cgan":
            continue
        for run in spec["runs"]:
            sel = [r for r in rows if r["case"] == case and r["run"] == run]
            name = case.replace("cgan ", "") + (" cGAN" if run != "none" else " uncond.")
            cg.append((name, _values(sel, "mean_generated_class_w1")))
    bars(axes[0], cg, "mean per-class exact $W_1$ (classes generated)",
         "cGAN vs unconditional GAN, same budget (log scale)")
    axes[0].set_yscale("log")
    info = []
    for case, spec in CASES.items():
        if spec["kind"] == "infogan":
            sel = [r for r in rows if r["case"] == case]
            info += [(case.split()[1] + " exact I", _values(sel, "mutual_information")),
                     (case.split()[1] + " bound $L_I$", _values(sel, "mi_lower_bound"))]
    bars(axes[1], info, "nats", "InfoGAN: exact I(code; class) vs the bound $L_I$")
    for case, spec in CASES.items():
        if spec["kind"] == "infogan":
            k = 8 if "8gaussians" in case else 10
            axes[1].axhline(math.log(k), color="k", ls=":", lw=0.8)
    axes[1].text(0.02, 0.97, "dotted: log K", transform=axes[1].transAxes, fontsize=7,
                 va="top")
    names = {"exact_w1": "to targets", "unpaired_w1": "to training digits"}
    p2p = [(f"{r}, {names[key]}", _values([x for x in rows if x["case"].startswith("pix2pix")
                                           and x["run"] == r], key))
           for key in names for r in CASES["pix2pix digits inpaint"]["runs"]]
    bars(axes[2], p2p, "exact $W_1$ of the 360 generated images",
         "pix2pix ablation, held-out inputs")
    return save_png(fig, path)


def report(rows, out: Path, *, quick: bool) -> Path:
    sections = []
    loads = [x for r in rows for x in r["load"]]
    cpu = sum(r["cpu s"] for r in rows)
    sections.append(("Setting", (
        "CPU (one torch thread per run), shared with other work: the 1-minute load average "
        f"seen at the start and end of the runs ranged from {min(loads):.1f} to "
        f"{max(loads):.1f} on 2 cores, so wall times say little; the runs took {cpu / 60:.0f} "
        "min of CPU time in all. Each case trains every compared run with the same settings "
        "(the same budget); the numbers are those of the last evaluation. Settings per case "
        "(everything else: the paper defaults of the loss; pix2pix: Adam betas (0.5, 0.999), "
        "lambda = 100):\n\n" + markdown_table(
            [{"case": c, "runs": ", ".join(s["runs"]), "settings": json.dumps(s["settings"])}
             for c, s in CASES.items()])
        + ("\n**Smoke settings (--quick): not the measurement.**\n" if quick else ""))))
    by_case = {c: [r for r in rows if r["case"] == c] for c in CASES}

    def table(kind, make_rows):
        return markdown_table([row for c, spec in CASES.items() if spec["kind"] == kind
                               and by_case[c] for row in make_rows(c, by_case[c])])

    sections.append(("cGAN vs the unconditional GAN (measured)", (
        "Mean ± standard deviation over seeds, then the value of each seed. *Per-class W1*: "
        "exact W_1 between the real points of a class and the points generated for it (cGAN: "
        "for its label; unconditional: the points its generator puts in the class, by nearest "
        "mode or a 3-NN digit classifier). The mean over all classes is n/a when a class was "
        "never generated; the mean over the classes generated is then given too. *Covered*: "
        "at least 20 generated points of the class on target (for mixtures within 3 sigma of "
        "the mode). *Real vs real*: the mean per-class W1 between two independent real sets "
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
        "the same for every run). L1 and PSNR with pixels on [0, 1]; exact W1 between the "
        "360 generated images and the 360 real targets (64-D, the pairing ignored), and "
        "between the generated images and 360 real *training* digits (none of them the "
        "target of an output).\n\n"
        + table("pix2pix", _pix2pix_rows))))
    every = [{"case": r["case"], "run": r["run"], "seed": r["seed"],
              **{k: r["final"].get(k) for k in ("exact_w1", "mean_class_w1",
                                                 "label_accuracy", "mutual_information",
                                                 "mi_lower_bound", "l1", "psnr")},
              "cpu s": r["cpu s"]} for r in rows]
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
    p.add_argument("--quick", action="store_true", help="smoke settings: 20 iterations, width 16")
    p.add_argument("--out", type=Path, default=None, help="report folder (default: reports/)")
    a = p.parse_args(argv)
    out = a.out or REPORTS
    out.mkdir(parents=True, exist_ok=True)
    results = a.results or out / "gan_family_runs.jsonl"
    runs_dir = a.runs_dir or Path(tempfile.mkdtemp(prefix="gan_family_"))
    if a.quick:
        for spec in CASES.values():
            spec["settings"] = {**spec["settings"], **_QUICK}
    jobs = [{"case": case, "kind": spec["kind"], "data": spec["data"], "loss": spec["loss"],
             "run": run, "seed": seed, "settings": spec["settings"],
             "out": str(runs_dir / f"{case}-{run}-{seed}".replace(" ", "_"))}
            for case in a.cases for seed in a.seeds for run in CASES[case]["runs"]
            for spec in [CASES[case]]]
    have = {_key(r) for r in _read(results)}
    todo = [j for j in jobs if _key(j) not in have]
    print(f"{len(jobs)} runs wanted, {len(jobs) - len(todo)} already in {results}; run folders "
          f"in {runs_dir}", flush=True)
    if todo:
        run_grid(todo, n_jobs=a.jobs, results=results, budget_s=a.time_budget)
    wanted = {_key(j) for j in jobs}
    rows = [r for r in _read(results) if _key(r) in wanted]
    if rows:
        print(f"wrote {report(rows, out, quick=a.quick)}")


if __name__ == "__main__":
    from _harness import run_timed

    run_timed(main)
