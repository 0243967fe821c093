"""Which engine for the restricted LPs of the exact sparse solver, and where does dense win?

Part 1 (the engine).  The column generation of ``otlab.emd_points(solver="sparse")``
solves an LP on a list of candidate pairs, adds the pairs its potentials
violate, and solves again.  One solve is recorded (the finest level's masses
and the pairs added at each round) and replayed, round by round, through:

* POT's sparse network simplex ``emd_c_sparse`` from cold on all pairs so far;
* the same warm-started with the previous round's potentials (all it accepts);
* otlab's network simplex (:mod:`otlab.exact._simplex`) from cold, and with
  the previous round's basis kept (pairs added).  Round 1 is a cold start for
  all (the coarse-level seed that ``emd_points`` uses is not replayed).

Problems: 2-D uniform clouds (W_2) and 64 x 64 grid pairs of smooth Gaussian
random fields (W_1, W_2).

Part 2 (the crossover).  ``emd_points`` with ``solver="dense"`` (POT's dense
simplex on the full cost matrix) against ``solver="sparse"`` for n = m from
200 to 1000, 2-D, W_1 and W_2: where ``choose_exact_solver`` should switch.

CPU time (the harness's :func:`~benchmarks._harness.measure`), one thread (part 2:
median of 3).
Run as ``python -m benchmarks.exact_engine``; writes ``benchmarks/reports/exact_engine.md``.
Each problem of part 1 and each (n, k) of part 2 is one case, appended to
``exact_engine.jsonl`` as it ends; a later call runs only the missing ones and
``--report-only`` rewrites the report from the results.
"""

from __future__ import annotations

import argparse
import numpy as np

from ._harness import (add_grid_arguments, fields_key, grid_paths, load_average, markdown_table,
                       measure, number, run_grid, unmeasured, write_report)


def _cpu(fn, repeat=3):
    """``(median CPU seconds, last result)`` of ``repeat`` runs of ``fn`` (:func:`measure`)."""
    m = measure(fn, repeat=repeat, warmup=0)
    return sorted(m.cpus)[len(m.cpus) // 2], m.result


def _recorded_rounds(x, y, a, b, order):
    """The finest level's restricted LPs of one ``emd_points`` solve: masses and pairs added."""
    from otlab.exact import emd_points
    from otlab.exact._simplex import NetworkSimplex

    calls, init, add = [], NetworkSimplex.__init__, NetworkSimplex.add_arcs

    def record_init(self, wa, wb):
        calls.append((self, wa.copy(), wb.copy(), []))
        init(self, wa, wb)

    def record_add(self, rows, cols, costs):
        next(c for c in calls if c[0] is self)[3].append((rows.copy(), cols.copy(), costs.copy()))
        add(self, rows, cols, costs)

    NetworkSimplex.__init__, NetworkSimplex.add_arcs = record_init, record_add
    try:
        res = emd_points(x, y, a, b, order=order, solver="sparse")
    finally:
        NetworkSimplex.__init__, NetworkSimplex.add_arcs = init, add
    _, wa, wb, rounds = max(calls, key=lambda c: c[1].shape[0])
    return wa, wb, rounds, res.cost


def _pot(a, b, rounds, r, warm=None):
    from otlab.exact._restricted import solve_restricted

    rows, cols, costs = (np.concatenate([c[i] for c in rounds[:r + 1]]) for i in range(3))
    return solve_restricted(a, b, rows, cols, costs, max_iter=10**12, warm=warm)


def _problems():
    """(name, x, y, a, b, order): 2-D uniform clouds and a 64 x 64 grid pair."""
    rng = np.random.default_rng(0)
    for n in (2000, 8000):
        yield f"2-D uniform n={n}, k=2", rng.random((n, 2)), rng.random((n, 2)), None, None, 2.0
    side = 64
    g = (np.arange(side) + 0.5) / side
    grid = np.stack(np.meshgrid(g, g, indexing="ij"), -1).reshape(-1, 2)
    freq = np.fft.fftfreq(side)[:, None] ** 2 + np.fft.fftfreq(side)[None] ** 2

    def field():
        f = np.fft.ifft2(np.fft.fft2(rng.normal(size=(side, side)))
                         * np.exp(-freq * (0.05 * side) ** 2 / 2)).real
        return (f - f.min() + 1e-3).ravel()

    for order in (1.0, 2.0):
        yield f"64^2 smooth random field, k={int(order)}", grid, grid, field(), field(), order


def _warm_up():
    """Load POT's and otlab's compiled code before any timing (POT's first sparse call
    costs seconds once)."""
    from otlab.exact._simplex import NetworkSimplex

    a = np.full(2, 0.5)
    _pot(a, a, [(np.array([0, 1]), np.array([0, 1]), np.array([1.0, 1.0]))], 0)
    ns = NetworkSimplex(a, a)
    ns.add_arcs(np.array([0, 1]), np.array([0, 1]), np.array([1.0, 1.0]))
    ns.solve(max_iter=10)


def engine_rows(problem):
    """The replayed rounds of one problem of :func:`_problems` (by name)."""
    from otlab.exact._simplex import NetworkSimplex

    _warm_up()
    name, x, y, a, b, order = next(p for p in _problems() if p[0] == problem)
    rows = []
    wa, wb, rounds, value = _recorded_rounds(x, y, a, b, order)
    kept = NetworkSimplex(wa, wb)
    pot_prev = None
    for r, (ar, ac, acost) in enumerate(rounds):
        cold_t, cold = _cpu(lambda: _pot(wa, wb, rounds, r), repeat=1)
        warm_t, warm = (_cpu(lambda: _pot(wa, wb, rounds, r, warm=pot_prev), repeat=1)
                        if pot_prev is not None else (float("nan"), cold))
        pot_prev = (cold.f, cold.g)
        pivots, work = kept.pivots, kept.work.copy()
        kept_t, _ = _cpu(lambda: (kept.add_arcs(ar, ac, acost),
                                  kept.solve(max_iter=10**12)), repeat=1)
        pivots, work = max(kept.pivots - pivots, 1), kept.work - work
        fresh = NetworkSimplex(wa, wb)
        fresh.add_arcs(*(np.concatenate([c[i] for c in rounds[:r + 1]]) for i in range(3)))
        fresh_t, _ = _cpu(lambda: fresh.solve(max_iter=10**12), repeat=1)
        rows.append({"problem": name, "round": r + 1, "pairs": sum(c[0].shape[0] for c in
                                                                  rounds[:r + 1]),
                     "added": ar.shape[0], "POT cold": cold_t, "POT warm potentials": warm_t,
                     "otlab cold": fresh_t, "otlab kept basis": kept_t,
                     "kept pivots": pivots, "kept us/pivot": 1e6 * kept_t / pivots,
                     "priced/pivot": work[0] / pivots, "shifted/pivot": work[1] / pivots,
                     "cycle/pivot": work[2] / pivots,
                     "POT cold/otlab cold": cold_t / fresh_t,
                     "POT warm/otlab kept": warm_t / kept_t,
                     "rel diff": max(abs(cold.cost - kept.cost()),
                                     abs(cold.cost - fresh.cost())) / cold.cost,
                     "load": load_average()})
    return rows


def crossover_row(n, order):
    """``emd_points`` dense against sparse at one size and order (CPU seconds, median of 3)."""
    from otlab.exact import emd_points

    emd_points(np.zeros((3, 2)), np.ones((3, 2)), solver="sparse")  # compile / load the cache
    rng = np.random.default_rng([1, n])
    x, y = rng.random((n, 2)), rng.random((n, 2))
    dense_t, dense = _cpu(lambda: emd_points(x, y, order=order, solver="dense"))
    sparse_t, sparse = _cpu(lambda: emd_points(x, y, order=order, solver="sparse"))
    return {"n": n, "k": int(order), "dense s": dense_t, "sparse s": sparse_t,
            "dense/sparse": dense_t / sparse_t,
            "rel diff": abs(dense.cost - sparse.cost) / dense.cost,
            "load": load_average()}


def run_case(case):
    if case["part"] == "engine":
        return {"rounds": engine_rows(case["problem"])}
    row = crossover_row(case["n"], float(case["k"]))
    return {"row": row}


def cases(crossover):
    """Part 1: every problem; part 2: every size at k = 1 and 2."""
    return ([{"part": "engine", "problem": p[0]} for p in _problems()]
            + [{"part": "crossover", "n": n, "k": k} for n in crossover for k in (1, 2)])


def _key(row):
    return fields_key("part", "problem")(row) if row["part"] == "engine" else \
        fields_key("part", "n", "k")(row)


def report(runs, out):
    engine = [{k: number(v) if v is None else v for k, v in r.items()}  # NaN stored as null
              for run in runs if run["part"] == "engine" for r in run["rounds"]]
    cross = [run["row"] for run in runs if run["part"] == "crossover"]
    sections = [("Restricted LPs of the column generation, replayed (CPU seconds)",
                 "Same LPs for both solvers (module docstring); `rel diff` is the "
                 "largest relative difference between the optimal values.  `load` is the "
                 "1-minute load average of the 2-core machine after the round.  Per pivot "
                 "of the kept-basis solve: arcs priced, potentials shifted (the smaller "
                 "side of the re-hung subtree) and cycle nodes walked to the apex.\n\n"
                 + markdown_table(engine)),
                ("emd_points dense vs sparse (CPU seconds, median of 3)",
                 markdown_table(cross))]
    if unmeasured(runs):
        sections.append(("Cases without a result", unmeasured(runs)))
    return write_report(
        "exact_engine", "The exact sparse solver's engine: kept basis vs POT, and dense vs sparse",
        device="cpu", sections=sections, out_dir=out)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--crossover", type=int, nargs="+", default=[200, 300, 400, 600, 1000])
    add_grid_arguments(parser, "exact_engine.jsonl")
    args = parser.parse_args(argv)
    out, results = grid_paths(args, "exact_engine.jsonl")
    runs = run_grid(cases(args.crossover), run_case, results, key=_key,
                    report_only=args.report_only)
    path = report(runs, out)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
