"""Estimator settings: one frozen dataclass, validated on construction."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any

SAMPLERS = ("sgld", "psgld", "mala", "hmc", "gibbs")
FULL_BATCH_SAMPLERS = ("mala", "hmc", "gibbs")
CHAIN_METHODS = ("vectorized", "sequential")


def _positive(name: str, value: Any, *, integer: bool = False, allow_zero: bool = False) -> None:
    ok_type = isinstance(value, int) if integer else isinstance(value, (int, float))
    if isinstance(value, bool) or not ok_type:
        kind = "an integer" if integer else "a number"
        raise ValueError(f"{name}: expected {kind}, got {value!r}")
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        raise ValueError(f"{name}: expected a finite number {'>=' if allow_zero else '>'} 0, got {value!r}")


@dataclass(frozen=True)
class SamplerSettings:
    """Hyperparameters of the SGLD-family LLC estimator (Lau et al. 2023, arXiv 2308.12108).

    Attributes:
        sampler: ``"sgld"``, ``"psgld"`` (RMSProp-preconditioned SGLD), ``"mala"``
            (full-batch Metropolis-adjusted Langevin), ``"hmc"`` (full-batch Hamiltonian Monte
            Carlo, `rlct.numeric.samplers.hmc`; one step is one trajectory of
            ``leapfrog_steps`` gradients, leapfrog step sqrt(step_size)) or ``"gibbs"`` (exact blocked Gibbs,
            `rlct.numeric.gibbs`, for targets that carry a multilinear Gaussian model; one step is
            one sweep over the layers, and ``step_size``, ``batch_size`` and the pSGLD and
            control-variate settings do not apply).
        step_size: epsilon in  dw = (eps/2) grad log p + N(0, eps).
        nbeta: n * beta, the inverse temperature of the tempered likelihood; ``None`` means
            n / log n (beta = 1 / log n, the WBIC temperature).
        localization: gamma, the strength of the Gaussian localization (gamma/2)||w - w*||^2.
        chains: number of independent chains.
        steps: total steps per chain, burn-in included.
        burnin: steps discarded at the start of each chain.
        batch_size: minibatch size per chain; ``None`` uses the full data set (forced for MALA).
        psgld_alpha, psgld_eps: RMSProp decay and damping of the preconditioner (psgld only).
        control_variate: use control-variate minibatch losses and gradients anchored at w*
            (SGLD-CV, Baker et al. 2019) for sgld/psgld; ignored by full-batch samplers.
        leapfrog_steps: leapfrog steps (gradient evaluations) per HMC iteration (hmc only; 1 for
            every other sampler).
        divergence_factor: a chain whose ||w - w*|| exceeds this many localization radii
            sqrt(d / gamma) is flagged as having left the localization region.
    """

    sampler: str = "sgld"
    step_size: float = 1e-4
    nbeta: float | None = None
    localization: float = 1.0
    chains: int = 4
    steps: int = 2000
    burnin: int = 1000
    batch_size: int | None = 256
    psgld_alpha: float = 0.99
    psgld_eps: float = 1e-5
    control_variate: bool = False
    divergence_factor: float = 10.0
    leapfrog_steps: int = 1

    def __post_init__(self) -> None:
        if self.sampler not in SAMPLERS:
            raise ValueError(f"sampler: expected one of {SAMPLERS}, got {self.sampler!r}")
        _positive("step_size", self.step_size)
        if self.nbeta is not None:
            _positive("nbeta", self.nbeta)
        _positive("localization", self.localization, allow_zero=True)
        _positive("chains", self.chains, integer=True)
        _positive("steps", self.steps, integer=True)
        _positive("burnin", self.burnin, integer=True, allow_zero=True)
        if self.burnin >= self.steps:
            raise ValueError(f"burnin: must be < steps ({self.steps}), got {self.burnin}")
        if self.batch_size is not None:
            _positive("batch_size", self.batch_size, integer=True)
        if not 0 < self.psgld_alpha < 1:
            raise ValueError(f"psgld_alpha: expected a number in (0, 1), got {self.psgld_alpha!r}")
        _positive("psgld_eps", self.psgld_eps)
        _positive("divergence_factor", self.divergence_factor)
        _positive("leapfrog_steps", self.leapfrog_steps, integer=True)
        if self.leapfrog_steps != 1 and self.sampler != "hmc":
            raise ValueError(f"leapfrog_steps: only the hmc sampler takes leapfrog steps, got {self.leapfrog_steps} "
                             f"with sampler {self.sampler!r}")
        if not isinstance(self.control_variate, bool):
            raise ValueError(f"control_variate: expected true or false, got {self.control_variate!r}")

    @property
    def gradients_per_step(self) -> int:
        """Gradient evaluations per chain and step (``leapfrog_steps`` for hmc, else 1)."""
        return self.leapfrog_steps

    @property
    def full_batch(self) -> bool:
        """True when every step uses the full data set: the full-batch samplers (mala, hmc,
        and gibbs through the sufficient statistics), or ``batch_size`` None."""
        return self.sampler in FULL_BATCH_SAMPLERS or self.batch_size is None

    @property
    def draws(self) -> int:
        """Draws kept per chain (steps after burn-in)."""
        return self.steps - self.burnin

    def resolved_nbeta(self, n: int) -> float:
        """nbeta, with the default n / log n filled in."""
        if self.nbeta is not None:
            return float(self.nbeta)
        if n < 2:
            raise ValueError(f"n: need at least 2 data points for beta = 1/log n, got {n}")
        return n / math.log(n)

    def replace(self, **changes: Any) -> SamplerSettings:
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SamplerSettings:
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"settings: unknown keys {sorted(unknown)}")
        return cls(**data)
