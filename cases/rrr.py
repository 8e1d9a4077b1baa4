"""Reduced-rank regression: the two-layer linear network y = B A x + noise.

Exact global lambda from Aoyagi & Watanabe 2005 (Neural Networks 18(7):924-933, Main Theorem),
`rlct.exact.rrr`. The model, data and w* are those of the deep linear network case with
widths (N, H, M) (see `rlct.cases.dln`): w* = 0 for r = 0 and the minimal-rank true point
(A = [diag(s)^(1/2) V^T; 0], B = [U diag(s)^(1/2), 0]) otherwise, where the local value equals
the global one.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import torch

from rlct.cases.base import Case, Footprint, Problem, mala_settings
from rlct.cases.dln import DLNCase
from rlct.exact import RLCT, rrr
from rlct.exact._validate import as_int
from rlct.numeric.settings import SamplerSettings


class RRRCase(Case):
    name = "rrr"
    exact_gibbs = True
    description = "reduced-rank regression y = BAx, N inputs, H hidden, M outputs (Aoyagi-Watanabe 2005)"
    # "1e1" (m = 1) comes first: `rlct validate --quick` runs it. "1e1-m2" (lambda = 1, m = 2)
    # shows the estimator's finite-nbeta bias for m > 1, E[nbeta K] ~ lambda - (m - 1)/log(nbeta):
    # -14.5% at nbeta = 1000, whatever the sampler.
    scales = {
        "1e1": {"n_in": 2, "n_hidden": 2, "n_out": 2, "rank": 0},
        "1e1-m2": {"n_in": 2, "n_hidden": 1, "n_out": 2, "rank": 0},
        "1e2": {"n_in": 10, "n_hidden": 5, "n_out": 8, "rank": 2},
        "1e3": {"n_in": 30, "n_hidden": 15, "n_out": 25, "rank": 5},
        "1e4": {"n_in": 100, "n_hidden": 50, "n_out": 90, "rank": 10},
        "3e4": {"n_in": 200, "n_hidden": 80, "n_out": 180, "rank": 15},
        "1e5": {"n_in": 300, "n_hidden": 150, "n_out": 350, "rank": 30},
        "2e5": {"n_in": 400, "n_hidden": 200, "n_out": 400, "rank": 40},
        "2e6": {"n_in": 1500, "n_hidden": 700, "n_out": 1500, "rank": 100},
    }

    @classmethod
    def validate(cls, **parameters: Any) -> dict[str, Any]:
        allowed = {"n_in", "n_hidden", "n_out", "rank", "n", "noise_std"}
        unknown = set(parameters) - allowed
        if unknown:
            raise ValueError(f"{sorted(unknown)[0]}: unknown parameter of case 'rrr'")
        for field in ("n_in", "n_hidden", "n_out"):
            if field not in parameters:
                raise ValueError(f"{field}: required")
        sizes = {f: as_int(f, parameters[f], minimum=1) for f in ("n_in", "n_hidden", "n_out")}
        rank = as_int("rank", parameters.get("rank", 0), minimum=0)
        if rank > min(sizes.values()):
            raise ValueError(f"rank: must be <= min(n_in, n_hidden, n_out) = {min(sizes.values())}")
        network = DLNCase.validate(
            widths=(sizes["n_in"], sizes["n_hidden"], sizes["n_out"]),
            rank=rank,
            n=parameters.get("n", 100_000),
            noise_std=parameters.get("noise_std", 1.0),
        )
        return {**sizes, "rank": rank, "n": network["n"], "noise_std": network["noise_std"]}

    def _network(self) -> DLNCase:
        p = self.parameters
        return DLNCase(widths=(p["n_in"], p["n_hidden"], p["n_out"]), rank=p["rank"], n=p["n"],
                       noise_std=p["noise_std"])

    @property
    def dim(self) -> int:
        return self._network().dim

    def exact(self) -> RLCT:
        p = self.parameters
        base = rrr(p["n_in"], p["n_hidden"], p["n_out"], p["rank"])
        return replace(
            base,
            scope="local",
            certificate=base.certificate + "; local at w* (see cases/rrr.py)",
            point="w* = 0" if p["rank"] == 0 else "minimal-rank true point (A, B of rank r)",
        )

    def footprint(self) -> Footprint:
        return self._network().footprint()

    def build(
        self, *, seed: int = 0, device: str | torch.device = "cpu", dtype: torch.dtype = torch.float64
    ) -> Problem:
        return self._network().build(seed=seed, device=device, dtype=dtype).for_case(self)

    def reference_settings(self, settings: SamplerSettings) -> SamplerSettings | None:
        """The exact Gibbs reference of the same network (`rlct.cases.dln.DLNCase.reference_settings`)."""
        return self._network().reference_settings(settings)

    def recommended(self) -> SamplerSettings:
        """Full-batch MALA on the sufficient-statistics loss at every size, nbeta = 1000, gamma = 1,
        eps = min(3e-4, 1.5e-5 sqrt(1200 / d)) (the DLN rule above 10^3 parameters).

        Why not SGLD-CV at small sizes as for DLNs: at w* = 0 (rank 0) the flat directions are
        quartic and relax at rate ~ eps * gamma, 1 / (3e-5) = 33k steps, longer than the 10k-step
        SGLD-CV chains. Measured, (2,2,2) r = 0 (lambda = 3/2): SGLD-CV seeds read 1.05-1.48
        (se 0.13 each), MALA 1.42-1.44 +- 0.02-0.03; (2,1,2) r = 0 (lambda = 1, m = 2): SGLD-CV
        0.79 +- 0.06, MALA 0.87 +- 0.01, against lambda - 1/log(1000) = 0.855."""
        return mala_settings(step_size=min(3e-4, 1.5e-5 * math.sqrt(1200 / self.dim)), steps=40_000,
                             burnin=8_000)
