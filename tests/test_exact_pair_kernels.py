"""The compiled loops over candidate pairs (otlab.exact._pair_kernels)."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from otlab.exact._pair_kernels import absent_and_union, squared_distances

KEYS = st.lists(st.integers(-(2**62), 2**62), max_size=60)


@settings(max_examples=60, deadline=None)
@given(KEYS, KEYS, st.booleans())
def test_absent_and_union_are_the_set_difference_and_the_sorted_union(keys, candidates, union):
    keys = np.unique(np.array(keys, dtype=np.int64))
    candidates = np.unique(np.array(candidates, dtype=np.int64))
    absent, merged = absent_and_union(keys, candidates, union)
    np.testing.assert_array_equal(absent, np.setdiff1d(candidates, keys))
    expected = np.union1d(keys, candidates) if union else np.empty(0, np.int64)
    np.testing.assert_array_equal(merged, expected)
    assert absent.dtype == merged.dtype == np.int64


def test_squared_distances_sum_the_coordinates_in_order():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(5, 3)), rng.normal(size=(4, 3))
    rows, cols = np.array([0, 4, 2]), np.array([3, 0, 0])
    out = squared_distances(x, y, rows, cols, np.empty(3))
    # two sums of three squares, possibly in another order or with a fused multiply-add:
    # apart by a few ulps at most (4.2e-16 relative at worst over 200 problems of up to
    # 8 coordinates, measured); 1e-12 leaves more than 100x for another CPU
    np.testing.assert_allclose(out, ((x[rows] - y[cols]) ** 2).sum(axis=1), rtol=1e-12)
