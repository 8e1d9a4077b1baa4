"""Deep linear networks: Aoyagi's subset conditions checked on every subset, no sorting trick.

Aoyagi 2024 (Neural Networks 172:106132), main theorem: with Delta_s = H_s - r, a subset
Sigma of {0..L}, |Sigma| = l + 1 >= 2, is admissible when
  (i)   max_{s in Sigma} Delta_s < min_{k not in Sigma} Delta_k,
  (ii)  sum_{s in Sigma} Delta_s >= l * max_{s in Sigma} Delta_s,
  (iii) sum_{s in Sigma} Delta_s < l * min_{k not in Sigma} Delta_k
((i) and (iii) void when Sigma is everything). Here all 2^(L+1) subsets are tried, so the
claim "an admissible Sigma exists and any two give the same answer" is tested, not assumed.

lambda is then computed with the balanced-split form (theory.md sec. 4): with q the split of
S = sum_Sigma Delta_s into l integers as equal as possible,
    lambda = r (H_0 + H_L - r)/2 + 1/4 (sum_i q_i^2 - sum_{s in Sigma} Delta_s^2),
and m = a (l - a) + 1 with a = the number of parts of the larger size (1 <= a <= l).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from itertools import combinations


@dataclass(frozen=True)
class SubsetAnswer:
    sigma: tuple[int, ...]  # indices s in {0..L}
    lam: Fraction
    multiplicity: int


def is_admissible(deltas: Sequence[int], sigma: Sequence[int]) -> bool:
    """Conditions (i)-(iii) for the index set ``sigma``, literally."""
    inside = [deltas[s] for s in sigma]
    outside = [deltas[k] for k in range(len(deltas)) if k not in sigma]
    ell = len(inside) - 1
    if ell < 1:
        return False
    total = sum(inside)
    if not total >= ell * max(inside):  # (ii)
        return False
    if outside:
        if not max(inside) < min(outside):  # (i)
            return False
        if not total < ell * min(outside):  # (iii)
            return False
    return True


def balanced_split(total: int, parts: int) -> list[int]:
    """``total`` split into ``parts`` integers that differ by at most 1."""
    low, extra = divmod(total, parts)
    return [low + 1] * extra + [low] * (parts - extra)


def answer_for(widths: Sequence[int], rank: int, sigma: Sequence[int]) -> SubsetAnswer:
    hs = list(widths)
    r = rank
    deltas = [h - r for h in hs]
    inside = [deltas[s] for s in sigma]
    ell = len(inside) - 1
    q = balanced_split(sum(inside), ell)
    larger = max(q)
    a = q.count(larger)  # number of parts equal to ceil(S / l); equals l when S/l is integral
    lam = Fraction(r * (hs[0] + hs[-1] - r), 2) + Fraction(
        sum(x * x for x in q) - sum(x * x for x in inside), 4
    )
    return SubsetAnswer(sigma=tuple(sigma), lam=lam, multiplicity=a * (ell - a) + 1)


def all_admissible(widths: Sequence[int], rank: int) -> list[SubsetAnswer]:
    """The answer for every admissible Sigma (all 2^(L+1) subsets are tried)."""
    deltas = [h - rank for h in widths]
    indices = range(len(deltas))
    return [
        answer_for(widths, rank, sigma)
        for size in range(2, len(deltas) + 1)
        for sigma in combinations(indices, size)
        if is_admissible(deltas, sigma)
    ]
