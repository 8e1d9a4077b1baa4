"""`rlct exact poly K [options]`: lambda and m of a polynomial K from its Newton polyhedron.

    rlct exact poly "x**2*y**2 + z**4"
    rlct exact poly "x**2*y**2" --prior x=2,y=0 --json
    rlct exact poly "u + v" --orthant
    rlct exact poly --ideal "x**2 - y**3"             # K = (x^2 - y^3)^2 via its generator
    rlct exact poly "x**2 + y**4" --verify             # compare with a numeric oracle

The text is parsed by `rlct.exact.polynomial_input.parse_polynomial_text` (no eval: numbers,
names, + - * / ( ) and integer powers only). With ``--verify`` the numeric oracle
``rlct.numeric.oracles.oracle_for_polynomial`` estimates lambda from K alone and the output says
whether it agrees: |estimate - lambda| <= max(3 stderr, 0.05 lambda + 0.02). The floor
0.05 lambda + 0.02 allows for the bias of a finite asymptotic range (log corrections of order
(m - 1) log log / log), which a standard error does not cover.
"""

from __future__ import annotations

import argparse
import json
import math
import re
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from rlct.exact.result import RLCT

if TYPE_CHECKING:  # sympy and the engine load when `rlct exact poly` runs, not with the parser
    import sympy

AGREEMENT_SIGMAS = 3
AGREEMENT_RELATIVE_FLOOR = Fraction(5, 100)
AGREEMENT_ABSOLUTE_FLOOR = Fraction(2, 100)
EXIT_DISAGREES = 1


def register(exact_subparsers: Any) -> None:
    """Add `poly` to the sub-commands of `rlct exact`."""
    p = exact_subparsers.add_parser(
        "poly",
        help="polynomial K (or K = sum f_i^2): Newton polyhedron, local value at w = 0",
        description=(
            "Learning coefficient lambda and multiplicity m of a polynomial K >= 0 at w = 0 from "
            "its Newton polyhedron, in exact rationals: lambda = 1/t with t the Newton distance "
            "along (h+1) (Arnold-Gusein-Zade-Varchenko; Watanabe 2009 ch. 7). The value is "
            "exact only when the status is 'certified' (every compact face polynomial proven "
            "to have no zero on the torus; for --ideal with one generator f also Varchenko's "
            "condition: no singular zero of any face polynomial of f and t > 1); 'degenerate' "
            "or 'undecided' values are upper bounds on lambda. In two variables (not --orthant) "
            "such a K goes to the bivariate engine instead, which adapts the coordinates "
            "(y -> y + b x^k) and is exact for every K in Q[x, y] (Varchenko 1976; "
            "Phong-Stein-Sturm 1999); with a prior only where its changes keep the prior "
            "(otherwise the Newton bound stands and the output says why); the output says which "
            "engine answered."
        ),
        epilog=(
            "--verify agreement rule: |estimate - lambda| <= max(3 * stderr, 0.05 * lambda + "
            "0.02). The floor allows for the bias of a finite asymptotic range, which a "
            "standard error does not cover. For a value that is not certified the oracle is "
            "compared with that upper bound. Exit code 1 if the oracle disagrees, 2 on bad "
            "input."
        ),
    )
    p.add_argument(
        "polynomial",
        nargs="+",
        metavar="K",
        help="the polynomial, e.g. 'x**2*y**2 + z**4' (^ also means power; decimals are read "
        "exactly). With --ideal: the generators f_i, as separate arguments or separated by "
        "commas",
    )
    p.add_argument(
        "--variables",
        metavar="x,y,...",
        help="variable order (default: the variables of K sorted by name); may add variables "
        "that K does not contain",
    )
    p.add_argument(
        "--prior",
        metavar="x=2,y=0",
        help="prior ~ prod |w_j|^(h_j) near 0: exponents h_j >= 0 (exact rationals such as 1/2); "
        "unlisted variables get 0",
    )
    p.add_argument(
        "--orthant",
        action="store_true",
        help="parameters live on the orthant [0, eps)^d (exponents enter without the factor 2; "
        "non-degeneracy on the positive torus)",
    )
    p.add_argument(
        "--ideal",
        action="store_true",
        help="K = sum f_i^2 given by its generators f_i: lambda = 1/(2 t) with the Newton "
        "polyhedron of the ideal <f_i> (Lin 2011)",
    )
    p.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object: lambda ('p/q'), lambda_float, multiplicity, scope, source, "
        "status (certified/degenerate/undecided), certificate, notes, ...",
    )
    p.add_argument(
        "--verify",
        action="store_true",
        help="also estimate lambda numerically from K alone (rlct.numeric.oracles) and report "
        "whether it agrees: |estimate - lambda| <= max(3 stderr, 0.05 lambda + 0.02)",
    )
    p.add_argument(
        "--seed", type=int, default=0, help="seed of the numeric oracle (--verify); default 0"
    )
    p.set_defaults(handler=run_poly)


def run_poly(args: argparse.Namespace) -> int:
    from rlct.exact.newton import newton
    from rlct.exact.polynomial_input import parse_polynomial_text, resolve_prior, resolve_variables

    texts = _split_generators(args.polynomial, args.ideal)
    expressions = [parse_polynomial_text(t, "K") for t in texts]
    names = None if args.variables is None else _split_names(args.variables)
    try:
        symbols = resolve_variables(expressions, names)
    except ValueError as err:
        raise ValueError(_flag(str(err))) from None
    prior = None if args.prior is None else parse_prior_text(args.prior)
    domain = "orthant" if args.orthant else "neighbourhood"
    K: object = expressions if args.ideal else expressions[0]
    try:
        result = newton(K, variables=symbols, prior=prior, domain=domain)
        prior_exponents = None if prior is None else resolve_prior(prior, symbols)
    except ValueError as err:
        raise ValueError(_flag(str(err))) from None
    engine = "newton"
    refused = None
    if result.status != "certified" and _bivariate_applies(symbols, domain):
        from rlct.exact.bivariate import PriorNotKept, bivariate

        try:
            result = bivariate(K, variables=symbols, prior=prior_exponents)
            engine = "bivariate"
        except PriorNotKept as err:
            refused = str(err)  # a prior the adapting changes would not keep: Newton's bound stands
        except ValueError as err:
            raise ValueError(
                _flag(f"{err} (the Newton engine's upper bound: lambda <= {result.value})")
            ) from None
    payload = result.to_json()
    payload["engine"] = engine
    if refused is not None:
        payload["bivariate_refused"] = refused
    payload["variables"] = [s.name for s in symbols]
    payload["domain"] = domain
    payload["ideal"] = bool(args.ideal)
    code = 0
    if args.verify:
        verification = verify(K, symbols, prior_exponents, domain, args.seed, args.ideal, result)
        payload.update(verification)
        if not verification["agrees"]:
            code = EXIT_DISAGREES
    if args.json:
        print(json.dumps(payload))
    else:
        kind = "K = sum of squares of " + ", ".join(texts) if args.ideal else f"K = {texts[0]}"
        print(f"{kind} ({domain})")
        print(result.describe())
        print(f"status       = {result.status}")
        print(f"engine       = {engine}" + (
            " (the Newton engine did not certify; adapted coordinates in two variables)"
            if engine == "bivariate" else ""))
        if refused is not None:
            print(f"bivariate    = not used: {refused}")
        if args.verify:
            oracle = payload["oracle"]
            print(
                f"oracle       = {oracle['estimate']} +/- {oracle['stderr']} ({oracle['method']}, "
                f"{oracle['range']}): {'agrees' if payload['agrees'] else 'DISAGREES'} "
                f"(tolerance {payload['tolerance']:.4g})"
            )
    return code


def _bivariate_applies(symbols: Any, domain: str) -> bool:
    """The bivariate engine answers for at most two variables on a neighbourhood of 0
    (`rlct.exact.bivariate`; with a monomial prior where its changes of variables keep it)."""
    return len(symbols) <= 2 and domain == "neighbourhood"


def verify(
    K: object,
    symbols: tuple[sympy.Symbol, ...],
    prior: tuple[Fraction, ...] | None,
    domain: str,
    seed: int,
    ideal: bool,
    result: RLCT,
) -> dict[str, Any]:
    """Run the numeric oracle and compare: agrees iff |estimate - lambda| <= max(3 stderr, floor),
    floor = 0.05 lambda + 0.02. A NaN/inf estimate or stderr never agrees."""
    try:
        from rlct.numeric.oracles import oracle_for_polynomial  # lazy: numerics are heavy
    except ImportError:
        raise ValueError(
            "--verify: the numeric oracle rlct.numeric.oracles.oracle_for_polynomial is not "
            "available in this installation"
        ) from None
    estimate = oracle_for_polynomial(
        K,
        list(symbols),
        prior=None if prior is None else [float(h) for h in prior],
        domain=domain,
        seed=seed,
        ideal=ideal,
    )
    value = float(result.value)
    floor = float(AGREEMENT_RELATIVE_FLOOR * result.value + AGREEMENT_ABSOLUTE_FLOOR)
    est, err = float(estimate.estimate), float(estimate.stderr)
    finite = math.isfinite(est) and math.isfinite(err)
    tolerance = max(AGREEMENT_SIGMAS * err, floor) if finite else math.nan
    oracle: dict[str, Any] = {
        "estimate": est if math.isfinite(est) else None,
        "stderr": err if math.isfinite(err) else None,
        "method": estimate.method,
        "range": estimate.range_used,
    }
    multiplicity = getattr(estimate, "multiplicity_estimate", None)
    if multiplicity is not None:
        oracle["multiplicity_estimate"] = multiplicity
    return {
        "oracle": oracle,
        "agrees": bool(finite and abs(est - value) <= tolerance),
        "tolerance": tolerance if finite else None,
    }


def parse_prior_text(text: str) -> dict[str, str]:
    """``"x=2,y=1/2"`` -> ``{"x": "2", "y": "1/2"}`` (values are validated by `newton`)."""
    out: dict[str, str] = {}
    for item in (s.strip() for s in text.split(",")):
        if not item:
            continue
        match = re.fullmatch(r"([A-Za-z][A-Za-z0-9_]*)\s*=\s*(\S+)", item)
        if match is None:
            raise ValueError(f"--prior: expected name=exponent pairs such as x=2,y=0, got {item!r}")
        name, value = match.groups()
        if name in out:
            raise ValueError(f"--prior: {name} is given twice")
        out[name] = value
    if not out:
        raise ValueError(f"--prior: expected name=exponent pairs such as x=2,y=0, got {text!r}")
    return out


def _split_generators(items: list[str], ideal: bool) -> list[str]:
    if not ideal:
        if len(items) != 1:
            raise ValueError(
                f"K: expected one polynomial (quote it), got {len(items)} arguments; use --ideal "
                "for a list of generators"
            )
        return items
    texts = [t.strip() for item in items for t in re.split(r"[,;]", item)]
    if any(not t for t in texts):
        raise ValueError("K: empty generator in the --ideal list")
    return texts


def _split_names(text: str) -> list[str]:
    names = [t.strip() for t in text.split(",") if t.strip()]
    if not names:
        raise ValueError(f"--variables: expected comma-separated names, got {text!r}")
    return names


def _flag(message: str) -> str:
    """The API's field names -> the flags the user typed."""
    for field, flag in (("variables:", "--variables:"), ("prior:", "--prior:")):
        if message.startswith(field):
            return flag + message[len(field) :]
    return message
