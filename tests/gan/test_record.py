"""The run folder: one run per folder, never two mixed (RunFolder and the trainer)."""

import numpy as np
import pytest

from otlab.gan import RunFolder, RunFolderError, TrainConfig, load_history, train

TINY = dict(loss="wgan-gp", iters=4, n_critic=1, hidden=8, depth=1, batch_size=16,
            eval_every=2, eval_samples=32, log_every=2, progress=False)


def _snapshot_iterations(folder):
    return [int(RunFolder.load_snapshot(p)["iteration"]) for p in RunFolder(folder).snapshot_files()]


def test_a_new_run_into_a_folder_holding_another_is_refused_and_touches_nothing(tmp_path):
    train(TrainConfig.for_loss(**TINY, out=tmp_path))
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    with pytest.raises(RunFolderError, match=r"holds another run \(history up to iteration 4\)"
                                             r".*resume=True \(--resume\).*overwrite=True "
                                             r"\(--overwrite"):
        train(TrainConfig.for_loss(**{**TINY, "iters": 2}, out=tmp_path))
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before


def test_overwrite_starts_afresh_and_removes_only_what_the_run_wrote(tmp_path):
    train(TrainConfig.for_loss(**{**TINY, "iters": 6}, out=tmp_path))
    (tmp_path / "notes.txt").write_text("mine")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "iter_0000099.npz").write_bytes(b"not the run's")
    history = train(TrainConfig.for_loss(**TINY, out=tmp_path, overwrite=True))
    assert _snapshot_iterations(tmp_path) == [0, 2, 4]  # nothing of the 6-iteration run
    assert load_history(tmp_path / "history.jsonl") == history
    assert (tmp_path / "notes.txt").read_text() == "mine"
    assert (tmp_path / "other" / "iter_0000099.npz").exists()
    fresh = train(TrainConfig.for_loss(**TINY, out=tmp_path / "fresh"))
    assert history == fresh  # the same numbers as a run into an empty folder


def test_resume_continues_the_run_recorded_in_the_folder(tmp_path):
    train(TrainConfig.for_loss(**TINY, out=tmp_path))
    history = train(TrainConfig.for_loss(**{**TINY, "iters": 6}, out=tmp_path, resume=True))
    assert [r["iteration"] for r in history] == [0, 2, 4, 6]
    assert _snapshot_iterations(tmp_path) == [0, 2, 4, 6]


def test_resume_drops_the_snapshots_written_after_the_checkpoint(tmp_path):
    train(TrainConfig.for_loss(**TINY, out=tmp_path))
    RunFolder(tmp_path).write_snapshot(8, fake=np.zeros((2, 2)))  # a run killed past iteration 4
    train(TrainConfig.for_loss(**{**TINY, "iters": 6}, out=tmp_path, resume=True))
    assert _snapshot_iterations(tmp_path) == [0, 2, 4, 6]


def test_resume_of_a_folder_with_run_files_but_no_checkpoint_is_refused(tmp_path):
    RunFolder(tmp_path).write_snapshot(2, fake=np.zeros((2, 2)))
    with pytest.raises(RunFolderError, match="no checkpoint.pt to resume from.*--overwrite"):
        train(TrainConfig.for_loss(**TINY, out=tmp_path, resume=True))


def test_a_folder_with_files_of_no_run_takes_a_new_run(tmp_path):
    (tmp_path / "README").write_text("data of mine")
    train(TrainConfig.for_loss(**TINY, out=tmp_path))
    assert (tmp_path / "README").read_text() == "data of mine"


def test_resume_and_overwrite_together_are_refused_naming_both():
    with pytest.raises(ValueError, match="resume=True and overwrite=True contradict"):
        TrainConfig(resume=True, overwrite=True)


def test_clear_removes_the_run_files_and_the_emptied_snapshot_folder(tmp_path):
    folder = RunFolder(tmp_path)
    folder.write_snapshot(0, fake=np.zeros((2, 2)))
    for name in ("checkpoint.pt", "history.jsonl", "history.csv", "summary.json",
                 "w_curves.png", "snapshots.png", "training.gif", "comparison.png"):
        (tmp_path / name).write_bytes(b"x")
    assert folder.holds_run()
    folder.clear()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["comparison.png"]
    assert not folder.holds_run()
