"""Status codes and the pricing tolerance shared by the network simplex and its kernels."""

__all__ = ["INFEASIBLE", "OPTIMAL", "MAX_ITER_REACHED", "EPSILON", "SKIP_LEVELS"]

#: Status codes (POT's numbering).
INFEASIBLE, OPTIMAL, MAX_ITER_REACHED = 0, 1, 3
#: Relative reduced-cost tolerance of the pricing (LEMON's and POT's).
EPSILON = 2.2e-15
#: Rows of the simplex's skip links: 2, 4 and 8 places along the thread (its kernels;
#: ``_shift`` walks the eight chains they give, written out for three rows).
SKIP_LEVELS = 3
