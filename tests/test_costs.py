"""otlab.costs: the one cost implementation, exact where the data are."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from numpy.testing import assert_allclose
from scipy.spatial.distance import cdist

from otlab.costs import (
    common_frame,
    cost_matrix,
    mean_squared_distance,
    power_mean,
    power_of_two_at_least,
    scale_by_power,
)

from .strategies import offsets, sample_pairs, scale_factors


@given(sample_pairs(max_dim=3), offsets)
def test_cost_matrix_of_nearby_points_far_away_keeps_their_distance(pair, offset):
    x, y = pair
    x, y = x * 1e-5 + offset, y * 1e-5 + offset  # points 1e-5 apart near the offset
    ref = np.array([[math.dist(p, q) for q in y] for p in x])  # hypot: no under/overflow
    # Distances below 1e-154 of the clouds' extent flush to 0 in d >= 2 (squares underflow).
    extent = np.ptp(np.vstack([x, y]), axis=0).max()
    assert_allclose(cost_matrix(x, y), ref, rtol=1e-12, atol=1e-150 * extent)


@given(sample_pairs(max_dim=3), scale_factors, st.sampled_from([1, 2]))
def test_cost_matrix_scales_as_the_power_of_the_factor(pair, c, order):
    x, y = pair
    cx, cy = c * x, c * y  # each coordinate rounded: off by up to ulp/2 of itself, or 2.5e-324
    got = cost_matrix(cx, cy, order=order)
    # The oracle sees the same rounded points: math.dist (hypot) is correct to about one ulp at
    # every scale, subnormal distances included; a few ulps of error leave 100x headroom.
    # Subnormal results (below 2.2e-308) have an absolute spacing of 4.9e-324: atol 200 of them;
    # distances below 1e-154 of the clouds' extent flush to 0 in d >= 2 (squares underflow).
    ref = np.array([[math.dist(p, q) for q in cy] for p in cx]) ** order
    extent = np.ptp(np.vstack([cx, cy]), axis=0).max()
    assert_allclose(got, ref, rtol=1e-13, atol=(1e-150 * extent) ** order + 1e-321)
    # The scaling law itself, up to the rounding of c * x: the distance moves by up to
    # sqrt(d) * ulp * |c| * max|x| (and the power multiplies relative errors by the order).
    want = (np.abs(c) * cost_matrix(x, y)) ** order  # scale the distance, then the power
    moved = math.sqrt(x.shape[1]) * np.finfo(float).eps * abs(c) * max(abs(x).max(), abs(y).max())
    slack = order * moved * np.maximum(want, 1e-300) ** ((order - 1) / order)
    assert_allclose(got, want, rtol=1e-13,
                    atol=100 * slack.max() + (1e-150 * extent) ** order + 1e-321)


def test_cost_matrix_neither_underflows_nor_overflows_inside():
    x, y = np.array([[1e-160, 0.0]]), np.array([[4e-160, 4e-160]])
    assert cost_matrix(x, y)[0, 0] == 5e-160  # the squares (1e-320) would be subnormal
    assert cost_matrix(x * 1e300 * 1e160, y * 1e300 * 1e160)[0, 0] == 5e300  # squares overflow


def test_cost_matrix_keeps_the_input_kind_and_dtype():
    x = torch.tensor([[0.0, 0.0]], dtype=torch.bfloat16)
    y = torch.tensor([[3.0, 4.0]], dtype=torch.bfloat16)
    out = cost_matrix(x, y, order=2)
    assert out.dtype == torch.bfloat16 and out.item() == 25.0


def test_frame_is_a_power_of_two_containing_both_clouds():
    x, y = np.array([[1e8, -3.0]]), np.array([[1e8 + 6.0, 5.0]])
    frame = common_frame(x, y)
    assert np.log2(frame.scale) == int(np.log2(frame.scale))
    local = np.vstack([frame.local(x), frame.local(y)])
    assert np.abs(local).max() <= 1.0


def test_mean_squared_distance_at_an_offset_equals_the_pairwise_mean():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(30, 2)), rng.normal(size=(20, 2)) + 0.3
    a, b = np.full(30, 1 / 30), np.full(20, 1 / 20)
    want = (cdist(x, y, "sqeuclidean")).mean()
    frame = common_frame(x + 1e8, y + 1e8)
    local = mean_squared_distance(frame.local(x + 1e8), a, frame.local(y + 1e8), b)
    assert_allclose(local * frame.scale**2, want, rtol=1e-7)


@pytest.mark.parametrize("order", [1, 2, 7.5, 500])
def test_power_mean_of_equal_distances_is_that_distance_for_every_order(order):
    assert power_mean(np.full(3, 1 / 3), np.full(3, 1e100), order) == pytest.approx(1e100, rel=1e-14)


def test_power_of_two_and_scaling_by_its_power_are_exact():
    assert power_of_two_at_least(0.0) == 1.0
    assert power_of_two_at_least(5.0) == 8.0
    assert power_of_two_at_least(1e308) == 2.0**1023
    assert scale_by_power(3.0, 2.0**600, -2) == 3.0 * 2.0**-1200
