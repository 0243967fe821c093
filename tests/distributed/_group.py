"""Run check functions in a Gloo process group of a few spawned processes, bounded in time.

Spawning a process that imports torch takes seconds here, so one group runs
several checks: :func:`run_checks` starts ``world_size`` processes
(``torch.multiprocessing``, start method ``spawn``), joins them over a
:class:`torch.distributed.FileStore` in a temporary folder (no port to pick,
so no race for one), and calls each check ``"module:function"`` in turn as
``function(rank, world_size, folder)``.  Every rank records ``None`` or the
traceback of each check; a check that raises on one rank makes the others
fail at their next collective after ``collective_timeout`` seconds rather
than hang, and the whole group is killed after ``timeout`` seconds.
"""

from __future__ import annotations

import datetime
import importlib
import json
import time
import traceback
import warnings
from pathlib import Path

__all__ = ["run_checks", "failures"]


def _worker(rank, world_size, folder, checks, backend, collective_timeout):
    import torch
    import torch.distributed as dist

    from otlab.exact import ConvergenceWarning

    torch.set_num_threads(1)
    warnings.simplefilter("error", ConvergenceWarning)  # as in the test configuration
    if backend == "nccl":
        torch.cuda.set_device(rank)
    folder = Path(folder)
    store = dist.FileStore(str(folder / "store"), world_size)
    dist.init_process_group(backend, store=store, rank=rank, world_size=world_size,
                            timeout=datetime.timedelta(seconds=collective_timeout))
    results, seconds = {}, {}
    try:
        for name in checks:
            module_name, function = name.split(":")
            start = time.perf_counter()
            try:
                getattr(importlib.import_module(module_name), function)(rank, world_size, folder)
                results[name] = None
            except (KeyboardInterrupt, SystemExit):
                raise
            except BaseException:  # noqa: BLE001 - reported to the parent test (pytest.fail too)
                results[name] = traceback.format_exc()
            seconds[name] = time.perf_counter() - start
            (folder / f"rank{rank}.json").write_text(json.dumps(results))
            (folder / f"seconds{rank}.json").write_text(json.dumps(seconds))
    finally:
        dist.destroy_process_group()


def run_checks(world_size: int, names, folder, *, backend: str = "gloo", timeout: float = 300,
               collective_timeout: float = 60) -> dict:
    """Run each check ``"module:function"`` of ``names`` on every rank, in order.

    Returns ``{name: [None or traceback for each rank]}``; a check a rank never
    reached (the group was killed or crashed first) reads ``"not run"``.
    """
    import torch.multiprocessing as mp

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    context = mp.start_processes(
        _worker, args=(world_size, str(folder), list(names), backend, collective_timeout),
        nprocs=world_size, join=False, start_method="spawn")
    deadline = time.monotonic() + timeout
    crashed = None
    try:
        while not context.join(timeout=max(1.0, deadline - time.monotonic())):
            if time.monotonic() >= deadline:
                crashed = f"the group did not finish within {timeout} s and was killed"
                break
    except Exception as exc:  # noqa: BLE001 - a worker died outside the checks
        crashed = f"a worker failed: {exc}"
    finally:
        for process in context.processes:
            if process.is_alive():
                process.kill()
                process.join(10)
    results = {}
    for rank in range(world_size):
        path = folder / f"rank{rank}.json"
        done = json.loads(path.read_text()) if path.exists() else {}
        for name in names:
            results.setdefault(name, []).append(done.get(name, crashed or "not run"))
    return results


def failures(results: dict, name: str) -> str:
    """The tracebacks of check ``name`` on the ranks where it failed ('' when it passed)."""
    return "\n".join(f"--- rank {rank} ---\n{error}"
                     for rank, error in enumerate(results[name]) if error is not None)
