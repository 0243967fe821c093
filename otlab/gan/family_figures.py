"""Figures of the conditional GAN, InfoGAN and pix2pix runs, drawn from their run folders.

Each function reads the last snapshot a run wrote (``snapshots/iter_*.npz``:
up to 512 real and generated rows, the class or code as a last column for
the conditional models, the held-out inputs for pix2pix) and its history,
and returns a :class:`matplotlib.figure.Figure` (no pyplot state; save it
with :func:`otlab.plotting.save_figure`).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .conditioning import split_labels
from .data import PLOT_BOUNDS, assign_classes, mixture_modes, n_classes
from .figures import tile_images
from .run_folder import RunFolder

__all__ = ["last_snapshot", "plot_conditional", "plot_codes", "plot_translations"]

_PER_ROW = 8


def last_snapshot(run_dir) -> dict:
    """The arrays of the last evaluation snapshot of a run folder.

    Raises
    ------
    FileNotFoundError
        When the folder has no snapshot (the run never evaluated).
    """
    return RunFolder(run_dir).last_snapshot()


def _figure(n_panels: int, *, width: float = 3.6, height: float = 3.4, width_ratios=None):
    from matplotlib.figure import Figure

    ratios = width_ratios or [1.0] * n_panels
    fig = Figure(figsize=(width * sum(ratios), height), layout="constrained")
    return fig, fig.subplots(1, n_panels, squeeze=False, width_ratios=ratios).ravel()


def _colours(k: int):
    from matplotlib import colormaps

    cmap = colormaps["tab10" if k <= 10 else "turbo"]
    return cmap(np.arange(k) % 10) if k <= 10 else cmap(np.linspace(0.05, 0.95, k))


def _by_class(points, labels, k: int) -> np.ndarray:
    """``k * 8`` rows: the first 8 points of each class in turn (NaN where a class has fewer)."""
    rows = np.full((k * _PER_ROW, points.shape[1]), np.nan)
    for c in range(k):
        chosen = points[labels == c][:_PER_ROW]
        rows[c * _PER_ROW:c * _PER_ROW + len(chosen)] = chosen
    return rows


def _draw_points(ax, data: str, real, fake, labels, k: int, what: str, title: str) -> None:
    """Scatter (2-D) coloured by ``labels``, or a mosaic of images with one row per label."""
    if fake.shape[1] == 2:
        ax.scatter(*real.T, s=3, c="0.8", label="real")
        ax.scatter(*fake.T, s=3, c=_colours(k)[labels], label=f"generated (colour: {what})")
        modes = mixture_modes(data)[0]
        ax.scatter(*modes.T, s=25, marker="+", c="k", linewidths=0.8, label="modes")
        lo, hi = PLOT_BOUNDS[data]
        ax.set_xlim(lo, hi)
        ax.set_ylim(lo, hi)
        ax.set_aspect("equal")
        ax.set_xlabel("$x_1$ (data units)")
        ax.set_ylabel("$x_2$ (data units)")
        ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=3,
                  markerscale=2)
    else:
        ax.imshow(tile_images(_by_class(fake, labels, k), n_rows=k, n_cols=_PER_ROW),
                  cmap="gray", vmin=-1.0, vmax=1.0, interpolation="nearest")
        ax.set_yticks(np.arange(k) * 9 + 3.5, [str(c) for c in range(k)], fontsize=7)
        ax.set_xticks([])
        ax.set_ylabel(f"{what} (one row each)")
    ax.set_title(title, fontsize=8)


_MIN_COUNT = 20  # the min_count of otlab.gan.class_metrics.class_report


def _draw_class_counts(ax, data: str, fake, labels) -> int:
    """Write next to each mode how many points of its class lie within 3 sigma of it
    (green: covered, red: not); return the number of covered classes."""
    from matplotlib.patheffects import withStroke

    from .class_metrics import class_hits

    hits = class_hits(data, fake, labels)
    modes = mixture_modes(data)[0]
    centre = modes.mean(axis=0)
    spread = float(np.max(np.linalg.norm(modes - centre, axis=1))) or 1.0
    for mode, count in zip(modes, hits):
        away = (mode - centre) / (np.linalg.norm(mode - centre) or 1.0)
        colour = "tab:green" if count >= _MIN_COUNT else "tab:red"
        ax.annotate(str(int(count)), mode, xytext=mode + 0.2 * spread * away, fontsize=7,
                    color=colour, ha="center", va="center", fontweight="bold",
                    path_effects=[withStroke(linewidth=2, foreground="white")])
    return int((hits >= _MIN_COUNT).sum())


def plot_conditional(runs: Mapping[str, Mapping], data: str):
    """Samples of each run coloured (2-D) or sorted (digits) by class, and the per-class W_1.

    Parameters
    ----------
    runs : mapping
        ``{name: {"out": run folder, "history": rows, "conditioned": bool}}``.
        A conditioned run's points are shown under the label they were
        generated for; an unconditional run's under the class
        :func:`~otlab.gan.data.assign_classes` gives them.
    data : str
        The labelled data set of the runs.
    """
    k = n_classes(data)
    fig, axes = _figure(len(runs) + 1)
    width = 0.8 / len(runs)
    for i, (name, run) in enumerate(runs.items()):
        snap = last_snapshot(run["out"])
        real, _ = split_labels(snap["real"])
        fake, labels = split_labels(snap["fake"])
        if not run["conditioned"]:
            labels = assign_classes(data, fake)
        last = run["history"][-1]
        mean = (f"{last['mean_class_w1']:.3f}" if last["classes_generated"] == k else
                f"n/a ({last['mean_generated_class_w1']:.3f} over the "
                f"{last['classes_generated']} generated)")
        title = (f"{name}, iteration {last['iteration']}: {last['classes_covered']}/{k} "
                 f"classes covered\nmean per-class $W_1$ {mean}")
        if fake.shape[1] == 2:
            covered = _draw_class_counts(axes[i], data, fake, labels if run["conditioned"]
                                         else None)
            title = (f"{name}, iteration {last['iteration']}: {covered}/{k} classes covered,\n"
                     f"mean per-class $W_1$ {mean}; numbers: points of the class\n"
                     f"within 3 sigma of its mode (covered: >= {_MIN_COUNT} of {len(fake)})")
        _draw_points(axes[i], data, real, fake, labels, k, "class", title)
        w1 = [last[f"w1_class_{c}"] for c in range(k)]
        w1 = np.array([np.nan if w is None else w for w in w1], dtype=float)
        axes[-1].bar(np.arange(k) + (i - (len(runs) - 1) / 2) * width, w1, width, label=name)
    ax = axes[-1]
    ax.set_xlabel("class")
    ax.set_ylabel("exact $W_1$, real vs generated ("
                  + ("pixels on [-1, 1])" if data == "digits" else "data units)"))
    ax.set_title("per-class exact $W_1$ (no bar: class not generated)", fontsize=8)
    ax.set_ylim(0, 1.3 * max((b.get_height() for b in ax.patches
                               if np.isfinite(b.get_height())), default=1.0))
    ax.legend(fontsize=7, loc="upper right", ncol=2)
    return fig


def plot_codes(out, data: str, history):
    """InfoGAN: points by code value, and the exact mutual information next to its bound.

    The left panel colours (2-D) or sorts (digits, one row per code value)
    the generated points of the last evaluation by their code value; the
    right panel shows, against the iteration, the exact
    :math:`I(c;\\text{class})` from the counts, the variational bound
    :math:`L_I` and :math:`\\log K`.
    """
    snap = last_snapshot(out)
    real, _ = split_labels(snap["real"])
    fake, codes = split_labels(snap["fake"])
    last = history[-1]
    k = sum(1 for key in last if key.startswith("w1_code_"))
    fig, axes = _figure(2, width=4.2)
    _draw_points(axes[0], data, real, fake, codes, k, "code value",
                 f"iteration {last['iteration']}: {last['modes_owned_fraction']:.0%} of the "
                 f"classes owned by one code value")
    rows = [r for r in history if r.get("mutual_information") is not None]
    it = [r["iteration"] for r in rows]
    ax = axes[1]
    ax.plot(it, [r["mutual_information"] for r in rows], "o-", ms=3,
            label="exact $I(c; \\mathrm{class})$ from counts")
    ax.plot(it, [r["mi_lower_bound"] for r in rows], "s--", ms=3,
            label="variational bound $L_I$")
    ax.axhline(np.log(k), color="k", lw=0.8, ls=":", label=f"$\\log K$ = {np.log(k):.3f}")
    ax.set_xlabel("generator iteration")
    ax.set_ylabel("mutual information (nats)")
    ax.set_title("mutual information of the code", fontsize=8)
    ax.legend(fontsize=7)
    return fig


def plot_translations(runs: Mapping[str, Mapping], *, reference: Mapping | None = None,
                      n_examples: int = 10):
    """pix2pix: held-out inputs, each variant's output and the targets; and the scores.

    Parameters
    ----------
    runs : mapping
        ``{variant: {"out": run folder, "history": rows}}``; the first
        ``n_examples`` held-out pairs are shown (the same for every run).
    reference : mapping, optional
        :func:`otlab.gan.families.pix2pix.reference_scores` of the task: the scores of
        the degraded inputs themselves and the real-vs-real :math:`W_1`,
        drawn as dotted lines.
    """
    fig, axes = _figure(4, width=2.6, height=3.4, width_ratios=[2.2, 1, 1, 1])
    names = list(runs)
    snaps = {name: last_snapshot(runs[name]["out"]) for name in names}
    first = snaps[names[0]]
    rows = [first["inputs"][:n_examples]] + [snaps[n]["fake"][:n_examples] for n in names] \
        + [first["real"][:n_examples]]
    labels = ["input"] + names + ["target"]
    axes[0].imshow(tile_images(np.concatenate(rows), n_rows=len(rows), n_cols=n_examples),
                   cmap="gray", vmin=-1.0, vmax=1.0, interpolation="nearest")
    axes[0].set_yticks(np.arange(len(rows)) * 9 + 3.5, labels, fontsize=8)
    axes[0].set_xticks([])
    axes[0].set_title(f"held-out pairs, iteration {runs[names[0]]['history'][-1]['iteration']}",
                      fontsize=8)
    panels = [("l1", "mean |error| (pixels in [0, 1])", "held-out L1 (lower is better)"),
              ("psnr", "PSNR (dB)", "held-out PSNR (higher is better)"),
              ("exact_w1", "exact $W_1$ (64-D, pixels in [-1, 1])",
               "exact $W_1$, generated vs real set")]
    for ax, (key, unit, title) in zip(axes[1:], panels):
        values = [runs[n]["history"][-1][key] for n in names]
        ax.bar(names, [np.nan if v is None else v for v in values], color=_colours(len(names)),
               label="to the held-out targets" if key == "exact_w1" else None)
        if key == "exact_w1":
            unpaired = [runs[n]["history"][-1]["unpaired_w1"] for n in names]
            ax.scatter(names, unpaired, marker="D", c="k", s=18, zorder=3,
                       label="to as many training digits")
        if reference is not None:
            ax.axhline(reference["input"][key], color="k", ls=":", lw=1,
                       label="degraded input itself")
            if key == "exact_w1":
                ax.axhline(reference["real_vs_real_w1"], color="0.4", ls="--", lw=1,
                           label="real digits vs targets")
            ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.1))
        ax.set_ylabel(unit)
        ax.set_title(title, fontsize=8)
        ax.tick_params(axis="x", labelsize=7)
    return fig
