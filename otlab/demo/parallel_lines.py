r"""Parallel lines (WGAN paper, Example 1): W_1 is continuous in theta, KL/JS/TV are not.

:math:`P_0` is uniform on :math:`\{0\} \times [0, 1]` and :math:`P_\theta` on
:math:`\{\theta\} \times [0, 1]`.  Exactly, :math:`W_1 = |\theta|` while
:math:`JS = \log 2`, :math:`KL = +\infty` and :math:`TV = 1` for every
:math:`\theta \ne 0`: only :math:`W_1` gives a gradient that points the
generator (here, :math:`\theta`) towards the target.

The demo sweeps :math:`\theta`, measures every quantity in :data:`METHODS`
(exact values on the samples and sample estimators) together with its
derivative in :math:`\theta` (torch autograd for the Wasserstein columns,
central finite differences for the others), prints the table, and writes
``parallel_lines.csv/.json`` and ``parallel_lines.png`` (the paper's Figure 1
with a gradient panel).

Two samples are used, both with ``n`` points per line:

- *grid*: the same heights :math:`z_i = (i + \tfrac12)/n` on both lines
  (:func:`otlab.datasets.parallel_lines` with ``grid=True``), on which the
  empirical :math:`W_1` is exactly :math:`|\theta|`;
- *random*: independent uniform heights, fixed across :math:`\theta` (common
  random numbers, so finite differences see only the change of
  :math:`\theta`); the sample estimators need it (k-NN distances would be 0
  on the grid at :math:`\theta = 0`).

To add a column (Sinkhorn, an exact or neural critic), append a
:class:`Method` to :data:`METHODS` (always computed) or to
:data:`OPTIONAL_METHODS` (computed with ``--with NAME``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ..datasets import parallel_lines
from ..distance import wasserstein
from ._common import (
    demo_parser,
    finite_float,
    int_at_least,
    positive_float,
    prepare_out,
    write_table,
)

__all__ = ["Config", "Method", "METHODS", "OPTIONAL_METHODS", "sweep", "main"]

LOG2 = math.log(2.0)
#: Prefix of the derivative columns: ``d_dtheta_w1_exact`` is d(w1_exact)/d(theta).
DERIVATIVE = "d_dtheta_"


@dataclass(frozen=True)
class Config:
    """Settings shared by every method of one sweep."""

    n: int = 300               #: points per line
    seed: int = 0              #: seed of the random-height sample
    fd_step: float = 1e-2      #: step h of the central differences
    bin_width: float | None = None   #: histogram estimator cell side (None: its default)
    knn_k: int = 1             #: neighbour rank of the k-NN KL estimator
    neural_lipschitz: str = "ctransform"  #: Lipschitz method of the neural critic column
    projections: int = 200     #: directions of the sliced W1 column


@dataclass(frozen=True)
class Method:
    r"""One column of the table: a quantity measured at :math:`\theta`.

    ``name`` is the ASCII snake_case column of the CSV/JSON table (its
    derivative is ``d_dtheta_<name>``) and ``label`` the figure's legend.
    ``value(theta, cfg)`` returns a float.  ``grad(theta, cfg)`` returns
    :math:`d\,\text{value}/d\theta`; when it is ``None`` the demo uses the
    central difference ``(value(theta + h) - value(theta - h)) / 2h``.
    ``group`` (``"W1"``, ``"SW"``, ``"kernel"``, ``"JS"``, ``"KL"``, ``"TV"``)
    picks the figure panel; ``sample`` says which sample the method sees
    (``"grid"``, ``"random"`` or ``"-"`` for closed forms).
    """

    name: str
    group: str
    value: Callable[[float, Config], float]
    grad: Callable[[float, Config], float] | None = None
    sample: str = "grid"
    label: str = ""

    @property
    def legend(self) -> str:
        """The figure's name for the column (its ``label``, else its ``name``)."""
        return self.label or self.name


# --------------------------------------------------------------------------- data


@lru_cache(maxsize=512)
def _lines(theta: float, n: int, grid: bool, seed: int):
    return parallel_lines(theta, n, grid=grid, seed=seed)


def _sample(theta: float, cfg: Config, kind: str):
    return _lines(theta, cfg.n, kind == "grid", cfg.seed)


def _atom_histograms(x, y):
    """The two empirical measures as histograms on the union of their atoms."""
    _, inverse = np.unique(np.vstack([x, y]), axis=0, return_inverse=True)
    inverse = inverse.ravel()
    m = int(inverse.max()) + 1
    return (np.bincount(inverse[: len(x)], minlength=m),
            np.bincount(inverse[len(x):], minlength=m))


# --------------------------------------------------------------------------- methods


def _w1_value(kind):
    return lambda theta, cfg: float(wasserstein(*_sample(theta, cfg, kind)))


def _w1_autograd(kind):
    def grad(theta, cfg):
        import torch

        x0, x1 = _sample(theta, cfg, kind)
        t = torch.tensor(theta, dtype=torch.float64, requires_grad=True)
        heights = torch.as_tensor(x1[:, 1])
        x1_t = torch.stack([t.expand(len(heights)), heights], dim=1)
        wasserstein(torch.as_tensor(x0), x1_t).backward()
        return float(t.grad)

    return grad


def _exact_divergence(name):
    def value(theta, cfg):
        from .. import divergences

        p, q = _atom_histograms(*_sample(theta, cfg, "grid"))
        return float(getattr(divergences, name)(p, q))

    return value


@lru_cache(maxsize=512)
def _histogram_estimates(theta, cfg):
    from ..estimators import histogram_divergences

    return histogram_divergences(*_sample(theta, cfg, "random"), bin_width=cfg.bin_width)


def _histogram_estimate(key):
    return lambda theta, cfg: float(_histogram_estimates(theta, cfg)[key])


def _knn_kl(theta, cfg):
    from ..estimators import knn_kl

    return float(knn_kl(*_sample(theta, cfg, "random"), k=cfg.knn_k))


def _w1_sinkhorn(theta, cfg):
    return float(wasserstein(*_sample(theta, cfg, "grid"), method="sinkhorn"))


def _w1_sinkhorn_autograd(theta, cfg):
    import torch

    x0, x1 = _sample(theta, cfg, "grid")
    t = torch.tensor(theta, dtype=torch.float64, requires_grad=True)
    heights = torch.as_tensor(x1[:, 1])
    x1_t = torch.stack([t.expand(len(heights)), heights], dim=1)
    wasserstein(torch.as_tensor(x0), x1_t, method="sinkhorn").backward()
    return float(t.grad)


@dataclass(frozen=True)
class _FittedCritic:
    gap: float
    critic: Callable


@lru_cache(maxsize=512)
def _exact_critic(theta, cfg):
    """The exact critic f of (P_0, P_theta), smooth at the points of P_theta.

    ``exact_critic(a, b)`` is a c-transform with its cone tips at the points of
    ``b``, where it has no gradient; so it is built for (P_theta, P_0) and
    negated: f = -phi with phi(z) = min_i ||z - x0_i|| - g_i.
    """
    from ..critics import exact_critic

    x0, x1 = _sample(theta, cfg, "grid")
    phi = exact_critic(x1, x0)
    return _FittedCritic(gap=phi.gap, critic=lambda z: -phi(z))


@lru_cache(maxsize=512)
def _neural_critic(theta, cfg):
    from ..critics import estimate_w1

    return estimate_w1(*_sample(theta, cfg, "grid"), lipschitz=cfg.neural_lipschitz,
                       seed=cfg.seed, audit=False)


def _critic_gap(fit, attribute):
    return lambda theta, cfg: float(getattr(fit(theta, cfg), attribute))


def _frozen_critic_gradient(fit):
    r""":math:`d/d\theta\,(E_{P_0} f - E_{P_\theta} f)` with the critic f held fixed.

    This is the gradient a WGAN generator receives from its critic.
    """

    def grad(theta, cfg):
        import torch

        critic = fit(theta, cfg).critic
        _, x1 = _sample(theta, cfg, "grid")
        t = torch.tensor(theta, dtype=torch.float64, requires_grad=True)
        heights = torch.as_tensor(x1[:, 1])
        x1_t = torch.stack([t.expand(len(heights)), heights], dim=1)
        (-critic(x1_t).mean()).backward()
        return float(t.grad)

    return grad


@lru_cache(maxsize=512)
def _classifier(theta, cfg):
    from ..estimators import classifier_js

    return classifier_js(*_sample(theta, cfg, "random"), seed=cfg.seed)


def _sliced(theta, cfg):
    from ..sliced import sliced_wasserstein

    return float(sliced_wasserstein(*_sample(theta, cfg, "grid"), n_projections=cfg.projections,
                                    seed=cfg.seed))


def _kernel_distance(bandwidth):
    def value(theta, cfg):
        from ..kernel_distances import mmd

        kernel = "energy" if bandwidth is None else "gaussian"
        return float(mmd(*_sample(theta, cfg, "grid"), kernel=kernel, bandwidth=bandwidth,
                         estimator="biased"))

    return value


def _mmd_between_lines(theta: float, bandwidth: float) -> float:
    r"""Gaussian-kernel MMD between the two continuous lines.

    :math:`k(X, Y) = e^{-\theta^2/2\sigma^2} k_1(Z - Z')`, so
    :math:`\mathrm{MMD}^2 = 2 (1 - e^{-\theta^2/2\sigma^2})\, \mathbb E k_1(Z - Z')` with
    :math:`\mathbb E k_1 = 2\sigma\sqrt{\pi/2}\,\mathrm{erf}(1/\sigma\sqrt2) - 2\sigma^2(1 - e^{-1/2\sigma^2})`.
    """
    s = bandwidth
    mean_k1 = (2 * s * math.sqrt(math.pi / 2) * math.erf(1 / (s * math.sqrt(2)))
               - 2 * s * s * (1 - math.exp(-1 / (2 * s * s))))
    return math.sqrt(2 * -math.expm1(-theta * theta / (2 * s * s)) * mean_k1)


def _energy_between_lines(theta: float) -> float:
    r"""Energy distance between the two continuous lines (one quadrature).

    :math:`D^2 = 2\,\mathbb E\sqrt{\theta^2 + T^2} - 2\,\mathbb E|T|`, with
    :math:`T = Z - Z'` of density :math:`2(1 - t)` on :math:`[0, 1]` and
    :math:`\mathbb E|T| = 1/3`.
    """
    from scipy.integrate import quad

    mean, _ = quad(lambda t: 2 * (1 - t) * math.hypot(theta, t), 0.0, 1.0, epsabs=1e-13)
    return math.sqrt(max(2 * mean - 2 / 3, 0.0))


#: Bandwidths of the two Gaussian-kernel MMD columns (narrow and wide against the lines).
BANDWIDTHS = (0.1, 1.0)

#: Columns computed on every run, in table order.
METHODS: list[Method] = [
    Method("w1_closed_form", "W1", lambda t, cfg: abs(t), lambda t, cfg: float(np.sign(t)), "-",
           "$|\\theta|$ (closed form)"),
    Method("w1_exact", "W1", _w1_value("grid"), _w1_autograd("grid"), "grid", "exact, grid"),
    Method("w1_exact_random", "W1", _w1_value("random"), _w1_autograd("random"), "random",
           "exact, random heights"),
    Method("w1_sinkhorn", "W1", _w1_sinkhorn, _w1_sinkhorn_autograd, "grid", "Sinkhorn"),
    Method("w1_critic_exact", "W1", _critic_gap(_exact_critic, "gap"),
           _frozen_critic_gradient(_exact_critic), "grid", "exact critic"),
    Method("sw1_closed_form", "SW", lambda t, cfg: 2 * abs(t) / math.pi,
           lambda t, cfg: 2 * float(np.sign(t)) / math.pi, "-", "$2|\\theta|/\\pi$ (closed form)"),
    Method("sw1", "SW", _sliced, sample="grid", label="sliced $W_1$, grid"),
    *[m for s in BANDWIDTHS for m in (
        Method(f"mmd_gaussian_bw_{s:g}_closed_form".replace(".", "p"), "kernel",
               lambda t, cfg, s=s: _mmd_between_lines(t, s), sample="-",
               label=f"MMD, $\\sigma$ = {s:g} (closed form)"),
        Method(f"mmd_gaussian_bw_{s:g}".replace(".", "p"), "kernel", _kernel_distance(s),
               sample="grid", label=f"MMD, $\\sigma$ = {s:g}, grid"))],
    Method("energy_closed_form", "kernel", lambda t, cfg: _energy_between_lines(t), sample="-",
           label="energy distance (closed form)"),
    Method("energy", "kernel", _kernel_distance(None), sample="grid",
           label="energy distance, grid"),
    Method("js_exact", "JS", _exact_divergence("js"), label="JS exact"),
    Method("kl_exact", "KL", _exact_divergence("kl"), label="KL exact"),
    Method("tv_exact", "TV", _exact_divergence("tv"), label="TV exact"),
    Method("js_hist", "JS", _histogram_estimate("js"), sample="random", label="JS, histogram"),
    Method("tv_hist", "TV", _histogram_estimate("tv"), sample="random", label="TV, histogram"),
    Method("kl_hist", "KL", _histogram_estimate("kl"), sample="random", label="KL, histogram"),
    Method("kl_knn", "KL", _knn_kl, sample="random", label="KL, k-NN estimator"),
]

#: Columns computed only when asked for with ``--with NAME``.
OPTIONAL_METHODS: dict[str, list[Method]] = {
    "neural": [
        Method("w1_critic_neural", "W1", _critic_gap(_neural_critic, "estimate"),
               _frozen_critic_gradient(_neural_critic), "grid", "neural critic"),
    ],
    "classifier": [
        Method("js_classifier", "JS", lambda t, cfg: float(_classifier(t, cfg).js),
               sample="random", label="JS, classifier"),
        Method("classifier_accuracy", "acc", lambda t, cfg: float(_classifier(t, cfg).accuracy),
               sample="random"),
    ],
}


# --------------------------------------------------------------------------- sweep


def _derivative(method: Method, theta: float, cfg: Config) -> float:
    if method.grad is not None:
        return float(method.grad(theta, cfg))
    h = cfg.fd_step
    with np.errstate(invalid="ignore"):
        return float((method.value(theta + h, cfg) - method.value(theta - h, cfg)) / (2 * h))


def sweep(thetas, methods, cfg: Config) -> list[dict]:
    """Measure every method and its derivative at every theta; one row per theta."""
    rows = []
    for theta in thetas:
        theta = float(theta)
        row = {"theta": theta}
        for m in methods:
            row[m.name] = float(m.value(theta, cfg))
        for m in methods:
            row[DERIVATIVE + m.name] = _derivative(m, theta, cfg)
        rows.append(row)
    return rows


def _format_table(rows, methods, prefix="") -> str:
    widths = [max(8, len(m.name)) for m in methods]
    lines = [f"{'theta':>6} " + " ".join(f"{m.name:>{w}}" for m, w in zip(methods, widths))]
    for row in rows:
        cells = " ".join(f"{row[prefix + m.name]:>{w}.4f}" for m, w in zip(methods, widths))
        lines.append(f"{row['theta']:>6.2f} " + cells)
    return "\n".join(lines)


#: Closed forms are wide pale bands under the measured curves; measured curves are hollow
#: markers of decreasing size, so curves that coincide (every W1 derivative is +-1) stay
#: visible as concentric rings.
_BAND = dict(marker=None, ls="-", lw=6, alpha=0.3, zorder=1)
_MARKERS = "osD^vP*X<>"


def _styled(methods, rows, key):
    curves, measured = {}, 0
    for m in methods:
        if m.sample == "-":
            style = dict(_BAND)
        else:
            style = dict(marker=_MARKERS[measured % len(_MARKERS)], mfc="none", mew=1.3,
                         ms=max(3.0, 10.0 - 1.8 * measured), lw=1.0,
                         ls="-" if m.sample == "grid" else ":", zorder=2 + measured)
            measured += 1
        curves[m.legend] = ([r[key + m.name] for r in rows], style)
    return curves


def _mark_infinite(ax, thetas, columns):
    """Draw +inf values on the panel's top edge, one marker per column, with legend entries."""
    top = ax.get_ylim()[1]
    for (label, values), marker in zip(columns.items(), "^v"):
        at = np.isposinf(np.asarray(values, dtype=float))
        if at.any():
            ax.plot(thetas[at], np.full(at.sum(), top), ls="none", marker=marker, ms=7,
                    mfc="none" if marker == "v" else None, mew=1.3, clip_on=False,
                    label=f"{label} = +inf (at the top edge)")
    ax.set_ylim(top=top)
    ax.legend(fontsize=7)


def _figure(rows, methods):
    from ..plotting import sweep_figure

    thetas = np.array([r["theta"] for r in rows])

    def group(*names):
        return [m for m in methods if m.group in names]

    w1_grad = [m for m in group("W1") if m.sample != "-"]
    other_grad = [m for m in group("SW", "kernel", "JS") if m.sample != "-"]
    kl = group("KL")
    panels = [
        ("Wasserstein distance $W_1(P_0, P_\\theta)$", _styled(group("W1"), rows, "")),
        ("sliced $W_1$: $2|\\theta|/\\pi$ in 2-D", _styled(group("SW"), rows, "")),
        ("MMD (Gaussian kernel) and energy distance", _styled(group("kernel"), rows, "")),
        ("Jensen-Shannon divergence", _styled(group("JS"), rows, "")),
        ("total variation", _styled(group("TV"), rows, "")),
        ("Kullback-Leibler divergence", _styled([m for m in kl if m.name != "kl_exact"], rows, "")),
        ("$d/d\\theta$ of the $W_1$ columns (all $\\pm 1$)", _styled(w1_grad, rows, DERIVATIVE)),
        ("$d/d\\theta$ of sliced $W_1$, MMD, energy, JS", _styled(other_grad, rows, DERIVATIVE)),
    ]
    # JS, TV and KL jump at theta = 0 and the derivatives of |theta| from -1 to 1: those
    # panels show the jump, not a line through it.
    fig = sweep_figure(
        thetas, panels, xlabel="$\\theta$ (horizontal offset of the line)", n_cols=4,
        ylabels=["$W_1$ (units of $\\theta$)", "$SW_1$ (units of $\\theta$)",
                 "MMD (no unit); energy (units$^{1/2}$)", "JS (nats)", "TV (no unit)",
                 "KL (nats)", "derivative (no unit)", "derivative"],
        hlines={3: {"log 2": LOG2}, 4: {"1": 1.0}}, jumps={3: 0.0, 4: 0.0, 5: 0.0, 6: 0.0},
        suptitle="Parallel lines (Arjovsky et al. 2017, Example 1): only the transport "
                 "distances and the kernel distances vary with $\\theta$; JS, TV and KL jump "
                 "at 0 and are flat (KL infinite) elsewhere")
    _mark_infinite(fig.axes[5], thetas, {m.legend: [r[m.name] for r in rows] for m in kl
                                         if m.name in ("kl_exact", "kl_hist")})
    return fig


def _critic_panel(theta, cfg, *, neural: bool):
    """The exact critic (and the neural one, if asked for) at one theta."""
    from ..plotting import critic_figure

    exact = _exact_critic(theta, cfg)
    critics = {f"exact critic (gap {exact.gap:.3f})": exact.critic}
    if neural:
        fit = _neural_critic(theta, cfg)
        critics[f"neural critic, {cfg.neural_lipschitz} (gap {fit.estimate:.3f})"] = fit.critic
    x0, x1 = _sample(theta, cfg, "grid")
    lo, hi = min(0.0, theta) - 0.5, max(0.0, theta) + 0.5
    more = "" if neural else "\n(exact critic only; --with neural adds a trained one)"
    return critic_figure(critics, x0, x1, extent=(lo, hi, -0.25, 1.25),
                         title=f"critics at theta = {theta:g} (W1 = {abs(theta):g}){more}")


def main(argv=None):
    """Run the parallel-lines sweep; see ``--help``."""
    from ..critics import LIPSCHITZ_METHODS

    parser = demo_parser("parallel_lines", __doc__.strip().splitlines()[0])
    parser.add_argument("--n", type=int_at_least(2), default=Config.n,
                        help="points per line (default: %(default)s)")
    parser.add_argument("--thetas", type=int_at_least(2), default=21,
                        help="number of theta values evenly spaced in [-1, 1] "
                             "(default: %(default)s)")
    parser.add_argument("--fd-step", type=positive_float, default=Config.fd_step,
                        help="finite-difference step (default: %(default)s)")
    parser.add_argument("--bin-width", type=positive_float, default=None,
                        help="cell side of the histogram estimator (default: its own rule)")
    parser.add_argument("--with", dest="extra", action="append", default=[],
                        choices=sorted(OPTIONAL_METHODS),
                        help="add optional columns (repeatable): 'neural' trains a neural "
                             "critic per theta and adds it to the critic figure, which "
                             "otherwise shows the exact critic only; 'classifier' trains a "
                             "discriminator per theta (slow) (default: none)")
    parser.add_argument("--neural-lipschitz", default=Config.neural_lipschitz,
                        choices=LIPSCHITZ_METHODS,
                        help="Lipschitz method of the 'neural' critic column "
                             "(default: %(default)s, the most accurate in "
                             "benchmarks/reports/critic_accuracy.md)")
    parser.add_argument("--critic-theta", type=finite_float, default=0.5,
                        help="theta of the critic figure (default: %(default)s)")
    parser.add_argument("--no-plot", action="store_true", help="skip the figures")
    args = parser.parse_args(argv)
    out = prepare_out(args.out, parser)
    cfg = Config(n=args.n, seed=args.seed, fd_step=args.fd_step, bin_width=args.bin_width,
                 neural_lipschitz=args.neural_lipschitz)
    methods = list(METHODS) + [m for key in args.extra for m in OPTIONAL_METHODS[key]]
    thetas = np.round(np.linspace(-1.0, 1.0, args.thetas), 10)

    start = time.perf_counter()
    rows = sweep(thetas, methods, cfg)
    elapsed = time.perf_counter() - start

    print(f"Parallel lines, n = {cfg.n} points per line, {len(thetas)} values of theta "
          f"({elapsed:.1f} s). Samples: grid = shared heights (i+1/2)/n, random = "
          f"independent U[0,1] heights (seed {cfg.seed}); 'exact' divergences are those of "
          f"the empirical measures. Closed forms for theta != 0: W1 = |theta|, "
          f"JS = log 2 = {LOG2:.4f}, KL = inf, TV = 1.")
    print("\nvalues")
    print(_format_table(rows, methods))
    print(f"\nd/dtheta (autograd for W1 exact and Sinkhorn; critics: the gradient through the "
          f"frozen critic, as a WGAN generator gets it; central differences with "
          f"h = {cfg.fd_step:g} otherwise)")
    print(_format_table(rows, methods, prefix=DERIVATIVE))
    print("\n(inf: KL of disjoint supports; nan: a derivative of inf, inf - inf. The JSON "
          "table writes both as null, the CSV as inf/nan.)")
    csv_path, json_path = write_table(rows, out / "parallel_lines")
    written = [csv_path, json_path]
    if not args.no_plot:
        png = out / "parallel_lines.png"
        _figure(rows, methods).savefig(png, dpi=110)
        png_critics = out / "parallel_lines_critics.png"
        _critic_panel(args.critic_theta, cfg, neural="neural" in args.extra).savefig(png_critics,
                                                                                    dpi=90)
        written += [png, png_critics]
    print("\nwrote " + ", ".join(str(p) for p in written))
    return 0
