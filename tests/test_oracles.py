"""The numeric oracles (rlct.numeric.oracles) against exact learning coefficients.

Exact values come from `rlct.exact` (normal crossings, regular models, reduced-rank regression,
deep linear networks) or, for the Newton-polyhedron examples, from theory.md sec. 2 as
Fractions. Each estimate must satisfy

    |estimate - lambda| <= STDERR_FACTOR * stderr + floor(method),

and, where the oracle selects one, the multiplicity must equal m.
"""

from __future__ import annotations

import itertools
import math
import re
from fractions import Fraction

import numpy as np
import pytest
import sympy
from scipy import integrate, special

from rlct.exact import dln, normal_crossing, regular, rrr
from rlct.numeric.oracles import (
    OracleEstimate,
    free_energy_quadrature,
    oracle_for_polynomial,
    volume_scaling,
)
from rlct.numeric.oracles.cubature import LogCoordinatePartition, genz_malik_rule
from rlct.numeric.oracles.domain import checked_K, make_domain

# An estimate may miss by this many of its own standard errors (a 4-sigma event has
# probability ~6e-5 for a Gaussian error; the tests use fixed seeds, so this is a margin
# for the error model, not for flakiness).
STDERR_FACTOR = 4.0
# Quadrature: the stderr (least squares + change under halving the fit window) does not see
# the power corrections n^(-delta) common to the whole window; the largest deviation measured
# on these cases is 1.5e-3 (x^2 y^4, delta = 1/4).
QUADRATURE_FLOOR = 0.005
# Volume scaling: the jackknife over 8 batches is itself noisy and does not see the
# O(levels / N_eff) bias of adaptive multilevel splitting nor slow corrections eps^delta; the
# largest deviation measured on these cases was 0.005 (2.5 stderr, u + v), and with too little
# MCMC mixing deviations of 0.01-0.04 were seen (volume.py docstring).
VOLUME_FLOOR = 0.03
FLOORS = {"free-energy-quadrature": QUADRATURE_FLOOR, "volume-scaling": VOLUME_FLOOR}


def assert_matches(result: OracleEstimate, value: Fraction, multiplicity: int | None) -> None:
    """The estimate is within tolerance of the exact value and m (if selected) agrees."""
    assert math.isfinite(result.estimate) and math.isfinite(result.stderr), result.details
    tolerance = STDERR_FACTOR * result.stderr + FLOORS[result.method]
    assert abs(result.estimate - float(value)) <= tolerance, (
        f"{result.describe()} vs exact {value} (tolerance {tolerance:.4f})"
    )
    if multiplicity is not None:
        assert result.multiplicity_estimate == multiplicity, result.describe()


def square_product(*columns: int):
    """K(W) = prod_j W[:, j]^2 over the given columns."""

    def K(W: np.ndarray) -> np.ndarray:
        return np.prod(W[:, list(columns)] ** 2, axis=1)

    return K


def dln_population_loss(widths: list[int]):
    """K = ||W_L ... W_1||_F^2: the population MSE gap of a deep linear network with true
    product 0 (r = 0) and standard Gaussian inputs, up to a positive constant."""
    shapes = [(widths[i + 1], widths[i]) for i in range(len(widths) - 1)]
    sizes = [a * b for a, b in shapes]

    def K(W: np.ndarray) -> np.ndarray:
        product = None
        offset = 0
        for (rows, cols), size in zip(shapes, sizes):
            factor = W[:, offset : offset + size].reshape(-1, rows, cols)
            product = factor if product is None else factor @ product
            offset += size
        assert product is not None
        return np.sum(product**2, axis=(1, 2))

    return K, sum(sizes)


x, y, z = sympy.symbols("x y z")


# --- the cubature itself ---------------------------------------------------------------------


@pytest.mark.parametrize("dim", [2, 3])
def test_genz_malik_rule_is_exact_to_degree_7_and_5(dim: int) -> None:
    """Genz & Malik 1980: the rule integrates all monomials of degree <= 7 exactly, its
    embedded companion those of degree <= 5 (weights are means over [-1, 1]^d)."""
    rule = genz_malik_rule(dim)
    for exponents in itertools.product(range(8), repeat=dim):
        degree = sum(exponents)
        if degree > 7:
            continue
        exact = math.prod(1.0 / (e + 1) if e % 2 == 0 else 0.0 for e in exponents)
        values = np.prod(rule.nodes ** np.array(exponents), axis=1)
        assert rule.weights_high @ values == pytest.approx(exact, abs=1e-14)
        if degree <= 5:
            assert rule.weights_low @ values == pytest.approx(exact, abs=1e-14)


def test_cubature_matches_closed_forms() -> None:
    """Z_n against closed forms: int_0^1 exp(-n x^4) dx = n^(-1/4) gamma(1/4, n) / 4 and
    int_0^1 int_0^1 exp(-n x^2 y^2) = sqrt(pi)/(2 sqrt n) int_0^sqrt(n) erf(t)/t dt."""
    domain = make_domain((-1, 1), None, 1)
    partition = LogCoordinatePartition(checked_K(lambda W: W[:, 0] ** 4, domain), domain, np.array([60.0]), 10.0)
    for n in (1e2, 1e6, 1e12):
        step = partition.integrate(n, rel_tol=1e-8, max_boxes=10_000)
        exact = n**-0.25 * special.gamma(0.25) * special.gammainc(0.25, n) / 4
        assert step.converged and step.value == pytest.approx(exact, rel=1e-8)
    domain = make_domain((-1, 1), None, 2)
    partition = LogCoordinatePartition(checked_K(square_product(0, 1), domain), domain, np.array([40.0, 40.0]), 10.0)
    for n in (1e2, 1e5, 1e8):
        step = partition.integrate(n, rel_tol=1e-6, max_boxes=100_000)
        root = math.sqrt(n)
        inner = integrate.quad(lambda t: special.erf(t) / t, 0, root, limit=500, epsrel=1e-12)
        exact = math.sqrt(math.pi) / (2 * root) * inner[0]
        assert step.converged and step.value == pytest.approx(exact, rel=1e-6)


# --- free-energy quadrature (fast: d <= 2) ---------------------------------------------------


@pytest.mark.parametrize(
    ("label", "K", "dim", "box", "prior", "exact"),
    [
        ("x^2", square_product(0), 1, (-1, 1), None, normal_crossing([1])),
        ("x^2 y^2", square_product(0, 1), 2, (-1, 1), None, normal_crossing([1, 1])),
        (
            "x^2 y^4",
            lambda W: W[:, 0] ** 2 * W[:, 1] ** 4,
            2,
            (-1, 1),
            None,
            normal_crossing([1, 2]),
        ),
        (
            "x^2 y^2, prior x^2",
            square_product(0, 1),
            2,
            (-1, 1),
            [2, 0],
            normal_crossing([1, 1], [2, 0]),
        ),
        (
            "uv on the orthant",
            lambda W: W[:, 0] * W[:, 1],
            2,
            (0, 1),
            None,
            normal_crossing([1, 1], domain="orthant"),
        ),
    ],
)
def test_quadrature_normal_crossings(label, K, dim, box, prior, exact) -> None:
    result = free_energy_quadrature(K, dim, box=box, prior=prior)
    assert_matches(result, exact.value, exact.multiplicity)


NEWTON_EXAMPLES = [
    # theory.md sec. 2: x^(2p) + y^(2q) -> 1/(2p) + 1/(2q), m = 1
    ("x^2 + y^4", lambda W: W[:, 0] ** 2 + W[:, 1] ** 4, (-1, 1), Fraction(3, 4), 1),
    # theory.md sec. 2: (2, 2) inside an edge of the Newton polygon
    (
        "x^4 + x^2 y^2 + y^4",
        lambda W: W[:, 0] ** 4 + W[:, 0] ** 2 * W[:, 1] ** 2 + W[:, 1] ** 4,
        (-1, 1),
        Fraction(1, 2),
        1,
    ),
    # theory.md sec. 6: u + v on the orthant, lambda = 1 + 1
    ("u + v on the orthant", lambda W: W[:, 0] + W[:, 1], (0, 1), Fraction(2), 1),
]


@pytest.mark.parametrize(("label", "K", "box", "value", "m"), NEWTON_EXAMPLES)
def test_quadrature_newton_examples(label, K, box, value, m) -> None:
    assert_matches(free_energy_quadrature(K, 2, box=box), value, m)


def test_oracle_for_polynomial_dln_111_as_ideal() -> None:
    """DLN widths [1, 1, 1], r = 0: K = (a b)^2, lambda = 1/2, m = 2 (Aoyagi 2024)."""
    a, b = sympy.symbols("a b")
    exact = dln([1, 1, 1], 0)
    result = oracle_for_polynomial([a * b], [a, b], ideal=True)
    assert result.method == "free-energy-quadrature"
    assert_matches(result, exact.value, exact.multiplicity)
    assert result.n_points is not None and result.n_samples is None


# --- slow: quadrature in 3-D, volume scaling ------------------------------------------------


@pytest.mark.slow
def test_quadrature_3d_cases() -> None:
    """(xyz)^2 -> 1/2, m = 3 (normal crossing) and a positive definite quadratic form in three
    variables -> 3/2, m = 1 (regular), through oracle_for_polynomial (auto = quadrature)."""
    nc = normal_crossing([1, 1, 1])
    assert_matches(oracle_for_polynomial((x * y * z) ** 2, [x, y, z]), nc.value, nc.multiplicity)
    quadratic = x**2 + y**2 + z**2 + x * y + y * z
    reg = regular(3)
    assert_matches(oracle_for_polynomial(quadratic, [x, y, z]), reg.value, reg.multiplicity)


VOLUME_CASES = [
    ("x^2 y^4", lambda W: W[:, 0] ** 2 * W[:, 1] ** 4, 2, (-1, 1), None, normal_crossing([1, 2])),
    ("(xyz)^2", square_product(0, 1, 2), 3, (-1, 1), None, normal_crossing([1, 1, 1])),
    (
        "uv on the orthant",
        lambda W: W[:, 0] * W[:, 1],
        2,
        (0, 1),
        None,
        normal_crossing([1, 1], domain="orthant"),
    ),
    (
        "u v^2 on the orthant, prior v",
        lambda W: W[:, 0] * W[:, 1] ** 2,
        2,
        (0, 1),
        [0, 1],
        normal_crossing([1, 2], [0, 1], domain="orthant"),
    ),
    ("DLN [1,1,1] r=0", dln_population_loss([1, 1, 1])[0], 2, (-1, 1), None, dln([1, 1, 1], 0)),
    # RRR N=2, H=1, M=2, r=0: K = |a|^2 |b|^2 (A: 1x2, B: 2x1) -> 1, m = 2 (theory.md sec. 3)
    ("RRR (2,1,2,0)", dln_population_loss([2, 1, 2])[0], 4, (-1, 1), None, rrr(2, 1, 2, 0)),
]


@pytest.mark.slow
@pytest.mark.parametrize(("label", "K", "dim", "box", "prior", "exact"), VOLUME_CASES)
def test_volume_scaling_cases(label, K, dim, box, prior, exact) -> None:
    result = volume_scaling(K, dim, box=box, prior=prior, seed=0)
    assert_matches(result, exact.value, exact.multiplicity)


@pytest.mark.slow
def test_volume_scaling_newton_example() -> None:
    """x^2 + y^4 -> 3/4 through oracle_for_polynomial with the volume method."""
    result = oracle_for_polynomial(x**2 + y**4, [x, y], method="volume", seed=1)
    assert result.method == "volume-scaling"
    assert_matches(result, Fraction(3, 4), 1)


@pytest.mark.slow
def test_volume_scaling_dln_222() -> None:
    """DLN widths [2, 2, 2], r = 0, d = 8: lambda = 3/2 at w = 0 (Aoyagi 2024; theory.md sec. 4:
    the global value equals the local one at w* = 0 for r = 0)."""
    K, dim = dln_population_loss([2, 2, 2])
    exact = dln([2, 2, 2], 0)
    result = volume_scaling(K, dim, box=(-1, 1), seed=0)
    assert_matches(result, exact.value, exact.multiplicity)


# --- contracts ------------------------------------------------------------------------------

SMALL_VOLUME = dict(box=(-1, 1), n_samples=200, n_batches=4, eps_range=(1e-8, 1e-2), mcmc_steps=5)


def test_volume_scaling_same_seed_same_estimate() -> None:
    first = volume_scaling(square_product(0), 1, seed=3, **SMALL_VOLUME)
    second = volume_scaling(square_product(0), 1, seed=3, **SMALL_VOLUME)
    assert first.estimate == second.estimate and first.stderr == second.stderr
    assert first.details["log_volume"] == second.details["log_volume"]


def test_volume_scaling_different_seeds_differ() -> None:
    first = volume_scaling(square_product(0), 1, seed=3, **SMALL_VOLUME)
    second = volume_scaling(square_product(0), 1, seed=4, **SMALL_VOLUME)
    assert first.estimate != second.estimate


def test_estimate_fields_and_json() -> None:
    result = volume_scaling(square_product(0), 1, seed=0, **SMALL_VOLUME)
    assert result.method == "volume-scaling"
    assert result.range_used == "eps in [1e-08, 0.01]"
    assert result.n_samples is not None and result.n_samples >= 4 * 200 and result.n_points is None
    assert result.stderr > 0
    payload = result.to_json()
    assert set(payload) == {
        "estimate",
        "stderr",
        "method",
        "range_used",
        "n_samples",
        "n_points",
        "multiplicity_estimate",
        "details",
    }
    assert isinstance(payload["details"]["log_volume"], list)


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: volume_scaling(square_product(0), 0, box=(-1, 1), seed=0), "dim"),
        (lambda: volume_scaling(square_product(0), 1, box=(1, 1), seed=0), "box"),
        (lambda: volume_scaling(square_product(0), 1, box=(0.5, 1), seed=0), "box"),
        (lambda: volume_scaling("x**2", 1, box=(-1, 1), seed=0), "K_fn"),
        (lambda: volume_scaling(lambda W: W[:, 0] ** 2 + 1, 1, box=(-1, 1), seed=0), "K_fn"),
        (lambda: volume_scaling(lambda W: W[:, :1], 1, box=(-1, 1), seed=0), "K_fn"),
        (lambda: volume_scaling(square_product(0), 1, box=(-1, 1), seed=-1), "seed"),
        (lambda: volume_scaling(square_product(0), 1, box=(-1, 1), prior=[-1], seed=0), "prior[0]"),
        (lambda: volume_scaling(square_product(0), 1, box=(-1, 1), prior=[1, 1], seed=0), "prior"),
        (lambda: free_energy_quadrature(square_product(0), 4, box=(-1, 1)), "dim"),
        (lambda: free_energy_quadrature(square_product(0), 1, box=(-1, 1), n_range=(10, 1)), "n_range"),
        (lambda: oracle_for_polynomial(x**2, [x], method="mcmc"), "method"),
        (lambda: oracle_for_polynomial(x**2, [x], domain="ball"), "domain"),
        (lambda: oracle_for_polynomial(x**2 + 1, [x]), "K"),
        (lambda: oracle_for_polynomial(x**2 * y**2, [x]), "K"),
        (lambda: oracle_for_polynomial(x**2, ["x"]), "variables[0]"),
        (lambda: oracle_for_polynomial([], [x], ideal=True), "K"),
        (lambda: oracle_for_polynomial(x**2, [x], options={"seed": 1}), "options"),
    ],
)
def test_bad_input_names_the_field(call, field: str) -> None:
    with pytest.raises(ValueError, match=rf"^{re.escape(field)}:"):
        call()
