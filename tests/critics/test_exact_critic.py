"""The exact critic: LP duals extended by the c-transform."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import otlab
from otlab.critics import estimate_w1, exact_critic, lipschitz_audit


def _lines(theta, n):
    z = (np.arange(n) + 0.5) / n
    return np.column_stack([np.zeros(n), z]), np.column_stack([np.full(n, theta), z])


def _max_slope(critic, z, w):
    return float((np.abs(critic(z) - critic(w)) / np.linalg.norm(z - w, axis=1)).max())


CASES = {
    "gaussians_2d": lambda rng: (rng.normal(size=(60, 2)), rng.normal(size=(45, 2)) + [2.0, 0.5]),
    "gaussians_5d": lambda rng: (rng.normal(size=(80, 5)), 2 * rng.normal(size=(80, 5))),
    "line_1d": lambda rng: (rng.normal(size=50), rng.exponential(size=70)),
    "parallel_lines": lambda rng: _lines(0.5, 100),
    "weighted": lambda rng: (otlab.Sample(rng.normal(size=(30, 3)), rng.random(30)),
                             otlab.Sample(rng.normal(size=(20, 3)) + 1, rng.random(20))),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_gap_of_exact_critic_equals_wasserstein(case):
    x, y = CASES[case](np.random.default_rng(0))
    critic = exact_critic(x, y)
    w1 = otlab.wasserstein(x, y)
    np.testing.assert_allclose(critic.gap, w1, rtol=0, atol=1e-9)
    np.testing.assert_allclose(critic.w1, w1, rtol=0, atol=1e-9)


def test_gap_recomputed_from_calls_equals_w1_with_weights():
    rng = np.random.default_rng(1)
    x, a = rng.normal(size=(40, 2)), rng.random(40)
    y, b = rng.normal(size=(25, 2)) + 3, rng.random(25)
    critic = exact_critic(otlab.Sample(x, a), otlab.Sample(y, b))
    gap = (a / a.sum()) @ critic(x) - (b / b.sum()) @ critic(y)
    np.testing.assert_allclose(gap, otlab.wasserstein(x, y, a=a, b=b), rtol=0, atol=1e-9)


def test_weights_by_keyword_equal_weights_carried_by_samples():
    rng = np.random.default_rng(7)
    x, a = rng.normal(size=(30, 2)), rng.random(30)
    y, b = rng.normal(size=(20, 2)) + 1, rng.random(20)
    by_keyword = exact_critic(x, y, a=a, b=b)
    by_sample = exact_critic(otlab.Sample(x, a), otlab.Sample(y, b))
    np.testing.assert_allclose(by_keyword.w1, by_sample.w1, rtol=1e-14)
    np.testing.assert_allclose(by_keyword.w1, otlab.wasserstein(x, y, a=a, b=b), rtol=1e-12)
    z = rng.normal(size=(50, 2))
    np.testing.assert_allclose(by_keyword(z), by_sample(z), rtol=0, atol=1e-12)


def test_sparse_and_dense_solvers_give_the_same_critic_gap():
    rng = np.random.default_rng(8)
    x, y = rng.normal(size=(300, 2)), rng.normal(size=(250, 2)) + [1.0, 0.0]
    dense, sparse = exact_critic(x, y, solver="dense"), exact_critic(x, y, solver="sparse")
    assert sparse.lp.solver == "sparse"
    np.testing.assert_allclose(sparse.w1, dense.w1, rtol=1e-10)
    np.testing.assert_allclose(sparse.gap, sparse.w1, rtol=0, atol=1e-9)
    z, w = rng.normal(size=(2, 2000, 2)) * 2  # the potentials need not be unique: check slopes
    assert _max_slope(sparse, z, w) <= 1 + 1e-9


def test_torch_critic_picks_the_minimising_anchor():
    rng = np.random.default_rng(9)
    x, y = rng.normal(size=(60, 3)), rng.normal(size=(70, 3)) + 0.5
    critic = exact_critic(x, y)
    z = rng.normal(size=(400, 3)) * 3
    brute = (np.linalg.norm(z[:, None] - y[None], axis=-1) - critic.offsets).min(axis=1)
    np.testing.assert_allclose(critic(z), brute, rtol=0, atol=1e-12)
    np.testing.assert_allclose(critic(torch.tensor(z)).numpy(), brute, rtol=0, atol=1e-12)


def test_parallel_lines_exact_critic_gives_theta():
    x, y = _lines(0.5, 200)
    np.testing.assert_allclose(exact_critic(x, y).gap, 0.5, rtol=0, atol=1e-9)


@pytest.mark.parametrize("seed", range(3))
def test_exact_critic_slope_never_exceeds_one(seed):
    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=(70, 3)), rng.normal(size=(60, 3)) * 0.5 + 1
    critic = exact_critic(x, y)
    z = rng.normal(size=(2000, 3)) * 2
    w = np.concatenate([z[1000:], x[:30] + 1e-3 * rng.normal(size=(30, 3))])
    z = np.concatenate([z[:1000], x[:30]])
    assert _max_slope(critic, z, w) <= 1 + 1e-9


def test_potentials_are_feasible_and_optimal_for_the_lp_dual():
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(50, 2)), rng.normal(size=(40, 2)) + 1
    critic = exact_critic(x, y)
    phi_x, phi_y = critic.potentials
    M = np.linalg.norm(x[:, None] - y[None], axis=-1)
    assert (phi_x[:, None] - phi_y[None, :] - M).max() <= 1e-12
    np.testing.assert_allclose(phi_x.mean() - phi_y.mean(), critic.lp.cost, rtol=0, atol=1e-9)


def test_torch_critic_matches_numpy_and_has_gradient_norm_at_most_one():
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(40, 2)), rng.normal(size=(30, 2)) + [1.0, 0.0]
    critic = exact_critic(x, y)
    z = torch.tensor(rng.normal(size=(500, 2)) * 2, dtype=torch.float64, requires_grad=True)
    out = critic(z)
    np.testing.assert_allclose(out.detach().numpy(), critic(z.detach().numpy()), atol=1e-12)
    (grad,) = torch.autograd.grad(out.sum(), z)
    assert grad.norm(dim=1).max().item() <= 1 + 1e-9


def test_exact_critic_accepts_torch_samples():
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(30, 2)), rng.normal(size=(30, 2)) + 1
    critic = exact_critic(torch.tensor(x), torch.tensor(y))
    np.testing.assert_allclose(critic.gap, otlab.wasserstein(x, y), rtol=0, atol=1e-9)


def test_audit_of_exact_critic_reports_slopes_at_most_one():
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(40, 2)), rng.normal(size=(40, 2)) + 2
    audit = lipschitz_audit(exact_critic(x, y), x, y, n_interpolates=256, n_pairs=512)
    assert audit.lipschitz_bound <= 1 + 1e-9
    assert audit.max_slope_xy > 0.5


def test_exact_critic_rejects_samples_of_different_dimensions():
    with pytest.raises(ValueError, match="same dimension"):
        exact_critic(np.zeros((3, 2)), np.zeros((3, 3)))


def test_exact_critic_rejects_non_finite_samples():
    with pytest.raises(ValueError, match="x must be finite"):
        exact_critic([[np.nan, 0.0]], [[0.0, 0.0]])


def test_exact_critic_rejects_negative_weights_naming_them():
    with pytest.raises(ValueError, match="weights must be non-negative"):
        exact_critic([[0.0]], otlab.Sample([[1.0], [2.0]], [1.0, -1.0]))


def test_exact_critic_rejects_points_of_wrong_dimension_when_called():
    critic = exact_critic([[0.0, 0.0]], [[1.0, 0.0]])
    with pytest.raises(ValueError, match="z must have dimension 2"):
        critic(np.zeros((4, 3)))


@pytest.mark.gpu
def test_exact_critic_on_cuda_is_differentiable_with_gradient_norm_at_most_one():
    rng = np.random.default_rng(6)
    x, y = rng.normal(size=(40, 2)), rng.normal(size=(30, 2)) + 1
    critic = exact_critic(torch.tensor(x, device="cuda"), torch.tensor(y, device="cuda"))
    z = torch.randn(300, 2, dtype=torch.float64, device="cuda", requires_grad=True)
    out = critic(z)
    assert out.device.type == "cuda"
    (grad,) = torch.autograd.grad(out.sum(), z)
    assert grad.norm(dim=1).max().item() <= 1 + 1e-9
    np.testing.assert_allclose(critic.gap, otlab.wasserstein(x, y), rtol=0, atol=1e-9)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), exponent=st.floats(100, 307.5),
       data_exponent=st.integers(-300, 300))
def test_exact_critic_far_from_its_samples_is_the_c_transform_up_to_the_float_range(
        seed, exponent, data_exponent):
    """phi(z) = min_j ||z - y_j|| - g_j at points up to 1e307 away from samples of any size.

    Before: a point beyond about 1e154 frame units overflowed the k-d tree's squared
    distances and raised IndexError (numpy and torch).  The reference is the minimum over
    the anchors with each norm taken in units of the largest coordinate of z and y; measured 1.4e-16
    relative apart, asserted to 1e-10 (the gradient's unit norm too).
    """
    rng = np.random.default_rng(seed)
    s = 10.0**data_exponent
    x, y = rng.normal(size=(12, 2)) * s, (rng.normal(size=(9, 2)) + [1.0, 0.0]) * s
    critic = exact_critic(x, y)
    direction = rng.normal(size=(3, 2))
    z = direction / np.linalg.norm(direction, axis=1, keepdims=True) * 10.0**exponent
    top = np.maximum(np.abs(z).max(axis=1), np.abs(y).max())[:, None]
    norms = top * np.linalg.norm(z[:, None] / top[:, :, None] - y[None] / top[:, :, None],
                                 axis=-1)
    expected = (norms - critic.offsets[None]).min(axis=1)
    np.testing.assert_allclose(critic(z), expected, rtol=1e-10)
    zt = torch.tensor(z, requires_grad=True)
    values = critic(zt)
    values.sum().backward()
    np.testing.assert_allclose(values.detach().numpy(), expected, rtol=1e-10)
    np.testing.assert_allclose(zt.grad.norm(dim=1).numpy(), 1.0, rtol=1e-10)


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), exponent=st.floats(1, 300), in_y=st.booleans())
def test_a_point_of_weight_0_changes_no_exact_critic_however_far(seed, exponent, in_y):
    """The critic of the measures: a massless point, however far, changes neither W_1 nor
    the critic.  Before, it set the LP's frame: at 1e100 beside data of size 1 the critic
    was 0 everywhere (gap 0 for W_1 = 2.03) with no warning.  Measured equal to 1e-15 (two LP
    solves), asserted to 1e-10."""
    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=(12, 2)), rng.normal(size=(9, 2)) + [1.0, 0.0]
    base = exact_critic(x, y)
    far = np.array([[10.0**exponent, 0.0]])
    if in_y:
        critic = exact_critic(x, np.vstack([y, far]), b=np.append(np.ones(9), 0.0))
    else:
        critic = exact_critic(np.vstack([x, far]), y, a=np.append(np.ones(12), 0.0))
    np.testing.assert_allclose(critic.w1, base.w1, rtol=1e-10)
    np.testing.assert_allclose(critic.gap, base.w1, rtol=1e-10)
    np.testing.assert_allclose(critic(x), base(x), rtol=1e-10, atol=1e-10 * base.w1)


def test_critics_read_integer_tensors_as_the_same_points_in_float64():
    # Before: an int64 tensor became float32 (the default dtype) and 100000001 was read as
    # 1e8 (the exact critic), or was checked by nothing at all (the neural critic).
    x, y = np.array([[1e8], [1e8 + 2]]), np.array([[1e8 + 1], [1e8 + 5]])
    z = torch.tensor([[100000001], [100000003], [100000005]])
    critic = exact_critic(x, y)
    np.testing.assert_array_equal(critic(z).numpy(), critic(z.double()).numpy())
    np.testing.assert_allclose(critic(z).numpy(), critic(z.numpy()), rtol=0, atol=1e-9)
    neural = estimate_w1(x, y, hidden=(4,), steps=5, audit=False).critic
    np.testing.assert_array_equal(neural(z).numpy(), neural(z.double()).numpy())


@pytest.mark.parametrize("bad, match", [
    (np.array([[np.nan]]), "z must be finite; got 1 NaN"),
    (np.zeros((2, 3)), "z must have dimension 1; got d=3"),
    (np.zeros((0, 1)), "z must contain at least one point"),
])
def test_neural_critic_validates_its_points_as_the_exact_critic_does(bad, match):
    # Before: NaN in, NaN out; another dimension a numpy broadcast error naming nothing.
    neural = estimate_w1([[0.0], [1.0]], [[2.0], [3.0]], hidden=(4,), steps=5,
                         audit=False).critic
    with pytest.raises(ValueError, match=match):
        neural(bad)
    with pytest.raises(ValueError, match=match):
        exact_critic([[0.0], [1.0]], [[2.0], [3.0]])(bad)


@pytest.mark.parametrize("kwargs, match", [
    ({"x": np.zeros((0, 2))}, "x must contain at least one point"),
    ({"y": np.full((2, 2), np.inf)}, "y must be finite"),
    ({"y": np.zeros((2, 3))}, "x and y must have the same dimension"),
    ({"n_pairs": 0}, "n_pairs must be >= 1; got 0"),
    ({"n_interpolates": -1}, "n_interpolates must be >= 1; got -1"),
])
def test_lipschitz_audit_rejects_bad_arguments_by_name(kwargs, match):
    # Before: a reshape error, numpy's 'negative dimensions', or slopes of 0 for no pairs.
    args = {"x": np.zeros((2, 2)), "y": np.ones((2, 2)), **kwargs}
    critic = exact_critic(np.zeros((2, 2)), np.ones((2, 2)))
    with pytest.raises(ValueError, match=match):
        lipschitz_audit(critic, args.pop("x"), args.pop("y"), **args)
