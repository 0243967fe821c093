"""Every committed report re-renders from its committed results to the same tables.

Each benchmark that commits its results (JSON lines next to its report) can
rewrite its report from them without measuring anything (``--report-only`` or
the script's equivalent).  Here each one does so into a temporary folder, and
the tables (every Markdown table row) and section headings must equal those of
the committed report; only the header (date, load, machine) may differ.  A
benchmark re-run with other options must update the arguments below with its
report, so that the committed report keeps saying how it was made.
"""

import contextlib
import importlib
import io
import shlex

import pytest

import benchmarks._harness as harness

COMMITTED = harness.REPORTS

#: (script, report name, arguments): ``{results}`` is the folder of the committed results,
#: ``{out}`` the temporary report folder.
RERENDER = [
    ("adversarial_cases", "adversarial_cases",
     "--report-only --results {results}/adversarial_cases.jsonl --out {out}"),
    ("critic_accuracy", "critic_accuracy",
     "--report-only --seeds 2 --n 300 --steps 600 --results {results}/critic_accuracy.jsonl "
     "--out {out}"),
    ("critics_w1_benchmark", "critics_w1_benchmark",
     "--report-only --results {results}/critics_w1_benchmark.jsonl"),
    ("critics_w1_diagnosis", "critics_w1_diagnosis",
     "--report-only --seeds 0 1 2 3 4 5 --results {results}/critics_w1_diagnosis.jsonl"),
    ("distributed", "distributed",
     "--report-only --results {results}/distributed.jsonl --out {out}"),
    ("divergences", "divergences",
     "--report-only --results {results}/divergences_runs.jsonl "
     "--accuracy {results}/divergences_accuracy.json --out {out}"),
    ("exact", "exact", "--report-only --results {results}/exact.jsonl --out {out}"),
    ("exact_engine", "exact_engine",
     "--report-only --results {results}/exact_engine.jsonl --out {out}"),
    ("exact_grid", "exact_grid",
     "--report-only --results {results}/exact_grid_runs.jsonl --out {out}"),
    ("exact_scale", "exact_scale",
     "--report-only --results {results}/exact_scale_runs.jsonl --out {out}"),
    ("gan_modes", "gan_modes",
     "--report-only --results {results}/gan_modes_runs.jsonl --out {out}"),
    ("gan_family", "gan_family",
     "--report-only --results {results}/gan_family_runs.jsonl --out {out}"),
    ("knn_kl_bias", "knn_kl_bias",
     "--report-only --results {results}/knn_kl_bias.jsonl --out {out}"),
    ("quick_wgan", "quick_wgan",
     "--report-only --results {results}/quick_wgan_runs.jsonl --out {out}"),
    ("sinkhorn", "sinkhorn", "--report-only --results {results}/sinkhorn.jsonl --out {out}"),
    ("sinkhorn_backends", "sinkhorn_backends",
     "--report-only --results {results}/sinkhorn_backends.jsonl --out {out}"),
    ("sinkhorn_busy", "sinkhorn_busy", "--report-only"),
    ("sinkhorn_convergence", "sinkhorn_convergence",
     "--report-only --results {results}/sinkhorn_convergence.jsonl --out {out}"),
    ("sinkhorn_time_to_accuracy", "sinkhorn_time_to_accuracy",
     "--report-only --sizes 1000,2000,4000 --results {results}/sinkhorn_time_to_accuracy.jsonl "
     "--out {out}"),
    ("trainer", "trainer",
     "--report-only --device cpu --quick --compile --results {results}/trainer.jsonl --out {out}"),
    ("unbalanced", "unbalanced",
     "--report-only --results {results}/unbalanced_runs.jsonl --out {out}"),
    ("wgan", "wgan",
     "--report-only --device cpu --iters 10000 --seeds 0 1 --hidden 128 "
     "--results {results}/wgan_runs.jsonl --out {out}"),
    ("wgan", "wgan_25gaussians",
     "--report-only --device cpu --data 25gaussians-ref --losses wgan-gp gan wgan-sn wgan "
     "--iters 6000 --eval-every 500 --set hidden=128 penalty=0.1 'betas=[0.5, 0.9]' lr_g=1e-3 "
     "lr_d=1e-3 --report wgan_25gaussians --title '25 Gaussians at the WGAN-GP reference scale: "
     "modes and exact W_1 on the CPU' --notes {results}/../notes/wgan_25gaussians.md "
     "--results {results}/wgan_25gaussians_runs.jsonl --out {out}"),
]


def _tables_and_headings(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith(("|", "## "))]


def _argv(args: str, out) -> list[str]:
    return shlex.split(args.format(results=shlex.quote(str(COMMITTED)),
                                   out=shlex.quote(str(out))))


@pytest.mark.parametrize("script, name, args", RERENDER, ids=[r[1] for r in RERENDER])
def test_committed_report_rerenders_from_its_committed_results(script, name, args, tmp_path,
                                                              monkeypatch):
    module = importlib.import_module(f"benchmarks.{script}")  # before REPORTS is redirected
    committed = (COMMITTED / f"{name}.md").read_text()
    untouched = {p: p.read_bytes() for p in COMMITTED.iterdir() if p.is_file()}
    monkeypatch.setattr(harness, "REPORTS", tmp_path)  # a script that writes to REPORTS
    if hasattr(module, "REPORTS"):
        monkeypatch.setattr(module, "REPORTS", tmp_path)
    with contextlib.redirect_stdout(io.StringIO()):
        module.main(_argv(args, tmp_path))
    rendered = (tmp_path / f"{name}.md").read_text()
    assert _tables_and_headings(rendered) == _tables_and_headings(committed)
    assert all(p.read_bytes() == data for p, data in untouched.items()), \
        "re-rendering wrote into the committed reports"


def test_every_committed_results_file_has_its_report_rerendered():
    """A benchmark that commits results is in the list above (the results it reads)."""
    results = {p.name for p in COMMITTED.glob("*.json*")}
    read = {word.rsplit("/", 1)[-1] for _, _, args in RERENDER for word in args.split()
            if word.startswith("{results}/")}
    read |= {name.replace(".jsonl", "_floors.jsonl") for name in read  # wgan's floors
             if name.startswith("wgan")}
    read |= {"sinkhorn_busy.jsonl", "sinkhorn_busy_first_call.jsonl",  # read from fixed paths
             "gan_modes_study_runs.jsonl", "gan_modes_study_long_runs.jsonl"}
    kept_apart = {"exact_grid_runs_pot_sparse_simplex.jsonl",  # an earlier engine, quoted
                  "exact_grid_runs_previous.jsonl",  # the runs before the grid settings
                  "exact_scale_runs_previous.jsonl",  # the runs before the repaired seed
                  "exact_engine_previous.jsonl",  # the replays before the unsigned indices
                  "sinkhorn_busy_load20.jsonl"}  # an earlier run at load 20, kept
    assert results - read - kept_apart == set()
