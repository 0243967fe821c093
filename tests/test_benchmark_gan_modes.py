"""The grid and the statistics of benchmarks/gan_modes.py (no training here)."""

import collections
import math

import numpy as np

from benchmarks import gan_modes


def test_grid_has_10_trials_of_wgan_gp_and_gan_and_3_of_every_other_loss_per_data_set():
    grid = gan_modes.cases()
    counts = collections.Counter((c["data"], c["loss"]) for c in grid)
    for data in gan_modes.DATA:
        for loss in gan_modes.LOSSES:
            assert counts[data, loss] == (10 if loss in ("wgan-gp", "gan") else 3)
    assert len({gan_modes.key(c) for c in grid}) == len(grid)  # every case answered once
    assert [c["loss"] for c in grid[:4]] == ["wgan-gp", "wgan-gp", "gan", "gan"]


def test_every_run_is_measured_on_2500_samples():
    assert all(c["settings"]["eval_samples"] == 2500 for c in gan_modes.cases())


def test_mean_and_standard_error_skip_undefined_values():
    mean, se, n = gan_modes.mean_se([0.1, 0.3, None])
    np.testing.assert_allclose([mean, se], [0.2, 0.1], rtol=1e-12)  # sd 0.1 sqrt(2), n = 2
    assert n == 2
    assert math.isnan(gan_modes.mean_se([None])[0])
    assert math.isnan(gan_modes.mean_se([1.0])[1])


def test_summary_counts_undefined_reverse_kl_and_gives_percent_quality():
    rows = [{"data": "pacgan-ring", "loss": "gan", "tag": "default", "seed": s, "modes": m,
             "high_quality_fraction": hq, "reverse_kl": kl, "exact_w1": 0.1, "cpu_s": 1.0}
            for s, (m, hq, kl) in enumerate([(8, 0.9, 0.1), (4, 0.5, 0.3), (0, 0.0, None)])]
    (row,) = gan_modes.summarise(rows)
    assert row["trials"] == 3 and row["modes"].startswith("4.0 ± ")
    assert row["high quality %"].startswith("46.7 ± ")
    assert row["reverse KL"].endswith("(1 undefined)")


def test_every_run_evaluates_the_generator_weight_average():
    assert all(c["settings"]["ema_decay"] == 0.99 for c in gan_modes.cases())


def test_every_run_decays_both_learning_rates_linearly_to_zero():
    assert all(c["settings"]["lr_decay"] == "linear" for c in gan_modes.cases())


def test_the_diagnosis_table_names_what_each_run_changed_and_its_curve():
    base = dict(gan_modes.STUDY_BASELINE)
    rows = [{"data": "pacgan-ring", "tag": t, "seed": 0, "settings": s, "modes": 8,
             "high_quality_fraction": 0.5, "reverse_kl": 0.1, "exact_w1": 0.09, "cpu_s": 40.0,
             "curve": c}
            for t, s, c in [("baseline", base, []),
                            ("ema", {**base, "ema_decay": 0.99, "eval_every": 500},
                             [[0, 0, 0.0, None, 1.0], [500, 8, 0.25, 0.1, 0.2],
                              [1000, 8, 0.5, 0.1, 0.09]])]]
    lines = gan_modes.study_table(rows).splitlines()
    assert "| pacgan-ring | baseline | 0 | (baseline) |" in lines[2]
    assert "| ema_decay=0.99 |" in lines[3] and lines[3].endswith("| 500: 25, 1000: 50 |")


def test_the_second_diagnosis_table_gives_quality_and_exact_w1_at_every_evaluation():
    base = dict(gan_modes.STUDY_LONG_BASELINE)
    rows = [{"data": "pacgan-grid", "tag": "lin3k", "seed": 0, "modes": 25,
             "settings": {**base, "iters": 3000, "lr_decay": "linear", "eval_every": 1000},
             "high_quality_fraction": 0.77, "reverse_kl": 0.01, "exact_w1": 0.21, "cpu_s": 85.0,
             "curve": [[0, 1, 0.1, 3.2, 3.7], [1000, 20, 0.068, 0.49, 0.5817],
                       [2000, 25, 0.53, 0.08, 0.2759]]}]
    lines = gan_modes.study_table(rows, base, w1_curve=True).splitlines()
    assert "HQ % / exact W1 at iteration" in lines[0]
    assert '| iters=3000, lr_decay="linear" |' in lines[2]
    assert lines[2].endswith("| 1000: 7 / 0.582, 2000: 53 / 0.276 |")
