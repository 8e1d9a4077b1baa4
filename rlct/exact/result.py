"""The result type of every exact computation: an `RLCT`.

The real log canonical threshold (learning coefficient) lambda and its multiplicity m are
defined by the largest pole -lambda (of order m) of the zeta function
zeta(z) = int K(w)^z phi(w) dw (Watanabe 2009, "Algebraic Geometry and Statistical Learning
Theory", ch. 2 and 6).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Literal

Scope = Literal["global", "local"]
SCOPES: tuple[str, ...] = ("global", "local")


def format_fraction(value: Fraction) -> str:
    """``Fraction(13, 2)`` -> ``"13/2"``, ``Fraction(7)`` -> ``"7"``."""
    return str(value.numerator) if value.denominator == 1 else f"{value.numerator}/{value.denominator}"


@dataclass(frozen=True)
class RLCT:
    """An exact learning coefficient.

    Attributes:
        value: lambda, an exact rational.
        multiplicity: m >= 1, the order of the pole -lambda of the zeta function.
        source: the citation (paper, theorem) the value comes from.
        scope: ``"global"`` if lambda is the minimum over the whole set of true parameters
            (the closed forms of Aoyagi and Aoyagi-Watanabe), ``"local"`` if it holds at the stated
            ``point`` (a neighbourhood of w*).
        certificate: why the value is exact (e.g. "closed form", "certified: non-degenerate").
        point: the point w* at which a local value holds (human-readable), if any.
        notes: anything else a user should know (the chosen case of a formula, ...).
        status: for engines that may fail to certify (the Newton-polyhedron engine):
            ``"certified"``, ``"degenerate"`` or ``"undecided"``; None for closed forms.
    """

    value: Fraction
    multiplicity: int
    source: str
    scope: Scope
    certificate: str = "closed form"
    point: str | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)
    status: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.value, Fraction):
            object.__setattr__(self, "value", Fraction(self.value))
        if self.value < 0:
            raise ValueError(f"value: a learning coefficient is >= 0, got {self.value}")
        if isinstance(self.multiplicity, bool) or not isinstance(self.multiplicity, int):
            raise ValueError(f"multiplicity: expected an int, got {self.multiplicity!r}")
        if self.multiplicity < 1:
            raise ValueError(f"multiplicity: expected >= 1, got {self.multiplicity}")
        if self.scope not in SCOPES:
            raise ValueError(f"scope: expected one of {SCOPES}, got {self.scope!r}")
        object.__setattr__(self, "notes", tuple(self.notes))

    @property
    def value_float(self) -> float:
        return float(self.value)

    def to_json(self) -> dict[str, Any]:
        """The JSON object of the CLI: exact lambda as a ``"p/q"`` string plus its float."""
        out: dict[str, Any] = {
            "lambda": format_fraction(self.value),
            "lambda_float": float(self.value),
            "multiplicity": self.multiplicity,
            "scope": self.scope,
            "source": self.source,
            "certificate": self.certificate,
        }
        if self.point is not None:
            out["point"] = self.point
        if self.notes:
            out["notes"] = list(self.notes)
        if self.status is not None:
            out["status"] = self.status
        return out

    def describe(self) -> str:
        """Human-readable multi-line summary."""
        lines = [
            f"lambda       = {format_fraction(self.value)}  (~ {float(self.value):.6g})",
            f"multiplicity = {self.multiplicity}",
            f"scope        = {self.scope}" + (f" (at {self.point})" if self.point else ""),
            f"certificate  = {self.certificate}",
            f"source       = {self.source}",
        ]
        lines += [f"note         : {n}" for n in self.notes]
        return "\n".join(lines)
