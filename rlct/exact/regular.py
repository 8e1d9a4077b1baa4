"""Regular models: lambda = d/2, m = 1 (Watanabe 2009, "Algebraic Geometry and Statistical
Learning Theory", Remark 1.15 / sec. 6.2: a positive definite Fisher information at the unique
true parameter gives K ~ a quadratic form of full rank d)."""

from __future__ import annotations

from fractions import Fraction

from rlct.exact._validate import as_int
from rlct.exact.result import RLCT

SOURCE = "Watanabe 2009, Algebraic Geometry and Statistical Learning Theory, sec. 6.2 (regular case)"


def regular(d: int) -> RLCT:
    """lambda = d/2 and m = 1 for a regular model with d parameters."""
    d = as_int("d", d, minimum=1)
    return RLCT(
        value=Fraction(d, 2),
        multiplicity=1,
        source=SOURCE,
        scope="global",
        certificate="closed form (non-singular Hessian of K)",
        notes=("regular: the true parameter is unique, so the local value equals the global one",),
    )
