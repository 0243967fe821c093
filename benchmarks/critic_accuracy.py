"""How close do neural Kantorovich critics get to the exact W_1?

For each Lipschitz method of :func:`otlab.critics.estimate_w1` ("clip", "gp",
"lp", "sn", "ctransform") and each case, the estimate E_x f - E_y f on the
training split and on the held-out split is compared with the exact W_1 of
the same split (:func:`otlab.wasserstein`, the LP).  Cases:

* parallel lines, theta in {0.1, 0.5, 1} (WGAN paper, Example 1);
* two 2-D standard Gaussians, the second shifted by (2, 0) (W_1 = 2 between
  the populations);
* 8 Gaussians against 8 Gaussians plus unit Gaussian noise (WGAN-GP, §3.1);
* 25 Gaussians against the same plus unit noise;
* swiss roll against the same plus unit noise;
* a segment and its copy shifted by 0.5 orthogonally, randomly rotated in
  D = 64 (``otlab.datasets.manifold_pair``).

Relative error (estimate - exact) / exact, mean +- std over seeds.  Weight
clipping estimates K * W_1 for an unknown K: it is scored by its correlation
with the exact W_1 across cases instead.  A second table runs every method at
its defaults on the parallel lines, theta = 0.5, n = 400 per side, and a third
compares, for "gp" in 1-D (N(0, 1) vs N(2, 1)) over ``--sign-seeds`` seeds,
plain training, restarts until the estimate is positive, and the default
negation of a critic whose gap is negative.

Writes ``benchmarks/reports/critic_accuracy.md`` and ``critic_accuracy.png``.
The committed report is the reduced CPU run
``python -m benchmarks.critic_accuracy --seeds 2 --n 300 --steps 600``.
Full run on the GPU machine::

    python -m benchmarks.critic_accuracy --device cuda --seeds 5
"""

from __future__ import annotations

import argparse
import json
import os
import time
import warnings
from pathlib import Path

import numpy as np

from ._harness import REPORTS, markdown_table, pyplot, save_png, time_call, write_report

import otlab
from otlab import datasets
from otlab.critics import LIPSCHITZ_METHODS, CriticFailedWarning, estimate_w1

LOW_DIM = ("lines θ=0.1", "lines θ=0.5", "lines θ=1", "gaussians shift 2", "8 gaussians",
           "25 gaussians", "swiss roll")



def make_case(name: str, n: int, seed: int):
    """The pair of samples ``(x, y)`` of one case."""
    rng = np.random.default_rng([seed, 99])
    if name.startswith("lines"):
        theta = float(name.split("=")[1])
        return datasets.parallel_lines(theta, n, grid=True, seed=seed)
    if name == "gaussians shift 2":
        return rng.standard_normal((n, 2)), rng.standard_normal((n, 2)) + [2.0, 0.0]
    samplers = {"8 gaussians": datasets.eight_gaussians,
                "25 gaussians": datasets.twenty_five_gaussians,
                "swiss roll": datasets.swiss_roll}
    if name in samplers:
        x = samplers[name](n, seed=seed)
        y = samplers[name](n, seed=seed + 10_000) + rng.standard_normal((n, 2))
        return x, y
    if name == "manifold D=64":
        return datasets.manifold_pair("segment", n, ambient_dim=64, shift=0.5, seed=seed)
    raise ValueError(name)


CASES = (*LOW_DIM, "manifold D=64")


def _exact(split) -> float:
    x, wx, y, wy = split
    return float(otlab.wasserstein(x, y, a=wx, b=wy))


def run_one(method, case, seed, *, n, steps, device, batch_size):
    x, y = make_case(case, n, seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CriticFailedWarning)  # recorded in res.status
        res = estimate_w1(x, y, lipschitz=method, steps=steps, batch_size=batch_size,
                          device=device, seed=seed)
    return {
        "method": method, "case": case, "seed": seed,
        "estimate": res.estimate, "holdout_estimate": res.holdout_estimate,
        "exact": _exact(res.train), "exact_holdout": _exact(res.holdout_samples),
        "seconds": res.seconds, "status": res.status, "flips": len(res.flips),
        "max_grad_between": res.audit.max_grad_between, "max_slope": res.audit.max_slope,
        "lipschitz_bound": res.audit.lipschitz_bound,
    }


def _mean_std(v) -> str:
    v = np.asarray(v, dtype=float)
    return f"{100 * v.mean():+.1f} ± {100 * v.std():.1f} %"


def accuracy_table(records):
    rows = []
    for case in CASES:
        row = {"case": case}
        recs = [r for r in records if r["case"] == case]
        if not recs:
            continue
        row["exact W1 (train)"] = float(np.mean([r["exact"] for r in recs if r["method"] == "gp"]
                                                or [recs[0]["exact"]]))
        for m in LIPSCHITZ_METHODS:
            mr = [r for r in recs if r["method"] == m]
            if m == "clip" or not mr:
                continue
            row[f"{m} train"] = _mean_std([(r["estimate"] - r["exact"]) / r["exact"] for r in mr])
            row[f"{m} held-out"] = _mean_std([(r["holdout_estimate"] - r["exact_holdout"])
                                              / r["exact_holdout"] for r in mr])
        best = min((m for m in LIPSCHITZ_METHODS if m != "clip"),
                   key=lambda m: abs(np.mean([(r["estimate"] - r["exact"]) / r["exact"]
                                              for r in recs if r["method"] == m] or [np.inf])))
        best_err = np.mean([(r["estimate"] - r["exact"]) / r["exact"]
                            for r in recs if r["method"] == best])
        row["best"] = f"{best} ({100 * best_err:+.1f} %)"
        row["within 5 %"] = "yes" if abs(best_err) <= 0.05 else "**no**"
        rows.append(row)
    return rows


def clip_table(records):
    rows = []
    for m in LIPSCHITZ_METHODS:
        mr = [r for r in records if r["method"] == m]
        if not mr:
            continue
        est = np.array([r["estimate"] for r in mr])
        ex = np.array([r["exact"] for r in mr])
        k = float(est @ ex / (ex @ ex))  # least-squares K in estimate = K * W1
        rows.append({"method": m, "Pearson r (estimate, exact)": float(np.corrcoef(est, ex)[0, 1]),
                     "fitted K": k,
                     "rel. error of est/K": _mean_std((est / k - ex) / ex),
                     "mean s per run": float(np.mean([r["seconds"] for r in mr])),
                     "largest audited slope": float(max(r["lipschitz_bound"] for r in mr)),
                     "runs negated": int(sum(r["flips"] > 0 for r in mr)),
                     "failed runs": int(sum(r["status"] != "ok" for r in mr))})
    return rows


def defaults_table(device, n=400):
    """Every method at its defaults on the parallel lines, theta = 0.5."""
    x, y = datasets.parallel_lines(0.5, n, grid=True)
    rows = []
    for m in LIPSCHITZ_METHODS:
        seconds, res = time_call(lambda: estimate_w1(x, y, lipschitz=m, device=device),
                                 repeat=1, warmup=0, device=device)
        rows.append({"method": m, "estimate": res.estimate, "exact W1": 0.5,
                     "rel. error": f"{100 * (res.estimate - 0.5) / 0.5:+.1f} %",
                     "held-out estimate": res.holdout_estimate,
                     "exact held-out W1": _exact(res.holdout_samples),
                     "max grad (between)": res.audit.max_grad_between,
                     "seconds (incl. audit)": seconds})
    return rows


def sign_table(seeds, device, n=800):
    """gp in 1-D, N(0, 1) vs N(2, 1): plain training, restarts, and the negation."""
    rows = []
    for seed in range(seeds):
        rng = np.random.default_rng([seed, 1])
        x, y = rng.standard_normal((n, 1)), rng.standard_normal((n, 1)) + 2.0
        row = {"seed": seed}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", CriticFailedWarning)
            start = time.perf_counter()
            plain = estimate_w1(x, y, lipschitz="gp", seed=seed, device=device, audit=False,
                                fix_sign=False)
            row["exact W1 (train)"] = _exact(plain.train)
            row["plain"] = plain.estimate
            restarted, tries = plain, 1
            while restarted.estimate < 0 and tries < 5:
                restarted = estimate_w1(x, y, lipschitz="gp", seed=seed + 1000 * tries,
                                        device=device, audit=False, fix_sign=False)
                tries += 1
            row["restart until > 0"] = restarted.estimate
            row["runs (restart)"] = tries
            row["s (restart)"] = time.perf_counter() - start
            start = time.perf_counter()
            fixed = estimate_w1(x, y, lipschitz="gp", seed=seed, device=device, audit=False)
            row["negation (default)"] = fixed.estimate
            row["negated at step"] = ", ".join(map(str, fixed.flips)) or "-"
            row["s (negation)"] = time.perf_counter() - start
        rows.append(row)
        print(json.dumps(row), flush=True)
    return rows


def plot(records, path):
    plt = pyplot()
    fig, axes = plt.subplots(1, len(LIPSCHITZ_METHODS), figsize=(4 * len(LIPSCHITZ_METHODS), 4))
    for ax, m in zip(axes, LIPSCHITZ_METHODS):
        for case in CASES:
            mr = [r for r in records if r["method"] == m and r["case"] == case]
            if mr:
                ax.scatter([r["exact"] for r in mr], [r["estimate"] for r in mr], label=case, s=18)
        exact = [r["exact"] for r in records]
        if m != "clip":
            ends = [min(exact) * 0.9, max(exact) * 1.1]
            ax.plot(ends, ends, "k--", lw=0.8, label="estimate = exact")
        ax.set_xlabel("exact W1 (training split)")
        ax.set_title(m + (" (estimates K·W1)" if m == "clip" else ""))
    axes[0].set_ylabel("neural estimate")
    axes[-1].legend(fontsize=7)
    save_png(fig, path, dpi=110)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--n", type=int, default=400, help="points per side")
    parser.add_argument("--steps", type=int, default=None,
                        help="training steps (default: estimate_w1's default)")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--quick", action="store_true",
                        help="2 seeds, n = 200, 400 steps, 3 sign seeds (a CPU smoke run)")
    parser.add_argument("--sign-seeds", type=int, default=10,
                        help="seeds of the 1-D gp sign comparison (0 skips it)")
    parser.add_argument("--out", type=Path, default=None, help="report folder")
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    if args.quick:
        args.seeds, args.n, args.steps = 2, 200, args.steps or 400
        args.sign_seeds = min(args.sign_seeds, 3)
    steps = args.steps or 1000
    out_dir = args.out or REPORTS
    out_dir.mkdir(parents=True, exist_ok=True)

    start = time.perf_counter()
    signs = sign_table(args.sign_seeds, args.device) if args.sign_seeds else []
    defaults = defaults_table(args.device)
    print(markdown_table(defaults), flush=True)
    records = []
    for seed in range(args.seeds):
        for case in CASES:
            for m in LIPSCHITZ_METHODS:
                rec = run_one(m, case, seed, n=args.n, steps=steps, device=args.device,
                              batch_size=args.batch_size)
                records.append(rec)
                print(json.dumps(rec), flush=True)
    total = time.perf_counter() - start
    (out_dir / "critic_accuracy.json").write_text(
        json.dumps({"defaults": defaults, "records": records, "signs": signs}, indent=1))
    plot(records, out_dir / "critic_accuracy.png")

    acc = accuracy_table(records)
    low = [r for r in acc if r["case"] in LOW_DIM]
    missing = [r["case"] for r in low if r["within 5 %"] != "yes"]
    verdict = ("On the training split, the best neural method is within 5 % of exact on every "
               "low-dimensional case." if not missing else
               "On the training split, no neural method is within 5 % of exact on: "
               + ", ".join(missing) + ".")
    run_kind = ("**CPU run** with reduced settings (the target run is on the GPU machine, "
                "command below). " if args.device == "cpu" else "")
    setup = run_kind + (f"{args.seeds} seeds, n = {args.n} points per side, {steps} steps, batch "
             f"{args.batch_size}, hidden {(64, 64)}, holdout 0.2, estimator defaults otherwise "
             f"(`otlab.critics.DEFAULT_SETTINGS`; inputs standardised by the pooled mean and "
             f"RMS radius, \"sn\" with exact spectral norms, negation of a critic with a "
             f"negative gap); device `{args.device}`, torch threads {args.threads}; "
             f"machine load (1-min average) {os.getloadavg()[0]:.1f} at the start; total wall "
             f"time {total:.0f} s.")
    sections = [
        ("Setup", setup + "\n\nRelative error = (estimate − exact) / exact, exact = the LP "
         "W_1 of the same split (training split: 80 %, held-out: 20 % of each sample). "
         "Full run on the GPU machine: `python -m benchmarks.critic_accuracy --device cuda "
         "--seeds 5`."),
        ("Defaults on the parallel lines, θ = 0.5, n = 400", markdown_table(defaults)),
        ("Relative error of each method (mean ± std over seeds)", markdown_table(acc)
         + "\n" + verdict),
        ("The sign of the gp critic in 1-D",
         "N(0, 1) against N(2, 1), n = 800 per side, estimator defaults, over "
         f"{args.sign_seeds} seeds. Plain training (`fix_sign=False`) of the two-sided "
         "penalty can end at its local maximum on the wrong side, near -W_1; restarting "
         "with a new seed until the estimate is positive costs whole runs; negating the "
         "critic's output layer when its training gap is negative (the default) costs "
         "nothing, since negation leaves every gradient norm and hence the penalty "
         "unchanged.\n\n" + markdown_table(signs) if signs else "(skipped)"),
        ("Reading the held-out columns",
         "The held-out exact W_1 is the LP between the two 20 % splits: small independent "
         "samples, whose exact W_1 is biased upwards (on the parallel lines it is ≥ θ, with an "
         "O(n^-1/2) excess). A critic that generalises scores about the population W_1 there, "
         "so the held-out relative errors mix the critic's error with that bias, most visibly "
         "at θ = 0.1. In the table below, `runs negated` counts runs whose critic was negated "
         "at least once (its training gap was negative at a logging step), `failed runs` "
         "those that ended with a `CriticFailedWarning` (`status` other than \"ok\"), and "
         "`largest audited slope` the largest slope or gradient norm the float64 audit "
         "measured (at most 1 up to round-off for \"sn\" and \"ctransform\")."),
        ("Correlation with the exact W_1 across all cases and seeds",
         "Weight clipping estimates K·W_1 for an unknown K; it is judged by this table.\n\n"
         + markdown_table(clip_table(records))),
        ("Figure", "![estimate vs exact](critic_accuracy.png)"),
    ]
    path = write_report("critic_accuracy", "Neural critics against the exact W_1",
                        device=args.device, sections=sections, out_dir=out_dir)
    print(f"wrote {path} in {total:.0f} s")


if __name__ == "__main__":
    main()
