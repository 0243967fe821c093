"""Tests of otlab.entropic.operators: the dense and tiled soft-min operators."""

import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose

from otlab.entropic.operators import DenseOperator, TiledOperator, exp_normalized_rows, logsumexp_rows

from .problems import random_problem


@pytest.mark.parametrize("order", [1, 2])
def test_tiled_softmin_equals_dense_softmin(order):
    x, y, _, _ = random_problem(n=23, m=17, d=3)
    x_t, y_t = torch.from_numpy(x), torch.from_numpy(y)
    dense = DenseOperator.from_points(x_t, y_t, order)
    tiled = TiledOperator(x_t, y_t, order, tile_entries=40)  # several blocks
    h_col, h_row = torch.randn(17, dtype=torch.float64), torch.randn(23, dtype=torch.float64)
    assert_allclose(tiled.softmin_rows(0.1, h_col), dense.softmin_rows(0.1, h_col), rtol=1e-12)
    assert_allclose(tiled.softmin_cols(0.1, h_row), dense.softmin_cols(0.1, h_row), rtol=1e-12)
    f, g = torch.randn(23, dtype=torch.float64), torch.randn(17, dtype=torch.float64)
    la, lb = torch.full((23,), -np.log(23.0)), torch.full((17,), -np.log(17.0))
    for got, want in zip(tiled.point_gradients(0.5, f, g, la, lb), dense.point_gradients(0.5, f, g, la, lb)):
        assert_allclose(got, want, rtol=1e-10)


def test_softmin_exponent_clamp_changes_no_sum():
    # Arguments far below log(tiny) are clamped before exp; the sums are those of logsumexp.
    logits = torch.tensor([[0.0, -700.0, -800.0, -5e4], [-3e4, -3e4 - 1.0, -1e5, -2e5]],
                          dtype=torch.float64)
    want = torch.logsumexp(logits, dim=1)
    assert_allclose(logsumexp_rows(logits.clone()), want, rtol=1e-15)
    kernel, lse = exp_normalized_rows(logits.clone())
    assert_allclose(lse, want, rtol=1e-15)
    assert_allclose(kernel.sum(1), [1.0, 1.0], rtol=1e-15)
    assert_allclose(kernel[1, :2], [1 / (1 + np.exp(-1.0)), np.exp(-1.0) / (1 + np.exp(-1.0))])


@pytest.mark.parametrize("order", [1, 2])
def test_cached_and_streamed_tiled_softmins_equal_the_dense_one_across_blocks(order):
    x, y, _, _ = random_problem(n=23, m=17, d=2)
    x_t, y_t = torch.from_numpy(x), torch.from_numpy(y)
    dense = DenseOperator.from_points(x_t, y_t, order)
    cached = TiledOperator(x_t, y_t, order, tile_entries=40, keep="kernels")
    everything = TiledOperator(x_t, y_t, order, tile_entries=40, keep="all")
    streamed = TiledOperator(x_t, y_t, order, tile_entries=40)
    gen = torch.Generator().manual_seed(0)
    for eps in (1.0, 0.01):
        h_col = torch.randn(17, dtype=torch.float64, generator=gen)
        h_row = torch.randn(23, dtype=torch.float64, generator=gen)
        want_rows = -eps * torch.logsumexp(h_col[None, :] - dense.C / eps, dim=1)
        want_cols = -eps * torch.logsumexp(h_row[:, None] - dense.C / eps, dim=0)
        for op in (dense, cached, everything, streamed):
            assert_allclose(op.softmin_rows(eps, h_col), want_rows, rtol=1e-12, atol=1e-14)
            assert_allclose(op.softmin_cols(eps, h_row), want_cols, rtol=1e-12, atol=1e-14)


def test_absorbed_kernel_follows_potentials_that_drift_far_and_refreshes_when_needed():
    x, y, _, _ = random_problem(n=30, m=20, d=2)
    op = DenseOperator.from_points(torch.from_numpy(x), torch.from_numpy(y), 1)
    eps, gen = 1e-3, torch.Generator().manual_seed(1)

    def exact(h):
        return -eps * torch.logsumexp(h[None, :] - op.C / eps, dim=1)

    h = torch.randn(20, dtype=torch.float64, generator=gen)
    op.softmin_rows(eps, h)
    refreshes = op.kernels.refreshes
    small = h + 5.0 * torch.randn(20, dtype=torch.float64, generator=gen)
    assert_allclose(op.softmin_rows(eps, small), exact(small), rtol=1e-12)
    assert op.kernels.refreshes == refreshes  # a matrix-vector product, no new kernel
    # Raise the far column of row 0 so much that it dominates that row, although its
    # kernel entry underflowed: the row's sum falls below the floor and the kernel is redone.
    far = h.clone()
    j = int(op.C[0].argmax())
    far[j] += 2 * float(op.C[0, j]) / eps
    assert_allclose(op.softmin_rows(eps, far), exact(far), rtol=1e-12)
    assert op.kernels.refreshes == refreshes + 1


def test_zero_weights_give_finite_softmins_in_both_directions():
    x, y, _, _ = random_problem(n=6, m=5, d=2)
    op = DenseOperator.from_points(torch.from_numpy(x), torch.from_numpy(y), 2)
    h_col = torch.tensor([0.0, -np.inf, 0.0, 0.0, -np.inf], dtype=torch.float64)
    for _ in range(2):  # fresh kernel, then reused
        out = op.softmin_rows(0.1, h_col)
        assert torch.isfinite(out).all()
        assert_allclose(out, -0.1 * torch.logsumexp(h_col[None, :] - op.C / 0.1, dim=1), rtol=1e-12)
