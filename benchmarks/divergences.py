"""Sliced W1 and MMD on the CPU: how fast against POT and GeomLoss, and how accurate against closed forms?

Questions:

1. Time of sliced W1 (d = 3, 100 directions, the same directions for both libraries)
   against POT's ``ot.sliced_wasserstein_distance`` for n = 10^3 ... 10^6, and the
   difference of the two values (they should agree to round-off).
2. Time and peak host memory of the Gaussian-kernel MMD (biased, sigma = 1, d = 3)
   against GeomLoss's ``SamplesLoss("gaussian", backend="tensorized")`` where its dense
   matrices fit (n <= 10^4), and otlab alone (tiled) at n = 10^5; the values agree as
   ``geomloss = squared / 2``.
3. Accuracy: sliced W2 between two 3-D Gaussian samples (n = 2000) against the number of
   directions (rms error over 10 seeds against 20000 directions, and the reported standard
   error), and the unbiased MMD^2 between two Gaussians against its closed form as n grows,
   with its standard error.

Data are seeded; one torch thread, one numpy thread (set OMP_NUM_THREADS=1).  Writes
``benchmarks/reports/divergences.md`` and ``divergences.png``.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/divergences.py
    OMP_NUM_THREADS=1 python benchmarks/divergences.py --quick     # n <= 10^4, minutes
    OMP_NUM_THREADS=1 python benchmarks/divergences.py --sliced-sizes 1e3,1e6 --mmd-sizes 1e3,1e5
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import REPORTS, markdown_table, pyplot, run_timed, save_png, time_call, write_report  # noqa: E402

SLICED_SIZES = (1_000, 10_000, 100_000, 1_000_000)
MMD_SIZES = (1_000, 3_000, 10_000, 100_000)
GEOMLOSS_MAX_N = 10_000


def _sizes(text: str) -> tuple[int, ...]:
    return tuple(int(float(v)) for v in text.split(","))


def _load() -> str:
    return " / ".join(open("/proc/loadavg").read().split()[:3])


def _gaussians(n, seed, shift=(1.0, 0.0, 0.0)):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 3)), rng.normal(size=(n, 3)) + np.asarray(shift)


def sliced_timings(sizes):
    import ot

    from otlab.sliced import sliced_wasserstein, sphere_directions

    rows = []
    for n in sizes:
        x, y = _gaussians(n, 0)
        theta, _ = sphere_directions(3, 100, seed=0)
        repeat, warmup = (3, 1) if n <= 100_000 else (1, 0)
        t_ours, ours = time_call(lambda: sliced_wasserstein(x, y, n_projections=100, seed=0),
                                 repeat=repeat, warmup=warmup)
        t_pot, pot = time_call(lambda: ot.sliced_wasserstein_distance(x, y, projections=theta, p=1),
                               repeat=repeat, warmup=warmup)
        rows.append({"n": n, "otlab s": t_ours, "POT s": t_pot, "POT / otlab": t_pot / t_ours,
                     "SW1": ours.value, "|otlab - POT|": abs(ours.value - pot),
                     "standard error": ours.standard_error, "load": _load()})
        print(rows[-1], flush=True)
    return rows


def _peak_bytes(fn):
    tracemalloc.start()
    start = time.perf_counter()
    result = fn()
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return seconds, peak, result


def mmd_timings(sizes):
    import torch
    from geomloss import SamplesLoss

    from otlab.kernel_distances import mmd

    torch.set_num_threads(1)
    rows = []
    for n in sizes:
        x, y = _gaussians(n, 1)
        ours_fn = lambda: mmd(x, y, bandwidth=1.0, estimator="biased")  # noqa: E731
        peak = None
        if n <= 3_000:
            t_ours, ours = time_call(ours_fn, repeat=3)
            peak = _peak_bytes(ours_fn)[1]
        elif n <= 10_000:
            t_ours, ours = time_call(ours_fn, repeat=1)
        else:  # one run, with its peak memory (tracemalloc slows numpy little)
            t_ours, peak, ours = _peak_bytes(ours_fn)
        row = {"n": n, "otlab s": t_ours, "otlab peak MiB": None if peak is None else peak / 2**20,
               "GeomLoss s": None, "GeomLoss / otlab": None, "|squared/2 - GeomLoss|": None,
               "MMD^2": float(ours.squared), "standard error": ours.standard_error,
               "load": _load()}
        if n <= GEOMLOSS_MAX_N:
            loss = SamplesLoss("gaussian", blur=1.0, backend="tensorized")
            xt, yt = torch.tensor(x), torch.tensor(y)
            t_geo, theirs = time_call(lambda: loss(xt, yt).item(), repeat=3 if n < 10_000 else 1)
            row.update({"GeomLoss s": t_geo, "GeomLoss / otlab": t_geo / t_ours,
                        "|squared/2 - GeomLoss|": abs(float(ours.squared) / 2 - theirs)})
        rows.append(row)
        print(row, flush=True)
    return rows


def sliced_accuracy():
    """Error of SW2 from the directions alone: against 20000 directions on the same sample."""
    from otlab.sliced import sliced_wasserstein

    rng = np.random.default_rng(2)
    x = rng.normal(size=(2000, 3))
    y = rng.normal(size=(2000, 3)) * [1.0, 2.0, 0.5] + [1.0, 2.0, -0.5]
    reference = sliced_wasserstein(x, y, order=2, n_projections=20_000, seed=99)
    rows = []
    for n_proj in (3, 10, 30, 100, 300, 1000):
        runs = [sliced_wasserstein(x, y, order=2, n_projections=n_proj, seed=s) for s in range(10)]
        errors = [r.value - reference.value for r in runs]
        rows.append({"directions": n_proj, "SW2 (20000 directions)": reference.value,
                     "rms error (10 seeds)": float(np.sqrt(np.mean(np.square(errors)))),
                     "mean standard error": float(np.mean([r.standard_error for r in runs]))})
    return rows


def mmd_accuracy(sizes=(100, 300, 1000, 3000)):
    from otlab.kernel_distances import gaussian_mixture_mmd2, mmd

    exact = gaussian_mixture_mmd2([1], [[0, 0, 0]], [np.eye(3)], [1], [[1.0, 0, 0]], [np.eye(3)],
                                  bandwidth=1.0)
    rows = []
    for n in sizes:
        errors, ses = [], []
        for seed in range(10):
            x, y = _gaussians(n, 100 + seed)
            res = mmd(x, y, bandwidth=1.0)
            errors.append(float(res.squared) - exact)
            ses.append(res.standard_error)
        rows.append({"n": n, "closed form MMD^2": exact, "rms error (10 samples)":
                     float(np.sqrt(np.mean(np.square(errors)))),
                     "mean standard error": float(np.mean(ses))})
    return rows


def _panel(ax, curves, *, xlabel, ylabel, title):
    """Log-log curves ``{label: (xs, ys, fmt)}`` with the axis labels and title."""
    for label, (xs, ys, fmt) in curves.items():
        ax.loglog(xs, ys, fmt, label=label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)


def figure(sliced, kernel, sl_acc, mmd_acc, path):
    plt = pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    col = lambda rows, key: [r[key] for r in rows]  # noqa: E731
    geo = [r for r in kernel if r["GeomLoss s"] is not None]
    _panel(axes[0], {
        "otlab sliced W1": (col(sliced, "n"), col(sliced, "otlab s"), "o-"),
        "POT sliced W1": (col(sliced, "n"), col(sliced, "POT s"), "s--"),
        "otlab MMD (tiled)": (col(kernel, "n"), col(kernel, "otlab s"), "D-"),
        "GeomLoss MMD (tensorized)": (col(geo, "n"), col(geo, "GeomLoss s"), "^--"),
    }, xlabel="points per sample n", ylabel="wall time (s), one CPU thread",
        title="time (d = 3; 100 directions; Gaussian kernel)")
    _panel(axes[1], {
        "rms error vs 20000 directions (10 seeds)":
            (col(sl_acc, "directions"), col(sl_acc, "rms error (10 seeds)"), "o-"),
        "mean reported standard error":
            (col(sl_acc, "directions"), col(sl_acc, "mean standard error"), "s--"),
    }, xlabel="number of directions", ylabel="error of SW2 (data units)",
        title="sliced W2: error from the directions (n = 2000, d = 3)")
    _panel(axes[2], {
        "rms error of MMD^2 (10 samples)":
            (col(mmd_acc, "n"), col(mmd_acc, "rms error (10 samples)"), "o-"),
        "mean reported standard error":
            (col(mmd_acc, "n"), col(mmd_acc, "mean standard error"), "s--"),
    }, xlabel="points per sample n", ylabel="error of unbiased MMD^2 (no unit)",
        title="unbiased MMD^2 vs closed form")
    return save_png(fig, path)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="n <= 10^4 only")
    parser.add_argument("--sliced-sizes", type=_sizes, default=SLICED_SIZES,
                        help="comma-separated n of the sliced timings (default: %(default)s)")
    parser.add_argument("--mmd-sizes", type=_sizes, default=MMD_SIZES,
                        help="comma-separated n of the MMD timings (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=REPORTS)
    args = parser.parse_args(argv)
    limit = 10_000 if args.quick else None
    sizes = lambda s: [n for n in s if limit is None or n <= limit]  # noqa: E731
    load_before = _load()
    sliced = sliced_timings(sizes(args.sliced_sizes))
    kernel = mmd_timings(sizes(args.mmd_sizes))
    sl_acc, mmd_acc = sliced_accuracy(), mmd_accuracy()
    png = figure(sliced, kernel, sl_acc, mmd_acc, args.out / "divergences.png")
    sections = [
        ("Setup", f"Load average before: {load_before}; after: {_load()} (1/5/15 min). "
                  f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}. Median of 3 "
                  "runs after a warm-up below 10^5 points, one run above."),
        ("Sliced W1, 100 directions, d = 3 (same directions for both)", markdown_table(sliced)),
        ("Gaussian-kernel MMD, biased, sigma = 1, d = 3", markdown_table(kernel)
         + "\nPeak host memory (tracemalloc) is measured at n <= 3000 and at 10^5. "
           "GeomLoss's tensorized back-end holds three n x n matrices (2.4 GB at n = 10^4); "
           "it is not run above 10^4.\n"),
        ("Accuracy of sliced W2 against the number of directions", markdown_table(sl_acc)),
        ("Accuracy of unbiased MMD^2 against n", markdown_table(mmd_acc)),
        ("Figure", f"![divergences]({png.name})"),
    ]
    path = write_report("divergences", "Sliced W and MMD: time and accuracy against POT, "
                        "GeomLoss and closed forms", device="cpu", sections=sections,
                        out_dir=args.out)
    print(f"wrote {path} and {png}")


if __name__ == "__main__":
    run_timed(main)
