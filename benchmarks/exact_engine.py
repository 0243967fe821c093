"""Which engine for the restricted LPs of the exact sparse solver, and where does dense win?

Part 1 (the engine).  The column generation of ``otlab.emd_points(solver="sparse")``
solves an LP on a list of candidate pairs, adds the pairs its potentials
violate, and solves again.  On the same restricted problems (2-D uniform
clouds, W_2; round 1: the 8 nearest neighbours both ways plus the monotone
coupling; round 2: round 1 plus every pair among the 24 nearest neighbours
that round 1's potentials violate) this times:

* POT's sparse network simplex ``emd_c_sparse`` from cold, both rounds;
* POT's ``emd_c_sparse`` in round 2 warm-started with round 1's potentials
  (all it accepts);
* otlab's network simplex (:mod:`otlab.exact._simplex`) from cold, both
  rounds, and in round 2 with round 1's basis kept (pairs added).

Part 2 (the crossover).  ``emd_points`` with ``solver="dense"`` (POT's dense
simplex on the full cost matrix) against ``solver="sparse"`` for n = m from
200 to 1000, 2-D, W_1 and W_2: where ``choose_exact_solver`` should switch.

CPU time (``time.process_time``), one thread, median of 3 after a warm-up.
Writes ``benchmarks/reports/exact_engine.md``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import REPORTS, markdown_table, write_report  # noqa: E402


def _cpu(fn, repeat=3):
    times, out = [], None
    for _ in range(repeat):
        start = time.process_time()
        out = fn()
        times.append(time.process_time() - start)
    times.sort()
    return times[len(times) // 2], out


def _restricted_problems(n, seed=0):
    from otlab.costs import PowerCost
    from otlab.exact._multiscale import _knn_keys, _monotone_keys, _sorted_unique

    rng = np.random.default_rng([seed, n])
    x, y = rng.random((n, 2)), rng.random((n, 2))
    a = b = np.full(n, 1.0 / n)
    cost = PowerCost(2.0)
    keys1 = _sorted_unique(np.concatenate([_knn_keys(x, y, 8, n), _monotone_keys(x, a, y, b, n)]))
    wide = _sorted_unique(_knn_keys(x, y, 24, n))
    return x, y, a, b, cost, keys1, wide


def _pot(a, b, keys, costs, n, warm=None):
    from otlab.exact._restricted import solve_restricted

    return solve_restricted(a, b, keys // n, keys % n, costs, max_iter=10**12, warm=warm)


def _otlab(a, b, keys, costs, n):
    from otlab.exact._simplex import NetworkSimplex

    ns = NetworkSimplex(a, b)
    ns.add_arcs(keys // n, keys % n, costs)
    ns.solve(max_iter=10**12)
    return ns


def engine_rows(sizes):
    rows = []
    for n in sizes:
        x, y, a, b, cost, keys1, wide = _restricted_problems(n)
        c1 = cost.pairs(x, y, keys1 // n, keys1 % n)
        pot1_t, pot1 = _cpu(lambda: _pot(a, b, keys1, c1, n))
        ns1_t, ns1 = _cpu(lambda: _otlab(a, b, keys1, c1, n))
        cw = cost.pairs(x, y, wide // n, wide % n)
        viol = pot1.f[wide // n] + pot1.g[wide % n] - cw > 1e-12
        new = np.setdiff1d(wide[viol], keys1)
        keys2 = np.concatenate([keys1, new])
        c2 = cost.pairs(x, y, keys2 // n, keys2 % n)
        pot2_t, pot2 = _cpu(lambda: _pot(a, b, keys2, c2, n))
        potw_t, potw = _cpu(lambda: _pot(a, b, keys2, c2, n, warm=(pot1.f, pot1.g)))
        ns2_t, ns2 = _cpu(lambda: _otlab(a, b, keys2, c2, n))

        def kept():
            ns = _otlab(a, b, keys1, c1, n)
            start = time.process_time()
            ns.add_arcs(new // n, new % n, cost.pairs(x, y, new // n, new % n))
            ns.solve(max_iter=10**12)
            return time.process_time() - start, ns

        runs = sorted(kept() for _ in range(3))
        keep_t, keep = runs[1]
        rel = max(abs(pot1.cost - ns1.cost()) / pot1.cost,
                  abs(pot2.cost - ns2.cost()) / pot2.cost,
                  abs(pot2.cost - keep.cost()) / pot2.cost,
                  abs(pot2.cost - potw.cost) / pot2.cost)
        rows.append({"n": n, "pairs r1": keys1.shape[0], "added r2": new.shape[0],
                     "POT r1 cold": pot1_t, "otlab r1 cold": ns1_t,
                     "POT r2 cold": pot2_t, "POT r2 warm pot.": potw_t,
                     "otlab r2 cold": ns2_t, "otlab r2 kept basis": keep_t,
                     "r1 POT/otlab": pot1_t / ns1_t, "r2 POT warm/otlab kept": potw_t / keep_t,
                     "max rel diff": rel, "load": os.getloadavg()[0]})
        print(rows[-1], flush=True)
    return rows


def crossover_rows(sizes):
    from otlab.exact import emd_points

    rows = []
    emd_points(np.zeros((3, 2)), np.ones((3, 2)), solver="sparse")  # compile / load the cache
    for n in sizes:
        rng = np.random.default_rng([1, n])
        x, y = rng.random((n, 2)), rng.random((n, 2))
        for order in (1.0, 2.0):
            dense_t, dense = _cpu(lambda: emd_points(x, y, order=order, solver="dense"))
            sparse_t, sparse = _cpu(lambda: emd_points(x, y, order=order, solver="sparse"))
            rows.append({"n": n, "k": int(order), "dense s": dense_t, "sparse s": sparse_t,
                         "dense/sparse": dense_t / sparse_t,
                         "rel diff": abs(dense.cost - sparse.cost) / dense.cost,
                         "load": os.getloadavg()[0]})
            print(rows[-1], flush=True)
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[2000, 8000])
    parser.add_argument("--crossover", type=int, nargs="+", default=[200, 300, 400, 600, 1000])
    parser.add_argument("--out", type=Path, default=REPORTS)
    args = parser.parse_args(argv)
    engine = engine_rows(args.sizes)
    cross = crossover_rows(args.crossover)
    path = write_report(
        "exact_engine", "The exact sparse solver's engine: kept basis vs POT, and dense vs sparse",
        device="cpu",
        sections=[("Restricted LPs (CPU seconds, median of 3)",
                   "Same problems for both solvers (module docstring); `max rel diff` is the "
                   "largest relative difference between the optimal values.  `load` is the "
                   "1-minute load average of the 2-core machine after the case.\n\n"
                   + markdown_table(engine)),
                  ("emd_points dense vs sparse (CPU seconds, median of 3)",
                   markdown_table(cross))],
        out_dir=args.out)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
