"""Sliced W1 and MMD on the CPU: how fast against POT and GeomLoss, and how accurate against closed forms?

Questions:

1. Time and peak memory of sliced W1 (d = 3, 100 directions, the same directions for
   both libraries) against POT's ``ot.sliced_wasserstein_distance`` for n = 10^3 ... 10^6,
   and the difference of the two values (they should agree to round-off).
2. Time and peak memory of the Gaussian-kernel MMD (biased, sigma = 1, d = 3) against
   GeomLoss's ``SamplesLoss("gaussian", backend="tensorized")`` where its three dense
   n x n matrices fit under the memory cap, and otlab alone (tiled) beyond, up to
   n = 10^5; the values agree as ``geomloss = squared / 2``.  GeomLoss's ``"online"``
   (KeOps) back-end is timed only where ``pykeops`` is installed.
3. Accuracy: sliced W2 between two 3-D Gaussian samples (n = 2000) against the number of
   directions (rms error over 10 seeds against 20000 directions, and the reported standard
   error), the max-sliced W1 found by otlab's ascent against the maximum over POT's
   random directions, and the unbiased MMD^2 between two Gaussians against its closed form
   as n grows, with its standard error.

Every timing runs in a fresh process (one thread, ``OMP_NUM_THREADS=1``) so that its peak
resident memory is its own: the peak is the growth of the resident set during the first
call (the high-water mark is reset before it).  A case stops at ``--timeout`` seconds and
runs under an address-space cap of ``--memory-cap-gb``; a stopped case is reported as such.
Finished cases are appended to ``benchmarks/reports/divergences_runs.jsonl`` (a second run
resumes); ``--report-only`` re-renders ``divergences.md`` and ``divergences.png``.

Usage::

    python -m benchmarks.divergences                       # the full grid (about an hour)
    python -m benchmarks.divergences --quick               # n <= 10^4
    python -m benchmarks.divergences --parts sliced --sliced-sizes 1e6
    python -m benchmarks.divergences --report-only
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import resource
import subprocess
import sys
from pathlib import Path

import numpy as np

from ._harness import (REPORTS, load_average, markdown_table, measure, pyplot, read_jsonl,
                       run_grid, save_png, write_report)

ROOT = Path(__file__).resolve().parent.parent
SLICED_SIZES = (1_000, 10_000, 100_000, 1_000_000)
MMD_SIZES = (1_000, 3_000, 10_000, 20_000, 100_000)
PARTS = ("sliced", "mmd", "accuracy")
#: Directions per call of POT's sliced distance in the "pot-chunked" cases (from 10^5 points on).
POT_CHUNK = 10
POT_CHUNKED_FROM = 100_000
#: Bytes per entry of the three dense n x n float64 kernel matrices of GeomLoss's tensorized loss.
_DENSE_BYTES = 3 * 8


def _sizes(text: str) -> tuple[int, ...]:
    return tuple(int(float(v)) for v in text.split(","))


def _gaussians(n, seed, shift=(1.0, 0.0, 0.0)):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 3)), rng.normal(size=(n, 3)) + np.asarray(shift)


# ----------------------------------------------------------------------------- child process


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def _reset_peak_rss() -> bool:
    """Reset the kernel's resident high-water mark (Linux >= 4.0); False where it cannot."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _callable(kind, lib, n):
    """The call to time, and how to read its value (and standard error) from the result."""
    if kind == "sliced":
        x, y = _gaussians(n, 0)
        if lib == "otlab":
            from otlab.sliced import sliced_wasserstein

            return (lambda: sliced_wasserstein(x, y, n_projections=100, seed=0),
                    lambda r: (float(r.value), r.standard_error))
        import ot

        from otlab.sliced import sphere_directions

        theta, _ = sphere_directions(3, 100, seed=0)  # the directions otlab draws with seed 0
        if lib == "pot":
            return (lambda: ot.sliced_wasserstein_distance(x, y, projections=theta, p=1),
                    lambda r: (float(r), None))

        def chunked():  # POT's call on 10 directions at a time: a tenth of its memory
            chunks = [theta[:, s:s + POT_CHUNK] for s in range(0, theta.shape[1], POT_CHUNK)]
            return sum(ot.sliced_wasserstein_distance(x, y, projections=c, p=1) * c.shape[1]
                       for c in chunks) / theta.shape[1]
        return chunked, lambda r: (float(r), None)
    x, y = _gaussians(n, 1)
    if lib == "otlab":
        from otlab.kernel_distances import mmd

        return (lambda: mmd(x, y, bandwidth=1.0, estimator="biased"),
                lambda r: (float(r.squared), r.standard_error))
    import torch
    from geomloss import SamplesLoss

    backend = "tensorized" if lib == "geomloss" else "online"
    loss = SamplesLoss("gaussian", blur=1.0, backend=backend)
    xt, yt = torch.tensor(x), torch.tensor(y)
    return lambda: loss(xt, yt).item(), lambda r: (2 * float(r), None)  # GeomLoss = squared / 2


def run_case(kind: str, lib: str, n: int) -> dict:
    """Child process: the first call (with its peak memory), then the timed repeats."""
    import torch

    torch.set_num_threads(1)
    fn, read = _callable(kind, lib, n)
    base = _status_kib("VmRSS")
    exact_peak = _reset_peak_rss()
    first_call = measure(fn, repeat=1, warmup=0)
    first, result = first_call.wall_s, first_call.result
    peak = (_status_kib("VmHWM") - base) / 1024
    if n <= 10_000:  # the first call was the warm-up
        m = measure(fn, repeat=3, warmup=0)
        seconds, runs, result = m.wall_s, m.runs, m.result
    else:
        seconds, runs = first, 1
    value, se = read(result)
    return {"seconds": seconds, "runs": runs, "first_call_s": first,
            "peak_mib": peak if exact_peak else None, "value": value, "standard_error": se,
            "load": load_average()}


# ----------------------------------------------------------------------------- parent process


def _limit_memory(cap_bytes):
    def apply():
        resource.setrlimit(resource.RLIMIT_AS, (cap_bytes, cap_bytes))
    return apply


def spawn(case: dict, *, timeout: float, memory_cap_gb: float) -> dict:
    """Run one case in a fresh process under the time limit and the memory cap."""
    cmd = [sys.executable, "-m", "benchmarks.divergences", "--case", json.dumps(case)]
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
               PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    load = load_average()
    try:
        done = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              timeout=timeout, env=env, cwd=ROOT,
                              preexec_fn=_limit_memory(int(memory_cap_gb * 2**30)))
    except subprocess.TimeoutExpired:
        return {"seconds": None, "load": load, "note": f"stopped after {timeout:g} s"}
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("{")]
    if done.returncode == 0 and lines:
        return json.loads(lines[-1])
    last = ((done.stderr or "").strip().splitlines() or [f"exit status {done.returncode}"])[-1]
    if "MemoryError" in last or "memory" in last.lower() or done.returncode in (-9, 137):
        last = f"out of memory under the {memory_cap_gb:g} GB cap ({last[:80]})"
    return {"seconds": None, "load": load, "note": last[:160]}


def _cases(parts, sliced_sizes, mmd_sizes, memory_cap_gb):
    cases = []
    if "sliced" in parts:
        for n in sliced_sizes:
            libs = ("otlab", "pot") + (("pot-chunked",) if n >= POT_CHUNKED_FROM else ())
            cases += [{"kind": "sliced", "lib": lib, "n": n} for lib in libs]
    if "mmd" in parts:
        peers = ["geomloss"] + (["geomloss-keops"] if importlib.util.find_spec("pykeops") else [])
        for n in mmd_sizes:
            cases.append({"kind": "mmd", "lib": "otlab", "n": n})
            if _DENSE_BYTES * n * n <= memory_cap_gb * 2**30:
                cases += [{"kind": "mmd", "lib": peer, "n": n} for peer in peers[:1]]
            cases += [{"kind": "mmd", "lib": peer, "n": n} for peer in peers[1:]]
    return cases


def _has_keops(rows):
    return any(r["lib"] == "geomloss-keops" for r in rows)


def _key(row):
    return row["kind"], row["lib"], row["n"]


def _pair_rows(rows, kind, peers, value_name):
    """One table row per n: otlab and each peer side by side, with the ratios of times."""
    by = {(r["lib"], r["n"]): r for r in rows if r["kind"] == kind}
    out = []
    for n in sorted({r["n"] for r in rows if r["kind"] == kind}):
        ours = by.get(("otlab", n), {})
        t_ours = ours.get("seconds")
        row = {"n": n, "otlab s": t_ours if t_ours else ours.get("note", "not run"),
               "otlab peak MiB": ours.get("peak_mib")}
        diffs, loads = [], [ours.get("load", math.nan)]
        for peer in peers:
            theirs = by.get((peer, n), {})
            t_peer = theirs.get("seconds")
            row.update({f"{peer} s": t_peer if t_peer else theirs.get("note", "not run"),
                        f"{peer} peak MiB": theirs.get("peak_mib"),
                        f"{peer} / otlab": t_peer / t_ours if t_ours and t_peer else None})
            if t_ours and t_peer:
                diffs.append(abs(ours["value"] - theirs["value"]))
            loads.append(theirs.get("load", math.nan))
        row.update({value_name: ours.get("value"),
                    "largest difference of values": max(diffs) if diffs else None,
                    "standard error": ours.get("standard_error"),
                    "load (otlab, peers)": ", ".join(f"{v:.1f}" for v in loads)})
        out.append(row)
    return out


# ----------------------------------------------------------------------------- accuracy


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


def max_sliced_accuracy():
    """Max-sliced W1 between N(0, I) and N(0, diag(9, 1, 1)) samples in d = 3 and 10.

    The population maximiser is e_1 (the projections' spreads differ most along it); the
    sample's max-sliced value is found by otlab's ascent and by POT's maximum over random
    directions, both against the number of initial directions.
    """
    import ot

    import otlab
    from otlab.sliced import max_sliced_wasserstein, sphere_directions

    rows = []
    for dim in (3, 10):
        rng = np.random.default_rng(5)
        x = rng.normal(size=(2000, dim))
        y = rng.normal(size=(2000, dim))
        y[:, 0] *= 3.0
        for n_proj in (10, 100, 1000):
            ours = max_sliced_wasserstein(x, y, n_projections=n_proj, seed=0)
            theta, _ = sphere_directions(dim, n_proj, seed=0)
            pot = ot.max_sliced_wasserstein_distance(x, y, projections=theta, p=1)
            along = otlab.wasserstein(x[:, 0], y[:, 0])
            rows.append({"d": dim, "directions": n_proj, "otlab (ascent)": float(ours.value),
                         "POT (max over directions)": float(pot), "W1 along e_1": along,
                         "e_1 component of otlab's direction": abs(float(ours.direction[0])),
                         "ascent steps": ours.n_iters})
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


# ----------------------------------------------------------------------------- report


def _panel(ax, curves, *, xlabel, ylabel, title):
    """Log-log curves ``{label: (xs, ys, fmt)}`` with the axis labels and title."""
    for label, (xs, ys, fmt) in curves.items():
        ax.loglog(xs, ys, fmt, label=label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)


def _timed(rows, kind, lib):
    done = sorted((r["n"], r["seconds"]) for r in rows
                  if r["kind"] == kind and r["lib"] == lib and r.get("seconds"))
    return [n for n, _ in done], [s for _, s in done]


def figure(rows, accuracy, path):
    plt = pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    col = lambda items, key: [r[key] for r in items]  # noqa: E731
    curves = {}
    for label, kind, lib, fmt in (("otlab sliced W1", "sliced", "otlab", "o-"),
                                  ("POT sliced W1", "sliced", "pot", "s--"),
                                  ("POT sliced W1, 10 directions per call", "sliced",
                                   "pot-chunked", "x:"),
                                  ("otlab MMD (tiled)", "mmd", "otlab", "D-"),
                                  ("GeomLoss MMD (tensorized)", "mmd", "geomloss", "^--"),
                                  ("GeomLoss MMD (online, KeOps)", "mmd", "geomloss-keops", "v:")):
        xs, ys = _timed(rows, kind, lib)
        if xs:
            curves[label] = (xs, ys, fmt)
    _panel(axes[0], curves, xlabel="points per sample n", ylabel="wall time (s), one CPU thread",
           title="time (d = 3; 100 directions; Gaussian kernel)")
    sl_acc, mmd_acc = accuracy["sliced"], accuracy["mmd"]
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


def report(rows, accuracy, args):
    png = figure(rows, accuracy, args.out / "divergences.png")
    keops = ("GeomLoss's online (KeOps) back-end: timed." if importlib.util.find_spec("pykeops")
             else "GeomLoss's online (KeOps) back-end: not timed (pykeops is not installed).")
    sections = [
        ("Setup", "Each case ran in a fresh process with one thread (OMP_NUM_THREADS=1, "
                  "torch.set_num_threads(1)); the load average (1 min) at its start is in the "
                  "tables. Up to n = 10^4: the first call is a warm-up and the time is the median "
                  "of 3 more; above: one call. Peak MiB: growth of the resident set during the "
                  "first call (high-water mark reset before it). Per-case limits: "
                  f"{args.timeout:g} s and an address-space cap of {args.memory_cap_gb:g} GB. "
                  "Data: two 3-D standard Gaussian samples, the second shifted by e_1."),
        ("Sliced W1, 100 directions, d = 3 (the same 102 directions for both: 34 orthonormal "
         "frames)", markdown_table(_pair_rows(rows, "sliced", ("pot", "pot-chunked"), "SW1"))
         + f"\npot: one call of `ot.sliced_wasserstein_distance` with all the directions; "
           f"pot-chunked: one call per {POT_CHUNK} directions (from n = {POT_CHUNKED_FROM:g} on), "
           "the values combined as a weighted mean: POT's one call holds about ten arrays of "
           "2n x (number of directions) values at once (16 GB at n = 10^6).\n"),
        ("Gaussian-kernel MMD, biased, sigma = 1, d = 3",
         markdown_table(_pair_rows(rows, "mmd", ("geomloss",)
                                   + (("geomloss-keops",) if _has_keops(rows) else ()), "MMD^2"))
         + "\nThe MMD^2 column is otlab's; GeomLoss's value is compared as 2 x its loss. "
           f"GeomLoss's tensorized loss holds three n x n float64 matrices ({_DENSE_BYTES} n^2 "
           "bytes: 2.4 GB at n = 10^4, 9.6 GB at 2 x 10^4, 240 GB at 10^5); it is run where "
           f"they fit under the {args.memory_cap_gb:g} GB cap. otlab's memory is O(n) plus one "
           "tile of 2^23 kernel values (64 MiB). " + keops + " A case that did not finish within "
           "the time limit is marked so: run it again alone with a larger `--timeout` (e.g. "
           "`--parts mmd --mmd-sizes 1e5 --timeout 7200`) on a quieter machine.\n"),
        ("Accuracy of sliced W2 against the number of directions",
         markdown_table(accuracy["sliced"])),
        ("Max-sliced W1: otlab's ascent against the maximum over random directions",
         markdown_table(accuracy["max_sliced"])
         + "\nx ~ N(0, I), y ~ N(0, diag(9, 1, ..., 1)), n = 2000: the population maximiser "
           "is e_1 (population value 2 sqrt(2/pi) = 1.596; the column 'W1 along e_1' is the "
           "samples' own). POT's value is the maximum over the same initial directions, which "
           "is where otlab's ascent starts.\n"),
        ("Accuracy of unbiased MMD^2 against n", markdown_table(accuracy["mmd"])),
        ("Figure", f"![divergences]({png.name})"),
    ]
    return write_report("divergences", "Sliced W and MMD: time and accuracy against POT, "
                        "GeomLoss and closed forms", device="cpu", sections=sections,
                        out_dir=args.out), png


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", help=argparse.SUPPRESS)
    parser.add_argument("--quick", action="store_true", help="n <= 10^4 only")
    parser.add_argument("--parts", default=",".join(PARTS),
                        help="comma-separated parts to run: sliced, mmd, accuracy (default: all)")
    parser.add_argument("--sliced-sizes", type=_sizes, default=SLICED_SIZES,
                        help="comma-separated n of the sliced timings (default: %(default)s)")
    parser.add_argument("--mmd-sizes", type=_sizes, default=MMD_SIZES,
                        help="comma-separated n of the MMD timings (default: %(default)s)")
    parser.add_argument("--results", type=Path, default=REPORTS / "divergences_runs.jsonl",
                        help="JSON-lines file of the timed cases (default: %(default)s)")
    parser.add_argument("--accuracy", type=Path, default=REPORTS / "divergences_accuracy.json",
                        help="JSON file of the accuracy tables (default: %(default)s)")
    parser.add_argument("--timeout", type=float, default=1500.0,
                        help="seconds per case (default: %(default)s)")
    parser.add_argument("--memory-cap-gb", type=float, default=12.0,
                        help="address-space cap per case (default: %(default)s)")
    parser.add_argument("--report-only", action="store_true", help="run nothing; re-render")
    parser.add_argument("--out", type=Path, default=REPORTS)
    args = parser.parse_args(argv)
    if args.case:
        case = json.loads(args.case)
        print(json.dumps(run_case(case["kind"], case["lib"], int(case["n"]))), flush=True)
        return
    parts = [p for p in args.parts.split(",") if p]
    limit = 10_000 if args.quick else math.inf
    runs, acc_path = args.results, args.accuracy
    run_grid(_cases(parts, [n for n in args.sliced_sizes if n <= limit],
                    [n for n in args.mmd_sizes if n <= limit], args.memory_cap_gb),
             lambda case: spawn(case, timeout=args.timeout, memory_cap_gb=args.memory_cap_gb),
             runs, key=_key, report_only=args.report_only)
    if "accuracy" in parts and not args.report_only:
        acc_path.write_text(json.dumps({"sliced": sliced_accuracy(),
                                        "max_sliced": max_sliced_accuracy(),
                                        "mmd": mmd_accuracy()}, indent=1))
    if not acc_path.exists():
        print(f"no accuracy results yet ({acc_path}); run with --parts accuracy")
        return
    rows = read_jsonl(runs)
    path, png = report(rows, json.loads(acc_path.read_text()), args)
    print(f"wrote {path} and {png}")


if __name__ == "__main__":
    main()
