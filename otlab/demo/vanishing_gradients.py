r"""Vanishing generator gradients (Arjovsky & Bottou 2017, Figs 2-3): log(1 - D) collapses, WGAN does not.

The generator is frozen and a discriminator is trained from scratch against
it; at checkpoints the demo measures the norm of the generator's gradient
for three losses on a fixed batch of noise:

- minimax, :math:`\mathbb{E}_z \log(1 - D(G(z)))`: as :math:`D` approaches
  the optimum on disjoint supports, :math:`D(G(z)) \to 0` and the gradient
  :math:`-D\,\nabla \operatorname{logit} D` vanishes (Theorem 2.4);
- the "-log D" alternative, :math:`-\mathbb{E}_z \log D(G(z))`: its gradient
  does not vanish but is driven by the discriminator's unbounded logit slope
  (Theorem 2.6: unstable, growing);
- WGAN, :math:`-\mathbb{E}_z f(G(z))` with a critic :math:`f` trained for the
  same number of steps with a gradient penalty (Gulrajani et al. 2017): the
  critic's slope stays near 1, so the gradient stays of order 1;
- the squared MMD with a fixed Gaussian kernel (:func:`otlab.mmd`, biased,
  :math:`\sigma = 0.1` and 1) between 1024 data points and the generated
  batch: no network is trained, so its gradient is the same at every step.
  Shown is :math:`|\partial/\partial\theta|`, the component that moves the
  segment towards the data (the term of the generated batch with itself also
  pulls on its spread, at any distance).  It vanishes like :math:`e^{-\theta^2/2\sigma^2}` once the generated segment is a
  few :math:`\sigma` away (:math:`\sigma = 0.1` at :math:`\theta \ge 0.3`), and not
  while :math:`\theta \lesssim \sigma`.

The problem is small, so it runs on a CPU: the data are the segment
:math:`\{0\} \times [0, 1]` and the generator is an affine map of 1-D noise,
:math:`G(z) = a z + c` with :math:`a, c \in \mathbb{R}^2`, frozen at stages
:math:`a = (0, 1)`, :math:`c = (\theta, 0)` for a few distances
:math:`\theta` between the generated segment and the data (the parallel lines
of the WGAN paper, seen as a generator at different stages of training).
Writes ``vanishing_gradients.csv/.json`` (columns ``theta``, ``step``,
``grad_norm_minimax``, ``grad_norm_non_saturating``, ``grad_norm_wgan_gp``,
``abs_dtheta_mmd_bw_0p1`` and ``abs_dtheta_mmd_bw_1`` (the MMD derivatives) and
``mean_d_of_g_z``, the mean of :math:`D(G(z))`) and ``vanishing_gradients.png``.
"""

from __future__ import annotations

import time

import numpy as np

from ._common import demo_parser, finite_float, positive_int, prepare_out, write_table

__all__ = ["checkpoints", "run_stage", "main", "LOSSES", "MMD_LOSSES", "COLUMNS", "MEAN_D_COLUMN"]

LOSSES = ("minimax log(1-D)", "-log D", "WGAN-GP critic")

#: Table column (ASCII snake_case) of each loss's generator gradient norm, and of the mean of
#: the discriminator's output on the generated points.
COLUMNS = dict(zip(LOSSES, ("grad_norm_minimax", "grad_norm_non_saturating", "grad_norm_wgan_gp")))
MEAN_D_COLUMN = "mean_d_of_g_z"
#: Bandwidths of the fixed-kernel MMD losses (no network: their gradient is the same at every step).
MMD_BANDWIDTHS = (0.1, 1.0)
MMD_LOSSES = tuple(f"MMD, sigma={s:g} (|d/dtheta|)" for s in MMD_BANDWIDTHS)
COLUMNS.update({name: f"abs_dtheta_mmd_bw_{s:g}".replace(".", "p")
                for name, s in zip(MMD_LOSSES, MMD_BANDWIDTHS)})


def checkpoints(steps: int) -> list[int]:
    """Roughly log-spaced checkpoints ``1, 3, 10, 30, ... <= steps``, ending at ``steps``.

    >>> checkpoints(1000)
    [1, 3, 10, 30, 100, 300, 1000]
    """
    out = []
    for decade in range(0, 7):
        for mult in (1, 3):
            if mult * 10 ** decade < steps:
                out.append(mult * 10 ** decade)
    return out + [steps]


def _mlp(hidden: int):
    from ..networks import mlp

    return mlp(2, 1, (hidden, hidden)).double()


def _generator_grad_norm(loss_fn, a, c, z) -> float:
    """Norm of the gradient of ``loss_fn(G(z))`` with respect to ``(a, c)``."""
    import torch

    a = a.clone().requires_grad_(True)
    c = c.clone().requires_grad_(True)
    fake = z[:, None] * a + c
    ga, gc = torch.autograd.grad(loss_fn(fake), (a, c))
    return float(torch.sqrt(ga.square().sum() + gc.square().sum()))


def _theta_derivative(loss_fn, a, c, z) -> float:
    """``|d loss(G(z)) / d theta|``: the component of the gradient that moves the segment
    towards the data (the MMD's own-sample term also pulls on the spread ``a``, towards
    spreading the generated points, whatever the distance to the data)."""
    import torch

    c = c.clone().requires_grad_(True)
    (gc,) = torch.autograd.grad(loss_fn(z[:, None] * a + c), (c,))
    return float(gc[0].abs())


def _penalty(net, real, fake, gen):
    import torch

    t = torch.rand(len(real), 1, generator=gen, dtype=real.dtype)
    mid = (t * real + (1 - t) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(net(mid).sum(), mid, create_graph=True)
    return ((grad.norm(dim=1) - 1) ** 2).mean()


def run_stage(theta: float, *, steps: int, batch: int = 256, hidden: int = 64, lr: float = 1e-3,
              penalty: float = 10.0, seed: int = 0) -> dict[str, list[float]]:
    """Train a discriminator and a WGAN-GP critic against the frozen stage ``theta``.

    Returns ``{"step": [...], loss name: [gradient norms], "D(G(z))": [...]}``
    at :func:`checkpoints`.
    """
    import torch
    import torch.nn.functional as F

    from ..networks import seeded

    gen = torch.Generator().manual_seed(seed)
    with seeded(seed):                            # initialisation of both networks
        disc, critic = _mlp(hidden), _mlp(hidden)
    opt_d = torch.optim.Adam(disc.parameters(), lr=lr, betas=(0.5, 0.9))
    opt_c = torch.optim.Adam(critic.parameters(), lr=lr, betas=(0.5, 0.9))
    a = torch.tensor([0.0, 1.0], dtype=torch.float64)
    c = torch.tensor([theta, 0.0], dtype=torch.float64)
    z_eval = torch.rand(1024, generator=gen, dtype=torch.float64)
    losses = {
        LOSSES[0]: lambda fake: -F.softplus(disc(fake)).mean(),   # log(1 - sigmoid(l)) = -softplus(l)
        LOSSES[1]: lambda fake: F.softplus(-disc(fake)).mean(),   # -log sigmoid(l) = softplus(-l)
        LOSSES[2]: lambda fake: -critic(fake).mean(),
    }
    marks = set(checkpoints(steps))
    log = {"step": [], **{name: [] for name in LOSSES + MMD_LOSSES}, "D(G(z))": []}
    from ..kernel_distances import mmd

    data = torch.stack([torch.zeros(1024, dtype=torch.float64),
                        torch.rand(1024, generator=gen, dtype=torch.float64)], dim=1)
    mmd_norms = {name: _theta_derivative(
        lambda fake, s=s: mmd(data, fake, bandwidth=s, estimator="biased").squared, a, c, z_eval)
        for name, s in zip(MMD_LOSSES, MMD_BANDWIDTHS)}
    for step in range(1, steps + 1):
        real = torch.stack([torch.zeros(batch, dtype=torch.float64),
                            torch.rand(batch, generator=gen, dtype=torch.float64)], dim=1)
        fake = torch.rand(batch, generator=gen, dtype=torch.float64)[:, None] * a + c
        # discriminator: maximise E log D(x) + E log(1 - D(G(z)))
        d_loss = F.softplus(-disc(real)).mean() + F.softplus(disc(fake)).mean()
        opt_d.zero_grad()
        d_loss.backward()
        opt_d.step()
        # critic: maximise E f(x) - E f(G(z)) - penalty * GP
        c_loss = critic(fake).mean() - critic(real).mean() + penalty * _penalty(critic, real, fake, gen)
        opt_c.zero_grad()
        c_loss.backward()
        opt_c.step()
        if step in marks:
            log["step"].append(step)
            for name, fn in losses.items():
                log[name].append(_generator_grad_norm(fn, a, c, z_eval))
            for name, norm in mmd_norms.items():
                log[name].append(norm)
            with torch.no_grad():
                log["D(G(z))"].append(float(torch.sigmoid(disc(z_eval[:, None] * a + c)).mean()))
    return log


def main(argv=None):
    """Run the vanishing-gradient experiment; see ``--help``."""
    parser = demo_parser("vanishing_gradients", __doc__.strip().splitlines()[0])
    parser.add_argument("--thetas", type=finite_float, nargs="+", default=[1.0, 0.3, 0.1],
                        help="generator stages: distance of the generated segment to the data "
                             "(default: %(default)s)")
    parser.add_argument("--steps", type=positive_int, default=600,
                        help="discriminator / critic training steps (default: %(default)s)")
    parser.add_argument("--batch", type=positive_int, default=128,
                        help="batch size (default: %(default)s)")
    parser.add_argument("--no-plot", action="store_true", help="skip the figure")
    args = parser.parse_args(argv)
    out = prepare_out(args.out, parser)

    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)    # small networks: thread overhead dominates on a busy CPU
    start = time.perf_counter()
    logs = {theta: run_stage(theta, steps=args.steps, batch=args.batch, seed=args.seed)
            for theta in args.thetas}
    elapsed = time.perf_counter() - start
    torch.set_num_threads(threads)

    print(f"Frozen generator G(z) = (theta, z); discriminator and WGAN-GP critic (2x64 MLPs, "
          f"Adam 1e-3) trained from scratch for {args.steps} steps, batch {args.batch} "
          f"({elapsed:.1f} s). Generator gradient norms on 1024 fixed noise samples:")
    rows = []
    for theta, log in logs.items():
        print(f"\nstage theta = {theta:g}")
        names = LOSSES + MMD_LOSSES
        print(f"{'step':>6} " + " ".join(f"{COLUMNS[name]:>17}" for name in names)
              + f" {MEAN_D_COLUMN:>13}")
        for i, step in enumerate(log["step"]):
            row = {"theta": theta, "step": step,
                   **{COLUMNS[name]: log[name][i] for name in names},
                   MEAN_D_COLUMN: log["D(G(z))"][i]}
            rows.append(row)
            print(f"{step:>6d} " + " ".join(f"{row[COLUMNS[name]]:>17.3e}" for name in names)
                  + f" {row[MEAN_D_COLUMN]:>13.3e}")
        peak, last = max(log[LOSSES[0]]), log[LOSSES[0]][-1]
        print(f"minimax gradient: peak {peak:.2e}, end {last:.2e} (factor {last / peak:.1e}); "
              f"-log D at the end: {log[LOSSES[1]][-1]:.2e}; "
              f"WGAN-GP at the end: {log[LOSSES[2]][-1]:.3f}; fixed-kernel MMD: "
              + ", ".join(f"{name} {log[name][-1]:.2e}" for name in MMD_LOSSES))
    csv_path, json_path = write_table(rows, out / "vanishing_gradients")
    written = [csv_path, json_path]
    if not args.no_plot:
        from ..plotting import gradient_norm_figure

        stages = [(f"generator stage: $\\theta$ = {theta:g}",
                   {name: log[name] for name in LOSSES + MMD_LOSSES})
                  for theta, log in logs.items()]
        steps = next(iter(logs.values()))["step"]
        fig = gradient_norm_figure(
            steps, stages, suptitle="Generator gradient norm while the discriminator trains "
                                    "(Arjovsky & Bottou 2017)")
        for ax in fig.axes:
            ax.set_xscale("log")
        png = out / "vanishing_gradients.png"
        fig.savefig(png, dpi=120)
        written.append(png)
    print("\nwrote " + ", ".join(str(p) for p in written))
    return 0
