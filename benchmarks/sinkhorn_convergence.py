"""Sinkhorn convergence: how many iterations does each acceleration need to reach the tolerance?

Question: at the target ε, how many iterations (and how much time) does otlab's Sinkhorn need
to bring the L1 marginal error below ``tol`` with each ``acceleration`` — ``None`` (plain
Sinkhorn), ``"overrelaxation"`` (fixed ω = 1.5 on the f-update, the default before Anderson
mixing) and ``"anderson"`` (safeguarded Anderson mixing, the default) — and does the cost stay
as accurate against the exact W (POT network simplex through ``otlab.wasserstein``)?

Cases:

* a Gaussian sample and its translate by (0.3, 0), cost |x - y|^k, k = 1 (the optimal plan is
  far from unique: the slow case) and k = 2, ε in {1e-2, 3e-3, 1e-3}, n in {500, 2000},
  through ``otlab.entropic.sinkhorn`` on the cost matrix, tol 1e-6 (its default);
* the ``benchmarks/sinkhorn.py`` case: two Gaussian samples N(0, I), N((1, 1), I), n = 1000,
  d = 2, k = 1, default ε, through ``sinkhorn_samples`` with tol 1e-4 (its default);
* parallel lines (``otlab.datasets.parallel_lines``, θ = 0.5, n = 1000, evenly spaced and
  random heights), k = 1, default ε, ``sinkhorn_samples``, tol 1e-4.

``cost`` is ⟨P, C⟩ (cost units): its relative error is against W_k^k.  One torch thread; all
accelerations are timed in the same process on the same data.

Usage::

    python -m benchmarks.sinkhorn_convergence            # the full matrix (about 20 minutes)
    python -m benchmarks.sinkhorn_convergence --quick    # n = 500 only, max_iter 2000
    python -m benchmarks.sinkhorn_convergence --report-only   # the report from its results

Every case is appended to ``benchmarks/reports/sinkhorn_convergence.jsonl`` as it ends; a
later call runs only the cases not there.
"""

from __future__ import annotations

import argparse
import functools
import warnings

import numpy as np

from ._harness import (REPORTS, add_grid_arguments, fields_key, markdown_table, measure, pyplot,
                       run_grid, run_timed, save_png, write_report)

ACCELERATIONS = (None, "overrelaxation", "anderson")
LABELS = {None: "none (plain)", "overrelaxation": "overrelaxation ω=1.5 (previous default)",
          "anderson": "anderson (default)"}
SHIFT = 0.3


def translation(n, seed=0):
    x = np.random.default_rng(seed).normal(size=(n, 2))
    return x, x + np.array([SHIFT, 0.0])


def data(case: str, n: int):
    """The two samples of a case."""
    from otlab.datasets import parallel_lines

    from .sinkhorn import gaussian_samples

    if case == "translate":
        return translation(n)
    if case == "two Gaussians":
        return gaussian_samples(n, 2)
    return parallel_lines(0.5, n, grid=case.endswith("grid"), seed=0)


def cases(sizes, regs, max_iter):
    """The grid: one dict per case and acceleration (``eps`` computed where it is the default)."""
    from otlab.entropic import default_reg

    specs = [("translate", n, order, reg, 1e-6, "matrix") for n in sizes for order in (1, 2)
             for reg in regs]
    for name in ("two Gaussians", "parallel lines, grid", "parallel lines, random"):
        specs.append((name, 1000, 1, default_reg(*data(name, 1000), 1), 1e-4, "samples"))
    return [{"case": name, "n": n, "k": order, "eps": reg, "tol": tol,
             "acceleration": LABELS[acceleration], "api": api, "max_iter": max_iter}
            for name, n, order, reg, tol, api in specs for acceleration in ACCELERATIONS]


#: Which recorded row answers which case.
KEY = fields_key("case", "n", "k", "eps", "tol", "acceleration")


@functools.lru_cache(maxsize=None)
def _exact(case: str, n: int, order: int) -> float:
    import otlab

    return otlab.wasserstein(*data(case, n), order=order, method="exact") ** order


def run_case(case: dict) -> dict:
    """Solve one case with one acceleration (median of up to 3 runs within 2 s)."""
    acceleration = {label: a for a, label in LABELS.items()}[case["acceleration"]]
    x, y = data(case["case"], case["n"])
    call = solver_call(x, y, case["k"], case["eps"], case["tol"], case["api"], acceleration,
                       case["max_iter"])
    m = measure(call, repeat=3, warmup=0, budget_s=2.0)
    res, exact = m.result, _exact(case["case"], case["n"], case["k"])
    cost = float(res.cost)
    return {"iterations": res.n_iter, "converged": res.converged,
            "marginal error": res.marginal_error, "time (s)": m.wall_s, "exact W^k": exact,
            "cost": cost, "rel. error": (cost - exact) / exact}


#: The columns of the results table, in order.
COLUMNS = ("case", "n", "k", "eps", "tol", "acceleration", "iterations", "converged",
           "marginal error", "time (s)", "exact W^k", "cost", "rel. error")


def solver_call(x, y, order, reg, tol, api, acceleration, max_iter):
    import torch

    import otlab
    from otlab.entropic import sinkhorn, sinkhorn_samples

    if api == "matrix":
        M = torch.from_numpy(otlab.cost_matrix(x, y, order=order))
        a = torch.full((len(x),), 1.0 / len(x), dtype=torch.float64)

        def call():
            return sinkhorn(a, a, M, reg, tol=tol, max_iter=max_iter, acceleration=acceleration)
    else:
        def call():
            return sinkhorn_samples(x, y, reg=reg, order=order, tol=tol, max_iter=max_iter,
                                    acceleration=acceleration)

    def quiet():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return call()

    return quiet


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="500,2000", help="comma-separated n of the translates")
    parser.add_argument("--max-iter", type=int, default=20000, help="iteration cap at the target ε")
    parser.add_argument("--quick", action="store_true", help="n = 500, ε in {1e-2}, max_iter 2000")
    add_grid_arguments(parser, "sinkhorn_convergence.jsonl")
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(1)
    sizes = [500] if args.quick else [int(s) for s in args.sizes.split(",")]
    regs = [1e-2] if args.quick else [1e-2, 3e-3, 1e-3]
    max_iter = 2000 if args.quick else args.max_iter
    out = args.out or REPORTS
    out.mkdir(parents=True, exist_ok=True)
    rows = run_grid(cases(sizes, regs, max_iter), run_case,
                    args.results or out / "sinkhorn_convergence.jsonl", key=KEY,
                    report_only=args.report_only)
    if rows.missing or rows.failed:
        raise SystemExit(f"{len(rows.missing)} cases not recorded and {len(rows.failed)} "
                         "failed: run without --report-only")
    rows = [{k: r[k] for k in COLUMNS} for r in rows]
    sections = [
        ("Setup", f"{__doc__.split('Usage::')[0].split(chr(10), 2)[2].strip()}\n\n"
                  f"Iteration cap at the target ε: max_iter = {max_iter} (ε-scaling steps "
                  "come on top); a refused Anderson proposal counts as an iteration."),
        ("Results", markdown_table(rows)),
        ("Ratios", _ratios(rows)),
    ]
    path = write_report("sinkhorn_convergence", "Sinkhorn convergence: plain, over-relaxed, "
                        "Anderson", device="cpu", sections=sections, out_dir=out)
    _plot(rows, out / "sinkhorn_convergence.png")
    print(path.read_text())


def _ratios(rows):
    """Per case: iterations and time of the other choices over those of Anderson mixing."""
    lines = []
    for i in range(0, len(rows), len(ACCELERATIONS)):
        group = {r["acceleration"]: r for r in rows[i:i + len(ACCELERATIONS)]}
        ours = group[LABELS["anderson"]]
        head = f"- {ours['case']}, n = {ours['n']}, k = {ours['k']}, ε = {ours['eps']:.3g}: "
        parts = []
        for acceleration in (None, "overrelaxation"):
            other = group[LABELS[acceleration]]
            bound = "≥ " if not other["converged"] else ""
            parts.append(f"{LABELS[acceleration].split(' ')[0]} / anderson iterations "
                         f"{bound}{other['iterations'] / ours['iterations']:.3g}, time "
                         f"{bound}{other['time (s)'] / ours['time (s)']:.3g}")
        lines.append(head + "; ".join(parts))
    return ("(≥: the other choice stopped at max_iter without converging.)\n\n"
            + "\n".join(lines))


def _plot(rows, path):
    plt = pyplot()
    groups = [rows[i:i + len(ACCELERATIONS)] for i in range(0, len(rows), len(ACCELERATIONS))]
    fig, ax = plt.subplots(figsize=(max(8, 0.75 * len(groups)), 4.6))
    width = 0.8 / len(ACCELERATIONS)
    for j, acceleration in enumerate(ACCELERATIONS):
        xs = [i + (j - 1) * width for i in range(len(groups))]
        its = [g[j]["iterations"] for g in groups]
        bars = ax.bar(xs, its, width, label=LABELS[acceleration])
        for bar, g in zip(bars, groups):
            if not g[j]["converged"]:
                bar.set_hatch("//")
    ax.set_yscale("log")
    ax.set_ylabel("iterations to tol (hatched: not converged)")
    ax.set_xticks(range(len(groups)))
    ax.set_xticklabels([f"{g[0]['case'].replace(', ', chr(10))}\nn={g[0]['n']}\nk={g[0]['k']}"
                        f"\nε={g[0]['eps']:.2g}" for g in groups], fontsize=6)
    from matplotlib.patches import Patch

    handles = [Patch(color=f"C{j}", label=LABELS[a]) for j, a in enumerate(ACCELERATIONS)]
    handles.append(Patch(facecolor="white", edgecolor="black", hatch="//", label="not converged"))
    ax.legend(handles=handles, fontsize=7, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=len(handles),
              frameon=False)
    save_png(fig, path)


if __name__ == "__main__":
    run_timed(main)
