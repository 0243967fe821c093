"""Figures of a training run: snapshot panels and the animated GIF, for 2-D data and digits."""

import shutil

import numpy as np
import pytest
from PIL import Image

from otlab.gan import TrainConfig, train
from otlab.gan.figures import (
    plot_snapshots,
    snapshot_figure,
    summary,
    tile_images,
    write_figures,
    write_gif,
)

TINY = dict(iters=6, n_critic=1, batch_size=32, eval_every=2, log_every=2, eval_samples=64,
            progress=False)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A 2-D run (MLP on 8 Gaussians) and a digits run (conv models), 4 snapshots each."""
    out = {}
    for name, extra in [("2d", dict(data="8gaussians", hidden=8)),
                        ("digits", dict(data="digits", arch="conv", hidden=16))]:
        folder = tmp_path_factory.mktemp(name)
        history = train(TrainConfig.for_loss("wgan-gp", out=folder, **TINY, **extra))
        out[name] = history, folder
    return out


@pytest.mark.parametrize("name", ["2d", "digits"])
def test_snapshots_have_the_critic_grid_only_for_2d_data(runs, name):
    _, folder = runs[name]
    files = sorted((folder / "snapshots").glob("iter_*.npz"))
    assert [f.name for f in files] == [f"iter_{i:07d}.npz" for i in (0, 2, 4, 6)]
    with np.load(files[-1]) as snap:
        assert ("critic" in snap.files) == (name == "2d")
        assert snap["fake"].shape[1] == (2 if name == "2d" else 64)


def _panels(fig):
    """(rows, cols) of the panel grid and how many panels show something."""
    grid = fig.axes[0].get_subplotspec().get_gridspec().get_geometry()
    shown = [ax for ax in fig.axes[:grid[0] * grid[1]] if ax.has_data()]
    return grid, len(shown)


@pytest.mark.parametrize("name", ["2d", "digits"])
def test_plot_snapshots_draws_one_panel_per_evaluation(runs, name, tmp_path):
    history, folder = runs[name]
    assert plot_snapshots(folder, tmp_path / "snapshots.png", history=history).exists()
    fig = snapshot_figure(folder, history=history)
    # 4 evaluations (+ a real-data panel for digits) in one full row, no blank cell
    panels = 4 if name == "2d" else 5
    assert _panels(fig) == ((1, panels), panels)
    if name == "2d":  # axes, a legend and one colour bar for the critic
        assert fig.axes[0].get_xlabel() and fig.axes[0].get_ylabel()
        assert fig.legends and len(fig.axes) == panels + 1


def test_plot_snapshots_fills_whole_rows_and_keeps_at_most_max_panels(runs):
    history, folder = runs["digits"]
    assert _panels(snapshot_figure(folder, max_panels=3, history=history)) == ((1, 3), 3)


@pytest.mark.parametrize("name", ["2d", "digits"])
def test_gif_has_one_frame_per_snapshot(runs, name, tmp_path):
    history, folder = runs[name]
    path = write_gif(folder, tmp_path / "training.gif", history=history, fps=5)
    n_snapshots = len(list((folder / "snapshots").glob("iter_*.npz")))
    with Image.open(path) as im:
        assert (im.format, im.n_frames, im.size) == ("GIF", n_snapshots, (240, 240))
        assert im.info["duration"] == 200


def test_forty_frames_of_2d_training_stay_well_under_2_mb(runs, tmp_path):
    _, folder = runs["2d"]
    source = sorted((folder / "snapshots").glob("iter_*.npz"))
    (tmp_path / "snapshots").mkdir()
    for k in range(40):  # 40 evaluations, recycling the 4 real snapshots
        with np.load(source[k % len(source)]) as snap:
            np.savez(tmp_path / "snapshots" / f"iter_{k:07d}.npz",
                     **{**{key: snap[key] for key in snap.files}, "iteration": k})
    path = write_gif(tmp_path)
    assert path == tmp_path / "training.gif"
    with Image.open(path) as im:
        assert im.n_frames == 40
    assert path.stat().st_size < 1_000_000


@pytest.mark.parametrize("name", ["2d", "digits"])
def test_write_figures_returns_the_gif_with_the_other_figures(runs, name, tmp_path):
    history, folder = runs[name]
    run = tmp_path / "run"
    shutil.copytree(folder / "snapshots", run / "snapshots")
    paths = write_figures(history, run, title=name)
    assert set(paths) == {"summary", "w_curves", "snapshots", "gif"}
    assert paths["gif"] == run / "training.gif"
    assert all(p.exists() and p.stat().st_size > 0 for p in paths.values())


def test_without_snapshots_there_is_no_panel_and_no_gif(tmp_path):
    assert plot_snapshots(tmp_path) is None and write_gif(tmp_path) is None
    paths = write_figures([{"iteration": 0, "exact_w1": 1.0, "critic_estimate": 0.5}], tmp_path)
    assert set(paths) == {"summary", "w_curves"}


def test_tile_images_puts_image_k_at_row_k_div_cols_and_column_k_mod_cols():
    images = np.arange(6)[:, None] * np.ones((6, 4))  # six 2x2 images, image k filled with k
    mosaic = tile_images(images, n_rows=2, n_cols=3, pad=1)
    assert mosaic.shape == (2 * 3 - 1, 3 * 3 - 1)
    for k in range(6):
        i, j = divmod(k, 3)
        np.testing.assert_array_equal(mosaic[3 * i:3 * i + 2, 3 * j:3 * j + 2], k)
    assert np.isnan(mosaic[2]).all() and np.isnan(mosaic[:, 2]).all()  # the gaps


def test_tile_images_reads_rows_in_row_major_order():
    image = np.arange(64.0)
    np.testing.assert_array_equal(tile_images(image[None], n_rows=1, n_cols=1),
                                  image.reshape(8, 8))


@pytest.mark.parametrize("rows, message", [(np.zeros((3, 10)), "perfect square"),
                                           (np.zeros(64), r"shape \(n, side \* side\)")])
def test_tile_images_rejects_rows_that_are_not_flattened_square_images(rows, message):
    with pytest.raises(ValueError, match=message):
        tile_images(rows)


def test_demo_trains_conv_models_on_digits_and_writes_the_gif(tmp_path, capsys):
    from otlab.demo import run_demo

    rc = run_demo("wgan", ["--data", "digits", "--arch", "conv", "--iters", "4",
                           "--eval-every", "2", "--hidden", "16", "--batch-size", "32",
                           "--n-critic", "1", "--eval-samples", "64", "--no-progress",
                           "--out", str(tmp_path)])
    assert rc == 0
    assert "training.gif" in capsys.readouterr().out
    with Image.open(tmp_path / "training.gif") as im:
        assert im.n_frames == 3


def test_demo_rejects_conv_on_2d_data_naming_arch(tmp_path, capsys):
    from otlab.demo import run_demo

    with pytest.raises(SystemExit) as info:
        run_demo("wgan", ["--data", "ring", "--arch", "conv", "--out", str(tmp_path)])
    assert info.value.code == 2
    assert "arch='conv' needs data='digits'" in capsys.readouterr().err
    assert not (tmp_path / "history.jsonl").exists()


def test_summary_correlates_only_the_trained_critic_with_exact_w1():
    # Iteration 0 is the untrained critic: a far-off value there must not move the correlation.
    rows = [{"iteration": i, "exact_w1": 2.0 - 0.1 * i, "critic_estimate": 1.0 - 0.05 * i}
            for i in range(0, 6)]
    rows[0]["critic_estimate"] = 0.0
    s = summary(rows)
    assert s["pearson"] == pytest.approx(1.0) and s["spearman"] == pytest.approx(1.0)
    assert s["n_evaluations"] == 6 and s["final_exact_w1"] == pytest.approx(1.5)


def test_demo_quick_applies_small_settings_and_explicit_options_win(tmp_path, capsys):
    from otlab.demo import run_demo

    rc = run_demo("wgan", ["--quick", "--iters", "4", "--eval-every", "2", "--hidden", "8",
                           "--eval-samples", "64", "--no-progress", "--out", str(tmp_path)])
    assert rc == 0
    out = capsys.readouterr().out
    assert "note: the papers' settings" not in out
    config = out.split("config: ")[1].splitlines()[0] + ","  # every setting ends in a comma
    from otlab.demo.wgan import QUICK

    for setting in ("iters=4,", "eval_every=2,", "hidden=8,", "eval_samples=64,",
                    f"batch_size={QUICK['batch_size']},", f"lr_d={QUICK['lr_d']},",
                    f"lr_g={QUICK['lr_g']},", f"betas={QUICK['betas']},",
                    f"penalty={QUICK['penalty']},"):
        assert setting in config, setting
    assert "gan: exact W1" in out  # the minimax GAN trained next to it


def test_demo_notes_that_paper_settings_are_slow_on_the_cpu_only():
    from otlab.demo.wgan import build_parser, slow_on_cpu

    def slow(*argv):
        return slow_on_cpu(build_parser().parse_args(list(argv)))

    assert slow("--device", "cpu") and slow("--device", "cpu", "--hidden", "512")
    assert slow() == (not __import__("torch").cuda.is_available())  # --device auto
    assert not slow("--quick") and not slow("--iters", "400") and not slow("--hidden", "128")
    assert not slow("--device", "cuda") and not slow("--device", "cuda:1")


# ------------------------------------------------------------------ what the figures claim
def test_snapshot_of_2d_data_keeps_every_evaluated_point_so_mode_counts_can_be_redrawn(runs):
    from otlab.gan import mixture_modes
    from otlab.gan.metrics import MIN_COUNT, mode_counts, mode_metrics

    history, folder = runs["2d"]
    modes, std = mixture_modes("8gaussians")
    by_iteration = {r["iteration"]: r for r in history if r["modes_covered"] is not None}
    for path in sorted((folder / "snapshots").glob("iter_*.npz")):
        with np.load(path) as snap:
            fake, iteration = snap["fake"], int(snap["iteration"])
        assert len(fake) == TINY["eval_samples"]
        counts = mode_counts(fake, modes, std)[2]
        assert int((counts >= MIN_COUNT).sum()) == by_iteration[iteration]["modes_covered"]
        assert mode_metrics(fake, modes, std)["modes_covered"] == int((counts >= MIN_COUNT).sum())


@pytest.fixture
def saved(monkeypatch):
    """The figures saved during the test, kept instead of written."""
    import matplotlib.figure

    figures = []
    monkeypatch.setattr(matplotlib.figure.Figure, "savefig",
                        lambda fig, path, **kw: figures.append(fig))
    return figures


def test_comparison_draws_mode_counts_quality_circles_and_colour_bars_with_units(runs, tmp_path,
                                                                                 saved):
    from matplotlib.patches import Circle

    from otlab.gan.figures import plot_comparison

    history, folder = runs["2d"]
    plot_comparison({"wgan-gp": (history, folder), "gan": (history, folder)},
                    tmp_path / "comparison.png", floor=0.1, data="8gaussians")
    (fig,) = saved
    panels = fig.axes[:2]
    for ax in panels:
        circles = [p for p in ax.patches if isinstance(p, Circle)]
        assert len(circles) == 8  # one quality circle per mode
        np.testing.assert_allclose([c.get_radius() for c in circles], 3 * 0.02)
        counts = [int(t.get_text()) for t in ax.texts]
        assert len(counts) == 8 and sum(counts) <= TINY["eval_samples"]
        covered = sum(c >= 20 for c in counts)
        assert ax.get_title().splitlines()[1].startswith(f"{covered} of 8 modes covered")
    # the two colour bars, below their panels
    labels = [ax.get_xlabel().replace("\n", " ") for ax in fig.axes[3:]]
    assert "critic $D(x)$ minus its median (data units)" in labels
    assert "discriminator logit $D(x)$ minus its median (a score, no unit)" in labels


def test_w_curves_put_a_gan_logit_gap_on_its_own_axis_not_on_the_distance_axis(runs, tmp_path,
                                                                              saved):
    from otlab.gan.figures import plot_w_curves

    history, _ = runs["2d"]
    plot_w_curves(history, tmp_path / "a.png", loss="gan")
    plot_w_curves(history, tmp_path / "b.png", loss="wgan-gp")
    gan, wgan = saved
    assert [ax.get_ylabel() for ax in gan.axes] == ["exact $W_1$ (data units)",
                                                    "logit gap (no unit)"]
    assert len(gan.axes[0].lines) == 1  # the distance axis holds the exact W1 alone
    assert [ax.get_ylabel() for ax in wgan.axes] == ["$W_1$ and its estimate (data units)"]
