"""Analytic cases: exact lambda at a stated point w* + a batched torch loss + a data generator.

Every module in this package that subclasses `rlct.cases.base.Case` is registered on import;
`registry()` imports them all.
"""

from __future__ import annotations

import importlib
import pkgutil

_DISCOVERED = False


def discover() -> None:
    """Import every module of the package once, so their `Case` subclasses register."""
    global _DISCOVERED
    if _DISCOVERED:
        return
    for info in pkgutil.iter_modules(__path__):
        if info.name != "base" and not info.name.startswith("_"):
            importlib.import_module(f"{__name__}.{info.name}")
    _DISCOVERED = True


from rlct.cases.base import Case, Problem, get_case, registry  # noqa: E402

__all__ = ["Case", "Problem", "discover", "get_case", "registry"]
