"""Noisy Turing machines: the relaxed step and the exact polynomial K at a classical code.

Model (Clift, Murfet & Wallbridge 2021, "Geometry of program synthesis", arXiv 2103.16080, sec. 3;
Murfet & Troiani 2025, "Programs as singularities", arXiv 2504.08075, sec. 3-4). A Turing
machine is delta: Sigma x Q -> Sigma x Q x {L, S, R}. A *noisy code* w replaces the classical
output of every tuple (sigma, q) by three distributions

    w_(sigma,q) = (write in Delta_Sigma, next state in Delta_Q, move in Delta_{L,S,R}),

so W = prod_(sigma,q) Delta_Sigma x Delta_Q x Delta_{L,S,R}, a manifold with corners of dimension
d = |Sigma||Q|((|Sigma|-1) + (|Q|-1) + 2) = |Sigma||Q|(|Sigma| + |Q|). (The ambient simplex
coordinates number |Sigma||Q|(|Sigma| + |Q| + 3); each simplex loses one to its sum = 1. The
move simplex *is* counted: it contributes 2 per tuple.) A classical code is a vertex of W.

Relaxed step (the "naive Bayesian" relaxation of Clift & Murfet): a configuration is a
distribution per tape cell x_i in Delta_Sigma (head at cell 0; the tape moves under the head)
and a state distribution q in Delta_Q, all independent. One step:

    match weight  m_(sigma,q) = x_0(sigma) q(q)
    written cell  x_0' = sum m_(sigma,q) write_(sigma,q)
    next state    q'   = sum m_(sigma,q) state_(sigma,q)
    move          mv   = sum m_(sigma,q) move_(sigma,q)
    new tape      x_i'' = mv_L x'_(i-1) + mv_S x'_i + mv_R x'_(i+1)

(moving R means the head now reads the old cell +1). p(y | x, w) = q_t(y), the state after
t steps from the start state on the tape x (blank elsewhere). Everything is a polynomial in w.
Only cells the head can still reach matter, so after step k only the cells within t - 1 - k of
the head are kept and the last step updates the state only: the same polynomials, fewer terms.

K at a classical code [M] for a training set X with the truth y(x) = M's state after t steps:
the true K(w) = (1/|X|) sum_x -log p(y(x)|x, w) satisfies K ~ sum_x (1 - p(y(x)|x, w)) near [M]
(-log p = (1 - p) + O((1 - p)^2), 1 - p >= 0), so both have the same lambda and m; this module
computes the polynomial sum_x (1 - p(y(x)|x, w)) exactly (rational coefficients).

Local coordinates at [M]: in each simplex at its vertex v, the off-vertex masses u_j >= 0 (the
vertex mass is 1 - sum u_j). Near [M] the parameter space is the orthant [0, eps)^d ("orthant"
chart, prior uniform in u). The square-root chart u_j = s_j^2, s in R^d, makes the coordinates
unconstrained (the chart `rlct.cases.turing` samples in, prior uniform in s). It doubles every
exponent of K, and a prior uniform in s is ~ prod u_j^(-1/2) in u, so the Newton distance
doubles: lambda_sqrt = lambda_orthant / 2 with the same m (theory: Watanabe 2009, ch. 7; here
the engine is run in both charts and the tests check the relation).

Structure of K (used by the catalog docstrings; `error_structure`): let J be the coordinates
with a positive linear coefficient (single errors that change an output) and
rest = K(u_J = 0). Every other monomial is divisible by some u_j, j in J, and has degree >= 2,
so near 0,  K ~ sum_J u_j + rest  (if rest >= 0), and since rest does not involve J,
lambda = |J| + lambda(rest), m = m(rest) (m = 1 if rest = 0) on the orthant (sum rule for
functions of disjoint variables: lambda adds, m_1 + m_2 - 1; Lin 2011, PhD thesis,
UC Berkeley, on RLCTs of sums of ideals in disjoint variables).
Coordinates absent from K are free (flat directions); coordinates that appear only in monomials
divisible by some u_j, j in J, are "inert": setting them to 0 changes neither lambda nor m.

Catalog at t = 2 (names kind[sigma,q->target], "_" the blank; lambda on the orthant, the sqrt
chart halves it; every value certified by the Newton engine and re-derived by hand in
tests/test_case_turing.py):

* detectA on "", A, B, BA: |J| = 7; rest = a(b + c + d - bc - bd) + e f (1 - c - d) with
  a = state[_,a->r], b = symbol[A,r->_], c, d = move[A,r->L/R], e = state[B,a->r],
  f = symbol[A,r->B]: (A,r) corrupting or leaving the A is harmless because the accept state
  ignores the tape, unless the accept tuple then read also fails. lambda = 7 + 1 + 1 = 9, m = 2.
  14 of the 30 coordinates are free.
* detectA_pad_state (extra state p): the 18 coordinates of the unused tuples (sigma, p) are free
  (write, move) or inert (state: reached only after a linear error). But p is also a new vertex
  of every tuple's state simplex: 4 new linear coordinates, and a -> a + a', e -> e + e' in the
  rest; lambda = 11 + 2 + 1 = 14, m = 1.
* detectA_pad_symbol (extra symbol C, never in inputs): writing C instead of A (on "A") or of _
  (on "") is harmless alone, so the state coordinates of the unused tuples (C,a), (C,r) enter
  the rest in products g i, h j without a linear factor: lambda = 7 + 1 + 1 + 1 + 1 = 11, m = 4,
  against 9 with those tuples held at their classical values. So "unused tuples add no lambda"
  holds when they can only be reached through a linear (harmful) error, not in general.
* detectA_redundant on "", A, BB: the accept state re-checks the cell, so (A,r)'s writes and
  moves become linear (8 in J), while a failure of (A,r) itself is retried at step 2:
  rest = u^2 + g h (1 - u), u = state[A,r->r], g = symbol[B,r->A], h = move[B,r->S];
  lambda = 8 + 1/2 + 1 = 19/2, m = 2.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import cache
from typing import Any

import sympy
from sympy.polys.rings import PolyElement, ring

from rlct.exact._validate import as_int
from rlct.exact.result import RLCT

# A number of the relaxed run: a sympy ring element, a Fraction or a float (+, * only).
V = Any

BLANK = "_"
MOVES = ("L", "S", "R")
KINDS = ("symbol", "state", "move")
CHARTS = ("sqrt", "orthant")
STEPS = (1, 2)
SOURCE_MODEL = (
    "noisy Turing machines: Clift, Murfet & Wallbridge 2021, Geometry of program synthesis, "
    "arXiv 2103.16080; Murfet & Troiani 2025, Programs as singularities, arXiv 2504.08075"
)

Tuple = tuple[str, str]
Transition = tuple[str, str, str]


@dataclass(frozen=True)
class TuringMachine:
    """A deterministic Turing machine delta: Sigma x Q -> Sigma x Q x {L, S, R}.

    Attributes:
        name: catalog name.
        symbols: the tape alphabet Sigma, single characters; ``symbols[0]`` is the blank.
        states: Q, single characters; ``states[0]`` is the start state.
        input_symbols: the symbols that may appear on input tapes (a subset of Sigma minus blank).
        transitions: delta(sigma, q) = (written symbol, next state, move), listed for the tuples
            (sigma, q) in `tuples` order (sigma-major).
        description: what the machine does, in words.
    """

    name: str
    symbols: tuple[str, ...]
    states: tuple[str, ...]
    input_symbols: tuple[str, ...]
    transitions: tuple[Transition, ...]
    description: str = ""

    def __post_init__(self) -> None:
        for field_name, alphabet in (("symbols", self.symbols), ("states", self.states)):
            if len(alphabet) < 2 or len(set(alphabet)) != len(alphabet):
                raise ValueError(f"{field_name}: need >= 2 distinct entries, got {alphabet!r}")
            if any(not isinstance(a, str) or len(a) != 1 for a in alphabet):
                raise ValueError(f"{field_name}: entries must be single characters, got {alphabet!r}")
        if not set(self.input_symbols) <= set(self.symbols[1:]):
            raise ValueError(
                f"input_symbols: must be non-blank tape symbols, got {self.input_symbols!r}"
            )
        if len(self.transitions) != len(self.symbols) * len(self.states):
            raise ValueError(
                f"transitions: expected {len(self.symbols) * len(self.states)} (one per tuple), "
                f"got {len(self.transitions)}"
            )
        for i, (w, q, m) in enumerate(self.transitions):
            if w not in self.symbols or q not in self.states or m not in MOVES:
                raise ValueError(f"transitions[{i}]: ({w!r}, {q!r}, {m!r}) is not in Sigma x Q x LSR")

    @property
    def blank(self) -> str:
        return self.symbols[0]

    @property
    def start(self) -> str:
        return self.states[0]

    @property
    def tuples(self) -> tuple[Tuple, ...]:
        """The tuples (sigma, q) in sigma-major order: the order of `transitions`."""
        return tuple(itertools.product(self.symbols, self.states))

    @property
    def dimension(self) -> int:
        """d = |Sigma||Q|(|Sigma| + |Q|): the dimension of W (intrinsic simplex coordinates)."""
        return len(self.symbols) * len(self.states) * (len(self.symbols) + len(self.states))

    def delta(self, symbol: str, state: str) -> Transition:
        return self.transitions[self.tuples.index((symbol, state))]

    def trace(self, tape: str, steps: int) -> tuple[list[Tuple], str]:
        """The classical run: the tuples executed at steps 1..t and the final state."""
        cells = dict(enumerate(tape))
        position, state, executed = 0, self.start, []
        for _ in range(steps):
            symbol = cells.get(position, self.blank)
            executed.append((symbol, state))
            write, state, move = self.delta(symbol, state)
            cells[position] = write
            position += {"L": -1, "S": 0, "R": 1}[move]
        return executed, state

    def run(self, tape: str, steps: int) -> str:
        """The classical final state after ``steps`` steps on ``tape``."""
        return self.trace(tape, steps)[1]


@dataclass(frozen=True)
class LocalCoordinate:
    """u = the mass the noisy code puts on ``target`` in the ``kind`` distribution of the tuple
    (symbol, state), away from the classical vertex (kind: "symbol", "state" or "move")."""

    symbol: str
    state: str
    kind: str
    target: str

    @property
    def tuple(self) -> Tuple:
        return (self.symbol, self.state)

    @property
    def name(self) -> str:
        return f"{self.kind}[{self.symbol},{self.state}->{self.target}]"


def local_coordinates(machine: TuringMachine) -> tuple[LocalCoordinate, ...]:
    """The d off-vertex masses at the classical code of ``machine``, tuple by tuple (sigma-major),
    within a tuple: write (|Sigma| - 1), next state (|Q| - 1), move (2), each in alphabet order."""
    out: list[LocalCoordinate] = []
    for (symbol, state), transition in zip(machine.tuples, machine.transitions):
        for kind, alphabet, vertex in zip(
            KINDS, (machine.symbols, machine.states, MOVES), transition
        ):
            out.extend(LocalCoordinate(symbol, state, kind, a) for a in alphabet if a != vertex)
    return tuple(out)


# --------------------------------------------------------------------------------------------
# The relaxed step, generic in the number type (sympy ring elements, Fractions, floats).

NoisyCode = Mapping[Tuple, tuple[Mapping[str, V], Mapping[str, V], Mapping[str, V]]]


def noisy_code_at(
    machine: TuringMachine, masses: Sequence[V], one: V, zero: V
) -> dict[Tuple, tuple[dict[str, V], dict[str, V], dict[str, V]]]:
    """The noisy code with off-vertex masses ``masses`` (in `local_coordinates` order): each
    vertex gets 1 - (sum of its simplex's off-vertex masses)."""
    coordinates = local_coordinates(machine)
    if len(masses) != len(coordinates):
        raise ValueError(f"masses: expected {len(coordinates)} values, got {len(masses)}")
    off: dict[tuple[Tuple, str], dict[str, V]] = {}
    for c, value in zip(coordinates, masses):
        off.setdefault((c.tuple, c.kind), {})[c.target] = value
    code = {}
    for t, transition in zip(machine.tuples, machine.transitions):
        parts = []
        for kind, alphabet, vertex in zip(
            KINDS, (machine.symbols, machine.states, MOVES), transition
        ):
            masses_here = off.get((t, kind), {})
            dist = {a: masses_here.get(a, zero) for a in alphabet}
            dist[vertex] = one - _sum(masses_here.values(), zero)
            parts.append(dist)
        code[t] = (parts[0], parts[1], parts[2])
    return code


def relaxed_final_state(
    machine: TuringMachine, tape: str, steps: int, code: NoisyCode, one: V, zero: V
) -> dict[str, V]:
    """The state distribution q_t after ``steps`` relaxed steps on ``tape`` (module docstring)."""
    steps = as_int("steps", steps, minimum=1)
    radius = steps - 1
    cells = [
        tape[j] if 0 <= j < len(tape) else machine.blank for j in range(-radius, radius + 1)
    ]
    window = [{a: (one if a == c else zero) for a in machine.symbols} for c in cells]
    state = {q: (one if q == machine.start else zero) for q in machine.states}
    for k in range(1, steps + 1):
        head = len(window) // 2
        weights = {
            t: window[head][t[0]] * state[t[1]]
            for t in machine.tuples
            if window[head][t[0]] != zero and state[t[1]] != zero
        }
        new_state = {
            q: _sum((w * code[t][1][q] for t, w in weights.items()), zero) for q in machine.states
        }
        if k < steps:
            written = {
                a: _sum((w * code[t][0][a] for t, w in weights.items()), zero)
                for a in machine.symbols
            }
            move = {
                m: _sum((w * code[t][2][m] for t, w in weights.items()), zero) for m in MOVES
            }
            window[head] = written
            window = [
                {
                    a: move["L"] * window[i - 1][a] + move["S"] * window[i][a]
                    + move["R"] * window[i + 1][a]
                    for a in machine.symbols
                }
                for i in range(1, len(window) - 1)
            ]
        state = new_state
    return state


def _sum(values: Any, zero: V) -> V:
    total = zero
    for v in values:
        total = total + v
    return total


# --------------------------------------------------------------------------------------------
# The catalog.

def _detect_a(name: str, description: str, **changes: Transition) -> TuringMachine:
    """detectA (theory: CMW 2021 / MT 2025) with the tuples named in ``changes`` replaced;
    keys are "<symbol><state>" and may add tuples of an extra symbol C or state p."""
    symbols = (BLANK, "A", "B") + (("C",) if any(k[0] == "C" for k in changes) else ())
    states = ("r", "a") + (("p",) if any(k[1] == "p" for k in changes) else ())
    base = {
        "_r": ("_", "r", "S"), "_a": ("_", "a", "S"),
        "Ar": ("A", "a", "S"), "Aa": ("A", "a", "S"),
        "Br": ("B", "r", "R"), "Ba": ("B", "a", "S"),
    }
    base.update(changes)
    transitions = tuple(base[s + q] for s, q in itertools.product(symbols, states))
    return TuringMachine(name, symbols, states, ("A", "B"), transitions, description)


MACHINES: dict[str, TuringMachine] = {
    m.name: m
    for m in (
        _detect_a(
            "detectA",
            "accepts iff the input contains an A: skips B's to the right (B,r -> B,r,R), "
            "accepts on an A (A,r -> A,a,S), rejects on the blank; the accept state a is "
            "absorbing and ignores the tape",
        ),
        _detect_a(
            "detectA_pad_state",
            "detectA with an unused state p (sigma,p -> sigma,p,S for every sigma)",
            _p=("_", "p", "S"), Ap=("A", "p", "S"), Bp=("B", "p", "S"),
        ),
        _detect_a(
            "detectA_pad_symbol",
            "detectA with an unused tape symbol C that never occurs in inputs and is treated "
            "like B (C,r -> C,r,R; C,a -> C,a,S)",
            Cr=("C", "r", "R"), Ca=("C", "a", "S"),
        ),
        _detect_a(
            "detectA_redundant",
            "detectA whose accept state re-checks the head symbol (_,a -> _,r,S; B,a -> B,r,S): "
            "accepting needs an A to be read twice, so a failed first attempt at the A is "
            "retried by the same tuple (error correction)",
            _a=("_", "r", "S"), Ba=("B", "r", "S"),
        ),
    )
}

# Training inputs per machine and t. All are decided by the classical machine within t steps
# (its state after t steps equals the truth "contains an A"). For t = 2 they take one input per
# control path ("", "A", "B", "BA"); "AA", "AB", "BB" would only add cross terms that couple the
# products of `error_structure` without exercising a new path. detectA_redundant drops "BA"
# (there (A,r) runs at the last step, so its failure could not be retried) and "B", and uses
# "BB" to exercise (B,r) twice.
TRAINING_INPUTS: dict[str, dict[int, tuple[str, ...]]] = {
    "detectA": {1: ("", "A", "B"), 2: ("", "A", "B", "BA")},
    "detectA_pad_state": {1: ("", "A", "B"), 2: ("", "A", "B", "BA")},
    "detectA_pad_symbol": {1: ("", "A", "B"), 2: ("", "A", "B", "BA")},
    "detectA_redundant": {1: ("", "A", "B"), 2: ("", "A", "BB")},
}


@dataclass(frozen=True)
class SynthesisProblem:
    """A machine, its training inputs and the number of steps t; the truth is the machine's
    own classical output, y(x) = its state after t steps (equal to "contains an A")."""

    machine: TuringMachine
    inputs: tuple[str, ...]
    steps: int

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(self.machine.run(x, self.steps) for x in self.inputs)

    def executed_tuples(self) -> set[Tuple]:
        """Tuples some training input executes in the classical run."""
        return {t for x in self.inputs for t in self.machine.trace(x, self.steps)[0]}

    def describe(self) -> str:
        inputs = ", ".join(repr(x) for x in self.inputs)
        return f"classical code of {self.machine.name}, t = {self.steps}, inputs {inputs}"


def synthesis_problem(machine: object, steps: object) -> SynthesisProblem:
    """The catalog problem for ``machine`` (a name in `MACHINES`) and t = ``steps``."""
    if not isinstance(machine, str) or machine not in MACHINES:
        raise ValueError(f"machine: expected one of {sorted(MACHINES)}, got {machine!r}")
    t = as_int("steps", steps, minimum=1)
    if t not in STEPS:
        raise ValueError(
            f"steps: expected one of {STEPS} (the exact K has ~3.5e5 terms already for one "
            f"input at t = 3), got {t}"
        )
    return SynthesisProblem(MACHINES[machine], TRAINING_INPUTS[machine][t], t)


# --------------------------------------------------------------------------------------------
# The exact polynomial K and its structure.

@dataclass(frozen=True)
class TuringK:
    """K(u) = sum_x (1 - p(y(x) | x, u)) in the local coordinates u of `local_coordinates`.

    Attributes:
        problem: the machine, inputs and t.
        coordinates: the d local coordinates, in order.
        variables: one sympy Symbol per coordinate (named ``LocalCoordinate.name``).
        poly: K as a sympy Poly over QQ in ``variables``.
        per_input: 1 - p(y(x) | x, u) for each training input, same gens.
    """

    problem: SynthesisProblem
    coordinates: tuple[LocalCoordinate, ...]
    variables: tuple[sympy.Symbol, ...]
    poly: sympy.Poly
    per_input: tuple[sympy.Poly, ...]

    @property
    def expression(self) -> sympy.Expr:
        return self.poly.as_expr()

    def appearing(self) -> tuple[LocalCoordinate, ...]:
        """Coordinates K depends on."""
        used = {i for m in self.poly.monoms() for i, e in enumerate(m) if e}
        return tuple(c for i, c in enumerate(self.coordinates) if i in used)

    def in_sqrt_chart(self) -> sympy.Poly:
        """K(s^2): u_j = s_j^2 doubles every exponent (same symbols, now meaning s_j)."""
        terms = {tuple(2 * e for e in m): c for m, c in self.poly.terms()}
        return sympy.Poly.from_dict(terms, *self.variables, domain=sympy.QQ)

    def evaluate(self, masses: Sequence[Fraction | int | float]) -> Any:
        return self.poly.eval(dict(zip(self.variables, masses)))


@cache
def kl_polynomial(machine: str, steps: int) -> TuringK:
    """The exact K = sum_x (1 - p(y(x)|x, u)) of the catalog problem (machine, steps)."""
    problem = synthesis_problem(machine, steps)
    return kl_polynomial_of(problem)


def kl_polynomial_of(problem: SynthesisProblem) -> TuringK:
    """The exact K of any `SynthesisProblem` (sympy's sparse rational polynomial ring)."""
    machine = problem.machine
    coordinates = local_coordinates(machine)
    names = [c.name for c in coordinates]
    R, *gens = ring(names, sympy.QQ)
    code = noisy_code_at(machine, gens, R.one, R.zero)
    pieces: list[PolyElement] = []
    for x, y in zip(problem.inputs, problem.labels):
        final = relaxed_final_state(machine, x, problem.steps, code, R.one, R.zero)
        pieces.append(R.one - final[y])
    variables = tuple(sympy.Symbol(n) for n in names)

    def to_poly(p: PolyElement) -> sympy.Poly:
        terms = {m: sympy.Rational(int(c.numerator), int(c.denominator)) for m, c in p.terms()}
        return sympy.Poly.from_dict(terms or {(0,) * len(names): 0}, *variables, domain=sympy.QQ)

    total = _sum(pieces, R.zero)
    return TuringK(
        problem, coordinates, variables, to_poly(total), tuple(to_poly(p) for p in pieces)
    )


@dataclass(frozen=True)
class ErrorStructure:
    """K = L(u_J) + (monomials divisible by some u_j, j in J, of degree >= 2) + rest.

    Attributes:
        linear: {coordinate: coefficient} of the linear part L (single errors that matter).
        rest: K with u_J = 0 (errors that matter only together).
        free: coordinates absent from K.
        inert: coordinates outside J that appear only in monomials divisible by some u_j, j in J
            (setting them to 0 changes neither lambda nor m).
    """

    linear: dict[LocalCoordinate, Fraction]
    rest: sympy.Poly
    free: tuple[LocalCoordinate, ...]
    inert: tuple[LocalCoordinate, ...]


def error_structure(K: TuringK) -> ErrorStructure:
    """The split of module docstring "Structure of K"."""
    d = len(K.coordinates)
    linear: dict[LocalCoordinate, Fraction] = {}
    for m, c in K.poly.terms():
        if sum(m) == 1:
            linear[K.coordinates[m.index(1)]] = Fraction(int(c.p), int(c.q))
    in_j = [K.coordinates[i] in linear for i in range(d)]
    rest_terms = {m: c for m, c in K.poly.terms() if not any(e and in_j[i] for i, e in enumerate(m))}
    rest = sympy.Poly.from_dict(rest_terms or {(0,) * d: 0}, *K.variables, domain=sympy.QQ)
    appearing = set(K.appearing())
    in_rest = {i for m in rest_terms for i, e in enumerate(m) if e}
    free = tuple(c for c in K.coordinates if c not in appearing)
    inert = tuple(
        c for i, c in enumerate(K.coordinates)
        if c in appearing and not in_j[i] and i not in in_rest
    )
    return ErrorStructure(linear, rest, free, inert)


# --------------------------------------------------------------------------------------------
# lambda from the Newton-polyhedron engine.

NewtonEngine = Callable[..., RLCT]


def _newton_engine() -> NewtonEngine:
    from rlct.exact.newton import newton

    return newton


@cache
def turing_rlct(machine: str, steps: int = 2, chart: str = "sqrt") -> RLCT:
    """lambda and m of K at the classical code of the catalog problem (machine, steps).

    ``chart="sqrt"``: K(s^2) on a neighbourhood of s = 0 in R^d with a prior uniform in s (the
    chart `rlct.cases.turing` samples in); ``chart="orthant"``: K(u) on [0, eps)^d, prior uniform in
    u. The value comes from the Newton engine applied to K restricted to the coordinates it
    depends on (absent coordinates only multiply the zeta function by a constant); its status
    is passed through unchanged, so the value is exact only when it is "certified".
    """
    if chart not in CHARTS:
        raise ValueError(f"chart: expected one of {CHARTS}, got {chart!r}")
    K = kl_polynomial(machine, steps)
    used = K.appearing()
    variables = [K.variables[K.coordinates.index(c)] for c in used]
    if chart == "sqrt":
        result = _newton_engine()(K.in_sqrt_chart().as_expr(), variables, domain="neighbourhood")
        point = "s = 0 (square-root chart u = s^2 of the local simplex coordinates)"
    else:
        result = _newton_engine()(K.expression, variables, domain="orthant")
        point = "u = 0 on the orthant of local simplex coordinates"
    problem = K.problem
    structure = error_structure(K)
    notes = (
        f"{problem.describe()}; d = {problem.machine.dimension}",
        f"K = sum_x (1 - p(y(x)|x, u)): {len(K.poly.terms())} terms in {len(used)} of the "
        f"{problem.machine.dimension} coordinates; {len(structure.free)} coordinates are free "
        f"(absent from K), {len(structure.inert)} inert, {len(structure.linear)} linear",
        "chart: " + (
            "sqrt (u = s^2, lambda = lambda_orthant / 2, same m)" if chart == "sqrt"
            else "orthant (off-vertex simplex masses u >= 0)"
        ),
        *result.notes,
    )
    return RLCT(
        value=result.value,
        multiplicity=result.multiplicity,
        source=f"{result.source}; {SOURCE_MODEL}",
        scope="local",
        certificate=result.certificate,
        point=f"{point} at the {problem.describe()}",
        notes=notes,
        status=result.status,
    )
