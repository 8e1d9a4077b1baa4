"""Exact decisions about zeros of face polynomials on the real torus.

The torus is T = (R \\ 0)^d for the ``"neighbourhood"`` domain and T = (R_>0)^d for the
``"orthant"`` domain. Every verdict is a proof or ``"unknown"``; no floating point enters a
decision (floats only propose sample points, and every witness is verified in exact integers).

Proofs that a polynomial F has no zero on T:
* F is a single monomial;
* sign rule: all coefficients have one sign and (orthant, or every exponent is even);
* lattice reduction: F = w^a0 * g(w^b_1, ..., w^b_k) with b_j a basis of the saturation of the
  lattice spanned by the exponent differences; w -> (w^b_j) maps T onto the k-dimensional torus,
  so F and g have zeros on their tori together. For k = 1 the real roots of g are counted
  exactly (sympy real-root isolation);
* blocks (only for F of constant sign on each orthant, as every face polynomial of a K >= 0 is):
  F / w^mu = sum of blocks in disjoint variables, each of constant sign on each orthant, so F
  vanishes exactly where all blocks do;
* critical points: where F has constant sign on each orthant its zeros are critical points, so a
  Groebner basis {1} of (g, dg/du_1, ..., dg/du_k, 1 - z u_1...u_k) over Q proves there is none.
  The same Groebner test on (g_1, ..., g_r, 1 - z u_1...u_k) proves a system has no common zero.

Proofs that F has a zero on T: an exact real root of the reduced univariate polynomial; two
vertices of the Newton polytope whose terms have opposite signs on one orthant (then F changes
sign there and vanishes by continuity); a sign change or an exact zero at rational sample points
of one orthant; a rational solution of g = grad g = 0 on the torus, solved exactly from a lex
Groebner basis when there are finitely many complex ones; a factor (or a common factor of a
system) with a zero.

Verdicts do not depend on how the variables are listed: every entry point first puts the
polynomials into a canonical variable order (`_canonical`), since the lattice basis, the sample
points and the vertex weights are all built in the given order. The lattice basis is reduced
(`degree_reducing_transform`) so that the size limits see the degree of the polynomial, not the
shear of an arbitrary basis.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from itertools import permutations, product
from math import factorial, gcd
from typing import Literal

import numpy as np
import sympy

from rlct.exact._lattice import (
    LatticeCoordinates,
    degree_reducing_transform,
    saturated_basis,
    unimodular_inverse,
)
from rlct.exact.polynomial_input import Polynomial

Verdict = Literal["nonzero", "zero", "negative", "unknown"]
DOMAINS = ("neighbourhood", "orthant")

# Size limits of the Groebner-basis certificates (sympy's Buchberger can blow up).
GROEBNER_MAX_VARIABLES = 3
GROEBNER_MAX_DEGREE = 10
GROEBNER_MAX_TERMS = 30
# Rational sample points per polynomial when looking for a sign change / negative value (screened
# in floating point, every witness verified exactly).
SAMPLE_POINTS = 512
SAMPLE_SEED = 20_240_601  # fixed: the same polynomial always gets the same verdict
# Most variable orders tried when putting a polynomial into its canonical variable order.
CANONICAL_MAX_ORDERS = 720


@dataclass(frozen=True)
class TorusVerdict:
    """``kind`` is a proven fact ("nonzero", "zero", "negative") or "unknown"; ``reason`` says
    how it was decided (with a witness for "zero"/"negative")."""

    kind: Verdict
    reason: str


# ------------------------------------------------------------------------------------------
# Public entry points.
def face_polynomial_verdict(
    poly: Polynomial, variables: Sequence[str], domain: str, negativity_only: bool = False
) -> TorusVerdict:
    """Does the face polynomial K_gamma of a K >= 0 vanish on the torus?

    Returns "negative" (K_gamma < 0 at a torus point, so K takes negative values near 0),
    "zero" (degenerate), "nonzero" or "unknown". Uses that every face polynomial of K >= 0 is
    >= 0 on the torus (it is a limit of rescaled K), e.g. for the critical-point certificate.
    With ``negativity_only`` only the (cheap) search for a negative value is done and the
    verdict is "negative" or "unknown".
    """
    _check_domain(domain)
    (poly,), variables = _canonical([poly], variables)
    negative = _find_negative_point(poly, variables, domain)
    if negative is not None:
        return negative
    if negativity_only:
        return TorusVerdict("unknown", "only searched for negative values")
    return _zero_verdict(poly, variables, domain, constant_sign=True, singular=True)


def system_verdict(
    polys: Sequence[Polynomial], variables: Sequence[str], domain: str
) -> TorusVerdict:
    """Do the polynomials f_1, ..., f_r have a common zero on the torus? ("zero"/"nonzero")"""
    _check_domain(domain)
    polys = [p for p in polys if p]
    if not polys:
        raise ValueError("polys: need at least one nonzero polynomial")
    polys, variables = _canonical(polys, variables)
    for p in polys:
        quick = _quick_nonzero(p, domain)
        if quick is not None:
            return TorusVerdict("nonzero", f"{_show(p, variables)} alone has no zero ({quick})")
    reduced = _reduce(polys)
    gens = _gens(reduced.k)
    sym_polys = [_to_sympy(g, gens) for g in reduced.polys]
    if reduced.k == 1:
        common = sym_polys[0]
        for sp in sym_polys[1:]:
            common = sympy.gcd(common, sp)
        roots = _real_roots(common, domain)
        if roots:
            return TorusVerdict(
                "zero",
                f"common real root u = {_interval(roots[0][0])} of the "
                f"reduced system in u = {_monomial(reduced.basis[0], variables)}",
            )
        return TorusVerdict("nonzero", "the reduced univariate system has no common real root")
    if _groebner_is_one(sym_polys, gens):
        return TorusVerdict("nonzero", "Groebner basis of the system on the complex torus is {1}")
    common = sym_polys[0]
    for sp in sym_polys[1:]:
        common = sympy.gcd(common, sp)
    if common.total_degree() > 0:
        gcd_poly = _from_sympy(common, reduced.k)
        verdict = _zero_verdict(gcd_poly, _u_names(reduced.k), domain, False, False)
        if verdict.kind == "zero":
            return TorusVerdict(
                "zero", f"the common factor {common.as_expr()} vanishes: {verdict.reason}"
            )
    square_sum: Polynomial = {}
    for p in polys:
        _add_into(square_sum, _multiply(p, p))
    verdict = _zero_verdict(square_sum, variables, domain, constant_sign=True, singular=True)
    if verdict.kind == "zero":
        return TorusVerdict("zero", f"sum of squares of the face polynomials: {verdict.reason}")
    if verdict.kind == "nonzero":
        return TorusVerdict("nonzero", f"sum of squares of the face polynomials: {verdict.reason}")
    return TorusVerdict("unknown", "no certificate for the face system")


def singular_point_verdict(poly: Polynomial, variables: Sequence[str], domain: str) -> TorusVerdict:
    """Does f_gamma have a singular zero (f = 0 and grad f = 0) on the torus?

    "nonzero" means: no singular zero (the condition of Varchenko's real non-degeneracy);
    "zero" means a singular zero exists.
    """
    _check_domain(domain)
    (poly,), variables = _canonical([poly], variables)
    quick = _quick_nonzero(poly, domain)
    if quick is not None:
        return TorusVerdict("nonzero", f"no zero at all ({quick})")
    reduced = _reduce([poly])
    gens = _gens(reduced.k)
    g = _to_sympy(reduced.polys[0], gens)
    if reduced.k == 1:
        double = sympy.gcd(g, g.diff(gens[0]))
        roots = _real_roots(double, domain) if double.degree() > 0 else []
        if roots:
            return TorusVerdict(
                "zero",
                f"multiple real root u = {_interval(roots[0][0])} with "
                f"u = {_monomial(reduced.basis[0], variables)}",
            )
        return TorusVerdict(
            "nonzero", "the reduced univariate polynomial has no multiple real root"
        )
    system = [g] + [g.diff(x) for x in gens]
    if _groebner_is_one(system, gens):
        return TorusVerdict("nonzero", "Groebner basis of (f, grad f) on the complex torus is {1}")
    _, factors = g.factor_list()
    for factor, multiplicity in factors:
        if multiplicity >= 2 and factor.total_degree() > 0:
            sub = _zero_verdict(
                _from_sympy(factor, reduced.k), _u_names(reduced.k), domain, False, False
            )
            if sub.kind == "zero":
                return TorusVerdict(
                    "zero",
                    f"the repeated factor ({factor.as_expr()})^"
                    f"{multiplicity} vanishes: {sub.reason}",
                )
    return TorusVerdict("unknown", "no certificate for the singular points of the face polynomial")


# ------------------------------------------------------------------------------------------
# The canonical variable order.
def _canonical(
    polys: Sequence[Polynomial], variables: Sequence[str]
) -> tuple[list[Polynomial], list[str]]:
    """The polys (terms sorted) and the variable names in the canonical variable order.

    Every verdict must depend on the polynomial only, not on how its variables are listed: the
    lattice basis of `_reduce`, the sample points and the vertex weights are all built in the
    given order (a different basis changes the degree seen by the size limits and where the
    samples fall). So the decisions run in an order computed from the polynomials themselves.
    """
    d = len(next(iter(polys[0])))
    order = _canonical_order(polys, d) if d > 1 else list(range(d))
    permuted = [
        dict(sorted((tuple(e[v] for v in order), c) for e, c in p.items())) for p in polys
    ]
    return permuted, [variables[v] for v in order]


def _canonical_order(polys: Sequence[Polynomial], d: int) -> list[int]:
    """A variable order that depends on the polys only, up to renaming the variables.

    Colour refinement on the incidence of variables and terms (exponents and coefficient signs,
    so positive rescalings of the variables keep the colours) orders the variables by colour;
    within the colour classes every order is tried (up to CANONICAL_MAX_ORDERS in all) and the
    one giving the smallest sorted list of (exponents, sign), then of (exponents, coefficient),
    wins. Beyond that many orders (large classes of look-alike variables), the classes keep the
    given order within them: the result is then not guaranteed canonical.
    """
    terms = [(e, (i, c > 0)) for i, p in enumerate(polys) for e, c in p.items()]
    var_colour = [0] * d
    term_colour = _relabel([label for _, label in terms])
    n_classes = (1, len(set(term_colour)))
    for _ in range(d + 1):
        var_colour = _relabel(
            [
                (var_colour[v], tuple(sorted((e[v], tc) for (e, _), tc in zip(terms, term_colour))))
                for v in range(d)
            ]
        )
        term_colour = _relabel(
            [
                (tc, tuple(sorted((e[v], var_colour[v]) for v in range(d))))
                for (e, _), tc in zip(terms, term_colour)
            ]
        )
        classes = (len(set(var_colour)), len(set(term_colour)))
        if classes == n_classes:
            break
        n_classes = classes
    groups = [
        [v for v in range(d) if var_colour[v] == colour] for colour in sorted(set(var_colour))
    ]
    n_orders = 1
    for group in groups:
        n_orders *= factorial(len(group))
    if n_orders == 1 or n_orders > CANONICAL_MAX_ORDERS:
        return [v for group in groups for v in group]
    best: tuple[object, ...] | None = None
    best_order: list[int] = []
    for parts in product(*(permutations(group) for group in groups)):
        order = [v for part in parts for v in part]
        permuted = [[(tuple(e[v] for v in order), c) for e, c in p.items()] for p in polys]
        key = (
            tuple(tuple(sorted((e, c > 0) for e, c in terms)) for terms in permuted),
            tuple(tuple(sorted(terms)) for terms in permuted),
        )
        if best is None or key < best:
            best, best_order = key, order
    return best_order


def _relabel(signatures: Sequence[object]) -> list[int]:
    """Colours 0, 1, ... numbered by the sorted signatures (a canonical numbering)."""
    rank = {s: i for i, s in enumerate(sorted(set(signatures)))}  # type: ignore[type-var]
    return [rank[s] for s in signatures]


# ------------------------------------------------------------------------------------------
# The recursive decision for one polynomial.
def _zero_verdict(
    poly: Polynomial,
    variables: Sequence[str],
    domain: str,
    constant_sign: bool,
    singular: bool,
) -> TorusVerdict:
    """Zero of ``poly`` on the torus? ``constant_sign``: poly has one sign on each orthant (as
    face polynomials of K >= 0 do); ``singular``: every zero of poly is a critical point."""
    poly = _drop_monomial_content(poly)
    quick = _quick_nonzero(poly, domain)
    if quick is not None:
        return TorusVerdict("nonzero", quick)
    if constant_sign:
        blocks = _blocks(poly)
        if len(blocks) > 1:
            verdicts = [_zero_verdict(b, variables, domain, True, True) for b in blocks]
            nonzero = [v for v in verdicts if v.kind == "nonzero"]
            if nonzero:
                return TorusVerdict(
                    "nonzero",
                    "sum of blocks in disjoint variables, each of one "
                    f"sign per orthant, and one block has no zero: {nonzero[0].reason}",
                )
            if all(v.kind == "zero" for v in verdicts):
                return TorusVerdict(
                    "zero",
                    "every block in disjoint variables vanishes: "
                    + "; ".join(v.reason for v in verdicts),
                )
    reduced = _reduce([poly])
    gens = _gens(reduced.k)
    g_poly = reduced.polys[0]
    g = _to_sympy(g_poly, gens)
    if reduced.k == 1:
        roots = _real_roots(g, domain)
        u = _monomial(reduced.basis[0], variables)
        if roots:
            interval, multiplicity = roots[0]
            return TorusVerdict(
                "zero",
                f"real root u = {_interval(interval)} (multiplicity "
                f"{multiplicity}) of {g.as_expr()} with u = {u}",
            )
        return TorusVerdict("nonzero", f"{g.as_expr()} with u = {u} has no real root on the torus")
    quick = _quick_nonzero(g_poly, domain)
    if quick is not None:
        return TorusVerdict("nonzero", f"after the monomial change of variables: {quick}")
    sign_change = _vertex_sign_change(g_poly, domain)
    if sign_change is not None:
        return TorusVerdict("zero", f"sign change: {sign_change}")
    if singular and _groebner_is_one([g] + [g.diff(x) for x in gens], gens):
        return TorusVerdict(
            "nonzero",
            "zeros would be critical points, and the Groebner basis "
            "of (g, grad g) on the complex torus is {1}",
        )
    sample = _sample_sign_change(g_poly, domain)
    if sample is not None:
        return TorusVerdict("zero", sample)
    if singular:
        # Where the samples miss an isolated zero (they depend on the scaling of the variables),
        # solve the critical-point system exactly for a rational point.
        point = _rational_torus_zero([g] + [g.diff(x) for x in gens], gens, domain)
        if point is not None:
            return TorusVerdict(
                "zero",
                f"exact zero at u = ({', '.join(str(c) for c in point)}), a rational solution "
                "of g = grad g = 0",
            )
    if _small_enough(g):
        _, factors = g.factor_list()
        nontrivial = [(f, m) for f, m in factors if f.total_degree() > 0 and len(f.terms()) > 1]
        if len(nontrivial) > 1 or (nontrivial and nontrivial[0][1] > 1):
            verdicts = []
            for factor, multiplicity in nontrivial:
                sub = _zero_verdict(
                    _from_sympy(factor, reduced.k),
                    _u_names(reduced.k),
                    domain,
                    False,
                    singular and multiplicity % 2 == 1,
                )
                if sub.kind == "zero":
                    return TorusVerdict(
                        "zero", f"the factor {factor.as_expr()} vanishes: {sub.reason}"
                    )
                verdicts.append(sub)
            if all(v.kind == "nonzero" for v in verdicts):
                return TorusVerdict(
                    "nonzero", "no factor vanishes: " + "; ".join(v.reason for v in verdicts)
                )
    return TorusVerdict("unknown", f"no certificate for {_show(poly, variables)}")


# ------------------------------------------------------------------------------------------
# Helpers: cheap rules.
def _check_domain(domain: str) -> None:
    if domain not in DOMAINS:
        raise ValueError(f"domain: expected one of {DOMAINS}, got {domain!r}")


def _quick_nonzero(poly: Polynomial, domain: str) -> str | None:
    """A reason why ``poly`` has no zero on the torus, by the monomial or sign rule, or None."""
    if len(poly) == 1:
        return "a single monomial"
    signs = {c > 0 for c in poly.values()}
    if len(signs) == 1:
        if domain == "orthant":
            return "all coefficients have the same sign on the positive torus"
        if all(e % 2 == 0 for exps in poly for e in exps):
            return "all coefficients have the same sign and all exponents are even"
    return None


def _drop_monomial_content(poly: Polynomial) -> Polynomial:
    d = len(next(iter(poly)))
    low = [min(e[i] for e in poly) for i in range(d)]
    if not any(low):
        return dict(poly)
    return {tuple(a - b for a, b in zip(e, low)): c for e, c in poly.items()}


def _blocks(poly: Polynomial) -> list[Polynomial]:
    """Split poly into sums of terms in disjoint sets of variables (connected components)."""
    terms = list(poly.items())
    var_sets = [frozenset(i for i, e in enumerate(exps) if e) for exps, _ in terms]
    parent = list(range(len(terms)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    owner: dict[int, int] = {}
    for t, vs in enumerate(var_sets):
        for v in vs:
            if v in owner:
                parent[find(t)] = find(owner[v])
            else:
                owner[v] = t
    groups: dict[int, Polynomial] = {}
    for t, (exps, c) in enumerate(terms):
        groups.setdefault(find(t), {})[exps] = c
    return list(groups.values())


@dataclass(frozen=True)
class _Reduced:
    k: int
    base: tuple[int, ...]
    basis: list[tuple[int, ...]]
    polys: list[Polynomial]  # in k variables, each shifted to non-negative exponents


def _reduce(polys: Sequence[Polynomial]) -> _Reduced:
    """Rewrite polys in a basis of the saturated lattice of their exponent differences.

    The basis is reduced (`degree_reducing_transform`) so that the rewritten polynomials have a
    small total degree: the size limits of the Groebner and factorisation certificates apply to
    them, and an unreduced basis (its shear depends on the order of the variables) can double
    the degree, e.g. 12 instead of 6 for a**4 - 2*a**2*b**3 + 2*b**6 + b**2*c**4 + c**6.
    """
    points = sorted({e for p in polys for e in p})
    base = points[0]
    d = len(base)
    diffs = [tuple(a - b for a, b in zip(p, base)) for p in points[1:]]
    basis = saturated_basis(diffs, d)
    k = len(basis)
    to_coordinates = LatticeCoordinates(basis) if k else None
    raw = {
        e: to_coordinates(tuple(a - b for a, b in zip(e, base)))
        if to_coordinates is not None
        else ()
        for e in points
    }
    transform = degree_reducing_transform([raw[e] for e in points], k)
    if k:
        # New coordinates Y c; the basis vectors change by the inverse transpose of Y.
        inverse = unimodular_inverse(transform)
        basis = [
            tuple(sum(inverse[i][j] * basis[i][x] for i in range(k)) for x in range(d))
            for j in range(k)
        ]
    coordinates = {
        e: tuple(sum(y * c for y, c in zip(row, raw[e])) for row in transform) for e in points
    }

    out = []
    for p in polys:
        coords = {e: coordinates[e] for e in p}
        low = [min(c[i] for c in coords.values()) for i in range(k)]
        out.append({tuple(a - b for a, b in zip(coords[e], low)): c for e, c in p.items()})
    return _Reduced(k=k, base=base, basis=basis, polys=out)


# ------------------------------------------------------------------------------------------
# Helpers: sympy conversions and exact algebra.
def _gens(k: int) -> tuple[sympy.Symbol, ...]:
    return tuple(sympy.Symbol(name) for name in _u_names(k))


def _u_names(k: int) -> list[str]:
    return [f"u{i + 1}" for i in range(k)]


def _to_sympy(poly: Polynomial, gens: Sequence[sympy.Symbol]) -> sympy.Poly:
    data = {e: sympy.Rational(c.numerator, c.denominator) for e, c in poly.items()}
    if not gens:
        return sympy.Poly(sum(data.values()), sympy.Symbol("u1"), domain=sympy.QQ)
    return sympy.Poly.from_dict(data, *gens, domain=sympy.QQ)


def _from_sympy(poly: sympy.Poly, k: int) -> Polynomial:
    out: Polynomial = {}
    for monom, coeff in poly.terms():
        c = sympy.Rational(coeff)
        out[tuple(int(e) for e in monom)] = Fraction(int(c.p), int(c.q))
    if len(next(iter(out))) != k:  # pragma: no cover - defensive
        raise AssertionError("unexpected number of generators")
    return out


def _real_roots(poly: sympy.Poly, domain: str) -> list[tuple[tuple[Fraction, Fraction], int]]:
    """Isolating intervals (exact rationals) and multiplicities of the real roots on the torus."""
    if poly.degree() <= 0:
        return []
    inf = 0 if domain == "orthant" else None
    out = []
    for (a, b), multiplicity in poly.intervals(inf=inf):
        fa, fb = Fraction(str(a)), Fraction(str(b))
        if fa == fb == 0:
            continue  # the root u = 0 is not on the torus
        if domain == "orthant" and fb <= 0:
            continue
        out.append(((fa, fb), int(multiplicity)))
    return out


def _small_enough(*polys: sympy.Poly) -> bool:
    """Whether the polys are within the size limits of the Groebner/factorisation steps."""
    return all(
        len(p.gens) <= GROEBNER_MAX_VARIABLES
        and p.total_degree() <= GROEBNER_MAX_DEGREE
        and len(p.terms()) <= GROEBNER_MAX_TERMS
        for p in polys
    )


def _groebner_is_one(polys: Sequence[sympy.Poly], gens: Sequence[sympy.Symbol]) -> bool:
    """True if the polys have no common zero on the complex torus (Groebner basis {1} after
    adding 1 - z * u_1 ... u_k). False also when the problem is too large to try."""
    if not gens or not _small_enough(*polys):
        return False
    z = sympy.Symbol("z_torus")
    exprs = [p.as_expr() for p in polys if not p.is_zero]
    exprs.append(1 - z * sympy.Mul(*gens))
    basis = sympy.groebner(exprs, *gens, z, order="grevlex", domain=sympy.QQ)
    return list(basis.exprs) == [1]


def _rational_torus_zero(
    polys: Sequence[sympy.Poly], gens: Sequence[sympy.Symbol], domain: str
) -> tuple[Fraction, ...] | None:
    """A rational common zero of the polys on the torus, if their common zeros on the complex
    torus are finitely many (a zero-dimensional ideal) and one of them is rational; else None.

    Exact: the lex Groebner basis (by FGLM) has an eliminant in the last variable; each of its
    rational roots on the torus is substituted and the rest solved the same way. Within the
    size limits only. A rational change of scale of the variables maps rational zeros to
    rational zeros, so unlike the sample points this finds them at every scale.
    """
    if not gens or not _small_enough(*polys):
        return None
    exprs = [p.as_expr() for p in polys if not p.is_zero]
    solution = _solve_rational(exprs, list(gens), domain)
    if solution is None:
        return None
    return tuple(Fraction(int(solution[x].p), int(solution[x].q)) for x in gens)


def _solve_rational(
    exprs: list[sympy.Expr], gens: list[sympy.Symbol], domain: str
) -> dict[sympy.Symbol, sympy.Rational] | None:
    """A rational torus solution of ``exprs`` = 0 in ``gens`` (see `_rational_torus_zero`)."""
    if not exprs:
        return {x: sympy.Integer(1) for x in gens}
    z = sympy.Symbol("z_torus")
    system = [*exprs, 1 - z * sympy.Mul(*gens)]
    basis = sympy.groebner(system, z, *gens, order="grevlex", domain=sympy.QQ)
    if list(basis.exprs) == [1] or not basis.is_zero_dimensional:
        return None
    last = gens[-1]
    eliminants = [e for e in basis.fglm("lex").exprs if e.free_symbols <= {last}]
    if not eliminants:  # pragma: no cover - a zero-dimensional lex basis always has one
        return None
    roots = sympy.Poly(eliminants[0], last, domain=sympy.QQ).ground_roots()
    for root in sorted(roots):
        if root == 0 or (domain == "orthant" and root < 0):
            continue
        if len(gens) == 1:
            return {last: root}
        rest = [sympy.expand(e.subs(last, root)) for e in exprs]
        solution = _solve_rational([e for e in rest if e != 0], gens[:-1], domain)
        if solution is not None:
            return {**solution, last: root}
    return None


def _multiply(p: Polynomial, q: Polynomial) -> Polynomial:
    out: Polynomial = {}
    for e1, c1 in p.items():
        for e2, c2 in q.items():
            e = tuple(a + b for a, b in zip(e1, e2))
            out[e] = out.get(e, Fraction(0)) + c1 * c2
    return {e: c for e, c in out.items() if c != 0}


def _add_into(target: Polynomial, p: Polynomial) -> None:
    for e, c in p.items():
        value = target.get(e, Fraction(0)) + c
        if value == 0:
            target.pop(e, None)
        else:
            target[e] = value


# ------------------------------------------------------------------------------------------
# Helpers: sign changes and negative values.
def _orthants(n_vars: int, domain: str, limit: int = 64) -> list[tuple[int, ...]]:
    """Sign patterns (1 = negative coordinate) of the orthants to inspect."""
    if domain == "orthant" or n_vars == 0:
        return [(0,) * n_vars]
    if 2**n_vars <= limit:
        return list(product((0, 1), repeat=n_vars))
    rng = np.random.default_rng(SAMPLE_SEED)
    picks = {(0,) * n_vars, (1,) * n_vars}
    while len(picks) < limit:
        picks.add(tuple(int(b) for b in rng.integers(0, 2, size=n_vars)))
    return sorted(picks)


def _vertex_sign_change(poly: Polynomial, domain: str) -> str | None:
    """Two vertices of the Newton polytope whose terms have opposite signs on one orthant.

    A vertex v is exposed by a weight omega (v the unique minimiser of omega . e); along
    w = s^omega * w0 (s -> 0) its term dominates, so poly takes the sign of that term there.
    """
    exps = list(poly)
    n = len(exps[0])
    rng = np.random.default_rng(SAMPLE_SEED)
    weights = [tuple(int(i == j) for j in range(n)) for i in range(n)]
    weights += [tuple(-int(i == j) for j in range(n)) for i in range(n)]
    weights += [tuple(int(x) for x in rng.integers(-7, 8, size=n)) for _ in range(4 * n + 4)]
    vertices = set()
    for omega in weights:
        values = [sum(a * b for a, b in zip(omega, e)) for e in exps]
        low = min(values)
        if values.count(low) == 1:
            vertices.add(exps[values.index(low)])
    if len(vertices) < 2:
        return None
    for signs in _orthants(n, domain):
        seen: dict[bool, tuple[int, ...]] = {}
        for v in vertices:
            parity = sum(s * e for s, e in zip(signs, v)) % 2
            positive = (poly[v] > 0) != bool(parity)
            seen.setdefault(positive, v)
        if len(seen) == 2:
            return (
                f"the vertex terms at exponents {seen[True]} and {seen[False]} have opposite "
                f"signs on the orthant with signs {_sign_text(signs)}"
            )
    return None


@dataclass(frozen=True)
class _IntegerPolynomial:
    """poly * L with L the lcm of the coefficient denominators, and the top degree per variable."""

    terms: tuple[tuple[tuple[int, ...], int], ...]
    top: tuple[int, ...]

    @classmethod
    def of(cls, poly: Polynomial) -> _IntegerPolynomial:
        n = len(next(iter(poly)))
        scale = 1
        for c in poly.values():
            scale = scale * c.denominator // gcd(scale, c.denominator)
        terms = tuple((e, c.numerator * (scale // c.denominator)) for e, c in poly.items())
        return cls(terms=terms, top=tuple(max(e[i] for e in poly) for i in range(n)))

    def sign_at(self, point: Sequence[tuple[int, int]]) -> int:
        """Exact sign at the rational point x_i = a_i / b_i: the sign of
        sum_e c_e prod_i a_i^e_i b_i^(D_i - e_i) (the factor prod b_i^D_i is > 0)."""
        total = 0
        for exps, c in self.terms:
            term = c
            for (a, b), e, dmax in zip(point, exps, self.top):
                if dmax:
                    term *= a**e * b ** (dmax - e)
            total += term
        return (total > 0) - (total < 0)


@dataclass(frozen=True)
class _Samples:
    """Rational sample points x = num / den (exact) with a float copy for screening."""

    num: np.ndarray  # (N, n) int64, signed
    den: np.ndarray  # (N, n) int64, positive
    log_abs: np.ndarray  # (N, n) float64, log |num / den|

    def exact(self, i: int) -> tuple[tuple[int, int], ...]:
        return tuple((int(a), int(b)) for a, b in zip(self.num[i], self.den[i]))


@lru_cache(maxsize=64)
def _sample_points(n_vars: int, domain: str) -> _Samples:
    """Deterministic rational sample points spread over the orthants of the torus."""
    rng = np.random.default_rng(SAMPLE_SEED)
    orthants = np.array(_orthants(n_vars, domain, limit=32), dtype=np.int64).reshape(-1, n_vars)
    per_orthant = max(8, SAMPLE_POINTS // len(orthants))
    signs = np.repeat(1 - 2 * orthants, per_orthant, axis=0)
    num = rng.integers(1, 10, size=signs.shape) * signs
    den = rng.integers(1, 10, size=signs.shape)
    # The points with all |coordinates| = 1 come first: zeros such as x = y = z sit there.
    unit = 1 - 2 * orthants
    num = np.vstack([unit, num])
    den = np.vstack([np.ones_like(unit), den])
    return _Samples(num=num, den=den, log_abs=np.log(np.abs(num) / den))


def _float_values(poly: Polynomial, samples: _Samples) -> np.ndarray:
    """Floating-point values of poly at the samples: only to *propose* witness points, which
    are then verified in exact integer arithmetic."""
    exps = np.array(list(poly), dtype=np.int64)
    coefs = np.array([float(c) for c in poly.values()])
    parity = ((samples.num < 0).astype(np.int64) @ exps.T) % 2
    with np.errstate(over="ignore", invalid="ignore"):
        magnitudes = np.exp(samples.log_abs @ exps.T.astype(np.float64))
        return (magnitudes * (1 - 2 * parity)) @ coefs


def _sample_sign_change(poly: Polynomial, domain: str) -> str | None:
    """An exact zero, or a sign change inside one orthant, at rational sample points."""
    n = len(next(iter(poly)))
    samples = _sample_points(n, domain)
    values = _float_values(poly, samples)
    prepared = _IntegerPolynomial.of(poly)
    for i in np.flatnonzero(values == 0)[:8]:
        if prepared.sign_at(samples.exact(int(i))) == 0:
            return f"exact zero at u = {_point_text(samples.exact(int(i)))}"
    orthant_keys = (samples.num < 0) @ (1 << np.arange(n, dtype=np.int64))
    for key in np.unique(orthant_keys):
        rows = np.flatnonzero((orthant_keys == key) & np.isfinite(values))
        if len(rows) == 0:
            continue
        high = int(rows[np.argmax(values[rows])])
        low = int(rows[np.argmin(values[rows])])
        if values[high] > 0 > values[low]:
            p_high, p_low = samples.exact(high), samples.exact(low)
            if prepared.sign_at(p_high) > 0 > prepared.sign_at(p_low):
                return (
                    f"sign change between u = {_point_text(p_high)} (> 0) and "
                    f"u = {_point_text(p_low)} (< 0) in one orthant"
                )
    return None


def _find_negative_point(
    poly: Polynomial, variables: Sequence[str], domain: str
) -> TorusVerdict | None:
    """A rational torus point where poly < 0 (only searched when the sign rule fails)."""
    if _quick_nonzero(poly, domain) is not None:
        return (
            None
            if all(c > 0 for c in poly.values())
            else TorusVerdict(
                "negative", f"{_show(poly, variables)} is negative on the whole torus"
            )
        )
    n = len(next(iter(poly)))
    used = [i for i in range(n) if any(e[i] for e in poly)]
    sub_poly = {tuple(e[i] for i in used): c for e, c in poly.items()}
    samples = _sample_points(len(used), domain)
    values = _float_values(sub_poly, samples)
    candidates = np.flatnonzero(values < 0)
    if len(candidates) == 0:
        return None
    prepared = _IntegerPolynomial.of(sub_poly)
    for i in candidates[np.argsort(values[candidates])][:8]:
        point = samples.exact(int(i))
        if prepared.sign_at(point) < 0:
            where = ", ".join(
                f"{variables[j]} = {Fraction(a, b)}" for j, (a, b) in zip(used, point)
            )
            return TorusVerdict("negative", f"{_show(poly, variables)} < 0 at {where}")
    return None


# ------------------------------------------------------------------------------------------
# Text.
def _show(poly: Polynomial, variables: Sequence[str], max_terms: int = 12) -> str:
    """Readable text of poly (cheap; no sympy printing), at most ``max_terms`` terms."""
    parts = []
    for exps, c in sorted(poly.items(), reverse=True)[:max_terms]:
        monomial = _monomial(exps, variables)
        magnitude = abs(c)
        if monomial == "1":
            body = str(magnitude)
        elif magnitude == 1:
            body = monomial
        else:
            body = f"{magnitude}*{monomial}"
        parts.append(("- " if c < 0 else "+ ") + body)
    text = " ".join(parts)
    text = text[2:] if text.startswith("+ ") else "-" + text[2:]
    return text + (" + ..." if len(poly) > max_terms else "")


def _monomial(exponents: Sequence[int], variables: Sequence[str]) -> str:
    parts = [f"{v}**{e}" if e != 1 else v for v, e in zip(variables, exponents) if e]
    return "*".join(parts) if parts else "1"


def _interval(interval: tuple[Fraction, Fraction]) -> str:
    a, b = interval
    return str(a) if a == b else f"a root in [{a}, {b}]"


def _sign_text(signs: Sequence[int]) -> str:
    return "(" + ", ".join("-" if s else "+" for s in signs) + ")"


def _point_text(point: Sequence[tuple[int, int]]) -> str:
    return "(" + ", ".join(str(Fraction(a, b)) for a, b in point) + ")"
