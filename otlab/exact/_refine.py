r"""A coarse plan refined into a feasible plan between the points: the seed of the finer level.

The coarse problem moves the masses :math:`A_K = \sum_{i \in K} a_i` of the
source leaves to the masses :math:`B_L` of the target leaves with flows
:math:`F_{KL}`.  Three north-west-corner splits make a fine plan with exactly
the fine marginals whose pairs lie in the leaf blocks :math:`K \times L` with
:math:`F_{KL} > 0`:

1. each source leaf shares its points' masses among its outgoing coarse arcs
   (pieces :math:`a_{iq}`, :math:`\sum_q a_{iq} = a_i`, :math:`\sum_{i \in K} a_{iq} = F_q`);
2. each target leaf does the same with its incoming arcs (pieces :math:`b_{jq}`);
3. each coarse arc :math:`q` moves its pieces :math:`a_{iq}` to its pieces
   :math:`b_{jq}`, both taken in their order along the arc's direction.

A north-west-corner split of two sequences is a staircase, so two points
share at most one arc of it; with a coarse plan whose support is a forest
(a basic solution) the fine support is a forest too, as the network simplex
needs for a basis.  :meth:`otlab.exact._simplex.NetworkSimplex.seed` checks
it and the caller falls back to a cold start if not.  The cuts of a split are
compared as (group, position in the group) pairs: cuts on one line through
all groups (group offsets added) round, and left pieces of about
:math:`10^{-17}` joining a point to the next group's point or repeating a pair,
so that no point-cloud seed was ever accepted (measured: 2-D uniform,
:math:`n = 20\,000`, :math:`k = 1`: 384 000 pivots in the first round
cold, 190 000 seeded; the solve 11.4 s to 6.8 s of CPU).
"""

from __future__ import annotations

import numpy as np

from ._geometry import Leaves

__all__ = ["north_west_pieces", "refine_plan"]


def _segmented_cumsum(groups, weights):
    total = np.cumsum(weights)
    first = np.ones(groups.shape[0], dtype=bool)
    first[1:] = groups[1:] != groups[:-1]
    starts = np.nonzero(first)[0]
    before = np.repeat(total[starts] - weights[starts], np.diff(np.append(starts, groups.shape[0])))
    return total - before


def _group_ends(groups):
    last = np.ones(groups.shape[0], dtype=bool)
    last[:-1] = groups[1:] != groups[:-1]
    return np.nonzero(last)[0]


def north_west_pieces(groups_a, wa, groups_b, wb):
    """North-west-corner couplings of ``wa`` and ``wb``, group by group.

    Both sequences are sorted by group and have (nearly) equal totals in each
    group; the totals of ``wa`` are taken as exact.  Returns ``(i, j, mass)``:
    the positive pieces, each inside one group.

    >>> north_west_pieces(np.array([0, 0, 1]), np.array([0.25, 0.25, 0.5]),
    ...                   np.array([0, 1]), np.array([0.5, 0.5]))
    (array([0, 1, 2]), array([0, 0, 1]), array([0.25, 0.25, 0.5 ]))
    """
    if groups_a.size == 0 or groups_b.size == 0:
        empty = np.empty(0, np.int64)
        return empty, empty, np.empty(0)
    ca, cb = _segmented_cumsum(groups_a, wa), _segmented_cumsum(groups_b, wb)
    size = int(max(groups_a.max(), groups_b.max())) + 1
    total = np.zeros(size)
    ends_a, ends_b = _group_ends(groups_a), _group_ends(groups_b)
    total[groups_a[ends_a]] = ca[ends_a]
    cb[ends_b] = total[groups_b[ends_b]]
    # Cuts are (group, position in the group) pairs compared lexicographically: positions on
    # one global line (group offsets added) would round, and a piece of 1e-17 could join a
    # point to the next group's point, or repeat a pair (a cycle in the seed).
    na = groups_a.shape[0]
    group = np.concatenate([groups_a, groups_b])
    pos = np.concatenate([ca, cb])
    from_a = np.concatenate([np.ones(na, np.int64), np.zeros(groups_b.shape[0], np.int64)])
    order = np.lexsort((pos, group))
    group, pos, from_a = group[order], pos[order], from_a[order]
    first = np.ones(group.shape[0], dtype=bool)
    first[1:] = (group[1:] != group[:-1]) | (pos[1:] != pos[:-1])
    cut = np.nonzero(first)[0]
    # the first event of a side at or after a cut: the count of that side's events before it
    i = (np.cumsum(from_a) - from_a)[cut]
    j = (np.cumsum(1 - from_a) - (1 - from_a))[cut]
    g, p = group[cut], pos[cut]
    same = np.zeros(cut.shape[0], dtype=bool)
    same[1:] = g[1:] == g[:-1]
    mass = p - np.where(same, np.concatenate([[0.0], p[:-1]]), 0.0)
    i, j = np.minimum(i, na - 1), np.minimum(j, groups_b.shape[0] - 1)
    keep = (mass > 0) & (groups_a[i] == g) & (groups_b[j] == g)
    return i[keep], j[keep], mass[keep]


def _along(points, arcs, direction):
    """Order of the pieces: by coarse arc, then along that arc's direction."""
    proj = np.einsum("ij,ij->i", points, direction[arcs])
    return np.lexsort((proj, arcs))


def refine_plan(lx: Leaves, ly: Leaves, x, a, y, b, coarse_x, coarse_y, leaf_rows, leaf_cols,
                leaf_flows):
    """A plan between the points with marginals ``a, b`` inside the coarse plan's leaf blocks.

    ``coarse_x``, ``coarse_y`` are the leaves' centres.  Returns ``(rows, cols,
    flows)``, positive flows (see the module notes).
    """
    keep = leaf_flows > 0
    leaf_rows, leaf_cols, leaf_flows = leaf_rows[keep], leaf_cols[keep], leaf_flows[keep]
    by_source = np.lexsort((leaf_cols, leaf_rows))
    by_target = np.lexsort((leaf_rows, leaf_cols))
    # 1. source points (leaf order) against the arcs leaving their leaf
    src_points = lx.perm
    pi, qa, ma = north_west_pieces(lx.leaf_of[src_points], a[src_points],
                                   leaf_rows[by_source], leaf_flows[by_source])
    pieces_a = (src_points[pi], by_source[qa], ma)
    # 2. target points against the arcs entering their leaf
    tgt_points = ly.perm
    pj, qb, mb = north_west_pieces(ly.leaf_of[tgt_points], b[tgt_points],
                                   leaf_cols[by_target], leaf_flows[by_target])
    pieces_b = (tgt_points[pj], by_target[qb], mb)
    # 3. along each coarse arc, its source pieces against its target pieces, both sorted
    #    along the arc's direction (the 1-D optimal order when the blocks are far apart)
    direction = coarse_y[leaf_cols] - coarse_x[leaf_rows]
    oa = _along(x[pieces_a[0]], pieces_a[1], direction)
    ob = _along(y[pieces_b[0]], pieces_b[1], direction)
    u, v, flows = north_west_pieces(pieces_a[1][oa], pieces_a[2][oa],
                                    pieces_b[1][ob], pieces_b[2][ob])
    return pieces_a[0][oa][u], pieces_b[0][ob][v], flows
