"""The training loop: one readable function, :func:`train`.

One *iteration* is ``n_critic`` critic steps followed by one generator step.
:func:`train` is that loop and nothing else; the rest lives in three objects:

- the **family** (:class:`otlab.gan.family.Family`, the one the
  configuration names: :func:`otlab.gan.family.family_for`) builds the
  models, draws the batches, computes the losses and says what an evaluation
  measures.  The unconditional GAN, the conditional GAN, InfoGAN and pix2pix
  are families (:mod:`otlab.gan.families`) and share this loop;
- the **record** (:class:`otlab.gan.record.RunRecord`) keeps the history
  rows, the evaluations running in the worker thread and the checkpoints, in
  a run folder (:class:`otlab.gan.run_folder.RunFolder`) that holds one run only;
- the **replica** (:class:`Replica`) is this process's part in a
  data-parallel run.  Alone, it does nothing.  A ``torch.distributed``
  wrapper subclasses it to all-reduce the gradients between backward and
  optimiser step, OR the NaN flags and the stop request over the processes,
  and gather the RNG states for the checkpoint; only rank 0 evaluates, shows
  progress and writes files, and ranks > 0 draw their own batches.

With ``ema_decay`` the loop also keeps an exponential moving average of the
generator's weights (:class:`otlab.gan.ema.WeightAverage`), updated after
every generator step, and evaluates it in place of the generator; training
does not read it.

Seeds are explicit (``torch.manual_seed(config.seed)`` and numpy's before the
models are built); losses stay on the device: a device-side flag accumulates
"some loss was NaN or infinite" and is read (one ``.item()``, like the logged
losses) only every ``log_every`` iterations, before every checkpoint and at
the end.  Checkpoints are plain dicts written between iterations, so they
always hold a completed iteration: Ctrl-C (SIGINT, however often it comes)
only asks the loop to stop at the next iteration boundary.

On CUDA the whole iteration can be captured once in a CUDA graph and replayed
(capturable, fused optimisers; real, fake and interpolated points in one
critic pass; the penalty's input gradient written out for ReLU MLPs), and the
losses can be compiled with ``torch.compile`` (``LoopConfig.compile``).
"""

from __future__ import annotations

import signal
import threading

import numpy as np
import torch

from ..distributed.replica import Replica
from .config import LoopConfig
from .ema import WeightAverage
from .family import family_for
from .record import CheckpointError, RunFolderError, RunRecord, load_history

__all__ = ["train", "Replica", "NonFiniteLossError", "CheckpointError", "RunFolderError",
           "load_history"]

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


def _scale_lr(optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr


class _Iteration:
    """One iteration; ``__call__() -> (d_loss, g_loss, estimate)``, 0-d device tensors.

    The family draws the batches of all critic steps at once (the generator
    is fixed meanwhile).  Gradients come from ``torch.autograd.grad``, which
    writes fresh ``.grad`` tensors (safe inside a CUDA graph), and pass
    through ``replica.reduce_gradients`` before the optimiser step.
    """

    def __init__(self, config, family, models, optimizers, replica, bad, average=None):
        self.config, self.family, self.replica, self.bad = config, family, replica, bad
        self.average = average
        self.generator, self.critic = models
        self.opt_g, self.opt_d = optimizers
        self.g_params, self.d_params = family.parameter_groups(*models)
        critic_loss = lambda *batch: family.critic_loss(self.critic, *batch)  # noqa: E731
        generator_loss = lambda *batch: family.generator_loss(  # noqa: E731
            self.generator, self.critic, *batch)
        if config.compile:  # random draws stay outside: compiled runs see the same numbers
            critic_loss, generator_loss = torch.compile(critic_loss), torch.compile(generator_loss)
        self.critic_loss, self.generator_loss = critic_loss, generator_loss

    def _step(self, optimizer, params, loss) -> None:
        grads = list(torch.autograd.grad(loss, params))
        self.replica.reduce_gradients(grads)
        for p, g in zip(params, grads):
            p.grad = g
        optimizer.step()

    def __call__(self):
        d_losses = []
        for batch in self.family.critic_batches(self.generator, self.config.n_critic):
            d_loss, estimate = self.critic_loss(*batch)
            self._step(self.opt_d, self.d_params, d_loss)
            self.family.constrain_critic(self.critic)
            d_losses.append(d_loss.detach())
        g_loss = self.generator_loss(*self.family.generator_batch())
        self._step(self.opt_g, self.g_params, g_loss)
        if self.average is not None:
            self.average.update(self.generator)
        g_loss = g_loss.detach()
        with torch.no_grad():  # device-side flags: no host sync here
            self.bad[0].logical_or_(~torch.isfinite(torch.stack(d_losses)).all())
            self.bad[1].logical_or_(~torch.isfinite(g_loss))
        return d_losses[-1], g_loss, estimate


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


def _check_finite(bad, replica, since: int, iteration: int, config, record) -> int:
    """Raise :class:`NonFiniteLossError` if a loss went non-finite after ``since``;
    return ``iteration`` (the new "checked up to")."""
    flags = replica.any(bad).tolist()  # one device -> host sync
    if any(flags):
        which = " and ".join(n for n, f in zip(("d_loss", "g_loss"), flags) if f)
        kept = ("" if record.saved_iteration is None or not record.writes_files else
                f"; the last good checkpoint (iteration {record.saved_iteration}) is kept at "
                f"{record.path}")
        raise NonFiniteLossError(
            f"{which} became NaN or infinite between iterations {since + 1} and {iteration} "
            f"(loss={config.label!r}, lr_d={config.lr_d}, lr_g={config.lr_g}); training "
            f"stopped{kept}")
    return iteration


def _progress_values(record, d_loss: float | None) -> dict:
    """The bar's postfix: the last logged critic loss and the latest evaluation."""
    values = {} if d_loss is None else {"d_loss": f"{d_loss:.3g}"}
    row = record.latest("exact_w1")
    if row is not None:
        values["exact_w1"] = f"{row['exact_w1']:.4f} @ {row['iteration']}"
        if row.get("critic_estimate") is not None:
            values["critic"] = f"{row['critic_estimate']:.4f}"
    return values


# --------------------------------------------------------------------- train
def train(config: LoopConfig, *, family=None, replica: Replica | None = None) -> list[dict]:
    """Train a GAN/WGAN and return the history (a list of row dicts).

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
    config : LoopConfig
        All settings: a :class:`~otlab.gan.TrainConfig` (see
        :meth:`~otlab.gan.TrainConfig.for_loss` for the paper defaults) or the
        configuration of another family.
    family : otlab.gan.family.Family, optional
        Models, batches, losses and evaluation (default:
        the family the configuration names, :func:`otlab.gan.family.family_for`:
        :class:`~otlab.gan.families.unconditional.UnconditionalGAN` for a
        :class:`~otlab.gan.TrainConfig`, the family of another configuration such as
        :class:`~otlab.gan.families.conditional.CGANConfig`).
    replica : Replica, optional
        This process's part in a data-parallel run (default: an
        :class:`otlab.distributed.DistributedReplica` inside an initialised
        ``torch.distributed`` process group, else alone).

    Returns
    -------
    history : list of dict
        One row per logged or evaluated iteration, keys the family's ``columns``
        (:data:`otlab.gan.HISTORY_COLUMNS` for the unconditional GAN)
        (``None`` where a row has no value).  Row 0 holds the evaluation of
        the untrained generator.

    Raises
    ------
    CheckpointError
        On resume: the checkpoint cannot be read, is of another format, was
        written by a run with other settings (the message names them; only
        ``iters`` may change), or is past ``config.iters``.
    RunFolderError
        ``config.out`` holds another run and the configuration neither resumes
        it (``resume``) nor starts afresh (``overwrite``).
    NonFiniteLossError
        When a loss becomes NaN or infinite; the last good checkpoint is kept.
    KeyboardInterrupt
        Re-raised after writing a checkpoint at the last completed iteration.

    Examples
    --------
    >>> from otlab.gan import TrainConfig
    >>> cfg = TrainConfig.for_loss("wgan-gp", iters=4, hidden=8, batch_size=16,
    ...                            eval_every=4, eval_samples=32, progress=False)
    >>> history = train(cfg)
    >>> [row["iteration"] for row in history], history[-1]["exact_w1"] > 0
    ([0, 4], True)
    """
    cfg = config
    if replica is None:  # data-parallel inside an initialised torch.distributed group
        from ..distributed.replica import current_replica

        replica = current_replica()
    device = torch.device(cfg.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"device {cfg.device!r} requested but CUDA is not available")
    torch.manual_seed(cfg.seed)  # seeds CPU and every CUDA device: same models on every rank
    np.random.seed(cfg.seed)
    family = family or family_for(cfg, device)
    generator, critic = family.build_models()
    if replica.rank:  # other ranks draw other batches
        torch.manual_seed(cfg.seed * 1_000_003 + replica.rank)
    g_params, d_params = family.parameter_groups(generator, critic)
    # collectives are not captured in CUDA graphs: data-parallel runs replay no graph
    cuda, graph = device.type == "cuda", cfg.use_cuda_graph and replica.world_size == 1
    opt_g = _make_optimizer(cfg, g_params, cfg.lr_g, cuda=cuda, graph=graph)
    opt_d = _make_optimizer(cfg, d_params, cfg.lr_d, cuda=cuda, graph=graph)
    parts = {"generator": generator, "critic": critic, "opt_g": opt_g, "opt_d": opt_d}
    average = None
    if cfg.ema_decay is not None:  # evaluated in place of the generator; off: old checkpoints
        average = WeightAverage(generator, cfg.ema_decay)
        parts["generator_ema"] = average
    evaluated = generator if average is None else average.module
    record = RunRecord(cfg, family, device, rank=replica.rank, world_size=replica.world_size,
                       gather=replica.gather)
    bad = torch.zeros(2, dtype=torch.bool, device=device)
    step = _Iteration(cfg, family, (generator, critic), (opt_g, opt_d), replica, bad, average)
    if graph:
        step = _GraphedIteration(step)

    from tqdm.auto import tqdm

    # Ctrl-C stays deferred until the evaluator has shut down: a second one during the
    # shutdown (record.close waits for the running solve) must not cut it short either
    with _DeferredInterrupt() as interrupt:
        try:
            start = checked = it = record.resume(parts)
            if start == 0 and cfg.eval_every > 0 and record.evaluates:  # the untrained generator
                record.submit(0, family.evaluate(evaluated, critic, 0))
            if start == cfg.iters and start > 0:  # nothing left to train: finish the evaluations
                record.save(start, parts, replica.gather(record.rng_state()), wait=True)
            bar = tqdm(total=cfg.iters, initial=start, desc=cfg.label, dynamic_ncols=True,
                       disable=not cfg.progress or replica.rank != 0)
            with bar:
                for it in range(start + 1, cfg.iters + 1):
                    if cfg.lr_decay != "none":
                        _scale_lr(opt_g, cfg.lr_g * cfg.lr_scale(it))
                        _scale_lr(opt_d, cfg.lr_d * cfg.lr_scale(it))
                    d_loss, g_loss, estimate = step()
                    last = it == cfg.iters
                    evaluating = cfg.eval_every > 0 and (it % cfg.eval_every == 0 or last)
                    if it % cfg.log_every == 0 or evaluating or last:
                        checked = _check_finite(bad, replica, checked, it, cfg, record)
                        record.log(it, d_loss=d_loss.item(), g_loss=g_loss.item(),
                                   batch_estimate=estimate.item())
                        bar.set_postfix(_progress_values(record, record.rows[it]["d_loss"]),
                                        refresh=False)
                    if evaluating and record.evaluates:
                        record.submit(it, family.evaluate(evaluated, critic, it))
                    record.collect()
                    bar.update(1)
                    stop = interrupt.requested if replica.world_size == 1 else bool(
                        replica.any(torch.tensor([interrupt.requested])).item())
                    if stop or last or (cfg.checkpoint_every and it % cfg.checkpoint_every == 0):
                        checked = _check_finite(bad, replica, checked, it, cfg, record)
                        record.save(it, parts, replica.gather(record.rng_state()), wait=last)
                    if stop:
                        break
                bar.set_postfix(_progress_values(record, None))  # the final evaluation's values
        finally:
            record.close()
    if interrupt.requested:  # also a Ctrl-C that came while the evaluator shut down
        if record.writes_files:
            print(f"\ninterrupted: checkpoint at iteration {it} written to {record.path}")
        raise KeyboardInterrupt
    return record.history


class _DeferredInterrupt:
    """Turn every Ctrl-C (SIGINT) into a flag the loop reads between iterations.

    The handler never raises, so neither an iteration nor a checkpoint write
    is ever cut in half, however many signals arrive; only the main thread
    can install it (elsewhere SIGINT is not delivered to the loop anyway).
    """

    def __init__(self):
        self.requested, self._previous = False, None

    def _handler(self, signum, frame):
        self.requested = True

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handler)
        return self

    def __exit__(self, *exc):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
        return False
