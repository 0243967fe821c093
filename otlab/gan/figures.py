"""Figures of a training run: snapshots, an animated GIF, critic estimate vs exact W, summary.

All functions take the history (rows from :func:`otlab.gan.train`) and/or
the run folder, and write files with matplotlib's Agg backend: PNG figures,
and ``training.gif`` through :class:`matplotlib.animation.PillowWriter`.

The trainer writes (:class:`otlab.gan.run_folder.RunFolder`) ``snapshots/iter_XXXXXXX.npz``
at every evaluation, with ``iteration``, ``fake`` and ``real`` (every evaluated point
of 2-D data, so that the mode counts can be drawn exactly; up to 512 images) and, for
2-D data,
``critic`` (the critic on a 96x96 grid) and ``bounds`` (the grid's square
window).  A 2-D snapshot is drawn as a scatter of real and generated points
over the critic's contour; a snapshot of images (64-D digits) as a tile of
8x8 generated images.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from .metrics import MODE_CAPTURE_KEYS
from .run_folder import RunFolder

__all__ = ["summary", "correlation_text", "tile_images", "snapshot_figure", "plot_snapshots",
           "write_gif", "plot_w_curves", "plot_comparison", "write_figures", "score_label"]

#: Points drawn per scatter of a snapshot panel (the mode counts use every point).
_DRAWN_POINTS = 512


def _is_distance(loss) -> bool:
    """Whether the critic of ``loss`` estimates :math:`W_1` (``None``: unknown, assume so)."""
    from .losses import WASSERSTEIN_LOSSES

    return loss is None or loss in WASSERSTEIN_LOSSES


def score_label(loss=None, *, sep: str = " ") -> str:
    """Colour-bar label of the critic drawn behind the points, with its unit.

    A Wasserstein critic is (about) 1-Lipschitz, so its values are in data
    units; a GAN discriminator's logit is a score with no unit.  ``sep``
    goes between the quantity and its unit (``"\\n"`` for a narrow bar).

    >>> score_label("wgan-gp")
    'critic $D(x)$ minus its median (data units)'
    >>> score_label("gan")
    'discriminator logit $D(x)$ minus its median (a score, no unit)'
    """
    if _is_distance(loss):
        return f"critic $D(x)$ minus its median{sep}(data units)"
    return f"discriminator logit $D(x)$ minus its median{sep}(a score, no unit)"


def _evaluated(history):
    return [r for r in history if r.get("exact_w1") is not None
            and r.get("critic_estimate") is not None]


def summary(history) -> dict:
    r"""Pearson and Spearman correlation of critic estimate with exact :math:`W_1`, final values.

    The correlation is taken over the evaluations of a *trained* critic
    (iteration > 0): at iteration 0 the critic is still its random
    initialisation, whose output says nothing about :math:`W_1`, while the
    untrained generator is at its farthest; that one point would otherwise
    dominate the correlation.  When it cannot be computed (fewer than three
    such evaluations, or a constant curve) the correlations are NaN and
    ``correlation_note`` says why (otherwise it is ``None``).
    ``high_quality`` is a percentage.  For a mixture, ``modes``,
    ``high_quality_fraction`` and ``reverse_kl`` are the published measures of
    the last evaluation (:func:`otlab.gan.metrics.mode_capture_metrics`), next
    to its ``final_exact_w1``; ``None`` for other data.

    >>> rows = [{"iteration": i, "exact_w1": 1.0 / (i + 1), "critic_estimate": 0.5 / (i + 1),
    ...          "modes_covered": 8} for i in range(5)]
    >>> rows[0]["critic_estimate"] = -3.0  # the untrained critic does not count
    >>> s = summary(rows)
    >>> round(s["pearson"], 6), round(s["spearman"], 6), s["modes_covered"], s["n_evaluations"]
    (1.0, 1.0, 8, 5)
    >>> summary(rows[:3])["correlation_note"]
    'needs at least 3 evaluations after iteration 0; the run has 2'
    """
    from scipy import stats

    rows = _evaluated(history)
    out = {"n_evaluations": len(rows), "pearson": math.nan, "spearman": math.nan,
           "correlation_note": None, "final_exact_w1": math.nan,
           "final_critic_estimate": math.nan, "modes_covered": None, "high_quality": None,
           **dict.fromkeys(MODE_CAPTURE_KEYS)}
    trained = [r for r in rows if r["iteration"] > 0]
    w = np.array([r["exact_w1"] for r in trained])
    c = np.array([r["critic_estimate"] for r in trained])
    if len(trained) < 3:
        out["correlation_note"] = (f"needs at least 3 evaluations after iteration 0; the run "
                                   f"has {len(trained)}")
    elif np.ptp(w) == 0 or np.ptp(c) == 0:
        which = "exact W1" if np.ptp(w) == 0 else "critic estimate"
        out["correlation_note"] = f"the {which} is constant over the evaluations"
    else:
        out["pearson"] = float(stats.pearsonr(c, w)[0])
        out["spearman"] = float(stats.spearmanr(c, w)[0])
    if not rows:
        return out
    last = rows[-1]
    out.update(final_exact_w1=float(last["exact_w1"]),
               final_critic_estimate=float(last["critic_estimate"]),
               modes_covered=last.get("modes_covered"), high_quality=last.get("high_quality"),
               **{k: last.get(k) for k in MODE_CAPTURE_KEYS})
    return out


def correlation_text(s: dict) -> str:
    """``"Pearson 0.97, Spearman 0.95"``, or why there is no correlation.

    >>> correlation_text({"pearson": float("nan"), "spearman": float("nan"),
    ...                   "correlation_note": "needs at least 3 evaluations"})
    'Pearson/Spearman not computed (needs at least 3 evaluations)'
    """
    if s.get("correlation_note"):
        return f"Pearson/Spearman not computed ({s['correlation_note']})"
    return f"Pearson {s['pearson']:.3f}, Spearman {s['spearman']:.3f}"


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _exact_w_by_iteration(history) -> dict:
    return {int(r["iteration"]): float(r["exact_w1"]) for r in history or ()
            if r.get("exact_w1") is not None}


def _title(iteration: int, w_by_iter: dict) -> str:
    w = w_by_iter.get(iteration)
    return f"iteration {iteration}" + ("" if w is None else f", exact $W_1$ {w:.3f}")


def tile_images(rows, *, n_rows: int = 8, n_cols: int = 8, pad: int = 1) -> np.ndarray:
    """Arrange flattened square images into one mosaic, row by row.

    Parameters
    ----------
    rows : array_like, shape (n, side * side)
        Flattened images (the first ``n_rows * n_cols`` are used).
    n_rows, n_cols : int
        Number of rows and of columns of tiles in the mosaic.
    pad : int
        Pixels between neighbouring tiles.

    Returns
    -------
    mosaic : ndarray, shape (n_rows * (side + pad) - pad, n_cols * (side + pad) - pad)
        The images; NaN in the gaps and in tiles without an image (shown as
        the axes' background by :meth:`matplotlib.axes.Axes.imshow`).

    Examples
    --------
    >>> m = tile_images(np.ones((3, 64)), n_rows=2, n_cols=2)
    >>> m.shape, int(np.nansum(m)), int(np.isnan(m).sum())  # 3 images, one empty tile
    ((17, 17), 192, 97)
    """
    rows = np.asarray(rows, dtype=float)
    if rows.ndim != 2:
        raise ValueError(f"rows must have shape (n, side * side); got shape {rows.shape}")
    side = math.isqrt(rows.shape[1])
    if side * side != rows.shape[1]:
        raise ValueError(f"rows must be flattened square images; got {rows.shape[1]} "
                         f"columns, not a perfect square")
    step = side + pad
    mosaic = np.full((n_rows * step - pad, n_cols * step - pad), np.nan)
    for k, image in enumerate(rows[:n_rows * n_cols]):
        i, j = divmod(k, n_cols)
        mosaic[i * step:i * step + side, j * step:j * step + side] = image.reshape(side, side)
    return mosaic


def _draw_images(ax, rows, title: str) -> None:
    ax.imshow(tile_images(rows), cmap="gray", vmin=-1.0, vmax=1.0, interpolation="nearest")
    ax.set_title(title, fontsize=9)
    ax.set_axis_off()


def _centred_critic(snap: dict):
    """The critic grid minus its median (a critic is defined up to a constant)."""
    return snap["critic"] - np.median(snap["critic"])


def _critic_norm(snaps):
    """One symmetric colour scale for the centred critics of ``snaps`` (or None)."""
    from matplotlib.colors import Normalize

    grids = [np.abs(_centred_critic(s)) for s in snaps if "critic" in s]
    if not grids:
        return None
    lim = max(float(np.percentile(g, 99)) for g in grids) or 1.0
    return Normalize(-lim, lim)


def _draw_snapshot(ax, snap: dict, title: str, *, norm=None, labels=(True, True),
                   points: int | None = _DRAWN_POINTS):
    """One evaluation: a scatter of the first ``points`` points (``None``: all) over the
    critic (2-D), or a tile of generated images.

    Returns the critic's contour set (for a colour bar), or ``None``.
    """
    if snap["fake"].shape[1] != 2:
        _draw_images(ax, snap["fake"], title)
        return None
    contours = None
    if "critic" in snap:
        lo, hi = snap["bounds"]
        axis = np.linspace(lo, hi, snap["critic"].shape[0])
        levels = 20 if norm is None else np.linspace(norm.vmin, norm.vmax, 21)
        contours = ax.contourf(axis, axis, _centred_critic(snap), levels=levels, cmap="RdBu_r",
                               alpha=0.7, norm=norm, extend="neither" if norm is None else "both")
        ax.set_xlim(lo, hi)
        ax.set_ylim(lo, hi)
    ax.scatter(*snap["fake"][:points].T, s=2, c="tab:orange", alpha=0.7, label="generated")
    ax.scatter(*snap["real"][:points].T, s=1, c="k", alpha=0.4, label="real")
    ax.set_title(title, fontsize=9)
    ax.set_aspect("equal")
    ax.tick_params(labelsize=7)
    if labels[0]:
        ax.set_xlabel("$x_1$", fontsize=8)
    if labels[1]:
        ax.set_ylabel("$x_2$", fontsize=8)
    return contours


def _panel_count(n: int, *, max_cols: int = 4) -> tuple[int, int]:
    """``(panels, columns)``: at most ``n`` panels that fill whole rows of <= ``max_cols``.

    >>> _panel_count(5), _panel_count(7), _panel_count(12), _panel_count(2)
    ((5, 5), (6, 3), (12, 4), (2, 2))
    """
    if n <= max_cols + 1:
        return n, n
    best = max(((n - n % c, c) for c in range(max_cols, 2, -1)), key=lambda pc: pc)
    return best


def snapshot_figure(run_dir, *, max_panels: int = 12, history=None, loss=None):
    """One panel per evaluation: samples over the critic's contour, or generated digits.

    Snapshots of 2-D data show real (black) and generated (orange) points
    over the critic's contour (centred to median 0, one colour scale and
    colour bar for all panels); snapshots of images (the 64-D digits) show
    an 8 x 8 tile of generated 8x8 images, followed by a last panel of real
    images for comparison.  The panels fill whole rows: evaluations are
    subsampled evenly (first and last kept).

    Parameters
    ----------
    run_dir : str or Path
        Run folder with ``snapshots/iter_*.npz``.
    max_panels : int
        At most this many panels.
    history : list of dict, optional
        Rows of :func:`otlab.gan.train`; adds the exact :math:`W_1` to the titles.
    loss : str, optional
        The run's loss: labels the colour bar with the critic's unit (:func:`score_label`).

    Returns
    -------
    matplotlib.figure.Figure or None
        The figure (``None`` when the run has no snapshots); its first
        ``panels`` axes are the panels, in reading order.
    """
    snaps = RunFolder(run_dir).snapshots()
    if not snaps:
        return None
    images = snaps[0]["fake"].shape[1] != 2
    panels, cols = _panel_count(min(len(snaps) + int(images), max_panels))
    n_eval = panels - int(images)
    if len(snaps) > n_eval:
        idx = np.unique(np.linspace(0, len(snaps) - 1, n_eval).round().astype(int))
        snaps = [snaps[i] for i in idx]
    from matplotlib.figure import Figure

    rows = math.ceil(panels / cols)
    fig = Figure(figsize=(2.9 * cols + 0.8, 2.9 * rows + 0.5), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False)
    w_by_iter = _exact_w_by_iteration(history)
    norm = _critic_norm(snaps)
    contours = None
    for k, (ax, snap) in enumerate(zip(axes.ravel(), snaps)):
        labels = (k // cols == rows - 1, k % cols == 0)
        drawn = _draw_snapshot(ax, snap, _title(int(snap["iteration"]), w_by_iter), norm=norm,
                               labels=labels)
        contours = contours or drawn
    if images:
        _draw_images(axes.ravel()[len(snaps)], snaps[-1]["real"], "real data")
    else:
        handles = axes.ravel()[0].get_legend_handles_labels()
        fig.legend(*handles, loc="outside lower center", ncols=2, markerscale=4, fontsize=8)
    if contours is not None:
        fig.colorbar(contours, ax=axes.ravel().tolist(), shrink=0.8, label=score_label(loss))
    return fig


def plot_snapshots(run_dir, path=None, *, max_panels: int = 12, history=None, loss=None):
    """Write :func:`snapshot_figure` to ``path`` (default ``run_dir/snapshots.png``).

    Returns the path, or ``None`` when the run has no snapshots.
    """
    fig = snapshot_figure(run_dir, max_panels=max_panels, history=history, loss=loss)
    if fig is None:
        return None
    path = Path(path) if path else RunFolder(run_dir).file("snapshots.png")
    fig.savefig(path, dpi=110)
    return path


def write_gif(run_dir, path=None, *, history=None, fps: float = 4.0, size: float = 3.0,
              dpi: int = 80):
    """Animated GIF of training, one frame per snapshot, written with Pillow.

    Each frame is drawn like a panel of :func:`plot_snapshots` (scatter over
    the critic's contour for 2-D data, a tile of generated images for digits)
    and the frames go through :class:`matplotlib.animation.PillowWriter`.
    The defaults give 240 x 240 pixel frames: about 40 frames stay well under
    2 MB.

    Parameters
    ----------
    run_dir : str or Path
        Run folder with ``snapshots/iter_*.npz``.
    path : str or Path, optional
        Output GIF (default ``run_dir/training.gif``).
    history : list of dict, optional
        Rows of :func:`otlab.gan.train`; adds the exact :math:`W_1` to the titles.
    fps : float
        Frames per second.
    size, dpi : float, int
        Frame side in inches and resolution (pixels per inch).

    Returns
    -------
    Path or None
        The GIF written, or ``None`` when the run has no snapshots.

    Examples
    --------
    Three hand-made 2-D snapshots (samples over a 16 x 16 critic grid) give
    a three-frame GIF of 240 x 240 pixels:

    >>> import tempfile
    >>> from PIL import Image
    >>> rng = np.random.default_rng(0)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     print(write_gif(tmp))  # no snapshots yet
    ...     (Path(tmp) / "snapshots").mkdir()
    ...     for it in (0, 100, 200):
    ...         np.savez(Path(tmp) / "snapshots" / f"iter_{it:07d}.npz", iteration=it,
    ...                  fake=rng.normal(size=(64, 2)), real=rng.normal(size=(64, 2)),
    ...                  critic=np.tile(np.linspace(-1, 1, 16), (16, 1)),
    ...                  bounds=np.array([-3.0, 3.0]))
    ...     gif = write_gif(tmp)
    ...     with Image.open(gif) as im:
    ...         print(gif.name, im.n_frames, im.size)
    None
    training.gif 3 (240, 240)
    """
    from matplotlib.animation import PillowWriter

    folder = RunFolder(run_dir)
    files = folder.snapshot_files()
    if not files:
        return None
    plt = _plt()
    path = Path(path) if path else folder.file("training.gif")
    w_by_iter = _exact_w_by_iteration(history)
    fig, ax = plt.subplots(figsize=(size, size))
    fig.subplots_adjust(left=0.1, right=0.98, bottom=0.08, top=0.9)
    writer = PillowWriter(fps=fps)
    try:
        with writer.saving(fig, path, dpi):
            for f in files:
                snap = folder.load_snapshot(f)
                ax.clear()
                _draw_snapshot(ax, snap, _title(int(snap["iteration"]), w_by_iter),
                               labels=(False, False))
                if snap["fake"].shape[1] == 2:
                    ax.legend(loc="upper right", fontsize=6, markerscale=3)
                writer.grab_frame()
    finally:
        plt.close(fig)
    return path


def plot_w_curves(history, path, *, title: str = "", loss=None):
    r"""Critic estimate and exact :math:`W_1` against the iteration, with the correlations.

    Plots the rows that have both ``exact_w1`` and ``critic_estimate`` and
    puts :func:`summary`'s Pearson and Spearman correlations of the two
    curves in the title; writes the PNG to ``path`` and returns it as a
    :class:`~pathlib.Path`.  For a GAN ``loss`` (``"gan"``, ``"gan-ns"``) the
    discriminator's logit gap :math:`\mathbb{E}D(x)-\mathbb{E}D(G(z))` is a
    score, not a distance: it gets a panel of its own below the exact
    :math:`W_1`, labelled as what it is.

    Examples
    --------
    >>> import tempfile
    >>> rows = [{"iteration": i, "exact_w1": 2.0 / (i + 1), "critic_estimate": 1.5 / (i + 1)}
    ...         for i in range(0, 500, 100)]
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     png = plot_w_curves(rows, Path(tmp) / "w_curves.png", title="wgan-gp")
    ...     print(png.name, png.stat().st_size > 0)
    w_curves.png True
    """
    rows = _evaluated(history)
    plt = _plt()
    it = [r["iteration"] for r in rows]
    exact = [r["exact_w1"] for r in rows]
    estimate = [r["critic_estimate"] for r in rows]
    correlation = correlation_text(summary(history))
    if _is_distance(loss):
        fig, ax = plt.subplots(figsize=(6, 3.6))
        ax.plot(it, exact, "o-", ms=3, label="exact $W_1$ (POT)")
        ax.plot(it, estimate, "s-", ms=3, label=r"critic $\mathbb{E}D(x)-\mathbb{E}D(G(z))$")
        ax.axhline(0.0, color="0.6", lw=0.8)
        ax.set_title(f"{title}  {correlation}", fontsize=9)
        ax.set_xlabel("generator iteration")
        ax.set_ylabel("$W_1$ and its estimate (data units)")
        ax.legend(fontsize=8)
    else:
        fig, (ax, score) = plt.subplots(2, 1, figsize=(6, 5.4), sharex=True)
        ax.plot(it, exact, "o-", ms=3, label="exact $W_1$ (POT)")
        ax.set_title(f"{title}: exact $W_1$ to the data", fontsize=9)
        ax.set_ylabel("exact $W_1$ (data units)")
        ax.legend(fontsize=8)
        score.plot(it, estimate, "s-", ms=3, color="C1",
                   label=r"logit gap $\mathbb{E}D(x)-\mathbb{E}D(G(z))$")
        score.axhline(0.0, color="0.6", lw=0.8)
        score.set_title(f"the discriminator's score, not a distance ({correlation} "
                        f"with the exact $W_1$)", fontsize=8)
        score.set_xlabel("generator iteration")
        score.set_ylabel("logit gap (no unit)")
        score.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def _draw_mode_counts(ax, fake, modes, std: float) -> tuple[int, int]:
    """Draw each mode's centre, its quality circle (radius 3 sigma) and its count of
    high-quality points (green: covered, red: not); return ``(covered, n_points)``."""
    from matplotlib.patheffects import withStroke

    from .metrics import MIN_COUNT, QUALITY_SIGMAS, mode_counts

    counts = mode_counts(fake, modes, std)[2]
    radius = QUALITY_SIGMAS * std
    centre = modes.mean(axis=0)
    spread = float(np.max(np.linalg.norm(modes - centre, axis=1))) or 1.0
    for mode, count in zip(modes, counts):
        colour = "tab:green" if count >= MIN_COUNT else "tab:red"
        ax.add_patch(_circle(mode, radius, colour))
        ax.plot(*mode, "+", color="k", ms=5, mew=0.8)
        away = (mode - centre) / (np.linalg.norm(mode - centre) or 1.0)
        ax.annotate(str(int(count)), mode, xytext=mode + 0.22 * spread * away, fontsize=7,
                    color=colour, ha="center", va="center", fontweight="bold",
                    path_effects=[withStroke(linewidth=2, foreground="white")])
    return int((counts >= MIN_COUNT).sum()), len(fake)


def _circle(centre, radius: float, colour: str):
    from matplotlib.patches import Circle

    return Circle(tuple(centre), radius, fill=False, ec=colour, lw=1.0, zorder=3)


def plot_comparison(runs: dict, path, *, floor: float | None = None, data: str | None = None):
    r"""Runs side by side: each one's last snapshot, then their exact :math:`W_1` curves.

    Each snapshot panel has its own colour bar for the critic behind the
    points (:func:`score_label`: data units for a Wasserstein critic, no
    unit for a GAN's logit).  For a Gaussian mixture (``data``), every mode
    is drawn with its centre (+), the circle of radius :math:`3\sigma` within
    which a generated point counts as high quality, and its number of
    high-quality points among all evaluated points of the snapshot, green
    when it reaches the :data:`~otlab.gan.metrics.MIN_COUNT` that covers
    the mode, red otherwise; the title's count of covered modes is the
    number of green labels.

    Parameters
    ----------
    runs : dict
        Label (the loss) -> ``(history, run_dir)`` of a run of :func:`otlab.gan.train`
        with snapshots (2-D data).
    path : str or Path
        Output PNG.
    floor : float, optional
        Exact :math:`W_1` between two sets of real samples, drawn as a dotted line.
    data : str, optional
        The data set, for its modes (:func:`otlab.gan.data.mixture_modes`).

    Returns
    -------
    Path
        ``path``.  The critic estimate is drawn for the Wasserstein losses only
        (a GAN discriminator's score is not a distance).
    """
    from matplotlib.ticker import MaxNLocator

    from .data import mixture_modes
    from .metrics import MIN_COUNT, QUALITY_SIGMAS

    mix = None if data is None else mixture_modes(data)
    plt = _plt()
    n = len(runs)
    fig, axes = plt.subplots(1, n + 1, figsize=(3.6 * n + 4.6, 4.6), layout="constrained",
                             gridspec_kw={"width_ratios": [1] * n + [1.4]})
    for k, (ax, (label, (history, run_dir))) in enumerate(zip(axes, runs.items())):
        snap = RunFolder(run_dir).last_snapshot()
        title = f"{label}, iteration {int(snap['iteration'])}"
        if mix is not None:
            covered, n_points = _draw_mode_counts(ax, snap["fake"], *mix)
            title += (f"\n{covered} of {len(mix[0])} modes covered: >= {MIN_COUNT} of "
                      f"{n_points} points\nwithin {QUALITY_SIGMAS:g} sigma = "
                      f"{QUALITY_SIGMAS * mix[1]:g} of the mode (circles)")
        contours = _draw_snapshot(ax, snap, title, labels=(True, k == 0), points=None,
                                  norm=_critic_norm([snap]))
        if contours is not None:
            lim = contours.norm.vmax
            ticks = [t for t in MaxNLocator(4, symmetric=True).tick_values(-lim, lim)
                     if abs(t) <= lim]
            bar = fig.colorbar(contours, ax=ax, location="bottom", shrink=0.9, pad=0.02,
                               ticks=ticks)
            bar.set_label(score_label(label, sep="\n"), fontsize=8)
            bar.ax.tick_params(labelsize=7)
    axes[0].legend(loc="upper right", fontsize=7, markerscale=3)
    curves = axes[-1]
    for k, (label, (history, _)) in enumerate(runs.items()):
        rows = _evaluated(history)
        it = [r["iteration"] for r in rows]
        curves.plot(it, [r["exact_w1"] for r in rows], "o-", ms=3, color=f"C{k}",
                    label=f"{label}: exact $W_1$")
        if _is_distance(label):
            curves.plot(it, [r["critic_estimate"] for r in rows], "s--", ms=3, color=f"C{k}",
                        alpha=0.7, label=f"{label}: critic estimate")
    if floor is not None:
        curves.axhline(floor, color="0.4", ls=":", lw=1, label="two sets of real samples")
    curves.set_xlabel("generator iteration")
    curves.set_ylabel("$W_1$ (data units)")
    curves.set_title("exact $W_1$ to the data, same budget", fontsize=9)
    curves.legend(fontsize=7)
    fig.savefig(path, dpi=110, bbox_inches="tight", pad_inches=0.1)  # keeps the long titles
    plt.close(fig)
    return Path(path)


def write_figures(history, run_dir, *, title: str = "", world_size: int = 1,
                  loss: str | None = None) -> dict:
    """Write ``summary.json``, ``w_curves.png``, ``snapshots.png`` and ``training.gif``.

    Parameters
    ----------
    history : list of dict
        Rows of :func:`otlab.gan.train`.
    run_dir : str or Path
        The run folder (``TrainConfig.out``).
    title : str
        Prefix of the title of ``w_curves.png``.
    world_size : int
        Processes that trained the run (data parallel), recorded in ``summary.json``.
    loss : str, optional
        The run's loss: a GAN's logit gap gets its own axis in ``w_curves.png``
        (:func:`plot_w_curves`) and the colour bars their unit (:func:`score_label`).

    Returns
    -------
    dict
        Paths under the keys ``"summary"``, ``"w_curves"`` and, when the run
        has snapshots, ``"snapshots"`` (:func:`plot_snapshots`) and ``"gif"``
        (:func:`write_gif`).
    """
    from .._json import strict_json

    folder = RunFolder(run_dir)
    s = {**summary(history), "world_size": world_size}
    s["high_quality_percent"] = s.pop("high_quality")
    folder.file("summary.json").write_text(strict_json(s, indent=1) + "\n")
    paths = {"summary": folder.file("summary.json"),
             "w_curves": plot_w_curves(history, folder.file("w_curves.png"), title=title,
                                       loss=loss)}
    snaps = plot_snapshots(run_dir, history=history, loss=loss)
    if snaps is not None:
        paths["snapshots"] = snaps
        paths["gif"] = write_gif(run_dir, history=history)
    return paths
