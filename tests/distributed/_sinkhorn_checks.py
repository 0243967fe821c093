"""Checks of the sharded solvers, run on every rank of a Gloo group (see _group.py).

Every rank builds the same global data from the same seed and keeps its own
rows; the single-process answer is computed on every rank and compared.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import torch.distributed as dist

from otlab.costs import cost_matrix
from otlab.distributed import sharded_sinkhorn, sharded_sinkhorn_divergence
from otlab.entropic import sinkhorn, sinkhorn_divergence, sinkhorn_samples
from otlab.exact import ConvergenceWarning

#: Both solvers near the fixed point: 300x above the round-off floor of the measured L1 error
#: (2-4e-14 on these problems), 3x above what the solvers certify for them (2F, about 3e-12).
TIGHT = 1e-11
#: Costs and potentials of two plans that each meet TIGHT differ by up to about TIGHT times the
#: largest cost (measured: 7e-12 relative between schedules); 1e-9 leaves 150x.
RTOL = 1e-9
#: The dual objective is second order in the marginal error: measured 4e-16 apart.
OBJECTIVE_RTOL = 1e-12

#: Rows of x and of y held by each rank, by world size: unequal shards, a rank with one point.
SPLITS = {2: ([1, 29], [17, 8]), 3: ([6, 1, 13], [9, 14, 1])}


def _data(world_size, *, order_shift=0.0, seed=0, weighted=False):
    rng = np.random.default_rng(seed)
    nx, ny = (sum(s) for s in SPLITS[world_size])
    x = rng.normal(size=(nx, 2))
    y = rng.normal(size=(ny, 2)) * 0.7 + [1.5 + order_shift, -0.5]
    a = rng.uniform(0.0, 1.0, nx) if weighted else None
    b = rng.uniform(0.5, 2.0, ny) if weighted else None
    if weighted:
        a[3] = 0.0  # a point without mass
    return x, y, a, b


def _mine(values, sizes, rank):
    start = sum(sizes[:rank])
    return None if values is None else values[start:start + sizes[rank]]


def _same_everywhere(value) -> bool:
    values = [None] * dist.get_world_size()
    dist.all_gather_object(values, value)
    return all(v == values[0] for v in values)


def _concat(local: np.ndarray) -> np.ndarray:
    parts = [None] * dist.get_world_size()
    dist.all_gather_object(parts, np.asarray(local))
    return np.concatenate(parts)


def _check_against_one_process(rank, world_size, *, order, weighted):
    sx, sy = SPLITS[world_size]
    x, y, a, b = _data(world_size, weighted=weighted)
    res = sharded_sinkhorn(_mine(x, sx, rank), _mine(y, sy, rank), order=order, tol=TIGHT,
                           a_local=_mine(a, sx, rank), b_local=_mine(b, sy, rank))
    one = sinkhorn_samples(x, y, a, b, order=order, tol=TIGHT)
    assert res.converged and one.converged
    np.testing.assert_allclose(res.reg, one.reg, rtol=1e-14)
    assert _same_everywhere((res.cost, res.objective, res.n_iter, res.marginal_error))
    np.testing.assert_allclose(res.cost, one.cost, rtol=RTOL)
    np.testing.assert_allclose(res.objective, one.objective, rtol=OBJECTIVE_RTOL)
    np.testing.assert_allclose(res.f, _mine(one.f, sx, rank), rtol=RTOL, atol=RTOL * abs(one.f).max())
    np.testing.assert_allclose(res.g, _mine(one.g, sy, rank), rtol=RTOL, atol=RTOL * abs(one.g).max())
    assert res.rows == slice(sum(sx[:rank]), sum(sx[:rank + 1]))
    # otlab.sinkhorn on the cost matrix (another ε schedule, the same fixed point)
    wa = np.full(len(x), 1 / len(x)) if a is None else a / a.sum()
    wb = np.full(len(y), 1 / len(y)) if b is None else b / b.sum()
    dense = sinkhorn(wa, wb, cost_matrix(x, y, order=order), res.reg, tol=TIGHT, max_iter=10_000)
    np.testing.assert_allclose(res.objective, dense.objective, rtol=OBJECTIVE_RTOL)
    np.testing.assert_allclose(res.cost, dense.cost, rtol=RTOL)


def sinkhorn_equals_one_process_w1_uniform(rank, world_size, folder):
    _check_against_one_process(rank, world_size, order=1, weighted=False)


def sinkhorn_equals_one_process_w2_weighted(rank, world_size, folder):
    _check_against_one_process(rank, world_size, order=2, weighted=True)


def divergence_equals_one_process_with_gradients(rank, world_size, folder):
    sx, sy = SPLITS[world_size]
    x, y, a, b = _data(world_size, weighted=True)
    xt, yt = (torch.tensor(_mine(v, s, rank), requires_grad=True) for v, s in ((x, sx), (y, sy)))
    at, bt = (torch.tensor(_mine(v, s, rank), requires_grad=True) for v, s in ((a, sx), (b, sy)))
    value = sharded_sinkhorn_divergence(xt, yt, a_local=at, b_local=bt, order=1, tol=TIGHT)
    value.backward()
    xs, ys, as_, bs = (torch.tensor(v, requires_grad=True) for v in (x, y, a, b))
    one = sinkhorn_divergence(xs, ys, a=as_, b=bs, order=1, tol=TIGHT)
    one.backward()
    assert _same_everywhere(value.item())
    np.testing.assert_allclose(value.item(), one.item(), rtol=RTOL)
    for mine, full, sizes in ((xt, xs, sx), (yt, ys, sy), (at, as_, sx), (bt, bs, sy)):
        expected = _mine(full.grad.numpy(), sizes, rank)
        np.testing.assert_allclose(mine.grad.numpy(), expected, rtol=1e-8,
                                   atol=1e-10 * abs(full.grad.numpy()).max())


def sinkhorn_gradients_are_the_local_rows_of_the_global_gradient(rank, world_size, folder):
    sx, sy = SPLITS[world_size]
    x, y, a, b = _data(world_size, weighted=True)
    xt, yt = (torch.tensor(_mine(v, s, rank), requires_grad=True) for v, s in ((x, sx), (y, sy)))
    at = torch.tensor(_mine(a, sx, rank), requires_grad=True)
    res = sharded_sinkhorn(xt, yt, a_local=at, b_local=torch.tensor(_mine(b, sy, rank)),
                           order=2, tol=TIGHT)
    res.objective.backward()
    xs, ys, as_ = (torch.tensor(v, requires_grad=True) for v in (x, y, a))
    one = sinkhorn_samples(xs, ys, as_, torch.tensor(b), order=2, tol=TIGHT)
    one.objective.backward()
    for mine, full, sizes in ((xt, xs, sx), (yt, ys, sy), (at, as_, sx)):
        np.testing.assert_allclose(mine.grad.numpy(), _mine(full.grad.numpy(), sizes, rank),
                                   rtol=1e-8, atol=1e-10 * abs(full.grad.numpy()).max())
    # every rank's slices make up the global gradient
    np.testing.assert_allclose(_concat(xt.grad.numpy()), xs.grad.numpy(), rtol=1e-8,
                               atol=1e-10 * abs(xs.grad.numpy()).max())


def float32_and_tiled_blocks_agree_with_one_process(rank, world_size, folder):
    sx, sy = SPLITS[world_size]
    x, y, _, _ = _data(world_size)
    x32, y32 = (torch.tensor(_mine(v, s, rank), dtype=torch.float32) for v, s in ((x, sx), (y, sy)))
    res = sharded_sinkhorn(x32, y32, order=2, tol=1e-3, backend="tiled")
    one = sinkhorn_samples(torch.tensor(x, dtype=torch.float32),
                           torch.tensor(y, dtype=torch.float32), order=2, tol=1e-3)
    assert res.f.dtype == torch.float32 and res.backend == "sharded-tiled"
    assert _same_everywhere(float(res.cost))
    np.testing.assert_allclose(float(res.cost), float(one.cost), rtol=1e-3)  # both within tol


def every_rank_raises_when_one_rank_gets_bad_input(rank, world_size, folder):
    sx, sy = SPLITS[world_size]
    x, y, _, _ = _data(world_size)
    x_mine = _mine(x, sx, rank).copy()
    if rank == world_size - 1:
        x_mine[0, 0] = np.nan
    with pytest.raises(ValueError, match=rf"rank {world_size - 1}: ValueError: x_local must be "
                                         rf"finite; got 1 NaN"):
        sharded_sinkhorn(x_mine, _mine(y, sy, rank))
    with pytest.raises(ValueError, match=r"the solver options must be the same on every rank; "
                                         r"got rank 0: .*'reg': 0.5"):
        sharded_sinkhorn(_mine(x, sx, rank), _mine(y, sy, rank), reg=0.5 + rank)
    with pytest.raises(ValueError, match="whether weights are given must be the same"):
        sharded_sinkhorn(_mine(x, sx, rank), _mine(y, sy, rank),
                         a_local=None if rank else np.ones(sx[0]))
    with pytest.raises(ValueError, match=r"a_local must have a positive sum over all ranks"):
        sharded_sinkhorn(_mine(x, sx, rank), _mine(y, sy, rank), a_local=np.zeros(sx[rank]))


def every_rank_warns_when_the_budget_runs_out(rank, world_size, folder):
    sx, sy = SPLITS[world_size]
    x, y, _, _ = _data(world_size)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = sharded_sinkhorn(_mine(x, sx, rank), _mine(y, sy, rank), tol=1e-6, max_iter=2,
                               reg=1e-3)
    assert not res.converged and res.marginal_error > 1e-6
    assert [w.category for w in caught] == [ConvergenceWarning]
    assert "sharded_sinkhorn did not converge within max_iter=2" in str(caught[0].message)
    with warnings.catch_warnings(record=True) as caught:  # it named sinkhorn_divergence
        warnings.simplefilter("always")
        sharded_sinkhorn_divergence(_mine(x, sx, rank), _mine(y, sy, rank), tol=1e-6,
                                    max_iter=2, reg=1e-3)
    assert caught and all(str(w.message).startswith("sharded_sinkhorn_divergence did not "
                                                    "converge") for w in caught)


def ranks_out_of_step_raise_instead_of_mixing_data(rank, world_size, folder):
    from otlab.distributed._shards import OutOfStepError, Shards

    shards = Shards()
    kind = "rows" if rank == 0 else "cols"  # rank 0 went on iterating, the others stopped
    with pytest.raises(OutOfStepError, match=r"out of step: one all_gather met different "
                                             r"collectives \(rank 0: rows, rank 1: cols"):
        shards.stack(torch.zeros(3), kind)


def same_sample_gives_exactly_zero_and_offsets_change_nothing(rank, world_size, folder):
    sx, sy = SPLITS[world_size]
    x, y, a, b = _data(world_size, weighted=True)
    xm, am = _mine(x, sx, rank), _mine(a, sx, rank)
    assert sharded_sinkhorn_divergence(xm, xm, a_local=am, b_local=am) == 0.0
    shift = np.array([1e8, -3e8])  # the common frame makes the solvers translation-exact
    base = sharded_sinkhorn(xm, _mine(y, sy, rank), order=2, tol=TIGHT)
    moved = sharded_sinkhorn(xm + shift, _mine(y, sy, rank) + shift, order=2, tol=TIGHT)
    np.testing.assert_allclose(moved.cost, base.cost, rtol=1e-7)  # inputs rounded to ~1.5e-8
    one = sinkhorn_samples(x + shift, y + shift, order=2, tol=TIGHT)
    np.testing.assert_allclose(moved.cost, one.cost, rtol=RTOL)


def large_eps_expansion_agrees_with_one_process(rank, world_size, folder):
    sx, sy = SPLITS[world_size]
    x, y, _, _ = _data(world_size)
    xt = torch.tensor(_mine(x, sx, rank), requires_grad=True)
    value = sharded_sinkhorn_divergence(xt, _mine(y, sy, rank), reg=1e9)  # the MMD end
    value.backward()
    xs = torch.tensor(x, requires_grad=True)
    one = sinkhorn_divergence(xs, y, reg=1e9)
    one.backward()
    np.testing.assert_allclose(value.item(), one.item(), rtol=RTOL)
    np.testing.assert_allclose(xt.grad.numpy(), _mine(xs.grad.numpy(), sx, rank), rtol=1e-9,
                               atol=1e-12 * abs(xs.grad.numpy()).max())


def points_of_weight_0_change_no_sharded_divergence_however_far(rank, world_size, folder):
    """S_eps leaves the points of weight 0 out on every rank, as on one process.

    Before, they stayed in the gathered clouds and set the frame and the default ε:
    a weight-0 point at 1e12 moved S_eps (by 6e-4 relative on 12 + 9 points of size 1)
    with no warning, one at 1e50 raised 'reg ... is below what float64 resolves'.  Rank 0's x points all weigh 0
    here, so it holds no row of x once they are left out.
    """
    sx, sy = SPLITS[world_size]
    x, y, a, b = _data(world_size, weighted=True)
    a[:sx[0]] = 0.0
    a[-1] = 0.0
    for far in (1e12, 1e50):
        x[-1] = far
        value = sharded_sinkhorn_divergence(_mine(x, sx, rank), _mine(y, sy, rank),
                                            a_local=_mine(a, sx, rank),
                                            b_local=_mine(b, sy, rank), tol=TIGHT)
        keep = a > 0
        one = sinkhorn_divergence(x[keep], y, a=a[keep], b=b, tol=TIGHT)
        assert _same_everywhere(value)
        np.testing.assert_allclose(value, one, rtol=RTOL)
    # torch, the points requiring a gradient: each rank's rows of the one-process gradient
    xt, yt = (torch.tensor(_mine(v, s, rank), requires_grad=True) for v, s in ((x, sx), (y, sy)))
    value = sharded_sinkhorn_divergence(xt, yt, a_local=torch.tensor(_mine(a, sx, rank)),
                                        b_local=torch.tensor(_mine(b, sy, rank)), tol=TIGHT)
    value.backward()
    xs, ys = torch.tensor(x, requires_grad=True), torch.tensor(y, requires_grad=True)
    one = sinkhorn_divergence(xs, ys, a=torch.tensor(a), b=torch.tensor(b), tol=TIGHT)
    one.backward()
    np.testing.assert_allclose(value.item(), one.item(), rtol=RTOL)
    for mine, full, sizes in ((xt, xs, sx), (yt, ys, sy)):
        np.testing.assert_allclose(mine.grad.numpy(), _mine(full.grad.numpy(), sizes, rank),
                                   rtol=1e-8, atol=1e-10 * abs(full.grad.numpy()).max())


def far_offsets_and_float32_agree_with_one_process(rank, world_size, folder):
    """Offsets of 1e6 and 1e12 (float64) and 1e6 (float32) give the one-process S_eps."""
    sx, sy = SPLITS[world_size]
    x, y, a, b = _data(world_size, weighted=True)
    for offset, dtype in ((1e6, np.float64), (1e12, np.float64), (1e6, np.float32)):
        xo, yo = (x + offset).astype(dtype), (y + offset).astype(dtype)
        value = sharded_sinkhorn_divergence(_mine(xo, sx, rank), _mine(yo, sy, rank),
                                            a_local=_mine(a, sx, rank).astype(dtype),
                                            b_local=_mine(b, sy, rank).astype(dtype))
        one = sinkhorn_divergence(xo, yo, a=a.astype(dtype), b=b.astype(dtype))
        assert _same_everywhere(float(value))
        # both stop at the default tol; float32: both round the same data alike (measured
        # 1e-7 apart), float64 measured 1e-11 apart
        np.testing.assert_allclose(float(value), float(one), rtol=1e-4 if dtype == np.float32
                                   else 1e-8)
