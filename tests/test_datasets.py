"""Facts about the toy data of :mod:`otlab.datasets`."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from otlab import wasserstein
from otlab.datasets import (
    MANIFOLDS,
    MIXTURE_DEFAULTS,
    REFERENCE_DIVISOR,
    eight_gaussians,
    gaussian_mixture_modes,
    manifold_pair,
    parallel_lines,
    random_rotation,
    ring,
    swiss_roll,
    twenty_five_gaussians,
)
import otlab.datasets as datasets

SAMPLERS = {
    "parallel_lines": lambda seed: np.vstack(parallel_lines(0.3, 20, grid=False, seed=seed)),
    "manifold_pair": lambda seed: np.vstack(
        manifold_pair("circle", 20, ambient_dim=5, shift=1.0, noise=0.1, seed=seed)),
    "eight_gaussians": lambda seed: eight_gaussians(20, seed=seed),
    "twenty_five_gaussians": lambda seed: twenty_five_gaussians(20, seed=seed),
    "ring": lambda seed: ring(20, seed=seed),
    "swiss_roll": lambda seed: swiss_roll(20, seed=seed),
}


def test_all_names_exist():
    for name in datasets.__all__:
        assert hasattr(datasets, name), name


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_same_seed_gives_same_float64_sample(name):
    a, b, c = SAMPLERS[name](3), SAMPLERS[name](3), SAMPLERS[name](4)
    assert a.dtype == np.float64
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_generator_seed_is_accepted_and_advanced(name):
    rng = np.random.default_rng(0)
    first, second = SAMPLERS[name](rng), SAMPLERS[name](rng)
    np.testing.assert_array_equal(first, SAMPLERS[name](np.random.default_rng(0)))
    assert not np.array_equal(first, second)


@given(theta=st.floats(-3, 3), n=st.integers(1, 60))
def test_grid_parallel_lines_have_w1_equal_to_abs_theta(theta, n):
    x0, x1 = parallel_lines(theta, n)
    assert x0.shape == x1.shape == (n, 2)
    np.testing.assert_allclose(wasserstein(x0, x1), abs(theta), atol=1e-12)


def test_random_parallel_lines_have_w1_at_least_abs_theta():
    for theta in (0.0, 0.25, -0.7):
        x0, x1 = parallel_lines(theta, 100, grid=False, seed=1)
        np.testing.assert_array_equal(x1[:, 0], theta)
        assert np.all((x0[:, 1] >= 0) & (x0[:, 1] <= 1))
        assert wasserstein(x0, x1) >= abs(theta) - 1e-12


def test_random_parallel_lines_w1_at_zero_shrinks_like_root_n():
    w = [wasserstein(*parallel_lines(0.0, n, grid=False, seed=0)) for n in (25, 400)]
    assert 0 < w[1] < w[0]
    assert w[1] < 3 / np.sqrt(400)


@pytest.mark.parametrize("dim", [1, 2, 7, 60])
def test_random_rotation_is_orthogonal_with_determinant_one(dim):
    R = random_rotation(dim, seed=dim)
    np.testing.assert_allclose(R.T @ R, np.eye(dim), atol=1e-12)
    np.testing.assert_allclose(np.linalg.det(R), 1.0, rtol=1e-10)


@pytest.mark.parametrize("kind,k", [("segment", 1), ("circle", 1), ("subspace", 3)])
@pytest.mark.parametrize("dim", [5, 100])
def test_shifted_manifold_supports_are_disjoint_at_distance_shift(kind, k, dim):
    shift = 0.4
    x, y = manifold_pair(kind, 60, ambient_dim=dim, intrinsic_dim=k, shift=shift, seed=2)
    assert x.shape == y.shape == (60, dim)
    gaps = np.linalg.norm(x[:, None] - y[None], axis=-1)
    assert gaps.min() >= shift - 1e-10
    # both samples lie in an affine space of the manifold's dimension
    span = {"segment": 1, "circle": 2, "subspace": k}[kind]
    for s in (x, y - y.mean(0) + x.mean(0)):
        sv = np.linalg.svd(s - s.mean(0), compute_uv=False)
        assert np.all(sv[span:] < 1e-9 * sv[0])


def test_manifold_shift_is_orthogonal_translation():
    """y minus shift·direction lies on x's manifold: its component off the span is zero."""
    x, y = manifold_pair("subspace", 200, ambient_dim=8, intrinsic_dim=2, shift=1.5, seed=3)
    basis = np.linalg.svd(x - 0, full_matrices=False)[2][:2]   # span through the origin
    off_x = x - x @ basis.T @ basis
    off_y = y - y @ basis.T @ basis
    np.testing.assert_allclose(off_x, 0, atol=1e-10)
    np.testing.assert_allclose(np.linalg.norm(off_y, axis=1), 1.5, rtol=1e-10)


def test_manifold_w1_approaches_shift():
    x, y = manifold_pair("segment", 300, ambient_dim=20, shift=0.8, seed=4)
    w = wasserstein(x, y)
    assert 0.8 <= w < 0.8 + 0.02


def test_instance_noise_has_the_requested_std_off_the_manifold():
    x, _ = manifold_pair("segment", 4000, ambient_dim=50, noise=0.1, seed=5)
    R_cols = np.linalg.svd(x - x.mean(0), full_matrices=False)[2]
    off = (x - x.mean(0)) @ R_cols[5:].T
    np.testing.assert_allclose(off.std(), 0.1, rtol=0.05)


def test_eight_gaussians_have_eight_distinct_modes_on_the_circle():
    modes = gaussian_mixture_modes("8gaussians")
    assert modes.shape == (8, 2)
    gaps = np.linalg.norm(modes[:, None] - modes[None], axis=-1)[~np.eye(8, dtype=bool)]
    np.testing.assert_allclose(gaps.min(), 2 * 2.0 * np.sin(np.pi / 8))
    np.testing.assert_allclose(np.linalg.norm(modes, axis=1), 2.0)


def test_twenty_five_gaussians_modes_are_the_scaled_grid():
    modes = gaussian_mixture_modes("25gaussians", scale=0.5)
    assert len({tuple(m) for m in modes.round(9)}) == 25
    np.testing.assert_allclose(np.unique(modes[:, 0]), 0.5 * np.arange(-2, 3))


def test_reference_grid_is_the_default_grid_divided_by_2_828():
    ref, default = MIXTURE_DEFAULTS["25gaussians-ref"], MIXTURE_DEFAULTS["25gaussians"]
    assert REFERENCE_DIVISOR["25gaussians"] == 2.828
    modes = gaussian_mixture_modes("25gaussians-ref")
    np.testing.assert_allclose(modes, gaussian_mixture_modes("25gaussians") / 2.828, rtol=1e-15)
    np.testing.assert_allclose([ref["scale"], ref["std"]], [2 / 2.828, 0.05 / 2.828], rtol=1e-15)
    np.testing.assert_allclose(ref["std"] / ref["scale"], default["std"] / default["scale"])
    assert len({tuple(m) for m in modes.round(12)}) == 25
    gaps = np.linalg.norm(modes[:, None] - modes[None], axis=-1)[~np.eye(25, dtype=bool)]
    np.testing.assert_allclose(gaps.min(), 2 / 2.828, rtol=1e-14)
    np.testing.assert_allclose(np.unique(modes[:, 1]), np.arange(-2, 3) * 2 / 2.828, rtol=1e-14)


def test_reference_scale_samples_have_the_reference_std_and_nearest_mode():
    ref = MIXTURE_DEFAULTS["25gaussians-ref"]
    x, labels = twenty_five_gaussians(50000, spacing=ref["scale"], std=ref["std"], seed=2,
                                      return_labels=True)
    modes = gaussian_mixture_modes("25gaussians-ref")
    np.testing.assert_allclose((x - modes[labels]).std(0), ref["std"], rtol=0.02)
    nearest = np.argmin(np.linalg.norm(x[:, None] - modes[None], axis=-1), axis=1)
    np.testing.assert_array_equal(nearest, labels)
    assert np.bincount(labels, minlength=25).min() > 0.9 * len(x) / 25


@given(scale=st.floats(1e-150, 1e150), name=st.sampled_from(sorted(MIXTURE_DEFAULTS)))
def test_mixture_modes_scale_linearly_with_the_scale(scale, name):
    unit = gaussian_mixture_modes(name, scale=1.0)
    np.testing.assert_allclose(gaussian_mixture_modes(name, scale=scale), scale * unit,
                               rtol=1e-15, atol=0)


@pytest.mark.parametrize("name,sampler,key", [
    ("8gaussians", eight_gaussians, "radius"),
    ("25gaussians", twenty_five_gaussians, "spacing"),
])
def test_mixture_samples_match_modes_and_std(name, sampler, key):
    defaults = MIXTURE_DEFAULTS[name]
    x, labels = sampler(20000, seed=0, return_labels=True)
    modes = gaussian_mixture_modes(name)
    resid = x - modes[labels]
    np.testing.assert_allclose(resid.std(0), defaults["std"], rtol=0.03)
    nearest = np.argmin(np.linalg.norm(x[:, None] - modes[None], axis=-1), axis=1)
    np.testing.assert_array_equal(nearest, labels)
    counts = np.bincount(labels, minlength=len(modes))
    assert counts.min() > 0.8 * len(x) / len(modes)
    x2, labels2 = sampler(50, seed=1, return_labels=True, **{key: 0.7})
    np.testing.assert_allclose(x2, gaussian_mixture_modes(name, scale=0.7)[labels2], atol=0.5)


def test_ring_has_uniform_angle_and_requested_radius():
    x = ring(20000, radius=3.0, std=0.0, seed=0)
    np.testing.assert_allclose(np.linalg.norm(x, axis=1), 3.0)
    counts = np.histogram(np.arctan2(x[:, 1], x[:, 0]), bins=8)[0]
    assert counts.min() > 0.9 * 20000 / 8


def test_swiss_roll_has_the_law_of_sklearn_make_swiss_roll():
    from sklearn.datasets import make_swiss_roll

    ours = swiss_roll(5000, seed=0)
    ref = make_swiss_roll(5000, noise=0.25, random_state=0)[0][:, [0, 2]] / 7.5
    assert wasserstein(ours, ref) < 0.1
    np.testing.assert_allclose(ours.mean(0), ref.mean(0), atol=0.05)


@pytest.mark.parametrize("call,exc,fragment", [
    (lambda: parallel_lines(float("nan"), 5), ValueError, "theta"),
    (lambda: parallel_lines("a", 5), TypeError, "theta"),
    (lambda: parallel_lines(0.1, 0), ValueError, "n"),
    (lambda: parallel_lines(0.1, 2.5), TypeError, "n"),
    (lambda: parallel_lines(0.1, 5, grid=False, seed="x"), TypeError, "seed"),
    (lambda: parallel_lines(0.1, 5, grid=False, seed=-1), ValueError, "seed"),
    (lambda: manifold_pair("sphere", 5, ambient_dim=3), ValueError, "kind"),
    (lambda: manifold_pair("circle", 5, ambient_dim=2), ValueError, "ambient_dim"),
    (lambda: manifold_pair("subspace", 5, ambient_dim=3, intrinsic_dim=3), ValueError, "ambient_dim"),
    (lambda: manifold_pair("circle", 5, ambient_dim=4, intrinsic_dim=2), ValueError, "intrinsic_dim"),
    (lambda: manifold_pair("segment", 5, ambient_dim=4, noise=-0.1), ValueError, "noise"),
    (lambda: manifold_pair("segment", 5, ambient_dim=4, shift=np.inf), ValueError, "shift"),
    (lambda: random_rotation(0), ValueError, "dim"),
    (lambda: gaussian_mixture_modes("9gaussians"), ValueError, "name"),
    (lambda: gaussian_mixture_modes("8gaussians", scale=-1), ValueError, "scale"),
    (lambda: eight_gaussians(10, std=-0.1), ValueError, "std"),
    (lambda: twenty_five_gaussians(10, spacing=0), ValueError, "spacing"),
    (lambda: ring(10, radius=float("nan")), ValueError, "radius"),
    (lambda: swiss_roll(-3), ValueError, "n"),
])
def test_bad_input_raises_naming_the_argument(call, exc, fragment):
    with pytest.raises(exc, match=fragment):
        call()


def test_manifold_kinds_are_listed():
    assert MANIFOLDS == ("segment", "circle", "subspace")
