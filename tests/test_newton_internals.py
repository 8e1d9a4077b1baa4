"""Building blocks of the Newton engine: exact lattice algebra, the torus-zero decisions and the
safe polynomial parser.

The torus decisions are checked on polynomials whose zeros are known by hand (factorisations,
sums of squares, quadratic forms in the squares), and their honesty on the Motzkin polynomial
(non-negative with real zeros on the torus that no simple certificate sees).
"""

from __future__ import annotations

from fractions import Fraction

import pytest
import sympy
from hypothesis import given, settings
from hypothesis import strategies as st

from rlct.exact import newton
from rlct.exact._lattice import LatticeCoordinates, integer_kernel, rank, saturated_basis
from rlct.exact.polynomial_input import parse_polynomial_text, to_polynomial
from rlct.exact.torus_zeros import (
    face_polynomial_verdict,
    singular_point_verdict,
    system_verdict,
)

N_LATTICE = 200

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
