"""Deterministic stand-ins for testing the sweep machinery (not for validation results).

`QuadraticCase` is a duck-typed case (it does *not* subclass `rlct.cases.base.Case`, so it never
enters the case registry): the regular model L(w) = |w|^2 / 2 in d dimensions, whose learning
coefficient is d/2 (a regular model: lambda = d/2, m = 1; Watanabe 2009, "Algebraic Geometry
and Statistical Learning Theory", Remark 1.15 / theory.md sec. 0). Its ``behavior`` parameter
makes the paired `ScriptedEstimator` succeed, diverge, fail, or sleep, so the bookkeeping of
every outcome can be tested in milliseconds. `ScriptedEstimator` returns a genuine `LLCResult`
whose numbers are a seeded perturbation of d/2: it does not sample. `GibbsQuadraticCase` is the
same model with an exact-reference hook (`reference_settings`, Gibbs settings, and no
quadrature), for which `ScriptedEstimator` reads the Gibbs settings as the exact reference
lambda_beta = (d/2) n beta / (n beta + gamma) (seeded, +-0.1%): the sweeps' reference jobs and
the error split can be tested without sampling.

``python -m rlct.validation.testing OUT [--jobs N] [--delay S] [--log FILE]`` runs a sweep of N
scripted jobs into OUT (used by the resume test, which kills it midway and reruns it).
"""

from __future__ import annotations

import argparse
import math
import os
import time
from fractions import Fraction
from typing import Any, ClassVar

import numpy as np

from rlct.exact import RLCT
from rlct.numeric.result import LLCResult
from rlct.numeric.settings import SamplerSettings

BEHAVIORS = ("ok", "diverge", "raise", "nan")


class QuadraticCase:
    """L(w) = |w|^2 / 2 on R^d at w* = 0: lambda = d/2 exactly (regular model)."""

    name: ClassVar[str] = "quadratic"
    description: ClassVar[str] = "regular quadratic model (test stand-in)"
    scales: ClassVar[dict[str, dict[str, Any]]] = {
        "d2": {"d": 2},
        "d10": {"d": 10},
        "d40": {"d": 40},
    }

    def __init__(self, **parameters: Any) -> None:
        d = parameters.get("d", 2)
        behavior = parameters.get("behavior", "ok")
        delay = float(parameters.get("delay", 0.0))
        if isinstance(d, bool) or not isinstance(d, int) or d < 1:
            raise ValueError(f"d: expected a positive integer, got {d!r}")
        if behavior not in BEHAVIORS:
            raise ValueError(f"behavior: expected one of {BEHAVIORS}, got {behavior!r}")
        self.parameters = {"d": d, "behavior": behavior, "delay": delay}

    @classmethod
    def at_scale(cls, scale: str, **overrides: Any) -> QuadraticCase:
        if scale not in cls.scales:
            known = list(cls.scales)
            raise ValueError(f"scale: case 'quadratic' has scales {known}, got {scale!r}")
        return cls(**{**cls.scales[scale], **overrides})

    @property
    def dim(self) -> int:
        return int(self.parameters["d"])

    def exact(self) -> RLCT:
        return RLCT(
            value=Fraction(self.parameters["d"], 2),
            multiplicity=1,
            source="regular model: lambda = d/2 (Watanabe 2009, Remark 1.15)",
            scope="local",
            point="w* = 0",
        )

    def recommended(self) -> SamplerSettings:
        return SamplerSettings(chains=2, steps=40, burnin=20, batch_size=8)

    def finite_nbeta_reference(self, settings: SamplerSettings) -> float:
        """n beta E[|w|^2 / 2] = (d / 2) n beta / (n beta + gamma) (Gaussian posterior), n = 64."""
        nbeta = settings.resolved_nbeta(64)
        return self.parameters["d"] / 2 * nbeta / (nbeta + settings.localization)

    def build(self, *, seed: int = 0, device: Any = "cpu", dtype: Any = None) -> Any:
        import torch

        from rlct.cases.base import Problem
        from rlct.numeric.target import Target

        dtype = dtype if dtype is not None else torch.float64
        if self.parameters["behavior"] == "raise":
            raise RuntimeError("scripted failure while building the case")

        def loss(w: torch.Tensor, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
            return 0.5 * (w * w).sum(dim=1) + 0.0 * batch[0].sum(dim=(1, 2))

        d = self.parameters["d"]
        target = Target(
            loss=loss,
            data=(torch.zeros(64, 1, dtype=dtype, device=device),),
            w_star=torch.zeros(d, dtype=dtype, device=device),
            name=f"scripted:{self.parameters['behavior']}:{self.parameters['delay']}",
        )
        return Problem(case=self.name, parameters=dict(self.parameters), target=target,
                       exact=self.exact())


class GibbsQuadraticCase(QuadraticCase):
    """`QuadraticCase` whose reference is a (scripted) Gibbs job instead of quadrature."""

    name: ClassVar[str] = "gibbsquad"

    def reference_settings(self, settings: SamplerSettings) -> SamplerSettings | None:
        if settings.sampler == "gibbs":
            return None
        return SamplerSettings(sampler="gibbs", nbeta=settings.nbeta, localization=settings.localization,
                               chains=2, steps=40, burnin=20, batch_size=None)

    def finite_nbeta_reference(self, settings: SamplerSettings) -> None:
        return None


class ScriptedEstimator:
    """Returns an `LLCResult` near d/2 (seeded, +-1% noise) per the case's scripted behavior;
    optionally sleeps, and appends ``"<d> <seed>"`` to ``log`` each time it runs."""

    def __init__(self, log: str | None = None, started: str | None = None) -> None:
        self.log = log
        self.started = started

    def __call__(
        self, target: Any, settings: SamplerSettings, *, seed: int, device: Any = "cpu", **_: Any
    ) -> LLCResult:
        _, behavior, delay = target.name.split(":")
        if self.started is not None:  # a job is running in this process (orphan-worker tests)
            with open(os.path.join(self.started, f"{os.getpid()}-{seed}"), "w") as handle:
                handle.write(str(os.getpid()))
        if float(delay) > 0:
            time.sleep(float(delay))
        if self.log is not None:
            fd = os.open(self.log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, f"{target.dim} {seed}\n".encode())
            finally:
                os.close(fd)
        rng = np.random.default_rng(np.random.SeedSequence([seed, target.dim]))
        chains, steps = settings.chains, settings.steps
        exact = target.dim / 2
        noise = 0.01
        if settings.sampler == "gibbs":  # the exact reference lambda_beta of the Gaussian posterior
            nbeta = settings.resolved_nbeta(target.n)
            exact = exact * nbeta / (nbeta + settings.localization)
            noise = 0.001
        per_chain = exact * (1 + noise * rng.standard_normal(chains))
        diverged = np.zeros(chains, dtype=bool)
        reasons: tuple[str, ...] = ()
        if behavior == "diverge":
            diverged[0] = True
            per_chain[0] = math.nan
            reasons = ("chain 0: non-finite parameters or loss",)
        if behavior == "nan":
            per_chain[:] = math.nan
        healthy = per_chain[~diverged]
        mean = float(np.mean(healthy)) if healthy.size else math.nan
        nbeta = settings.resolved_nbeta(target.n)
        trace = (per_chain[:, None] / nbeta) + 0.001 * rng.standard_normal((chains, steps))
        return LLCResult(
            llc_mean=mean,
            llc_stderr=float(np.std(healthy, ddof=1) / math.sqrt(healthy.size))
            if healthy.size > 1
            else math.nan,
            llc_stderr_ess=0.01 * exact,
            llc_per_chain=per_chain,
            loss_trace=trace,
            init_loss=0.0,
            rhat=1.0,
            ess=float(chains * (steps - settings.burnin)),
            acceptance_rate=None,
            diverged=diverged,
            divergence_reasons=reasons,
            nbeta=nbeta,
            settings=settings,
            seed=seed,
            device=str(device),
            dtype="float64",
            chain_method="scripted",
            n=target.n,
            dim=target.dim,
            wall_time=0.001,
            steps_per_second=chains * steps / 0.001,
        )


REGISTRY = {"quadratic": QuadraticCase}
REFERENCE_REGISTRY = {"quadratic": QuadraticCase, "gibbsquad": GibbsQuadraticCase}


def scripted_jobs(count: int, delay: float = 0.0) -> list[Any]:
    """``count`` independent scripted jobs (d = 2, seeds 0..count-1)."""
    from rlct.validation.jobs import Job

    case = QuadraticCase(d=2, delay=delay)
    return [
        Job(case="quadratic", scale="d2", params=case.parameters, settings=case.recommended(),
            seed=seed)
        for seed in range(count)
    ]


def main(argv: list[str] | None = None) -> int:
    from rlct.validation.engine import run_jobs
    from rlct.validation.store import ResultStore

    parser = argparse.ArgumentParser(prog="python -m rlct.validation.testing")
    parser.add_argument("out")
    parser.add_argument("--jobs", type=int, default=8)
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--log")
    parser.add_argument("--executor", default="serial")
    parser.add_argument("--started", help="folder: each job writes <pid>-<seed> there when it starts")
    args = parser.parse_args(argv)
    stats = run_jobs(
        scripted_jobs(args.jobs, args.delay),
        ResultStore(args.out),
        args.executor,
        estimator=ScriptedEstimator(args.log, args.started),
        cases=REGISTRY,
    )
    print(stats.describe())
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
