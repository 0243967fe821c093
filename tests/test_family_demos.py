"""The cgan, infogan and pix2pix demos: options, validation, files, strict summary.json."""

import argparse
import json
import math
import re

import pytest

from otlab.demo import available_demos, run_demo

DEMOS = ("cgan", "infogan", "pix2pix", "cyclegan")
TINY = ["--iters", "4", "--eval-every", "2", "--hidden", "16", "--batch-size", "16",
        "--no-progress"]


def _strict(path):
    """Parse JSON refusing NaN and Infinity (Python's json accepts them by default)."""
    def refuse(name):
        raise ValueError(f"{path} holds {name}")
    return json.loads(path.read_text(), parse_constant=refuse)


def test_the_family_demos_are_listed():
    assert set(DEMOS) <= set(available_demos())


@pytest.mark.parametrize("name", DEMOS)
def test_every_option_has_help_and_names_its_default(name):
    import importlib

    parser = importlib.import_module(f"otlab.demo.{name}").build_parser()
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        assert action.help, f"{name}: {action.option_strings} has no help text"
        flag = isinstance(action, (argparse._StoreTrueAction, argparse._StoreFalseAction))
        assert flag or "default" in action.help, f"{name}: {action.option_strings}"


@pytest.mark.parametrize("name", DEMOS)
def test_help_shows_the_default_numbers_not_a_reference_to_the_paper(name, capsys):
    with pytest.raises(SystemExit):
        run_demo(name, ["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "the paper default" not in text
    assert re.search(r"--lr-d LR critic learning rate \(default: 0\.000\d", text), text
    assert re.search(r"--batch-size N samples per step \(default: \d+", text)


@pytest.mark.parametrize("name", DEMOS)
def test_help_exits_cleanly(name, capsys):
    with pytest.raises(SystemExit) as info:
        run_demo(name, ["--help"])
    assert info.value.code == 0
    text = capsys.readouterr().out
    assert "--quick" in text and "--out" in text and "--seed" in text


@pytest.mark.parametrize("name, argv, message", [
    ("cgan", ["--iters", "0"], "argument --iters: must be an integer >= 1; got '0'"),
    ("cgan", ["--data", "ring"], "argument --data: invalid choice: 'ring'"),
    ("cgan", ["--arch", "conv"], "arch='conv' needs data='digits'"),
    ("infogan", ["--codes", "1"], "n_codes must be >= 2"),
    ("infogan", ["--lr-d", "-1"], "argument --lr-d: must be a finite number > 0; got '-1'"),
    ("pix2pix", ["--variants", "l1,l2"], "argument --variants: expected a comma-separated list"),
    ("pix2pix", ["--dropout", "1.5"], r"dropout must be in \[0, 1\)"),
])
def test_bad_options_exit_2_with_a_one_line_error(name, argv, message, capsys):
    with pytest.raises(SystemExit) as info:
        run_demo(name, argv + ["--out", "/nonexistent/never-written"])
    assert info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith(f"python -m otlab.demo {name}: error:")
    assert re.search(message, err[-1])


def test_cgan_demo_writes_per_class_w1_for_both_runs_as_strict_json(tmp_path, capsys):
    argv = TINY + ["--eval-samples", "64", "--out", str(tmp_path)]
    assert run_demo("cgan", argv) == 0
    out = capsys.readouterr().out
    assert "mean per-class exact W1" in out
    assert re.search(r"^device: (cpu|cuda) \(--device auto: ", out, re.M)  # says which
    summary = _strict(tmp_path / "summary.json")
    for run in ("cgan", "unconditional"):
        assert len(summary["per_class_exact_w1"][run]) == 8
    assert summary["label_accuracy"]["unconditional"] is None  # NaN written as null
    assert ("summary.json: label_accuracy.unconditional is null (an unconditional run has no "
            "labels)") in out
    assert (tmp_path / "cgan.png").stat().st_size > 0
    assert (tmp_path / "unconditional" / "history.jsonl").exists()
    assert run_demo("cgan", argv + ["--resume"]) == 0  # nothing left to train: same numbers
    assert _strict(tmp_path / "summary.json") == summary
    # the figure's per-class counts come from every evaluated point: they give the summary's
    from otlab.gan.class_metrics import class_hits
    from otlab.gan.conditioning import split_labels
    from otlab.gan.family_figures import last_snapshot

    for run in ("cgan", "unconditional"):
        fake, labels = split_labels(last_snapshot(tmp_path / run)["fake"])
        assert len(fake) == 64
        hits = class_hits("8gaussians", fake, labels if run == "cgan" else None)
        assert int((hits >= 20).sum()) == summary["classes_covered"][run]


def test_infogan_demo_writes_the_exact_mi_next_to_the_bound(tmp_path, capsys):
    argv = TINY + ["--eval-samples", "80", "--continuous", "1", "--out", str(tmp_path)]
    assert run_demo("infogan", argv) == 0
    summary = _strict(tmp_path / "summary.json")
    assert 0 <= summary["mutual_information"] <= math.log(8) + 1e-12
    assert summary["mi_lower_bound"] <= math.log(8)
    assert len(summary["per_code_exact_w1"]) == 8 and "continuous_lower_bound" in summary
    assert (tmp_path / "infogan.png").stat().st_size > 0
    assert "variational bound L_I" in capsys.readouterr().out


def test_pix2pix_demo_writes_the_ablation_by_variant(tmp_path):
    argv = TINY + ["--variants", "l1,cgan+l1", "--out", str(tmp_path)]
    assert run_demo("pix2pix", argv) == 0
    summary = _strict(tmp_path / "summary.json")
    for key in ("l1", "psnr", "exact_w1"):
        assert set(summary[key]) == {"l1", "cgan+l1"}
        assert all(v > 0 for v in summary[key].values())
    assert (tmp_path / "pix2pix.png").stat().st_size > 0


def test_summary_json_writes_non_finite_numbers_as_null_and_says_why(tmp_path, capsys):
    from otlab.demo._family import write_summary

    write_summary(tmp_path, {"a": [1.0, math.inf], "b": {"c": math.nan}}, why={"a": "a reason"})
    assert _strict(tmp_path / "summary.json") == {"a": [1.0, None], "b": {"c": None}}
    assert capsys.readouterr().out.splitlines() == [
        "summary.json: a[1] is null (a reason)", "summary.json: b.c is null (not a finite number)"]


@pytest.mark.parametrize("name", ["cgan", "infogan", "pix2pix"])
def test_a_family_demo_into_an_out_holding_earlier_runs_exits_2_before_training(
        name, tmp_path, capsys):
    argv = TINY + ["--out", str(tmp_path)]
    if name == "pix2pix":
        argv = ["--iters", "2", "--eval-every", "2", "--hidden", "16", "--variants", "l1",
                "--no-progress", "--out", str(tmp_path)]
    assert run_demo(name, argv) == 0
    capsys.readouterr()
    with pytest.raises(SystemExit) as info:
        run_demo(name, argv)
    assert info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith(f"python -m otlab.demo {name}: error:")
    assert "holds another run" in err[-1] and "--overwrite" in err[-1]
    assert run_demo(name, argv + ["--overwrite"]) == 0


def test_cyclegan_demo_writes_exact_w1_and_cycle_l1_per_variant_as_strict_json(tmp_path, capsys):
    argv = ["--iters", "2", "--eval-every", "2", "--hidden", "16", "--batch-size", "8",
            "--no-progress", "--out", str(tmp_path)]
    assert run_demo("cyclegan", argv) == 0
    summary = _strict(tmp_path / "summary.json")
    for key in ("exact_w1", "cycle_l1"):
        assert set(summary[key]) == {"cyclegan", "no-cycle", "paired"}
        assert all(v >= 0 for v in summary[key].values())
    assert summary["identity_w1"] > summary["real_vs_real_w1"] > 0
    assert (tmp_path / "cyclegan.png").stat().st_size > 0
    assert "exact W1 of the translations to the thick digits" in capsys.readouterr().out
