"""`rlct exact poly ...`: JSON keys, exit codes, one-line errors, and the --verify wiring.

--verify is tested against a stand-in for `rlct.numeric.oracles.oracle_for_polynomial` that
returns a fixed `OracleEstimate`: it is a test double of the oracle's *interface* (arguments in,
estimate/stderr/method/range out), used to check the agreement rule and the output; it is not a
stand-in for any result of the engine. One slow test runs the real oracle.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import sys
from collections.abc import Callable
from fractions import Fraction
from typing import Any

import pytest

from rlct.cli import Parser, UsageError, exact_poly, main
from rlct.exact import newton
from rlct.numeric.oracles import OracleEstimate

REQUIRED_KEYS = {"lambda", "lambda_float", "multiplicity", "scope", "source", "status"}


def _run_with_own_parser(argv: list[str]) -> int:
    """`rlct exact poly` without the `exact` command module: same error handling as main."""
    parser = Parser(prog="rlct")
    sub = parser.add_subparsers(dest="command", parser_class=Parser)
    exact = sub.add_parser("exact")
    exact_poly.register(exact.add_subparsers(dest="exact_command", parser_class=Parser))
    try:
        args = parser.parse_args(argv)
        return int(args.handler(args) or 0)
    except (UsageError, ValueError) as err:
        print(f"rlct: error: {err}", file=sys.stderr)
        return 2


def _run(argv: list[str]) -> int:
    if importlib.util.find_spec("rlct.cli.exact") is not None:
        return main(argv)
    return _run_with_own_parser(argv)


def _json(argv: list[str], capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    assert _run(["exact", "poly", *argv, "--json"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    payload = json.loads(out)
    assert isinstance(payload, dict)
    return payload


@pytest.mark.parametrize(
    ("argv", "value", "m", "status"),
    [
        (["x**2*y**2 + z**4"], "3/4", 2, "certified"),
        (["x**2*y**2", "--prior", "x=2,y=0"], "1/2", 1, "certified"),
        (["u + v", "--orthant"], "2", 1, "certified"),
        (["u*v", "--orthant"], "1", 2, "certified"),
        (["--ideal", "x**2 - y**3"], "5/12", 1, "certified"),
        (["(x**2 - y**3)^2"], "5/12", 1, "certified"),  # the bivariate engine answers
        (["(x - y)**2 + z**2"], "3/2", 1, "degenerate"),  # 3 variables: Newton upper bound (true: 1)
        (["--ideal", "x*y, x**2 - y**3"], "1/2", 2, "certified"),
        (["--ideal", "x*y", "z"], "1", 2, "certified"),
        (["x**2", "--variables", "x,y", "--prior", "y=1/2"], "1/2", 1, "certified"),
    ],
)
def test_json_output(
    argv: list[str], value: str, m: int, status: str, capsys: pytest.CaptureFixture[str]
) -> None:
    payload = _json(argv, capsys)
    assert REQUIRED_KEYS <= payload.keys()
    assert payload["lambda"] == value
    assert payload["lambda_float"] == float(Fraction(value))
    assert payload["multiplicity"] == m
    assert payload["status"] == status
    assert payload["certificate"].startswith(status)
    assert payload["scope"] == "local"


def test_json_matches_the_api(capsys: pytest.CaptureFixture[str]) -> None:
    payload = _json(["x**2 + y**4"], capsys)
    api = newton("x**2 + y**4").to_json()
    assert {k: payload[k] for k in api} == api
    assert payload["variables"] == ["x", "y"] and payload["domain"] == "neighbourhood"


def test_text_output_shows_the_status(capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(["exact", "poly", "(x - y)**2 + z**2"]) == 0
    out = capsys.readouterr().out
    assert "status       = degenerate" in out
    assert "upper bound" in out
    assert "engine       = newton" in out


def test_two_variables_go_to_the_bivariate_engine_when_newton_does_not_certify(
    capsys: pytest.CaptureFixture[str],
) -> None:
    payload = _json(["(y - x**2)**2 + x**6"], capsys)
    assert (payload["lambda"], payload["multiplicity"], payload["status"]) == ("2/3", 1, "certified")
    assert payload["engine"] == "bivariate" and "y -> y + 1*x**2" in payload["certificate"]
    assert _json(["x**2 + y**4"], capsys)["engine"] == "newton"
    # with a prior the changes keep (x -> x, y -> y + x^2 keeps |x| dx dy): y^2 + x^6 with |x|
    with_prior = _json(["(y - x**2)**2 + x**6", "--prior", "x=1"], capsys)
    assert (with_prior["engine"], with_prior["lambda"]) == ("bivariate", "5/6")
    # a prior on the variable that would move: Newton's bound stands, and the output says why
    refused = _json(["(y - x**2)**2 + x**6", "--prior", "y=1"], capsys)
    assert refused["engine"] == "newton" and refused["status"] == "degenerate"
    assert "whose prior exponent 1 is not 0" in refused["bivariate_refused"]
    assert _run(["exact", "poly", "(y - x**2)**2 + x**6", "--prior", "y=1"]) == 0
    assert "bivariate    = not used: prior: " in capsys.readouterr().out
    assert _run(["exact", "poly", "(y - x**2)**2 + x**6"]) == 0
    assert "engine       = bivariate" in capsys.readouterr().out


def test_own_parser_and_main_agree(capsys: pytest.CaptureFixture[str]) -> None:
    assert _run_with_own_parser(["exact", "poly", "x**2*y**2", "--json"]) == 0
    own = json.loads(capsys.readouterr().out)
    assert own == newton("x**2*y**2").to_json() | {
        "engine": "newton",
        "variables": ["x", "y"],
        "domain": "neighbourhood",
        "ideal": False,
    }


@pytest.mark.parametrize(
    ("argv", "start"),
    [
        (["sin(x)"], "K:"),
        (["x +"], "K:"),
        (["x y"], "K:"),
        (["__import__('os').system('true')"], "K:"),
        (["x"], "K:"),  # not >= 0 near 0
        (["x**2 + 1"], "K:"),
        (["x**2", "y**2"], "K:"),  # two polynomials without --ideal
        (["x**2", "--prior", "z=1"], "--prior:"),
        (["x**2", "--prior", "x=-1"], "--prior:"),
        (["x**2", "--prior", "x2"], "--prior:"),
        (["x**2 + y**2", "--variables", "x"], "K:"),
        (["x**2", "--variables", "x,x"], "--variables:"),
        (["--ideal", "x, , y"], "K:"),
    ],
)
def test_bad_input_exits_2_with_one_line(
    argv: list[str], start: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(["exact", "poly", *argv]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith(f"rlct: error: {start}")


# ------------------------------------------------------------------------------------------
# --verify with a stand-in for the oracle's interface.
def _fake_oracle(estimate: float, stderr: float, calls: list[dict[str, Any]]) -> Callable[..., Any]:
    def oracle_for_polynomial(
        K: object,
        variables: list[object],
        prior: object = None,
        domain: str = "neighbourhood",
        seed: int = 0,
        ideal: bool = False,
    ) -> OracleEstimate:
        calls.append(
            dict(K=K, variables=variables, prior=prior, domain=domain, seed=seed, ideal=ideal)
        )
        return OracleEstimate(
            estimate=estimate,
            stderr=stderr,
            method="volume-scaling",
            range_used="eps in [1e-8, 1e-2]",
            multiplicity_estimate=1,
        )

    return oracle_for_polynomial


@pytest.mark.parametrize(
    ("estimate", "stderr", "agrees"),
    [
        # lambda = 7/8 = 0.875 (x^2 + y^4 with prior |y|^(1/2): 1/2 + 3/8); the floor is
        # 0.05 * 0.875 + 0.02 = 0.06375.
        (0.875, 0.01, True),
        (0.93, 0.001, True),  # 0.055 <= floor
        (0.99, 0.001, False),  # 0.115 > max(0.003, 0.06375)
        (0.99, 0.05, True),  # 0.115 <= 3 * 0.05
        (math.nan, 0.01, False),  # a failed estimate never agrees
    ],
)
def test_verify_agreement_rule(
    estimate: float,
    stderr: float,
    agrees: bool,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import rlct.numeric.oracles as oracles

    calls: list[dict[str, Any]] = []
    fake = _fake_oracle(estimate, stderr, calls)
    monkeypatch.setattr(oracles, "oracle_for_polynomial", fake, raising=False)
    code = _run(
        ["exact", "poly", "x**2 + y**4", "--prior", "y=1/2", "--verify", "--json", "--seed", "7"]
    )
    payload = json.loads(capsys.readouterr().out)
    assert code == (0 if agrees else 1)
    assert payload["agrees"] is agrees
    assert payload["lambda"] == "7/8"  # t (1, 3/2) on 2x + y = 4: t = 8/7
    oracle = payload["oracle"]
    assert set(oracle) >= {"estimate", "stderr", "method", "range"}
    assert oracle["method"] == "volume-scaling" and oracle["range"] == "eps in [1e-8, 1e-2]"
    (call,) = calls
    assert [str(v) for v in call["variables"]] == ["x", "y"]
    assert call["prior"] == [0.0, 0.5]
    assert call["domain"] == "neighbourhood" and call["seed"] == 7 and call["ideal"] is False


def test_verify_passes_the_ideal_generators(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import rlct.numeric.oracles as oracles

    calls: list[dict[str, Any]] = []
    fake = _fake_oracle(0.42, 0.01, calls)
    monkeypatch.setattr(oracles, "oracle_for_polynomial", fake, raising=False)
    assert _run(["exact", "poly", "--ideal", "x**2 - y**3", "--orthant", "--verify"]) == 0
    out = capsys.readouterr().out
    assert "agrees" in out
    (call,) = calls
    assert call["ideal"] is True and call["domain"] == "orthant"
    assert isinstance(call["K"], list) and len(call["K"]) == 1


def test_help_documents_the_agreement_floor(capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser(prog="rlct")
    exact_poly.register(parser.add_subparsers())
    with pytest.raises(SystemExit):
        parser.parse_args(["poly", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "0.05 * lambda + 0.02" in text
    assert "3 * stderr" in text


@pytest.mark.slow
def test_verify_with_the_real_oracle(capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(["exact", "poly", "u + v", "--orthant", "--verify", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["agrees"] is True
    assert abs(payload["oracle"]["estimate"] - 2.0) < 0.1
