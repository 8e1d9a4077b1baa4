"""Deep linear networks Y = W_L ... W_1 X (no biases), widths H_0 (input), ..., H_L (output),
true product of rank r.

Aoyagi 2024, "Consideration on the learning efficiency of multiple-layered neural networks with
linear units", Neural Networks 172:106132, main theorem:

1. Delta_s = H_s - r for s = 0..L.
2. Choose Sigma in {0..L}, |Sigma| = l + 1 >= 2, with
   (i)   max_{s in Sigma} Delta_s < min_{k not in Sigma} Delta_k,
   (ii)  sum_{s in Sigma} Delta_s >= l * max_{s in Sigma} Delta_s,
   (iii) sum_{s in Sigma} Delta_s < l * min_{k not in Sigma} Delta_k
   ((i), (iii) void when Sigma is everything). By (i) Sigma is a prefix of the Deltas sorted
   ascending that does not split a tie; we take the first prefix satisfying (ii)-(iii).
3. S = sum_{Sigma} Delta_s, M* = ceil(S / l), a = S - (M* - 1) l  (1 <= a <= l).
4. lambda = [-r^2 + r(H_0 + H_L)]/2 + a(l - a)/(4l) - (l(l-1)/4)(S/l)^2
            + 1/2 sum_{i<j in Sigma} Delta_i Delta_j,
   m = a(l - a) + 1.

Integer arithmetic after one sort: O(L log L), so thousands of layers and widths in the
millions are instant. With L = 2 this is Aoyagi & Watanabe 2005 (`rrr`). A frequently copied
variant writes +r^2 for -r^2 in the first term; it is wrong (widths [2,2,2], r=1 would give 3
instead of 2).
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from itertools import accumulate

from rlct.exact._validate import as_int, as_int_list
from rlct.exact.result import RLCT

SOURCE = (
    "Aoyagi 2024, Consideration on the learning efficiency of multiple-layered neural networks "
    "with linear units, Neural Networks 172:106132, main theorem"
)


def _select_sigma(deltas_sorted: list[int]) -> int:
    """Length l+1 of the prefix Sigma of the ascending Deltas chosen by conditions (i)-(iii)."""
    total = len(deltas_sorted)
    prefix = list(accumulate(deltas_sorted))
    for size in range(2, total + 1):
        ell = size - 1
        s = prefix[size - 1]
        largest = deltas_sorted[size - 1]
        if size < total:
            smallest_out = deltas_sorted[size]
            if largest >= smallest_out:  # (i): the prefix would split a tie
                continue
            if s >= ell * smallest_out:  # (iii)
                continue
        if s >= ell * largest:  # (ii)
            return size
    raise AssertionError(f"no admissible Sigma for Deltas {deltas_sorted}; this contradicts Aoyagi 2024")


def dln(widths: Sequence[int] | str, rank: int) -> RLCT:
    """Global lambda and m of a deep linear network with the given widths and true rank.

    Args:
        widths: H_0 (input), H_1, ..., H_L (output); at least two positive integers.
        rank: r, the rank of the true product W_L ... W_1, 0 <= r <= min(widths).
    """
    hs = as_int_list("widths", widths, minimum=1, min_length=2)
    r = as_int("rank", rank, minimum=0)
    if r > min(hs):
        raise ValueError(f"rank: must be <= the smallest width {min(hs)}, got {r}")
    deltas = sorted(h - r for h in hs)
    size = _select_sigma(deltas)
    sigma = deltas[:size]
    ell = size - 1
    s = sum(sigma)
    m_star = -(-s // ell)  # ceil(S / l)
    a = s - (m_star - 1) * ell
    pair_sum = Fraction(s * s - sum(x * x for x in sigma), 2)  # sum_{i<j} Delta_i Delta_j
    value = (
        Fraction(-r * r + r * (hs[0] + hs[-1]), 2)
        + Fraction(a * (ell - a), 4 * ell)
        - Fraction(ell * (ell - 1), 4) * Fraction(s, ell) ** 2
        + pair_sum / 2
    )
    return RLCT(
        value=value,
        multiplicity=a * (ell - a) + 1,
        source=SOURCE,
        scope="global",
        certificate="closed form",
        point="the set of true parameters {W_L...W_1 = C}, rank C = r (global minimum of local values)",
        notes=(f"L={len(hs) - 1} layers, |Sigma|={size}, S={s}, l={ell}, a={a}",),
    )
