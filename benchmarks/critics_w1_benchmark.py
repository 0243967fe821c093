"""How good are otlab's Kantorovich critics on a benchmark with a known W_1 and known potential?

The pairs are :func:`otlab.datasets.w1_benchmark` (the MinFunnels construction
of Korotin, Kolesov & Burnaev 2022, "Kantorovich Strikes Back!"): for each
dimension D and number of funnels W the true W_1, the optimal potential f and
its gradient are known.  Each otlab critic is trained on a fixed sample of
``--n`` source and ``--n`` target points, then scored on fresh held-out
samples (``--n-test`` of each):

* the W_1 estimate E_x f - E_y f on the held-out samples (with its standard
  error) and its relative error against the true W_1;
* the mean cosine between the critic's gradient and the true gradient at the
  held-out source points (the paper's "cos");
* the audited Lipschitz bound K and the status of the result (``"scaled"``
  for weight clipping, whose estimate is K * W_1; the table also gives
  estimate / K).

Methods: ``clip``, ``gp``, ``lp``, ``sn``, ``ctransform`` (``estimate_w1``)
and ``exact``: the LP between the training samples (``otlab.wasserstein``,
the plug-in estimate, biased upwards in high dimension, the paper's minibatch
"DOT") and the exact critic of those samples (``otlab.exact_critic``) scored on
the held-out samples.  The published numbers of the paper's repository
(``critics_w1_published.py``) stand beside them, quoted as such: they come
from other training settings and from other draws of the funnels.

Results go to ``benchmarks/reports/critics_w1_benchmark.jsonl``, one line per
(D, W, method, seed), and a run skips what is there, so partial runs count
and a later run continues.  The report and figure are rebuilt from all lines.

With ``--fresh`` the neural critics train on the pair's samplers
(``estimate_w1(pair.sample_source, pair.sample_target)``): a fresh minibatch
of each side at every step, as the paper's critics train.

CPU runs (the committed report; 2 shared cores, OMP_NUM_THREADS=1)::

    python -m benchmarks.critics_w1_benchmark --seeds 0 --time-budget 3000
    python -m benchmarks.critics_w1_benchmark --fresh --methods gp sn ctransform clip --widths 4
    python -m benchmarks.critics_w1_benchmark --fresh --setting default-fresh --methods lp \
        --widths 4 16 --seeds 0 1
    python -m benchmarks.critics_w1_benchmark --fresh --setting default-fresh --methods lp \
        --widths 256 --dims 128 --seeds 0 1

``default-fresh`` is the third round's default of
:func:`otlab.critics.estimate_w1` (its rows were run then): from D = 33 on
each input coordinate scaled to RMS 1 (``input_scale="coordinate"``,
:func:`otlab.critics.input_gain`), the norm feature
(:func:`otlab.critics.default_radial`) and 2000 to 4000 steps; up to D = 32
the first round's.  The fourth round's default (four times the steps on
samplers, each coordinate at RMS 1 with the penalty weight 30 up to D = 32)
is measured in ``critics_w1_diagnosis.py`` ('round 4 default', and the
factors 'default steps x4' and 'default coordinate steps x4 penalty 30' that
are its settings); a run here under a new ``--setting`` name measures it
over all cells.  The earlier defaults stay in the
results under their own names, all with ``input_scale="radius"`` (the points'
RMS norm 1): ``cpu-fresh`` of ``lp`` is the first round's (1000 steps, no norm
feature; ``--input-scale radius`` reruns it), ``step-rule-fresh`` the second's
from D = 33 on (the norm feature and the step rule), ``radial-fresh`` the norm
feature forced on at D <= 32 (``--setting radial-fresh --radial on --dims 2 4 8
16 32 --input-scale radius``), which did not help there.  The other methods
keep ``input_scale="radius"`` by default.

GPU run of the paper's settings (critic MLP of two hidden layers of
max(2D, 128) ReLU units, batch 1024, 60000 steps for gp/lp, 10000 for sn,
5000 for clip, 2**16 training points per side)::

    python -m benchmarks.critics_w1_benchmark --device cuda --paper --fresh --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import functools
import warnings
from pathlib import Path

import numpy as np

from ._harness import (REPORTS, fields_key, load_average, markdown_table, measure, pyplot,
                       read_jsonl, run_grid, save_png, write_report)
from .critics_w1_published import PUBLISHED, PUBLISHED_METHOD

from otlab.critics import CriticFailedWarning, estimate_w1, exact_critic
from otlab.datasets import w1_benchmark

DIMS = (2, 4, 8, 16, 32, 64, 128)
WIDTHS = (4, 16, 64, 256)
METHODS = ("gp", "lp", "sn", "clip", "ctransform", "exact")
NAME = "critics_w1_benchmark"

#: The paper's critic training (its notebooks/test_nd.ipynb): steps per method.
PAPER_STEPS = {"gp": 60000, "lp": 60000, "sn": 10000, "clip": 5000, "ctransform": 60000}


def cells(dims, widths):
    """(D, W) in the order they are run: W = 4 and 16 first, then the hard case, then the rest."""
    first = [(d, w) for w in widths if w in (4, 16) for d in dims]
    hard = [(d, w) for d, w in [(128, 256)] if d in dims and w in widths]
    rest = [(d, w) for w in widths for d in dims if (d, w) not in first + hard]
    return first + hard + rest


def cosine(critic, pair, x) -> float:
    """Mean cosine between the critic's and the true gradient at ``x`` (points off the centres)."""
    import torch

    z = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    (g,) = torch.autograd.grad(critic(z).sum(), z)
    g, t = g.numpy(), pair.gradient(x)
    gn, tn = np.linalg.norm(g, axis=1), np.linalg.norm(t, axis=1)
    keep = tn > 0
    c = (g * t).sum(axis=1)[keep] / np.maximum(gn[keep] * tn[keep], 1e-300)
    return float(c.mean())


def held_out(critic, xt, yt):
    """E_x f - E_y f on held-out samples and its standard error."""
    fx, fy = np.asarray(critic(xt)), np.asarray(critic(yt))
    se = np.sqrt(fx.var(ddof=1) / len(fx) + fy.var(ddof=1) / len(fy))
    return float(fx.mean() - fy.mean()), float(se)


def options(method: str, dim: int, args) -> dict:
    """Keyword arguments of estimate_w1 for one run."""
    if args.paper:
        width = max(2 * dim, 128)
        return {"hidden": (width, width), "activation": "relu", "batch_size": 1024,
                "steps": PAPER_STEPS[method], "lr": 2e-4, "betas": (0.0, 0.9),
                "optimizer": "adam", **({"clip_value": 0.04} if method == "clip" else {})}
    out = {}
    if args.steps:
        out["steps"] = args.steps
    if args.hidden:
        out["hidden"] = tuple(args.hidden)
    if args.batch_size:
        out["batch_size"] = args.batch_size
    if args.radial is not None:
        out["radial"] = args.radial == "on"
    if args.input_scale is not None:
        out["input_scale"] = args.input_scale
    return out


def run_one(pair, method, seed, args) -> dict:
    """Train one critic on fresh samples and score it on fresh held-out samples."""
    x, y = pair.sample(args.n, seed=np.random.default_rng([seed, 1]))
    xt, yt = pair.sample(args.n_test, seed=np.random.default_rng([seed, 2]))
    m = measure(lambda: _train_and_score(pair, method, seed, args, x, y, xt, yt), repeat=1,
                warmup=0, device=args.device)
    return {**m.result, "seconds": m.wall_s, "cpu_s": m.cpu_s}


def _train_and_score(pair, method, seed, args, x, y, xt, yt) -> dict:
    row = {}
    if method == "exact":
        m = min(args.n, args.n_exact)
        critic = exact_critic(x[:m], y[:m])
        row.update(train=float(critic.w1), status="ok", K=1.0, n_train=m)
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", CriticFailedWarning)  # recorded in status
            data = (pair.sample_source, pair.sample_target) if args.fresh else (x, y)
            res = estimate_w1(*data, lipschitz=method, seed=seed, device=args.device,
                              holdout=0.0, audit=method != "ctransform",
                              log_every=None if method != "ctransform" else 10**9,
                              **options(method, pair.dim, args))
        critic = res.critic
        row.update(train=res.estimate, status=res.status, K=res.lipschitz_bound,
                   n_train=res.config.steps * res.config.batch_size if args.fresh else args.n,
                   fresh=args.fresh, steps=res.config.steps, hidden=list(res.config.hidden),
                   batch_size=res.config.batch_size, lr=res.config.lr)
    est, se = held_out(critic, xt, yt)
    row.update(estimate=est, stderr=se, cos=cosine(critic, pair, xt))
    return row


#: Which recorded row answers which run.
KEY = fields_key("D", "W", "method", "seed", "setting")


def run(args) -> None:
    """Every (D, W) cell x method x seed through :func:`run_grid` (resumable)."""
    setting = args.setting or ("paper" if args.paper else "cpu") + ("-fresh" if args.fresh else "")
    pairs = functools.lru_cache(maxsize=1)(lambda dim, width: w1_benchmark(
        dim, width, seed=args.pair_seed))

    def run_case(case):
        pair = pairs(case["D"], case["W"])
        row = {"true": pair.w1, "true_stderr": pair.w1_stderr,
               **run_one(pair, case["method"], case["seed"], args), "load": load_average()}
        print(f"D={case['D']} W={case['W']} {case['method']:10s} seed={case['seed']} "
              f"est={row['estimate']:.3f} true={pair.w1:.3f} cos={row['cos']:.3f} "
              f"{row['status']} {row['seconds']:.0f}s", flush=True)
        return row

    cases = [{"D": dim, "W": width, "method": method, "seed": seed, "setting": setting}
             for dim, width in cells(args.dims, args.widths) for method in args.methods
             for seed in args.seeds]
    budget = None if args.time_budget == float("inf") else args.time_budget
    rows = run_grid(cases, run_case, Path(args.results), key=KEY, budget_s=budget, log=None)
    if rows.missing:
        print(f"time budget spent: {len(rows.missing)} runs not started; run again to continue")


def summarise(rows):
    """One row per (setting, D, W, method): mean +- sd over seeds, beside the published numbers."""
    groups: dict = {}
    for r in rows:
        groups.setdefault((r["setting"], r["W"], r["D"], r["method"]), []).append(r)
    out = []
    for (setting, width, dim, method), rs in sorted(groups.items(),
                                                    key=lambda kv: (kv[0][0], kv[0][1], kv[0][2],
                                                                    METHODS.index(kv[0][3]))):
        est = np.array([r["estimate"] for r in rs])
        rel = est / np.array([r["true"] for r in rs]) - 1
        cos = np.array([r["cos"] for r in rs])
        pub = PUBLISHED.get((dim, width), {})
        p_est, p_cos = pub.get(PUBLISHED_METHOD.get(method, ""), (float("nan"),) * 2)
        p_true = pub.get("true", (float("nan"),))[0]

        def pm(a, fmt="{:+.1%}"):
            return fmt.format(a.mean()) + (f" ± {a.std(ddof=1):.2g}" if len(a) > 1 else "")

        row = {"setting": setting, "W": width, "D": dim, "method": method,
               "true W1": f"{rs[0]['true']:.3f}", "estimate": pm(est, "{:.3f}"),
               "rel. error": pm(rel), "cos": pm(cos, "{:.2f}"),
               "train": f"{np.mean([r['train'] for r in rs]):.3f}",
               "K": f"{np.mean([r['K'] for r in rs]):.3g}",
               "est / K": f"{np.mean([r['estimate'] / r['K'] for r in rs]):.3f}",
               "status": "/".join(sorted({r["status"] for r in rs})),
               "seeds": len(rs),
               "published": (f"{p_est:.3g} of {p_true:.3g} (cos {p_cos:.2f})"
                             if p_est == p_est else "n/a"),
               "published rel.": f"{p_est / p_true - 1:+.0%}" if p_est == p_est else "n/a",
               "s/run": f"{np.mean([r['seconds'] for r in rs]):.0f}",
               "CPU s/run": (f"{np.mean([r['cpu_s'] for r in rs]):.0f}"
                             if all("cpu_s" in r for r in rs) else "")}
        out.append(row)
    return out


def figure(rows, path):
    plt = pyplot()
    widths = sorted({r["W"] for r in rows})
    if not widths:
        return None
    fig, axes = plt.subplots(2, len(widths), figsize=(3.8 * len(widths), 6.6), squeeze=False,
                             sharex=True)
    # fresh samples only (the fixed-sample rows are in the table): the default thick
    fresh = [r for r in rows if r["setting"].endswith("fresh")] or rows
    # up to D = 32 the default's settings are those of the first round's lp runs
    covered = {(r["D"], r["W"]) for r in fresh if r["setting"] == "default-fresh"}
    fresh += [{**r, "setting": "default-fresh"} for r in fresh
              if r["setting"] == "cpu-fresh" and r["method"] == "lp" and r["D"] <= 32
              and (r["D"], r["W"]) not in covered]
    runs = sorted({(r["setting"], r["method"]) for r in fresh},
                  key=lambda sm: (sm[0] != "default-fresh", sm[0], METHODS.index(sm[1])))
    for j, width in enumerate(widths):
        for setting, method in runs:
            rs = [r for r in fresh if r["W"] == width and r["method"] == method
                  and r["setting"] == setting]
            dims = sorted({r["D"] for r in rs})
            if not dims:
                continue
            rel = [np.mean([abs(r["estimate"] / r["true"] - 1) for r in rs if r["D"] == d])
                   for d in dims]
            cos = [np.mean([r["cos"] for r in rs if r["D"] == d]) for d in dims]
            thick = setting == "default-fresh"
            look = {"color": f"C{runs.index((setting, method)) % 10}",
                    "marker": "s" if thick else "o", "ls": "-" if method == "lp" else ":",
                    "lw": 2.4 if thick else 1.0, "label": f"{method}, {setting}"}
            axes[0, j].plot(dims, rel, **look)
            axes[1, j].plot(dims, cos, **look)
        pub = [(d, PUBLISHED[(d, width)]) for d in DIMS if (d, width) in PUBLISHED]
        axes[0, j].plot([d for d, _ in pub], [abs(p["wgan-gp"][0] / p["true"][0] - 1)
                                              for _, p in pub], "k--", label="published GP")
        axes[1, j].plot([d for d, _ in pub], [p["wgan-gp"][1] for _, p in pub], "k--",
                        label="published GP")
        axes[0, j].set_title(f"W = {width} funnels")
        axes[0, j].set_yscale("log")
        axes[0, j].axhline(0.05, color="grey", lw=0.8, ls=":")
        axes[1, j].axhline(0.9, color="grey", lw=0.8, ls=":")
        axes[1, j].set_ylim(-0.5, 1.02)
        for ax in axes[:, j]:
            ax.set_xscale("log", base=2)
        axes[1, j].set_xlabel("dimension D")
    axes[0, 0].set_ylabel("|estimate / true W1 - 1| (log)")
    axes[1, 0].set_ylabel("cosine(critic gradient, true gradient)")
    labels = {}
    for ax in axes.flat:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            labels.setdefault(label, handle)
    # the cosine panels are empty below 0.4: one legend for every panel there
    axes[1, -1].legend(labels.values(), labels.keys(), fontsize=7, loc="lower left",
                       ncol=1 + (len(labels) > 5))
    return save_png(fig, path)


def report(args) -> None:
    rows = [r for r in read_jsonl(Path(args.results)) if "error" not in r]
    table = summarise(rows)
    png = figure(rows, REPORTS / f"{NAME}.png")
    loads = [r["load"] for r in rows]
    setting = ("Settings of the CPU run: estimate_w1 at its defaults unless stated in the "
               "table's columns (steps, hidden, batch in the JSON lines); "
               f"--n {args.n} training points per side (no held-out split), "
               f"--n-test {args.n_test} fresh held-out points per side, the exact LP and "
               f"critic on {args.n_exact} points per side; one pair per (D, W), drawn with "
               f"seed {args.pair_seed}. Settings ending in '-fresh' (--fresh) train the neural "
               "critics on the pair's samplers instead (estimate_w1(pair.sample_source, "
               "pair.sample_target): a fresh minibatch of each side at every step; 'train' is "
               "then the estimate on the reference sample drawn before training, also unseen). "
               "One torch thread per run (OMP_NUM_THREADS=1).")
    sections = [
        ("Question", "How close do otlab's critics come to the true W_1 and to the true "
         "potential's gradient on the pairs of 'Kantorovich Strikes Back!' "
         "(`otlab.datasets.w1_benchmark`)?"),
        ("Settings", setting + (f" Load average during the runs: {min(loads):.1f} to "
                                f"{max(loads):.1f}." if loads else "")),
        ("Results", "Relative error of the held-out estimate against the true W_1, cosine "
         "between gradients at held-out source points, mean ± sd over seeds (no sd: one "
         "seed). 'train' is the estimate on the training samples (for 'exact' the LP "
         "between them, the plug-in estimate); K the audited Lipschitz bound; 'published' "
         "the paper's number for the corresponding method (wgan, wgan-gp, wgan-lp, sn-gan, "
         "dot) and its true W_1, from other funnels and other training settings.\n\n"
         + markdown_table(table)),
    ]
    if png:
        sections.append(("Figure", f"![relative error and cosine against D]({png.name})"))
    print(write_report(NAME, "Critics on the W_1 benchmark with known answers", device=args.device,
                       sections=sections, script="python -m benchmarks.critics_w1_benchmark"))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dims", type=int, nargs="+", default=list(DIMS))
    parser.add_argument("--widths", type=int, nargs="+", default=list(WIDTHS))
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--pair-seed", type=int, default=0, help="seed of the funnels")
    parser.add_argument("--n", type=int, default=4000, help="training points per side")
    parser.add_argument("--n-test", type=int, default=4096, help="held-out points per side")
    parser.add_argument("--n-exact", type=int, default=2000,
                        help="points per side of the exact LP and critic")
    parser.add_argument("--steps", type=int, help="critic steps (default: estimate_w1's)")
    parser.add_argument("--hidden", type=int, nargs="+",
                        help="hidden widths (default: estimate_w1's)")
    parser.add_argument("--batch-size", type=int, help="default: estimate_w1's")
    parser.add_argument("--radial", choices=("on", "off"),
                        help="the norm feature (default: estimate_w1's, default_radial)")
    parser.add_argument("--input-scale", choices=("radius", "coordinate"),
                        help="scale of the network's input (default: estimate_w1's)")
    parser.add_argument("--paper", action="store_true", help="the paper's training settings")
    parser.add_argument("--fresh", action="store_true",
                        help="train the neural critics on fresh minibatches of the pair's "
                        "samplers (estimate_w1(pair.sample_source, pair.sample_target)) instead "
                        "of a fixed sample of --n points")
    parser.add_argument("--setting", help="label of this run's settings in the results "
                        "(default: 'cpu', or 'paper' with --paper)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--time-budget", type=float, default=float("inf"),
                        help="seconds after which no new run starts")
    parser.add_argument("--results", default=str(REPORTS / f"{NAME}.jsonl"))
    parser.add_argument("--report-only", action="store_true")
    args = parser.parse_args(argv)
    if args.paper:
        args.n, args.n_exact = max(args.n, 2**16), max(args.n_exact, 4096)
    if not args.report_only:
        run(args)
    report(args)


if __name__ == "__main__":
    main()
