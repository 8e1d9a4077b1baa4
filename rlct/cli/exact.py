"""`rlct exact`: exact learning coefficients of the closed-form families.

    rlct exact dln --widths 5,4,3 --rank 2
    rlct exact rrr --n-in 5 --n-hidden 3 --n-out 5 --rank 0
    rlct exact normal-crossing --k 1,2 [--h 0,0] [--orthant]
    rlct exact regular --d 5

Every command prints `RLCT.describe()`, or with ``--json`` exactly one JSON object
(`RLCT.to_json()`). Arguments are passed to `rlct.exact` as the raw text the user typed, so the
validation (and its message) is the API's; the API's field name at the start of a message is
replaced by the flag the user typed (``n_in: ...`` -> ``--n-in: ...``).
"""

from __future__ import annotations

import argparse
import importlib
import json
import re
from collections.abc import Callable, Mapping
from types import ModuleType

from rlct.exact import RLCT, dln, normal_crossing, regular, rrr

EXACT_POLY_MODULE = "rlct.cli.exact_poly"


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `exact` and its sub-commands to the `rlct` parser."""
    exact = subparsers.add_parser(
        "exact",
        help="exact learning coefficient lambda and multiplicity m of a closed-form family",
        description=(
            "Exact learning coefficient (real log canonical threshold) lambda, as a fraction, and "
            "its multiplicity m, from a closed form with its citation."
        ),
    )
    exact_sub = exact.add_subparsers(dest="exact_command", metavar="FAMILY")
    exact_sub.required = True

    dln_parser = exact_sub.add_parser(
        "dln",
        help="deep linear network Y = W_L ... W_1 X (Aoyagi 2024), global value",
        description=(
            "Deep linear network Y = W_L ... W_1 X without biases, true product of rank r "
            "(Aoyagi 2024, Neural Networks 172:106132). Global value: the minimum over the set "
            "of true parameters."
        ),
    )
    dln_parser.add_argument(
        "--widths",
        required=True,
        metavar="H0,H1,...,HL",
        help="comma-separated layer widths: input H_0, inner H_1..H_{L-1}, output H_L "
        "(at least two positive integers)",
    )
    dln_parser.add_argument(
        "--rank",
        required=True,
        metavar="R",
        help="rank r of the true product, 0 <= r <= min(widths)",
    )
    _add_json_flag(dln_parser)
    dln_parser.set_defaults(handler=run_dln)

    rrr_parser = exact_sub.add_parser(
        "rrr",
        help="reduced-rank regression y = B A x (Aoyagi & Watanabe 2005), global value",
        description=(
            "Reduced-rank regression y = B A x with A: H x N, B: M x H and a true product of "
            "rank r (Aoyagi & Watanabe 2005, Neural Networks 18(7):924-933). Global value."
        ),
    )
    rrr_parser.add_argument("--n-in", required=True, metavar="N", help="input dimension N >= 1")
    rrr_parser.add_argument(
        "--n-hidden", required=True, metavar="H", help="inner dimension H >= 1 (the rank bound)"
    )
    rrr_parser.add_argument("--n-out", required=True, metavar="M", help="output dimension M >= 1")
    rrr_parser.add_argument(
        "--rank",
        required=True,
        metavar="R",
        help="rank r of the true product, 0 <= r <= min(N, H, M)",
    )
    _add_json_flag(rrr_parser)
    rrr_parser.set_defaults(handler=run_rrr)

    nc_parser = exact_sub.add_parser(
        "normal-crossing",
        help="monomial K = prod w_j^(2 k_j) with prior prod w_j^(h_j), local value at 0",
        description=(
            "Normal crossing K = prod_j w_j^(2 k_j) near w = 0 with prior density "
            "~ prod_j |w_j|^(h_j): lambda = min_j (h_j + 1)/(2 k_j), m = number of j attaining "
            "the minimum (Watanabe 2009, Thm 6.1). With --orthant, K = prod_j u_j^(k_j) on "
            "[0, eps)^d: lambda = min_j (h_j + 1)/k_j."
        ),
    )
    nc_parser.add_argument(
        "--k",
        required=True,
        metavar="K1,K2,...",
        help="comma-separated exponents k_j >= 0 of K, at least one positive",
    )
    nc_parser.add_argument(
        "--h",
        default=None,
        metavar="H1,H2,...",
        help="comma-separated prior exponents h_j >= 0, one per k_j (default: all 0, a prior "
        "positive at the origin)",
    )
    nc_parser.add_argument(
        "--orthant",
        action="store_true",
        help="the parameter lives on the orthant [0, eps)^d and K = prod u_j^(k_j) (no factor 2); "
        "default: a neighbourhood of 0 in R^d",
    )
    _add_json_flag(nc_parser)
    nc_parser.set_defaults(handler=run_normal_crossing)

    regular_parser = exact_sub.add_parser(
        "regular",
        help="regular model with d parameters: lambda = d/2, m = 1",
        description="Regular model (positive definite Fisher information): lambda = d/2, m = 1.",
    )
    regular_parser.add_argument(
        "--d", required=True, metavar="D", help="number of parameters d >= 1"
    )
    _add_json_flag(regular_parser)
    regular_parser.set_defaults(handler=run_regular)

    exact_poly = _optional_module(EXACT_POLY_MODULE)
    if exact_poly is not None:
        exact_poly.register(exact_sub)


def run_dln(args: argparse.Namespace) -> int:
    return _emit(
        lambda: dln(args.widths, args.rank),
        args,
        title=f"deep linear network, widths {args.widths}, rank {args.rank}",
        flags={"widths": "--widths", "rank": "--rank"},
    )


def run_rrr(args: argparse.Namespace) -> int:
    return _emit(
        lambda: rrr(args.n_in, args.n_hidden, args.n_out, args.rank),
        args,
        title=(
            f"reduced-rank regression, N={args.n_in}, H={args.n_hidden}, M={args.n_out}, "
            f"rank {args.rank}"
        ),
        flags={"n_in": "--n-in", "n_hidden": "--n-hidden", "n_out": "--n-out", "rank": "--rank"},
    )


def run_normal_crossing(args: argparse.Namespace) -> int:
    domain = "orthant" if args.orthant else "neighbourhood"
    prior = "uniform" if args.h is None else f"h = {args.h}"
    return _emit(
        lambda: normal_crossing(args.k, args.h, domain),
        args,
        title=f"normal crossing, k = {args.k}, {prior}, {domain}",
        flags={"k": "--k", "h": "--h"},
    )


def run_regular(args: argparse.Namespace) -> int:
    return _emit(
        lambda: regular(args.d), args, title=f"regular model, d = {args.d}", flags={"d": "--d"}
    )


def _add_json_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object (lambda as 'p/q', lambda_float, multiplicity, scope, source, "
        "...) instead of the human-readable summary",
    )


def _emit(
    compute: Callable[[], RLCT], args: argparse.Namespace, *, title: str, flags: Mapping[str, str]
) -> int:
    """Compute, translate the API's field name to the CLI flag on error, print, return 0."""
    try:
        result = compute()
    except ValueError as err:
        raise ValueError(_flag_message(str(err), flags)) from None
    if args.json:
        print(json.dumps(result.to_json()))
    else:
        print(title)
        print(result.describe())
    return 0


def _flag_message(message: str, flags: Mapping[str, str]) -> str:
    """``"n_in: expected ..."`` -> ``"--n-in: expected ..."``; ``"widths[1]: ..."`` keeps [1]."""
    match = re.match(r"([A-Za-z_]+)(\[\d+\])?:", message)
    if match is None or match.group(1) not in flags:
        return message
    return flags[match.group(1)] + message[len(match.group(1)) :]


def _optional_module(name: str) -> ModuleType | None:
    """Import ``name`` if it exists; a missing dependency *inside* it is still an error.

    (``from rlct.cli import exact_poly`` would raise a plain ImportError for a missing
    sub-module, so ``importlib`` is used to get a ModuleNotFoundError carrying the name.)
    """
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as err:
        if err.name == name:
            return None
        raise
