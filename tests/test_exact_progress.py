"""The progress line of long exact solves: forced on, forced off, and 'auto' (terminal only)."""

import time

import numpy as np
import pytest

import otlab
from otlab.exact import _progress, emd_grid, emd_points


def _clouds(n=600, seed=12):
    rng = np.random.default_rng(seed)
    return rng.random((n, 2)), rng.random((n, 2))


def _lines(text):
    return [line for line in text.replace("\r", "\n").splitlines() if line.strip()]


def test_forced_progress_shows_rounds_pairs_violations_and_time(capsys):
    x, y = _clouds()
    res = emd_points(x, y, solver="sparse", progress=True)
    lines = _lines(capsys.readouterr().err)
    assert lines, "no progress line"
    last = lines[-1]
    assert last.startswith(f"emd_points: {res.rounds} rounds")
    for word in ("level 0", "pairs", "0 violations", " s"):
        assert word in last


def test_the_line_ticks_while_a_round_runs_and_its_thread_ends_with_the_solve(capsys,
                                                                            monkeypatch):
    monkeypatch.setattr(_progress, "TICK_S", 0.01)
    line = _progress.progress_reporter(True, "emd_points")
    deadline = time.perf_counter() + 30
    while "first round running" not in capsys.readouterr().err:
        assert time.perf_counter() < deadline, "the line never appeared"
        time.sleep(0.02)
    line({"level": 0, "n": 3, "m": 4, "round": 1, "pairs": 12, "violations": 0,
          "max_violation": 0.0, "tol": 1e-12, "cost": 1.0, "seconds": 0.1})
    line.close()
    assert not line.ticker.is_alive()
    assert "emd_points: 1 rounds, level 0 (3 x 4) round 1, 12 pairs" in capsys.readouterr().err


def test_progress_is_silent_when_turned_off_or_when_stderr_is_no_terminal(capsys):
    x, y = _clouds()
    emd_points(x, y, solver="sparse", progress=False)
    emd_points(x, y, solver="sparse")  # auto: pytest's captured stderr is no terminal
    emd_points(x, y, solver="sparse", progress=None)
    assert capsys.readouterr().err == ""


def test_auto_progress_appears_on_a_terminal_once_the_delay_has_passed(capsys, monkeypatch):
    x, y = _clouds()
    monkeypatch.setattr(_progress, "_stderr_is_terminal", lambda: True)
    monkeypatch.setattr(_progress, "AUTO_DELAY_S", 3600.0)
    emd_points(x, y, solver="sparse")  # a quick solve on a terminal: nothing
    assert capsys.readouterr().err == ""
    monkeypatch.setattr(_progress, "AUTO_DELAY_S", 0.0)
    emd_points(x, y, solver="sparse")
    assert "emd_points:" in capsys.readouterr().err


def test_emd_grid_and_wasserstein_show_the_same_line(capsys):
    rng = np.random.default_rng(1)
    A, B = rng.random((24, 24)), rng.random((24, 24))
    emd_grid(A, B, order=2, solver="sparse", progress=True)
    assert "rounds, level 0 (576 x 576)" in capsys.readouterr().err
    # W_1 on one grid solves the LP between the pixels that lose and those that gain mass
    emd_grid(A, B, order=1, solver="sparse", progress=True)
    a, b = A / A.sum(), B / B.sum()
    sizes = f"({int((a > b).sum())} x {int((b > a).sum())})"
    assert f"rounds, level 0 {sizes}" in capsys.readouterr().err
    x, y = _clouds(n=500)
    otlab.wasserstein(x, y, method="exact", progress=True)  # 500 x 500: the sparse solver
    assert "violations" in capsys.readouterr().err
    otlab.wasserstein(x, y, method="exact", progress=False)
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("value", ["yes", 1, 0.5, "AUTO"])
def test_a_bad_progress_value_is_rejected_by_name(value):
    x, y = _clouds(n=5)
    with pytest.raises(ValueError, match=r'progress must be None, "auto", True or False; got'):
        emd_points(x, y, progress=value)
    with pytest.raises(ValueError, match="progress must be"):
        otlab.wasserstein(x, y, progress=value)
