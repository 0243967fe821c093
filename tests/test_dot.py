"""Tests of otlab._dot: inner products without BLAS threads."""

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from otlab._dot import dot

finite = st.floats(-1e100, 1e100, allow_nan=False, allow_infinity=False)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(finite, finite), min_size=0, max_size=300))
def test_dot_equals_the_exactly_rounded_sum_within_its_error_bound(pairs):
    u = np.array([p[0] for p in pairs], dtype=float)
    v = np.array([p[1] for p in pairs], dtype=float)
    exact = math.fsum(float(a) * float(b) for a, b in zip(u, v))
    # products rounded once each, a pairwise sum of n terms: far below n * eps * sum |u v|
    bound = (len(pairs) + 2) * np.finfo(float).eps * float(np.sum(np.abs(u * v)))
    assert abs(dot(u, v) - exact) <= 100 * bound
    assert dot(u, v) == dot(v, u)


def test_dot_of_long_vectors_agrees_with_blas_and_returns_a_float():
    rng = np.random.default_rng(0)
    u, v = rng.random(200_000), rng.random(200_000)
    value = dot(u, v)
    assert type(value) is float
    assert abs(value - float(u @ v)) <= 1e-10 * value
    assert dot(np.empty(0), np.empty(0)) == 0.0
