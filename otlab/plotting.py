"""Matplotlib figures for the demos and reports.

Every function builds and returns a :class:`matplotlib.figure.Figure` without
touching the global pyplot state (no ``plt.show()``, no current figure), so it
works under any backend, including ``Agg`` on a headless machine.  Save with
``fig.savefig(path)``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

__all__ = ["sweep_figure", "gradient_norm_figure", "critic_figure", "save_figure"]


def _new_figure(n_panels: int, *, panel_size=(4.2, 3.4), n_cols=None):
    from matplotlib.figure import Figure

    n_cols = min(n_panels, n_cols or n_panels)
    n_rows = -(-n_panels // n_cols)
    fig = Figure(figsize=(panel_size[0] * n_cols, panel_size[1] * n_rows), layout="constrained")
    axes = fig.subplots(n_rows, n_cols, squeeze=False).ravel()
    for ax in axes[n_panels:]:
        ax.set_visible(False)
    return fig, axes[:n_panels]


def _plot_curve(ax, x, y, *, label, markers: bool, jump_at, style: dict):
    """One curve; with ``jump_at`` the pieces left and right of it are drawn apart and the
    value at ``jump_at`` as a lone marker (a discontinuity, not a steep line)."""
    y = np.asarray(y, dtype=float)
    y = np.where(np.isfinite(y), y, np.nan)
    style = {"marker": "o" if markers else None, "ms": 3, "lw": 1.5, **style}
    if jump_at is None or not np.any(x == jump_at):
        ax.plot(x, y, label=label, **style)
        return
    left, right, at = x < jump_at, x > jump_at, x == jump_at
    line = ax.plot(x[left], y[left], label=label, **style)[0]
    style["color"] = line.get_color()
    ax.plot(x[right], y[right], **style)
    ax.plot(x[at], y[at], ls="none", marker="o", ms=5, color=style["color"])


def sweep_figure(x, panels: Sequence[tuple[str, Mapping[str, Sequence[float]]]], *,
                 xlabel: str, ylabels: Sequence[str] | None = None,
                 hlines: Mapping[int, Mapping[str, float]] | None = None,
                 logy: Sequence[bool] | None = None, suptitle: str | None = None,
                 n_cols: int | None = None, markers: bool = True,
                 jumps: Mapping[int, float] | None = None, symlog_x: float | None = None):
    r"""Curves of several quantities against one swept parameter, one panel per group.

    Parameters
    ----------
    x : array-like, shape (m,)
        The swept parameter (e.g. :math:`\theta` or the shift).
    panels : sequence of (title, {label: y})
        One panel per entry; each ``y`` has shape (m,), or is a pair
        ``(y, style)`` with a dict of matplotlib line properties (``color``,
        ``ls``, ...).  Non-finite values (``inf`` for KL on disjoint
        supports) are left out of the curve.
    xlabel : str
        Label of the horizontal axis.
    ylabels : sequence of str, optional
        Label of each panel's vertical axis.
    hlines : {panel index: {label: y}}, optional
        Dotted horizontal reference lines (e.g. :math:`\log 2`).
    logy : sequence of bool, optional
        Log vertical axis per panel.
    suptitle : str, optional
        Figure title.
    n_cols : int, optional
        Panels per row (default: all in one row).
    markers : bool, default True
        Mark the measured points.
    jumps : {panel index: x0}, optional
        Panels whose curves jump at ``x0``: the points left and right of it
        are joined separately and the value at ``x0`` is a lone dot, so no
        line pretends the jump is a steep slope.
    symlog_x : float, optional
        A symmetric-log horizontal axis, linear within ``(-symlog_x, symlog_x)``
        (for sweeps that include 0 and crowd near it).

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> t = np.linspace(-1, 1, 5)
    >>> fig = sweep_figure(t, [("W", {"|t|": np.abs(t)})], xlabel="t", ylabels=["W"])
    >>> len(fig.axes), fig.axes[0].get_ylabel()
    (1, 'W')
    """
    x = np.asarray(x, dtype=float)
    fig, axes = _new_figure(len(panels), n_cols=n_cols)
    for i, (ax, (title, curves)) in enumerate(zip(axes, panels)):
        for label, y in curves.items():
            y, style = y if isinstance(y, tuple) else (y, {})
            _plot_curve(ax, x, y, label=label, markers=markers,
                        jump_at=(jumps or {}).get(i), style=style)
        for label, value in (hlines or {}).get(i, {}).items():
            ax.axhline(value, color="0.4", ls=":", lw=1, label=label)
        if logy is not None and logy[i]:
            ax.set_yscale("log")
        if symlog_x is not None:
            ax.set_xscale("symlog", linthresh=symlog_x)
            ax.set_xlim(x.min(), x.max() * 1.2 if x.max() > 0 else None)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel(xlabel)
        if ylabels is not None:
            ax.set_ylabel(ylabels[i])
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    if suptitle:
        fig.suptitle(suptitle, fontsize=11)
    return fig


def gradient_norm_figure(steps, stages: Sequence[tuple[str, Mapping[str, Sequence[float]]]], *,
                         xlabel: str = "discriminator training steps",
                         ylabel: str = "generator gradient norm",
                         suptitle: str | None = None):
    """Generator gradient norms against discriminator training, log vertical axis.

    Parameters
    ----------
    steps : array-like, shape (m,)
        Checkpoints (discriminator / critic steps).
    stages : sequence of (title, {loss name: norms})
        One panel per frozen generator stage; each ``norms`` has shape (m,).
        The panels share their vertical axis.
    xlabel, ylabel : str
        Axis labels.
    suptitle : str, optional
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> fig = gradient_norm_figure([1, 10, 100], [("stage 0", {"-log D": [1.0, 0.1, 0.01]})])
    >>> fig.axes[0].get_yscale()
    'log'
    """
    steps = np.asarray(steps, dtype=float)
    fig, axes = _new_figure(len(stages))
    for ax, (title, curves) in zip(axes, stages):
        for label, y in curves.items():
            y = np.asarray(y, dtype=float)
            ax.plot(steps, np.where(y > 0, y, np.nan), marker="o", ms=3, lw=1.5, label=label)
        ax.set_yscale("log")
        ax.set_title(title, fontsize=10)
        ax.set_xlabel(xlabel)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7)
    axes[0].set_ylabel(ylabel)
    ylims = [ax.get_ylim() for ax in axes]
    for ax in axes:
        ax.set_ylim(min(lo for lo, _ in ylims), max(hi for _, hi in ylims))
    if suptitle:
        fig.suptitle(suptitle, fontsize=11)
    return fig


def critic_figure(critics: Mapping[str, object], x, y, *, extent, resolution: int = 120,
                  title: str | None = None):
    """Side-by-side heat maps of 2-D critics ``f`` with the two samples on top.

    Parameters
    ----------
    critics : mapping of str to callable
        Name -> critic; each maps an (k, 2) numpy array to k values.
    x, y : ndarray, shape (n, 2)
        The samples the critics separate (drawn as dots).
    extent : tuple of float
        ``(xmin, xmax, ymin, ymax)`` of the plotted window.
    resolution : int
        Grid points per axis.
    title : str, optional
        Figure title.
    """
    fig, axes = _new_figure(len(critics))
    xs = np.linspace(extent[0], extent[1], resolution)
    ys = np.linspace(extent[2], extent[3], resolution)
    grid = np.stack(np.meshgrid(xs, ys), axis=-1).reshape(-1, 2)
    for ax, (name, critic) in zip(axes, critics.items()):
        values = np.asarray(critic(grid), dtype=float).reshape(resolution, resolution)
        values = values - values.mean()
        image = ax.imshow(values, origin="lower", extent=extent, aspect="auto", cmap="coolwarm")
        ax.contour(xs, ys, values, levels=12, colors="k", linewidths=0.4, alpha=0.5)
        ax.scatter(x[:, 0], x[:, 1], s=4, c="tab:blue", label="$P_0$")
        ax.scatter(y[:, 0], y[:, 1], s=4, c="tab:orange", label="$P_\\theta$")
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("first coordinate")
        ax.set_ylabel("second coordinate")
        fig.colorbar(image, ax=ax, shrink=0.8, label="critic value $f$ minus its mean")
    axes[0].legend(loc="upper right", fontsize="small")
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def save_figure(fig, path, *, dpi: int = 90):
    """Save ``fig`` as a compact PNG at ``path`` and return the path."""
    fig.savefig(path, dpi=dpi)
    return path
