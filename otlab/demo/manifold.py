r"""Low-dimensional supports in R^D: JS pins at log 2 while W_1 grows smoothly; noise helps JS.

Two samples lie on a randomly rotated segment in :math:`\mathbb{R}^D` and on
its copy shifted by ``s`` orthogonally (:func:`otlab.datasets.manifold_pair`),
so the supports are disjoint for every ``s > 0`` and, between the
populations, :math:`W_1 = s` while :math:`JS = \log 2`.

1. *Shift sweep*, for each :math:`D` in ``--dims``: a classifier
   (:func:`otlab.estimators.classifier_js`) reaches ~100 % held-out accuracy
   and its JS estimate climbs to :math:`\log 2` as soon as the lines separate,
   whatever the size of the gap, while the exact empirical :math:`W_1` grows
   like ``s``.
2. *Instance noise*, at ``--noise-dim``: adding
   :math:`\mathcal{N}(0, \sigma^2 I_D)` to both samples (Arjovsky & Bottou
   2017) gives both laws full support.  The laws then differ only along the
   shift direction, so exactly :math:`JS = JS(\mathcal{N}(0,\sigma^2),
   \mathcal{N}(s,\sigma^2))`, a smooth function of :math:`s/\sigma` computed by
   quadrature and printed beside the classifier estimate; as
   :math:`\sigma \to 0` it becomes a step again.

Writes ``manifold.csv/.json`` (one row per setting; columns ``dim``, ``noise``, ``shift``,
``w1_exact``, ``w1_population``, ``js_classifier``, ``classifier_accuracy``,
``js_population``) and ``manifold.png``.
"""

from __future__ import annotations

import math
import time

import numpy as np

from ..datasets import manifold_pair
from ..distance import wasserstein
from ._common import (
    demo_parser,
    int_at_least,
    non_negative_float,
    positive_int,
    prepare_out,
    write_table,
)

__all__ = ["gaussian_shift_js", "sliced_w1_shift", "measure", "main", "BANDWIDTHS"]

LOG2 = math.log(2.0)
#: Bandwidths of the Gaussian-kernel MMD columns (narrow and wide against the shifts).
BANDWIDTHS = (0.1, 1.0)


def gaussian_shift_js(shift: float, sigma: float) -> float:
    r"""Exact :math:`JS(\mathcal{N}(0,\sigma^2), \mathcal{N}(s,\sigma^2))` (natural log, ½ convention).

    ``sigma = 0`` gives the Dirac limit: 0 for ``s = 0``, :math:`\log 2` otherwise.

    >>> round(gaussian_shift_js(0.0, 1.0), 12), round(gaussian_shift_js(1.0, 0.0), 4)
    (0.0, 0.6931)
    >>> bool(0.6 < gaussian_shift_js(8.0, 1.0) < math.log(2))
    True
    """
    if sigma == 0:
        return 0.0 if shift == 0 else LOG2
    from scipy.integrate import quad
    from scipy.stats import norm

    a = abs(shift) / sigma       # JS depends on s / sigma only; integrate in units of sigma

    def integrand(t):
        p, q = norm.pdf(t), norm.pdf(t - a)
        m = 0.5 * (p + q)
        out = 0.0
        if p > 0:
            out += 0.5 * p * math.log(p / m)
        if q > 0:
            out += 0.5 * q * math.log(q / m)
        return out

    value, _ = quad(integrand, -12.0, a + 12.0, points=[0.0, a / 2, a], limit=200)
    return float(min(max(value, 0.0), LOG2))


def sliced_w1_shift(shift: float, dim: int) -> float:
    r"""Sliced :math:`W_1` between a law and its copy shifted by ``shift`` in :math:`\mathbb{R}^D`.

    Every projection is shifted by :math:`s\,\theta_1`, so
    :math:`SW_1 = |s|\,\mathbb E|\theta_1| = |s|\,\Gamma(D/2) / (\sqrt\pi\,\Gamma((D+1)/2))`,
    which falls like :math:`|s|\sqrt{2/(\pi D)}`.

    >>> round(sliced_w1_shift(1.0, 2), 6) == round(2 / math.pi, 6)
    True
    """
    return abs(shift) * math.exp(math.lgamma(dim / 2) - math.lgamma((dim + 1) / 2)) / math.sqrt(math.pi)


def measure(dim: int, shift: float, noise: float, *, n: int, seed: int, steps: int) -> dict:
    """One setting: exact empirical W_1 and sliced W_1, the Gaussian MMDs and energy distance
    of the samples, the classifier's JS and accuracy, and the population values."""
    from ..estimators import classifier_js
    from ..kernel_distances import mmd
    from ..sliced import sliced_wasserstein

    x, y = manifold_pair("segment", n, ambient_dim=dim, shift=shift, noise=noise, seed=seed)
    clf = classifier_js(x, y, seed=seed, steps=steps, hidden=32)
    kernel = {f"mmd_gaussian_bw_{s:g}".replace(".", "p"):
              float(mmd(x, y, bandwidth=s, estimator="biased")) for s in BANDWIDTHS}
    return {
        "dim": dim, "noise": noise, "shift": shift,
        "w1_exact": float(wasserstein(x, y)),
        "w1_population": abs(shift),
        "sw1": float(sliced_wasserstein(x, y, n_projections=100, seed=seed)),
        "sw1_population": sliced_w1_shift(shift, dim),
        **kernel,
        "energy": float(mmd(x, y, kernel="energy", estimator="biased")),
        "js_classifier": float(clf.js),
        "classifier_accuracy": float(clf.accuracy),
        "js_population": gaussian_shift_js(shift, noise),
    }


_COLUMNS = ("w1_exact", "w1_population", "sw1", "sw1_population", "mmd_gaussian_bw_0p1",
            "mmd_gaussian_bw_1", "energy", "js_classifier", "classifier_accuracy", "js_population")


def _format(rows) -> str:
    head = f"{'dim':>5} {'noise':>6} {'shift':>6} " + " ".join(f"{c:>{len(c)}}" for c in _COLUMNS)
    lines = [head]
    for r in rows:
        lines.append(f"{r['dim']:>5d} {r['noise']:>6.3f} {r['shift']:>6.2f} "
                     + " ".join(f"{r[c]:>{len(c)}.4f}" for c in _COLUMNS))
    return "\n".join(lines)


def _figure(rows, dims, noises, noise_dim, shifts):
    from ..plotting import sweep_figure

    def pick(key, dim, noise):
        return [r[key] for r in rows if r["dim"] == dim and r["noise"] == noise]

    def with_population(key, population):
        curves = {}
        for k, d in enumerate(dims):
            curves[f"D={d}"] = (pick(key, d, 0.0), {"color": f"C{k}"})
            curves[f"D={d}, population"] = ([v if v > 0 else math.nan  # 0 on a log axis
                                             for v in pick(population, d, 0.0)],
                                            {"color": f"C{k}", "ls": "--", "marker": None})
        return curves

    panels = [
        ("$W_1$ (exact, empirical), no noise", {f"D={d}": pick("w1_exact", d, 0.0) for d in dims}),
        ("sliced $W_1$ (100 directions; dashed: population; log axis)",
         with_population("sw1", "sw1_population")),
        ("Gaussian MMD, $\\sigma$ = 0.1 (solid) and 1 (dotted), no noise", {
            **{f"D={d}, $\\sigma$=0.1": (pick("mmd_gaussian_bw_0p1", d, 0.0), {"color": f"C{k}"})
               for k, d in enumerate(dims)},
            **{f"D={d}, $\\sigma$=1": (pick("mmd_gaussian_bw_1", d, 0.0),
                                      {"color": f"C{k}", "ls": ":", "marker": "s"})
               for k, d in enumerate(dims)}}),
        ("energy distance, no noise", {f"D={d}": pick("energy", d, 0.0) for d in dims}),
        ("classifier JS estimate, no noise", {f"D={d}": pick("js_classifier", d, 0.0) for d in dims}),
        ("classifier held-out accuracy, no noise",
         {f"D={d}": pick("classifier_accuracy", d, 0.0) for d in dims}),
        (f"JS with instance noise, D={noise_dim}", _noise_curves(pick, noises, noise_dim)),
    ]
    positive = [s for s in shifts if s > 0]
    return sweep_figure(shifts, panels, xlabel="shift $s$ between the supports (symlog axis)",
                        ylabels=["$W_1$ (same units as $s$)", "$SW_1$ (same units as $s$)",
                                 "MMD (no unit)", "energy distance (units$^{1/2}$)",
                                 "JS (nats)", "held-out accuracy", "JS (nats)"],
                        hlines={4: {"log 2": LOG2}, 6: {"log 2": LOG2}}, n_cols=4,
                        logy=[False, True, False, False, False, False, False],
                        symlog_x=min(positive) if positive else None,
                        suptitle="Segment and its shifted copy, randomly rotated into $R^D$")


def _noise_curves(pick, noises, noise_dim):
    """Classifier (solid, dots) and exact (dashed) JS of each sigma, in one colour per sigma."""
    curves = {}
    for k, sigma in enumerate(s for s in noises if s > 0):
        colour = f"C{k}"
        curves[f"classifier, $\\sigma$={sigma:g}"] = (
            pick("js_classifier", noise_dim, sigma), {"color": colour})
        curves[f"exact, $\\sigma$={sigma:g}"] = (
            pick("js_population", noise_dim, sigma), {"color": colour, "ls": "--",
                                                      "marker": None})
    return curves


def main(argv=None):
    """Run the manifold experiment; see ``--help``."""
    parser = demo_parser("manifold", __doc__.strip().splitlines()[0])
    parser.add_argument("--dims", type=int_at_least(2), nargs="+", default=[2, 10, 100, 1000],
                        help="ambient dimensions D, each >= 2 (default: %(default)s)")
    parser.add_argument("--shifts", type=non_negative_float, nargs="+",
                        default=[0.0, 0.02, 0.05, 0.1, 0.3, 1.0],
                        help="distances between the supports (default: %(default)s)")
    parser.add_argument("--noises", type=non_negative_float, nargs="+", default=[0.2, 0.05],
                        help="instance-noise sigmas, besides 0 (default: %(default)s)")
    parser.add_argument("--noise-dim", type=int_at_least(2), default=10,
                        help="D of the instance-noise sweep (default: %(default)s)")
    parser.add_argument("--n", type=int_at_least(10), default=200,
                        help="points per sample (default: %(default)s)")
    parser.add_argument("--steps", type=positive_int, default=150,
                        help="classifier training steps (default: %(default)s)")
    parser.add_argument("--no-plot", action="store_true", help="skip the figure")
    args = parser.parse_args(argv)
    out = prepare_out(args.out, parser)
    noises = sorted({float(s) for s in args.noises} | {0.0}, reverse=True)
    settings = [(d, 0.0) for d in args.dims]
    if args.noise_dim not in args.dims:
        settings.append((args.noise_dim, 0.0))
    settings += [(args.noise_dim, s) for s in noises if s > 0]

    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)    # small networks: thread overhead dominates on a busy CPU
    start = time.perf_counter()
    rows = [measure(d, shift, s, n=args.n, seed=args.seed, steps=args.steps)
            for d, s in settings for shift in args.shifts]
    elapsed = time.perf_counter() - start
    torch.set_num_threads(threads)

    print(f"Segment vs its copy shifted orthogonally by s, rotated into R^D; n = {args.n} points "
          f"each, classifier: 2x32 MLP, {args.steps} Adam steps, 30 % held out ({elapsed:.1f} s).")
    print("The *_population columns are the values between the populations: W1 = |s|, sliced "
          "W1 = |s| E|theta_1| (about |s| sqrt(2/(pi D))), JS = log 2 = "
          f"{LOG2:.4f} for s > 0 without noise. MMD and energy: biased (V-statistic) values "
          "of the samples.\n")
    print(_format(rows))
    csv_path, json_path = write_table(rows, out / "manifold")
    written = [csv_path, json_path]
    if not args.no_plot:
        png = out / "manifold.png"
        dims = [d for d, s in settings if s == 0.0 and d in args.dims]
        _figure(rows, dims, noises, args.noise_dim, args.shifts).savefig(png, dpi=120)
        written.append(png)
    print("\nwrote " + ", ".join(str(p) for p in written))
    return 0
