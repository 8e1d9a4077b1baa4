"""Noisy Turing machines (rlct/exact/turing.py, cases/turing.py; Clift, Murfet & Wallbridge 2021,
arXiv 2103.16080; Murfet & Troiani 2025, arXiv 2504.08075).

Independent routes:
* the relaxed run three ways: sympy polynomials (light-cone window), the batched torch model
  (same window, tensors) and a naive numpy reference below (whole tape, every cell updated);
* lambda and m from the Newton engine against a hand derivation: the linear part of K and
  K(u_J = 0) are written out by hand below, each piece's lambda comes from the normal-crossing
  formula, and the sum rule for disjoint variables adds them;
* the square-root chart against the orthant (lambda halves, m stays);
* the SGLD-family estimator against the exact value (slow tier).
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
import sympy
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from rlct.cases import registry
from rlct.cases._turing_model import RelaxedTuringModel
from rlct.cases.turing import TuringCase
from rlct.exact.newton import newton
from rlct.exact.normal_crossing import normal_crossing
from rlct.exact.turing import (
    MACHINES,
    MOVES,
    error_structure,
    kl_polynomial,
    local_coordinates,
    synthesis_problem,
    turing_rlct,
)

AGREE = 1e-12  # float64 agreement of the three implementations (sums of ~1e2 products)
FAST_ENGINE = ("detectA", "detectA_redundant", "detectA_pad_symbol")  # engine <~ 10 s each
ESTIMATE_TOLERANCE = 0.15  # relative error allowed for the SGLD-family estimate (slow tier)


def sym(name: str) -> sympy.Symbol:
    return sympy.Symbol(name)


def poly_values(poly: sympy.Poly, u: np.ndarray) -> np.ndarray:
    """A sympy Poly evaluated in float64 at the rows of u (C, d)."""
    monoms = np.array(poly.monoms(), dtype=float)
    coeffs = np.array([float(c) for c in poly.coeffs()])
    return (np.prod(u[:, None, :] ** monoms[None], axis=2) * coeffs).sum(axis=1)


def random_masses(machine_name: str, chains: int, seed: int) -> np.ndarray:
    """Off-vertex masses with every simplex's total < 0.6 (a valid noisy code)."""
    rng = np.random.default_rng(seed)
    d = len(local_coordinates(MACHINES[machine_name]))
    return rng.uniform(0, 0.2, size=(chains, d))


# --------------------------------------------------------------------------------------------
# A naive reference: the whole tape, every cell updated, written from the model's definition.

def naive_final_state(machine_name: str, tape: str, steps: int, masses: np.ndarray) -> np.ndarray:
    machine = MACHINES[machine_name]
    S, Q = list(machine.symbols), list(machine.states)
    dists = {}
    for c, value in zip(local_coordinates(machine), masses):
        dists.setdefault((c.symbol, c.state, c.kind), {})[c.target] = value
    code = {}
    for (s, q), transition in zip(machine.tuples, machine.transitions):
        parts = []
        for kind, alphabet, vertex in zip(("symbol", "state", "move"), (S, Q, MOVES), transition):
            off = dists.get((s, q, kind), {})
            parts.append(np.array([off[a] if a != vertex else 1 - sum(off.values())
                                   for a in alphabet]))
        code[(s, q)] = parts
    width = len(tape) + 2 * steps + 3
    head = steps + 1
    cells = np.zeros((width, len(S)))
    for i in range(width):
        j = i - head
        cells[i, S.index(tape[j] if 0 <= j < len(tape) else machine.blank)] = 1
    state = np.zeros(len(Q))
    state[Q.index(machine.start)] = 1
    for _ in range(steps):
        write, new_state, move = np.zeros(len(S)), np.zeros(len(Q)), np.zeros(3)
        for (s, q), (w_s, w_q, w_m) in code.items():
            weight = cells[head, S.index(s)] * state[Q.index(q)]
            write += weight * w_s
            new_state += weight * w_q
            move += weight * w_m
        cells[head] = write
        blank = np.eye(len(S))[0]
        padded = np.vstack([blank, cells, blank])
        cells = move[0] * padded[:-2] + move[1] * padded[1:-1] + move[2] * padded[2:]
        state = new_state
    return state


# --------------------------------------------------------------------------------------------
# Machines and the model.

@pytest.mark.parametrize("name", sorted(MACHINES))
@pytest.mark.parametrize("steps", [1, 2])
def test_every_catalog_machine_detects_an_A_on_its_training_inputs(name, steps):
    problem = synthesis_problem(name, steps)
    assert problem.labels == tuple("a" if "A" in x else "r" for x in problem.inputs)


@pytest.mark.parametrize(
    "name, d", [("detectA", 30), ("detectA_redundant", 30), ("detectA_pad_symbol", 48),
                ("detectA_pad_state", 54)]
)
def test_dimension_counts_every_simplex_including_moves(name, d):
    """d = |Sigma||Q|(|Sigma| + |Q|) = sum of the simplex dimensions (|S|-1) + (|Q|-1) + 2."""
    machine = MACHINES[name]
    assert machine.dimension == d == len(local_coordinates(machine))
    ambient = len(machine.symbols) * len(machine.states) * (
        len(machine.symbols) + len(machine.states) + 3)
    assert ambient - d == 3 * len(machine.tuples)  # one constraint per simplex


@settings(max_examples=12, deadline=None)
@given(name=st.sampled_from(sorted(MACHINES)), steps=st.sampled_from([1, 2]),
       seed=st.integers(0, 10**6))
def test_sympy_torch_and_naive_runs_agree(name, steps, seed):
    K = kl_polynomial(name, steps)
    u = random_masses(name, 3, seed)
    model = RelaxedTuringModel(K.problem)
    p_torch = model.probability_of_truth(model.code_from_masses(torch.tensor(u))).numpy()
    for i, (x, y) in enumerate(zip(K.problem.inputs, K.problem.labels)):
        one_minus_p = poly_values(K.per_input[i], u)
        np.testing.assert_allclose(one_minus_p, 1 - p_torch[:, i], atol=AGREE, rtol=0)
        for c in range(3):
            naive = naive_final_state(name, x, steps, u[c])
            assert abs(naive[K.problem.machine.states.index(y)] - p_torch[c, i]) < AGREE
    np.testing.assert_allclose(poly_values(K.poly, u), (1 - p_torch).sum(axis=1), atol=AGREE)


def test_exact_polynomial_has_rational_coefficients_and_vanishes_at_the_code():
    K = kl_polynomial("detectA", 2)
    assert K.poly.domain == sympy.QQ
    assert K.evaluate([0] * len(K.variables)) == 0
    half = [Fraction(1, 7)] * len(K.variables)
    assert isinstance(K.evaluate(half), sympy.Rational)


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10**6))
def test_sampling_chart_is_normalized_squares(seed):
    """p_j = s_j^2 / (1 + |s|^2), p_vertex = 1 / (1 + |s|^2): the same as code_from_masses at
    u = s^2 / (1 + |s|^2) per simplex; s = 0 is the classical code (p(truth) = 1)."""
    problem = synthesis_problem("detectA_pad_symbol", 2)
    model = RelaxedTuringModel(problem)
    s = torch.tensor(np.random.default_rng(seed).normal(size=(2, model.dim)))
    blocks = s.reshape(2, model.n_tuples, model.block)
    norms = []
    for part in torch.split(blocks, model.splits, dim=-1):
        norms.append((1 + (part**2).sum(-1, keepdim=True)).expand_as(part))
    u = (blocks**2 / torch.cat(norms, dim=-1)).reshape(2, -1)
    for a, b in zip(model.code_from_chart(s), model.code_from_masses(u)):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-14)
        torch.testing.assert_close(a.sum(-1), torch.ones_like(a.sum(-1)))
    at_zero = model.probability_of_truth(model.code_from_chart(torch.zeros(1, model.dim)))
    assert torch.equal(at_zero, torch.ones_like(at_zero))


# --------------------------------------------------------------------------------------------
# Second derivation of lambda: linear part and rest by hand, pieces by normal crossing.
# Names: kind[sigma,q->target], "_" is the blank.

A_R = {"state[A,r->r]": 1}  # (A,r) fails to accept: wrong on "BA" (last step), retried on "A"
LINEAR_DETECT_A = {
    "symbol[_,r->A]": 1,  # "": writes an A and re-reads it (S) -> accepts
    "state[_,r->a]": 3,  # "" at steps 1 and 2, "B" at step 2: accepts on the blank
    **A_R,
    "state[A,a->r]": 1,  # "A": the accept tuple rejects at step 2
    "state[B,r->a]": 1,  # "B": accepts early; step 2 reads the blank in state a and stays
    "move[B,r->L]": 1,  # "BA": never reaches the A
    "move[B,r->S]": 1,  # "BA": re-reads B instead of the A
}
a, b, c, d = sym("state[_,a->r]"), sym("symbol[A,r->_]"), sym("move[A,r->L]"), sym("move[A,r->R]")
e, f = sym("state[B,a->r]"), sym("symbol[A,r->B]")
# On "A", (A,r) accepts but corrupts the cell (writes _ or B) or moves off it; the absorbing
# accept state ignores that unless the accept tuple of the symbol now read also fails.
REST_DETECT_A = a * (b + c + d - b * c - b * d) + e * f * (1 - c - d)

a2, e2 = sym("state[_,a->p]"), sym("state[B,a->p]")
LINEAR_PAD_STATE = {
    **LINEAR_DETECT_A,
    "state[_,r->p]": 3, "state[A,r->p]": 2, "state[A,a->p]": 1, "state[B,r->p]": 2,
}
REST_PAD_STATE = (a + a2) * (b + c + d - b * c - b * d) + (e + e2) * f * (1 - c - d)

g, i = sym("symbol[A,r->C]"), sym("state[C,a->r]")
h, j = sym("symbol[_,r->C]"), sym("state[C,r->a]")
REST_PAD_SYMBOL = (
    REST_DETECT_A + g * i * (1 - c - d)
    + h * j * (1 - sym("move[_,r->L]") - sym("move[_,r->R]"))
)

u_retry = sym("state[A,r->r]")
LINEAR_REDUNDANT = {
    "symbol[_,r->A]": 1, "state[_,r->a]": 1,  # "" as in detectA (once: "B" is not an input)
    "symbol[A,r->_]": 1, "symbol[A,r->B]": 1,  # "A": the accept state re-checks the cell ...
    "move[A,r->L]": 1, "move[A,r->R]": 1,  # ... and rejects a blank or B it reads
    "state[A,a->r]": 1,  # "A": the checking tuple fails at step 2
    "state[B,r->a]": 1,  # "BB": accepts on the first B; step 2 reads B in a and keeps a
}
# (A,r) fails twice in a row (retry); (B,r) writes A *and* stays, so step 2 accepts on it.
REST_REDUNDANT = u_retry**2 + sym("symbol[B,r->A]") * sym("move[B,r->S]") * (1 - u_retry)


def piece(k, h=None):
    return normal_crossing(k, h, domain="orthant")


# rest ~ (its pieces on disjoint variables), each piece a normal crossing after summing
# variables: x (y1 + ... + yk) is x r with r = sum y_i, whose prior is r^(k-1) dr.
PIECES = {
    "detectA": [piece([1, 1], [0, 2]), piece([1, 1])],  # a (b + c + d), e f
    "detectA_pad_state": [piece([1, 1], [1, 2]), piece([1, 1], [1, 0])],  # (a+a')(b+c+d), (e+e')f
    "detectA_pad_symbol": [piece([1, 1], [0, 2]), piece([1, 1]), piece([1, 1]), piece([1, 1])],
    "detectA_redundant": [piece([2]), piece([1, 1])],  # u^2, g h
}
LINEAR = {"detectA": LINEAR_DETECT_A, "detectA_pad_state": LINEAR_PAD_STATE,
          "detectA_pad_symbol": LINEAR_DETECT_A, "detectA_redundant": LINEAR_REDUNDANT}
REST = {"detectA": REST_DETECT_A, "detectA_pad_state": REST_PAD_STATE,
        "detectA_pad_symbol": REST_PAD_SYMBOL, "detectA_redundant": REST_REDUNDANT}
ORTHANT = {"detectA": (Fraction(9), 2), "detectA_pad_state": (Fraction(14), 1),
           "detectA_pad_symbol": (Fraction(11), 4), "detectA_redundant": (Fraction(19, 2), 2)}


def by_hand(name: str) -> tuple[Fraction, int]:
    """lambda = |J| + sum of the rest's pieces; m = 1 + sum (m_i - 1) (sum rule)."""
    pieces = PIECES[name]
    value = len(LINEAR[name]) + sum((p.value for p in pieces), Fraction(0))
    return value, 1 + sum(p.multiplicity - 1 for p in pieces)


@pytest.mark.parametrize("name", sorted(MACHINES))
def test_error_structure_matches_the_hand_derivation(name):
    K = kl_polynomial(name, 2)
    structure = error_structure(K)
    assert {c.name: v for c, v in structure.linear.items()} == LINEAR[name]
    assert sympy.expand(structure.rest.as_expr() - REST[name]) == 0
    assert by_hand(name) == ORTHANT[name]
    # Every monomial outside L and rest contains a J coordinate and has degree >= 2.
    J = {K.variables[K.coordinates.index(c)] for c in structure.linear}
    remainder = sympy.expand(K.expression - sum(v * sym(n) for n, v in LINEAR[name].items())
                             - REST[name])
    for term in sympy.Add.make_args(remainder):
        assert term.free_symbols & J and sympy.Poly(term, *K.variables).total_degree() >= 2


@pytest.mark.parametrize("name", FAST_ENGINE)
def test_newton_engine_agrees_with_the_hand_derivation(name):
    orthant = turing_rlct(name, 2, "orthant")
    assert orthant.status == "certified"
    assert (orthant.value, orthant.multiplicity) == ORTHANT[name]


@pytest.mark.parametrize(
    "name",
    ["detectA", "detectA_redundant",
     pytest.param("detectA_pad_symbol", marks=pytest.mark.slow),  # ~10 s of engine
     pytest.param("detectA_pad_state", marks=pytest.mark.slow)],  # minutes of engine
)
def test_square_root_chart_halves_lambda_and_keeps_m(name):
    orthant, sqrt = turing_rlct(name, 2, "orthant"), turing_rlct(name, 2, "sqrt")
    assert sqrt.status == "certified"
    assert sqrt.value == orthant.value / 2 and sqrt.multiplicity == orthant.multiplicity


@pytest.mark.parametrize("name", sorted(MACHINES))
def test_one_step_K_is_the_first_tuples_wrong_state_masses(name):
    """t = 1: K = sum over the inputs' first tuples of their wrong-state masses (linear)."""
    K = kl_polynomial(name, 1)
    machine = K.problem.machine
    expected = 0
    for x, y in zip(K.problem.inputs, K.problem.labels):
        first = (x[0] if x else "_", "r")
        expected += sum(sym(f"state[{first[0]},r->{q}]") for q in machine.states if q != y)
    assert sympy.expand(K.expression - expected) == 0
    k = len(sympy.Add.make_args(expected))
    engine = turing_rlct(name, 1, "sqrt")
    assert engine.status == "certified"
    assert (engine.value, engine.multiplicity) == (Fraction(k, 2), 1)
    assert normal_crossing([1], domain="orthant").value * k / 2 == engine.value


# --------------------------------------------------------------------------------------------
# Padding: which coordinates stay free, and what lambda does.

def padded_tuple_coordinates(name: str) -> set[str]:
    extra = {"detectA_pad_state": "p", "detectA_pad_symbol": "C"}[name]
    return {c.name for c in local_coordinates(MACHINES[name]) if extra in c.tuple}


@pytest.mark.parametrize("name", ["detectA_pad_state", "detectA_pad_symbol"])
def test_padding_coordinates_do_not_appear_in_the_one_step_K(name):
    K = kl_polynomial(name, 1)
    appearing = {c.name for c in K.appearing()}
    assert padded_tuple_coordinates(name) and not padded_tuple_coordinates(name) & appearing
    assert {c.name for c in error_structure(K).free} >= padded_tuple_coordinates(name)


def test_unused_state_adds_dimension_but_its_tuples_add_no_lambda():
    """detectA_pad_state, t = 2: the 18 coordinates of the tuples (sigma, p) are free (12: their
    write and move) or inert (6: their state, reached only after a linear error); lambda grows
    9 -> 14 only through the new vertex p of the *used* tuples' state simplices: 4 new linear
    coordinates and a(...) + e f -> (a + a')(...) + (e + e') f (+1)."""
    K = kl_polynomial("detectA_pad_state", 2)
    structure = error_structure(K)
    unused = padded_tuple_coordinates("detectA_pad_state")
    free = {c.name for c in structure.free} & unused
    inert = {c.name for c in structure.inert} & unused
    assert free | inert == unused and len(free) == 12 and len(inert) == 6
    assert not unused & {c.name for c in structure.linear}
    assert not unused & {str(s) for s in structure.rest.as_expr().free_symbols}
    assert by_hand("detectA_pad_state")[0] - by_hand("detectA")[0] == 4 + 1


def test_unused_symbol_reached_by_a_harmless_write_adds_lambda():
    """detectA_pad_symbol, t = 2: writing the unused C instead of A (on "A") or of _ (on "") is
    harmless alone, so the state coordinates of (C,a), (C,r) enter K only in products g i, h j
    with no linear factor: they are *not* inert and add 1 each (9 -> 11, m 2 -> 4). Setting the
    padded tuples to their classical values gives back lambda(detectA) (engine, both)."""
    K = kl_polynomial("detectA_pad_symbol", 2)
    structure = error_structure(K)
    unused = padded_tuple_coordinates("detectA_pad_symbol")
    in_rest = {str(s) for s in structure.rest.as_expr().free_symbols} & unused
    assert in_rest == {"state[C,a->r]", "state[C,r->a]"}
    zeroed = K.expression.subs({sym(n): 0 for n in unused})
    used = sorted(zeroed.free_symbols, key=str)
    restricted = newton(zeroed, used, domain="orthant")
    full = turing_rlct("detectA_pad_symbol", 2, "orthant")
    assert restricted.status == full.status == "certified"
    assert (restricted.value, restricted.multiplicity) == ORTHANT["detectA"]
    assert (full.value, full.multiplicity) == ORTHANT["detectA_pad_symbol"]


def test_redundant_retry_enters_squared():
    """detectA_redundant: the failure of (A,r) is retried at step 2 (same tuple, S move), so its
    coordinate contributes 1/2 instead of 1; lambda = 8 + 1/2 + 1 < 18 coordinates in K."""
    K = kl_polynomial("detectA_redundant", 2)
    structure = error_structure(K)
    assert "state[A,r->r]" not in {c.name for c in structure.linear}
    assert len(K.appearing()) == 18
    assert ORTHANT["detectA_redundant"][0] < len(K.appearing())


# --------------------------------------------------------------------------------------------
# The case.

def test_case_is_registered_and_scales_are_ordered_by_dimension():
    assert registry()["turing"] is TuringCase
    dims = [TuringCase.at_scale(s).dim for s in TuringCase.scales]
    assert dims == sorted(dims) == [30, 30, 48, 54]


@pytest.mark.parametrize(
    "parameters, field",
    [({"machine": "detectB"}, "machine"), ({"machine": 3}, "machine"), ({"steps": 3}, "steps"),
     ({"steps": 0}, "steps"), ({"steps": "two"}, "steps"), ({"n": 2}, "n"), ({"n": 1.5}, "n"),
     ({"colour": 1}, "colour")],
)
def test_bad_parameters_raise_naming_the_field(parameters, field):
    with pytest.raises(ValueError, match=rf"^{field}:"):
        TuringCase(**parameters)


def test_exact_is_the_certified_sqrt_chart_value_at_the_classical_code():
    exact = TuringCase(machine="detectA").exact()
    assert (exact.value, exact.multiplicity) == (Fraction(9, 2), 2)
    assert exact.scope == "local" and exact.status == "certified"
    assert exact.certificate.startswith("certified") and "s = 0" in exact.point


@pytest.mark.parametrize("machine", ["detectA", "detectA_redundant"])
def test_build_shapes_data_and_loss(machine):
    case = TuringCase(machine=machine, n=500)
    first, again, other = case.build(seed=3), case.build(seed=3), case.build(seed=4)
    target = first.target
    inputs, labels = target.data
    assert target.n == 500 and target.dim == case.dim and torch.equal(target.w_star,
                                                                       torch.zeros(case.dim,
                                                                                   dtype=torch.float64))
    for x, y in zip(target.data, again.target.data):
        assert torch.equal(x, y)
    assert not torch.equal(inputs, other.target.data[0])
    problem = case.problem
    assert set(inputs.tolist()) == set(range(len(problem.inputs)))  # every input present
    states = problem.machine.states
    assert labels.tolist() == [states.index(problem.labels[k]) for k in inputs.tolist()]
    w = torch.randn(3, target.dim, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    batch = target.minibatch(3, 17, torch.Generator().manual_seed(1))
    assert target.loss(w, batch).shape == (3,)
    assert float(target.full_loss(torch.zeros(1, target.dim, dtype=torch.float64))[0]) == 0.0
    # the count-based full-data loss equals the loss on the whole data set
    full = target.loss(w, target.full_batch(3))
    torch.testing.assert_close(target.full_data_loss(w), full, rtol=1e-12, atol=1e-14)
    assert bool((full > 0).all())


def test_nll_is_comparable_to_K_near_the_code():
    """-log p = (1 - p) + O((1 - p)^2): L_n / (K_n in the chart) -> 1 as s -> 0."""
    case = TuringCase(machine="detectA", n=100)
    target = case.build(seed=0).target
    model = RelaxedTuringModel(case.problem)
    counts = torch.bincount(target.data[0], minlength=len(case.problem.inputs)).double() / 100
    direction = torch.randn(1, target.dim, dtype=torch.float64,
                            generator=torch.Generator().manual_seed(2))
    ratios = []
    for scale in (1e-1, 1e-2, 1e-3):
        s = direction * scale
        one_minus_p = 1 - model.probability_of_truth(model.code_from_chart(s))
        ratios.append(float(target.full_loss(s)[0] / (one_minus_p * counts).sum()))
    assert abs(ratios[-1] - 1) < 1e-5 and abs(ratios[-1] - 1) < abs(ratios[0] - 1)


# --------------------------------------------------------------------------------------------
# Slow tier.

@pytest.mark.slow
def test_newton_engine_on_the_padded_state_machine():
    """~1 min of CPU: 180k compact faces (11 linear coordinates)."""
    orthant = turing_rlct("detectA_pad_state", 2, "orthant")
    assert orthant.status == "certified"
    assert (orthant.value, orthant.multiplicity) == ORTHANT["detectA_pad_state"]
    exact = TuringCase(machine="detectA_pad_state").exact()
    assert exact.status == "certified" and exact.value == orthant.value / 2


@pytest.mark.slow
def test_estimator_recovers_lambda_on_detectA():
    from rlct.numeric.llc import estimate_llc

    case = TuringCase(machine="detectA")
    problem = case.build(seed=0)
    result = estimate_llc(problem.target, case.recommended(), seed=0)
    exact = float(problem.exact.value)
    assert not result.any_diverged and math.isfinite(result.llc_stderr)
    assert result.relative_error(exact) < ESTIMATE_TOLERANCE, (result.llc_mean, exact)
