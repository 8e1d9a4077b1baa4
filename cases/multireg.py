"""Multi-output linear regression Y = W X + noise, W of shape (outputs, inputs): a regular model,
lambda = inputs * outputs / 2 (Watanabe 2009, sec. 6.2), the case that carries the validation to
10^6 parameters on a CPU.

It is the one-layer deep linear network of `rlct.cases.dln` (widths (inputs, outputs), a full-rank
true W), so Aoyagi's closed form gives the same value (`rlct.exact.dln` with one layer, a test
checks the two). Its loss is computed from sufficient statistics (``Target.full_data_loss``), so a
full-batch step costs O(outputs * inputs^2) per chain whatever n, and its Hessian
Sxx / sigma^2 (x) I is well conditioned (eigenvalues within (1 +- sqrt(inputs / n))^2 of 1):
full-batch Langevin dynamics mixes in a number of steps that does not grow with d.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import torch

from rlct.cases.base import Case, Footprint, Problem
from rlct.cases.dln import DLNCase
from rlct.exact import RLCT, regular
from rlct.exact._validate import as_int
from rlct.numeric.settings import SamplerSettings

NBETA = 1000.0
# Full-batch Langevin step eps * nbeta: on a Gaussian of precision p ~ nbeta the unadjusted
# chain's stationary variance is 1 / (p (1 - eps p / 4)), a +0.5% bias in lambda-hat whatever d.
STEP_TIMES_NBETA = 0.02


class MultiOutputRegressionCase(Case):
    name = "multireg"
    exact_gibbs = True
    description = "multi-output linear regression Y = W X + noise, regular (lambda = inputs * outputs / 2)"
    scales = {
        "1e2": {"inputs": 10, "outputs": 10},
        "1e3": {"inputs": 30, "outputs": 40},
        "1e4": {"inputs": 100, "outputs": 100},
        "1e5": {"inputs": 300, "outputs": 400},
        # 300 inputs keep a step at O(outputs * 300^2) per chain and the data at n * 3,633 numbers.
        "1e6": {"inputs": 300, "outputs": 3333},
        "3e6": {"inputs": 1000, "outputs": 3000},
    }

    @classmethod
    def validate(cls, **parameters: Any) -> dict[str, Any]:
        unknown = set(parameters) - {"inputs", "outputs", "n", "noise_std"}
        if unknown:
            raise ValueError(f"{sorted(unknown)[0]}: unknown parameter of case 'multireg'")
        for field in ("inputs", "outputs"):
            if field not in parameters:
                raise ValueError(f"{field}: required")
        inputs = as_int("inputs", parameters["inputs"], minimum=1)
        outputs = as_int("outputs", parameters["outputs"], minimum=1)
        network = DLNCase.validate(
            widths=(inputs, outputs),
            rank=min(inputs, outputs),
            n=parameters.get("n", 100_000),
            noise_std=parameters.get("noise_std", 1.0),
        )
        return {"inputs": inputs, "outputs": outputs, "n": network["n"],
                "noise_std": network["noise_std"]}

    def _network(self) -> DLNCase:
        p = self.parameters
        return DLNCase(widths=(p["inputs"], p["outputs"]), rank=min(p["inputs"], p["outputs"]),
                       n=p["n"], noise_std=p["noise_std"])

    @property
    def dim(self) -> int:
        return int(self.parameters["inputs"] * self.parameters["outputs"])

    def exact(self) -> RLCT:
        base = regular(self.dim)
        return replace(
            base,
            certificate=base.certificate + "; = Aoyagi 2024 with one layer (tests)",
            point="W* = a random full-rank matrix (any true W: the model is regular)",
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
        """Full-batch unadjusted Langevin (``sgld`` on the sufficient-statistics loss), nbeta = 1000,
        gamma = 1, eps = 0.02 / nbeta, 4 chains x 5,000 steps (1,000 burn-in), at every size.

        Why: the tempered localized posterior is Gaussian with precision p ~ nbeta Sxx + gamma, so
        this chain contracts by (1 - eps p / 2) per step (an e-fold in ~100 steps, whatever d) and
        its bias is known: +eps p / 4 = +0.5% in lambda-hat. The estimator's own bias is the data
        fluctuation -nbeta (L_n(w*) - min L_n) ~ -(nbeta / n) d / 2, -1% at n = 10^5. Not MALA:
        started at w* (the mode) it must cross a transient in which its step has to shrink like
        d^(-1/2) (Christensen, Roberts & Rosenthal 2005); measured at d = 10^4, eps nbeta = 0.093
        accepts nothing, 0.03 accepts 91%, while the unadjusted chain at 0.02 reads 4,966 for
        lambda = 5,000 (-0.7%, R-hat 1.06 after 2,000 draws)."""
        return SamplerSettings(
            sampler="sgld", step_size=STEP_TIMES_NBETA / NBETA, nbeta=NBETA, localization=1.0,
            chains=4, steps=5_000, burnin=1_000, batch_size=None,
        )
