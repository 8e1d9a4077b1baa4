"""Normal crossing: K = prod_j w_j^(2 k_j), prior phi ~ prod_j w_j^(h_j) near 0.

lambda = min_j (h_j + 1) / (2 k_j),  m = #{j attaining the min}
(Watanabe 2009, "Algebraic Geometry and Statistical Learning Theory", Theorem 6.1 / Remark 6.3,
the standard form of the resolution theorem). On the orthant [0, eps)^d the exponents enter
without the factor 2: K = prod_j u_j^(k_j) gives lambda = min_j (h_j + 1) / k_j.
Coordinates with k_j = 0 do not appear in K and do not contribute.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

from rlct.exact._validate import as_int_list
from rlct.exact.result import RLCT

SOURCE = "Watanabe 2009, Algebraic Geometry and Statistical Learning Theory, Thm 6.1 (normal crossing)"
DOMAINS = ("neighbourhood", "orthant")


def normal_crossing(
    k: Sequence[int] | str,
    h: Sequence[int] | str | None = None,
    domain: str = "neighbourhood",
) -> RLCT:
    """lambda and m of the monomial K = prod w_j^(2 k_j) (or prod u_j^(k_j) on the orthant).

    Args:
        k: exponents k_j >= 0, at least one positive (K(0) = 0 is required).
        h: prior exponents h_j >= 0 (default all 0: a prior positive at the origin).
        domain: ``"neighbourhood"`` of 0 in R^d, or the ``"orthant"`` [0, eps)^d.
    """
    ks = as_int_list("k", k, minimum=0)
    hs = [0] * len(ks) if h is None else as_int_list("h", h, minimum=0)
    if len(hs) != len(ks):
        raise ValueError(f"h: expected {len(ks)} prior exponents (one per k), got {len(hs)}")
    if domain not in DOMAINS:
        raise ValueError(f"domain: expected one of {DOMAINS}, got {domain!r}")
    if not any(ks):
        raise ValueError("k: all exponents are 0, so K = 1 does not vanish at the origin")
    factor = 2 if domain == "neighbourhood" else 1
    ratios = [Fraction(hj + 1, factor * kj) for kj, hj in zip(ks, hs) if kj > 0]
    value = min(ratios)
    return RLCT(
        value=value,
        multiplicity=ratios.count(value),
        source=SOURCE,
        scope="local",
        certificate="closed form (normal crossing)",
        point="w = 0" if domain == "neighbourhood" else "u = 0 on the orthant [0, eps)^d",
    )
