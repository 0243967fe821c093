"""Smoke tests of the teaching demos with tiny settings: files written, facts measured."""

import csv
import json
import math

import numpy as np
import pytest

from otlab.demo import available_demos

LOG2 = math.log(2.0)


def _strict(constant):
    raise ValueError(f"not JSON: {constant}")


def _rows(path):
    """The rows of a demo's JSON table; NaN/Infinity (not JSON) fail the test."""
    return json.loads(path.read_text(), parse_constant=_strict)


def test_teaching_demos_are_listed():
    assert {"parallel_lines", "manifold", "vanishing_gradients"} <= set(available_demos())


def test_parallel_lines_w1_is_abs_theta_with_unit_slope_and_js_is_flat_log2(tmp_path, capsys):
    from otlab.demo import parallel_lines

    assert parallel_lines.main(["--n", "40", "--thetas", "5", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "w1_exact" in out
    for name in ("parallel_lines.csv", "parallel_lines.json", "parallel_lines.png"):
        assert (tmp_path / name).stat().st_size > 0
    rows = _rows(tmp_path / "parallel_lines.json")
    thetas = np.array([r["theta"] for r in rows])
    np.testing.assert_allclose(thetas, [-1, -0.5, 0, 0.5, 1])
    # the JSON writes inf and nan as null: read them back from the CSV
    col = lambda name: np.array(  # noqa: E731
        [float(r[name]) for r in csv.DictReader((tmp_path / "parallel_lines.csv").open())])
    np.testing.assert_allclose(col("w1_exact"), np.abs(thetas), atol=1e-12)
    np.testing.assert_allclose(col("d_dtheta_w1_exact"), np.sign(thetas), atol=1e-12)
    assert np.all(col("w1_exact_random") >= np.abs(thetas) - 1e-12)
    off = thetas != 0
    np.testing.assert_allclose(col("js_exact")[off], LOG2)
    np.testing.assert_allclose(col("tv_exact")[off], 1.0)
    assert np.all(np.isinf(col("kl_exact")[off]))
    assert all(r["kl_exact"] is None for r, o in zip(rows, off) if o)  # JSON null
    assert "JSON table writes both as null" in out
    np.testing.assert_allclose(col("js_exact")[~off], 0.0, atol=1e-12)
    np.testing.assert_allclose(col("d_dtheta_js_exact"), 0.0, atol=1e-12)
    np.testing.assert_allclose(col("js_hist")[off], LOG2)
    # The exact critic's gap is W1 and the gradient through the frozen critic is sign(theta).
    np.testing.assert_allclose(col("w1_critic_exact"), np.abs(thetas), atol=1e-9)
    np.testing.assert_allclose(col("d_dtheta_w1_critic_exact")[off], np.sign(thetas)[off], atol=1e-9)
    # Sinkhorn at its defaults: within 1 % of W1 and the same slope within 1 %.
    np.testing.assert_allclose(col("w1_sinkhorn")[off], np.abs(thetas)[off], rtol=1e-2)
    np.testing.assert_allclose(col("d_dtheta_w1_sinkhorn")[off], np.sign(thetas)[off], rtol=1e-2)
    assert (tmp_path / "parallel_lines_critics.png").stat().st_size > 0
    # Sliced W1, the Gaussian MMDs and the energy distance of the grid sample follow their
    # closed forms between the continuous lines (n = 40: to the grid's resolution).
    np.testing.assert_allclose(col("sw1"), col("sw1_closed_form"), rtol=2e-2, atol=1e-3)
    for name in ("mmd_gaussian_bw_1", "energy"):
        np.testing.assert_allclose(col(name), col(name + "_closed_form"), rtol=2e-2, atol=1e-3)
    # Every column is ASCII snake_case.
    header = (tmp_path / "parallel_lines.csv").read_text().splitlines()[0].split(",")
    assert all(h.isascii() and h == h.lower() and " " not in h and "|" not in h for h in header)


def test_narrow_bandwidth_mmd_between_lines_saturates_and_its_slope_vanishes():
    from otlab.demo import parallel_lines as pl

    # sigma = 0.1: MMD(theta) is flat (to 1e-10) beyond theta = 0.7, like JS; sigma = 1 is not.
    h = 1e-3
    slope = lambda t, s: (pl._mmd_between_lines(t + h, s) - pl._mmd_between_lines(t - h, s)) / (2 * h)  # noqa: E731
    assert abs(slope(0.7, 0.1)) < 1e-9
    assert slope(0.7, 1.0) > 0.5
    np.testing.assert_allclose(pl._energy_between_lines(0.0), 0.0, atol=1e-6)


def test_parallel_lines_method_registry_takes_new_columns(tmp_path):
    from otlab.demo import parallel_lines as pl

    extra = pl.Method("double_theta", "W1", lambda t, cfg: 2 * t, sample="-")
    rows = pl.sweep([0.25], [extra], pl.Config(n=10, fd_step=1e-3))
    np.testing.assert_allclose(rows[0]["double_theta"], 0.5)
    np.testing.assert_allclose(rows[0]["d_dtheta_double_theta"], 2.0)


def test_manifold_classifier_separates_shifted_lines_and_noise_restores_overlap(tmp_path, capsys):
    from otlab.demo import manifold

    argv = ["--dims", "2", "50", "--shifts", "0", "0.5", "--noises", "0.5", "--noise-dim", "2",
            "--n", "120", "--steps", "80", "--out", str(tmp_path)]
    assert manifold.main(argv) == 0
    assert "js_classifier" in capsys.readouterr().out
    assert (tmp_path / "manifold.png").stat().st_size > 0
    rows = _rows(tmp_path / "manifold.json")
    clean = [r for r in rows if r["noise"] == 0 and r["shift"] == 0.5]
    assert len(clean) == 2
    for r in clean:
        assert r["classifier_accuracy"] >= 0.95
        assert LOG2 - 0.05 < r["js_classifier"] <= LOG2
        np.testing.assert_allclose(r["w1_exact"], 0.5, atol=0.05)
        assert 0 < r["sw1"] < r["w1_exact"]  # sliced W1 ~ |s| sqrt(2/(pi D)) of the populations
        assert r["mmd_gaussian_bw_1"] > 0.1 and r["energy"] > 0.1
    assert set(rows[0]) == {"dim", "noise", "shift", "w1_exact", "w1_population",
                            "sw1", "sw1_population", "mmd_gaussian_bw_0p1",
                            "mmd_gaussian_bw_1", "energy", "js_classifier", "classifier_accuracy", "js_population"}
    noisy = [r for r in rows if r["noise"] == 0.5 and r["shift"] == 0.5][0]
    assert noisy["js_population"] < 0.2
    assert noisy["js_classifier"] < 0.3


def test_gaussian_shift_js_is_monotone_between_zero_and_log2():
    from otlab.demo.manifold import gaussian_shift_js

    values = [gaussian_shift_js(s, 1.0) for s in (0.0, 0.5, 1.0, 2.0, 4.0, 30.0)]
    assert np.all(np.diff(values) > 0)
    np.testing.assert_allclose(values[0], 0.0, atol=1e-12)
    np.testing.assert_allclose(values[-1], LOG2, rtol=1e-6)
    # small shifts: JS ~ s^2 / (8 sigma^2) (a quarter of the Fisher information term)
    np.testing.assert_allclose(gaussian_shift_js(0.01, 1.0), 0.01**2 / 8, rtol=1e-3)


def test_minimax_gradient_collapses_while_wgan_gradient_stays_order_one(tmp_path, capsys):
    from otlab.demo import vanishing_gradients

    argv = ["--thetas", "1.0", "--steps", "300", "--batch", "64", "--out", str(tmp_path)]
    assert vanishing_gradients.main(argv) == 0
    assert "minimax" in capsys.readouterr().out
    assert (tmp_path / "vanishing_gradients.png").stat().st_size > 0
    rows = _rows(tmp_path / "vanishing_gradients.json")
    minimax = np.array([r["grad_norm_minimax"] for r in rows])
    wgan = np.array([r["grad_norm_wgan_gp"] for r in rows])
    assert minimax[-1] < 1e-2 * minimax.max()
    assert 0.3 < wgan[-1] < 3.0
    assert rows[-1]["grad_norm_non_saturating"] > 1.0
    assert set(rows[0]) == {"theta", "step", "grad_norm_minimax", "grad_norm_non_saturating",
                            "grad_norm_wgan_gp", "abs_dtheta_mmd_bw_0p1", "abs_dtheta_mmd_bw_1",
                            "mean_d_of_g_z"}
    # A fixed Gaussian kernel: at theta = 1 the sigma = 0.1 MMD gives no gradient (like JS),
    # the sigma = 1 MMD does.
    assert all(r["abs_dtheta_mmd_bw_0p1"] < 1e-12 for r in rows)
    assert all(r["abs_dtheta_mmd_bw_1"] > 0.1 for r in rows)


@pytest.mark.parametrize("name", ["parallel_lines", "manifold", "vanishing_gradients"])
def test_demo_help_exits_cleanly(name, capsys):
    from otlab.demo import run_demo

    with pytest.raises(SystemExit) as info:
        run_demo(name, ["--help"])
    assert info.value.code == 0
    assert "--out" in capsys.readouterr().out


# ------------------------------------------------------------------ command-line checks
BAD_OPTIONS = [
    ("parallel_lines", ["--n", "0"], "--n: must be an integer >= 2"),
    ("parallel_lines", ["--thetas", "0"], "--thetas: must be an integer >= 2"),
    ("parallel_lines", ["--fd-step", "0"], "--fd-step: must be a finite number > 0"),
    ("parallel_lines", ["--critic-theta", "inf"], "--critic-theta: must be a finite number"),
    ("manifold", ["--steps", "0"], "--steps: must be an integer >= 1"),
    ("manifold", ["--noises", "-1"], "--noises: must be a finite number >= 0"),
    ("manifold", ["--dims", "1"], "--dims: must be an integer >= 2"),
    ("vanishing_gradients", ["--batch", "0"], "--batch: must be an integer >= 1"),
    ("vanishing_gradients", ["--thetas", "nan"], "--thetas: must be a finite number"),
    ("wgan", ["--threads", "0"], "--threads: must be an integer >= 1"),
    ("wgan", ["--iters", "-5"], "--iters: must be an integer >= 1"),
    ("wgan", ["--lr-d", "nan"], "--lr-d: must be a finite number > 0"),
    ("wgan", ["--betas", "0.5", "1.0"], "betas must be two numbers in [0, 1)"),
    ("wgan", ["--device", "tpu"], "--device must be auto, cpu, cuda or cuda:N; got 'tpu'"),
    ("wgan", ["--device", "cuda:x"], "--device must be auto, cpu, cuda or cuda:N; got 'cuda:x'"),
]


def _error_line(capsys):
    err = capsys.readouterr().err.strip().splitlines()
    return err[-1]


@pytest.mark.parametrize("demo, argv, message", BAD_OPTIONS)
def test_bad_options_end_in_one_argparse_error_line_and_exit_2(demo, argv, message, capsys,
                                                              tmp_path):
    from otlab.demo import run_demo

    with pytest.raises(SystemExit) as info:
        run_demo(demo, [*argv, "--out", str(tmp_path)])
    assert info.value.code == 2
    line = _error_line(capsys)
    assert line.startswith(f"python -m otlab.demo {demo}: error:") and message in line
    assert not any(tmp_path.iterdir())  # nothing ran


ALL_DEMOS = ["parallel_lines", "manifold", "vanishing_gradients", "wgan", "cgan", "infogan",
             "pix2pix", "cyclegan"]


@pytest.mark.parametrize("demo", ALL_DEMOS)
@pytest.mark.parametrize("where", ["below a file", "a file"])
def test_an_unwritable_out_folder_is_reported_in_one_line(demo, where, capsys, tmp_path):
    from otlab.demo import run_demo

    blocker = tmp_path / "a file"
    blocker.write_text("")
    out = blocker / "sub" if where == "below a file" else blocker
    with pytest.raises(SystemExit) as info:
        run_demo(demo, ["--out", str(out)])
    assert info.value.code == 2
    assert f"--out {out}: cannot write there" in _error_line(capsys)
    assert blocker.read_text() == ""


@pytest.mark.parametrize("demo", ALL_DEMOS)
def test_an_empty_out_is_refused_rather_than_writing_into_the_current_folder(demo, capsys):
    from otlab.demo import run_demo

    with pytest.raises(SystemExit) as info:
        run_demo(demo, ["--out", ""])
    assert info.value.code == 2
    assert "argument --out: must be a folder path; got ''" in _error_line(capsys)


def test_an_unknown_demo_exits_2_naming_the_demos(capsys):
    from otlab.demo import available_demos, run_demo

    with pytest.raises(SystemExit) as info:
        run_demo("wgann", [])
    assert info.value.code == 2
    line = _error_line(capsys)
    assert line.startswith("python -m otlab.demo: error: unknown demo 'wgann'")
    assert all(name in line for name in available_demos())


@pytest.mark.parametrize("demo", ALL_DEMOS)
def test_every_option_of_every_demo_follows_one_metavar_convention(demo, capsys):
    import re

    from otlab.demo import run_demo

    with pytest.raises(SystemExit):
        run_demo(demo, ["--help"])
    usage = capsys.readouterr().out.split("\n\n")[0]
    metavars = re.findall(r"\[--[\w-]+ ([^\]\s]+)", usage)
    assert metavars, usage
    for metavar in metavars:  # N counts, X numbers, LR rates, DIR folders, or {choices}
        assert metavar in {"N", "X", "LR", "DIR", "DEVICE", "LIST"} or metavar.startswith("{"), (
            demo, metavar)


@pytest.mark.parametrize("demo", ["wgan", "cgan", "infogan", "pix2pix", "cyclegan"])
def test_training_on_cuda_without_cuda_is_one_line(demo, capsys, tmp_path):
    import torch

    from otlab.demo import run_demo

    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    with pytest.raises(SystemExit) as info:
        run_demo(demo, ["--quick", "--device", "cuda", "--out", str(tmp_path / "o")])
    assert info.value.code == 2
    assert "--device cuda: CUDA is not available" in _error_line(capsys)
    assert not (tmp_path / "o").exists()


def test_device_auto_is_the_default_and_resolves_to_what_torch_sees():
    import torch

    from otlab.demo._common import device_note, resolve_device
    from otlab.demo.wgan import build_parser

    assert build_parser().parse_args([]).device == "auto"
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device(None, "auto") == expected
    assert device_note("auto", expected).startswith(f"device: {expected} (--device auto: ")


def test_wgan_help_gives_every_option_a_text_with_its_default_and_no_rst(capsys):
    from otlab.demo.wgan import build_parser

    parser = build_parser()
    for action in parser._actions:  # every option documents itself
        if action.dest != "help":
            assert action.help and "default" in action.help, action.dest
    text = parser.format_help()
    assert "``" not in text and ":math:" not in text
    assert "0.0001 for gan" in text  # the paper value itself, not "the paper default"


TINY_WGAN = ["--iters", "4", "--eval-every", "2", "--hidden", "8", "--depth", "1",
             "--batch-size", "16", "--n-critic", "1", "--eval-samples", "64", "--no-progress"]


def test_wgan_resume_with_another_width_is_refused_in_one_line(capsys, tmp_path):
    from otlab.demo import run_demo

    assert run_demo("wgan", [*TINY_WGAN, "--out", str(tmp_path)]) == 0
    argv = [*TINY_WGAN, "--out", str(tmp_path), "--resume", "--hidden", "32", "--iters", "8"]
    with pytest.raises(SystemExit) as info:
        run_demo("wgan", argv)
    assert info.value.code == 2
    line = _error_line(capsys)
    assert "is from a different run; differing settings: hidden (8 in the checkpoint, 32 now)" \
        in line


def test_wgan_resume_of_an_empty_checkpoint_names_the_file(capsys, tmp_path):
    from otlab.demo import run_demo

    (tmp_path / "checkpoint.pt").write_bytes(b"")
    with pytest.raises(SystemExit) as info:
        run_demo("wgan", [*TINY_WGAN, "--out", str(tmp_path), "--resume"])
    assert info.value.code == 2
    assert f"cannot read checkpoint {tmp_path / 'checkpoint.pt'}" in _error_line(capsys)


def test_wgan_compare_trains_both_losses_and_writes_strict_json(capsys, tmp_path):
    from otlab.demo import run_demo

    assert run_demo("wgan", [*TINY_WGAN, "--compare", "gan", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.count("final exact W1") == 2
    rows = _rows(tmp_path / "summary_table.json")
    assert [r["loss"] for r in rows] == ["wgan-gp", "gan"]
    assert all("high_quality_percent" in r for r in rows)
    _rows(tmp_path / "summary.json")
    assert (tmp_path / "comparison.png").stat().st_size > 0
    assert (tmp_path / "compare-gan" / "history.jsonl").exists()


def test_wgan_says_why_a_short_run_at_the_papers_rates_barely_moves(capsys, tmp_path):
    from otlab.demo import run_demo

    argv = ["--iters", "2", "--hidden", "8", "--depth", "1", "--batch-size", "16",
            "--eval-every", "0", "--no-progress", "--out", str(tmp_path)]
    assert run_demo("wgan", argv) == 0
    assert "needs about 20000 iterations; in 2 the generator barely moves" in (
        capsys.readouterr().out.replace("\n", " "))
    assert run_demo("wgan", [*argv, "--quick", "--compare", "none", "--overwrite"]) == 0
    assert "barely moves" not in capsys.readouterr().out


def test_wgan_into_a_folder_holding_another_run_exits_2_in_one_line_before_training(
        capsys, tmp_path):
    from otlab.demo import run_demo

    assert run_demo("wgan", [*TINY_WGAN, "--compare", "gan", "--out", str(tmp_path)]) == 0
    capsys.readouterr()
    with pytest.raises(SystemExit) as info:
        run_demo("wgan", [*TINY_WGAN, "--iters", "2", "--out", str(tmp_path)])
    assert info.value.code == 2
    assert "holds another run (history up to iteration 4); continue it with resume=True " \
           "(--resume), start afresh with overwrite=True (--overwrite" in _error_line(capsys)


def test_wgan_overwrite_leaves_no_snapshot_of_the_earlier_run(capsys, tmp_path):
    from otlab.demo import run_demo
    from otlab.gan import RunFolder

    assert run_demo("wgan", [*TINY_WGAN, "--iters", "6", "--out", str(tmp_path)]) == 0
    assert run_demo("wgan", [*TINY_WGAN, "--iters", "2", "--overwrite",
                             "--out", str(tmp_path)]) == 0
    snaps = RunFolder(tmp_path).snapshots()
    assert [int(s["iteration"]) for s in snaps] == [0, 2]
    assert _rows(tmp_path / "summary.json")["n_evaluations"] == 2


# ------------------------------------------------------------------ Ctrl-C
def _interrupt_repeatedly(argv, ready, tmp_path, *, every: float = 0.01, limit: float = 120.0):
    """Start ``python -m otlab.demo *argv``, wait until ``ready()``, then send SIGINT twice
    and again every ``every`` seconds until the process ends; return (returncode, stderr).

    The repeated signals reach every stage of the shutdown: the end of the iteration, the
    checkpoint write, the evaluator waiting for its solve, the exit of the interpreter."""
    import os
    import signal
    import subprocess
    import sys
    import time

    env = {**os.environ, "PYTHONPATH": os.getcwd(), "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "otlab.demo", *argv], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + limit
        while not ready() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert proc.poll() is None, f"the demo ended before it was interrupted: {proc.stderr.read()}"
        proc.send_signal(signal.SIGINT)  # what Ctrl-C sends: twice at once, then again and again
        proc.send_signal(signal.SIGINT)
        while proc.poll() is None and time.monotonic() < deadline:
            time.sleep(every)
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        assert proc.poll() is not None, "the demo did not stop within the time limit"
        return proc.returncode, proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


@pytest.mark.slow
@pytest.mark.parametrize("demo", ["wgan"])
def test_ctrl_c_pressed_again_and_again_during_shutdown_exits_130_without_traceback(demo, tmp_path):
    out = tmp_path / "run"
    argv = [demo, "--iters", "100000", "--hidden", "16", "--batch-size", "32", "--eval-every",
            "20", "--eval-samples", "1024", "--no-progress", "--device", "cpu", "--out", str(out)]
    if demo == "wgan":
        argv += ["--compare", "none"]
    snapshots = out / ("snapshots" if demo == "wgan" else "cgan/snapshots")
    code, err = _interrupt_repeatedly(argv, lambda: len(list(snapshots.glob("*.npz"))) >= 2,
                                      tmp_path)
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    assert code == 130, err
    assert err.strip().splitlines()[-1].endswith("interrupted; --resume continues the run")
    checkpoint = out / "checkpoint.pt" if demo == "wgan" else out / "cgan" / "checkpoint.pt"
    assert checkpoint.exists()
