"""Deep linear networks (`rlct.exact.dln`, Aoyagi 2024) against independent routes.

Second routes (tests/independent): the min-over-rank-profiles form by dynamic programming, the
literal subset search over all Sigma with the balanced-split formula, and the exact monomial
(polar-coordinate) zeta function of networks with all inner widths 1.
"""

from __future__ import annotations

import random
from fractions import Fraction
from math import comb

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from independent.dln_geometric import dln_geometric, dln_geometric_brute
from independent.dln_monomial import thin_dln_by_zeta
from independent.dln_subsets import all_admissible

from rlct.exact import dln, regular, rrr

# Instance counts of the property tests (hypothesis max_examples), reported with the results.
N_GEOMETRIC = 400
N_SUBSETS = 400
N_SMALL = 300


@st.composite
def networks(draw: st.DrawFn, max_depth: int = 8, max_width: int = 30) -> tuple[list[int], int]:
    """(widths, rank): 1..max_depth layers; a random cap on the widths makes ties common."""
    depth = draw(st.integers(1, max_depth))
    cap = draw(st.integers(1, max_width))
    widths = draw(st.lists(st.integers(1, cap), min_size=depth + 1, max_size=depth + 1))
    rank = draw(st.integers(0, min(widths)))
    return widths, rank


def sigma_shape(widths: list[int], rank: int) -> tuple[int, int]:
    """(l, a) of the admissible Sigma found by the literal subset search (it is unique)."""
    shapes = {_shape(widths, rank, answer.sigma) for answer in all_admissible(widths, rank)}
    (shape,) = shapes
    return shape


def _shape(widths: list[int], rank: int, sigma: tuple[int, ...]) -> tuple[int, int]:
    total = sum(widths[s] - rank for s in sigma)
    ell = len(sigma) - 1
    extra = total % ell
    return ell, (extra if extra else ell)  # a: parts of size ceil(S/l); all l when l divides S


def wrong_variant(widths: list[int], rank: int) -> Fraction:
    """The frequently copied WRONG formula: +r^2 instead of -r^2 in the first term.

    Written out in the balanced-split form with the literal subset search, so it shares nothing
    with the library except the mistake.
    """
    answer = all_admissible(widths, rank)[0]
    deltas = [widths[s] - rank for s in answer.sigma]
    ell = len(deltas) - 1
    low, extra = divmod(sum(deltas), ell)
    q = [low + 1] * extra + [low] * (ell - extra)
    r = rank
    return Fraction(r * r + r * (widths[0] + widths[-1]), 2) + Fraction(
        sum(x * x for x in q) - sum(x * x for x in deltas), 4
    )


# --- worked examples (theory.md sec. 4, from Aoyagi 2024) -----------------------------------

WORKED_EXAMPLES = [
    ([5, 4, 3], 2, Fraction(7), 1),
    ([5, 4, 3], 1, Fraction(13, 2), 2),
    ([5, 4, 3], 0, Fraction(11, 2), 1),
    ([3, 10, 3], 0, Fraction(9, 2), 1),
    ([1, 1, 1, 1], 0, Fraction(1, 2), 3),
    ([2, 2, 2], 0, Fraction(3, 2), 1),
    ([2, 2, 2], 1, Fraction(2), 2),
    ([2, 2, 2, 2], 0, Fraction(3, 2), 3),
    ([10, 2, 10, 10], 1, Fraction(14), 3),
    ([4, 3, 5, 2], 1, Fraction(7, 2), 1),
    ([6, 6, 6, 6], 2, Fraction(31, 2), 3),
    ([100, 100, 100], 0, Fraction(3750), 1),
]


@pytest.mark.parametrize(("widths", "rank", "lam", "m"), WORKED_EXAMPLES)
def test_worked_examples(widths: list[int], rank: int, lam: Fraction, m: int) -> None:
    result = dln(widths, rank)
    assert (result.value, result.multiplicity) == (lam, m)
    assert dln_geometric(widths, rank).lam == lam
    assert result.scope == "global"
    assert "Aoyagi 2024" in result.source


def test_result_is_exact() -> None:
    result = dln([5, 4, 3], 1)
    assert isinstance(result.value, Fraction)
    assert result.to_json()["lambda"] == "13/2"


# --- the independent routes themselves ----------------------------------------------------


@settings(max_examples=N_SMALL, deadline=None)
@given(networks(max_depth=5, max_width=5))
def test_geometric_dynamic_programme_matches_enumeration(net: tuple[list[int], int]) -> None:
    """The DP of the geometric form equals enumerating every t (value and number of minimisers)."""
    widths, rank = net
    assert dln_geometric(widths, rank) == dln_geometric_brute(widths, rank)


# --- closed form vs the geometric form ----------------------------------------------------


@settings(max_examples=N_GEOMETRIC, deadline=None)
@given(networks())
def test_lambda_equals_geometric_form(net: tuple[list[int], int]) -> None:
    widths, rank = net
    assert dln(widths, rank).value == dln_geometric(widths, rank).lam


@settings(max_examples=N_GEOMETRIC, deadline=None)
@given(networks())
def test_multiplicity_against_geometric_minimisers(net: tuple[list[int], int]) -> None:
    """#minimisers of the geometric form is C(l, a), not m = a(l - a) + 1 in general.

    Both are functions of (l, a); they coincide iff min(a, l - a) <= 1 (always when L <= 3).
    Counterexample to "#minimisers == m": [2, 2, 2, 2, 2], r = 0 (6 vs 5), see
    `test_minimiser_count_differs_from_multiplicity`. The identity #minimisers == C(l, a) is an
    observation (exhaustive on small networks), used here to tie (l, a) -- read off by the
    literal subset search -- to the geometric form.
    """
    widths, rank = net
    result = dln(widths, rank)
    minimisers = dln_geometric(widths, rank).minimizers
    ell, a = sigma_shape(widths, rank)
    assert result.multiplicity == a * (ell - a) + 1
    assert minimisers == comb(ell, a)
    assert minimisers >= result.multiplicity
    if min(a, ell - a) <= 1:
        assert minimisers == result.multiplicity


def test_minimiser_count_differs_from_multiplicity() -> None:
    geometric = dln_geometric([2, 2, 2, 2, 2], 0)
    result = dln([2, 2, 2, 2, 2], 0)
    assert (result.value, result.multiplicity) == (Fraction(3, 2), 5)
    assert (geometric.lam, geometric.minimizers) == (Fraction(3, 2), 6)


@settings(max_examples=N_SMALL, deadline=None)
@given(networks(max_depth=3))
def test_multiplicity_equals_minimisers_up_to_three_layers(net: tuple[list[int], int]) -> None:
    widths, rank = net
    assert dln(widths, rank).multiplicity == dln_geometric(widths, rank).minimizers


# --- closed form vs the literal subset search ---------------------------------------------


@settings(max_examples=N_SUBSETS, deadline=None)
@given(networks())
def test_equals_brute_force_subset_search(net: tuple[list[int], int]) -> None:
    """Some Sigma satisfies (i)-(iii); every admissible Sigma gives the library's lambda and m."""
    widths, rank = net
    answers = all_admissible(widths, rank)
    assert answers, f"no admissible Sigma for {widths}, r={rank}"
    result = dln(widths, rank)
    for answer in answers:
        assert (answer.lam, answer.multiplicity) == (result.value, result.multiplicity)


# --- structural properties ------------------------------------------------------------------


@settings(max_examples=N_SMALL, deadline=None)
@given(networks())
def test_at_most_half_the_dimension(net: tuple[list[int], int]) -> None:
    widths, rank = net
    d = sum(a * b for a, b in zip(widths, widths[1:], strict=False))
    assert dln(widths, rank).value <= Fraction(d, 2)


@settings(max_examples=N_SMALL, deadline=None)
@given(networks())
def test_invariant_under_reversing_the_widths(net: tuple[list[int], int]) -> None:
    """Transposing the network (Y^T = W_1^T ... W_L^T X^T) does not change K's zeta function."""
    widths, rank = net
    forward, backward = dln(widths, rank), dln(widths[::-1], rank)
    assert (forward.value, forward.multiplicity) == (backward.value, backward.multiplicity)


@settings(max_examples=N_SMALL, deadline=None)
@given(networks(), st.data())
def test_bottleneck_of_width_rank(net: tuple[list[int], int], data: st.DataObject) -> None:
    """An inner width equal to r: lambda = r(H_0 + H_L - r)/2, m = 1."""
    widths, rank = net
    if len(widths) < 3:
        widths = [*widths, widths[-1]]
    position = data.draw(st.integers(1, len(widths) - 2))
    widths = list(widths)
    widths[position] = rank if rank > 0 else 1
    rank = widths[position]
    result = dln(widths, rank)
    assert result.value == Fraction(rank * (widths[0] + widths[-1] - rank), 2)
    assert result.multiplicity == 1
    assert dln_geometric(widths, rank).lam == result.value


@settings(max_examples=N_SMALL, deadline=None)
@given(st.integers(1, 40), st.integers(1, 40), st.data())
def test_one_layer_is_regular(n_in: int, n_out: int, data: st.DataObject) -> None:
    """L = 1: K = ||W - W_0||^2 is a full-rank quadratic form, lambda = N M / 2, m = 1."""
    rank = data.draw(st.integers(0, min(n_in, n_out)))
    result = dln([n_in, n_out], rank)
    expected = regular(n_in * n_out)
    assert (result.value, result.multiplicity) == (expected.value, expected.multiplicity)


@settings(max_examples=N_SMALL, deadline=None)
@given(st.integers(1, 30), st.integers(1, 30), st.integers(1, 30), st.data())
def test_two_layers_equal_reduced_rank_regression(
    n_in: int, n_hidden: int, n_out: int, data: st.DataObject
) -> None:
    rank = data.draw(st.integers(0, min(n_in, n_hidden, n_out)))
    deep, shallow = dln([n_in, n_hidden, n_out], rank), rrr(n_in, n_hidden, n_out, rank)
    assert (deep.value, deep.multiplicity) == (shallow.value, shallow.multiplicity)


@settings(max_examples=N_SMALL, deadline=None)
@given(st.integers(1, 30), st.integers(1, 30), st.integers(2, 12))
def test_thin_networks_equal_their_monomial_zeta(n_in: int, n_out: int, depth: int) -> None:
    """Widths [N, 1, ..., 1, M], r = 0: K = |a|^2 |b|^2 prod c_i^2 is a monomial in polar
    coordinates; its zeta function gives lambda and m exactly (m up to L, an independent check
    of the multiplicity)."""
    widths = [n_in] + [1] * (depth - 1) + [n_out]
    result = dln(widths, 0)
    assert (result.value, result.multiplicity) == thin_dln_by_zeta(widths)


# --- the known wrong variant ----------------------------------------------------------------


def test_wrong_variant_example() -> None:
    assert wrong_variant([2, 2, 2], 1) == 3
    assert dln([2, 2, 2], 1).value == 2 == dln_geometric([2, 2, 2], 1).lam


@settings(max_examples=N_SMALL, deadline=None)
@given(networks())
def test_library_is_not_the_wrong_variant(net: tuple[list[int], int]) -> None:
    """+r^2 and -r^2 differ by r^2: they agree only at r = 0; the library equals the truth."""
    widths, rank = net
    value = dln(widths, rank).value
    assert value == dln_geometric(widths, rank).lam
    assert (value == wrong_variant(widths, rank)) == (rank == 0)


# --- large instances ------------------------------------------------------------------------


def test_ten_thousand_layers_of_width_a_million() -> None:
    rng = random.Random(20240201)
    widths = [rng.randint(10**6, 2 * 10**6) for _ in range(10_001)]
    result = dln(widths, 1000)
    d = sum(a * b for a, b in zip(widths, widths[1:], strict=False))
    assert 0 < result.value <= Fraction(d, 2)
    assert result.multiplicity >= 1
    assert dln(widths[::-1], 1000).value == result.value


@pytest.mark.parametrize(("depth", "max_width", "seed"), [(200, 12, 0), (400, 8, 1), (1000, 5, 2)])
def test_deep_narrow_networks_equal_geometric_form(depth: int, max_width: int, seed: int) -> None:
    rng = random.Random(seed)
    widths = [rng.randint(1, max_width) for _ in range(depth + 1)]
    for rank in range(min(widths) + 1):
        assert dln(widths, rank).value == dln_geometric(widths, rank).lam
