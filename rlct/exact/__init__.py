"""Exact learning coefficients (sympy / fractions only; never imports torch).

The closed forms (`dln`, `rrr`, `normal_crossing`, `regular`) use only `fractions` and load at
once; the Newton-polyhedron engine `newton` needs sympy and is imported on first use, so that
commands which never call it do not pay for sympy.
"""

from __future__ import annotations

import sys
import types
from typing import TYPE_CHECKING, Any

from rlct.exact.dln import dln
from rlct.exact.normal_crossing import normal_crossing
from rlct.exact.regular import regular
from rlct.exact.result import RLCT, format_fraction
from rlct.exact.rrr import rrr

if TYPE_CHECKING:
    from rlct.exact.newton import newton as newton

__all__ = ["RLCT", "dln", "format_fraction", "newton", "normal_crossing", "regular", "rrr"]


class _Package(types.ModuleType):
    """``rlct.exact.newton`` is the engine function, imported on first access. (Importing the
    submodule binds the package attribute of the same name; the setter keeps the function.)"""

    @property
    def newton(self) -> Any:
        from rlct.exact.newton import newton

        return newton

    @newton.setter
    def newton(self, value: Any) -> None:
        pass


sys.modules[__name__].__class__ = _Package
