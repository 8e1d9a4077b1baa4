r"""Program synthesis with noisy Turing machines, at a classical code.

Clift, Murfet & Wallbridge 2021, "Geometry of program synthesis", arXiv 2103.16080; Murfet &
Troiani 2025, "Programs as singularities", arXiv 2504.08075. The model p(y | x, w) is the state
distribution after t steps of the relaxed Turing machine with noisy code w (a point of
prod Delta_Sigma x Delta_Q x Delta_{L,S,R}); the truth is a classical machine from the catalog
of `rlct.exact.turing` (detectA and variants); the data are n training tapes drawn from the
catalog inputs of (machine, t), labelled by the machine's classical output.

Exact value (`exact`): the Newton engine on the exact polynomial K = sum_x (1 - p(y(x)|x, u))
in the square-root chart u = s^2 of the local simplex coordinates u at the classical code (see
`rlct.exact.turing`); certified only if the engine certified it. The K of the loss,
E_x[-log p(y(x)|x, w)], is ~ this polynomial near the code, so lambda and m agree.

Sampling chart (`build`): w = s in R^d, d = |Sigma||Q|(|Sigma| + |Q|), one coordinate per
off-vertex simplex mass, mapped to the code by p_j = s_j^2 / (1 + |s|^2), p_vertex =
1 / (1 + |s|^2) per simplex (`rlct.cases._turing_model`): the square-root chart composed with a
diffeomorphism that is the identity to first order at 0, so lambda and m at w* = 0 are the
square-root-chart values of `exact`. The loss is the mean negative log-likelihood.

Catalog (t = 2; lambda in the sqrt chart = lambda on the orthant / 2; second derivation by the
error structure of `rlct.exact.turing` in tests/test_case_turing.py):

========================  ==  ====================  =========  ===============
machine                    d  inputs                sqrt lam   orthant lam, m
========================  ==  ====================  =========  ===============
detectA                   30  "", A, B, BA          9/2        9, 2
detectA_redundant         30  "", A, BB             19/4       19/2, 2
detectA_pad_symbol        48  "", A, B, BA          11/2       11, 4
detectA_pad_state         54  "", A, B, BA          7          14, 1
========================  ==  ====================  =========  ===============

At t = 1 every machine has K = sum of the first tuples' wrong-state masses (lambda = 3/2, or 3
for detectA_pad_state with its extra state).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from rlct.cases._turing_model import RelaxedTuringModel
from rlct.cases.base import Case, Problem, torch_generator
from rlct.exact import RLCT
from rlct.exact._validate import as_int
from rlct.exact.turing import MACHINES, SynthesisProblem, synthesis_problem, turing_rlct
from rlct.numeric.settings import SamplerSettings
from rlct.numeric.target import Target

DATA_STREAM = 31  # SeedSequence key of the data stream
DEFAULT_N = 10_000
DEFAULT_STEPS = 2
STEP_TIMES_NBETA = 1.1  # MALA step size times n*beta (1e-3 at n = 1e4; see `recommended`)


class TuringCase(Case):
    """Noisy Turing machine at a classical code (module docstring)."""

    name = "turing"
    description = (
        "noisy Turing machines (Clift-Murfet-Wallbridge 2021) at a classical code: detectA, "
        "padded and redundant variants; exact K by sympy, lambda by the Newton engine"
    )
    # Ordered by d (30, 30, 48, 54).
    scales = {
        "detectA": {"machine": "detectA", "steps": 2},
        "detectA_redundant": {"machine": "detectA_redundant", "steps": 2},
        "detectA_pad_symbol": {"machine": "detectA_pad_symbol", "steps": 2},
        "detectA_pad_state": {"machine": "detectA_pad_state", "steps": 2},
    }

    @classmethod
    def validate(cls, **parameters: Any) -> dict[str, Any]:
        unknown = set(parameters) - {"machine", "steps", "n"}
        if unknown:
            raise ValueError(f"{sorted(unknown)[0]}: unknown parameter of case 'turing'")
        machine = parameters.get("machine", "detectA")
        if not isinstance(machine, str) or machine not in MACHINES:
            raise ValueError(f"machine: expected one of {sorted(MACHINES)}, got {machine!r}")
        problem = synthesis_problem(machine, parameters.get("steps", DEFAULT_STEPS))
        n = as_int("n", parameters.get("n", DEFAULT_N), minimum=len(problem.inputs))
        return {"machine": machine, "steps": problem.steps, "n": n}

    @property
    def problem(self) -> SynthesisProblem:
        """The machine, its training inputs and t."""
        return synthesis_problem(self.parameters["machine"], self.parameters["steps"])

    @property
    def dim(self) -> int:
        return self.problem.machine.dimension

    def exact(self) -> RLCT:
        """lambda, m at s = 0 in the sampling chart (= the square-root chart values)."""
        base = turing_rlct(self.parameters["machine"], self.parameters["steps"], "sqrt")
        return RLCT(
            value=base.value,
            multiplicity=base.multiplicity,
            source=base.source,
            scope="local",
            certificate=base.certificate,
            point=f"w* = s = 0 (the {self.problem.describe()})",
            notes=(
                "chart of build(): p_j = s_j^2 / (1 + |s|^2) per simplex = the square-root chart "
                "composed with a diffeomorphism tangent to the identity at 0 (same lambda, m)",
                *base.notes,
            ),
            status=base.status,
        )

    def build(
        self, *, seed: int = 0, device: str | torch.device = "cpu", dtype: torch.dtype = torch.float64
    ) -> Problem:
        """n tapes: every training input once (so the empirical K has every input), the other
        n - |X| drawn uniformly, then shuffled; labels are the machine's classical outputs."""
        problem = self.problem
        model = RelaxedTuringModel(problem, device=device, dtype=dtype)
        n, n_inputs = self.parameters["n"], len(problem.inputs)
        generator = torch_generator(seed, DATA_STREAM)
        drawn = torch.randint(0, n_inputs, (n - n_inputs,), generator=generator)
        inputs = torch.cat([torch.arange(n_inputs), drawn])
        inputs = inputs[torch.randperm(n, generator=generator)].to(device)
        labels = model.labels[inputs]

        weights = torch.bincount(inputs, minlength=n_inputs).to(dtype) / n

        def loss(w: Tensor, batch: tuple[Tensor, ...]) -> Tensor:
            return model.nll(w, batch[0], batch[1])

        def full_data_loss(w: Tensor) -> Tensor:
            # L_n from the counts of each training input (labels are functions of inputs).
            p = model.probability_of_truth(model.code_from_chart(w))
            return -(torch.log(p) * weights.to(p.device)).sum(dim=1)

        target = Target(
            loss=loss,
            data=(inputs, labels),
            w_star=torch.zeros(model.dim, device=device, dtype=dtype),
            name=f"turing:{problem.machine.name}:t={problem.steps}",
            full_data_loss=full_data_loss,
        )
        return Problem(
            case=self.name,
            parameters=dict(self.parameters),
            target=target,
            exact=self.exact(),
            extra={"inputs": problem.inputs, "labels": problem.labels, "model": model},
        )

    def recommended(self) -> SamplerSettings:
        """Full-batch MALA on the exact count-based L_n, step size STEP_TIMES_NBETA / (n beta).

        Calibrated on detectA (n = 1e4, seed 0, 4 chains x 2000 steps, gamma = 1): 4.58 +- 0.04
        (exact 9/2); detectA_redundant 4.57 +- 0.07 (19/4); detectA_pad_symbol 4.80 +- 0.11
        (11/2, m = 4: the (m - 1) log log n term pulls finite-n estimates down). Acceptance
        ~0.8. SGLD (batch 256, eps = 3e-4, 4000 steps) gave 4.32 +- 0.14 on detectA.
        """
        n = self.parameters["n"]
        nbeta = n / math.log(n)
        return SamplerSettings(
            sampler="mala", step_size=STEP_TIMES_NBETA / nbeta, localization=1.0, chains=4,
            steps=2000, burnin=1000, batch_size=None,
        )
