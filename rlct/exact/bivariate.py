r"""Learning coefficients of any K in Q[x, y] at the origin: adapted coordinates (exact).

For K >= 0 near 0 with K(0) = 0, the Newton polygon N(K) gives the Newton distance delta (where
the diagonal t (1, 1) meets the boundary of N) and the *principal face* pi (the face of N
containing (delta, delta) in its relative interior). Coordinates are **adapted** when
lambda = 1/delta, and in two variables adapted coordinates always exist:

* Varchenko 1976 ("Newton polyhedra and estimation of oscillating integrals", Funct. Anal.
  Appl. 10:175-196), Phong, Stein & Sturm 1999 (Acta Math. 182, Thm 5) and Ikromov & Mueller
  2011 (J. Fourier Anal. Appl. 17, "On adapted coordinate systems", Thm 3.3 and Cor. 4.3): the
  coordinates are adapted iff pi is a vertex, or pi is unbounded, or pi is a compact edge whose
  face polynomial K_pi has no real root (off the axes) of multiplicity > delta. If they are
  not, pi is a compact edge of slope kappa with kappa or 1/kappa an integer k, and the change
  y -> y + b x^k (x -> x + b y^k) with b the root of multiplicity > delta strictly increases delta.
* Such a root is unique and rational for K in Q[x, y] (two of them, or an irrational one and its
  conjugate, would need an edge of length > 2 delta in y, which would put its upper end left of
  the y-axis; the same argument shows kappa or 1/kappa is an integer), so every step is exact.
* Sergeant-Perthuis, Tsigaridas & Tsukahara 2026 ("Exact Algebraic Computation of Learning
  Coefficients for Two-Dimensional Singular Models", Thm 2.12 and Thm 2.11): the steps y -> y +
  b x^k may go on forever (the adapting change is a power series), but a truncation of degree
  k < D = (deg_y K + 1/2) deg_x K suffices: if the polygon is still not adapted once the next
  step would have k >= D, then lambda = 1/M with M > delta the multiplicity of that root.

**Multiplicity** (the order m of the pole -lambda; Ikromov & Mueller 2011, the "effective
multiplicity" nu with m = 1 + nu): in adapted coordinates m = 2 if pi is a vertex, or pi is a
compact edge whose K_pi has a real root of multiplicity exactly delta; otherwise m = 1
(pi an unbounded face, or an edge whose real roots all have multiplicity < delta). In the
truncated case of Thm 2.11 the principal face of the adapted polygon is unbounded: m = 1.

**Monomial priors** phi = |x|^a |y|^b (a, b >= 0 rational): the diagonal is replaced by the ray
t (a + 1, b + 1) and delta by the weighted distance t_phi where it meets the boundary of N(K);
lambda = 1/t_phi with the same criterion on the principal face that ray meets (real roots of
multiplicity <= t_phi; m as above, with t_phi for delta). This is the toric chart computation
behind the theorem: on the chart x = u^q, y = u^p v of an edge of weights (q, p) and weighted
degree N, the pulled-back zeta integrand is u^(-N z + q (a+1) + p (b+1) - 1) |K_E(1, v) + u R|^(-z),
whose candidate threshold from u = 0 is (q (a+1) + p (b+1)) / N >= 1/t_phi, and a real root
v0 != 0 of K_E(1, .) of multiplicity mu gives no smaller one while mu <= t_phi (the local
polygon at (0, v0) has the vertex (N, mu) and every point at u-exponent >= N, so the ray
(q (a+1) + p (b+1), 1) meets its vertical face). This is an argument, not a citation: the
weighted criterion is checked numerically, not taken from a paper. Changes of
variables are used only where they keep the prior: y -> y + c x^k when b = 0, x -> x + c y^k when
a = 0; with a prior the engine refuses (ValueError "prior: ...") a polygon that would need any
other change, two roots of multiplicity > t_phi, or the truncation of Thm 2.11 (proved for
phi = 1). The values are checked against the Newton engine (which takes monomial priors where it
certifies) and the quadrature oracle with the same prior in tests/test_bivariate.py.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from math import comb
from typing import Any

import sympy

from rlct.exact.newton import _check_vertex_signs
from rlct.exact.polyhedron import NewtonPolyhedron
from rlct.exact.polynomial_input import (
    Polynomial,
    as_expression,
    resolve_prior,
    resolve_variables,
    to_polynomial,
)
from rlct.exact.result import RLCT, format_fraction

SOURCE = (
    "adapted coordinates in two variables: Varchenko 1976, Funct. Anal. Appl. 10:175-196; Phong, "
    "Stein & Sturm 1999, Acta Math. 182, Thm 5; Ikromov & Mueller 2011, J. Fourier Anal. Appl. 17 "
    "(multiplicity); Sergeant-Perthuis, Tsigaridas & Tsukahara 2026, Thm 2.11-2.12 (finite "
    "truncation)"
)
class PriorNotKept(ValueError):
    """The engine cannot adapt K without changing the monomial prior (message "prior: the ...");
    callers may fall back to the Newton engine's bound."""


# Refuse before expanding a change of variables whose result would exceed this many terms.
MAX_TERMS = 200_000


@dataclass(frozen=True)
class Principal:
    """The principal face of N(K): its kind, the Newton distance, and for an edge its slope
    (y-weight over x-weight, as a Fraction) and the root multiplicities of its face polynomial."""

    distance: Fraction
    kind: str  # "vertex", "edge" or "unbounded"
    slope: Fraction | None = None
    endpoints: tuple[tuple[int, int], tuple[int, int]] | None = None
    roots: tuple[tuple[Fraction, int], ...] = ()  # rational roots b != 0 of the edge polynomial
    max_real_multiplicity: int = 0  # the largest multiplicity of a real root off the axes


def _principal(poly: Polynomial, ray: tuple[Fraction, Fraction] = (Fraction(1), Fraction(1))) -> Principal:
    """The face of N(K) met by the ray t (a + 1, b + 1) (the diagonal for the prior 1)."""
    polygon = NewtonPolyhedron(list(poly))
    delta = polygon.distance(list(ray))
    face = polygon.face_through([delta * ray[0], delta * ray[1]])
    points = [polygon.points[i] for i in range(len(polygon.points)) if face.points >> i & 1]
    if face.support != 0b11:
        return Principal(distance=delta, kind="unbounded")
    if len(points) == 1:
        return Principal(distance=delta, kind="vertex")
    left = min(points)  # smallest x-exponent: the upper end (i1, j1)
    right = max(points)  # the lower end (i2, j2)
    (i1, j1), (i2, j2) = left, right
    slope = Fraction(i2 - i1, j1 - j2)  # y has weight slope when x has weight 1
    roots, real_max = _edge_roots(poly, (i1, j1), (i2, j2), slope)
    return Principal(distance=delta, kind="edge", slope=slope, endpoints=((i1, j1), (i2, j2)),
                     roots=roots, max_real_multiplicity=real_max)


def _edge_roots(
    poly: Polynomial, upper: tuple[int, int], lower: tuple[int, int], slope: Fraction
) -> tuple[tuple[tuple[Fraction, int], ...], int]:
    """Rational roots (with multiplicity) and the largest real-root multiplicity of the edge
    polynomial as a polynomial in z = y^q / x^p (slope = p/q): K_pi = x^i2 y^j2 R(y^q / x^p)."""
    p, q = slope.numerator, slope.denominator
    (_, j1), (i2, j2) = upper, lower
    z = sympy.Symbol("z")
    coefficients: dict[int, Fraction] = {}
    for (i, j), c in poly.items():
        if (i - i2) * q == -(j - j2) * p and j2 <= j <= j1:  # on the edge's line
            coefficients[(j - j2) // q] = c
    r = sympy.Poly(sum(sympy.Rational(c.numerator, c.denominator) * z**e for e, c in coefficients.items()), z)
    rational = tuple(
        (Fraction(int(root.p), int(root.q)), int(mult))
        for root, mult in sympy.roots(r, filter="Q").items()
        if root != 0
    )
    real_max = 0
    for factor, mult in sympy.factor_list(r)[1]:
        if factor.degree() >= 1 and sympy.Poly(factor, z).count_roots() > 0:
            # a real root z0 != 0 of R: real branches y = (z0 x^p)^(1/q) of the same multiplicity
            if factor.as_expr() != z:
                real_max = max(real_max, int(mult))
    return rational, real_max


def _substitute(poly: Polynomial, along_y: bool, b: Fraction, k: int) -> Polynomial:
    """K(x, y + b x^k) (``along_y``) or K(x + b y^k, y), expanded exactly term by term:
    x^i (y + b x^k)^j = sum_l C(j, l) b^(j - l) x^(i + k (j - l)) y^l."""
    expanded_terms = sum((j if along_y else i) + 1 for i, j in poly)
    if expanded_terms > MAX_TERMS:
        raise ValueError(
            f"K: adapting the coordinates needs an expansion into {expanded_terms} terms, beyond "
            f"the bivariate engine's bound of {MAX_TERMS} terms"
        )
    out: dict[tuple[int, int], Fraction] = {}
    for (i, j), c in poly.items():
        power = j if along_y else i
        for low in range(power + 1):
            coefficient = c * comb(power, low) * b ** (power - low)
            key = (i + k * (power - low), low) if along_y else (low, j + k * (power - low))
            out[key] = out.get(key, Fraction(0)) + coefficient
    return {key: c for key, c in out.items() if c}


def _square(poly: Polynomial) -> Polynomial:
    """poly^2 on exponent dictionaries, exactly."""
    items = list(poly.items())
    out: dict[tuple[int, ...], Fraction] = {}
    for p, (ep, cp) in enumerate(items):
        for eq, cq in items[p:]:
            key = tuple(a + b for a, b in zip(ep, eq))
            out[key] = out.get(key, Fraction(0)) + (cp * cq if ep == eq else 2 * cp * cq)
    return out


def _change_text(along_y: bool, b: Fraction, k: int, names: Sequence[str]) -> str:
    x, y = names
    power = x if along_y else y
    target = y if along_y else x
    term = f"{format_fraction(b)}*{power}" + (f"**{k}" if k > 1 else "")
    return f"{target} -> {target} + {term}"


def bivariate(K: object, variables: Sequence[object] | None = None,
              prior: Mapping[Any, object] | Sequence[object] | None = None) -> RLCT:
    """lambda and m of K in Q[x, y] at the origin, exact, by adapting coordinates.

    Args:
        K: a polynomial K >= 0 near 0 with K(0) = 0, in at most two variables (sympy
            expression or text), or a list [f_1, ...] meaning K = sum f_i^2.
        variables: the two variables in order (default: the free symbols sorted by name; a
            K in one variable gets a second, absent one).
        prior: exponents (a, b) of a prior |x|^a |y|^b near 0, as a list in variable order or a
            dict {variable: exponent}; exact non-negative rationals. Default: the prior 1.

    Returns:
        An `RLCT` (scope "local", status "certified") whose ``certificate`` names the changes
        of variables used (or "the coordinates are adapted as given") and the principal face;
        ``notes`` give delta and the degree bound of the truncation theorem where it applied.

    Raises:
        ValueError: "K: ..." for more than two variables, K(0) != 0, K = 0, K negative near 0
            (a vertex with a negative coefficient or an odd exponent), or an expansion beyond
            `MAX_TERMS`; "variables: ..." for bad variables; "prior: ..." for a bad prior or
            one the adapting changes would not keep (see the module docstring).
    """
    ideal = isinstance(K, (list, tuple))
    raw = list(K) if ideal else [K]  # type: ignore[call-overload]
    if ideal and not raw:
        raise ValueError("K: the list of generators f_i is empty")
    expressions = [as_expression(item, "K") for item in raw]
    if all(e.is_number for e in expressions):
        total = sum(e**2 for e in expressions) if ideal else expressions[0]
        if total == 0:
            raise ValueError("K: is identically zero")
        raise ValueError(f"K: is the constant {total}, which does not vanish at w = 0")
    symbols = resolve_variables(expressions, variables)
    if len(symbols) > 2:
        raise ValueError(
            f"K: the bivariate engine takes at most two variables, got {len(symbols)} "
            f"({', '.join(s.name for s in symbols)}); use the Newton engine"
        )
    exponents = resolve_prior(prior, symbols)
    if len(symbols) == 1:
        symbols = (symbols[0], sympy.Symbol("_absent" if symbols[0].name != "_absent" else "_absent2"))
        exponents = (exponents[0], Fraction(0))
    ray = (exponents[0] + 1, exponents[1] + 1)
    weighted = any(exponents)
    names = [s.name for s in symbols]
    poly: Polynomial
    if ideal:  # K = sum f_i^2, squared exactly on the exponent dictionaries (sympy.expand is slow)
        poly = {}
        for generator in expressions:
            for key, c in _square(to_polynomial(generator, symbols, "K")).items():
                poly[key] = poly.get(key, Fraction(0)) + c
        poly = {e: c for e, c in poly.items() if c}
    else:
        poly = {e: c for e, c in to_polynomial(expressions[0], symbols, "K").items() if c}
    if not poly:
        raise ValueError("K: is identically zero")
    if (0, 0) in poly:
        raise ValueError(f"K: K(0) = {poly[(0, 0)]} != 0; K must vanish at w = 0")
    _check_vertex_signs(poly, NewtonPolyhedron(list(poly)), names, "neighbourhood")

    degree_x = max(i for i, _ in poly)
    degree_y = max(j for _, j in poly)
    changes: list[str] = []
    notes: list[str] = [f"variables: {', '.join(names)}"]
    if weighted:
        notes.append(f"prior |{names[0]}|^{format_fraction(exponents[0])} |{names[1]}|^"
                     f"{format_fraction(exponents[1])}: weighted distance along the ray t ("
                     f"{format_fraction(ray[0])}, {format_fraction(ray[1])})")
    current = poly
    steps = 0
    while True:
        principal = _principal(current, ray)
        delta = principal.distance
        degenerate = principal.kind == "edge" and principal.max_real_multiplicity > delta
        if not degenerate:
            break
        assert principal.slope is not None
        along_y = principal.slope >= 1
        k_fraction = principal.slope if along_y else 1 / principal.slope
        high = [(b, m) for b, m in principal.roots if m > delta]
        if weighted:
            moved = 1 if along_y else 0
            why = None
            if k_fraction.denominator != 1 or len(high) != 1:
                why = (f"its principal edge (slope {format_fraction(principal.slope)}) has no single "
                       "rational root of multiplicity > t along an integer power")
            elif exponents[moved]:
                why = (f"adapting would move {names[moved]}, whose prior exponent "
                       f"{format_fraction(exponents[moved])} is not 0")
            if why is not None:
                raise PriorNotKept(
                    f"prior: the bivariate engine cannot adapt K with this prior: {why} (weighted "
                    f"distance t = {format_fraction(delta)}; a root of multiplicity "
                    f"{principal.max_real_multiplicity} > t); drop the prior or use the Newton engine's bound"
                )
        if k_fraction.denominator != 1:
            raise AssertionError(
                f"K: a root of multiplicity > delta on an edge of slope {principal.slope} "
                "(impossible by Varchenko's lemma); please report this polynomial"
            )
        k = int(k_fraction)
        if len(high) != 1:
            raise AssertionError("K: expected exactly one rational root of multiplicity > delta")
        b, root_multiplicity = high[0]
        bound = (Fraction(degree_y) + Fraction(1, 2)) * degree_x if along_y else (
            (Fraction(degree_x) + Fraction(1, 2)) * degree_y
        )
        if k >= bound:
            if weighted:
                raise PriorNotKept(
                    f"prior: the adapting change of K is an infinite series (degree {k} >= "
                    f"{format_fraction(bound)}); its truncation (Thm 2.11) is proved for the prior 1 only"
                )
            # Sergeant-Perthuis, Tsigaridas & Tsukahara 2026, Thm 2.11
            notes.append(
                f"the adapting change is an infinite series: stopped at degree {k} >= "
                f"(deg + 1/2) deg = {format_fraction(bound)} (Thm 2.12); lambda = 1/M with M = "
                f"{root_multiplicity} the multiplicity of the principal root (Thm 2.11)"
            )
            return _result(Fraction(1, root_multiplicity), 1, changes, notes, names,
                           f"truncated after {len(changes)} changes; principal root of multiplicity "
                           f"{root_multiplicity} > delta = {format_fraction(delta)}")
        # a root b of R(z) is the branch y = b x^k (z = y / x^k) or x = y^k / b (z = y^k / x):
        # substituting y -> y + b x^k (x -> x + y^k / b) moves it onto the axis
        shift = b if along_y else 1 / b
        changes.append(_change_text(along_y, shift, k, names))
        current = _substitute(current, along_y, shift, k)
        steps += 1
        if steps > 4 * int(bound) + 8:
            raise AssertionError("K: the Newton distance did not grow as the changes went on")
    if principal.kind == "vertex":
        multiplicity, face = 2, "a vertex"
    elif principal.kind == "unbounded":
        multiplicity, face = 1, "an unbounded face"
    else:
        exact_delta = principal.max_real_multiplicity == delta
        multiplicity = 2 if exact_delta else 1
        face = (f"a compact edge of slope {format_fraction(principal.slope or Fraction(0))} whose "
                f"largest real root multiplicity is {principal.max_real_multiplicity}"
                + (" = delta" if exact_delta else " < delta"))
    distance_name = "weighted Newton distance t" if weighted else "Newton distance delta"
    notes.insert(0, f"{distance_name} = {format_fraction(delta)} in the final coordinates; "
                    f"the principal face is {face}")
    return _result(1 / delta, multiplicity, changes, notes, names, f"principal face: {face}")


def _result(value: Fraction, multiplicity: int, changes: list[str], notes: list[str],
            names: Sequence[str], why: str) -> RLCT:
    how = "changes of variables " + "; ".join(changes) if changes else "the coordinates are adapted as given"
    return RLCT(
        value=value,
        multiplicity=multiplicity,
        source=SOURCE,
        scope="local",
        certificate=f"certified: adapted coordinates ({how}); {why}",
        point="w = 0",
        notes=tuple(notes),
        status="certified",
    )
