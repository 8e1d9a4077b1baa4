"""`rlct exact ...`: output formats, exit codes and the optional `exact poly` hook."""

from __future__ import annotations

import argparse
import importlib.abc
import json
import shutil
import subprocess
import sys
import types
from fractions import Fraction

import pytest

from rlct.cli import main
from rlct.exact import dln, normal_crossing, regular, rrr

REQUIRED_KEYS = {"lambda", "lambda_float", "multiplicity", "scope", "source"}

GOOD_COMMANDS = [
    (["exact", "dln", "--widths", "5,4,3", "--rank", "2"], dln([5, 4, 3], 2)),
    (["exact", "dln", "--widths", "5,4,3", "--rank", "1"], dln([5, 4, 3], 1)),
    (
        ["exact", "rrr", "--n-in", "5", "--n-hidden", "3", "--n-out", "5", "--rank", "0"],
        rrr(5, 3, 5, 0),
    ),
    (["exact", "normal-crossing", "--k", "1,2"], normal_crossing([1, 2])),
    (["exact", "normal-crossing", "--k", "1,1", "--h", "2,0"], normal_crossing([1, 1], [2, 0])),
    (["exact", "normal-crossing", "--k", "1", "--orthant"], normal_crossing([1], None, "orthant")),
    (["exact", "regular", "--d", "5"], regular(5)),
]


@pytest.mark.parametrize(("argv", "expected"), GOOD_COMMANDS)
def test_json_is_one_object_with_the_exact_value(
    argv: list[str], expected: object, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*argv, "--json"]) == 0
    out, err = capsys.readouterr()
    payload = json.loads(out)  # exactly one JSON document, nothing else on stdout
    assert isinstance(payload, dict)
    assert REQUIRED_KEYS <= payload.keys()
    assert payload == expected.to_json()  # type: ignore[attr-defined]
    assert Fraction(payload["lambda"]) == expected.value  # type: ignore[attr-defined]
    assert err == ""


def test_json_values_of_a_worked_example(capsys: pytest.CaptureFixture[str]) -> None:
    """DLN [5, 4, 3], r = 1 -> 13/2, m = 2 (theory.md sec. 4)."""
    assert main(["exact", "dln", "--widths", "5,4,3", "--rank", "1", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["lambda"] == "13/2"
    assert payload["lambda_float"] == 6.5
    assert payload["multiplicity"] == 2
    assert payload["scope"] == "global"
    assert "Aoyagi 2024" in payload["source"]


def test_integral_lambda_is_printed_without_denominator(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["exact", "dln", "--widths", "5,4,3", "--rank", "2", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["lambda"] == "7"


@pytest.mark.parametrize(("argv", "expected"), GOOD_COMMANDS)
def test_human_output_describes_the_result(
    argv: list[str], expected: object, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 0
    out, err = capsys.readouterr()
    assert expected.describe() in out  # type: ignore[attr-defined]
    assert not out.lstrip().startswith("{")
    assert err == ""


def test_human_output_of_normal_crossing(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["exact", "normal-crossing", "--k", "1,1,1"]) == 0
    out = capsys.readouterr().out
    assert "lambda       = 1/2" in out
    assert "multiplicity = 3" in out


RRR = ["exact", "rrr"]
BAD_COMMANDS = [
    (["exact", "dln", "--widths", "5,a,3", "--rank", "0"], "--widths"),
    (["exact", "dln", "--widths", "5,0,3", "--rank", "0"], "--widths"),
    (["exact", "dln", "--widths", "5,2.5,3", "--rank", "0"], "--widths"),
    (["exact", "dln", "--widths", "5,True,3", "--rank", "0"], "--widths"),
    (["exact", "dln", "--widths", "5", "--rank", "0"], "--widths"),
    (["exact", "dln", "--widths", "", "--rank", "0"], "--widths"),
    (["exact", "dln", "--widths=-5,3", "--rank", "0"], "--widths"),
    (["exact", "dln", "--widths", "5,4,3", "--rank", "4"], "--rank"),
    (["exact", "dln", "--widths", "5,4,3", "--rank", "-1"], "--rank"),
    (["exact", "dln", "--widths", "5,4,3", "--rank", "2.5"], "--rank"),
    (["exact", "dln", "--widths", "5,4,3"], "--rank"),  # missing
    ([*RRR, "--n-in", "a", "--n-hidden", "3", "--n-out", "5", "--rank", "0"], "--n-in"),
    ([*RRR, "--n-in", "5", "--n-hidden", "0", "--n-out", "5", "--rank", "0"], "--n-hidden"),
    ([*RRR, "--n-in", "5", "--n-hidden", "3", "--n-out", "2.5", "--rank", "0"], "--n-out"),
    ([*RRR, "--n-in", "5", "--n-hidden", "3", "--n-out", "5", "--rank", "4"], "--rank"),
    (["exact", "rrr", "--n-in", "5", "--n-hidden", "3", "--n-out", "5"], "--rank"),
    (["exact", "normal-crossing", "--k", "1,-2"], "--k"),
    (["exact", "normal-crossing", "--k", "0,0"], "--k"),
    (["exact", "normal-crossing", "--k", "x"], "--k"),
    (["exact", "normal-crossing", "--k", "1,2", "--h", "0"], "--h"),
    (["exact", "normal-crossing", "--k", "1,2", "--h", "0,-1"], "--h"),
    (["exact", "regular", "--d", "0"], "--d"),
    (["exact", "regular", "--d", "2.5"], "--d"),
    (["exact", "regular", "--d", "True"], "--d"),
    (["exact", "regular"], "--d"),
    (["exact", "regular", "--d", "5", "--bogus"], "--bogus"),
    (["exact", "lstm"], "lstm"),
    (["exact"], "FAMILY"),
]


@pytest.mark.parametrize(("argv", "flag"), BAD_COMMANDS, ids=[" ".join(a) for a, _ in BAD_COMMANDS])
def test_bad_input_exits_2_with_one_line(
    argv: list[str], flag: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("rlct: error: ")
    assert flag in lines[0]
    assert "Traceback" not in err


def test_api_field_names_are_shown_as_flags(capsys: pytest.CaptureFixture[str]) -> None:
    main(["exact", "rrr", "--n-in", "a", "--n-hidden", "3", "--n-out", "5", "--rank", "0"])
    assert capsys.readouterr().err == "rlct: error: --n-in: expected an integer, got 'a'\n"
    main(["exact", "dln", "--widths", "5,a,3", "--rank", "0"])
    assert capsys.readouterr().err == "rlct: error: --widths[1]: expected an integer, got 'a'\n"


@pytest.mark.parametrize("family", ["dln", "rrr", "normal-crossing", "regular"])
def test_help_explains_every_option(family: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["exact", family, "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    parser = _family_parser(family)
    for action in parser._actions:
        assert action.help, f"{family}: option {action.option_strings} has no help"
        for option in action.option_strings:
            assert option in out


def _family_parser(family: str) -> argparse.ArgumentParser:
    from rlct.cli import build_parser

    parser = build_parser()
    command = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    exact_parser = command.choices["exact"]
    sub = next(a for a in exact_parser._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices[family]


# --- the optional `rlct exact poly` hook ----------------------------------------------------


def test_exact_poly_is_registered_when_present(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = types.ModuleType("rlct.cli.exact_poly")

    def register(exact_subparsers: argparse._SubParsersAction) -> None:
        poly = exact_subparsers.add_parser("poly", help="fake")
        poly.set_defaults(handler=lambda args: print("poly ran") or 0)

    fake.register = register  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "rlct.cli.exact_poly", fake)
    assert main(["exact", "poly"]) == 0
    assert capsys.readouterr().out == "poly ran\n"


class _BrokenExactPoly(importlib.abc.MetaPathFinder):
    """Pretends rlct.cli.exact_poly exists but imports a dependency that is missing."""

    def find_spec(self, fullname, path, target=None):  # type: ignore[no-untyped-def]
        if fullname == "rlct.cli.exact_poly":
            raise ModuleNotFoundError("No module named 'missing_dep'", name="missing_dep")
        return None


def test_real_import_errors_in_exact_poly_are_not_swallowed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delitem(sys.modules, "rlct.cli.exact_poly", raising=False)
    monkeypatch.setattr(sys, "meta_path", [_BrokenExactPoly(), *sys.meta_path])
    with pytest.raises(ModuleNotFoundError) as info:
        main(["exact", "regular", "--d", "2"])
    assert info.value.name == "missing_dep"


# --- the installed console script -----------------------------------------------------------


def test_console_script() -> None:
    executable = shutil.which("rlct")
    if executable is None:
        pytest.skip("the `rlct` console script is not installed (pip install -e . --no-deps)")
    good = subprocess.run(
        [executable, "exact", "dln", "--widths", "2,2,2", "--rank", "1", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert good.returncode == 0, good.stderr
    payload = json.loads(good.stdout)
    assert (payload["lambda"], payload["multiplicity"]) == ("2", 2)
    bad = subprocess.run(
        [executable, "exact", "dln", "--widths", "2,x,2", "--rank", "1"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 2
    assert bad.stdout == ""
    assert bad.stderr.splitlines() == ["rlct: error: --widths[1]: expected an integer, got 'x'"]
