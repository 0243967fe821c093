"""Sinkhorn back-ends on the CPU: what does each cost per iteration, and what does "auto" pick?

Question: on two 2-D Gaussian samples (n = m, W_1, otlab's default ε and tolerance), how
long does ``sinkhorn_samples`` take per iteration with the dense operator and with the
tiled operator at each of its memory tiers (keeping its costs and absorbed kernels, its
kernels only, or nothing: an exponential per entry at every soft-min), and where does
``backend="auto"`` switch?  The sweep crosses n = 2896,
where the former rule (dense up to n*m = 2^23 entries, then tiled) fell off a cliff.

All back-ends run the same iterations on the same costs (the iteration counts are
equal), so time per iteration compares the soft-min implementations.  One torch thread.

Every run (one variant, one size, one repeat) is appended to
``sinkhorn_backends.jsonl`` as it ends; a later call runs only the missing runs and
``--report-only`` rewrites the report from the results.

Usage::

    python -m benchmarks.sinkhorn_backends                 # n = 1000 ... 4000
    python -m benchmarks.sinkhorn_backends --sizes 500,1000 --streamed-max-n 1000
    python -m benchmarks.sinkhorn_backends --report-only
"""

from __future__ import annotations

import argparse

import numpy as np

from ._harness import (add_grid_arguments, fields_key, grid_paths, markdown_table, measure,
                       pyplot, run_grid, save_png, unmeasured, write_report)

SIZES = (1000, 2000, 2800, 2900, 3000, 4000)


def samples(n, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 2)), rng.normal(size=(n, 2)) + [1.0, 0.0]


#: Back-end variants: name -> (backend, arrays of n x m the tiled operator may keep or None).
VARIANTS = {
    "dense": ("dense", None),
    "tiled, costs and kernels kept": ("tiled", 3),
    "tiled, kernels kept": ("tiled", 2),
    "tiled, streamed": ("tiled", 0),
    "auto": ("auto", None),
}


def solve(x, y, variant):
    """The Sinkhorn loop of ``sinkhorn_samples`` with one back-end variant.

    The tiled variants are given a memory budget of exactly what they may keep
    (what the tiled operator does with that much memory).  Returns
    ``(n_iter, what was kept, op)``.
    """
    from otlab.entropic.backend import MEMORY_FRACTION
    from otlab.entropic.problem import PointProblem
    from otlab.entropic.solver import SinkhornOptions, solve as run_loop
    from otlab.sample import Sample

    backend, arrays = VARIANTS[variant]
    available = None if arrays is None else int(arrays * len(x) * len(y) * 8 / MEMORY_FRACTION)
    problem = PointProblem.build(Sample(x), Sample(y), 1)
    op, f, g, n_iter, _ = run_loop(problem, problem.local_reg(None), backend,
                                   SinkhornOptions(tol=1e-4), available=available)
    kept = "costs, kernels" if getattr(op, "_kept_costs", None) is not None or op.name == "dense" \
        else ("kernels" if getattr(op, "kernels", None) is not None else "nothing")
    return n_iter, kept, op


def run_case(case):
    """One timed solve of one variant at one size (no warm-up: the runs are interleaved)."""
    import torch

    from otlab.entropic.backend import MEMORY_FRACTION, available_memory

    x, y = samples(case["n"])
    m = measure(lambda: solve(x, y, case["variant"]), repeat=1, warmup=0)
    n_iter, kept, op = m.result
    return {"seconds": m.wall_s, "cpu_s": m.cpu_s, "iterations": n_iter, "kept": kept,
            "operator": op.name, "load": m.load_before,
            "memory_budget": MEMORY_FRACTION * available_memory(torch.device("cpu"))}


def cases(sizes, repeat, streamed_max_n):
    """Interleaved repeats (A B C A B C ...) per size: the machine's load drifts."""
    grid = []
    for n in sizes:
        variants = ["dense", "tiled, costs and kernels kept", "tiled, kernels kept", "auto"]
        if n <= streamed_max_n:
            variants.append("tiled, streamed")
        grid += [{"n": n, "variant": v, "repeat": r} for r in range(repeat) for v in variants]
    return grid


def table(runs):
    """One row per size and variant: the median time of its repeats, per iteration, vs dense."""
    rows = []
    for n in sorted({r["n"] for r in runs}):
        at_n = [r for r in runs if r["n"] == n]
        variants = list(dict.fromkeys(r["variant"] for r in at_n))
        dense_per_iter = None
        for variant in variants:
            mine = [r for r in at_n if r["variant"] == variant]
            seconds = float(np.median([r["seconds"] for r in mine]))
            last = mine[-1]
            per_iter = seconds / last["iterations"]
            if variant == "dense":
                dense_per_iter = per_iter
            rows.append({"n": n, "back-end": variant if variant != "auto"
                         else f"auto ({last['operator']})",
                         "kept": last["kept"], "iterations": last["iterations"],
                         "time (s)": seconds, "ms / iteration": 1e3 * per_iter,
                         "ratio to dense": per_iter / dense_per_iter if dense_per_iter
                         else float("nan")})
    return rows


def report(runs, repeat, out):
    rows = table(runs)
    loads = [r["load"] for r in runs] or [float("nan")]
    budget = runs[-1]["memory_budget"] if runs else float("nan")
    dense_limit = int((budget / 24) ** 0.5) if runs else 0
    sections = [
        ("Setup", f"Two 2-D Gaussian samples N(0, I) and N((1, 0), I), n = m, uniform weights; "
                  "the Sinkhorn loop of `sinkhorn_samples(order=1)` at its defaults (ε = 0.004 "
                  "m_2^(1/2), tol 1e-4, ε-scaling 0.5, Anderson; the final pass over the plan, "
                  f"the same for all, is left out). One torch thread, median of {repeat} "
                  "interleaved runs per row (the iteration "
                  "counts are equal across back-ends, so the ratios compare the soft-mins). "
                  f"Load average (1 min) {min(loads):.1f} to {max(loads):.1f} before the runs "
                  "of the sweep, on a 2-core machine shared with other jobs: absolute times are "
                  "inflated and noisy; the ratios within a row group are what to read. "
                  f"Memory budget of `auto`: a quarter of MemAvailable = {budget / 2**30:.1f} GiB, "
                  f"so dense up to n = m = {dense_limit} in float64."),
        ("Results", markdown_table(rows)),
        ("Answer", _answer(rows)),
    ]
    if unmeasured(runs):
        sections.append(("Runs without a result", unmeasured(runs)))
    path = write_report("sinkhorn_backends", "Sinkhorn back-ends on the CPU: time per iteration",
                        device="cpu", sections=sections, out_dir=out)
    _plot(rows, out / "sinkhorn_backends.png")
    return path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)))
    parser.add_argument("--repeat", type=int, default=3, help="interleaved repeats per variant")
    parser.add_argument("--streamed-max-n", type=int, default=3000,
                        help="largest n for the streamed tiled variant (slow by design)")
    add_grid_arguments(parser, "sinkhorn_backends.jsonl")
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(1)
    out, results = grid_paths(args, "sinkhorn_backends.jsonl")
    grid = cases([int(s) for s in args.sizes.split(",")], args.repeat, args.streamed_max_n)
    runs = run_grid(grid, run_case, results, key=fields_key("n", "variant", "repeat"),
                    report_only=args.report_only)
    path = report(runs, args.repeat, out)
    print(path.read_text())


def _answer(rows):
    every = [r["ratio to dense"] for r in rows if r["back-end"] == "tiled, costs and kernels kept"]
    kept = [r["ratio to dense"] for r in rows if r["back-end"] == "tiled, kernels kept"]
    streamed = [r["ratio to dense"] for r in rows if r["back-end"] == "tiled, streamed"]
    autos = {r["n"]: r["back-end"][6:-1] for r in rows if r["back-end"].startswith("auto")}
    lines = [f"- Where the dense arrays fit, the tiled operator keeps its costs and kernels and "
             f"costs {min(every):.2f}x to {max(every):.2f}x the dense one per iteration "
             "(target: at most 1.5x).",
             f"- With room for its two kernels only, it costs {min(kept):.2f}x to {max(kept):.2f}x "
             "(the costs are recomputed at each kernel refresh: every change of ε)."]
    if streamed:
        lines.append(f"- Streaming an exponential per entry (beyond the memory budget) costs "
                     f"{min(streamed):.1f}x to {max(streamed):.1f}x the dense iteration.")
    switch = ("it switches nowhere in this sweep" if len(set(autos.values())) == 1 else
              "it switches where the dense arrays stop fitting the memory budget")
    lines.append("- `auto` picked: " + ", ".join(f"n = {n}: {b}" for n, b in autos.items())
                 + f"; {switch}.")
    return "\n".join(lines)


def _plot(rows, path):
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for variant, marker in (("dense", "o"), ("tiled, costs and kernels kept", "D"),
                            ("tiled, kernels kept", "s"), ("tiled, streamed", "^")):
        sel = [r for r in rows if r["back-end"] == variant]
        if sel:
            ax.plot([r["n"] for r in sel], [r["ms / iteration"] for r in sel], marker=marker,
                    label=variant)
    ax.axvline(2896, color="k", ls=":", lw=0.8, label="former dense limit (n*m = 2^23)")
    ax.set_xlabel("n = m (points per sample)")
    ax.set_ylabel("time per iteration (ms, one thread)")
    ax.set_yscale("log")
    ax.legend(fontsize=8)
    ax.set_title("sinkhorn_samples, W_1, default ε and tol")
    save_png(fig, path)


if __name__ == "__main__":
    main()
