"""The coarse plan refined into a fine plan: exact marginals, pairs inside the coarse blocks, a forest."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from otlab.costs import PowerCost
from otlab.exact._geometry import Leaves
from otlab.exact._multiscale import SolverOptions, solve_points
from otlab.exact._refine import north_west_pieces, refine_plan
from otlab.exact._simplex import NetworkSimplex


@st.composite
def grouped_masses(draw):
    """Two sequences of masses sorted by group, with (nearly) equal totals per group."""
    groups = draw(st.integers(1, 60))
    ga, wa, gb, wb = [], [], [], []
    for g in range(groups):
        left = draw(st.lists(st.floats(1e-9, 1.0), min_size=1, max_size=6))
        right = draw(st.lists(st.floats(1e-9, 1.0), min_size=1, max_size=6))
        right = np.array(right) * (sum(left) / sum(right))  # equal totals up to round-off
        ga += [g] * len(left)
        wa += left
        gb += [g] * len(right)
        wb += list(right)
    return np.array(ga), np.array(wa), np.array(gb), np.array(wb)


@given(grouped_masses())
def test_north_west_pieces_stay_in_their_group_meet_the_masses_and_repeat_no_pair(case):
    ga, wa, gb, wb = case
    i, j, mass = north_west_pieces(ga, wa, gb, wb)
    np.testing.assert_array_equal(ga[i], gb[j])
    assert np.all(mass > 0)
    keys = i * gb.shape[0] + j
    assert np.unique(keys).shape[0] == keys.shape[0]
    # positions are cumulative sums over all groups: round-off of eps times the total mass
    atol = 1e-14 * wa.sum()
    np.testing.assert_allclose(np.bincount(i, mass, minlength=wa.shape[0]), wa, rtol=1e-12,
                               atol=atol)
    np.testing.assert_allclose(np.bincount(gb[j], mass), np.bincount(ga, wa), rtol=1e-12,
                               atol=atol)


@settings(max_examples=10, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from([1.0, 2.0]))
def test_refined_plan_is_a_feasible_forest_that_seeds_the_simplex(seed, order):
    rng = np.random.default_rng(seed)
    n, m = 3000, 2600
    x, y = rng.random((n, 2)) * 1e3 + 5e6, rng.random((m, 2)) * 1e3 + 5e6  # far from the origin
    x, y = (x - 5e6) / 1e3, (y - 5e6) / 1e3
    a, b = rng.random(n) + 0.01, rng.random(m) + 0.01
    a, b = a / a.sum(), b / b.sum()
    lx, ly = Leaves(x, 8), Leaves(y, 8)
    cx, ca = lx.weighted_centres(x, a)
    cy, cb = ly.weighted_centres(y, b)
    coarse = solve_points(cx, ca, cy, cb, SolverOptions(cost=PowerCost(order),
                                                        max_iter=10**8)).plan
    rows, cols, flows = refine_plan(lx, ly, x, a, y, b, cx, cy, coarse.rows, coarse.cols,
                                    coarse.flows)
    assert np.all(flows > 0)
    np.testing.assert_allclose(np.bincount(rows, flows, minlength=n), a, rtol=1e-9)
    np.testing.assert_allclose(np.bincount(cols, flows, minlength=m), b, rtol=1e-9)
    blocks = set(zip(coarse.rows.tolist(), coarse.cols.tolist()))
    assert set(zip(lx.leaf_of[rows].tolist(), ly.leaf_of[cols].tolist())) <= blocks
    ns = NetworkSimplex(a, b)
    ns.add_arcs(rows, cols, PowerCost(order).pairs(x, y, rows, cols))
    assert ns.seed(np.arange(rows.shape[0]), flows)  # no repeated pair, no cycle
