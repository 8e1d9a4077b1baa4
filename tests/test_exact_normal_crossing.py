"""Normal crossings and regular models against the zeta function computed by sympy.

`rlct.exact.normal_crossing` takes the min formula of Watanabe 2009 Thm 6.1; the second route
(tests/independent/normal_crossing_zeta.py) integrates the monomial with sympy and reads the
largest pole and its order off the denominator.
"""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from independent.normal_crossing_zeta import normal_crossing_by_zeta

from rlct.exact import normal_crossing, regular

# Instance counts of the property tests (hypothesis max_examples).
N_ZETA = 300
N_CHEAP = 300


@st.composite
def monomials(draw: st.DrawFn, max_dim: int = 6) -> tuple[list[int], list[int]]:
    """(k, h) with at least one k_j > 0."""
    dim = draw(st.integers(1, max_dim))
    k = draw(st.lists(st.integers(0, 6), min_size=dim, max_size=dim))
    h = draw(st.lists(st.integers(0, 6), min_size=dim, max_size=dim))
    if not any(k):
        k[draw(st.integers(0, dim - 1))] = draw(st.integers(1, 6))
    return k, h


def pair(result: object) -> tuple[Fraction, int]:
    return result.value, result.multiplicity  # type: ignore[attr-defined]


# theory.md sec. 1 (uniform prior unless h is given).
WORKED_EXAMPLES = [
    ([1, 1], None, "neighbourhood", Fraction(1, 2), 2),  # x^2 y^2
    ([1, 2], None, "neighbourhood", Fraction(1, 4), 1),  # x^2 y^4
    ([1, 1, 1], None, "neighbourhood", Fraction(1, 2), 3),  # (xyz)^2
    ([2, 3], None, "neighbourhood", Fraction(1, 6), 1),  # x^4 y^6
    ([1, 1], [2, 0], "neighbourhood", Fraction(1, 2), 1),  # prior x^2 on x^2 y^2
    ([1], None, "orthant", Fraction(1), 1),  # K = u on [0, eps)
]


@pytest.mark.parametrize(("k", "h", "domain", "lam", "m"), WORKED_EXAMPLES)
def test_worked_examples(
    k: list[int], h: list[int] | None, domain: str, lam: Fraction, m: int
) -> None:
    assert pair(normal_crossing(k, h, domain)) == (lam, m)
    assert normal_crossing_by_zeta(k, h, domain) == (lam, m)


@settings(max_examples=N_ZETA, deadline=None)
@given(monomials(), st.sampled_from(["neighbourhood", "orthant"]))
def test_equals_largest_pole_of_zeta(mono: tuple[list[int], list[int]], domain: str) -> None:
    k, h = mono
    assert pair(normal_crossing(k, h, domain)) == normal_crossing_by_zeta(k, h, domain)


@settings(max_examples=N_CHEAP, deadline=None)
@given(monomials(), st.data())
def test_permutation_invariant(mono: tuple[list[int], list[int]], data: st.DataObject) -> None:
    k, h = mono
    order = data.draw(st.permutations(range(len(k))))
    permuted = normal_crossing([k[i] for i in order], [h[i] for i in order])
    assert pair(permuted) == pair(normal_crossing(k, h))


@settings(max_examples=N_CHEAP, deadline=None)
@given(monomials(), st.integers(0, 6), st.integers(0, 6))
def test_variable_absent_from_k_changes_nothing(
    mono: tuple[list[int], list[int]], position: int, prior: int
) -> None:
    """A coordinate with k = 0 only multiplies zeta by a constant, whatever its prior."""
    k, h = mono
    position = position % (len(k) + 1)
    wider = normal_crossing(
        k[:position] + [0] + k[position:], h[:position] + [prior] + h[position:]
    )
    assert pair(wider) == pair(normal_crossing(k, h))


@settings(max_examples=N_CHEAP, deadline=None)
@given(monomials(), st.integers(1, 9))
def test_scaling_exponents_divides_lambda(mono: tuple[list[int], list[int]], c: int) -> None:
    """K^c has zeta(z) of K at c z: lambda / c, same m."""
    k, h = mono
    base, scaled = normal_crossing(k, h), normal_crossing([c * kj for kj in k], h)
    assert scaled.value == base.value / c
    assert scaled.multiplicity == base.multiplicity


@settings(max_examples=N_CHEAP, deadline=None)
@given(monomials())
def test_orthant_is_twice_the_neighbourhood(mono: tuple[list[int], list[int]]) -> None:
    """prod u^k on the orthant is prod w^(2k) under u = w^2 up to the prior: same exponents k
    but without the factor 2 of the neighbourhood form."""
    k, h = mono
    orthant, neighbourhood = normal_crossing(k, h, "orthant"), normal_crossing(k, h)
    assert orthant.value == 2 * neighbourhood.value
    assert orthant.multiplicity == neighbourhood.multiplicity


@settings(max_examples=N_CHEAP, deadline=None)
@given(st.integers(1, 200))
def test_regular_is_a_radial_normal_crossing(d: int) -> None:
    """K = |w|^2 on R^d is rho^2 with Jacobian rho^(d-1) in polar coordinates: the normal crossing
    k = [1], h = [d - 1] gives d/2, m = 1 (lambda and m).

    NOT normal_crossing([1] * d): that is K = prod w_j^2 (a product, not the sum of squares),
    lambda = 1/2 with m = d; it agrees with regular(d) only for d = 1.
    """
    assert pair(regular(d)) == pair(normal_crossing([1], [d - 1]))
    assert pair(regular(d)) == (Fraction(d, 2), 1)
    product = normal_crossing([1] * d)
    assert pair(product) == (Fraction(1, 2), d)
    assert (pair(product) == pair(regular(d))) == (d == 1)


@settings(max_examples=N_ZETA, deadline=None)
@given(st.integers(1, 60))
def test_regular_by_zeta(d: int) -> None:
    assert pair(regular(d)) == normal_crossing_by_zeta([1], [d - 1])


def test_regular_metadata() -> None:
    result = regular(5)
    assert result.to_json()["lambda"] == "5/2"
    assert result.scope == "global"
    assert "Watanabe 2009" in result.source


def test_normal_crossing_metadata() -> None:
    assert normal_crossing([1, 2]).scope == "local"
    assert "Watanabe 2009" in normal_crossing([1, 2]).source
