"""Deep linear networks whose inner widths are all 1, with r = 0: an exact monomial route.

For widths [N, 1, ..., 1, M] (L >= 2 layers) the product is the rank-one matrix
b c_{L-2} ... c_1 a^T with a in R^N (first layer), scalars c_i, b in R^M (last layer). With
inputs of identity covariance and true product 0,
    K = ||b c_{L-2} ... c_1 a^T||_F^2 = |a|^2 |b|^2 prod_i c_i^2.
Polar coordinates a = rho_a * omega, b = rho_b * omega' (Jacobian rho_a^(N-1) rho_b^(M-1))
turn the zeta function over the product of balls into a constant times
    prod over the L factors of 1 / (2 z + h + 1),  h = N - 1 for a, M - 1 for b, 0 for each c_i,
which is a normal crossing over the whole parameter set (so the answer is the global lambda and m).
Its largest pole is read off by `normal_crossing_zeta`. Nothing here uses Aoyagi's theorem.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

from independent.normal_crossing_zeta import normal_crossing_by_zeta


def thin_dln_by_zeta(widths: Sequence[int]) -> tuple[Fraction, int]:
    """(lambda, m) for widths [N, 1, ..., 1, M] and true rank 0."""
    hs = [int(h) for h in widths]
    if len(hs) < 3 or any(h != 1 for h in hs[1:-1]) or min(hs) < 1:
        raise ValueError("widths: expected [N, 1, ..., 1, M] with at least one inner width")
    depth = len(hs) - 1
    exponents_k = [1] * depth
    prior_h = [hs[0] - 1] + [0] * (depth - 2) + [hs[-1] - 1]
    return normal_crossing_by_zeta(exponents_k, prior_h)
