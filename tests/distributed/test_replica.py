"""The data-parallel trainer on a Gloo group of 2 processes, and ``torchrun -m otlab.demo wgan``."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ._group import failures
from ._checklist import TRAINER, TRAINER_CHECKS


@pytest.mark.parametrize("check", TRAINER_CHECKS)
def test_data_parallel_trainer_on_two_gloo_ranks(world2, check):
    assert failures(world2[0], f"{TRAINER}:{check}") == ""


def test_one_process_resumes_a_two_process_checkpoint_and_says_what_it_does(world2, tmp_path):
    from otlab.gan import TrainConfig, train

    from ._trainer_checks import TINY

    _, folder = world2
    shutil.copytree(folder / "run", tmp_path / "run")
    cfg = TrainConfig.for_loss("wgan-gp", out=tmp_path / "run", iters=8, eval_every=3,
                               checkpoint_every=3, resume=True, **TINY)
    with pytest.warns(UserWarning, match="written by 2 processes and this run has 1") as caught:
        history = train(cfg)
    text = str(caught[0].message)
    assert "the streams of rank 1 are dropped" in text
    assert "effective batch changes from 64 to 32 points" in text
    assert history[-1]["iteration"] == 8


@pytest.fixture(scope="module")
def torchrun_demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("torchrun_demo")
    torchrun = Path(sys.executable).with_name("torchrun")
    command = [str(torchrun), "--standalone", "--nproc_per_node", "2", "-m", "otlab.demo",
               "wgan", "--quick", "--compare", "none", "--iters", "4", "--eval-every", "2", "--eval-samples", "64",
               "--hidden", "16", "--depth", "1", "--batch-size", "32", "--no-progress",
               "--out", str(out)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env,
                          cwd=Path(__file__).parents[2])
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout, out


def test_torchrun_demo_trains_on_two_processes_and_rank0_writes_the_summary(torchrun_demo):
    stdout, out = torchrun_demo
    assert "data parallel: 2 processes x batch 32 = 64 points per step" in stdout
    assert stdout.count("final exact W1") == 1, "only rank 0 prints the result"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["world_size"] == 2
    assert json.loads((out / "summary_table.json").read_text())[0]["world_size"] == 2
    for name in ("history.jsonl", "checkpoint.pt", "w_curves.png"):
        assert (out / name).stat().st_size > 0


def test_a_single_process_demo_records_world_size_one(tmp_path, capsys):
    from otlab.demo import wgan

    assert wgan.main(["--quick", "--iters", "2", "--eval-every", "2", "--eval-samples", "32",
                      "--hidden", "8", "--depth", "1", "--batch-size", "16", "--no-progress",
                      "--out", str(tmp_path)]) == 0
    assert "data parallel" not in capsys.readouterr().out
    assert json.loads((tmp_path / "summary.json").read_text())["world_size"] == 1
