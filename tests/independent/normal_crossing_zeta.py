"""Normal crossing: lambda and m read off the poles of the zeta function, with sympy.

For K = prod_j w_j^(2 k_j) and prior phi = prod_j |w_j|^(h_j) on [-1, 1]^d, Fubini gives
    zeta(z) = int K^z phi dw = prod_j int_{-1}^{1} |w|^(2 k_j z + h_j) dw
            = prod_j 2 / (2 k_j z + h_j + 1),
and on the orthant [0, 1]^d with K = prod u_j^(k_j): prod_j 1 / (k_j z + h_j + 1)
(Watanabe 2009, "Algebraic Geometry and Statistical Learning Theory", ch. 2 and ch. 6).
The one-variable integral is done by sympy; the largest pole (the root of the denominator
nearest 0 from below) and its order are read off the factorisation of the denominator over the
integers. Nothing here uses the min formula.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from functools import lru_cache

import sympy

Z = sympy.Symbol("z")
_W = sympy.Symbol("w", positive=True)
_S = sympy.Symbol("s", positive=True)  # exponent of the integrand; convergent for s > -1


@lru_cache(maxsize=1)
def _power_integral() -> sympy.Expr:
    """int_0^1 w^s dw as a function of s (sympy; valid for Re s > -1, then continued)."""
    return sympy.simplify(sympy.integrate(_W**_S, (_W, 0, 1)))


def zeta_function(k: Sequence[int], h: Sequence[int], domain: str = "neighbourhood") -> sympy.Expr:
    """The zeta function of the monomial: a product of sympy factors, one per coordinate."""
    one_dim = _power_integral()
    factor = 2 if domain == "neighbourhood" else 1
    symmetric = 2 if domain == "neighbourhood" else 1  # |w|^s on [-1, 1] = twice [0, 1]
    expr = sympy.Integer(1)
    for kj, hj in zip(k, h, strict=True):
        expr *= symmetric * one_dim.subs(_S, factor * kj * Z + hj)
    return expr


def largest_pole(expr: sympy.Expr) -> tuple[Fraction, int]:
    """(lambda, m) with -lambda the largest real pole of ``expr`` in z and m its order.

    The denominator is factored over the integers; equal roots of different factors merge into
    one power, so the exponent of a linear factor is the order of its pole.
    """
    _, denominator = expr.as_numer_denom()
    _, factors = sympy.Poly(denominator, Z).factor_list()
    poles: dict[sympy.Rational, int] = {}
    for factor, power in factors:
        if factor.degree() != 1:
            raise ValueError(f"unexpected non-linear factor {factor} of the denominator")
        slope, intercept = factor.all_coeffs()
        root = sympy.Rational(-intercept, slope)
        poles[root] = poles.get(root, 0) + int(power)
    if not poles:
        raise ValueError("zeta function has no pole")
    top = max(poles)
    value = -top
    return Fraction(int(value.p), int(value.q)), poles[top]


def normal_crossing_by_zeta(
    k: Sequence[int], h: Sequence[int] | None = None, domain: str = "neighbourhood"
) -> tuple[Fraction, int]:
    hs = [0] * len(k) if h is None else list(h)
    return largest_pole(zeta_function(list(k), hs, domain))
