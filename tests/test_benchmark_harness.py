"""The benchmark harness: measure() and the resumable grid over JSON-lines results."""

import json
import math

import pytest

from benchmarks._harness import (append_jsonl, markdown_table, measure, read_jsonl, run_grid,
                                 time_call)


def test_measure_times_the_median_run_after_warmup_and_reports_load_and_memory():
    calls = []
    m = measure(lambda: calls.append(1) or len(calls), repeat=3, warmup=2)
    assert len(calls) == 5 and m.result == 5 and m.runs == 3
    assert m.wall_s == sorted(m.walls)[1]
    assert m.cpu_s >= 0 and m.peak_rss > 0 and m.peak_cuda is None
    assert math.isnan(m.load_before) or m.load_before >= 0
    assert "result" not in m.row() and m.row("t_")["t_runs"] == 3


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


def test_rows_are_strict_json_with_non_finite_numbers_as_null(tmp_path):
    path = tmp_path / "rows.jsonl"
    append_jsonl(path, {"a": float("nan"), "b": [1.0, float("inf")], "c": {"d": -float("inf")}})
    assert json.loads(path.read_text()) == {"a": None, "b": [1.0, None], "c": {"d": None}}


def test_markdown_table_keeps_the_column_order_and_formats_floats():
    table = markdown_table([{"n": 1, "s": 0.123456}, {"n": 2, "s": float("nan")}])
    assert table.splitlines()[0] == "| n | s |"
    assert "| 1 | 0.1235 |" in table and "| 2 | n/a |" in table


@pytest.mark.parametrize("name", ["exact", "sinkhorn", "wgan", "gan_family"])
def test_benchmarks_import_as_modules_of_the_package(name):
    import importlib

    module = importlib.import_module(f"benchmarks.{name}")
    assert callable(module.main)
