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


@dataclass(frozen=True)
class Config:
    """Settings shared by every method of one sweep."""

    n: int = 300               #: points per line
    seed: int = 0              #: seed of the random-height sample
    fd_step: float = 1e-2      #: step h of the central differences
    bin_width: float | None = None   #: histogram estimator cell side (None: its default)
    knn_k: int = 1             #: neighbour rank of the k-NN KL estimator
    neural_lipschitz: str = "ctransform"  #: Lipschitz method of the neural critic column


@dataclass(frozen=True)
class Method:
    r"""One column of the table: a quantity measured at :math:`\theta`.

    ``value(theta, cfg)`` returns a float.  ``grad(theta, cfg)`` returns
    :math:`d\,\text{value}/d\theta`; when it is ``None`` the demo uses the
    central difference ``(value(theta + h) - value(theta - h)) / 2h``.
    ``group`` (``"W1"``, ``"JS"``, ``"KL"``, ``"TV"``) picks the figure panel;
    ``sample`` says which sample the method sees (``"grid"``, ``"random"``
    or ``"-"`` for closed forms).
    """

    name: str
    group: str
    value: Callable[[float, Config], float]
    grad: Callable[[float, Config], float] | None = None
    sample: str = "grid"


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


#: Columns computed on every run, in table order.
METHODS: list[Method] = [
    Method("W1 |theta|", "W1", lambda t, cfg: abs(t), lambda t, cfg: float(np.sign(t)), "-"),
    Method("W1 exact", "W1", _w1_value("grid"), _w1_autograd("grid"), "grid"),
    Method("W1 exact rnd", "W1", _w1_value("random"), _w1_autograd("random"), "random"),
    Method("W1 sinkhorn", "W1", _w1_sinkhorn, _w1_sinkhorn_autograd, "grid"),
    Method("W1 critic exact", "W1", _critic_gap(_exact_critic, "gap"),
           _frozen_critic_gradient(_exact_critic), "grid"),
    Method("JS exact", "JS", _exact_divergence("js")),
    Method("KL exact", "KL", _exact_divergence("kl")),
    Method("TV exact", "TV", _exact_divergence("tv")),
    Method("JS hist", "JS", _histogram_estimate("js"), sample="random"),
    Method("TV hist", "TV", _histogram_estimate("tv"), sample="random"),
    Method("KL hist", "KL", _histogram_estimate("kl"), sample="random"),
    Method("KL knn", "KL", _knn_kl, sample="random"),
]

#: Columns computed only when asked for with ``--with NAME``.
OPTIONAL_METHODS: dict[str, list[Method]] = {
    "neural": [
        Method("W1 critic neural", "W1", _critic_gap(_neural_critic, "estimate"),
               _frozen_critic_gradient(_neural_critic), "grid"),
    ],
    "classifier": [
        Method("JS clf", "JS", lambda t, cfg: float(_classifier(t, cfg).js), sample="random"),
        Method("clf acc", "acc", lambda t, cfg: float(_classifier(t, cfg).accuracy),
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
            row["d/dθ " + m.name] = _derivative(m, theta, cfg)
        rows.append(row)
    return rows


def _format_table(rows, methods, prefix="") -> str:
    widths = [max(8, len(m.name)) for m in methods]
    lines = [f"{'theta':>6} " + " ".join(f"{m.name:>{w}}" for m, w in zip(methods, widths))]
    for row in rows:
        cells = " ".join(f"{row[prefix + m.name]:>{w}.4f}" for m, w in zip(methods, widths))
        lines.append(f"{row['theta']:>6.2f} " + cells)
    return "\n".join(lines)


def _figure(rows, methods):
    from ..plotting import sweep_figure

    thetas = [r["theta"] for r in rows]

    def curves(group, prefix=""):
        return {m.name: [r[prefix + m.name] for r in rows] for m in methods if m.group == group}

    grads = {m.name: [r["d/dθ " + m.name] for r in rows]
             for m in methods if m.group in ("W1", "JS") and m.sample != "-"}
    panels = [
        ("Wasserstein distance $W_1(P_0, P_\\theta)$", curves("W1")),
        ("Jensen-Shannon divergence $JS(P_0, P_\\theta)$", curves("JS")),
        ("derivative with respect to $\\theta$", grads),
    ]
    # JS jumps from log 2 to 0 at theta = 0 and the derivatives of |theta| from -1 to 1:
    # those panels show the jump, not a line through it.
    return sweep_figure(thetas, panels, xlabel="$\\theta$ (horizontal offset of the line)",
                        ylabels=["$W_1$ (same units as $\\theta$)", "JS (nats)",
                                 "$d/d\\theta$ of the quantity"],
                        hlines={1: {"log 2": LOG2}}, jumps={1: 0.0, 2: 0.0},
                        suptitle="Parallel lines (Arjovsky et al. 2017, Example 1, Figure 1)")


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
    print(_format_table(rows, methods, prefix="d/dθ "))
    print("\n(inf: KL of disjoint supports; nan: a derivative of inf, inf - inf. The JSON "
          "table writes both as null, the CSV as inf/nan.)")
    csv_path, json_path = write_table(rows, out / "parallel_lines")
    written = [csv_path, json_path]
    if not args.no_plot:
        png = out / "parallel_lines.png"
        _figure(rows, methods).savefig(png, dpi=90)
        png_critics = out / "parallel_lines_critics.png"
        _critic_panel(args.critic_theta, cfg, neural="neural" in args.extra).savefig(png_critics,
                                                                                    dpi=90)
        written += [png, png_critics]
    print("\nwrote " + ", ".join(str(p) for p in written))
    return 0
