"""Tests of otlab.entropic._softmin: the dense and tiled soft-min operators."""

import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose

from otlab.entropic._softmin import DenseOperator, TiledOperator, exp_normalized_rows, logsumexp_rows

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
