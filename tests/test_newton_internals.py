"""Building blocks of the Newton engine: exact lattice algebra, the torus-zero decisions and the
safe polynomial parser.

The torus decisions are checked on polynomials whose zeros are known by hand (factorisations,
sums of squares, quadratic forms in the squares), and their honesty on the Motzkin polynomial
(non-negative with real zeros on the torus that no simple certificate sees).
"""

from __future__ import annotations

import itertools
from fractions import Fraction

import pytest
import sympy
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from rlct.exact import newton
from rlct.exact._lattice import (
    LatticeCoordinates,
    degree_reducing_transform,
    integer_kernel,
    rank,
    saturated_basis,
    unimodular_inverse,
)
from rlct.exact.polynomial_input import parse_polynomial_text, to_polynomial
from rlct.exact.torus_zeros import (
    face_polynomial_verdict,
    singular_point_verdict,
    system_verdict,
)

N_LATTICE = 200
N_ORDER = 25

X, Y, Z = sympy.symbols("x y z")
NAMES = ["x", "y", "z"]


def poly(text: str) -> dict[tuple[int, ...], Fraction]:
    return to_polynomial(parse_polynomial_text(text), (X, Y, Z), "K")


# ------------------------------------------------------------------------------------------
# Lattice algebra.
vectors = st.lists(st.integers(-5, 5), min_size=4, max_size=4).map(tuple)


@settings(max_examples=N_LATTICE, deadline=None)
@given(
    st.lists(vectors, min_size=1, max_size=4), st.lists(st.integers(-3, 3), min_size=4, max_size=4)
)
def test_saturated_basis_spans_the_integer_points_of_the_span(
    gens: list[tuple[int, ...]], combo: list[int]
) -> None:
    basis = saturated_basis(gens, 4)
    assert len(basis) == rank(gens)
    if not basis:
        return
    coords = LatticeCoordinates(basis)
    for g in gens:
        if any(g):
            coords(g)  # every generator has integer coordinates
    # A rational point of the span that happens to be integral: sum c_i b_i / m for the
    # content m of the sum. Saturation means its coordinates are integers too.
    point = [sum(c * b[i] for c, b in zip(combo, basis)) for i in range(4)]
    content = 0
    for x in point:
        content = abs(sympy.igcd(content, x))
    if content > 1:
        reduced = tuple(x // content for x in point)
        coords(reduced)  # raises ArithmeticError if the basis were not saturated
    kernel = integer_kernel(gens, 4)
    assert len(kernel) == 4 - rank(gens)
    assert all(sum(a * b for a, b in zip(g, k)) == 0 for g in gens for k in kernel)


def _degree(points: list[tuple[int, ...]]) -> int:
    """Total degree after shifting every coordinate to minimum 0."""
    lows = [min(p[i] for p in points) for i in range(len(points[0]))]
    return max(sum(x - low for x, low in zip(p, lows)) for p in points)


@settings(max_examples=N_LATTICE, deadline=None)
@given(
    st.integers(1, 3).flatmap(
        lambda k: st.lists(
            st.lists(st.integers(-6, 6), min_size=k, max_size=k).map(tuple),
            min_size=2,
            max_size=8,
        )
    )
)
def test_degree_reducing_transform_is_unimodular_and_never_raises_the_degree(
    points: list[tuple[int, ...]],
) -> None:
    k = len(points[0])
    y = degree_reducing_transform(points, k)
    inverse = unimodular_inverse(y)  # raises unless det = +-1
    assert all(
        sum(y[i][r] * inverse[r][j] for r in range(k)) == int(i == j)
        for i in range(k)
        for j in range(k)
    )
    moved = [tuple(sum(a * b for a, b in zip(row, p)) for row in y) for p in points]
    assert _degree(moved) <= _degree(points)


def test_degree_reducing_transform_removes_a_shear() -> None:
    """The facet {a^4, a^2 b^3, b^6, b^2 c^4, c^6} (the order regression of test_newton) in the
    lattice basis that the order (a, b, c) gives: degree 12; reduced: 6, as in other orders."""
    facet = [(0, 0, 6), (0, 2, 4), (0, 6, 0), (2, 3, 0), (4, 0, 0)]
    for order in itertools.permutations(range(3)):
        points = [tuple(p[i] for i in order) for p in facet]
        base = min(points)
        diffs = [tuple(a - b for a, b in zip(p, base)) for p in points]
        basis = saturated_basis(diffs, 3)
        to_coordinates = LatticeCoordinates(basis)
        coords = [to_coordinates(d) for d in diffs]
        y = degree_reducing_transform(coords, 2)
        moved = [tuple(sum(a * b for a, b in zip(row, c)) for row in y) for c in coords]
        assert _degree(moved) == 6
        if order == (0, 1, 2):
            assert _degree(coords) == 12


# ------------------------------------------------------------------------------------------
# Zeros of face polynomials on the torus.
@pytest.mark.parametrize(
    ("text", "kind", "reason_part"),
    [
        ("x**2 + y**4", "nonzero", "same sign"),
        ("x**2 - 2*x*y + y**2", "zero", "real root"),  # (x - y)^2
        ("x**4 - x**2*y**2 + y**4", "nonzero", "no real root"),  # (x^2 - y^2/2)^2 + 3y^4/4
        ("x**2 - 2*x*y + y**2 + z**2", "nonzero", "blocks"),  # (x - y)^2 + z^2 > 0 on the torus
        # a^2 + b^2 + c^2 - ab - bc in (a, b, c) = (x^2, y^2, z^2): positive definite form, so
        # no zero; only the critical-point Groebner certificate proves it.
        ("x**4 + y**4 + z**4 - x**2*y**2 - y**2*z**2", "nonzero", "Groebner"),
        ("x**4 - 3*x**2*y**2 + y**4", "negative", "< 0"),  # (x^2-y^2)^2 - x^2 y^2 changes sign
    ],
)
def test_face_polynomial_verdicts(text: str, kind: str, reason_part: str) -> None:
    verdict = face_polynomial_verdict(poly(text), NAMES, "neighbourhood")
    assert verdict.kind == kind
    assert reason_part in verdict.reason


def test_orthant_torus_is_positive() -> None:
    """x^2 - y^2 vanishes on (R\\0)^2 (x = -y too) but on the positive torus only at x = y;
    x + y has a zero on (R\\0)^2 but none on (R_>0)^2."""
    assert system_verdict([poly("x + y")], NAMES, "neighbourhood").kind == "zero"
    assert system_verdict([poly("x + y")], NAMES, "orthant").kind == "nonzero"
    assert system_verdict([poly("x**2 - y**2")], NAMES, "orthant").kind == "zero"


@pytest.mark.parametrize(
    ("texts", "kind"),
    [
        (["x - y"], "zero"),
        (["x - y", "x + y"], "nonzero"),  # common zero only at x = 0
        (["x**2 - y**3"], "zero"),
        (["x*y", "x - y"], "nonzero"),  # a monomial generator never vanishes on the torus
        (["x**2 - y*z", "x - y"], "zero"),  # x = y = z
    ],
)
def test_system_verdicts(texts: list[str], kind: str) -> None:
    assert system_verdict([poly(t) for t in texts], NAMES, "neighbourhood").kind == kind


def test_system_with_only_irrational_zeros_is_not_called_zero_free() -> None:
    """x^2 + y^2 - 2 z^2 = x - 2 y = 0 means 5 y^2 = 2 z^2: real common zeros, none rational.
    No certificate may claim "nonzero"."""
    verdict = system_verdict(
        [poly("x**2 + y**2 - 2*z**2"), poly("x - 2*y")], NAMES, "neighbourhood"
    )
    assert verdict.kind in ("zero", "unknown")


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("x**2 - y**3", "nonzero"),  # the cusp curve is smooth away from 0
        ("x**2 - 2*x*y + y**2", "zero"),  # (x - y)^2: every zero is singular
        ("x**3 - x*y**2", "nonzero"),  # three smooth lines through 0
        ("x**2*y - y**3 + z**3", "unknown"),  # 3 variables, no certificate expected to apply
    ],
)
def test_singular_point_verdicts(text: str, kind: str) -> None:
    verdict = singular_point_verdict(poly(text), NAMES, "neighbourhood")
    if kind == "unknown":
        assert verdict.kind in ("unknown", "nonzero", "zero")  # must not crash
    else:
        assert verdict.kind == kind


@pytest.mark.parametrize(
    "text",
    [
        "(2*x - y*z)**2 + (y*z - 3*z**2)**2",  # zero at x = 3 z^2 / 2, y = 3 z
        "(7*x - 2*y*z)**2 + (5*y*z - 3*z**2)**2",
    ],
)
def test_isolated_rational_zeros_are_found_at_any_scale(text: str) -> None:
    """The zero set is one torus orbit: an isolated point u* of the reduced polynomial, off the
    points |u| = 1 that the samples try first. It is found by solving g = grad g = 0 exactly,
    whatever the scale of the variables (rescaling moves u* to another rational point)."""
    for scales in [(1, 1, 1), (Fraction(1, 4), Fraction(4, 3), 8), (5, Fraction(2, 9), 3)]:
        subs = {w: sympy.Rational(Fraction(s)) * w for w, s in zip((X, Y, Z), scales)}
        scaled = sympy.expand(parse_polynomial_text(text).subs(subs, simultaneous=True))
        verdict = face_polynomial_verdict(poly(str(scaled)), NAMES, "neighbourhood")
        assert verdict.kind == "zero"


def _face_polys(draw: st.DrawFn, n_polys: int) -> list[dict[tuple[int, ...], Fraction]]:
    """Polynomials in x, y, z, all quasi-homogeneous of one weighted degree (as polynomials
    restricted to a compact face of a Newton polyhedron are). Small: large systems can keep
    sympy's Groebner bases busy for minutes."""
    weight = draw(st.lists(st.integers(1, 3), min_size=3, max_size=3))
    degree = draw(st.integers(3, 6))
    exponents = [
        e
        for e in itertools.product(range(7), repeat=3)
        if sum(w * x for w, x in zip(weight, e)) == degree
    ]
    assume(len(exponents) >= 2)
    coefficients = st.sampled_from([-3, -2, -1, 1, 2, 3, 5])
    out = []
    for _ in range(n_polys):
        chosen = draw(st.lists(st.sampled_from(exponents), min_size=2, max_size=3, unique=True))
        out.append({e: Fraction(draw(coefficients)) for e in chosen})
    return out


@settings(max_examples=N_ORDER, deadline=None)
@given(st.data())
def test_torus_verdicts_do_not_depend_on_the_variable_order(data: st.DataObject) -> None:
    """Renaming the variables does not change a verdict: the decisions run in a canonical
    variable order (the lattice basis, samples and vertex weights are built in that order).
    Only the kind is compared: for a polynomial with a symmetry the witness may name the
    variables differently."""
    polys = _face_polys(data.draw, data.draw(st.integers(1, 2)))
    squares: dict[tuple[int, ...], Fraction] = {}
    for p in polys:  # a sum of squares: a valid face polynomial of some K >= 0
        for (e1, c1), (e2, c2) in itertools.product(p.items(), repeat=2):
            e = tuple(a + b for a, b in zip(e1, e2))
            squares[e] = squares.get(e, Fraction(0)) + c1 * c2
    squares = {e: c for e, c in squares.items() if c}
    domain = data.draw(st.sampled_from(["neighbourhood", "orthant"]))

    def verdicts(order: tuple[int, ...]) -> list[str]:
        def move(p: dict[tuple[int, ...], Fraction]) -> dict[tuple[int, ...], Fraction]:
            return {tuple(e[i] for i in order): c for e, c in p.items()}

        names = [NAMES[i] for i in order]
        out = [system_verdict([move(p) for p in polys], names, domain)]
        out.append(singular_point_verdict(move(polys[0]), names, domain))
        if squares:
            out.append(face_polynomial_verdict(move(squares), names, domain))
        return [v.kind for v in out]

    base = verdicts((0, 1, 2))
    for order in itertools.permutations(range(3)):
        assert verdicts(order) == base


def test_motzkin_polynomial_is_never_certified() -> None:
    """Motzkin x^4 y^2 + x^2 y^4 + z^6 - 3 x^2 y^2 z^2 >= 0 vanishes at |x| = |y| = |z| on the
    torus; it has no sum-of-squares or sign certificate, so the engine must not certify K."""
    result = newton("x**4*y**2 + x**2*y**4 + z**6 - 3*x**2*y**2*z**2")
    assert result.status in ("degenerate", "undecided")


# ------------------------------------------------------------------------------------------
# The parser.
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("x**2*y**2 + z^4", X**2 * Y**2 + Z**4),
        ("0.5*x**2", sympy.Rational(1, 2) * X**2),
        ("1e-1*x", sympy.Rational(1, 10) * X),
        ("-(x - y)**(2)", -((X - Y) ** 2)),
        ("x/2 + 3/4*y", X / 2 + sympy.Rational(3, 4) * Y),
        ("pi*x", sympy.Symbol("pi") * X),  # names are variables, never constants
    ],
)
def test_parser_reads_polynomials_exactly(text: str, expected: sympy.Expr) -> None:
    assert sympy.expand(parse_polynomial_text(text) - expected) == 0


@pytest.mark.parametrize(
    "text",
    [
        "sin(x)",
        "x/y",
        "x**0.5",
        "x**-1",
        "x**(1/2)",
        "x.__class__",
        "__import__('os')",
        "2**10**10",
        "x**100000",
        "(x + y)**500",
        "",
        "x +",
        "x y",
        "1/0",
        "lambda: 0",
        "x; y",
        "[x]",
        "x**y",
        "exec('1')",
    ],
)
def test_parser_rejects_everything_else(text: str) -> None:
    with pytest.raises(ValueError) as err:
        parse_polynomial_text(text)
    assert str(err.value).startswith("K:")
