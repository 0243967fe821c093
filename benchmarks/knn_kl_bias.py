"""How far off is the k-NN KL estimate, and does the error it reports say so?

For Gaussian pairs with a closed-form KL, :func:`otlab.estimators.knn_kl` is run
on independent samples at several sizes n = m.  Over the replications the
script reports the bias (mean estimate - KL), the actual spread of the estimate
(its standard deviation across replications), the mean ``std_error`` the
estimator reported (the delete-half jackknife), and the mean ``drift``
(estimate minus the half-sample estimate), the estimator's own sign that its
bias has not settled.

Cases (KL in nats):

* d = 1: N(0, 1) vs N(1, 1.5^2);
* d = 2: N(0, I) vs N((1, -0.5), [[1.5, 0.5], [0.5, 1]]);
* d = 5: N(0, 2 I) vs N(0, I), the case where the estimate is far off.

Each case is appended to ``benchmarks/reports/knn_kl_bias.jsonl`` as it ends (a
later call runs only the missing ones; ``--report-only`` rewrites the report
from them).  Writes ``benchmarks/reports/knn_kl_bias.md`` and ``knn_kl_bias.png``.
"""

from __future__ import annotations

import argparse

import numpy as np

from ._harness import (REPORTS, add_grid_arguments, fields_key, load_average, markdown_table, measure, pyplot,
                       run_grid, save_png, write_report)

from otlab.estimators import knn_kl


def gaussian_kl(mean1, cov1, mean2, cov2) -> float:
    """Closed-form KL(N(mean1, cov1) || N(mean2, cov2))."""
    inv2 = np.linalg.inv(cov2)
    diff = mean2 - mean1
    logdet = np.linalg.slogdet(cov2)[1] - np.linalg.slogdet(cov1)[1]
    return float(0.5 * (np.trace(inv2 @ cov1) + diff @ inv2 @ diff - len(mean1) + logdet))


CASES = {
    "d=1": (np.zeros(1), np.eye(1), np.ones(1), np.eye(1) * 2.25),
    "d=2": (np.zeros(2), np.eye(2), np.array([1.0, -0.5]), np.array([[1.5, 0.5], [0.5, 1.0]])),
    "d=5": (np.zeros(5), 2 * np.eye(5), np.zeros(5), np.eye(5)),
}


#: The columns of the table, in order.
COLUMNS = ("case", "n = m", "KL", "replications", "mean estimate", "bias", "actual sd",
           "mean std_error", "std_error / sd", "mean drift", "runs with drift > 2 SE",
           "s per call")
#: Which recorded row answers which case.
KEY = fields_key("case", "n = m", "replications", "seed")


def run_case(case: dict) -> dict:
    """The replications of one case (Gaussian pair and size): the row of the table."""
    name, n, reps, seed = case["case"], case["n = m"], case["replications"], case["seed"]
    mean1, cov1, mean2, cov2 = CASES[name]
    truth = gaussian_kl(mean1, cov1, mean2, cov2)
    rng = np.random.default_rng([seed, n, len(mean1)])
    results, seconds, cpu = [], 0.0, 0.0
    for r in range(reps):
        x = rng.multivariate_normal(mean1, cov1, size=n)
        y = rng.multivariate_normal(mean2, cov2, size=n)
        m = measure(lambda: knn_kl(x, y, seed=r), repeat=1, warmup=0)
        results.append(m.result)
        seconds, cpu = seconds + m.wall_s, cpu + m.cpu_s
    est = np.array([res.kl for res in results])
    se = np.array([res.std_error for res in results])
    drift = np.array([res.drift for res in results])
    return {
        "case": name, "n = m": n, "KL": truth, "replications": reps,
        "mean estimate": est.mean(),
        "bias": f"{100 * (est.mean() - truth) / truth:+.1f} %",
        "actual sd": est.std(ddof=1),
        "mean std_error": se.mean(),
        "std_error / sd": se.mean() / est.std(ddof=1),
        "mean drift": drift.mean(),
        "runs with drift > 2 SE": f"{int(np.sum(np.abs(drift) > 2 * se))}/{reps}",
        "s per call": seconds / reps, "cpu s per call": cpu / reps,
        "load": load_average(),
    }


def plot(rows, path):
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for name in CASES:
        rs = [r for r in rows if r["case"] == name]
        ns = np.array([r["n = m"] for r in rs])
        rel = np.array([(r["mean estimate"] - r["KL"]) / r["KL"] for r in rs])
        err = np.array([r["mean std_error"] / r["KL"] for r in rs])
        ax.errorbar(ns, 100 * rel, yerr=200 * err, marker="o", capsize=3,
                    label=f"{name} (KL = {rs[0]['KL']:.3f})")
    ax.axhline(0, color="k", lw=0.8)
    ax.set_xscale("log")
    ax.set_xlabel("sample size n = m (points per sample)")
    ax.set_ylabel("bias of the mean estimate (% of KL)")
    ax.set_title("k-NN KL (k = 1): bias, with ±2 reported standard errors")
    ax.legend()
    save_png(fig, path)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[500, 2000, 5000, 20000, 50000])
    parser.add_argument("--reps", type=int, default=20,
                        help="replications at n <= 5000 (default %(default)s)")
    parser.add_argument("--reps-large", type=int, default=10,
                        help="replications at n > 5000 (default %(default)s)")
    parser.add_argument("--seed", type=int, default=0)
    add_grid_arguments(parser, "knn_kl_bias.jsonl")
    args = parser.parse_args(argv)
    out_dir = args.out or REPORTS
    out_dir.mkdir(parents=True, exist_ok=True)
    cases = [{"case": name, "n = m": n, "replications": args.reps if n <= 5000
              else args.reps_large, "seed": args.seed} for name in CASES for n in args.sizes]
    rows = run_grid(cases, run_case, args.results or out_dir / "knn_kl_bias.jsonl", key=KEY,
                    report_only=args.report_only)
    if not rows:
        raise SystemExit("no results recorded for these cases; run without --report-only")
    plot(rows, out_dir / "knn_kl_bias.png")
    table = markdown_table([{k: r[k] for k in COLUMNS} for r in rows])
    loads = [r["load"] for r in rows]
    total = sum(r["s per call"] * r["replications"] for r in rows)
    sections = [
        ("Setup", f"k = 1, n_subsamples = 20 (the defaults); independent samples per "
         f"replication; {total:.0f} s of wall time in the estimator calls, one process; "
         f"machine load (1-min average) {min(loads):.1f} to {max(loads):.1f} at the end of "
         f"the cases (timings are only indicative)."),
        ("Bias, spread and reported error", table),
        ("Reading the table",
         "`actual sd` is the standard deviation of the estimate across replications; "
         "`mean std_error` is what `knn_kl` reported from one sample (the delete-half "
         "jackknife); their ratio near 1 means the reported error is calibrated (the "
         "standard deviation of 10 replications is itself uncertain by about ±25 %, of 20 "
         "by ±16 %). The bias "
         "is not in `std_error`: where it dominates (d = 5), the `drift` (estimate minus the "
         "half-sample estimate) is positive and larger than two standard errors, the "
         "estimator's own sign that its estimate is still rising with n and too low."),
        ("Figure", "![bias vs n](knn_kl_bias.png)"),
    ]
    path = write_report("knn_kl_bias", "k-NN KL: bias, and the error it reports", device="cpu",
                        sections=sections, out_dir=out_dir)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
