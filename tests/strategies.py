"""Hypothesis strategies shared by the property tests."""

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

coordinates = st.floats(-10, 10, allow_nan=False, allow_infinity=False, width=64)


@st.composite
def samples(draw, *, min_n=1, max_n=12, dim=None, max_dim=3):
    """A point cloud of shape (n, d) with moderate coordinates."""
    d = dim if dim is not None else draw(st.integers(1, max_dim))
    n = draw(st.integers(min_n, max_n))
    return draw(arrays(np.float64, (n, d), elements=coordinates))


@st.composite
def weights(draw, n):
    """Positive weights (not normalised) for n points."""
    return draw(arrays(np.float64, (n,), elements=st.floats(0.05, 5.0)))


@st.composite
def sample_pairs(draw, *, min_n=1, max_n=12, max_dim=3):
    """Two samples of the same dimension."""
    d = draw(st.integers(1, max_dim))
    return draw(samples(min_n=min_n, max_n=max_n, dim=d)), draw(samples(min_n=min_n, max_n=max_n, dim=d))
