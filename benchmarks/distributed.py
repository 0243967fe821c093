"""What does spreading entropic OT and WGAN training over processes cost and save?

Question: on the same global problem, how long does one Sinkhorn iteration
take, how much memory does a rank need, and how many trainer iterations per
second run, with one process (the single-process solvers, 1 and 2 torch
threads) and with ``torch.distributed`` over 2 Gloo processes (one thread
each, launched by ``torchrun``); and which share of the time is spent in
collectives (waiting for the other rank included).

* Sinkhorn: ``n = m`` points in d = 2, W_1 cost, otlab's default ε, ε-scaling,
  and a fixed budget of ``--sinkhorn-iters`` iterations at the target ε (the
  solve stops there, unconverged, so every configuration does the same
  work); the time per iteration is the solve's wall time over its
  iteration count.  One process runs :func:`otlab.entropic.sinkhorn_samples`,
  two run :func:`otlab.distributed.sharded_sinkhorn` with half the rows
  each.  ``backend="auto"`` (dense when its three n x m arrays fit in a
  quarter of the available memory: every size here) and ``"tiled"`` (costs
  recomputed in row blocks, the two absorbed kernels kept when they fit).
  Memory: the growth of each process's peak resident set during the solves.
* Trainer: WGAN-GP on 8 Gaussians, 3x128 MLPs, n_critic 5, no evaluation;
  two processes with the same per-rank batch (global batch doubled) and with
  half the batch each (the same global batch).

Every configuration runs in fresh processes (so peak memory is its own), and is
one case appended to ``distributed.jsonl`` as it ends; a later call runs only the
missing configurations, and ``--report-only`` rewrites the report from the results.

Usage::

    python -m benchmarks.distributed              # the CPU report (Gloo)
    python -m benchmarks.distributed --quick      # small smoke run
    python -m benchmarks.distributed --device cuda --nproc 2   # NCCL, one GPU per rank
    python -m benchmarks.distributed --report-only
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

from ._harness import (add_grid_arguments, grid_paths, load_average,
                       markdown_table, measure, pyplot, run_grid, save_png, unmeasured,
                       write_report)

#: The repository root: workers run as ``python -m benchmarks.distributed`` from there.
ROOT = Path(__file__).resolve().parent.parent


# ------------------------------------------------------------------- workers
def _current_rss_mib() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _points(n, seed):
    import torch

    gen = torch.Generator().manual_seed(seed)
    return torch.randn(n, 2, generator=gen, dtype=torch.float64)


def _sinkhorn_worker(args, rank, world_size):
    import torch

    from otlab.distributed import sharded_sinkhorn
    from otlab.entropic import sinkhorn_samples
    from otlab.exact import ConvergenceWarning

    warnings.simplefilter("ignore", ConvergenceWarning)  # the budget is fixed on purpose
    device = torch.device(args.device)
    x, y = _points(args.points, 0).to(device), (_points(args.points, 1) + 1.0).to(device)
    options = dict(order=1, max_iter=args.sinkhorn_iters, tol=1e-12, backend=args.backend)

    def mine(t):  # this rank's rows (all of them alone)
        return t[rank * len(t) // world_size:(rank + 1) * len(t) // world_size]

    def solve(a, b):
        if world_size == 1:
            return sinkhorn_samples(a, b, **options), 0.0
        res = sharded_sinkhorn(mine(a), mine(b), **options)
        return res, res.communication_seconds

    solve(x[:256], y[:256])  # warm-up: code paths, thread pools
    base = _current_rss_mib()
    runs = []
    m = measure(lambda: runs.append(solve(x, y)), repeat=1 if args.memory else args.repeat,
                warmup=0, device=str(device))
    res, comm = runs[m.walls.index(m.wall_s)]  # the median run
    return {"seconds": m.wall_s, "communication_seconds": comm, "n_iter": res.n_iter,
            "cost": float(res.cost), "backend": res.backend,
            "peak_rss_growth_mib": _peak_rss_mib() - base, "rows": len(mine(x))}


def _trainer_worker(args, rank, world_size):

    from otlab.distributed import current_replica
    from otlab.gan import TrainConfig, train

    replica = current_replica()
    cfg = TrainConfig.for_loss("wgan-gp", hidden=128, depth=3, batch_size=args.batch_size,
                               n_critic=5, eval_every=0, checkpoint_every=0, log_every=100,
                               device=args.device, progress=False, iters=args.train_iters)
    train(cfg.replace(iters=10), replica=replica)  # warm-up
    replica.communication_seconds = 0.0
    seconds = measure(lambda: train(cfg, replica=replica), repeat=1, warmup=0,
                      device=args.device).wall_s
    return {"seconds": seconds, "iters_per_second": args.train_iters / seconds,
            "communication_seconds": getattr(replica, "communication_seconds", 0.0)}


def worker(args):
    """Run one measurement in this process (alone, or as a rank under torchrun)."""
    import torch

    from otlab.distributed import process_group

    torch.set_num_threads(args.threads)
    with process_group(args.device) as replica:
        rank, world_size = replica.rank, replica.world_size
        run = _sinkhorn_worker if args.worker == "sinkhorn" else _trainer_worker
        result = run(args, rank, world_size)
    result.update(rank=rank, world_size=world_size, threads=args.threads)
    Path(f"{args.result}.rank{rank}.json").write_text(json.dumps(result))


# -------------------------------------------------------------- orchestration
#: For the memory runs: every allocation of 128 KiB or more is its own mapping, returned to
#: the system when freed, so the peak resident set follows what the code holds rather than
#: how glibc's heap happened to fragment (which varied by 2x between equivalent runs).
MEMORY_ENV = {"MALLOC_MMAP_THRESHOLD_": "131072"}


def launch(kind: str, world_size: int, threads: int, options: dict, *, device: str,
           repeat: int, env=None) -> dict:
    """Run one configuration in fresh processes; return the ranks' results and the load."""
    with tempfile.TemporaryDirectory() as tmp:
        result = Path(tmp) / "result"
        flags = [f"--{k.replace('_', '-')}={v}" for k, v in options.items()]
        command = ["-m", "benchmarks.distributed", "--worker", kind, "--threads", str(threads),
                   "--device", device, "--repeat", str(repeat), "--result", str(result), *flags]
        if world_size > 1:
            command = [str(Path(sys.executable).with_name("torchrun")), "--standalone",
                       "--nproc_per_node", str(world_size), *command]
        else:
            command = [sys.executable, *command]
        env = {**os.environ, "OMP_NUM_THREADS": str(threads), **(env or {})}
        load_before = load_average()
        subprocess.run(command, check=True, env=env, timeout=3600, cwd=ROOT)
        ranks = [json.loads(Path(f"{result}.rank{r}.json").read_text())
                 for r in range(world_size)]
    return {"ranks": ranks, "load": (load_before, load_average())}


def _setups(nproc):
    return [(1, 1), (1, 2), (nproc, 1)]  # (processes, threads per process)


def cases(a):
    """Sinkhorn: every back-end, size and setup; trainer: every setup and per-rank batch."""
    common = {"device": a.device, "repeat": a.repeat}
    sink = [{"kind": "sinkhorn", "backend": backend, "n": n, "processes": world,
             "threads": threads, "sinkhorn_iters": a.sinkhorn_iters, **common}
            for backend in a.backends for n in a.sizes for world, threads in _setups(a.nproc)]
    train = [{"kind": "trainer", "processes": world, "threads": threads, "batch": batch,
              "train_iters": a.train_iters, **common}
             for world, threads in _setups(a.nproc)
             for batch in ([a.batch] if world == 1 else [a.batch, a.batch // world])]
    return sink + train


#: The fields that name a configuration (the trainer's have no back-end, the Sinkhorn's no batch).
KEY_FIELDS = ("kind", "device", "repeat", "processes", "threads", "backend", "n",
              "sinkhorn_iters", "batch", "train_iters")


def _key(row):
    return tuple(row.get(k) for k in KEY_FIELDS)


def run_case(case):
    """One configuration: its timed run and (Sinkhorn) its memory run, in fresh processes."""
    run = dict(device=case["device"], repeat=case["repeat"])
    world, threads = case["processes"], case["threads"]
    if case["kind"] == "trainer":
        out = launch("trainer", world, threads, {"batch_size": case["batch"],
                     "train_iters": case["train_iters"]}, **run)
        return {"ranks": out["ranks"], "load": out["load"]}
    options = {"points": case["n"], "backend": case["backend"],
               "sinkhorn_iters": case["sinkhorn_iters"]}
    out = launch("sinkhorn", world, threads, options, **run)
    memory = launch("sinkhorn", world, threads, {**options, "memory": 1}, **run, env=MEMORY_ENV)
    return {"ranks": out["ranks"], "memory_ranks": memory["ranks"], "load": out["load"]}


def sinkhorn_rows(runs):
    """The Sinkhorn table: the slowest rank of each configuration, vs 1 process on 1 thread."""
    rows, ref = [], {}
    for run in runs:
        slowest = max(run["ranks"], key=lambda r: r["seconds"])
        per_iter = slowest["seconds"] / slowest["n_iter"]
        if (run["processes"], run["threads"]) == (1, 1):
            ref[run["backend"], run["n"]] = per_iter
        rows.append({
            "n": run["n"], "backend": run["backend"], "processes": run["processes"],
            "threads each": run["threads"], "local back-end": slowest["backend"],
            "iterations": slowest["n_iter"], "ms / iteration": 1e3 * per_iter,
            "vs 1 process, 1 thread": per_iter / ref.get((run["backend"], run["n"]),
                                                         float("nan")),
            "communication share": max(r["communication_seconds"] / r["seconds"]
                                       for r in run["ranks"]),
            "peak memory growth per process (MiB)": max(
                r["peak_rss_growth_mib"] for r in run["memory_ranks"]),
            "cost": slowest["cost"], "load (1-min avg) before/after": "%.1f / %.1f"
            % tuple(run["load"])})
    return rows


def trainer_rows(runs):
    rows = []
    for run in runs:
        slowest = max(run["ranks"], key=lambda r: r["seconds"])
        rows.append({
            "processes": run["processes"], "threads each": run["threads"],
            "batch per process": run["batch"], "global batch": run["batch"] * run["processes"],
            "iterations / s": run["train_iters"] / slowest["seconds"],
            "communication share": max(r["communication_seconds"] / r["seconds"]
                                       for r in run["ranks"]),
            "load (1-min avg) before/after": "%.1f / %.1f" % tuple(run["load"])})
    return rows


def figure(sink, path):
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for backend, ax in zip(sorted({r["backend"] for r in sink}), axes):
        for (world, threads), marker in zip(sorted({(r["processes"], r["threads each"])
                                                    for r in sink}), "os^"):
            pts = [r for r in sink if r["backend"] == backend and r["processes"] == world
                   and r["threads each"] == threads]
            ax.plot([r["n"] for r in pts], [r["ms / iteration"] for r in pts], marker=marker,
                    label=f"{world} process{'es' if world > 1 else ''} x {threads} thread"
                          f"{'s' if threads > 1 else ''}")
        ns = sorted({r["n"] for r in sink})
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        # the load of each size's runs under its tick, clear of the curves
        loads = [_load_span([r for r in sink if r["n"] == n]) for n in ns]
        ax.set_xticks(ns, [f"$2^{{{n.bit_length() - 1}}}$\nload {load}"
                           for n, load in zip(ns, loads)], fontsize=8)
        ax.minorticks_off()
        ax.margins(x=0.12)
        ax.set_xlabel("n = m (points per cloud); the runs' 1-min load average")
        ax.set_ylabel("time per Sinkhorn iteration (ms)")
        ax.set_title(f'backend="{backend}"', fontsize=10)
        ax.legend(fontsize=8)
    return save_png(fig, path)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--worker", choices=("sinkhorn", "trainer"), help=argparse.SUPPRESS)
    p.add_argument("--result", help=argparse.SUPPRESS)
    p.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    p.add_argument("--points", type=int, help=argparse.SUPPRESS)
    p.add_argument("--backend", default="auto", help=argparse.SUPPRESS)
    p.add_argument("--device", default="cpu")
    p.add_argument("--nproc", type=int, default=2, help="processes of the distributed rows")
    p.add_argument("--sizes", type=int, nargs="+", default=[2048, 4096, 8192])
    p.add_argument("--backends", nargs="+", default=["auto", "tiled"])
    p.add_argument("--sinkhorn-iters", type=int, default=10,
                   help="iteration budget at the target eps (default: %(default)s)")
    p.add_argument("--train-iters", type=int, default=200)
    p.add_argument("--batch", type=int, default=256, help="trainer batch of one process")
    p.add_argument("--batch-size", type=int, help=argparse.SUPPRESS)
    p.add_argument("--repeat", type=int, default=1, help="timed solves per configuration")
    p.add_argument("--memory", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--quick", action="store_true", help="small smoke settings")
    add_grid_arguments(p, "distributed.jsonl")
    a = p.parse_args(argv)
    if a.worker:
        return worker(a)
    if a.quick:
        a.sizes, a.backends, a.train_iters, a.repeat = [512, 1024], ["auto"], 30, 1
    out, results = grid_paths(a, "distributed.jsonl")
    runs = run_grid(cases(a), run_case, results, key=_key, report_only=a.report_only)
    sink = sinkhorn_rows([r for r in runs if r["kind"] == "sinkhorn"])
    train = trainer_rows([r for r in runs if r["kind"] == "trainer"])
    png = figure(sink, out / "distributed.png")
    report(a, sink, train, png, out, unmeasured(runs))


def _row(rows, **keys):
    return next((r for r in rows if all(r[k] == v for k, v in keys.items())), None)


LOAD = "load (1-min avg) before/after"


def _load_span(rows) -> str:
    """The range of the 1-minute load average over these rows' runs, as ``"lo-hi"``."""
    loads = [float(v) for r in rows for v in r[LOAD].split(" / ")]
    return f"{min(loads):.1f}-{max(loads):.1f}"


def answer(a, sink, train) -> str:
    """The measured answers, as ratios of rows measured in the same run."""
    lines = []
    for backend in sorted({r["backend"] for r in sink}):
        for n in sorted({r["n"] for r in sink if r["backend"] == backend}):
            one, two_threads, many = (_row(sink, n=n, backend=backend, processes=p,
                                           **{"threads each": t})
                                      for p, t in _setups(a.nproc))
            if None in (one, two_threads, many):
                continue
            lines.append(
                f"- n = {n}, backend {backend}: {a.nproc} processes take "
                f"{many['ms / iteration'] / one['ms / iteration']:.2f}x the time per iteration "
                f"of one process on one thread and "
                f"{many['ms / iteration'] / two_threads['ms / iteration']:.2f}x that of one "
                f"process on {2} threads; communication {100 * many['communication share']:.0f} % "
                f"of a rank's time; peak memory per process "
                f"{many['peak memory growth per process (MiB)']:.0f} MiB against "
                f"{one['peak memory growth per process (MiB)']:.0f} MiB "
                f"({many['peak memory growth per process (MiB)'] / one['peak memory growth per process (MiB)']:.2f}x); "
                f"costs agree to {abs(many['cost'] / one['cost'] - 1):.0e} (relative); "
                f"load {_load_span([one, two_threads, many])} during these runs.")
    one = _row(train, processes=1, **{"threads each": 1})
    for row in train:
        if row["processes"] > 1 and one is not None:
            lines.append(
                f"- trainer, {row['processes']} processes x batch {row['batch per process']} "
                f"(global batch {row['global batch']}): {row['iterations / s']:.2f} iterations/s "
                f"against {one['iterations / s']:.2f} for one process on one thread (batch "
                f"{one['batch per process']}), {row['iterations / s'] / one['iterations / s']:.2f}x; "
                f"the gradient all-reduce (waiting included) "
                f"{100 * row['communication share']:.0f} % of a rank's time; load "
                f"{_load_span([one, row])} during these runs.")
    if sink:
        spans = ", ".join(f"n = {n}: {_load_span([r for r in sink if r['n'] == n])}"
                          for n in sorted({r["n"] for r in sink}))
        lines.append(
            f"- The machine is shared: each size's rows ran minutes apart, the sizes at different "
            f"times, under the load of other jobs on its 2 cores ({spans}; trainer: "
            f"{_load_span(train) if train else 'n/a'}). Compare rows of one size, with their "
            f"load column; across sizes the times are not comparable. Under load a configuration "
            f"with 2 threads or 2 processes competes with the other jobs: one process on 2 threads "
            f"(threads that wait for each other) suffers most.")
    return "\n".join(lines)


def report(a, sink, train, png, out_dir, missing=""):
    backend = "NCCL" if a.device.startswith("cuda") else "Gloo"
    setup = (
        f"{a.nproc} processes (torchrun --standalone, {backend}, one torch thread each) against "
        f"one process with 1 and with 2 torch threads, on the same global problem. Sinkhorn: "
        f"n = m points in d = 2 (two Gaussian clouds, seed 0 and 1), W_1 cost, default ε, "
        f"ε-scaling 0.5 and a budget of {a.sinkhorn_iters} iterations at the target ε; time "
        f"per iteration = median solve time (of {a.repeat}) / iterations, slowest rank. "
        f"'communication share' is the time a rank spent in collectives (waiting for the "
        f"other rank included) over its solve time. 'peak memory growth' is the rise of the "
        f"process's peak resident set during one solve, measured in a separate run of fresh "
        f"processes with MALLOC_MMAP_THRESHOLD_=131072 (large blocks mapped and unmapped, so "
        f"the figure follows what the solver holds, not how glibc's heap fragmented; with the "
        f"default the same solve varied up to 2x). The machine's other users (the load column) "
        f"share its 2 cores: the rows with 2 threads or 2 processes compete with them. Trainer: "
        f"WGAN-GP, 8 Gaussians, 3x128 MLPs, n_critic 5, {a.train_iters} iterations, no "
        f"evaluation; communication share = time in the gradient all-reduce.")
    sections = [("Setup", setup), ("Answer", answer(a, sink, train)),
                ("Sinkhorn: time per iteration and memory per process", markdown_table(sink)),
                ("Trainer: iterations per second", markdown_table(train)),
                ("Figure", f"![time per iteration]({png.name})")]
    if missing:
        sections.append(("Configurations without a result", missing))
    if not a.device.startswith("cuda"):
        sections.append(("GPU (NCCL)", "Not measured: no GPU in this session. Run "
                         "`python -m benchmarks.distributed --device cuda --nproc N` on a "
                         "machine with N GPUs (`benchmarks/gpu_session.sh distributed`)."))
    path = write_report("distributed", "Scaling out: torch.distributed, 1 vs several "
                        "processes", device=a.device, sections=sections, out_dir=out_dir)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
