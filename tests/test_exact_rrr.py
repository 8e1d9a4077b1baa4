"""Reduced-rank regression (`rlct.exact.rrr`, Aoyagi & Watanabe 2005) against independent routes.

The four case inequalities are not re-implemented here (that would not be independent). Instead:
the geometric min-over-rank-profiles form with L = 2, the literal subset search of Aoyagi 2024
(a later, different derivation), and for the smallest models the explicit monomial in polar
coordinates.
"""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from independent.dln_geometric import dln_geometric
from independent.dln_subsets import all_admissible
from independent.normal_crossing_zeta import normal_crossing_by_zeta

from rlct.exact import rrr

# Instance counts of the property tests (hypothesis max_examples).
N_RRR = 500
N_TINY = 300


@st.composite
def rrr_instances(draw: st.DrawFn, max_size: int = 40) -> tuple[int, int, int, int]:
    """(N, H, M, r) with r <= min(N, H, M)."""
    n_in, n_hidden, n_out = (draw(st.integers(1, max_size)) for _ in range(3))
    rank = draw(st.integers(0, min(n_in, n_hidden, n_out)))
    return n_in, n_hidden, n_out, rank


# (N, H, M, r) -> lambda, m (theory.md sec. 3; m where the theorem's case fixes it:
# (5,4,5,0) case 1 with N+H+M+r = 14 even -> m = 1; (4,3,8,0) case 3 (N+H < M+r) -> m = 1;
# (10,10,10,2) case 1 with 32 even -> m = 1).
WORKED_EXAMPLES = [
    ((5, 3, 5, 0), Fraction(13, 2), 2),
    ((5, 4, 5, 0), Fraction(8), 1),
    ((4, 3, 8, 0), Fraction(6), 1),
    ((2, 1, 2, 0), Fraction(1), 2),
    ((5, 4, 3, 1), Fraction(13, 2), 2),
    ((10, 10, 10, 2), Fraction(42), 1),
]


@pytest.mark.parametrize(("instance", "lam", "m"), WORKED_EXAMPLES)
def test_worked_examples(instance: tuple[int, int, int, int], lam: Fraction, m: int) -> None:
    result = rrr(*instance)
    assert (result.value, result.multiplicity) == (lam, m)
    n_in, n_hidden, n_out, rank = instance
    geometric = dln_geometric([n_in, n_hidden, n_out], rank)
    assert (geometric.lam, geometric.minimizers) == (lam, m)
    assert result.scope == "global"
    assert "Aoyagi & Watanabe 2005" in result.source


@settings(max_examples=N_RRR, deadline=None)
@given(rrr_instances())
def test_equals_geometric_form(instance: tuple[int, int, int, int]) -> None:
    """With L = 2 the number of minimisers is C(l, a) with l <= 2, which equals m (see the DLN
    tests for why that fails for deeper networks)."""
    n_in, n_hidden, n_out, rank = instance
    result = rrr(*instance)
    geometric = dln_geometric([n_in, n_hidden, n_out], rank)
    assert (result.value, result.multiplicity) == (geometric.lam, geometric.minimizers)


@settings(max_examples=N_RRR, deadline=None)
@given(rrr_instances())
def test_equals_subset_search(instance: tuple[int, int, int, int]) -> None:
    n_in, n_hidden, n_out, rank = instance
    result = rrr(*instance)
    answers = all_admissible([n_in, n_hidden, n_out], rank)
    assert answers
    assert {(a.lam, a.multiplicity) for a in answers} == {(result.value, result.multiplicity)}


@settings(max_examples=N_TINY, deadline=None)
@given(rrr_instances())
def test_symmetric_in_inputs_and_outputs(instance: tuple[int, int, int, int]) -> None:
    n_in, n_hidden, n_out, rank = instance
    forward, swapped = rrr(n_in, n_hidden, n_out, rank), rrr(n_out, n_hidden, n_in, rank)
    assert (forward.value, forward.multiplicity) == (swapped.value, swapped.multiplicity)


@settings(max_examples=N_TINY, deadline=None)
@given(rrr_instances())
def test_at_most_half_the_dimension(instance: tuple[int, int, int, int]) -> None:
    n_in, n_hidden, n_out, _ = instance
    assert rrr(*instance).value <= Fraction(n_hidden * (n_in + n_out), 2)


@settings(max_examples=N_TINY, deadline=None)
@given(st.integers(1, 40), st.integers(1, 40))
def test_one_hidden_unit_is_a_monomial(n_in: int, n_out: int) -> None:
    """H = 1, r = 0: K = |a|^2 |b|^2 (a in R^N, b in R^M). In polar coordinates the zeta function
    is c / ((2z + N)(2z + M)): lambda = min(N, M)/2, m = 2 iff N = M."""
    result = rrr(n_in, 1, n_out, 0)
    by_zeta = normal_crossing_by_zeta([1, 1], [n_in - 1, n_out - 1])
    assert (result.value, result.multiplicity) == by_zeta
    assert result.value == Fraction(min(n_in, n_out), 2)


@settings(max_examples=N_TINY, deadline=None)
@given(rrr_instances())
def test_hidden_width_equal_to_rank_is_regular_modulo_gl(
    instance: tuple[int, int, int, int],
) -> None:
    """H = r: {BA = C} is a smooth orbit of GL(H), codimension NH + HM - H^2 (Morse-Bott):
    lambda = (NH + HM - H^2)/2, m = 1."""
    n_in, _, n_out, _ = instance
    hidden = min(n_in, n_out, instance[1])
    result = rrr(n_in, hidden, n_out, hidden)
    assert result.value == Fraction(n_in * hidden + hidden * n_out - hidden * hidden, 2)
    assert result.multiplicity == 1


def test_smallest_models_by_hand() -> None:
    """N = H = M = 1: r = 0 gives K = (ab)^2 (normal crossing, 1/2, m = 2); r = 1 gives
    K = (ab - c)^2, smooth zero set of codimension 1 (Morse-Bott, 1/2, m = 1)."""
    assert (rrr(1, 1, 1, 0).value, rrr(1, 1, 1, 0).multiplicity) == normal_crossing_by_zeta([1, 1])
    assert (rrr(1, 1, 1, 1).value, rrr(1, 1, 1, 1).multiplicity) == (Fraction(1, 2), 1)
