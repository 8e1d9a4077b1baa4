"""`rlct cases list` and `rlct cases show NAME`: the registered analytic cases."""

from __future__ import annotations

import argparse
import json
from typing import Any


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("cases", help="list and describe the analytic cases")
    sub = p.add_subparsers(dest="cases_command", metavar="ACTION")
    sub.required = True
    lister = sub.add_parser("list", help="one line per registered case")
    lister.add_argument("--json", action="store_true", help="print one JSON object")
    lister.set_defaults(handler=list_cases)
    show = sub.add_parser("show", help="a case's scales, their exact values and parameter counts")
    show.add_argument("name", help="case name")
    show.add_argument("--json", action="store_true", help="print one JSON object")
    show.set_defaults(handler=show_case)


def _jsonable(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def _scale_rows(case_cls: Any) -> list[dict[str, Any]]:
    from rlct.exact import format_fraction

    rows = []
    for scale in case_cls.scales:
        case = case_cls.at_scale(scale)
        row: dict[str, Any] = {
            "scale": scale,
            "parameters": {k: _jsonable(v) for k, v in case.parameters.items()},
            "dim": getattr(case, "dim", None),
        }
        try:
            exact = case.exact()
            row.update(
                {
                    "lambda": format_fraction(exact.value),
                    "multiplicity": exact.multiplicity,
                    "scope": exact.scope,
                    "point": exact.point,
                    "certificate": exact.certificate,
                }
            )
        except ValueError as err:  # e.g. a listed point that carries no exact value
            row["lambda"] = None
            row["no_exact_value"] = str(err)
        rows.append(row)
    return rows


def list_cases(args: argparse.Namespace) -> int:
    from rlct.cases import registry

    cases = registry()
    if args.json:
        print(json.dumps({name: {"description": c.description, "scales": list(c.scales)}
                          for name, c in cases.items()}))
        return 0
    width = max((len(n) for n in cases), default=4)
    for name, case_cls in cases.items():
        print(f"{name:<{width}}  {case_cls.description}  [scales: {', '.join(case_cls.scales)}]")
    return 0


def show_case(args: argparse.Namespace) -> int:
    from rlct.cases import get_case

    case_cls = get_case(args.name)
    rows = _scale_rows(case_cls)
    if args.json:
        print(json.dumps({"name": case_cls.name, "description": case_cls.description,
                          "scales": rows}, default=str))
        return 0
    print(f"{case_cls.name}: {case_cls.description}")
    doc = (case_cls.__module__ and __import__(case_cls.__module__, fromlist=["_"]).__doc__) or ""
    if doc:
        print("\n" + doc.strip() + "\n")
    for row in rows:
        params = ", ".join(f"{k}={v}" for k, v in row["parameters"].items())
        value = row["lambda"] if row["lambda"] is not None else f"none ({row['no_exact_value']})"
        print(f"  {row['scale']:>6}: d={row['dim']}, lambda={value}, m={row.get('multiplicity')}; {params}")
    return 0
