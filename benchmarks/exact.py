"""How fast is exact OT through ``otlab.wasserstein``, next to POT and SciPy?

Times, in one run on the same seeded samples:

* 2-D uniform-weight Gaussian samples, n = m: ``otlab.wasserstein(x, y)``
  against ``ot.emd2(a, b, ot.dist(x, y, metric="euclidean"))`` (the direct POT
  route, cost matrix included), ``scipy.optimize.linear_sum_assignment`` on the
  same Euclidean cost (an assignment solves uniform n x n exactly), and
  ``scipy.stats.wasserstein_distance_nd`` where it finishes in the budget;
* 1-D samples up to 10^6 points against ``scipy.stats.wasserstein_distance``.

Each size is one case, appended to ``benchmarks/reports/exact.jsonl`` as it ends
(a later call runs only the missing sizes; ``--report-only`` rewrites the report).
Writes ``benchmarks/reports/exact.md`` and ``exact.png``.  Run
``python -m benchmarks.exact --help`` for options.
"""

from __future__ import annotations

import argparse

import numpy as np

from ._harness import (add_grid_arguments, fields_key, grid_paths, markdown_table, measure,
                       number, pyplot, run_grid, save_png, unmeasured, write_report)

import ot
import scipy.stats
from scipy.optimize import linear_sum_assignment
from scipy.spatial.distance import cdist

import otlab


def _pot(x, y):
    a = np.full(len(x), 1 / len(x))
    b = np.full(len(y), 1 / len(y))
    return ot.emd2(a, b, ot.dist(x, y, metric="euclidean"), numItermax=otlab.exact.default_max_iter(len(x), len(y)))


def _assignment(x, y):
    cost = cdist(x, y)
    rows, cols = linear_sum_assignment(cost)
    return cost[rows, cols].mean()


def _once(fn):
    """``(wall seconds, result)`` of one call, no warm-up (:func:`measure`)."""
    m = measure(fn, repeat=1, warmup=0)
    return m.wall_s, m.result


def run_2d(case):
    """One 2-D size: otlab and POT interleaved ``repeat`` times, then the assignment and ND."""
    n = case["n"]
    rng = np.random.default_rng(case["seed"] + n)
    x = rng.normal(size=(n, 2))
    y = rng.normal(size=(n, 2)) + np.array([1.0, 0.0])
    # Interleave the two main contenders so machine load hits both alike.
    t_otlab, t_pot = [], []
    for _ in range(case["repeat"]):
        t, w_otlab = _once(lambda: otlab.wasserstein(x, y))
        t_otlab.append(t)
        t, w_pot = _once(lambda: _pot(x, y))
        t_pot.append(t)
    t_lsa, w_lsa = _once(lambda: _assignment(x, y))
    t_nd, w_nd = float("nan"), float("nan")
    if n <= case["nd_max"]:
        t_nd, w_nd = _once(lambda: scipy.stats.wasserstein_distance_nd(x, y))
    return {"otlab s": t_otlab, "ot.emd2 s": t_pot, "linear_sum_assignment s": t_lsa,
            "wasserstein_distance_nd s": t_nd, "W otlab": w_otlab, "W POT": w_pot,
            "W LSA": w_lsa, "W ND": w_nd}


def run_1d(case):
    """One 1-D size: otlab and SciPy, uniform and weighted, median of ``repeat`` each."""
    n, repeat = case["n"], case["repeat"]
    rng = np.random.default_rng(case["seed"] + n)
    x = rng.normal(size=n)
    y = rng.standard_t(df=3, size=n) + 0.5
    wx, wy = rng.random(n), rng.random(n)
    calls = {"otlab uniform": lambda: otlab.wasserstein(x, y),
             "scipy uniform": lambda: scipy.stats.wasserstein_distance(x, y),
             "otlab weighted": lambda: otlab.wasserstein(x, y, a=wx, b=wy),
             "scipy weighted": lambda: scipy.stats.wasserstein_distance(x, y, wx, wy)}
    row = {}
    for name, fn in calls.items():
        m = measure(fn, repeat=repeat)
        row[f"{name} s"], row[f"W {name}"] = m.wall_s, m.result
    return row


def run_case(case):
    m = measure(lambda: (run_2d if case["kind"] == "2d" else run_1d)(case), repeat=1, warmup=0)
    return {**m.result, "case s": m.wall_s, "load before": m.load_before,
            "load after": m.load_after}


def rows_2d(runs):
    rows = []
    for r in runs:
        t_o, t_p = float(np.median(r["otlab s"])), float(np.median(r["ot.emd2 s"]))
        w, nd = r["W otlab"], r["W ND"]
        rows.append({
            "n": r["n"],
            "otlab s": t_o,
            "ot.emd2 s": t_p,
            "otlab/POT": t_o / t_p,
            "linear_sum_assignment s": r["linear_sum_assignment s"],
            "otlab/LSA": t_o / r["linear_sum_assignment s"],
            "wasserstein_distance_nd s": number(r["wasserstein_distance_nd s"]),
            "W_1 otlab": w,
            "max abs diff vs peers": max(abs(w - r["W POT"]), abs(w - r["W LSA"]),
                                         0.0 if nd is None else abs(w - nd)),
        })
    return rows


def rows_1d(runs):
    return [{
        "n": r["n"],
        "otlab s (uniform)": r["otlab uniform s"],
        "scipy s (uniform)": r["scipy uniform s"],
        "otlab/scipy (uniform)": r["otlab uniform s"] / r["scipy uniform s"],
        "otlab s (weighted)": r["otlab weighted s"],
        "scipy s (weighted)": r["scipy weighted s"],
        "otlab/scipy (weighted)": r["otlab weighted s"] / r["scipy weighted s"],
        "max abs diff": max(abs(r["W otlab uniform"] - r["W scipy uniform"]),
                            abs(r["W otlab weighted"] - r["W scipy weighted"])),
    } for r in runs]


def plot(rows_2d, rows_1d, path):
    plt = pyplot()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    n = [r["n"] for r in rows_2d]
    ax1.loglog(n, [r["otlab s"] for r in rows_2d], "o-", label="otlab.wasserstein")
    ax1.loglog(n, [r["ot.emd2 s"] for r in rows_2d], "s--", label="ot.emd2 + ot.dist")
    ax1.loglog(n, [r["linear_sum_assignment s"] for r in rows_2d], "^:", label="linear_sum_assignment")
    nd = [(r["n"], r["wasserstein_distance_nd s"]) for r in rows_2d if r["wasserstein_distance_nd s"] == r["wasserstein_distance_nd s"]]
    if nd:
        ax1.loglog(*zip(*nd), "x-.", label="wasserstein_distance_nd")
    ax1.set(xlabel="n = m (2-D)", ylabel="seconds", title="exact W_1, 2-D Gaussians")
    ax1.legend()
    n1 = [r["n"] for r in rows_1d]
    ax2.loglog(n1, [r["otlab s (uniform)"] for r in rows_1d], "o-", label="otlab (uniform)")
    ax2.loglog(n1, [r["scipy s (uniform)"] for r in rows_1d], "s--", label="scipy (uniform)")
    ax2.loglog(n1, [r["otlab s (weighted)"] for r in rows_1d], "o:", label="otlab (weighted)")
    ax2.loglog(n1, [r["scipy s (weighted)"] for r in rows_1d], "s:", label="scipy (weighted)")
    ax2.set(xlabel="n = m (1-D)", ylabel="seconds", title="W_1 on the line")
    ax2.legend()
    save_png(fig, path, dpi=90)


def report(runs, repeat, out):
    two = rows_2d([r for r in runs if r["kind"] == "2d"])
    one = rows_1d([r for r in runs if r["kind"] == "1d"])
    plot(two, one, out / "exact.png")
    big = [r["otlab/POT"] for r in two if r["n"] >= 1000]
    loads = [r[k] for r in runs for k in ("load before", "load after")] or [float("nan")]
    summary = (
        f"Median of {repeat} interleaved runs per size; the cases took "
        f"{sum(r['case s'] for r in runs):.0f} s in all (load {min(loads):.1f} to "
        f"{max(loads):.1f}).\n\n"
        f"- Overhead of `otlab.wasserstein` over a direct `ot.emd2` call at n >= 1000: "
        + (", ".join(f"{(r - 1) * 100:+.1f} %" for r in big) if big else "(no such sizes run)")
        + " (target: <= +5 %).\n"
        "- 1-D path vs `scipy.stats.wasserstein_distance`: ratios "
        + ", ".join(f"{r['otlab/scipy (uniform)']:.2f} / {r['otlab/scipy (weighted)']:.2f}"
                    for r in one)
        + " (uniform / weighted; target <= 2).\n"
        "- Every peer's value agrees with otlab's (last column of each table).\n"
    )
    sections = [("Summary", summary),
                ("2-D Gaussian samples, W_1, uniform weights", markdown_table(two)),
                ("1-D samples, W_1", markdown_table(one)),
                ("Figure", "![time vs n](exact.png)")]
    if unmeasured(runs):
        sections.append(("Sizes without a result", unmeasured(runs)))
    return write_report("exact", "Exact Wasserstein distance: otlab vs POT and SciPy",
                        device="cpu", sections=sections, out_dir=out)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 250, 500, 1000, 2000, 4000])
    parser.add_argument("--sizes-1d", type=int, nargs="+",
                        default=[1000, 10_000, 100_000, 1_000_000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--nd-max", type=int, default=500,
                        help="largest n for scipy.stats.wasserstein_distance_nd (a dense LP)")
    parser.add_argument("--seed", type=int, default=0)
    add_grid_arguments(parser, "exact.jsonl")
    args = parser.parse_args(argv)
    out, results = grid_paths(args, "exact.jsonl")
    common = {"repeat": args.repeat, "seed": args.seed}
    grid = ([{"kind": "2d", "n": n, "nd_max": args.nd_max, **common} for n in args.sizes]
            + [{"kind": "1d", "n": n, **common} for n in args.sizes_1d])
    runs = run_grid(grid, run_case, results, key=fields_key("kind", "n", "repeat", "seed"),
                    report_only=args.report_only)
    path = report(runs, args.repeat, out)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
