"""The benchmark harness: measure() and the resumable grid over JSON-lines results."""

import json
import math
import os
import time
from pathlib import Path

import pytest

import benchmarks
from benchmarks._harness import (GridRows, append_jsonl, fields_key, grid_paths, markdown_table,
                                 measure, number, read_jsonl, run_grid, time_call, unmeasured)


def test_measure_times_the_median_run_after_warmup_and_reports_load_and_memory():
    calls = []
    m = measure(lambda: calls.append(1) or len(calls), repeat=3, warmup=2)
    assert len(calls) == 5 and m.result == 5 and m.runs == 3
    assert m.wall_s == sorted(m.walls)[1]
    assert m.cpu_s >= 0 and m.peak_rss > 0 and m.peak_cuda is None
    assert math.isnan(m.load_before) or m.load_before >= 0
    assert "result" not in m.row() and m.row("t_")["t_runs"] == 3


def test_a_long_single_run_is_one_timed_call_with_the_same_fields():
    calls = []
    m = measure(lambda: calls.append(1) or "done", repeat=1, warmup=0)
    assert calls == [1] and m.runs == 1 and m.result == "done" and len(m.walls) == 1
    assert m.wall_s == m.walls[0] >= 0 and m.cpu_s >= 0 and m.peak_rss > 0
    assert set(m.row()) == {"wall_s", "cpu_s", "runs", "load_before", "load_after", "peak_rss",
                            "peak_cuda", "walls", "cpus"}
    assert m.cpus == [m.cpu_s]


def test_measure_counts_the_cpu_time_of_the_work():
    def busy():
        total, end = 0, time.process_time() + 0.05
        while time.process_time() < end:
            total += 1
        return total

    m = measure(busy, repeat=1, warmup=0)
    assert m.cpu_s >= 0.04 and m.wall_s >= 0.04 * 0.5  # CPU time of this process


def test_measure_stops_repeating_past_its_budget():
    m = measure(lambda: time.sleep(0.02), repeat=50, warmup=0, budget_s=0.01)
    assert m.runs == 1


def test_time_call_is_measure_s_median_wall_and_result():
    seconds, result = time_call(lambda: 7, repeat=1, warmup=0)
    assert result == 7 and seconds >= 0


def test_grid_runs_only_missing_cases_and_report_only_runs_none(tmp_path):
    results = tmp_path / "runs.jsonl"
    grid = [{"n": n} for n in (1, 2, 3)]
    ran = []

    def run(case):
        ran.append(case["n"])
        return {"value": case["n"] * 10}

    assert run_grid(grid[:2], run, results, key=lambda r: r["n"], log=None) == [
        {"n": 1, "value": 10}, {"n": 2, "value": 20}]
    assert run_grid(grid, run, results, key=lambda r: r["n"], report_only=True, log=None) == [
        {"n": 1, "value": 10}, {"n": 2, "value": 20}]
    rows = run_grid(grid, run, results, key=lambda r: r["n"], log=None)
    assert ran == [1, 2, 3] and [r["value"] for r in rows] == [10, 20, 30]
    assert len(read_jsonl(results)) == 3


def test_grid_does_not_run_a_case_already_recorded_even_in_a_new_call(tmp_path):
    results = tmp_path / "runs.jsonl"
    append_jsonl(results, {"n": 2, "value": -1})  # recorded by an earlier (interrupted) call
    ran = []
    rows = run_grid([{"n": 1}, {"n": 2}], lambda c: ran.append(c["n"]) or {"value": c["n"]},
                    results, key=lambda r: r["n"], log=None)
    assert ran == [1] and rows == [{"n": 1, "value": 1}, {"n": 2, "value": -1}]
    assert rows.failed == [] and rows.missing == []


def test_a_crashed_case_is_recorded_the_grid_goes_on_and_the_next_call_retries_it(tmp_path):
    results, logged = tmp_path / "runs.jsonl", []
    flaky = {"fail": True}

    def run(case):
        if case["n"] == 2 and flaky["fail"]:
            raise RuntimeError("out of memory")
        return {"value": case["n"]}

    grid = [{"n": n} for n in (1, 2, 3)]
    rows = run_grid(grid, run, results, key=lambda r: r["n"], log=logged.append)
    assert [r["n"] for r in rows] == [1, 3] and rows.missing == []
    assert [r["n"] for r in rows.failed] == [2]
    assert rows.failed[0]["error"] == "RuntimeError: out of memory"
    assert "RuntimeError" in rows.failed[0]["traceback"]
    assert any("FAILED (RuntimeError: out of memory)" in line for line in logged)
    assert [r["n"] for r in read_jsonl(results)] == [1, 2, 3]  # the failure is recorded

    report = run_grid(grid, run, results, key=lambda r: r["n"], report_only=True, log=None)
    assert [r["n"] for r in report] == [1, 3] and [r["n"] for r in report.failed] == [2]

    flaky["fail"] = False
    rows = run_grid(grid, run, results, key=lambda r: r["n"], log=None)
    assert [r["value"] for r in rows] == [1, 2, 3] and rows.failed == []


def test_a_failure_kept_as_done_is_not_retried(tmp_path):
    results = tmp_path / "runs.jsonl"
    append_jsonl(results, {"n": 1, "error": "ValueError: bad", "traceback": ""})
    rows = run_grid([{"n": 1}], lambda c: pytest.fail("retried"), results,
                    key=lambda r: r["n"], retry_failed=False, log=None)
    assert rows == [] and rows.failed[0]["error"] == "ValueError: bad"


def test_a_later_failure_does_not_hide_an_earlier_success(tmp_path):
    results = tmp_path / "runs.jsonl"
    append_jsonl(results, {"n": 1, "value": 1})
    append_jsonl(results, {"n": 1, "error": "KeyboardInterrupt", "traceback": ""})
    rows = run_grid([{"n": 1}], lambda c: pytest.fail("ran"), results, key=lambda r: r["n"],
                    log=None)
    assert rows == [{"n": 1, "value": 1}]


def test_grid_starts_nothing_past_its_budget_and_lists_what_is_missing(tmp_path):
    results = tmp_path / "runs.jsonl"

    def slow(case):
        time.sleep(0.05)
        return {"value": case["n"]}

    rows = run_grid([{"n": n} for n in range(4)], slow, results, key=lambda r: r["n"],
                    budget_s=0.01, log=None)
    assert [r["n"] for r in rows] == [0] and [c["n"] for c in rows.missing] == [1, 2, 3]


def _square_or_fail(case):  # module level: run in worker processes
    if case["n"] < 0:
        raise ValueError(f"negative n {case['n']}")
    return {"square": case["n"] ** 2, "pid": os.getpid()}


def test_grid_runs_cases_in_parallel_processes_and_records_their_failures(tmp_path):
    results = tmp_path / "runs.jsonl"
    grid = [{"n": n} for n in (3, -1, 2)]
    rows = run_grid(grid, _square_or_fail, results, key=lambda r: r["n"], n_jobs=2, log=None)
    assert [(r["n"], r["square"]) for r in rows] == [(3, 9), (2, 4)]
    assert all(r["pid"] != os.getpid() for r in rows)
    assert rows.failed[0]["error"] == "ValueError: negative n -1"
    assert sorted(r["n"] for r in read_jsonl(results)) == [-1, 2, 3]


@pytest.mark.parametrize("n_jobs", [0, 1.5, "2"])
def test_grid_rejects_a_bad_number_of_jobs(tmp_path, n_jobs):
    with pytest.raises(ValueError, match=f"n_jobs must be a positive integer; got {n_jobs!r}"):
        run_grid([], dict, tmp_path / "r.jsonl", key=id, n_jobs=n_jobs)


def test_fields_key_matches_a_case_to_its_row_whatever_the_order_of_nested_settings():
    key = fields_key("case", "settings")
    assert key({"case": "a", "settings": {"x": 1, "y": [1, 2]}}) == key(
        {"settings": {"y": [1, 2], "x": 1}, "case": "a", "value": 0.5})
    assert key({"case": "a", "settings": {"x": 1}}) != key({"case": "a", "settings": {"x": 2}})


def test_rows_are_strict_json_with_non_finite_numbers_as_null(tmp_path):
    path = tmp_path / "rows.jsonl"
    append_jsonl(path, {"a": float("nan"), "b": [1.0, float("inf")], "c": {"d": -float("inf")}})
    assert json.loads(path.read_text()) == {"a": None, "b": [1.0, None], "c": {"d": None}}


def test_markdown_table_keeps_the_column_order_and_formats_floats():
    table = markdown_table([{"n": 1, "s": 0.123456}, {"n": 2, "s": float("nan")}])
    assert table.splitlines()[0] == "| n | s |"
    assert "| 1 | 0.1235 |" in table and "| 2 | n/a |" in table


SCRIPTS = sorted(p.stem for p in Path(benchmarks.__file__).parent.glob("*.py")
                 if not p.stem.startswith("_"))
#: Scripts whose move onto the harness is still under way.
HAND_TIMED = set()
#: Modules of data or figures that other scripts import (no ``main`` of a benchmark).
HELPERS = {"critics_w1_published", "gan_family_figures"}


@pytest.mark.parametrize("name", SCRIPTS)
def test_benchmarks_import_as_modules_of_the_package(name):
    import importlib

    module = importlib.import_module(f"benchmarks.{name}")
    assert callable(getattr(module, "main", None)) or name in HELPERS


@pytest.mark.parametrize("name", sorted(set(SCRIPTS) - HAND_TIMED))
def test_scripts_time_through_the_harness_and_leave_sys_path_alone(name):
    source = (Path(benchmarks.__file__).parent / f"{name}.py").read_text()
    for hand in ("perf_counter", "process_time", "sys.path", "os.getloadavg"):
        assert hand not in source, f"benchmarks/{name}.py uses {hand}: use the harness"


@pytest.mark.parametrize("name", sorted(set(SCRIPTS) - HELPERS))
def test_every_script_answers_help_without_running_anything(name, capsys):
    import importlib

    module = importlib.import_module(f"benchmarks.{name}")
    with pytest.raises(SystemExit) as exit_:
        module.main(["--help"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.startswith("usage:")
    source = (Path(benchmarks.__file__).parent / f"{name}.py").read_text()
    assert 'if __name__ == "__main__":' in source, f"python -m benchmarks.{name} runs nothing"


def test_grid_paths_default_to_the_report_folder_and_its_results_file(tmp_path, monkeypatch):
    import argparse

    import benchmarks._harness as harness

    monkeypatch.setattr(harness, "REPORTS", tmp_path / "reports")
    args = argparse.Namespace(out=None, results=None)
    assert grid_paths(args, "x.jsonl") == (tmp_path / "reports", tmp_path / "reports" / "x.jsonl")
    assert (tmp_path / "reports").is_dir()
    args = argparse.Namespace(out=tmp_path / "o", results=tmp_path / "r.jsonl")
    assert grid_paths(args, "x.jsonl") == (tmp_path / "o", tmp_path / "r.jsonl")


def test_unmeasured_lists_the_failed_and_the_missing_cases_and_nothing_else():
    rows = GridRows([{"n": 1, "value": 1}], failed=[{"n": 2, "error": "ValueError: bad",
                                                      "traceback": "..."}],
                    missing=[{"n": 3}])
    assert unmeasured(rows).splitlines() == ['- {"n": 2}: failed (ValueError: bad)',
                                            '- {"n": 3}: not run']
    assert unmeasured(rows, describe=lambda c: f"n = {c['n']}").splitlines()[0] == \
        "- n = 2: failed (ValueError: bad)"
    assert unmeasured(GridRows([{"n": 1}])) == ""


def test_a_nan_stored_as_null_reads_back_as_nan(tmp_path):
    path = tmp_path / "rows.jsonl"
    append_jsonl(path, {"a": float("nan"), "b": 2})
    row = read_jsonl(path)[0]
    assert math.isnan(number(row["a"])) and number(row["b"]) == 2.0
