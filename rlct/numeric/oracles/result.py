"""The result of a numeric oracle: an estimate of lambda (and m) measured from K alone."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

METHODS = ("volume-scaling", "free-energy-quadrature", "tempered-limit")


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, np.generic):
        return _jsonable(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


@dataclass(frozen=True)
class OracleEstimate:
    """A numeric estimate of the learning coefficient lambda at w = 0.

    Attributes:
        estimate: lambda-hat (NaN if the method failed; see ``details["failure"]``).
        stderr: its standard error (volume scaling: jackknife over independent batches;
            quadrature: least-squares error of the fit combined with its sensitivity to the
            fit window).
        method: ``"volume-scaling"``, ``"free-energy-quadrature"`` or ``"tempered-limit"``
            (`rlct.numeric.oracles.tempered_limit`).
        range_used: the asymptotic range the fit used, e.g. ``"eps in [1e-12, 1e-04]"``.
        n_samples: volume scaling: the number of K evaluations (Monte Carlo samples and
            MCMC proposals over all batches); None for quadrature.
        n_points: quadrature: the number of cubature nodes (K evaluations); None for volume.
        multiplicity_estimate: the selected m (the order of the pole), or None if not selected.
        details: everything else (per-m fits, the curve that was fitted, diagnostics).
    """

    estimate: float
    stderr: float
    method: str
    range_used: str
    n_samples: int | None = None
    n_points: int | None = None
    multiplicity_estimate: int | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"method: expected one of {METHODS}, got {self.method!r}")

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (arrays become lists, NaN/Inf become null)."""
        return _jsonable(
            {
                "estimate": self.estimate,
                "stderr": self.stderr,
                "method": self.method,
                "range_used": self.range_used,
                "n_samples": self.n_samples,
                "n_points": self.n_points,
                "multiplicity_estimate": self.multiplicity_estimate,
                "details": self.details,
            }
        )

    def describe(self) -> str:
        m = "?" if self.multiplicity_estimate is None else str(self.multiplicity_estimate)
        if self.n_samples is not None:
            count = f", {self.n_samples} K evaluations"
        elif self.n_points is not None:
            count = f", {self.n_points} cubature nodes"
        else:
            count = ""
        return (
            f"lambda ~ {self.estimate:.4f} +/- {self.stderr:.4f} (m ~ {m}) by {self.method}, {self.range_used}{count}"
        )
