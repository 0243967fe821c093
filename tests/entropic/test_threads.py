"""The Sinkhorn loop's CPU thread choice: one thread per ENTRIES_PER_THREAD costs, caller's setting restored."""

import numpy as np
import pytest
import torch

from otlab.entropic import _threads, sinkhorn, sinkhorn_samples
from otlab.entropic._threads import loop_threads, threads_for


@pytest.fixture
def two_threads():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


def test_threads_grow_with_the_number_of_costs_up_to_what_is_set():
    per = _threads.ENTRIES_PER_THREAD
    assert threads_for((1, 1), 16) == 1
    assert threads_for((per, 1), 16) == 1
    assert threads_for((per + 1, 1), 16) == 2
    assert threads_for((per, 5), 16) == 5
    assert threads_for((per, 100), 16) == 16


@pytest.mark.parametrize("solve", [
    lambda: sinkhorn_samples(np.zeros((3, 2)), np.ones((4, 2)), reg=0.5),
    lambda: sinkhorn([0.5, 0.5], [0.5, 0.5], [[0.0, 1.0], [1.0, 0.0]], 0.5),
])
def test_a_small_solve_runs_on_one_thread_and_restores_the_callers_setting(two_threads, solve,
                                                                           monkeypatch):
    seen = []
    real = torch.set_num_threads
    monkeypatch.setattr(_threads.torch, "set_num_threads",
                        lambda k: (seen.append(k), real(k))[1])
    solve()
    assert seen == [1, 2] and torch.get_num_threads() == 2


def test_the_callers_setting_is_restored_when_the_solve_raises(two_threads):
    with pytest.raises(RuntimeError, match="inside"):
        with loop_threads((10, 10), "cpu"):
            assert torch.get_num_threads() == 1
            raise RuntimeError("inside")
    assert torch.get_num_threads() == 2


def test_without_the_rule_the_thread_setting_is_left_alone(two_threads, monkeypatch):
    monkeypatch.setattr(_threads, "ENTRIES_PER_THREAD", None)
    with loop_threads((10, 10), "cpu"):
        assert torch.get_num_threads() == 2
