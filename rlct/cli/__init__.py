"""The `rlct` command line. Each subcommand lives in its own module with a `register` function.

Errors: bad input exits with code 2 and one line on stderr (``rlct: error: ...``), no traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# Subcommand modules, in the order `rlct --help` lists them.
SUBCOMMANDS = ("exact", "estimate", "cases", "validate", "calibrate")


class UsageError(Exception):
    """Raised by the parser instead of printing the usage block and exiting."""


class Parser(argparse.ArgumentParser):
    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("allow_abbrev", False)  # case parameters such as --d must not match --device
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message}")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="rlct",
        description="Exact learning coefficients and validation of LLC estimators.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    sub.required = True
    for name in SUBCOMMANDS:
        try:
            module = importlib.import_module(f"rlct.cli.{name}")
        except ModuleNotFoundError as err:  # a subcommand not written yet
            if err.name == f"rlct.cli.{name}":
                continue
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args, extra = parser.parse_known_args(argv)
        if extra and not getattr(args, "accepts_extra", False):
            raise UsageError(f"unrecognized arguments: {' '.join(extra)}")
        args.extra = extra
        code = args.handler(args)
    except UsageError as err:
        print(f"rlct: error: {err}", file=sys.stderr)
        return 2
    except ValueError as err:
        print(f"rlct: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("rlct: interrupted", file=sys.stderr)
        return 130
    return int(code or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
