"""`oracle_for_polynomial`: the numeric oracles for a sympy polynomial K (or an ideal <f_i>).

K is lambdified once to a vectorized numpy function W: (N, d) -> (N,). To keep its rounding
error small near the zero set, K is evaluated in factored form (sympy.factor), and with
``ideal=True`` as sum_i f_i(w)^2 from the separately evaluated f_i.

Rounding sets how small eps may go in volume scaling: an irreducible factor with terms of both
signs raised to an odd power (e.g. x^2 - 2 x y + 2 y^2 expanded) is computed with an absolute
error ~1e-16 near its zeros, so eps below ~1e-12 would measure rounding, not K. Such K get
eps_min = `EPS_MIN_CANCELLING`, all others (sums of non-negative terms, even powers of any
factor, sums of squares of f_i) `EPS_MIN_ACCURATE`.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import sympy

from rlct.numeric.oracles.domain import KFunction, as_dim, as_seed
from rlct.numeric.oracles.quadrature import MAX_QUADRATURE_DIM, free_energy_quadrature
from rlct.numeric.oracles.result import OracleEstimate
from rlct.numeric.oracles.volume import volume_scaling

DOMAINS = {"neighbourhood": (-1.0, 1.0), "orthant": (0.0, 1.0)}
METHODS = ("auto", "quadrature", "volume", "free-energy-quadrature", "volume-scaling")
EPS_MIN_ACCURATE = 1e-24
EPS_MIN_CANCELLING = 1e-12
EPS_MAX = 1e-4
# Arguments set by oracle_for_polynomial itself, not through ``options``.
RESERVED_OPTIONS = frozenset({"K_fn", "dim", "box", "prior", "seed"})


def _as_variables(variables: object) -> list[sympy.Symbol]:
    if isinstance(variables, (str, bytes)) or not isinstance(variables, Sequence):
        raise ValueError(f"variables: expected a list of sympy symbols, got {variables!r}")
    out = list(variables)
    if not out:
        raise ValueError("variables: expected at least one symbol")
    for i, v in enumerate(out):
        if not isinstance(v, sympy.Symbol):
            raise ValueError(f"variables[{i}]: expected a sympy Symbol, got {v!r}")
    if len(set(out)) != len(out):
        raise ValueError(f"variables: symbols must be distinct, got {out}")
    return out


def _as_polynomial(name: str, expr: object, variables: list[sympy.Symbol]) -> sympy.Expr:
    try:
        value = sympy.sympify(expr)
    except (sympy.SympifyError, TypeError) as exc:
        raise ValueError(f"{name}: not a sympy expression: {expr!r}") from exc
    if not isinstance(value, sympy.Expr):
        raise ValueError(f"{name}: expected a sympy expression, got {expr!r}")
    extra = value.free_symbols - set(variables)
    if extra:
        names = sorted(str(s) for s in extra)
        raise ValueError(f"{name}: symbols {names} are not among variables")
    if not value.is_polynomial(*variables):
        raise ValueError(f"{name}: expected a polynomial in {variables}, got {value}")
    return value


def _vectorized(expr: sympy.Expr, variables: list[sympy.Symbol]) -> KFunction:
    function = sympy.lambdify(variables, expr, modules="numpy")

    def evaluate(W: np.ndarray) -> np.ndarray:
        values = function(*(W[:, j] for j in range(W.shape[1])))
        return np.broadcast_to(np.asarray(values, dtype=np.float64), (W.shape[0],))

    return evaluate


def _terms_nonnegative(factor: sympy.Expr, variables: list[sympy.Symbol], orthant: bool) -> bool:
    """Every term c w^alpha of the factor is >= 0 on the domain (no cancellation)."""
    poly = sympy.Poly(factor, *variables)
    for exponents, coefficient in poly.terms():
        if coefficient < 0:
            return False
        if not orthant and any(e % 2 for e in exponents):
            return False
    return True


def _rounding_safe(expr: sympy.Expr, variables: list[sympy.Symbol], orthant: bool) -> bool:
    """No odd power of a factor whose terms can cancel (see the module docstring)."""
    _, factors = sympy.factor_list(expr, *variables)
    return all(power % 2 == 0 or _terms_nonnegative(factor, variables, orthant) for factor, power in factors)


def oracle_for_polynomial(
    K: object,
    variables: Sequence[sympy.Symbol],
    prior: Sequence[float] | None = None,
    domain: str = "neighbourhood",
    seed: int = 0,
    ideal: bool = False,
    method: str = "auto",
    *,
    options: Mapping[str, Any] | None = None,
) -> OracleEstimate:
    """Estimate lambda (and m) of a polynomial K at w = 0 numerically, from K alone.

    Args:
        K: a sympy polynomial in ``variables`` with K(0) = 0, K >= 0 near 0; with
            ``ideal=True`` a list of polynomials f_i meaning K = sum_i f_i^2.
        variables: the sympy symbols, in the order of ``prior``.
        prior: exponents h_j >= 0 of the prior prod |w_j|^(h_j) (None: uniform).
        domain: ``"neighbourhood"`` (the box [-1, 1]^d) or ``"orthant"`` ([0, 1]^d).
        seed: root seed of the Monte Carlo (volume scaling; quadrature is deterministic).
        ideal: whether ``K`` is the list of generators f_i.
        method: ``"auto"`` (quadrature for d <= 3, else volume scaling), ``"quadrature"`` /
            ``"free-energy-quadrature"``, or ``"volume"`` / ``"volume-scaling"``.
        options: keyword arguments passed on to `free_energy_quadrature` or `volume_scaling`
            (e.g. ``{"n_samples": 4000}``); they override the defaults chosen here.

    Returns:
        The `OracleEstimate` of the method used; ``details`` also records the expression that
        was evaluated and (volume scaling) why eps_min was chosen.
    """
    symbols = _as_variables(variables)
    d = as_dim(len(symbols))
    if domain not in DOMAINS:
        raise ValueError(f"domain: expected one of {tuple(DOMAINS)}, got {domain!r}")
    if method not in METHODS:
        raise ValueError(f"method: expected one of {METHODS}, got {method!r}")
    if not isinstance(ideal, bool):
        raise ValueError(f"ideal: expected True or False, got {ideal!r}")
    root = as_seed(seed)
    if options is not None and not isinstance(options, Mapping):
        raise ValueError(f"options: expected a mapping of keyword arguments, got {options!r}")
    orthant = domain == "orthant"

    if ideal:
        if isinstance(K, (str, bytes)) or not isinstance(K, Sequence) or len(K) == 0:
            raise ValueError(f"K: with ideal=True expected a non-empty list of polynomials, got {K!r}")
        generators = [_as_polynomial(f"K[{i}]", f, symbols) for i, f in enumerate(K)]
        evaluators = [_vectorized(f, symbols) for f in generators]

        def sum_of_squares(W: np.ndarray) -> np.ndarray:
            return np.sum([np.asarray(g(W)) ** 2 for g in evaluators], axis=0)

        K_fn: KFunction = sum_of_squares

        expression = " + ".join(f"({f})**2" for f in generators)
        at_zero = sum(f.subs({s: 0 for s in symbols}) ** 2 for f in generators)
        safe = True
    else:
        polynomial = _as_polynomial("K", K, symbols)
        factored = sympy.factor(polynomial)
        K_fn = _vectorized(factored, symbols)
        expression = str(factored)
        at_zero = polynomial.subs({s: 0 for s in symbols})
        safe = _rounding_safe(polynomial, symbols, orthant)
    if sympy.simplify(at_zero) != 0:
        raise ValueError(f"K: K(0) = {at_zero}, but the oracles measure lambda at w = 0")

    use_quadrature = method in ("quadrature", "free-energy-quadrature") or (
        method == "auto" and d <= MAX_QUADRATURE_DIM
    )
    box = DOMAINS[domain]
    extra = dict(options or {})
    target = free_energy_quadrature if use_quadrature else volume_scaling
    accepted = set(inspect.signature(target).parameters) - RESERVED_OPTIONS
    unknown = sorted(set(extra) - accepted)
    if unknown:
        raise ValueError(f"options: {unknown} not accepted by {target.__name__}; expected some of {sorted(accepted)}")
    notes: dict[str, Any] = {"expression": expression, "variables": [str(s) for s in symbols]}
    if use_quadrature:
        result = free_energy_quadrature(K_fn, d, box=box, prior=prior, **extra)
    else:
        eps_min = EPS_MIN_ACCURATE if safe else EPS_MIN_CANCELLING
        extra.setdefault("eps_range", (eps_min, EPS_MAX))
        notes["eps_min_reason"] = (
            "no cancelling terms: K is evaluated to full relative precision"
            if safe
            else "an odd power of a factor with cancelling terms: rounding ~1e-16 near zeros"
        )
        result = volume_scaling(K_fn, d, box=box, prior=prior, seed=root, **extra)
    return dataclasses.replace(result, details={**result.details, **notes})
