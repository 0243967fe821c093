"""How far does exact OT scale: otlab's sparse and dense solvers, POT and Sinkhorn, time and memory.

Each case (method, n = m, dimension d, order k) runs in a fresh Python process
so that its peak resident memory (``ru_maxrss``) is its own; the imports and
a tiny warm-up solve run before the clock starts.  Data: two independent
uniform samples of the unit cube, seeded by (n, d).  Methods:

* ``sparse`` -- ``otlab.emd_points(x, y, order=k, solver="sparse")``
* ``dense``  -- ``otlab.emd_points(x, y, order=k, solver="dense")``
* ``pot``    -- ``ot.emd2(a, b, ot.dist(x, y, metric=...) ** ...)``: the direct POT
  route, cost matrix included
* ``sinkhorn`` -- GeomLoss ``SamplesLoss("sinkhorn", debias=False)`` with the
  largest blur in (3e-3, 1e-3, 3e-4) whose value is within 1 % of the
  exact one (the time of that run is reported).

Writes ``benchmarks/reports/exact_scale.md`` and ``exact_scale.png``.
``python -m benchmarks.exact_scale --help`` lists the options.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

from ._harness import REPORTS, markdown_table, pyplot, save_png, write_report

#: The repository root: each case runs as ``python -m benchmarks.exact_scale`` from there.
ROOT = Path(__file__).resolve().parent.parent

BLURS = (3e-3, 1e-3, 3e-4)


def _data(n, d, seed=0):
    import numpy as np

    rng = np.random.default_rng([seed, n, d])
    return rng.random((n, d)), rng.random((n, d))


def _rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _solve(method, x, y, order, exact):
    import numpy as np

    if method in ("sparse", "dense"):
        import otlab

        res = otlab.emd_points(x, y, order=order, solver=method,
                               progress=bool(os.environ.get("EXACT_SCALE_PROGRESS")))
        return {"value": res.cost, "converged": res.converged, "rounds": res.rounds,
                "pairs": res.n_pairs, "dual_violation": res.dual_violation}
    if method == "pot":
        import ot

        n = x.shape[0]
        a = np.full(n, 1 / n)
        cost = ot.dist(x, y, metric="euclidean") if order == 1 else ot.dist(x, y) ** (order / 2)
        return {"value": float(ot.emd2(a, a, cost, numItermax=10**10))}
    return _sinkhorn(x, y, order, exact)


def _sinkhorn(x, y, order, exact):
    import torch
    from geomloss import SamplesLoss

    xt, yt = torch.as_tensor(x), torch.as_tensor(y)
    scale = 1.0 if order == 1 else 2.0  # GeomLoss's p = 2 cost is |x - y|^2 / 2
    out = {}
    for blur in BLURS:
        loss = SamplesLoss("sinkhorn", p=int(order), blur=blur, scaling=0.9, debias=False,
                           backend="tensorized")
        start = time.perf_counter()
        value = scale * float(loss(xt, yt))
        out = {"value": value, "blur": blur, "seconds": time.perf_counter() - start}
        if exact and abs(value - exact) <= 0.01 * exact:
            break
    return out


def run_case(method, n, d, order, exact):
    """Child process: warm up, solve once, print a JSON line."""
    import numpy as np

    x, y = _data(n, d)
    _solve(method, *_data(50, d, seed=1), order, None)  # imports and warm-up
    base = _rss_mib()
    cpu, start = time.process_time(), time.perf_counter()
    out = _solve(method, x, y, order, exact)
    out.setdefault("seconds", time.perf_counter() - start)
    out["cpu_s"] = time.process_time() - cpu
    out.update(method=method, n=n, d=d, order=order, rss_mib=_rss_mib(), base_rss_mib=base)
    print(json.dumps({k: (float(v) if isinstance(v, np.floating) else v) for k, v in out.items()}))


def spawn(method, n, d, order, exact, timeout):
    cmd = [sys.executable, "-m", "benchmarks.exact_scale", "--case", method, str(n), str(d),
           str(order), str(exact or 0.0)]
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    try:
        done = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, timeout=timeout, env=env,
                              cwd=ROOT,
                              stderr=None if env.get("EXACT_SCALE_PROGRESS") else subprocess.PIPE)
    except subprocess.TimeoutExpired:
        return {"method": method, "n": n, "d": d, "order": order, "seconds": float("nan"),
                "note": f"stopped after {timeout} s"}
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("{")]
    if done.returncode != 0 or not lines:
        return {"method": method, "n": n, "d": d, "order": order, "seconds": float("nan"),
                "note": ((done.stderr or "").strip().splitlines() or ["failed"])[-1][:120]}
    return json.loads(lines[-1])


def _load():
    return os.getloadavg()[0]


def sweep(plan, timeout, log):
    rows = []
    for n, d, order, methods in plan:
        exact = None
        for method in methods:
            load = _load()
            row = spawn(method, n, d, order, exact, timeout)
            row["load"] = load
            if method == "sparse" and row.get("converged"):
                exact = row["value"]
            rows.append(row)
            print(json.dumps(row), flush=True)
            log.write(json.dumps(row) + "\n")
            log.flush()
    return rows


def _table(rows):
    by_case = {}
    for r in rows:
        by_case.setdefault((r["n"], r["d"], r["order"]), {})[r["method"]] = r
    out = []
    for (n, d, order), case in by_case.items():
        sp, pot = case.get("sparse", {}), case.get("pot", {})
        ref = sp.get("value")
        row = {"n": n, "d": d, "k": int(order), "load": max(r.get("load", 0) for r in case.values())}
        for name in ("sparse", "dense", "pot", "sinkhorn"):
            r = case.get(name)
            row[f"{name} s"] = r["seconds"] if r else float("nan")
            row[f"{name} MiB"] = r.get("rss_mib", float("nan")) if r else float("nan")
        row["sparse cpu s"] = sp.get("cpu_s", float("nan"))
        row["POT/sparse"] = (pot.get("seconds", float("nan")) / sp["seconds"]
                             if sp.get("seconds") else float("nan"))
        rel = [abs(case[k]["value"] - ref) / ref for k in ("dense", "pot")
               if ref and k in case and "value" in case[k]]
        row["max rel diff"] = max(rel) if rel else float("nan")
        sk = case.get("sinkhorn", {})
        row["sinkhorn err"] = (abs(sk["value"] - ref) / ref if ref and "value" in sk
                               else float("nan"))
        row["sparse rounds"] = sp.get("rounds", "")
        out.append(row)
    return out


NOTES = """\
- The machine (2 cores) was shared with other jobs while this ran.  The sweep up to n = 8000
  and the d = 3 and d = 10 rows ran at load 13 to 19 (a single-threaded solve got 10 to 15 % of
  a core; wall times inflated 6 to 10 times); the 2-D rows at n = 20 000 and 10^5 were run
  again later, with `--only`, at load 1.2 to 2.7, on the solver that `otlab.wasserstein` now
  calls.  Ratios between methods run back to back are meaningful; absolute wall times are not.
  CPU time (recorded for the later cases) is what the solver itself used.
- Values: the dense solver and POT agree with the sparse solver to 1e-14 relative or better
  in every case (`max rel diff`).  Every sparse solve that finished had `converged=True`, its
  certificate checked over all n x m pairs; `dual_violation` was 2e-13 to 7e-12 up to
  n = 20 000 and 2.6e-10 at n = 10^5 (W_1 = 0.00397), the round-off of POT's potentials,
  which grows with n through the size of the potentials the simplex carries.
- Peak RSS includes the Python process with numpy, SciPy, POT and torch loaded (about
  0.37 GiB before the solve).
- Sinkhorn: GeomLoss with `debias=False` and blur down to 3e-4 stayed 5 to 11 % below the exact
  W_1 at n = 1000 and 2000; at n = 4000 the run was stopped by hand after 15 min.  It never
  reached the 1 % target in this sweep.
- A case that shows "stopped after N s" hit the per-case time limit at that load.  At load
  15 to 20 the n = 10^5 runs took 1205 s (W_1) and did not finish in 1800 s (W_2); at load
  1.2 to 2.7 they took the times in the table.
- Sinkhorn at 1 % of the exact W_1 against GeomLoss, with otlab's own Sinkhorn, is measured
  in `sinkhorn_time_to_accuracy.md`; this sweep has only the GeomLoss peer.
"""


TARGETS = [  # (n, what, measure(case) -> seconds, ok(case, seconds) -> bool)
    (4000, "POT emd2 / otlab sparse >= 2, same value to 1e-9", "POT/sparse",
     lambda c, t: c["POT/sparse"] >= 2 and c["max rel diff"] <= 1e-9),
    (8000, "POT emd2 / otlab sparse >= 4", "POT/sparse", lambda c, t: c["POT/sparse"] >= 4),
    (20_000, "otlab sparse <= 60 s and peak RSS <= 2 GiB", "sparse s",
     lambda c, t: t <= 60 and c["sparse MiB"] <= 2048),
    (100_000, "otlab sparse <= 15 min and peak RSS <= 4 GiB", "sparse s",
     lambda c, t: t <= 900 and c["sparse MiB"] <= 4096),
]


def _cpu(case):
    cpu = case["sparse cpu s"]
    return "CPU time not recorded" if cpu != cpu else f"{cpu:.1f} s CPU"


def _summary(table):
    """One line per target: measured value, met or missed, in wall and in CPU time."""
    lines = []
    for n, what, key, ok in TARGETS:
        case = next((c for c in table if c["n"] == n and c["d"] == 2 and c["k"] == 1), None)
        if case is None:
            lines.append(f"- n = {n}: not run")
            continue
        verdict = "met" if ok(case, case["sparse s"]) else "MISSED in wall time"
        if key == "sparse s" and verdict != "met" and ok(case, case["sparse cpu s"]):
            verdict += f" (met in CPU time, {case['sparse cpu s']:.0f} s)"
        lines.append(f"- n = {n} (2-D, W_1): {what}: {case[key]:.3g} -> {verdict}; sparse "
                     f"{case['sparse s']:.1f} s wall, {_cpu(case)}, "
                     f"{case['sparse MiB']:.0f} MiB peak RSS, load {case['load']:.1f}")
    return "\n".join(lines) + "\n"


def plot(rows, path):
    plt = pyplot()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    styles = {"sparse": "o-", "dense": "s--", "pot": "^:", "sinkhorn": "x-."}
    labels = {"sparse": "otlab sparse (emd_points)", "dense": "otlab dense",
              "pot": "POT emd2 + ot.dist", "sinkhorn": "GeomLoss Sinkhorn (aiming at 1 %; error in table)"}
    for method, style in styles.items():
        pts = sorted((r["n"], r["seconds"], r.get("rss_mib", float("nan"))) for r in rows
                     if r["method"] == method and r["d"] == 2 and r["order"] == 1
                     and r["seconds"] == r["seconds"])
        if pts:
            n, t, mem = zip(*pts)
            ax1.loglog(n, t, style, label=labels[method])
            ax2.loglog(n, [m / 1024 for m in mem], style, label=labels[method])
    cpu = sorted((r["n"], r["cpu_s"]) for r in rows if r["method"] == "sparse" and "cpu_s" in r
                 and r["d"] == 2 and r["order"] == 1)
    if cpu:
        ax1.loglog(*zip(*cpu), "o", mfc="none", color="C0", label="otlab sparse, CPU time")
    ax1.set(xlabel="n = m (2-D uniform, W_1)", ylabel="seconds (wall unless marked CPU)",
            title="time (machine shared: load 13-19 up to n=8000, 1-3 above)")
    ax2.set(xlabel="n = m (2-D uniform, W_1)", ylabel="peak RSS (GiB)",
            title="peak resident memory (fresh process)")
    for ax, where in ((ax1, "lower right"), (ax2, "upper left")):
        ax.legend(fontsize=8, loc=where)
        ax.grid(True, which="both", alpha=0.3)
    save_png(fig, path)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", nargs=5, help=argparse.SUPPRESS)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 2000, 4000, 8000])
    parser.add_argument("--large", type=int, nargs="*", default=[20_000, 100_000],
                        help="sizes run with the sparse solver only")
    parser.add_argument("--sinkhorn-max", type=int, default=4000,
                        help="largest n for the Sinkhorn peer (dense GeomLoss kernel)")
    parser.add_argument("--timeout", type=int, default=1800)
    parser.add_argument("--from-log", type=Path, nargs="+",
                        help="rebuild the report from JSON-lines logs instead of running")
    parser.add_argument("--only", nargs="+", metavar="N:D:K",
                        help="run only these sparse cases (e.g. 100000:2:1), log to --log")
    parser.add_argument("--log", type=Path, help="JSON-lines log (default: next to the report)")
    parser.add_argument("--out", type=Path, default=REPORTS)
    args = parser.parse_args(argv)
    if args.case:
        method, n, d, order, exact = args.case
        run_case(method, int(n), int(d), float(order), float(exact) or None)
        return
    args.out.mkdir(parents=True, exist_ok=True)
    log_path = args.log or args.out / "exact_scale.jsonl"
    if args.from_log:
        rows = [json.loads(ln) for path in args.from_log for ln in path.read_text().splitlines()
                if ln]
    elif args.only:
        cases = [tuple(float(v) for v in c.split(":")) for c in args.only]
        with open(log_path, "w") as log:
            sweep([(int(n), int(d), k, ["sparse"]) for n, d, k in cases], args.timeout, log)
        return
    else:
        plan = [(n, 2, 1.0, ["sparse", "dense", "pot"] + (["sinkhorn"] if n <= args.sinkhorn_max
                                                           else [])) for n in args.sizes]
        plan += [(n, 2, 2.0, ["sparse", "pot"]) for n in (4000,)]
        plan += [(4000, d, k, ["sparse", "pot"]) for d in (3, 10) for k in (1.0, 2.0)]
        plan += [(n, 2, k, ["sparse"]) for n in args.large for k in (1.0, 2.0)]
        plan += [(20_000, d, 1.0, ["sparse"]) for d in (3, 10)]
        with open(log_path, "w") as log:
            rows = sweep(plan, args.timeout, log)
    table = _table(rows)
    plot(rows, args.out / "exact_scale.png")
    path = write_report(
        "exact_scale", "Exact OT at scale: sparse vs dense vs POT vs Sinkhorn", device="cpu",
        sections=[("Targets (issue 12)", _summary(table)),
                  ("Reading the numbers", NOTES),
                  ("Cases", "Times in seconds, peak RSS in MiB of a fresh process (its "
                   "imports, about 350 MiB with torch, included); `load` is the 1-minute load "
                   "average when the case started (2 cores); `sparse cpu s` is the CPU time of the sparse "
                   "solve (user + system), which the other processes on the machine do not "
                   "inflate.  `POT/sparse` is the speed-up "
                   "of otlab's sparse solver over `ot.emd2`; `max rel diff` compares the "
                   "dense and POT values with the sparse one; `sinkhorn err` is the relative "
                   "error of the Sinkhorn value reported.\n\n" + markdown_table(table)),
                  ("Figure", "![time and memory vs n](exact_scale.png)")],
        out_dir=args.out)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
