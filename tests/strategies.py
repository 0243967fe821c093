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


#: Common offsets up to 1e8 (float64 translation invariance).
offsets = st.floats(-1e8, 1e8, allow_nan=False, allow_infinity=False)
#: Scale factors c with |c| from 1e-150 to 1e150, both signs.
scale_factors = st.tuples(st.floats(-150, 150), st.sampled_from([-1.0, 1.0])).map(
    lambda t: t[1] * 10.0 ** t[0])


@st.composite
def rotations(draw, d):
    """A random orthogonal d x d matrix (QR of a Gaussian matrix, sign-fixed)."""
    seed = draw(st.integers(0, 2**32 - 1))
    q, r = np.linalg.qr(np.random.default_rng(seed).normal(size=(d, d)))
    return q * np.sign(np.diag(r))


@st.composite
def spread_pairs(draw, *, min_n=2, max_n=8, max_dim=3):
    """Two samples of the same dimension whose points are not all equal."""
    x, y = draw(sample_pairs(min_n=min_n, max_n=max_n, max_dim=max_dim))
    both = np.vstack([x, y])
    if not np.ptp(both, axis=0).max() > 1e-3:
        both = both + np.arange(len(both))[:, None] * 0.5
        x, y = both[: len(x)], both[len(x):]
    return x, y
