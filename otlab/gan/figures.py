"""Figures of a training run: critic contours, critic estimate vs exact W, summary.

All functions take the history (rows from :func:`otlab.gan.train`) and/or
the run folder, and write PNG files with matplotlib's Agg backend.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

__all__ = ["summary", "plot_snapshots", "plot_w_curves", "write_figures"]


def _evaluated(history):
    return [r for r in history if r.get("exact_w1") is not None
            and r.get("critic_estimate") is not None]


def summary(history) -> dict:
    r"""Pearson and Spearman correlation of critic estimate with exact :math:`W_1`, final values.

    >>> rows = [{"iteration": i, "exact_w1": 1.0 / (i + 1), "critic_estimate": 0.5 / (i + 1),
    ...          "modes_covered": 8} for i in range(5)]
    >>> s = summary(rows)
    >>> round(s["pearson"], 6), round(s["spearman"], 6), s["modes_covered"]
    (1.0, 1.0, 8)
    """
    from scipy import stats

    rows = _evaluated(history)
    out = {"n_evaluations": len(rows), "pearson": math.nan, "spearman": math.nan,
           "final_exact_w1": math.nan, "final_critic_estimate": math.nan,
           "modes_covered": None, "high_quality": None}
    if not rows:
        return out
    w = np.array([r["exact_w1"] for r in rows])
    c = np.array([r["critic_estimate"] for r in rows])
    if len(rows) >= 3 and np.ptp(w) > 0 and np.ptp(c) > 0:
        out["pearson"] = float(stats.pearsonr(c, w)[0])
        out["spearman"] = float(stats.spearmanr(c, w)[0])
    last = rows[-1]
    out.update(final_exact_w1=float(last["exact_w1"]),
               final_critic_estimate=float(last["critic_estimate"]),
               modes_covered=last.get("modes_covered"), high_quality=last.get("high_quality"))
    return out


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_snapshots(run_dir, path=None, *, max_panels: int = 12):
    """Grid of sample scatters over the critic's contour, one panel per evaluation."""
    run_dir = Path(run_dir)
    files = sorted((run_dir / "snapshots").glob("iter_*.npz"))
    if not files:
        return None
    if len(files) > max_panels:
        idx = np.unique(np.linspace(0, len(files) - 1, max_panels).round().astype(int))
        files = [files[i] for i in idx]
    plt = _plt()
    cols = min(4, len(files))
    rows = math.ceil(len(files) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3 * cols, 3 * rows), squeeze=False)
    for ax in axes.ravel():
        ax.set_axis_off()
    for ax, f in zip(axes.ravel(), files):
        snap = np.load(f)
        lo, hi = snap["bounds"]
        axis = np.linspace(lo, hi, snap["critic"].shape[0])
        ax.contourf(axis, axis, snap["critic"], levels=20, cmap="RdBu_r", alpha=0.7)
        ax.scatter(*snap["real"].T, s=2, c="k", alpha=0.3, label="real")
        ax.scatter(*snap["fake"].T, s=2, c="tab:orange", alpha=0.6, label="generated")
        ax.set_title(f"iteration {int(snap['iteration'])}", fontsize=9)
        ax.set_xlim(lo, hi)
        ax.set_ylim(lo, hi)
        ax.set_aspect("equal")
    fig.tight_layout()
    path = Path(path) if path else run_dir / "snapshots.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_w_curves(history, path, *, title: str = ""):
    """Critic estimate and exact :math:`W_1` against the iteration, with the correlations."""
    rows = _evaluated(history)
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 3.6))
    it = [r["iteration"] for r in rows]
    ax.plot(it, [r["exact_w1"] for r in rows], "o-", ms=3, label="exact $W_1$ (POT)")
    ax.plot(it, [r["critic_estimate"] for r in rows], "s-", ms=3,
            label=r"critic $\mathbb{E}D(x)-\mathbb{E}D(G(z))$")
    s = summary(history)
    ax.set_title(f"{title}  Pearson {s['pearson']:.3f}, Spearman {s['spearman']:.3f}",
                 fontsize=9)
    ax.set_xlabel("generator iteration")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def write_figures(history, run_dir, *, title: str = "") -> dict:
    """Write ``snapshots.png``, ``w_curves.png`` and ``summary.json`` into ``run_dir``."""
    import json

    run_dir = Path(run_dir)
    s = summary(history)
    (run_dir / "summary.json").write_text(json.dumps(s, indent=1) + "\n")
    paths = {"summary": run_dir / "summary.json",
             "w_curves": plot_w_curves(history, run_dir / "w_curves.png", title=title)}
    snaps = plot_snapshots(run_dir)
    if snaps is not None:
        paths["snapshots"] = snaps
    return paths
