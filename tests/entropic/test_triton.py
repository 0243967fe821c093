"""The fused Triton soft-min, checked on CPU under the Triton interpreter.

``TRITON_INTERPRET=1`` must be set before triton is imported, so the check runs
in a subprocess.  Skipped when triton is not installed (it is not a dependency).
"""

import importlib.util
import os
import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent(
    """
    import warnings
    import numpy as np, torch
    from numpy.testing import assert_allclose
    from otlab.entropic import sinkhorn_samples
    from otlab.entropic.operators import DenseOperator
    from otlab.entropic._triton import TritonOperator

    warnings.simplefilter("ignore", RuntimeWarning)  # the interpreter evaluates log(0) in a where
    rng = np.random.default_rng(0)
    for order in (1.0, 1.5, 2.0):
        for dtype, tol in ((torch.float64, 1e-12), (torch.float32, 1e-5)):
            x = torch.tensor(rng.normal(size=(70, 3)), dtype=dtype)
            y = torch.tensor(rng.normal(size=(45, 3)), dtype=dtype)
            h_col, h_row = torch.randn(45, dtype=dtype), torch.randn(70, dtype=dtype)
            fused, dense = TritonOperator(x, y, order), DenseOperator.from_points(x, y, order)
            assert_allclose(fused.softmin_rows(0.1, h_col), dense.softmin_rows(0.1, h_col), rtol=tol, atol=tol)
            assert_allclose(fused.softmin_cols(0.1, h_row), dense.softmin_cols(0.1, h_row), rtol=tol, atol=tol)
    x, y = rng.normal(size=(40, 2)), rng.normal(size=(30, 2)) + 1.0
    # The loop, Anderson mixing and its safeguard included, is shared by every back-end.
    fused = sinkhorn_samples(x, y, reg=0.1, backend="triton", tol=1e-8)
    dense = sinkhorn_samples(x, y, reg=0.1, backend="dense", tol=1e-8)
    assert fused.backend == "triton", fused.backend
    assert fused.converged and abs(fused.n_iter - dense.n_iter) <= 1, (fused.n_iter, dense.n_iter)
    assert_allclose(fused.cost, dense.cost, rtol=1e-10)
    print("ok")
    """
)


@pytest.mark.skipif(importlib.util.find_spec("triton") is None, reason="triton not installed")
def test_fused_triton_softmin_equals_dense_softmin_under_interpreter():
    env = dict(os.environ, TRITON_INTERPRET="1")
    proc = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().endswith("ok")
