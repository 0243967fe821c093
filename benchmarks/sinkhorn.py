"""Sinkhorn: how fast and how accurate is otlab against POT and GeomLoss on the same samples?

Question: at equal ε and tolerance, how long does each library take to estimate W_k between
two 2-D (or 3-D) Gaussian samples, and how far is the estimate from the exact W_k (POT emd2)?

Conventions, converted explicitly:

* otlab returns W_k = <P_eps, C_k>^(1/k) with C_k = |x - y|^k, eps in cost units.
* POT ``ot.sinkhorn2(a, b, M, reg)`` returns <P_eps, M>; we pass M = |x - y|^k and take the
  k-th root.  Its stopThr is an L2 marginal error; otlab's tol is the (stricter) L1 error.
* GeomLoss ``SamplesLoss("sinkhorn", p=k, blur=eps^(1/k), debias=False)`` uses the cost
  |x - y| for p=1 and |x - y|^2 / 2 for p=2, and returns the entropic objective (not <P, C>).
  For p=2 we multiply the points by sqrt(2), so that its cost |sqrt2 (x - y)|^2 / 2 equals
  ours, and pass blur = eps^(1/k) (its ε is blur^p in its cost units).  We report
  (value)^(1/k) of what it returns.

Every case (one library at one size) is appended to ``sinkhorn.jsonl`` (on a GPU:
``sinkhorn_gpu.jsonl``) as it ends; a later call runs only the missing cases, and
``--report-only`` rewrites the report from the results.

Usage (CPU here; GPU on the lent machine, ``benchmarks/gpu_session.sh sinkhorn``)::

    OMP_NUM_THREADS=1 python -m benchmarks.sinkhorn --device cpu --sizes 1000
    python -m benchmarks.sinkhorn --device cuda            # n = 16384 (d=2) and 10^6 (d=3)
    python -m benchmarks.sinkhorn --report-only            # re-render the report
"""

from __future__ import annotations

import argparse
import math
import warnings

import numpy as np

from ._harness import (add_grid_arguments, fields_key, grid_paths, markdown_table, measure,
                       number, pyplot, run_grid, save_png, unmeasured, write_report)

EXACT_MAX_N = 16384  # POT emd2 (CPU network simplex) beyond this is too slow/large


def gaussian_samples(n, d, seed=0):
    rng = np.random.default_rng(seed)
    shift = np.zeros(d)
    shift[:2] = 1.0
    return rng.normal(size=(n, d)), rng.normal(size=(n, d)) + shift


def exact_w(x, y, order, max_n=EXACT_MAX_N):
    import ot

    if len(x) > max_n:
        return float("nan")
    M = ot.dist(x, y, metric="euclidean") ** order
    w = np.full(len(x), 1.0 / len(x))
    return float(ot.emd2(w, w, M, numItermax=10**8)) ** (1.0 / order)


def run_otlab(x, y, order, reg, tol, device, backend="auto"):
    import torch

    from otlab.entropic import sinkhorn_samples

    xt = torch.as_tensor(x, device=device, dtype=torch.float64 if device == "cpu" else torch.float32)
    yt = torch.as_tensor(y, device=device, dtype=xt.dtype)

    def call():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = sinkhorn_samples(xt, yt, reg=reg, order=order, tol=tol, backend=backend)
        return res

    return call, lambda res: (float(res.cost) ** (1.0 / order), res.n_iter, res.backend)


def run_pot(x, y, order, reg, tol, device, max_iter=1000):
    import ot

    if device == "cpu":
        M = ot.dist(x, y, metric="euclidean") ** order
        w = np.full(len(x), 1.0 / len(x))
        args = (w, w, M)
    else:
        import torch

        xt = torch.as_tensor(x, device=device, dtype=torch.float32)
        yt = torch.as_tensor(y, device=device, dtype=torch.float32)
        M = torch.cdist(xt, yt) ** order
        w = torch.full((len(x),), 1.0 / len(x), device=device)
        args = (w, w, M)

    def call():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return ot.sinkhorn2(*args, reg, method="sinkhorn_log", stopThr=tol, numItermax=max_iter)

    return call, lambda v: (float(v) ** (1.0 / order), "", "sinkhorn_log")


def run_geomloss(x, y, order, reg, device, scaling):
    import torch
    from geomloss import SamplesLoss

    # GeomLoss p=2 cost is |x-y|^2/2: scale points by sqrt(2) so that it equals |x-y|^2.
    factor = math.sqrt(2.0) if order == 2 else 1.0
    xt = torch.as_tensor(x * factor, device=device, dtype=torch.float32)
    yt = torch.as_tensor(y * factor, device=device, dtype=torch.float32)
    # blur^p is GeomLoss's epsilon in its cost units; with the scaling above they are ours.
    loss = SamplesLoss("sinkhorn", p=order, blur=reg ** (1.0 / order),
                       scaling=scaling, debias=False, backend="tensorized")

    def call():
        return loss(xt, yt)

    return call, lambda v: (max(float(v), 0.0) ** (1.0 / order), "", f"tensorized s={scaling}")


#: The libraries of a size, in the order of the table ("exact": POT emd2, the reference).
LIBRARIES = ("exact", "otlab", "POT", "GeomLoss s=0.5", "GeomLoss s=0.9")
KEY = fields_key("device", "n", "d", "k", "tol", "library")


def _runner(case, x, y, reg):
    lib, device, order, tol = case["library"], case["device"], case["k"], case["tol"]
    if lib == "otlab":
        return run_otlab(x, y, order, reg, tol, device)
    if lib == "POT":
        return run_pot(x, y, order, reg, tol, device)
    return run_geomloss(x, y, order, reg, device, float(lib.split("=")[1]))


def run_case(case):
    """One library at one size: its W, iterations, time (median of up to 3) and memory."""
    from otlab.entropic import default_reg

    x, y = gaussian_samples(case["n"], case["d"])
    reg = default_reg(x, y, case["k"])
    if case["library"] == "exact":
        m = measure(lambda: exact_w(x, y, case["k"], max_n=case["n"]), repeat=1, warmup=0)
        detail, n_iter, value = "POT emd2", "", m.result
    else:
        call, read = _runner(case, x, y, reg)
        m = measure(call, repeat=3, warmup=1, device=case["device"], budget_s=case["budget_s"])
        value, n_iter, detail = read(m.result)
    peak = m.peak_cuda / 2**30 if m.peak_cuda is not None else math.nan
    return {"eps": reg, "detail": detail, "W": value, "iterations": n_iter,
            "time (s)": m.wall_s, "cpu (s)": m.cpu_s, "runs": m.runs, "load": m.load_before,
            "peak GPU GiB": peak}


def cases(device, sizes, order, *, exact_max_n, million, budget_s):
    """The grid: every library at every size (the exact W up to ``exact_max_n``)."""
    grid = [{"device": device, "n": n, "d": 2, "k": order, "tol": 1e-4, "library": lib,
             "budget_s": budget_s}
            for n in sizes for lib in LIBRARIES if lib != "exact" or n <= exact_max_n]
    if million:
        grid.append({"device": device, "n": 10**6, "d": 3, "k": 2, "tol": 1e-3,
                     "library": "otlab", "budget_s": 0.0})
    return grid


COLUMNS = ["n", "d", "k", "eps", "library", "detail", "exact W", "W", "rel. error", "time (s)",
           "iterations", "peak GPU GiB", "load"]


def table(rows):
    """The results table: each row with the exact W of its size and its relative error."""
    exact = {(r["n"], r["d"], r["k"]): r["W"] for r in rows if r["library"] == "exact"}
    out = []
    for r in rows:
        if r["library"] == "exact":
            continue
        ref = exact.get((r["n"], r["d"], r["k"]), math.nan)
        rel = (r["W"] - ref) / ref if ref == ref else math.nan
        out.append({**{k: r.get(k, "") for k in COLUMNS}, "exact W": ref, "rel. error": rel,
                    "library": r["library"].split(" ")[0], "peak GPU GiB": number(r["peak GPU GiB"])})
    return [{k: r[k] for k in COLUMNS} for r in out]


def report(grid, device, out):
    rows = table(grid)
    ours = {r["n"]: r["time (s)"] for r in rows if r["library"] == "otlab"}
    ratios = [f"- n = {r['n']}: {r['library']} ({r['detail']}) / otlab time = "
              f"{r['time (s)'] / ours[r['n']]:.3g}" for r in rows
              if r["library"] != "otlab" and r["n"] in ours]
    cuda = device.startswith("cuda")
    gpu_note = ("GPU rows (H100: n = 16384, d = 2, W_1 within 1 % in <= 50 ms; n = 10^6, d = 3 in "
                "<= 60 s and < 4 GiB) are **not yet measured**; run "
                "`python -m benchmarks.sinkhorn --device cuda` on the GPU machine "
                "(`benchmarks/gpu_session.sh sinkhorn`).")
    threads = sorted({r["threads"] for r in grid if "threads" in r})
    sections = [
        ("Setup", "Two Gaussian samples N(0, I) and N((1, 1), I) in d = 2, uniform weights, "
                  "same ε (otlab's default rule, 0.004 m_2^(k/2)) and tolerance 0.0001 for "
                  "otlab (L1 marginal error) and POT sinkhorn_log (L2, numItermax 1000). GeomLoss "
                  "is given the same ε (blur = ε^(1/k), points scaled by √2 for p = 2 because "
                  "its cost is |x-y|²/2) and returns its entropic objective, not ⟨P, C⟩. "
                  "Exact W from POT emd2 on |x-y|^k. One process, same samples, "
                  f"{'/'.join(map(str, threads)) or 'n/a'} torch thread(s); time = median of up "
                  "to 3 runs after a warm-up (fewer past 60 s), `load` = 1-minute load average "
                  "before the timed runs. otlab runs "
                  "with its defaults (ε-scaling s = 0.5, Anderson-accelerated iterations at "
                  "the target ε); iteration counts by acceleration are in "
                  "sinkhorn_convergence.md."),
        ("Results", markdown_table(rows)),
        ("Time ratios (peer / otlab)", "\n".join(ratios) or "(none)"),
        ("GPU", "Measured above." if cuda else gpu_note),
    ]
    missing = unmeasured(grid)
    if missing:
        sections.append(("Cases without a result", missing))
    name = "sinkhorn_gpu" if cuda else "sinkhorn"
    path = write_report(name, "Sinkhorn: otlab vs POT vs GeomLoss", device=device,
                        sections=sections, out_dir=out)
    _plot(rows, out / f"{name}.png")
    return path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--sizes", default=None, help="comma-separated n (default: cpu 1000; cuda 16384)")
    parser.add_argument("--order", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1, help="torch threads on the CPU")
    parser.add_argument("--quick", action="store_true", help="small sizes, one timed run")
    parser.add_argument("--exact-max-n", type=int, default=EXACT_MAX_N,
                        help="largest n for which the exact W (POT emd2) is computed")
    parser.add_argument("--skip-million", action="store_true", help="GPU: skip n = 10^6, d = 3")
    add_grid_arguments(parser, "sinkhorn.jsonl (sinkhorn_gpu.jsonl on CUDA)")
    args = parser.parse_args(argv)

    cuda = args.device.startswith("cuda")
    if not cuda:
        import torch

        torch.set_num_threads(args.threads)
    sizes = [int(s) for s in args.sizes.split(",")] if args.sizes else (
        [300] if args.quick else ([16384] if cuda else [1000]))
    grid = cases(args.device, sizes, args.order, exact_max_n=args.exact_max_n,
                 million=cuda and not args.skip_million, budget_s=0.0 if args.quick else 60.0)
    out, results = grid_paths(args, "sinkhorn_gpu.jsonl" if cuda else "sinkhorn.jsonl")
    threads = {} if cuda else {"threads": args.threads}
    rows = run_grid(grid, lambda case: {**run_case(case), **threads}, results, key=KEY,
                    report_only=args.report_only)
    path = report(rows, args.device, out)
    print(path.read_text())


def _plot(rows, path):
    plt = pyplot()
    ok = [r for r in rows if isinstance(r["time (s)"], float)]
    if not ok:
        return
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.5))
    labels = [f"{r['library']}\n{r['detail']}\nn={r['n']}" for r in ok]
    ax1.bar(labels, [r["time (s)"] for r in ok])
    ax1.set_ylabel("time (s)")
    ax1.set_yscale("log")
    ax2.bar(labels, [abs(r["rel. error"]) * 100 if r["rel. error"] == r["rel. error"] else 0 for r in ok])
    ax2.axhline(1.0, color="k", ls="--", lw=0.8, label="1 %")
    ax2.set_ylabel("|relative error vs exact W| (%)")
    ax2.legend(fontsize=8)
    for ax in (ax1, ax2):
        ax.tick_params(axis="x", labelsize=7)
    save_png(fig, path)


if __name__ == "__main__":
    main()
