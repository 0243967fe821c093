"""Which GAN objectives cover the modes, and does the critic track the exact W_1?

For 8 and 25 Gaussians x {gan, gan-ns, wgan, wgan-gp, wgan-sn} x seeds, train
with each loss's paper defaults and report: modes covered, % high-quality
samples (within 3 sigma of a mode), final exact W_1 (POT, 2048 vs 2048
samples) and the Pearson / Spearman correlation between the critic's
estimate and the exact W_1 over training.  Writes ``benchmarks/reports/wgan.md``.

Runs are independent, so ``--jobs N`` trains N of them at once in separate
processes (on one GPU the small networks leave it mostly idle).  Each finished
run is appended to a JSON-lines file (``--results``); a later call with the
same file skips the runs already there, so the full grid can be measured in
several calls (``--time-budget`` stops starting new runs after that many
seconds), and the report is always rebuilt from every run in the file.

Usage::

    python benchmarks/wgan.py --device cuda --iters 20000 --seeds 0 1 2 --jobs 8   # GPU figures
    python benchmarks/wgan.py --device cpu --quick                                 # CPU smoke run
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import json
import multiprocessing
import time
from pathlib import Path

import numpy as np
import torch

from _harness import REPORTS, markdown_table, write_report
from otlab.gan.config import PAPER_DEFAULTS

LOSSES = ("gan", "gan-ns", "wgan", "wgan-gp", "wgan-sn")
DATA = ("8gaussians", "25gaussians")
SUMMARY_KEYS = ("modes covered", "% high quality", "final exact W1", "Pearson", "Spearman")


def run_one(job: dict) -> dict:
    """Train one configuration and return its result row (runs in a worker process)."""
    from otlab.gan import TrainConfig, train
    from otlab.gan.figures import summary

    torch.set_num_threads(job["threads"])
    cfg = TrainConfig.for_loss(job["loss"], data=job["data"], seed=job["seed"],
                               progress=False, checkpoint_every=0, **job["settings"])
    start = time.perf_counter()
    s = summary(train(cfg))
    return {"data": job["data"], "loss": job["loss"], "seed": job["seed"],
            "modes covered": s["modes_covered"], "% high quality": s["high_quality"],
            "final exact W1": s["final_exact_w1"],
            "final critic est.": s["final_critic_estimate"],
            "Pearson": s["pearson"], "Spearman": s["spearman"],
            "time s": time.perf_counter() - start, "settings": job["settings"]}


def _key(row) -> tuple:
    return (row["data"], row["loss"], row["seed"], json.dumps(row["settings"], sort_keys=True))


def _read_results(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _jobs(a, settings) -> list[dict]:
    jobs = []
    for data in a.data:
        for loss in a.losses:
            for seed in a.seeds:
                own = dict(settings)
                if a.lr_scale is not None:
                    paper = PAPER_DEFAULTS[loss]
                    own.update(lr_g=paper["lr_g"] * a.lr_scale, lr_d=paper["lr_d"] * a.lr_scale)
                if a.quick and loss == "wgan":
                    own.update(lr_g=5e-4, lr_d=5e-4)
                jobs.append({"data": data, "loss": loss, "seed": seed, "settings": own,
                             "threads": a.threads})
    return jobs


def run_grid(jobs: list[dict], *, n_jobs: int, results: Path, budget_s: float | None) -> int:
    """Run ``jobs`` (``n_jobs`` at a time), appending each row to ``results``; return count."""
    start, done = time.perf_counter(), 0
    todo = list(jobs)
    ctx = multiprocessing.get_context("spawn")  # CUDA cannot be forked
    with cf.ProcessPoolExecutor(max_workers=n_jobs, mp_context=ctx) as pool:
        running = set()
        while todo or running:
            while todo and len(running) < n_jobs and (
                    budget_s is None or time.perf_counter() - start < budget_s):
                running.add(pool.submit(run_one, todo.pop(0)))
            if not running:
                break
            finished, running = cf.wait(running, return_when=cf.FIRST_COMPLETED)
            for fut in finished:
                row = fut.result()
                with open(results, "a") as fh:
                    fh.write(json.dumps(row) + "\n")
                done += 1
                print({k: v for k, v in row.items() if k != "settings"}, flush=True)
    if todo:
        print(f"time budget reached: {len(todo)} runs not started", flush=True)
    return done


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--iters", type=int, default=20_000)
    p.add_argument("--eval-every", type=int, default=1000)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--losses", nargs="+", default=list(LOSSES))
    p.add_argument("--data", nargs="+", default=list(DATA))
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads per run")
    p.add_argument("--jobs", type=int, default=1, help="runs trained at once (processes)")
    p.add_argument("--time-budget", type=float, default=None,
                   help="seconds after which no new run is started")
    p.add_argument("--results", type=Path, default=None,
                   help="JSON-lines file of finished runs (default: <out>/wgan_runs.jsonl)")
    p.add_argument("--hidden", type=int, default=None, help="override the 512-unit MLPs")
    p.add_argument("--batch-size", type=int, default=None, help="override batch 256")
    p.add_argument("--lr-scale", type=float, default=None,
                   help="multiply every loss's paper learning rates by this factor")
    p.add_argument("--quick", action="store_true",
                   help="CPU smoke settings: 3x64 MLPs, batch 64, 300 iterations, lr 2e-3")
    p.add_argument("--out", type=Path, default=None, help="report folder")
    a = p.parse_args(argv)
    out = a.out or REPORTS
    out.mkdir(parents=True, exist_ok=True)
    results = a.results or out / "wgan_runs.jsonl"
    settings = {"iters": a.iters, "eval_every": a.eval_every, "device": a.device}
    overrides = {}
    if a.quick:
        a.seeds = a.seeds[:1]
        settings.update(iters=300, eval_every=100)
        overrides = dict(hidden=64, batch_size=64, eval_samples=512, lr_g=2e-3, lr_d=2e-3)
    for name in ("hidden", "batch_size"):
        if getattr(a, name) is not None:
            overrides[name] = getattr(a, name)
    settings.update(overrides)

    wanted = _jobs(a, settings)
    have = {_key(r) for r in _read_results(results)}
    todo = [j for j in wanted if _key(j) not in have]
    print(f"{len(wanted)} runs wanted, {len(wanted) - len(todo)} already in {results}", flush=True)
    if todo:
        run_grid(todo, n_jobs=a.jobs, results=results, budget_s=a.time_budget)

    wanted_keys = {_key(j) for j in wanted}
    rows = [r for r in _read_results(results) if _key(r) in wanted_keys]
    rows.sort(key=lambda r: (a.data.index(r["data"]), a.losses.index(r["loss"]), r["seed"]))
    means = []
    for data in a.data:
        for loss in a.losses:
            sel = [r for r in rows if r["data"] == data and r["loss"] == loss]
            if sel:
                means.append({"data": data, "loss": loss, "seeds": len(sel),
                              **{k: float(np.mean([r[k] for r in sel])) for k in SUMMARY_KEYS}})
    table_rows = [{k: v for k, v in r.items() if k != "settings"} for r in rows]
    label = "GPU" if a.device.startswith("cuda") else "CPU"
    shown = {k: v for k, v in settings.items() if k not in ("iters", "eval_every", "device")}
    if a.lr_scale is not None:
        shown["learning rates"] = f"{a.lr_scale:g} x the paper's"
    setting = (f"{a.iters if not a.quick else 300} generator iterations, evaluation every "
               f"{settings['eval_every']}, paper defaults per loss"
               + (f" with overrides {shown}" if shown else " (3x512 MLPs, batch 256)")
               + (" (wgan: lr 5e-4) -- smoke settings, NOT the papers' configuration"
                  if a.quick else "") + ".")
    complete = f"{len(rows)} of {len(wanted)} runs measured" + (
        "." if len(rows) == len(wanted) else "; the others are still to be run.")
    from otlab.gan import TrainConfig
    from otlab.gan.evaluation import sampling_floor

    n_eval = settings.get("eval_samples", TrainConfig.eval_samples)
    floors = []
    for data in a.data:
        w = sampling_floor(data, n_eval, draws=5, seed=0)
        floors.append({"data": data, "samples per set": n_eval, "mean W1": float(w.mean()),
                       "min": float(w.min()), "max": float(w.max())})
    floor_text = ("Exact W_1 between two independent sets of *real* samples (5 pairs): what a "
                  "generator that samples the data law itself would score on average, the floor "
                  "for the final exact W1 above.\n\n" + markdown_table(floors))
    sections = [(f"{label} results, mean over seeds (measured)",
                 setting + " " + complete + " Correlations are over the evaluations of the "
                 "trained critic (iteration > 0).\n\n" + markdown_table(means)),
                ("Sampling floor (measured)", floor_text),
                (f"{label} results, every run (measured)", markdown_table(table_rows))]
    if label == "CPU":
        sections.insert(0, ("GPU results: not measured in this run", (
            "The issue asks for these figures from the GPU machine with the full settings "
            "(`python benchmarks/wgan.py --device cuda --iters 20000 --seeds 0 1 2 --jobs 8`). "
            "The session that wrote this report had no GPU, so those rows are **unmeasured**. "
            "The tables below are a CPU run with the reduced settings stated: they show how "
            "the objectives behave with small networks and short training, not after the "
            "papers' full training.")))
    path = write_report("wgan", "GAN objectives on 8 and 25 Gaussians: modes and exact W_1",
                        device=a.device, sections=sections, out_dir=out)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
