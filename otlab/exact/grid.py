r"""Exact OT between images and histograms on regular grids: :func:`emd_grid`.

An array :math:`A` of shape :math:`(s_1, \dots, s_d)` (``d`` = 1, 2 or 3) is
the measure :math:`\mu_A = \sum_p A_p \, \delta_{z_p} / \sum_p A_p` that puts
the mass of pixel :math:`p = (p_1, \dots, p_d)` at its centre
:math:`z_p = ((p_1 + \tfrac12) h_1, \dots, (p_d + \tfrac12) h_d)`, with the
grid spacing :math:`h` (one per axis, or one for all).  Two arrays of
different shapes in the same dimension are two such grids with the same
spacing and the same first pixel.  :func:`emd_grid` returns

.. math::

    W_k^k(\mu_A, \mu_B) = \min_{P \ge 0,\; P 1 = a,\; P^\top 1 = b}
    \sum_{p, q} P_{pq} \lVert z_p - z_q \rVert_2^k ,
    \qquad a = A / \textstyle\sum A, \quad b = B / \textstyle\sum B,

solved by :func:`otlab.emd_points` on the pixel centres, weighted by the
pixel values: zero pixels stay out of the LP and get their potentials from
the c-transform, and the certificate covers all pixel pairs.  Indices are
flat, in C (row-major) order: pixel ``p`` of ``A`` is row
``numpy.ravel_multi_index(p, A.shape)`` of the plan, and
``numpy.unravel_index(i, A.shape)`` undoes it.

For :math:`k = 1` and two arrays of the same shape only the difference
moves (:mod:`otlab.exact._grid_w1`): the mass the images share stays in its
pixel and the LP carries each pixel as a source or a target, never both.

Where the time goes now (128 x 128, one thread, CPU time, load 2, with the
flows by node of :mod:`otlab.exact._simplex_kernels`, the Z-curve order of
:mod:`otlab.exact.points` and the nearest pixels of
:mod:`otlab.exact._grid_geometry`): k = 2, smooth random field, 0.9 s, of which
0.64 s is the simplex (finest level: 26 000 seeded pivots in 0.06 s, then
51 000 in 0.46 s, 9 us each, shifting 3 200 potentials, pricing 900 pairs and
walking a cycle of 113 nodes each); the coarse levels about 0.2 s.  Before them
(after the unsigned indices): 1.15-1.2 s, of which 0.88 s was the simplex (finest level: 26 000 seeded
pivots in 0.07 s, then 53 000 in 0.65 s, 12 us each, half of it shifting 3 500
potentials along the thread at about 1.8 ns each), 0.2 s the coarse levels and
0.13 s the finest level's candidates; k = 1, Cauchy densities, 1.7 s, of which
0.7 s simplex and 0.64 s tile scans (seven of them, 0.86 s with signed indices).
Tried with them and not kept (k = 2, five or six classes, load 2): the coarse plan
refined by an exact (POT) or a greedy small OT inside each coarse pair of blocks
instead of the north-west corner along the pair's direction (white noise 50 000
-> 45 000 seeded pivots before the flows by node, the other classes none or
more); coarse blocks of 8 or 16 points below the finest level (the finest level's
pivots unchanged, the coarse levels slower); the coarse levels' dense threshold
at 20 000 or 60 000 pairs instead of 160 000 (the same); the pixels along a
Hilbert curve instead of the Z-curve, 3 or 6 nearest neighbours, pricing blocks
of 0.1 or 0.4 :math:`\sqrt{A}` (within the noise or slower).
Tried after the unsigned indices, within the noise: coarse blocks of 2 pixels at the finest level
only (finest-level pivots 53 000 -> 31 000 but a coarse level twice the size:
0.88-1.10x), pricing blocks of 0.1 :math:`\sqrt{A}`, and pricing the new pairs
of a round first.  The notes below are older (profiled before it, at load 9-20,
so their figures carry 10-20 % of noise):

* :math:`k = 2`, smooth random fields: of 2.5-3.4 s, 1.9-2.7 s is the network
  simplex at the finest level (16 384 pixels): a seeded round of 26 000
  pivots (5-10 us each, 350-750 pairs priced, 800-950 potentials shifted)
  and a second round of 53 000-62 000 pivots (24-34 us each, 3 500 potentials
  shifted, cycles of 110-160 nodes) after the grid pricer adds each row's most
  violated pair; coarse levels (simplex and pair scans) 0.4-0.5 s, candidate pairs 0.1 s,
  grid pricing 0.005 s, refinement 0.03 s.  The
  refined seed costs only 0.4 % more than the optimum and no pivot is
  degenerate: the pivots are many small exchanges, each moving a large
  subtree of a deep tree.
  Measured again on a quiet machine (load 0.5-1): 2.1 s for both a smooth
  field and white noise, of which 1.4-1.6 s simplex at the finest level
  (white noise: 50 000 seeded pivots, 3 500 potentials shifted each, then
  22 500), 0.2-0.4 s the 64 x 64 level and below, 0.3 s the rest.  Profiled
  again (load 2-3): smooth field 1.9 s, of which 1.47 s simplex (finest
  level: 26 000 seeded pivots in 0.12 s, 53 000 in 1.12 s at 21 us, each
  pricing 850 pairs, shifting 3 500 potentials and walking a cycle of 120
  nodes with a stem of 44, then 1 800); the rest is spread thin (nearest
  neighbours 0.09 s, coarse pair scans 0.03 s, k-d tree leaves 0.03 s,
  candidate keys and costs 0.1 s).  Shapes on a zero background: the zero
  pixels' potentials by the grid's c-transform (not a pruned scan), 0.44 ->
  0.15 s.
* :math:`k = 1`, before the reduction: 14-15 s, of which 8.4 s simplex
  (320 000 pivots over 9 rounds, 20-33 us each) and 4.7 s pair scans (about
  0.5 s a round); after it, 5.4-7.3 s, of which half is still the scan
  (quiet machine: smooth field 4.9 s, of which 1.6 s pair scans, the scan
  evaluating 29 % of the pairs at 7-19 ns a pair, and 1.4 s simplex at the
  finest level; Cauchy densities 5.7 s, 2.5 s scans).  The finest level and
  the certificate are now priced by the compiled scan over 8 x 8 tiles of
  :mod:`otlab.exact._tile_scan` (exact row maxima, 12-25 % of the pairs
  evaluated at 3-5 ns a pair): 1.4-1.8x less time on each of the seven
  classes of ``benchmarks/exact_grid.py`` (one pair each, the previous
  engine run just before on the same pairs, load 6); against the pair scan
  once it was compiled too (:mod:`otlab.exact._scan_kernels`), pricing the
  finest level by tiles still took 10 % less time over four classes
  (-24 % to +4 %, load 7).  Since the pair scan evaluates each leaf in
  vector loops, with leaves of 128 points and bounds by planes
  (:mod:`otlab.exact._scan`), it prices the finest level and the certificate
  again (:class:`~otlab.exact._grid_dual.GridPricer`; 20 % instead of 46 % of
  the pairs evaluated on Cauchy densities, six classes 0.96x the time); the
  tiles still compute the c-transform of :mod:`otlab.exact._grid_w1`.  What remains:
  the simplex (about half), the pair scans of the coarse levels.  The
  reduced problem is no longer completed and certified on its own (its
  zero pixels' c-transform and a certificate over all pairs, about 10 %):
  the reduction computes the potentials of every pixel and the certificate
  of the full problem once (A/B on the seven classes, one pair each, the
  previous engine interleaved, load 3: median 0.88x the CPU time, shapes
  0.59x, values identical).  For k = 2 the zero pixels' potentials come from
  the grid's c-transform instead of a pruned scan (shapes 0.35-0.40x,
  random fields 0.92-1.0x).

Tried and measured (same pairs, same runs):

* pricing blocks of :math:`b\sqrt{A}` pairs: :math:`b = 3` and 10 took
  more pivots (68 000 and 79 000 instead of 62 000 in the second round) and
  1.3x and 2.3x the time; :math:`b = 0.2` about as many pivots and 15-25 %
  less time (:data:`GRID_ORDER_TUNING`, k = 2);
* a shielding-style candidate set (the coarse plan's blocks widened to the 4
  or 8 neighbouring blocks): the first candidates held 99.5 % of the optimal
  support (74 % without), the finest level then needed one round instead of
  three, but 94 000 pivots at 28-31 us: 3.9 s against 3.1 s for k = 2, and
  for k = 1 220 000 pivots in its first round: not used;
* the 20 most violated pairs per row for k = 1 (instead of 5): 5-6 rounds
  instead of 7, 15-20 % less time (:data:`GRID_ORDER_TUNING`); 50 pairs no
  better; scan leaves of 16 slower, of 64 the same;
* nodes numbered in thread order (:mod:`otlab.exact._simplex`): 0-10 %;
  walking the moved subtree by runs of consecutive node numbers (the next
  node known before the thread is read): 25 % slower in the second round
  (1.53 s against 1.22 s), the runs being short (22-44 % of the thread's
  links join consecutive numbers at the finest level); renumbering every
  (n + m)/4 to (n + m)/64 pivots instead of n + m: within the noise;
* coarse levels stopped after their first restricted solve (they only seed
  the next level): a worse seed, 6-7 rounds at the finest level instead of 3
  and 3.2-3.9x the time on smooth fields and Cauchy densities (k = 2; 12 %
  less on white noise); after two rounds as now;
* neighbours of the partners added with the violated pairs at the finest
  level (k = 2): none 15-17 rounds and 1.2-1.6x the time, 2 neighbours 11
  rounds and 1.3x; 8 or 12 within the noise of 4; 20 8 % slower;
* the 8, 20 (now) or 50 most violated pairs per row with the tile scan
  (k = 1): 20 the fastest, by 4-7 %; tiles of 4 x 4 pixels instead of
  8 x 8: fewer pairs evaluated (15 % against 25 %) but more bounds, no
  faster;
* the pairs stored in thread order of their sources before each kept-basis
  round (the block pricing then walks neighbouring subtrees together): 3 %
  less time for k = 2 and 5 % for k = 1 over three classes, within the
  noise at load 6: not kept;
* the 3-partite graph of separable costs (k = 2; Auricchio et al. 2018:
  source :math:`(i, j)` to :math:`(k, j)` to target :math:`(k, l)`, the two
  layers priced exactly by 1-D c-transforms): the simplex kernel carries it
  as it is (intermediate nodes hang from the root like sources of mass 0;
  only :meth:`~otlab.exact._simplex.NetworkSimplex.add_arcs` assumes two
  sides), and a prototype gave the same values (to 2e-14).  From cold, even
  with the optimal plan's pairs split into both layers among its first
  arcs, it took 65 000 pivots and 0.80 s against 0.25 s at 64 x 64 (smooth
  field; white noise 0.24 against 0.22 s), and at 128 x 128 327 000 pivots
  and 13.8 s against 2.4 s (white noise 6.1 against 2.2 s); from a band of
  one pixel it took 580 000 pivots at 64 x 64.  Without a seeded basis of its
  own (a multiscale hierarchy on the 3-partite graph) it does not pay: not
  kept;
* a seed whose duals are better (k = 2): the coarse potentials spread over
  their 2 x 2 blocks, their exact grid c-transform :math:`g = f^c`
  (:mod:`otlab.exact._grid_dual`), and the pair of each row and of each
  column that is tight under :math:`(g^c, g)` added to the first candidates
  (32 768 pairs on top of 234 000).  The second round shrank (smooth field
  53 000 -> 46 000 pivots, white noise 22 500 -> 13 000) but the seeded round
  grew as much (26 000 -> 39 000, 50 000 -> 57 000): total pivots and CPU time
  within the noise (three classes, two repetitions each, load 2-3);
  pricing blocks of 0.1 and 0.05 :math:`\sqrt{A}` (instead of 0.2) likewise
  within the noise.  Not kept;
* LEMON's altering candidate list as the pricing rule (k = 2; re-price the
  best few arcs of the last search, extend the list by blocks, enter the
  best): head of 3 with blocks of 0.2 :math:`\sqrt{A}` within the noise of
  the block search (0.93-1.25x over three classes, two repetitions, load
  2.5-2.9), blocks of :math:`\sqrt{A}` 1.2-1.5x slower, head 10 with
  0.5 :math:`\sqrt{A}` 1.0-1.4x: as with larger blocks, entering the most
  negative of more arcs takes more or costlier pivots here.  Not kept;
* coarse levels capped at 2 or 3 pricing rounds (their plan only seeds the
  next level): k = 1 0.80-1.10x, k = 2 0.92-1.04x (three classes, two
  repetitions each, load 2.5-2.9): within the noise, not kept;
* the finest level's first round stopped after 0.25 or 0.5 (n + m) pivots
  and priced there (the grid pricer's pairs join before the restricted
  optimum is reached): 0.97-1.16x, not kept;
* the grid pricer also adding each column's most violated pair (the
  c-transform the other way, k = 2): log-GRF pairs 10 -> 5 rounds and
  0.77-0.92x, but smooth fields 1.13x and the rest 0.9-1.0x (two
  repetitions, load 2.6-2.8): mixed; only from the second pricing round on
  (the tail of rounds), 0.84-1.10x over four classes, two pairs and two
  repetitions each (median 1.0): not kept; the neighbours of each
  violated pair's pixels added with it: the same rounds, within the noise;
* for k = 1, a second tile bound through the tile's centre (triangle
  inequality, :math:`f_p + \max_q (g_q + \lVert y_q - c\rVert) -
  \lVert x_p - c\rVert`): the same 25 % of pairs evaluated (the excess is
  0 along whole transport rays, so the tiles a ray crosses must be
  evaluated whatever the bound), not kept.

Where the pivots go (k = 2, 128², finest level, entering arcs logged; smooth
field / white noise).  Seeded round: 26 000 / 50 000 pivots, median
potentials shifted 16 / 261 (mean 820 / 3 460: the top 10 % of pivots carry
89 % / 41 % of the shifts).  Second round: 53 000 / 22 500 pivots on 36 000 /
16 800 distinct entering arcs (1.3-1.5 entries each), 61 % / 60 % of them
pairs that were candidates already in the first round (39-40 % the pairs
the pricer added), median pair length 14 / 1.4 pixels, median shift 680 /
1 580 (mean 3 500 / 4 500); only 42-47 % of the distinct entering arcs are
in the optimal support.  So the second round mostly re-arranges the first
round's basis, once the pricer's pairs show that the restricted optimum was
wrong over large regions, and every pivot moves a large piece of a deep
tree: fewer pivots need a first restricted problem whose optimum is already
globally right (none of the candidate sets above gave one cheaply), cheaper
pivots a tree whose potential shifts do not chase the thread node by node.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, fields

import numpy as np

from .._backend import to_numpy
from .._validation import as_float_array, check_not_masked
from ._grid_w1 import emd_w1_same_grid
from .points import PointsEMDResult, solve_validated, validate_points

__all__ = ["emd_grid", "GridEMDResult", "grid_points", "GRID_TUNING", "GRID_ORDER_TUNING",
           "grid_tuning"]

#: Solver settings for pixels (see :mod:`otlab.exact._multiscale`): 2 x 2 blocks per coarse
#: point (a k-d tree leaf of 4 pixels) and 4 nearest neighbours.  Measured at 64^2, all
#: classes, one thread: 38 % less CPU time than 8 and 8 for k = 2, 15 % less for k = 1.
#: Coarse levels stop after 2 pricing rounds (their plan only seeds the next level, which is
#: certified on its own): at 128^2, k = 2, 12 pairs of six classes, the coarse levels took
#: 0.84-0.86x the CPU time and the finest level 1 % more pivots; whole solves 0.96-1.0x
#: (four runs, 12-14 pairs each, load 2); k = 1: 4 % fewer pivots, time within the noise.
#: Before the flows by node of :mod:`otlab.exact._simplex` it was within the noise for both.
GRID_TUNING = {"coarse_leaf": 4, "knn": 4, "coarse_rounds": 2}
#: Settings by order, on top of :data:`GRID_TUNING`.  Measured at 128^2, one thread, CPU time,
#: load 10-12 (so 10-20 % of noise):
#:
#: * k = 1: the pair scan returns the 20 most violated pairs of each row (not 5): 5-7 pricing
#:   rounds instead of 7, 15-20 % less time on Cauchy densities and smooth fields (the coarse
#:   levels; the finest level's pricer keeps as many, :data:`otlab.exact._tile_scan.TOP_K`);
#: * k = 2: pricing blocks of the network simplex of 0.2 sqrt(pairs) (not sqrt(pairs)): about
#:   as many pivots, each priced over fewer pairs; 15-25 % less time on random fields and white
#:   noise, 5-10 % on Cauchy densities and shapes (for k = 1 it made no difference).
GRID_ORDER_TUNING = {1: {"top_k": 20}, 2: {"block_factor": 0.2}}


def grid_tuning(order: float) -> dict:
    """The :class:`~otlab.exact._multiscale.SolverOptions` overrides for pixels of this order.

    >>> grid_tuning(2)
    {'coarse_leaf': 4, 'knn': 4, 'coarse_rounds': 2, 'block_factor': 0.2}
    """
    return {**GRID_TUNING, **GRID_ORDER_TUNING.get(order, {})}


@dataclass(frozen=True)
class GridEMDResult(PointsEMDResult):
    r"""Exact OT between two arrays on grids: a :class:`~otlab.PointsEMDResult` in pixels.

    Every attribute of :class:`~otlab.PointsEMDResult`, with these differences:

    Attributes
    ----------
    plan : scipy.sparse.csr_array, shape (A.size, B.size)
        The optimal plan between pixels, in flat C-order indices
        (``numpy.unravel_index(i, shape_a)`` gives pixel ``i`` of ``A``).
    f, g : ndarray, shapes ``shape_a`` and ``shape_b``
        Dual potentials, one per pixel (zero pixels included, by the
        c-transform), :math:`f_p + g_q \le \lVert z_p - z_q \rVert^k` for
        all pixel pairs.
    a, b : ndarray, shapes ``shape_a`` and ``shape_b``
        The arrays normalised to sum 1.
    unit_f, unit_g : ndarray, shapes ``shape_a`` and ``shape_b``
        The potentials in the LP's units.
    shape_a, shape_b : tuple of int
        The arrays' shapes.
    spacing : tuple of float
        The grid spacing, one per axis.
    """

    shape_a: tuple = ()
    shape_b: tuple = ()
    spacing: tuple = ()


def _describe(x) -> str:
    x = np.asarray(x)
    return f"array of shape {x.shape} and dtype {x.dtype}" if x.ndim else repr(x.item())


def _as_grid(A, name: str) -> np.ndarray:
    """``A`` as a finite, non-negative float64 array of 1 to 3 dimensions with positive mass."""
    check_not_masked(A, name, fill="0")  # 0: a masked pixel holds no mass
    try:
        arr = to_numpy(A, dtype=None) if hasattr(A, "detach") else np.asarray(A)
    except Exception as exc:  # noqa: BLE001 - ragged lists and the like: say which argument
        raise ValueError(f"{name} must be a 1-, 2- or 3-D array of non-negative numbers; "
                         f"could not read it as an array ({exc})") from None
    if arr.dtype == object:  # Python numbers (ints beyond int64, Fractions), as emd_points reads
        arr = as_float_array(arr, name)
    if arr.dtype.kind not in "biuf":  # a boolean mask is mass 1 per pixel; no timedelta64
        raise TypeError(f"{name} must hold real numbers; got dtype {arr.dtype}")
    if arr.ndim not in (1, 2, 3):
        raise ValueError(f"{name} must be a 1-, 2- or 3-D array; got {arr.ndim} dimensions "
                         f"(shape {arr.shape})")
    if arr.size == 0:
        raise ValueError(f"{name} must have at least one pixel; got shape {arr.shape}")
    arr = arr.astype(np.float64)
    bad = ~np.isfinite(arr)
    if bad.any():
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(f"{name} must be finite; got {int(bad.sum())} NaN or infinite "
                         f"pixel(s), the first at {first}: {arr[first]}")
    if arr.min() < 0:
        first = tuple(int(i) for i in np.unravel_index(int(np.argmin(arr)), arr.shape))
        raise ValueError(f"{name} must be non-negative; got min {arr.min():.6g} at {first}")
    if not arr.any():
        raise ValueError(f"{name} must have positive total mass; got all zeros "
                         f"(shape {arr.shape})")
    return arr


def _as_spacing(spacing, ndim: int) -> np.ndarray:
    """One positive, finite spacing per axis from a number or a sequence of ``ndim`` numbers."""
    if hasattr(spacing, "detach"):  # a tensor, perhaps one that requires grad
        spacing = to_numpy(spacing, dtype=None)
    check_not_masked(spacing, "spacing", fill="1.0")
    if isinstance(spacing, numbers.Real) and not isinstance(spacing, bool):
        try:
            values = np.full(ndim, float(spacing))
        except OverflowError:  # an int beyond float64
            digits = int(int(abs(spacing)).bit_length() * math.log10(2))
            raise ValueError(f"spacing must be positive and finite; got an integer of about "
                             f"{'-' if spacing < 0 else ''}10**{digits}") from None
    else:
        try:
            values = np.asarray(spacing, dtype=np.float64).reshape(-1)
        except (TypeError, ValueError):
            raise TypeError(f"spacing must be a positive number or one per axis; got "
                            f"{spacing!r}") from None
        except OverflowError:  # an int beyond float64 in a sequence
            raise ValueError("spacing must be positive and finite; got an integer beyond the "
                             "float range (1.8e308)") from None
        given = np.asarray(spacing)
        if given.dtype.kind not in "iuf" or (  # bools, strings ("1" casts to 1.0); [True, 1]
                isinstance(spacing, (list, tuple))
                and any(isinstance(v, (bool, np.bool_)) for v in spacing)):
            raise TypeError(f"spacing must be a positive number or one per axis; got "
                            f"{spacing!r}")
        if given.ndim > 1:
            raise ValueError(f"spacing must be one number or a flat sequence of one per axis; "
                             f"got shape {given.shape}: {spacing!r}")
        if values.shape[0] == 1 and np.ndim(spacing) == 0:
            values = np.full(ndim, values[0])
        elif values.shape[0] != ndim:
            raise ValueError(f"spacing must be one number or one per axis ({ndim} for "
                             f"{ndim}-D arrays); got {values.shape[0]} values: {spacing!r}")
    if not (np.isfinite(values).all() and (values > 0).all()):
        raise ValueError(f"spacing must be positive and finite; got {values.tolist()}")
    return values


def grid_points(shape, spacing) -> np.ndarray:
    r"""Pixel centres :math:`((p_1 + \tfrac12) h_1, \dots)` of a grid, in C order.

    Parameters
    ----------
    shape : tuple of int
    spacing : ndarray, shape (len(shape),)

    Returns
    -------
    ndarray, shape (prod(shape), len(shape))

    Examples
    --------
    >>> grid_points((2, 3), np.array([1.0, 2.0])).tolist()
    [[0.5, 1.0], [0.5, 3.0], [0.5, 5.0], [1.5, 1.0], [1.5, 3.0], [1.5, 5.0]]
    """
    axes = [(np.arange(s) + 0.5) * h for s, h in zip(shape, spacing)]
    return np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, len(shape))


def _centres(arr: np.ndarray, spacing: np.ndarray, name: str) -> np.ndarray:
    """:func:`grid_points` of ``arr``'s grid; a ValueError naming ``spacing`` if they overflow."""
    with np.errstate(over="ignore"):
        points = grid_points(arr.shape, spacing)
    if not np.isfinite(points).all():
        shown = spacing[0] if (spacing == spacing[0]).all() else spacing.tolist()
        raise ValueError(f"spacing {shown} puts the pixel centres of {name} (shape {arr.shape}) "
                         f"beyond the float range (largest {np.finfo(float).max:.3g}); choose a "
                         "smaller spacing")
    return points


def _check_same_ndim(A: np.ndarray, B: np.ndarray) -> None:
    if A.ndim != B.ndim:
        raise ValueError(f"A and B must have the same number of dimensions; got A of shape "
                         f"{A.shape} ({A.ndim}-D) and B of shape {B.shape} ({B.ndim}-D)")


def emd_grid(A, B, *, order: float = 1, spacing=1.0, solver: str = "auto",
             max_iter: int | None = None, max_rounds: int = 100,
             progress="auto") -> GridEMDResult:
    r"""Exact optimal transport between two images or histograms on regular grids.

    .. math::

        W_k^k = \min_{P \ge 0,\; P 1 = a,\; P^\top 1 = b}
        \sum_{p, q} P_{pq} \lVert z_p - z_q \rVert_2^k ,
        \qquad a = \frac{A}{\sum A}, \quad b = \frac{B}{\sum B},

    where :math:`z_p = ((p_1 + \frac12) h_1, \dots, (p_d + \frac12) h_d)` is
    the centre of pixel :math:`p` on a grid of spacing :math:`h`.  Both
    arrays are normalised to total mass 1, as :func:`emd_points` normalises
    its weights, so only their shapes (not their totals) matter.  The LP is
    solved by :func:`emd_points` on the pixel centres and certified over all
    pixel pairs.

    Parameters
    ----------
    A, B : array-like, 1-, 2- or 3-D
        Non-negative, finite pixel values with positive total mass (numpy,
        lists or torch; computed in float64; a boolean mask puts mass 1 on
        each ``True`` pixel).  Both have the same number of
        dimensions; their shapes may differ (two grids with the same spacing
        and the same first pixel).
    order : float, default 1
        The order ``1 <= k <= 1000`` of the ground cost :math:`\lVert z_p - z_q\rVert_2^k`.
    spacing : float or sequence of float, default 1.0
        The grid spacing: one positive number for all axes, or one per axis
        (anisotropic grids).
    solver, max_iter, max_rounds, progress
        As for :func:`emd_points` (``progress="auto"`` shows a progress line
        when a solve runs more than a few seconds and stderr is a terminal).

    Returns
    -------
    GridEMDResult
        ``plan`` (sparse, flat C-order pixel indices), ``cost``
        (:math:`W_k^k`), ``distance`` (:math:`W_k`), potentials ``f, g`` as
        arrays of the shapes of ``A`` and ``B``, the certificate and
        ``converged``.

    Raises
    ------
    ValueError
        Negative, NaN or infinite pixels, an all-zero or empty array, arrays
        of different dimensions, a spacing that is not positive and finite,
        has the wrong length or puts pixel centres beyond the float range;
        each message names ``A``, ``B`` or ``spacing``.
    TypeError
        Arrays that do not hold real numbers, masked arrays with masked
        pixels (pass ``A.filled(0)``), a spacing that is not numbers.

    Warns
    -----
    ConvergenceWarning
        When the certificate does not hold (``converged=False``; the warning
        comes from :func:`emd_points`).

    See Also
    --------
    emd_points : the same LP between weighted point clouds.

    Notes
    -----
    Pixels of value 0 carry no mass: they are left out of the LP and their
    potentials come from the c-transform, so ``f`` and ``g`` are dual
    feasible on all pixel pairs.  Pixel ``p`` of ``A`` is row
    ``numpy.ravel_multi_index(p, A.shape)`` of ``plan``.  In one dimension
    :math:`W_1` is also :func:`scipy.stats.wasserstein_distance` of the
    pixel centres weighted by the pixel values.  For ``order=1`` and arrays
    of one shape the solver moves only :math:`(a - b)_+` to :math:`(b - a)_+`
    (Kantorovich-Rubinstein) and keeps :math:`\min(a, b)` on the diagonal
    of the plan; then ``g = -f``.  For ``order=2`` the
    pricing and the certificate use the c-transform on the grid, one lower
    envelope of parabolas per axis (:math:`O(n)` per axis, no scan of
    pairs); ``dual_violation`` then adds that computation's round-off bound,
    :math:`32(d + 1)\epsilon(\max|f| + \max|g| + \max c)`, so that it is an
    upper bound on the violation over all pixel pairs.

    Examples
    --------
    All the mass of a 3 x 3 image moves from its top-left pixel to its
    bottom-right one: two steps right and two down, so W_1 = sqrt(8) and
    W_2^2 = 8.

    >>> import numpy as np
    >>> A, B = np.zeros((3, 3)), np.zeros((3, 3))
    >>> A[0, 0], B[2, 2] = 1.0, 5.0
    >>> res = emd_grid(A, B, order=2)
    >>> res.cost, res.converged
    (8.0, True)
    >>> np.argwhere(res.plan.toarray()).tolist()  # flat indices: pixel (2, 2) is 2 * 3 + 2
    [[0, 8]]
    >>> round(emd_grid(A, B, spacing=[1.0, 0.5]).distance ** 2, 12)  # 2**2 + 1**2
    5.0
    """
    A, B = _as_grid(A, "A"), _as_grid(B, "B")
    _check_same_ndim(A, B)
    h = _as_spacing(spacing, A.ndim)
    checked = validate_points(_centres(A, h, "A"), _centres(B, h, "B"), A.reshape(-1),
                              B.reshape(-1), order, solver, max_iter, max_rounds)
    res = None
    if checked[4] == 1 and A.shape == B.shape:  # W_1 on one grid: only a - b moves
        res = emd_w1_same_grid(checked[0], checked[1], checked[3], solver=solver,
                               max_iter=max_iter, max_rounds=max_rounds, progress=progress,
                               tuning=grid_tuning(1), shape=A.shape)
    if res is None:
        res = solve_validated(*checked, solver=solver, max_rounds=max_rounds, progress=progress,
                              tuning=grid_tuning(checked[4]), shapes=(A.shape, B.shape),
                              name="emd_grid")
    values = {f.name: getattr(res, f.name) for f in fields(PointsEMDResult)}
    for key, shape in (("f", A.shape), ("a", A.shape), ("unit_f", A.shape),
                       ("g", B.shape), ("b", B.shape), ("unit_g", B.shape)):
        values[key] = values[key].reshape(shape)
    return GridEMDResult(**values, shape_a=A.shape, shape_b=B.shape,
                         spacing=tuple(float(v) for v in h))
