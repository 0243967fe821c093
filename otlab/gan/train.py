"""The training loop: one readable function, :func:`train`.

One *iteration* is ``n_critic`` critic steps followed by one generator step.
Losses stay on the device: a device-side flag accumulates "some loss was NaN
or infinite" and is read (one ``.item()``) only every ``log_every``
iterations, before every checkpoint and at the end.  On CUDA the whole
iteration can be captured once in a CUDA graph and replayed (capturable,
fused optimisers; real, fake and interpolated points in one critic pass; the
penalty's input gradient written out for ReLU MLPs), and the objectives can
be compiled with ``torch.compile`` (``TrainConfig.compile``).
"""

from __future__ import annotations

import csv
import json
import os
import signal
import threading
from pathlib import Path

import numpy as np
import torch

from . import losses
from .config import TrainConfig
from .data import Sampler, make_sampler, mixture_modes
from .evaluation import BackgroundEvaluator
from .models import build_models

__all__ = ["train", "NonFiniteLossError", "HISTORY_COLUMNS", "load_history", "PLOT_BOUNDS"]

#: Columns of the history (``None`` where a row has no value, e.g. no evaluation).
HISTORY_COLUMNS = ("iteration", "d_loss", "g_loss", "batch_estimate", "exact_w1",
                   "critic_estimate", "modes_covered", "high_quality", "mode_kl")

#: Square plotting window ``(low, high)`` of each 2-D data set (for critic contours).
PLOT_BOUNDS = {"8gaussians": (-3.0, 3.0), "25gaussians": (-5.5, 5.5), "ring": (-3.0, 3.0),
               "swissroll": (-2.2, 2.2), "parallel_lines": (-1.5, 1.5)}

_CUDA_GRAPH_WARMUP = 3  # eager iterations on a side stream before capture


class NonFiniteLossError(FloatingPointError):
    """A loss became NaN or infinite; training stopped."""


# --------------------------------------------------------------------- steps
def _make_optimizer(config, params, lr, *, cuda: bool, graph: bool):
    kwargs = {"capturable": True} if graph else {}
    if config.optimizer == "adam":
        if cuda:
            kwargs["fused"] = True
        return torch.optim.Adam(params, lr=lr, betas=config.betas, **kwargs)
    if cuda:
        kwargs["foreach"] = True
    return torch.optim.RMSprop(params, lr=lr, **kwargs)


def _apply(optimizer, params, loss) -> None:
    """Gradient step: ``torch.autograd.grad`` writes fresh ``.grad`` (graph-safe)."""
    for p, g in zip(params, torch.autograd.grad(loss, params)):
        p.grad = g
    optimizer.step()


def _make_objectives(config, generator, critic):
    """``critic_objective(real, fake, alpha) -> (loss, estimate)`` and
    ``generator_objective(z) -> loss``, compiled with ``torch.compile`` when
    ``config.compile`` (forward and backward become a few fused kernels; the
    random draws stay outside, so compiled and eager runs see the same numbers)."""

    def critic_objective(real, fake, alpha):
        return losses.critic_loss(config.loss, critic, real, fake, penalty=config.penalty,
                                  alpha=alpha)

    def generator_objective(z):
        return losses.generator_loss(config.loss, critic, generator(z))

    if config.compile:
        return torch.compile(critic_objective), torch.compile(generator_objective)
    return critic_objective, generator_objective


def _make_iteration(config, sampler, generator, critic, opt_g, opt_d, bad):
    """Return ``iteration() -> (d_loss, g_loss, estimate)``, all 0-d device tensors."""
    g_params = list(generator.parameters())
    d_params = list(critic.parameters())
    b, k, z_dim, device = config.batch_size, config.n_critic, config.latent_dim, sampler.device
    critic_objective, generator_objective = _make_objectives(config, generator, critic)

    def iteration():
        # The generator is fixed during the critic steps: draw the data, the noise and
        # the interpolation weights of all k steps at once and generate the k fake
        # batches in one pass (fewer, larger kernels).
        real_all = sampler(k * b).view(k, b, -1)
        alpha_all = torch.rand(k, b, 1, device=device)
        with torch.no_grad():
            fake_all = generator(torch.randn(k * b, z_dim, device=device)).view(k, b, -1)
        d_losses = []
        for step in range(k):
            d_loss, estimate = critic_objective(real_all[step], fake_all[step], alpha_all[step])
            _apply(opt_d, d_params, d_loss)
            d_losses.append(d_loss.detach())
            if config.loss == "wgan":
                with torch.no_grad():
                    torch._foreach_clamp_min_(d_params, -config.clip)
                    torch._foreach_clamp_max_(d_params, config.clip)
        g_loss = generator_objective(torch.randn(b, z_dim, device=device))
        _apply(opt_g, g_params, g_loss)
        g_loss = g_loss.detach()
        with torch.no_grad():  # device-side flags: no host sync here
            bad[0].logical_or_(~torch.isfinite(torch.stack(d_losses)).all())
            bad[1].logical_or_(~torch.isfinite(g_loss))
        return d_loss.detach(), g_loss, estimate

    return iteration


class _GraphedIteration:
    """Run ``fn`` eagerly a few times on a side stream, then capture it once and replay.

    The warm-up calls are real training iterations.  Outputs of the replays
    live in static tensors, overwritten by every replay.
    """

    def __init__(self, fn, *, warmup: int = _CUDA_GRAPH_WARMUP):
        self.fn, self.warmup, self.graph, self.outputs = fn, warmup, None, None

    def __call__(self):
        if self.graph is None and self.warmup > 0:
            self.warmup -= 1
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                out = self.fn()
            torch.cuda.current_stream().wait_stream(side)
            return out
        if self.graph is None:
            torch.cuda.synchronize()
            self.graph = torch.cuda.CUDAGraph()
            # thread_local: the evaluation worker may wait on a CUDA event meanwhile
            with torch.cuda.graph(self.graph, capture_error_mode="thread_local"):
                self.outputs = self.fn()
        self.graph.replay()
        return self.outputs


# ---------------------------------------------------------------- checkpoint
def _rng_state(device) -> dict:
    state = {"torch": torch.get_rng_state(), "numpy": np.random.get_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def _set_rng_state(state: dict, device) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)


def _atomic_write(path: Path, write) -> None:
    tmp = path.with_name(path.name + ".tmp")
    write(tmp)
    os.replace(tmp, path)


def _save_checkpoint(path, config, iteration, models, optimizers, history, device,
                     pending_evals) -> None:
    state = {"config": config.to_dict(), "iteration": iteration,
             "generator": models[0].state_dict(), "critic": models[1].state_dict(),
             "opt_g": optimizers[0].state_dict(), "opt_d": optimizers[1].state_dict(),
             "rng": _rng_state(device), "history": history, "pending_evals": pending_evals}
    _atomic_write(path, lambda tmp: torch.save(state, tmp))


def _write_history(out: Path, history: list[dict]) -> None:
    def jsonl(tmp):
        tmp.write_text("".join(json.dumps(row) + "\n" for row in history))

    def table(tmp):
        with open(tmp, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=HISTORY_COLUMNS)
            writer.writeheader()
            writer.writerows(history)

    _atomic_write(out / "history.jsonl", jsonl)
    _atomic_write(out / "history.csv", table)


def load_history(path) -> list[dict]:
    """Read a ``history.jsonl`` written by :func:`train`.

    One JSON object per line, keys :data:`HISTORY_COLUMNS` (``null`` becomes
    ``None``); the rows are exactly those :func:`train` returned.

    Examples
    --------
    >>> import tempfile
    >>> cfg = TrainConfig.for_loss("wgan-gp", iters=2, n_critic=1, hidden=8, depth=1,
    ...                            batch_size=16, eval_every=2, eval_samples=16, progress=False)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     history = train(cfg.replace(out=tmp))
    ...     rows = load_history(Path(tmp) / "history.jsonl")
    >>> rows == history, [row["iteration"] for row in rows]
    (True, [0, 2])
    """
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line]


# ---------------------------------------------------------------- evaluation
def _submit_eval(evaluator, iteration, config, generator, critic, out):
    """Sample the evaluation sets from their own seeded CPU generator (the training
    RNG streams are untouched), run the critic on the device, copy to the host
    without blocking and hand the exact-W job to the worker thread."""
    n, cpu_gen = config.eval_samples, torch.Generator().manual_seed(config.seed * 7919 + iteration)
    device = next(generator.parameters()).device
    real = make_sampler(config.data)(n, generator=cpu_gen)
    z = torch.randn(n, config.latent_dim, generator=cpu_gen)
    critic.eval()  # no spectral-norm power iteration during evaluation
    with torch.no_grad():
        fake = generator(z.to(device))
        estimate = losses.critic_estimate(critic, real.to(device), fake)
        snap = None
        if out is not None and config.data in PLOT_BOUNDS:
            lo, hi = PLOT_BOUNDS[config.data]
            axis = torch.linspace(lo, hi, 96, device=device)
            grid = torch.stack(torch.meshgrid(axis, axis, indexing="xy"), dim=-1).reshape(-1, 2)
            snap = critic(grid).reshape(96, 96)
    critic.train()
    host = [t.to("cpu", non_blocking=True) for t in (fake, estimate)]
    snap_host = None if snap is None else snap.to("cpu", non_blocking=True)
    event = None
    if device.type == "cuda":
        event = torch.cuda.Event()
        event.record()

    def fetch():
        if event is not None:
            event.synchronize()
        return real.numpy(), host[0].numpy(), {"critic_estimate": float(host[1])}

    def save_snapshot():
        """Samples (and, for 2-D data, the critic on a grid) for the figures."""
        if out is None:
            return
        folder = out / "snapshots"
        folder.mkdir(exist_ok=True)
        extra = {}
        if snap_host is not None:
            extra = {"critic": snap_host.numpy(), "bounds": np.array(PLOT_BOUNDS[config.data])}
        np.savez(folder / f"iter_{iteration:07d}.npz", iteration=iteration,
                 fake=host[0].numpy()[:512], real=real.numpy()[:512], **extra)

    evaluator.submit(iteration, fetch, before=save_snapshot)
    return fetch


# --------------------------------------------------------------------- train
def train(config: TrainConfig) -> list[dict]:
    """Train a GAN/WGAN on toy data and return the history (a list of row dicts).

    Every ``log_every`` iterations a row gets the last losses; every
    ``eval_every`` iterations the exact :math:`W_1` between ``eval_samples``
    real and generated samples (computed in a background thread), the critic's
    estimate on the same samples and, for mixtures, the mode metrics.  With
    ``config.out`` the history goes to ``history.jsonl``/``history.csv`` and
    checkpoints (plain dicts, written atomically) to ``checkpoint.pt``;
    ``config.resume`` continues a run so that it ends bitwise where the
    uninterrupted run ends (same device).

    Parameters
    ----------
    config : TrainConfig
        All settings (see :meth:`TrainConfig.for_loss` for the paper defaults).

    Returns
    -------
    history : list of dict
        One row per logged or evaluated iteration, keys :data:`HISTORY_COLUMNS`
        (``None`` where a row has no value).  Row 0 holds the evaluation of
        the untrained generator.

    Raises
    ------
    NonFiniteLossError
        When a loss becomes NaN or infinite; the last good checkpoint is kept.
    KeyboardInterrupt
        Re-raised after writing a checkpoint at the last completed iteration.

    Examples
    --------
    >>> cfg = TrainConfig.for_loss("wgan-gp", iters=4, hidden=8, batch_size=16,
    ...                            eval_every=4, eval_samples=32, progress=False)
    >>> history = train(cfg)
    >>> [row["iteration"] for row in history], history[-1]["exact_w1"] > 0
    ([0, 4], True)
    """
    cfg = config
    device = torch.device(cfg.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"device {cfg.device!r} requested but CUDA is not available")
    graph = cfg.use_cuda_graph
    out = None if cfg.out is None else Path(cfg.out)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    ckpt_path = None if out is None else out / "checkpoint.pt"

    torch.manual_seed(cfg.seed)  # seeds CPU and every CUDA device
    np.random.seed(cfg.seed)
    sampler = Sampler(cfg.data, device=device)
    generator, critic = build_models(cfg, sampler.dim, device=device)
    opt_g = _make_optimizer(cfg, generator.parameters(), cfg.lr_g, cuda=device.type == "cuda",
                            graph=graph)
    opt_d = _make_optimizer(cfg, critic.parameters(), cfg.lr_d, cuda=device.type == "cuda",
                            graph=graph)
    history, start, pending_evals = [], 0, []
    if cfg.resume and ckpt_path is not None and ckpt_path.exists():
        state = torch.load(ckpt_path, map_location="cpu", weights_only=False)
        generator.load_state_dict(state["generator"])
        critic.load_state_dict(state["critic"])
        opt_g.load_state_dict(state["opt_g"])
        opt_d.load_state_dict(state["opt_d"])
        _set_rng_state(state["rng"], device)
        history, start = state["history"], state["iteration"]
        pending_evals = state.get("pending_evals", [])

    bad = torch.zeros(2, dtype=torch.bool, device=device)
    iteration = _make_iteration(cfg, sampler, generator, critic, opt_g, opt_d, bad)
    if graph:
        iteration = _GraphedIteration(iteration)
    mix = mixture_modes(cfg.data)
    evaluator = BackgroundEvaluator(modes=None if mix is None else mix[0],
                                    std=0.0 if mix is None else mix[1],
                                    max_iter=cfg.emd_max_iter)
    rows = {row["iteration"]: row for row in history}
    pending = {}  # iteration -> fetch() of an evaluation not yet collected
    for k, real, fake, fields in pending_evals:  # evaluations a checkpoint did not wait for
        pending[k] = lambda r=real, f=fake, d=fields: (r, f, d)
        evaluator.submit(k, pending[k])
    stop = _InterruptFlag()

    def submit_eval(it):
        pending[it] = _submit_eval(evaluator, it, cfg, generator, critic, out)

    def collect(results):
        for it, result in results:
            rows[it].update({k: result.get(k) for k in HISTORY_COLUMNS if k in result})
            pending.pop(it, None)

    checked = {"last": start}

    def check_finite(last_good, it):
        if bool(bad.any()):  # one device -> host sync
            which = " and ".join(n for n, f in zip(("d_loss", "g_loss"), bad.tolist()) if f)
            kept = (f"; the last good checkpoint (iteration {last_good}) is kept at {ckpt_path}"
                    if ckpt_path is not None and ckpt_path.exists() else "")
            raise NonFiniteLossError(
                f"{which} became NaN or infinite between iterations {checked['last'] + 1} and "
                f"{it} (loss={cfg.loss!r}, lr_d={cfg.lr_d}, lr_g={cfg.lr_g}); training "
                f"stopped{kept}")
        checked["last"] = it

    def checkpoint(it, *, wait):
        """Save; evaluations still running are saved as their inputs (no waiting for
        POT) unless ``wait``, and resubmitted on resume."""
        collect(evaluator.drain() if wait else evaluator.poll())
        history[:] = [rows[k] for k in sorted(rows)]
        if out is not None:
            unfinished = [(k, *pending[k]()) for k in sorted(pending)]
            _save_checkpoint(ckpt_path, cfg, it, (generator, critic), (opt_g, opt_d),
                             history, device, unfinished)
            _write_history(out, history)

    from tqdm.auto import tqdm

    bar = tqdm(total=cfg.iters, initial=start, disable=not cfg.progress, desc=cfg.loss,
               dynamic_ncols=True)
    last_good, it = start, start
    if start == 0 and cfg.eval_every > 0:  # the untrained generator: the starting exact W
        rows[0] = {k: None for k in HISTORY_COLUMNS}
        rows[0]["iteration"] = 0
        submit_eval(0)
    try:
        with stop:
            for it in range(start + 1, cfg.iters + 1):
                d_loss, g_loss, estimate = iteration()
                bar.update(1)
                logging = it % cfg.log_every == 0 or it == cfg.iters
                evaluating = cfg.eval_every > 0 and (it % cfg.eval_every == 0 or it == cfg.iters)
                if logging or evaluating:
                    check_finite(last_good, it)
                    rows[it] = {k: None for k in HISTORY_COLUMNS}
                    rows[it].update(iteration=it, d_loss=d_loss.item(), g_loss=g_loss.item(),
                                    batch_estimate=estimate.item())
                if evaluating:
                    submit_eval(it)
                collect(evaluator.poll())
                if rows and (logging or evaluating):
                    shown = [r for r in rows.values() if r["exact_w1"] is not None]
                    if shown:
                        bar.set_postfix(exact_w1=f"{shown[-1]['exact_w1']:.4f}",
                                        critic=f"{shown[-1]['critic_estimate']:.4f}")
                if cfg.checkpoint_every and it % cfg.checkpoint_every == 0 and it < cfg.iters:
                    check_finite(last_good, it)
                    checkpoint(it, wait=False)
                    last_good = it
                if stop.requested:
                    raise KeyboardInterrupt
            check_finite(last_good, cfg.iters)
            checkpoint(cfg.iters, wait=True)
    except KeyboardInterrupt:
        check_finite(last_good, it)
        checkpoint(it, wait=False)
        if ckpt_path is not None:
            print(f"\ninterrupted: checkpoint at iteration {it} written to {ckpt_path}")
        raise
    finally:
        bar.close()
        evaluator.close()
    return history


class _InterruptFlag:
    """Turn Ctrl-C into a flag the loop reads between iterations (main thread only),
    so the checkpoint always holds a completed iteration."""

    def __init__(self):
        self.requested, self._previous = False, None

    def _handler(self, signum, frame):
        if self.requested:  # a second Ctrl-C stops at once
            raise KeyboardInterrupt
        self.requested = True

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handler)
        return self

    def __exit__(self, *exc):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
        return False
