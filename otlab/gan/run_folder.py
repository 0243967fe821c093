"""The layout of a run folder, written and read in one place.

:class:`RunFolder` owns the layout of a run folder (``TrainConfig.out``): it
is the one place that names, writes, reads and clears the files a run puts
there, for the trainer and for the figures alike:

===========================  =================================================
``checkpoint.pt``            the checkpoint (:mod:`otlab.gan.record`), written atomically
``history.jsonl``            one strict-JSON row per logged or evaluated iteration
``history.csv``              the same rows as CSV
``snapshots/iter_N.npz``     the arrays of the evaluation at iteration ``N``
``summary.json``, ``w_curves.png``, ``snapshots.png``, ``training.gif``
                             the figures and summary of the run
===========================  =================================================

A folder holds one run.  A new run into a folder that holds another one is
refused (:class:`RunFolderError`) unless it resumes that run (``resume``) or
starts afresh (``overwrite``: the files above are removed, nothing else).

The checkpoint is one of its files: this module reads it back and refuses a
file of another format (:class:`CheckpointError`); what a checkpoint holds
and when a run may resume from it is :mod:`otlab.gan.record`'s business.
"""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

import numpy as np
import torch

from .._json import strict_json

__all__ = ["RunFolder", "RunFolderError", "CheckpointError", "CHECKPOINT_FORMAT", "load_history",
           "write_history", "read_checkpoint", "first_line"]

#: Version of the checkpoint layout; bump it when the layout changes.
CHECKPOINT_FORMAT = 2


class CheckpointError(ValueError):
    """A checkpoint cannot be resumed: unreadable, another format, or another run."""


class RunFolderError(CheckpointError):
    """A run folder holds another run, and the new run neither resumes nor overwrites it."""


def first_line(exc: BaseException) -> str:
    """``"TypeName: first line of the message"`` (at most 160 characters of it)."""
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
    otlab.gan.run_folder.CheckpointError: cannot read checkpoint .../checkpoint.pt (EOFError...
    """
    path = Path(path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any failure to read means the same to the user
        raise CheckpointError(
            f"cannot read checkpoint {path} ({first_line(exc)}): it is empty, truncated or not "
            f"an otlab checkpoint; delete it or train into another folder") from None
    version = state.get("format") if isinstance(state, dict) else None
    if version != CHECKPOINT_FORMAT:
        raise CheckpointError(
            f"checkpoint {path} has format {version!r}, this otlab reads format "
            f"{CHECKPOINT_FORMAT}; train into another folder")
    return state


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
        otlab.gan.run_folder.RunFolderError: ... holds another run (snapshots); continue it ...
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
