"""The record of a training run: its folder, history rows, evaluations in flight, checkpoints.

:class:`RunFolder` owns the layout of a run folder (``TrainConfig.out``): it
is the one place that names, writes, reads and clears the files a run puts
there, for the trainer and for the figures alike:

===========================  =================================================
``checkpoint.pt``            the checkpoint (below), written atomically
``history.jsonl``            one strict-JSON row per logged or evaluated iteration
``history.csv``              the same rows as CSV
``snapshots/iter_N.npz``     the arrays of the evaluation at iteration ``N``
``summary.json``, ``w_curves.png``, ``snapshots.png``, ``training.gif``
                             the figures and summary of the run
===========================  =================================================

A folder holds one run.  A new run into a folder that holds another one is
refused (:class:`RunFolderError`) unless it resumes that run (``resume``) or
starts afresh (``overwrite``: the files above are removed, nothing else).

:class:`RunRecord` keeps what :func:`otlab.gan.train` learns besides the
weights: one row per logged or evaluated iteration, the evaluations still
running in the worker thread, and the checkpoint.  A checkpoint is a plain
dict saved with :func:`torch.save` and read back with ``weights_only=True``
(tensors, numbers, strings, lists and dicts only):

``format``
    :data:`CHECKPOINT_FORMAT`; another value is refused.
``config``
    :meth:`TrainConfig.to_dict` of the run.  Resuming with a configuration
    that differs in anything but :data:`RESUMABLE_CHANGES` is refused, and so
    is an ``iters`` below the checkpoint's iteration.
``iteration``
    The last *completed* iteration (checkpoints are only written between
    iterations).
``generator``, ``critic``, ``opt_g``, ``opt_d``
    ``state_dict()`` of the models and optimisers.
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

import csv
import io
import json
import os
import warnings
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch

from .._json import strict_json
from .metrics import evaluate_samples

__all__ = ["RunRecord", "RunFolder", "RunFolderError", "BackgroundEvaluator", "CheckpointError",
           "CHECKPOINT_FORMAT", "RESUMABLE_CHANGES", "load_history", "read_checkpoint"]

#: Version of the checkpoint layout; bump it when the layout changes.
CHECKPOINT_FORMAT = 2

#: Configuration fields that may differ between a checkpoint and the run resuming it:
#: the iteration budget, and where and how the run reports (not what it computes).
RESUMABLE_CHANGES = ("iters", "out", "resume", "overwrite", "progress")

_SNAPSHOT_ROWS = 512
_IMAGE_COLUMNS = 64  # rows this wide are images (the 8x8 digits)


class CheckpointError(ValueError):
    """A checkpoint cannot be resumed: unreadable, another format, or another run."""


class RunFolderError(CheckpointError):
    """A run folder holds another run, and the new run neither resumes nor overwrites it."""


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    reason = text[0] if text else ""
    return f"{type(exc).__name__}: {reason[:160]}" if reason else type(exc).__name__


def read_checkpoint(path) -> dict:
    """Load a checkpoint written by :func:`otlab.gan.train`; :class:`CheckpointError` if unusable.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     empty = Path(tmp) / "checkpoint.pt"
    ...     _ = empty.write_bytes(b"")
    ...     read_checkpoint(empty)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    otlab.gan.record.CheckpointError: cannot read checkpoint .../checkpoint.pt (EOFError...
    """
    path = Path(path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any failure to read means the same to the user
        raise CheckpointError(
            f"cannot read checkpoint {path} ({_first_line(exc)}): it is empty, truncated or not "
            f"an otlab checkpoint; delete it or train into another folder") from None
    version = state.get("format") if isinstance(state, dict) else None
    if version != CHECKPOINT_FORMAT:
        raise CheckpointError(
            f"checkpoint {path} has format {version!r}, this otlab reads format "
            f"{CHECKPOINT_FORMAT}; train into another folder")
    return state


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


def _atomic_write(path: Path, data: bytes | None = None, *, save=None) -> None:
    """Write ``data`` (or call ``save(file)``) to a temporary file, sync, then rename."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        if save is not None:
            save(fh)
        else:
            fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def write_history(out: Path, history: list[dict], columns) -> None:
    """``history.jsonl`` (strict JSON, ``null`` for missing or non-finite) and ``history.csv``."""
    _atomic_write(out / "history.jsonl",
                  "".join(strict_json(row) + "\n" for row in history).encode())
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=columns)
    writer.writeheader()
    writer.writerows(history)
    _atomic_write(out / "history.csv", text.getvalue().encode())


def load_history(path) -> list[dict]:
    """Read a ``history.jsonl`` written by :func:`otlab.gan.train`.

    One JSON object per line, keys :data:`otlab.gan.HISTORY_COLUMNS`
    (``null`` becomes ``None``); the rows are exactly those
    :func:`otlab.gan.train` returned.

    Examples
    --------
    >>> import tempfile
    >>> from otlab.gan import TrainConfig, train
    >>> cfg = TrainConfig.for_loss("wgan-gp", iters=2, n_critic=1, hidden=8, depth=1,
    ...                            batch_size=16, eval_every=2, eval_samples=16, progress=False)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     history = train(cfg.replace(out=tmp))
    ...     rows = load_history(Path(tmp) / "history.jsonl")
    >>> rows == history, [row["iteration"] for row in rows]
    (True, [0, 2])
    """
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line]


class RunFolder:
    """The layout of one run folder: the one place that names, writes, reads and clears its files.

    Parameters
    ----------
    path : str or Path
        The folder (``TrainConfig.out``); created when a file is written.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     folder = RunFolder(tmp)
    ...     _ = folder.write_snapshot(200, fake=np.zeros((3, 2)))
    ...     _ = folder.write_snapshot(0, fake=np.ones((3, 2)))
    ...     [p.name for p in folder.snapshot_files()], int(folder.last_snapshot()["iteration"])
    (['iter_0000000.npz', 'iter_0000200.npz'], 200)
    """

    CHECKPOINT = "checkpoint.pt"
    HISTORY = ("history.jsonl", "history.csv")
    SNAPSHOTS = "snapshots"
    #: Files of the run written after training (the figures and the summary).
    REPORTS = ("summary.json", "w_curves.png", "snapshots.png", "training.gif")

    def __init__(self, path):
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunFolder({str(self.path)!r})"

    def file(self, name: str) -> Path:
        """The path of ``name`` in the folder (e.g. ``"summary.json"``)."""
        return self.path / name

    @property
    def checkpoint(self) -> Path:
        return self.path / self.CHECKPOINT

    @property
    def snapshot_dir(self) -> Path:
        return self.path / self.SNAPSHOTS

    # ------------------------------------------------------------ snapshots
    def snapshot_path(self, iteration: int) -> Path:
        return self.snapshot_dir / f"iter_{int(iteration):07d}.npz"

    def write_snapshot(self, iteration: int, **arrays) -> Path:
        """Save the arrays of the evaluation at ``iteration`` (with ``iteration`` itself)."""
        self.snapshot_dir.mkdir(parents=True, exist_ok=True)
        path = self.snapshot_path(iteration)
        np.savez(path, iteration=iteration, **arrays)
        return path

    def snapshot_files(self) -> list[Path]:
        """The snapshot files, in the order of their iterations."""
        return sorted(self.snapshot_dir.glob("iter_*.npz"))

    @staticmethod
    def load_snapshot(path) -> dict:
        """The arrays of one snapshot file, as a dict."""
        with np.load(path) as z:
            return {k: z[k] for k in z.files}

    def snapshots(self) -> list[dict]:
        """Every snapshot, in the order of their iterations."""
        return [self.load_snapshot(f) for f in self.snapshot_files()]

    def last_snapshot(self) -> dict:
        """The arrays of the last snapshot; ``FileNotFoundError`` when there is none."""
        files = self.snapshot_files()
        if not files:
            raise FileNotFoundError(f"no snapshots in {self.snapshot_dir}; was the run "
                                    f"trained with eval_every > 0?")
        return self.load_snapshot(files[-1])

    # ------------------------------------------------------------ history and checkpoint
    def write_history(self, history: list[dict], columns) -> None:
        write_history(self.path, history, columns)

    def read_history(self) -> list[dict]:
        return load_history(self.path / self.HISTORY[0])

    def write_checkpoint(self, state: dict) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        _atomic_write(self.checkpoint, save=lambda fh: torch.save(state, fh))

    def read_checkpoint(self) -> dict:
        return read_checkpoint(self.checkpoint)

    # ------------------------------------------------------------ one run per folder
    def owned_files(self) -> list[Path]:
        """The files of a run that exist in the folder (nothing else is ever removed)."""
        names = [self.CHECKPOINT, self.CHECKPOINT + ".tmp", *self.HISTORY,
                 *(name + ".tmp" for name in self.HISTORY), *self.REPORTS]
        return [p for p in (self.path / n for n in names) if p.is_file()] + self.snapshot_files()

    def holds_run(self) -> bool:
        """Whether the folder holds files of a run."""
        return bool(self.owned_files())

    def clear(self) -> None:
        """Remove the files of the run (and the snapshot folder if that leaves it empty)."""
        for path in self.owned_files():
            path.unlink()
        if self.snapshot_dir.is_dir() and not any(self.snapshot_dir.iterdir()):
            self.snapshot_dir.rmdir()

    def drop_snapshots_after(self, iteration: int) -> None:
        """Remove snapshots past ``iteration`` (written after the checkpoint a run resumes)."""
        for path in self.snapshot_files():
            if int(path.stem.split("_")[1]) > iteration:
                path.unlink()

    def check(self, *, resume: bool = False, overwrite: bool = False) -> None:
        """Refuse (:class:`RunFolderError`) a new run that would mix with the one held here.

        An empty or new folder takes any run.  A folder that holds a run takes
        a run that continues it (``resume``; it must have a checkpoint) or
        starts afresh (``overwrite``); anything else is refused with a message
        that says how to go on.  Nothing is changed on disk.

        Examples
        --------
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     folder = RunFolder(tmp)
        ...     folder.check()  # empty: any run may start
        ...     _ = folder.write_snapshot(0, fake=np.zeros((2, 2)))
        ...     folder.check(overwrite=True)
        ...     folder.check()  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        otlab.gan.record.RunFolderError: ... holds another run (snapshots); continue it ...
        """
        if not self.holds_run() or overwrite or (resume and self.checkpoint.is_file()):
            return
        if resume:
            raise RunFolderError(
                f"{self.path} holds files of a run but no {self.CHECKPOINT} to resume from; "
                f"start afresh with overwrite=True (--overwrite) or train into another folder")
        raise RunFolderError(
            f"{self.path} holds another run ({self._what()}); continue it with resume=True "
            f"(--resume), start afresh with overwrite=True (--overwrite, which removes that "
            f"run's files), or train into another folder")

    def prepare(self, *, resume: bool = False, overwrite: bool = False) -> None:
        """Make the folder ready for a run: :meth:`check`, then with ``overwrite``
        :meth:`clear` the run held here (its files only), so two runs never mix."""
        self.check(resume=resume, overwrite=overwrite)
        if overwrite:
            self.clear()

    def _what(self) -> str:
        history = self.path / self.HISTORY[0]
        if history.is_file():
            lines = [line for line in history.read_text().splitlines() if line.strip()]
            try:
                return f"history up to iteration {json.loads(lines[-1])['iteration']}"
            except (IndexError, KeyError, ValueError):
                pass
        return ", ".join(sorted({p.relative_to(self.path).parts[0]
                                 for p in self.owned_files()}))


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
                                  f"({_first_line(exc)})") from None
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


class BackgroundEvaluator:
    """Run the evaluation measures in a worker thread, one job at a time, in order.

    ``metrics(real, fake) -> dict`` is what runs there (by default
    :func:`otlab.gan.metrics.evaluate_samples` with ``modes``, ``std`` and
    ``max_iter``).
    ``submit`` takes a callable returning ``(real, fake, extra_fields)`` as
    host arrays, which runs in the worker (e.g. after waiting for a CUDA
    event); ``poll`` returns the finished ``(iteration, result)`` pairs
    without blocking; ``drain`` waits.
    """

    def __init__(self, *, modes=None, std: float = 0.0, max_iter: int = 100_000_000,
                 metrics=None):
        if metrics is None:
            def metrics(real, fake):
                return evaluate_samples(real, fake, modes=modes, std=std, max_iter=max_iter)
        self._metrics = metrics
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="otlab-eval")
        self._jobs: list[tuple[int, Future]] = []

    def _run(self, fetch, before):
        real, fake, fields = fetch()
        if before is not None:
            before()
        out = dict(self._metrics(real, fake))
        out.update(fields)
        return out

    def submit(self, iteration: int, fetch, *, before=None) -> None:
        """Queue ``fetch() -> (real, fake, extra_fields)``; ``before()`` runs in the worker
        after ``fetch`` and before the solver (e.g. to save a snapshot)."""
        self._jobs.append((iteration, self._pool.submit(self._run, fetch, before)))

    def poll(self) -> list[tuple[int, dict]]:
        done = []
        while self._jobs and self._jobs[0][1].done():
            it, fut = self._jobs.pop(0)
            done.append((it, fut.result()))
        return done

    def drain(self) -> list[tuple[int, dict]]:
        done = []
        while self._jobs:
            it, fut = self._jobs.pop(0)
            done.append((it, fut.result()))
        return done

    @property
    def pending(self) -> int:
        return len(self._jobs)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
