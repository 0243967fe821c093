"""How fast is exact OT through ``otlab.wasserstein``, next to POT and SciPy?

Times, in one run on the same seeded samples:

* 2-D uniform-weight Gaussian samples, n = m: ``otlab.wasserstein(x, y)``
  against ``ot.emd2(a, b, ot.dist(x, y, metric="euclidean"))`` (the direct POT
  route, cost matrix included), ``scipy.optimize.linear_sum_assignment`` on the
  same Euclidean cost (an assignment solves uniform n x n exactly), and
  ``scipy.stats.wasserstein_distance_nd`` where it finishes in the budget;
* 1-D samples up to 10^6 points against ``scipy.stats.wasserstein_distance``.

Writes ``benchmarks/reports/exact.md`` and ``exact.png``.  Run
``python -m benchmarks.exact --help`` for options.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from ._harness import REPORTS, markdown_table, measure, pyplot, save_png, time_call, write_report

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


def bench_2d(sizes, *, repeat, nd_max, seed):
    rows = []
    for n in sizes:
        rng = np.random.default_rng(seed + n)
        x = rng.normal(size=(n, 2))
        y = rng.normal(size=(n, 2)) + np.array([1.0, 0.0])
        # Interleave the two main contenders so machine load hits both alike.
        t_otlab, t_pot = [], []
        for _ in range(repeat):
            t, w_otlab = time_call(lambda: otlab.wasserstein(x, y), repeat=1, warmup=0)
            t_otlab.append(t)
            t, w_pot = time_call(lambda: _pot(x, y), repeat=1, warmup=0)
            t_pot.append(t)
        t_lsa, w_lsa = time_call(lambda: _assignment(x, y), repeat=1, warmup=0)
        t_nd, w_nd = float("nan"), float("nan")
        if n <= nd_max:
            t_nd, w_nd = time_call(lambda: scipy.stats.wasserstein_distance_nd(x, y), repeat=1,
                                   warmup=0)
        t_o, t_p = float(np.median(t_otlab)), float(np.median(t_pot))
        rows.append({
            "n": n,
            "otlab s": t_o,
            "ot.emd2 s": t_p,
            "otlab/POT": t_o / t_p,
            "linear_sum_assignment s": t_lsa,
            "otlab/LSA": t_o / t_lsa,
            "wasserstein_distance_nd s": t_nd,
            "W_1 otlab": w_otlab,
            "max abs diff vs peers": max(abs(w_otlab - w_pot), abs(w_otlab - w_lsa),
                                         0.0 if np.isnan(w_nd) else abs(w_otlab - w_nd)),
        })
        print(rows[-1], flush=True)
    return rows


def bench_1d(sizes, *, repeat, seed):
    rows = []
    for n in sizes:
        rng = np.random.default_rng(seed + n)
        x = rng.normal(size=n)
        y = rng.standard_t(df=3, size=n) + 0.5
        wx, wy = rng.random(n), rng.random(n)
        t_u, w_u = time_call(lambda: otlab.wasserstein(x, y), repeat=repeat)
        t_us, w_us = time_call(lambda: scipy.stats.wasserstein_distance(x, y), repeat=repeat)
        t_w, w_w = time_call(lambda: otlab.wasserstein(x, y, a=wx, b=wy), repeat=repeat)
        t_ws, w_ws = time_call(lambda: scipy.stats.wasserstein_distance(x, y, wx, wy), repeat=repeat)
        rows.append({
            "n": n,
            "otlab s (uniform)": t_u,
            "scipy s (uniform)": t_us,
            "otlab/scipy (uniform)": t_u / t_us,
            "otlab s (weighted)": t_w,
            "scipy s (weighted)": t_ws,
            "otlab/scipy (weighted)": t_w / t_ws,
            "max abs diff": max(abs(w_u - w_us), abs(w_w - w_ws)),
        })
        print(rows[-1], flush=True)
    return rows


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


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 250, 500, 1000, 2000, 4000])
    parser.add_argument("--sizes-1d", type=int, nargs="+",
                        default=[1000, 10_000, 100_000, 1_000_000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--nd-max", type=int, default=500,
                        help="largest n for scipy.stats.wasserstein_distance_nd (a dense LP)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=REPORTS)
    args = parser.parse_args(argv)

    whole = measure(lambda: (bench_2d(args.sizes, repeat=args.repeat, nd_max=args.nd_max,
                                      seed=args.seed),
                             bench_1d(args.sizes_1d, repeat=args.repeat, seed=args.seed)),
                    repeat=1, warmup=0)
    rows_2d, rows_1d = whole.result
    args.out.mkdir(parents=True, exist_ok=True)
    plot(rows_2d, rows_1d, args.out / "exact.png")
    big = [r["otlab/POT"] for r in rows_2d if r["n"] >= 1000]
    summary = (
        f"Median of {args.repeat} interleaved runs per size; the whole benchmark took "
        f"{whole.wall_s:.0f} s (load {whole.load_before:.1f} to {whole.load_after:.1f}).\n\n"
        f"- Overhead of `otlab.wasserstein` over a direct `ot.emd2` call at n >= 1000: "
        + (", ".join(f"{(r - 1) * 100:+.1f} %" for r in big) if big else "(no such sizes run)")
        + " (target: <= +5 %).\n"
        f"- 1-D path vs `scipy.stats.wasserstein_distance`: ratios "
        + ", ".join(f"{r['otlab/scipy (uniform)']:.2f} / {r['otlab/scipy (weighted)']:.2f}"
                    for r in rows_1d)
        + " (uniform / weighted; target <= 2).\n"
        "- Every peer's value agrees with otlab's (last column of each table).\n"
    )
    path = write_report(
        "exact", "Exact Wasserstein distance: otlab vs POT and SciPy", device="cpu",
        sections=[("Summary", summary),
                  ("2-D Gaussian samples, W_1, uniform weights", markdown_table(rows_2d)),
                  ("1-D samples, W_1", markdown_table(rows_1d)),
                  ("Figure", "![time vs n](exact.png)")],
        out_dir=args.out,
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
