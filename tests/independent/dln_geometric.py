"""Deep linear networks: lambda as a minimum over integer "rank profiles" t, by dynamic programming.

Aoyagi 2024 (Neural Networks 172:106132) reaches the closed form through a minimisation over the
ranks produced by a sequence of blow-ups. Stated directly (theory.md sec. 4, "independent second
form"), with Delta_s = H_s - r:

    lambda = r (H_0 + H_L - r) / 2
             + 1/2 min_t [ (Delta_0 - t_1)(Delta_1 - t_1)
                           + sum_{j=2..L} (t_{j-1} - t_j)(Delta_j - t_j) ]

over integer vectors t_1 >= t_2 >= ... >= t_L = 0 with 0 <= t_s <= min(Delta_0, ..., Delta_s).
No sorting, no choice of a subset Sigma, no balanced split: only this minimisation.

The minimisation is a shortest path through layers j = 1..L whose states are the values of t_j,
so it costs O(L * W^2) for W = the smallest Delta (not the W^L of brute force). The dynamic
programme also counts the minimisers exactly (Python ints, no overflow).

The number of minimisers is NOT the multiplicity m in general. Observed (exhaustively for all
widths <= 5, L <= 4 and widths <= 4, L = 5: 18,570 instances; and on random ones) it is the
binomial coefficient C(l, a), with l and a those of Aoyagi's theorem, whereas
m = a (l - a) + 1; the two agree exactly when min(a, l - a) <= 1, which includes every network
with L <= 3. Smallest counterexample: widths [2, 2, 2, 2, 2], r = 0 (l = 4, a = 2): six
minimisers, m = 5. (A pole's order counts divisors crossing at one point of a resolution, not
the charts that attain the minimum; Aoyagi's proof obtains a(l - a) + 1 by counting a band of
intervals, not lattice paths.)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction


@dataclass(frozen=True)
class GeometricMinimum:
    """The value of the minimisation and how many integer vectors t attain it."""

    lam: Fraction
    objective: int  # min_t of the bracket (an integer)
    minimizers: int


def dln_geometric(widths: Sequence[int], rank: int) -> GeometricMinimum:
    """lambda of the DLN with widths H_0..H_L and true rank r by the min-over-t form."""
    hs = [int(h) for h in widths]
    r = int(rank)
    if len(hs) < 2 or r < 0 or r > min(hs):
        raise ValueError("widths/rank out of range")
    deltas = [h - r for h in hs]
    depth = len(hs) - 1  # L
    # caps[s] = min(Delta_0..Delta_s): the largest allowed t_s.
    caps = []
    running = deltas[0]
    for d in deltas:
        running = min(running, d)
        caps.append(running)

    # Layer j = 1: cost(t_1) = (Delta_0 - t_1)(Delta_1 - t_1); one path each.
    upper = 0 if depth == 1 else caps[1]
    best: list[tuple[int, int]] = [
        ((deltas[0] - t) * (deltas[1] - t), 1) for t in range(upper + 1)
    ]
    for j in range(2, depth + 1):
        upper = 0 if j == depth else caps[j]
        nxt: list[tuple[int, int]] = []
        for t in range(upper + 1):
            value: int | None = None
            count = 0
            for prev in range(t, len(best)):  # t_{j-1} >= t_j
                cost = best[prev][0] + (prev - t) * (deltas[j] - t)
                if value is None or cost < value:
                    value, count = cost, best[prev][1]
                elif cost == value:
                    count += best[prev][1]
            assert value is not None
            nxt.append((value, count))
        best = nxt
    objective, minimizers = best[0]  # t_L = 0
    lam = Fraction(r * (hs[0] + hs[-1] - r), 2) + Fraction(objective, 2)
    return GeometricMinimum(lam=lam, objective=objective, minimizers=minimizers)


def dln_geometric_brute(widths: Sequence[int], rank: int) -> GeometricMinimum:
    """The same minimisation by enumerating every admissible t (tiny instances only).

    Used to test the dynamic programme itself.
    """
    from itertools import product

    hs = [int(h) for h in widths]
    r = int(rank)
    deltas = [h - r for h in hs]
    depth = len(hs) - 1
    caps = [min(deltas[: s + 1]) for s in range(depth + 1)]
    ranges = [range(caps[s] + 1) for s in range(1, depth)]  # t_1..t_{L-1}; t_L = 0
    values = []
    for inner in product(*ranges):
        t = [None, *inner, 0]
        if any(t[s] < t[s + 1] for s in range(1, depth)):  # type: ignore[operator]
            continue
        total = (deltas[0] - t[1]) * (deltas[1] - t[1])  # type: ignore[operator]
        for j in range(2, depth + 1):
            total += (t[j - 1] - t[j]) * (deltas[j] - t[j])  # type: ignore[operator]
        values.append(total)
    objective = min(values)
    return GeometricMinimum(
        lam=Fraction(r * (hs[0] + hs[-1] - r), 2) + Fraction(objective, 2),
        objective=objective,
        minimizers=values.count(objective),
    )
