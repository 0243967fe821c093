"""The one benchmark harness: measure a call, run a resumable grid, write the report.

Every benchmark (``python -m benchmarks.NAME``) is its cases, its run and its
report on top of three pieces:

* :func:`measure` — one call, timed after warm-up runs: median wall time,
  CPU time, the load average before and after, peak memory (the process's
  peak resident set, and the CUDA allocator's peak on a GPU), with the
  versions (:func:`machine_description`) written by :func:`write_report`;
* :func:`run_grid` — a resumable grid over JSON-lines results: every finished
  case is appended at once, a second call runs only the missing cases, a case
  that raised is recorded with its error and run again by the next call,
  ``n_jobs`` runs cases in parallel processes, ``budget_s`` stops starting
  new ones, and ``report_only=True`` re-renders the report from the recorded
  rows;
* :func:`write_report` — ``benchmarks/reports/<name>.md`` with the machine,
  the load, the library versions and the sections (tables through
  :func:`markdown_table`, figures through :func:`save_png`).

The older helpers (:func:`time_call`, :func:`peak_cuda_memory`,
:func:`run_timed`, :func:`read_jsonl`) stay as thin wrappers for the scripts
that use them.
"""

from __future__ import annotations

import gc
import importlib
import json
import math
import os
import platform
import resource
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPORTS = Path(__file__).resolve().parent / "reports"

__all__ = ["REPORTS", "Measurement", "measure", "run_grid", "GridRows", "fields_key",
           "add_grid_arguments", "grid_paths", "unmeasured", "number",
           "append_jsonl", "read_jsonl", "load_average", "time_call", "machine_description",
           "markdown_table", "write_report", "peak_cuda_memory", "pyplot", "save_png",
           "run_timed"]


def _synchronize(device: str | None) -> None:
    if device and str(device).startswith("cuda"):
        import torch

        torch.cuda.synchronize()


def load_average() -> float:
    """The 1-minute load average (``nan`` where the system does not report it)."""
    try:
        return os.getloadavg()[0]
    except (OSError, AttributeError):
        return math.nan


def _peak_rss_bytes() -> int:
    """Peak resident set of this process so far (``ru_maxrss``: KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak) if platform.system() == "Darwin" else int(peak) * 1024


@dataclass
class Measurement:
    """What :func:`measure` saw: times in seconds, memory in bytes, load before and after.

    ``wall_s`` is the median over the timed runs (``runs`` of them), ``cpu_s``
    the process CPU time of that median run (``walls`` and ``cpus``: every
    timed run's, in order); ``peak_rss`` is the process's peak
    resident set at the end (it never decreases within a process: measure big
    cases in fresh processes); ``peak_cuda`` the CUDA allocator's peak during
    the timed runs (``None`` off the GPU).
    """

    wall_s: float
    cpu_s: float
    runs: int
    load_before: float
    load_after: float
    peak_rss: int
    peak_cuda: int | None = None
    walls: list = field(default_factory=list)
    cpus: list = field(default_factory=list)
    result: object = field(default=None, repr=False)

    def row(self, prefix: str = "") -> dict:
        """The numbers as a flat dict for a JSON-lines row (``result`` left out)."""
        out = asdict(self)
        out.pop("result")
        return {prefix + k: v for k, v in out.items()}


def measure(fn, *, repeat: int = 3, warmup: int = 1, device: str | None = None,
            budget_s: float | None = None) -> Measurement:
    """Time ``fn()``: ``warmup`` untimed runs, then up to ``repeat`` timed ones.

    CUDA is synchronised around every run when ``device`` is a CUDA device.
    With ``budget_s``, stops repeating once the timed runs so far have taken
    that long (at least one timed run is made).  A long single run (a training
    run, a solve of minutes) is ``measure(fn, repeat=1, warmup=0)``: the same
    fields, one run.

    Examples
    --------
    >>> m = measure(lambda: sum(range(1000)), repeat=3, warmup=1)
    >>> m.runs, m.result, m.wall_s >= 0, m.peak_rss > 0
    (3, 499500, True, True)
    """
    cuda = bool(device) and str(device).startswith("cuda")
    result = None
    for _ in range(warmup):
        result = fn()
        _synchronize(device)
    if cuda:
        import torch

        torch.cuda.reset_peak_memory_stats(device)
    load_before = load_average()
    timed = []
    for _ in range(repeat):
        gc.collect()
        _synchronize(device)
        cpu, start = time.process_time(), time.perf_counter()
        result = fn()
        _synchronize(device)
        timed.append((time.perf_counter() - start, time.process_time() - cpu))
        if budget_s is not None and sum(w for w, _ in timed) > budget_s:
            break
    walls, cpus = [w for w, _ in timed], [c for _, c in timed]
    wall, cpu = sorted(timed)[len(timed) // 2]
    peak_cuda = None
    if cuda:
        import torch

        peak_cuda = int(torch.cuda.max_memory_allocated(device))
    return Measurement(wall_s=wall, cpu_s=cpu, runs=len(timed), load_before=load_before,
                       load_after=load_average(), peak_rss=_peak_rss_bytes(),
                       peak_cuda=peak_cuda, walls=walls, cpus=cpus, result=result)


def time_call(fn, *, repeat: int = 3, warmup: int = 1, device: str | None = None,
              budget_s: float | None = None):
    """Median wall time of ``fn()`` and its last result: ``(seconds, result)`` (:func:`measure`)."""
    m = measure(fn, repeat=repeat, warmup=warmup, device=device, budget_s=budget_s)
    return m.wall_s, m.result


def peak_cuda_memory(fn, device: str = "cuda"):
    """Run ``fn()`` once and return ``(peak bytes allocated on the GPU, result)``."""
    import torch

    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats(device)
    result = fn()
    torch.cuda.synchronize()
    return torch.cuda.max_memory_allocated(device), result


def _version(name: str) -> str:
    try:
        return getattr(importlib.import_module(name), "__version__", "?")
    except Exception:  # noqa: BLE001 - a missing peer is reported, not fatal
        return "not installed"


def machine_description(device: str = "cpu") -> list[str]:
    """Lines describing the machine, the device and the library versions."""
    lines = [
        f"- machine: {platform.machine()}, {os.cpu_count()} CPU cores, {platform.system()}",
        f"- load average (1 min) when the report was written: {load_average():.2f}",
        f"- python {platform.python_version()}",
    ]
    try:
        import torch

        lines.append(f"- torch threads: {torch.get_num_threads()}")
        if str(device).startswith("cuda") and torch.cuda.is_available():
            lines.append(f"- device: {torch.cuda.get_device_name(0)} (CUDA {torch.version.cuda})")
        else:
            lines.append("- device: CPU")
    except ImportError:
        lines.append("- device: CPU (torch not installed)")
    versions = ", ".join(f"{n} {_version(m)}" for n, m in
                         [("otlab", "otlab"), ("numpy", "numpy"), ("scipy", "scipy"),
                          ("POT", "ot"), ("torch", "torch"), ("geomloss", "geomloss")])
    lines.append(f"- versions: {versions}")
    return lines


def _fmt(value) -> str:
    if isinstance(value, float):
        if value != value:
            return "n/a"
        return f"{value:.4g}"
    return str(value)


def read_jsonl(path: Path) -> list[dict]:
    """The rows of a JSON-lines results file (none when it does not exist yet)."""
    path = Path(path)
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def append_jsonl(path: Path, row: dict) -> None:
    """Append ``row`` as one JSON line (strict JSON: NaN and infinities as ``null``), flushed."""
    def strict(v):
        if isinstance(v, float) and not math.isfinite(v):
            return None
        if isinstance(v, dict):
            return {k: strict(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [strict(x) for x in v]
        return v

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as fh:
        fh.write(json.dumps(strict(row), allow_nan=False) + "\n")
        fh.flush()


def fields_key(*names):
    """A ``key`` for :func:`run_grid`: the tuple of these fields, dicts and lists as sorted JSON.

    Examples
    --------
    >>> key = fields_key("case", "settings")
    >>> key({"case": "a", "settings": {"b": 1, "a": [2]}, "value": 3})
    ('a', '{"a": [2], "b": 1}')
    """
    def key(row):
        return tuple(json.dumps(row[n], sort_keys=True) if isinstance(row[n], (dict, list))
                     else row[n] for n in names)

    return key


class GridRows(list):
    """The rows :func:`run_grid` returns, in the order of the cases, with what is not there.

    A plain list of the recorded rows of the cases that ran without error, plus
    ``failed`` (the latest row of each case whose run raised: its parameters,
    ``"error"`` and ``"traceback"``) and ``missing`` (the cases with no row at
    all: never run, or not started within the time budget).
    """

    def __init__(self, rows=(), *, failed=(), missing=()):
        super().__init__(rows)
        self.failed = list(failed)
        self.missing = list(missing)


def _error_row(case: dict, exc: BaseException) -> dict:
    tail = traceback.format_exception(type(exc), exc, exc.__traceback__)[-3:]
    return {**case, "error": f"{type(exc).__name__}: {exc}"[:500],
            "traceback": "".join(tail)[-2000:]}


def _run_serial(todo, run_case, record, started, budget_s):
    """Run ``todo`` one after another in this process; return the cases not started."""
    for i, case in enumerate(todo):
        if budget_s is not None and time.perf_counter() - started > budget_s:
            return todo[i:]
        try:
            row = {**case, **run_case(case)}
        except Exception as exc:  # noqa: BLE001 - recorded, retried by the next call
            row = _error_row(case, exc)
        record(case, row)
    return []


def _run_parallel(todo, run_case, record, started, budget_s, n_jobs):
    """Run ``todo`` in ``n_jobs`` fresh processes; return the cases not started."""
    import concurrent.futures as cf
    import multiprocessing

    todo = list(todo)
    ctx = multiprocessing.get_context("spawn")  # CUDA cannot be forked
    with cf.ProcessPoolExecutor(max_workers=n_jobs, mp_context=ctx) as pool:
        running = {}
        while todo or running:
            while todo and len(running) < n_jobs and (
                    budget_s is None or time.perf_counter() - started < budget_s):
                case = todo.pop(0)
                running[pool.submit(run_case, case)] = case
            if not running:
                break
            finished, _ = cf.wait(running, return_when=cf.FIRST_COMPLETED)
            for fut in finished:
                case = running.pop(fut)
                exc = fut.exception()
                record(case, _error_row(case, exc) if exc else {**case, **fut.result()})
    return todo


def run_grid(cases, run_case, results: Path, *, key, report_only: bool = False,
             log=print, n_jobs: int = 1, budget_s: float | None = None,
             retry_failed: bool = True) -> GridRows:
    """Run the cases that ``results`` does not hold yet; return the rows of all ``cases``.

    Parameters
    ----------
    cases : iterable of dict
        The grid, one dict of parameters per case.
    run_case : callable
        ``run_case(case) -> dict``: the row to record (the case's parameters are
        added to it).  With ``n_jobs > 1`` it runs in fresh processes and must
        be a module-level function.
    results : path
        JSON-lines file of finished rows; each row is appended as soon as its
        case ends, so an interrupted grid resumes where it stopped.
    key : callable
        ``key(row_or_case) -> hashable``: which recorded row answers which case
        (:func:`fields_key` builds one).
    report_only : bool
        Run nothing; return the recorded rows of ``cases`` (to re-render a report).
    log : callable or None
        Where progress lines go (``print``; ``None`` for silence).
    n_jobs : int
        Cases run at once, each in its own process (1: in this process).
    budget_s : float, optional
        No case is started after this many seconds; those left are in ``missing``.
    retry_failed : bool
        A case whose run raised is recorded with ``"error"`` and ``"traceback"``
        and the grid goes on; a later call runs it again (``False``: a recorded
        failure counts as done and stays in ``failed``).

    Returns
    -------
    GridRows
        The latest row of each case that ran without error, in the order of
        ``cases``; ``.failed`` and ``.missing`` list the others.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "runs.jsonl"
    >>> grid = [{"n": 1}, {"n": 2}]
    >>> rows = run_grid(grid, lambda c: {"square": c["n"] ** 2}, path, key=lambda r: r["n"],
    ...                 log=None)
    >>> [r["square"] for r in rows]
    [1, 4]
    >>> calls = []
    >>> rows = run_grid(grid + [{"n": 3}], lambda c: calls.append(c) or {"square": 9}, path,
    ...                 key=lambda r: r["n"], log=None)
    >>> calls, len(rows)
    ([{'n': 3}], 3)
    >>> rows = run_grid([{"n": 0}], lambda c: {"inverse": 1 / c["n"]}, path, key=lambda r: r["n"],
    ...                 log=None)
    >>> len(rows), rows.failed[0]["error"]
    (0, 'ZeroDivisionError: division by zero')
    """
    if not isinstance(n_jobs, int) or n_jobs < 1:
        raise ValueError(f"n_jobs must be a positive integer; got {n_jobs!r}")
    cases = list(cases)

    def done(row):
        return "error" not in row or not retry_failed

    have = {key(r) for r in read_jsonl(results) if done(r)}
    todo = [c for c in cases if key(c) not in have]
    if todo and not report_only:
        count = [0]

        def record(case, row):
            append_jsonl(results, row)
            count[0] += 1
            if log:
                status = f"FAILED ({row['error']})" if "error" in row else "done"
                log(f"[{count[0]}/{len(todo)}] {json.dumps(case, default=str)} {status}")

        started = time.perf_counter()
        if n_jobs == 1:
            left = _run_serial(todo, run_case, record, started, budget_s)
        else:
            left = _run_parallel(todo, run_case, record, started, budget_s, n_jobs)
        if left and log:
            log(f"time budget of {budget_s:g} s reached: {len(left)} cases not started")
    wanted = {key(c) for c in cases}
    latest = {}
    for row in read_jsonl(results):
        if key(row) in wanted and (key(row) not in latest or "error" in latest[key(row)]
                                   or "error" not in row):
            latest[key(row)] = row  # the latest success wins over any failure
    rows = [latest.get(key(c)) for c in cases]
    return GridRows([r for r in rows if r is not None and "error" not in r],
                    failed=[r for r in rows if r is not None and "error" in r],
                    missing=[c for c, r in zip(cases, rows) if r is None])



def add_grid_arguments(parser, results_name: str) -> None:
    """Add ``--out``, ``--results`` and ``--report-only``, the options of a script on :func:`run_grid`.

    ``results_name`` is the results file's name in the report folder, the
    default of ``--results``.
    """
    parser.add_argument("--out", type=Path, default=None, help="report folder")
    parser.add_argument("--results", type=Path, default=None,
                        help=f"JSON-lines results (default: <out>/{results_name}); cases "
                        "already in it are not run again")
    parser.add_argument("--report-only", action="store_true",
                        help="run nothing: rewrite the report from the results")


def grid_paths(args, results_name: str) -> tuple[Path, Path]:
    """The report folder and the results file of a script on :func:`add_grid_arguments`.

    ``args.out`` (default :data:`REPORTS`, created if missing) and ``args.results``
    (default ``<out>/<results_name>``).
    """
    out = Path(args.out) if args.out else REPORTS
    out.mkdir(parents=True, exist_ok=True)
    return out, Path(args.results) if args.results else out / results_name


def number(value) -> float:
    """A number read back from a results row: ``None`` (how a row stores NaN) is NaN again.

    >>> number(None), number(2)
    (nan, 2.0)
    """
    return math.nan if value is None else float(value)


def unmeasured(rows: GridRows, *, describe=None) -> str:
    """Markdown lines for the cases of :func:`run_grid` without a result (failed, missing).

    ``describe(case) -> str`` names a case (default: its parameters as JSON);
    empty when every case has its row.

    Examples
    --------
    >>> print(unmeasured(GridRows([], failed=[{"n": 2, "error": "ValueError: x"}],
    ...                           missing=[{"n": 3}])))
    - {"n": 2}: failed (ValueError: x)
    - {"n": 3}: not run
    """
    def name(case):
        case = {k: v for k, v in case.items() if k not in ("error", "traceback")}
        return describe(case) if describe else json.dumps(case, default=str)

    return "\n".join([f"- {name(r)}: failed ({r['error']})" for r in rows.failed]
                     + [f"- {name(c)}: not run" for c in rows.missing])


def markdown_table(rows: list[dict]) -> str:
    """Render rows (dicts with the same keys) as a Markdown table."""
    if not rows:
        return "(no rows)\n"
    keys = list(rows[0])
    out = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    out += ["| " + " | ".join(_fmt(r.get(k, "")) for k in keys) + " |" for r in rows]
    return "\n".join(out) + "\n"


def write_report(name: str, title: str, *, device: str, sections: list[tuple[str, str]],
                 out_dir: Path | None = None, script: str | None = None) -> Path:
    """Write ``<out_dir or REPORTS>/<name>.md`` with the machine header and sections.

    ``sections`` is a list of ``(heading, markdown body)`` pairs; ``script`` is
    the command that generated it (default ``benchmarks/<name>.py``).
    """
    out_dir = Path(out_dir) if out_dir else REPORTS
    out_dir.mkdir(parents=True, exist_ok=True)
    parts = [f"# {title}\n", f"Generated by `{script or f'python -m benchmarks.{name}'}` on "
             f"{time.strftime('%Y-%m-%d %H:%M')}.\n", *machine_description(device), ""]
    for heading, body in sections:
        parts += [f"## {heading}\n", body, ""]
    path = out_dir / f"{name}.md"
    path.write_text("\n".join(parts))
    return path


def pyplot():
    """``matplotlib.pyplot`` on the non-interactive Agg back-end (reports are files)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_png(fig, path, *, dpi: int = 120, rect=(0.0, 0.0, 1.0, 1.0)) -> Path:
    """Lay out (inside ``rect``, figure fractions), save ``fig`` as a PNG at ``path``, close it."""
    fig.tight_layout(rect=rect)
    fig.savefig(path, dpi=dpi)
    pyplot().close(fig)
    return Path(path)


def run_timed(main) -> None:
    """Run a benchmark's ``main()`` and print its wall time."""
    start = time.perf_counter()
    main()
    print(f"total {time.perf_counter() - start:.1f} s")
