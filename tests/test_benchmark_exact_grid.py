"""benchmarks/exact_grid.py: the DOTmark loader (on files the test writes), the generators."""

import importlib

import numpy as np
import pytest


@pytest.fixture(scope="module")
def bench():
    return importlib.import_module("benchmarks.exact_grid")


def _write(path, image):
    np.savetxt(path, image, delimiter=",", fmt="%d")


def test_dotmark_loader_reads_each_class_folder_in_id_order(bench, tmp_path):
    rng = np.random.default_rng(0)
    images = {cls: [rng.integers(0, 255, (4, 4)) for _ in range(3)]
              for cls in ("Shapes", "WhiteNoise")}
    for cls, imgs in images.items():
        (tmp_path / cls).mkdir()
        for image, ident in zip(imgs, (1002, 1010, 1001)):  # written out of order
            _write(tmp_path / cls / f"data4_{ident}.csv", image)
        _write(tmp_path / cls / "data8_1001.csv", rng.integers(0, 9, (8, 8)))  # another size
        (tmp_path / cls / "README.txt").write_text("not an image")
    (tmp_path / "Empty").mkdir()
    loaded = bench.load_dotmark(tmp_path, 4)
    assert sorted(loaded) == ["Shapes", "WhiteNoise"]  # a folder without size-4 files is left out
    for cls, imgs in images.items():
        ordered = [imgs[2], imgs[0], imgs[1]]  # IDs 1001, 1002, 1010
        assert len(loaded[cls]) == 3
        for got, want in zip(loaded[cls], ordered):
            np.testing.assert_array_equal(got, want)
    assert [img.shape for img in bench.load_dotmark(tmp_path, 8)["Shapes"]] == [(8, 8)]


def test_dotmark_loader_rejects_a_wrong_shape_and_a_missing_folder(bench, tmp_path):
    (tmp_path / "C").mkdir()
    _write(tmp_path / "C" / "data4_1001.csv", np.ones((3, 4)))
    with pytest.raises(ValueError, match=r"shape \(3, 4\), not \(4, 4\)"):
        bench.load_dotmark(tmp_path, 4)
    with pytest.raises(ValueError, match="--dotmark must be a folder"):
        bench.load_dotmark(tmp_path / "missing", 4)


def test_dotmark_run_writes_results_and_report(bench, tmp_path):
    rng = np.random.default_rng(1)
    (tmp_path / "data" / "Cls").mkdir(parents=True)
    for ident in (1001, 1002, 1003):
        _write(tmp_path / "data" / "Cls" / f"data6_{ident}.csv", rng.integers(0, 9, (6, 6)) + 1)
    results = tmp_path / "runs.jsonl"
    args = ["--dotmark", str(tmp_path / "data"), "--sizes", "6", "--orders", "1",
            "--pairs", "2", "--pot-pairs", "1", "--results", str(results), "--out", str(tmp_path)]
    bench.main(args)
    rows = [line for line in results.read_text().splitlines() if line]
    assert len(rows) == 3  # two otlab solves and one POT solve
    bench.main(args)  # resumed: nothing left to run
    assert len([line for line in results.read_text().splitlines() if line]) == 3
    text = (tmp_path / "exact_grid.md").read_text()
    assert "| dotmark | 6² | 1 | Cls | 2 |" in text
    assert (tmp_path / "exact_grid.png").stat().st_size > 0


@pytest.mark.parametrize("cls", ["white_noise", "grf_rough", "grf_moderate", "grf_smooth",
                                 "log_grf", "cauchy", "shapes"])
def test_generated_images_are_seeded_non_negative_and_carry_mass(bench, cls):
    image = bench.make_image(cls, 16, 3)
    assert image.shape == (16, 16)
    assert np.isfinite(image).all() and image.min() >= 0 and image.sum() > 0
    np.testing.assert_array_equal(image, bench.make_image(cls, 16, 3))
    assert not np.array_equal(image, bench.make_image(cls, 16, 4))


def test_pairs_come_neighbours_first(bench):
    assert bench.pairs_of(4, None) == [(0, 1), (1, 2), (2, 3), (0, 2), (1, 3), (0, 3)]
    assert bench.pairs_of(10, 9) == [(i, i + 1) for i in range(9)]
