"""The record of a training run: history rows, evaluations in flight, checkpoints.

The run folder's layout (:class:`~otlab.gan.run_folder.RunFolder`) and the worker
thread that measures evaluations (:class:`~otlab.gan.evaluator.BackgroundEvaluator`)
live in their own modules; :class:`RunRecord` uses both.

:class:`RunRecord` keeps what :func:`otlab.gan.train` learns besides the
weights: one row per logged or evaluated iteration, the evaluations still
running in the worker thread, and the checkpoint.  A checkpoint is a plain
dict saved with :func:`torch.save` and read back with ``weights_only=True``
(tensors, numbers, strings, lists and dicts only):

``format``
    :data:`~otlab.gan.run_folder.CHECKPOINT_FORMAT`; another value is refused.
``config``
    :meth:`TrainConfig.to_dict` of the run.  Resuming with a configuration
    that differs in anything but :data:`RESUMABLE_CHANGES` is refused, and so
    is an ``iters`` below the checkpoint's iteration.
``iteration``
    The last *completed* iteration (checkpoints are only written between
    iterations).
``generator``, ``critic``, ``opt_g``, ``opt_d``
    ``state_dict()`` of the models and optimisers.
``generator_ema``
    Only with ``ema_decay``: the averaged generator weights and their step
    count (:meth:`otlab.gan.ema.WeightAverage.state_dict`).
``rng``
    One entry per process of the run: the torch (CPU, and CUDA when used) and
    numpy generator states.
``history``
    The rows so far; ``pending_evals`` the inputs of evaluations not yet
    finished, resubmitted on resume.

Files are written atomically (a temporary file, flushed to disk, then
``os.replace``), and only by the process that writes files (rank 0 of a
data-parallel run).
"""

from __future__ import annotations

import warnings

import numpy as np
import torch

from .evaluator import BackgroundEvaluator
from .run_folder import (CHECKPOINT_FORMAT, CheckpointError, RunFolder, RunFolderError,
                         first_line, load_history, read_checkpoint, write_history)

__all__ = ["RunRecord", "RunFolder", "RunFolderError", "BackgroundEvaluator", "CheckpointError",
           "CHECKPOINT_FORMAT", "RESUMABLE_CHANGES", "load_history", "read_checkpoint"]

#: Configuration fields that may differ between a checkpoint and the run resuming it:
#: the iteration budget, and where and how the run reports (not what it computes).
RESUMABLE_CHANGES = ("iters", "out", "resume", "overwrite", "progress")

_SNAPSHOT_ROWS = 512
_IMAGE_COLUMNS = 64  # rows this wide are images (the 8x8 digits)


def _comparable(value):
    return tuple(value) if isinstance(value, list) else value


def check_resumable(state: dict, config, path) -> None:
    """Refuse a checkpoint of another run, or one past the iteration budget ``config.iters``.

    Settings the checkpoint records but the configuration no longer has (a
    checkpoint written before the setting was dropped as unused, e.g. the
    ``arch`` of a pix2pix run) do not count; a checkpoint of another
    configuration class (another family) is refused.
    """
    saved_class = state.get("config_class")
    if saved_class is not None and saved_class != type(config).__name__:
        raise CheckpointError(
            f"checkpoint {path} is from a {saved_class} run, this run is a "
            f"{type(config).__name__}; train into another folder")
    now = config.to_dict()
    saved = {k: v for k, v in state["config"].items() if k in now}
    differing = [k for k in sorted(set(saved) | set(now)) if k not in RESUMABLE_CHANGES
                 and _comparable(saved.get(k)) != _comparable(now.get(k))]
    if differing:
        pairs = ", ".join(f"{k} ({saved.get(k)!r} in the checkpoint, {now.get(k)!r} now)"
                          for k in differing)
        raise CheckpointError(
            f"checkpoint {path} is from a different run; differing settings: {pairs}. "
            f"Resume with the checkpoint's settings (only iters may change) or train into "
            f"another folder")
    if config.iters < state["iteration"]:
        raise CheckpointError(
            f"iters={config.iters} is below the iteration of checkpoint {path} "
            f"({state['iteration']}); resume with iters >= {state['iteration']}")


def world_size_change(saved: int, now: int, path, batch_size: int) -> str:
    """What resuming a checkpoint of ``saved`` processes with ``now`` processes does."""
    def ranks(lo, hi):
        return f"rank {lo}" if lo == hi else f"ranks {lo}-{hi}"

    streams = f"{ranks(0, min(saved, now) - 1)} continue their random streams"
    if now > saved:
        streams += f", {ranks(saved, now - 1)} start new ones seeded from (seed, rank, iteration)"
    else:
        streams += f"; the streams of {ranks(now, saved - 1)} are dropped"
    return (f"checkpoint {path} was written by {saved} processes and this run has {now}: "
            f"the models, optimiser states and history are restored and {streams}. The "
            f"effective batch changes from {saved * batch_size} to {now * batch_size} points "
            f"per step (batch_size={batch_size} per process; learning rates unchanged), so "
            f"the run goes on but will not end where an uninterrupted {saved}-process run "
            f"ends; resume with {saved} processes for that")


def _rng_state(device) -> dict:
    np_state = np.random.get_state()
    state = {"torch": torch.get_rng_state(),
             "numpy": [np_state[0], torch.from_numpy(np_state[1].astype(np.int64)),
                       *np_state[2:]]}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def _set_rng_state(state: dict, device) -> None:
    torch.set_rng_state(state["torch"])
    name, keys, *rest = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), *rest))
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)


class RunRecord:
    """History rows, evaluations in flight and checkpoints of one run of :func:`train`.

    Parameters
    ----------
    config : TrainConfig
    family : otlab.gan.family.Family
        Gives the history columns and the measures run in the worker thread.
    device : torch.device
    rank, world_size : int
        This process in a data-parallel run; only rank 0 evaluates and writes files.
    gather : callable, optional
        ``gather(obj)`` -> every rank's ``obj`` in rank order (a collective,
        :meth:`otlab.gan.Replica.gather`); on resume rank 0 reads the
        checkpoint and shares it this way, so other ranks need not see its file.
    """

    def __init__(self, config, family, device, *, rank: int = 0, world_size: int = 1,
                 gather=None):
        self.config, self.family, self.device = config, family, device
        self.rank, self.world_size = rank, world_size
        self._gather = gather or (lambda obj: [obj])
        self.columns = tuple(family.columns)
        self.folder = None if config.out is None else RunFolder(config.out)
        self.path = None if self.folder is None else self.folder.checkpoint
        self.writes_files = rank == 0 and self.path is not None
        if self.writes_files:
            self.folder.path.mkdir(parents=True, exist_ok=True)
        self.evaluates = rank == 0
        self.rows: dict[int, dict] = {}
        self.saved_iteration: int | None = None
        self._pending: dict[int, object] = {}  # iteration -> fetch() of a running evaluation
        self._evaluator = BackgroundEvaluator(metrics=family.metrics)

    # ------------------------------------------------------------- rows
    def log(self, iteration: int, **values) -> None:
        """Start (or update) the row of ``iteration`` with ``values``."""
        row = self.rows.setdefault(iteration, dict.fromkeys(self.columns))
        row.update(iteration=iteration, **values)

    @property
    def history(self) -> list[dict]:
        return [self.rows[k] for k in sorted(self.rows)]

    def latest(self, column: str):
        """The most recent row whose ``column`` has a value (or ``None``)."""
        done = [k for k, row in self.rows.items() if row.get(column) is not None]
        return self.rows[max(done)] if done else None

    # ------------------------------------------------------ evaluations
    def submit(self, iteration: int, evaluation) -> None:
        """Copy an :class:`~otlab.gan.family.Evaluation` to the host without blocking and
        hand it to the worker thread (which also saves the snapshot for the figures)."""
        if not self.evaluates:
            return
        self.log(iteration)
        host = {name: t.to("cpu", non_blocking=True)
                for name, t in {"real": evaluation.real, "fake": evaluation.fake,
                                **evaluation.fields}.items()}
        snap = {k: t.to("cpu", non_blocking=True) for k, t in evaluation.snapshot.items()}
        event = None
        if evaluation.fake.device.type == "cuda":
            event = torch.cuda.Event()
            event.record()
        fields = list(evaluation.fields)

        def fetch():
            if event is not None:
                event.synchronize()
            return (host["real"].numpy(), host["fake"].numpy(),
                    {k: float(host[k]) for k in fields})

        def save_snapshot():
            if not self.writes_files:
                return
            # points (2-D, with their labels or codes) are kept whole, so that a figure can
            # recount the mode and class metrics; images are cut to _SNAPSHOT_ROWS
            rows = None if host["fake"].shape[1] < _IMAGE_COLUMNS else _SNAPSHOT_ROWS
            self.folder.write_snapshot(iteration, fake=host["fake"].numpy()[:rows],
                                       real=host["real"].numpy()[:rows],
                                       **{k: v.numpy() for k, v in snap.items()})

        self._pending[iteration] = fetch
        self._evaluator.submit(iteration, fetch, before=save_snapshot)

    def collect(self, *, wait: bool = False) -> None:
        """Move finished evaluations into their rows (all of them with ``wait``)."""
        done = self._evaluator.drain() if wait else self._evaluator.poll()
        for iteration, result in done:
            self.rows[iteration].update({k: v for k, v in result.items() if k in self.columns})
            self._pending.pop(iteration, None)

    # ------------------------------------------------------ checkpoints
    def resume(self, parts: dict) -> int:
        """Restore ``parts`` (name -> object with ``load_state_dict``), the RNG streams,
        the rows and the unfinished evaluations; return the iteration to continue from."""
        state = self._read_on_rank0()
        if state is None:
            return 0
        if len(state["rng"]) != self.world_size and self.rank == 0:
            warnings.warn(world_size_change(len(state["rng"]), self.world_size, self.path,
                                            self.config.batch_size), stacklevel=3)
        try:
            for name, part in parts.items():
                part.load_state_dict(state[name])
        except (KeyError, RuntimeError, ValueError) as exc:
            raise CheckpointError(f"checkpoint {self.path} does not fit the models "
                                  f"({first_line(exc)})") from None
        if self.rank < len(state["rng"]):
            _set_rng_state(state["rng"][self.rank], self.device)
        else:  # a rank the checkpoint has no stream for starts a new one
            seed = np.random.SeedSequence([self.config.seed, self.rank, state["iteration"]])
            torch.manual_seed(int(seed.generate_state(1, np.uint64)[0] >> 1))
            np.random.seed(seed.generate_state(1)[0])
        self.rows = {row["iteration"]: dict(row) for row in state["history"]}
        for iteration, real, fake, fields in state["pending_evals"]:
            if self.evaluates:
                fetch = (lambda r=real.numpy(), f=fake.numpy(), d=fields: (r, f, d))
                self._pending[iteration] = fetch
                self._evaluator.submit(iteration, fetch)
        self.saved_iteration = state["iteration"]
        return state["iteration"]

    def _read_on_rank0(self):
        """The checkpoint to resume from, or ``None``: rank 0 reads and checks it, every
        rank gets it (or rank 0's :class:`CheckpointError`, raised on every rank)."""
        def read():
            if self.folder is None:
                return None
            self.folder.prepare(resume=self.config.resume, overwrite=self.config.overwrite)
            if not (self.config.resume and self.path.exists()):
                return None
            state = self.folder.read_checkpoint()
            check_resumable(state, self.config, self.path)
            self.folder.drop_snapshots_after(state["iteration"])
            return state

        if self.world_size == 1:
            return read()
        payload = None, None
        if self.rank == 0:
            try:
                payload = read(), None
            except CheckpointError as exc:
                payload = None, str(exc)
        state, error = self._gather(payload)[0]
        if error is not None:
            raise CheckpointError(error)
        return state

    def save(self, iteration: int, parts: dict, rng: list, *, wait: bool) -> None:
        """Write the checkpoint of the completed ``iteration`` and the history files.

        Evaluations still running are saved as their inputs (no waiting for
        the solver) unless ``wait``; ``rng`` holds every process's RNG state.
        """
        self.collect(wait=wait)
        if not self.writes_files:
            return
        unfinished = []
        for k in sorted(self._pending):
            real, fake, fields = self._pending[k]()
            unfinished.append([k, torch.from_numpy(real), torch.from_numpy(fake), fields])
        state = {"format": CHECKPOINT_FORMAT, "config": self.config.to_dict(),
                 "config_class": type(self.config).__name__,
                 "iteration": iteration, "rng": rng, "history": self.history,
                 "pending_evals": unfinished,
                 **{name: part.state_dict() for name, part in parts.items()}}
        self.folder.write_checkpoint(state)
        write_history(self.folder.path, self.history, self.columns)
        self.saved_iteration = iteration

    def rng_state(self) -> dict:
        """This process's RNG states, as a checkpoint stores them."""
        return _rng_state(self.device)

    def close(self) -> None:
        self._evaluator.close()
