"""Exact learning coefficients (sympy / fractions only; never imports torch)."""

from rlct.exact.dln import dln
from rlct.exact.newton import newton as newton  # re-export (Newton-polyhedron engine)
from rlct.exact.normal_crossing import normal_crossing
from rlct.exact.regular import regular
from rlct.exact.result import RLCT, format_fraction
from rlct.exact.rrr import rrr

__all__ = ["RLCT", "dln", "format_fraction", "normal_crossing", "regular", "rrr"]
