"""The result of an LLC estimate: the number, its error, and the diagnostics that justify it."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rlct.numeric.settings import SamplerSettings


@dataclass(frozen=True)
class LLCResult:
    """Estimate lambda_hat = n beta (E_w[L_n(w)] - L_n(w*)) (Lau et al. 2023, arXiv 2308.12108).

    Arrays are shaped ``(chain, draw)`` or ``(chain,)``. Chains flagged in ``diverged`` are
    excluded from ``llc_mean`` and both standard errors; if every chain diverged the mean is NaN.

    Attributes:
        llc_mean: mean over healthy chains of the per-chain estimates.
        llc_stderr: standard error across healthy chains, std(ddof=1) / sqrt(chains).
        llc_stderr_ess: n beta * sd(loss draws) / sqrt(ESS) (pooled, healthy chains).
        llc_per_chain: (chain,) per-chain estimates n beta (mean_draws L_n - L_n(w*)).
        loss_trace: (chain, steps) the minibatch (or full-batch for MALA) loss at every step,
            burn-in included; ``settings.burnin`` marks the first kept draw.
        init_loss: L_n(w*) on the full data set (the baseline).
        rhat: split R-hat of the kept loss draws (healthy chains).
        ess: bulk effective sample size of the kept loss draws (healthy chains).
        acceptance_rate: (chain,) MALA acceptance rates; None for the SGLD family.
        diverged: (chain,) True where a chain produced NaN/Inf or left the localization region.
        divergence_reasons: one message per diverged chain.
        nbeta: the inverse temperature used (resolved default n / log n).
        settings, seed, device, dtype, chain_method: what was run.
        n, dim: data-set size and parameter count.
        wall_time: seconds for sampling; steps_per_second: chain-steps per second.
    """

    llc_mean: float
    llc_stderr: float
    llc_stderr_ess: float
    llc_per_chain: np.ndarray
    loss_trace: np.ndarray
    init_loss: float
    rhat: float
    ess: float
    acceptance_rate: np.ndarray | None
    diverged: np.ndarray
    divergence_reasons: tuple[str, ...]
    nbeta: float
    settings: SamplerSettings
    seed: int
    device: str
    dtype: str
    chain_method: str
    n: int
    dim: int
    wall_time: float
    steps_per_second: float
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def any_diverged(self) -> bool:
        return bool(np.any(self.diverged))

    def relative_error(self, exact: float) -> float:
        return abs(self.llc_mean - exact) / exact if exact != 0 else math.inf

    def summary(self) -> dict[str, Any]:
        """A flat JSON-able dict (no arrays but the per-chain values)."""
        return {
            "llc_mean": self.llc_mean,
            "llc_stderr": self.llc_stderr,
            "llc_stderr_ess": self.llc_stderr_ess,
            "llc_per_chain": [float(x) for x in self.llc_per_chain],
            "init_loss": self.init_loss,
            "rhat": self.rhat,
            "ess": self.ess,
            "acceptance_rate": None
            if self.acceptance_rate is None
            else float(np.mean(self.acceptance_rate)),
            "diverged": self.any_diverged,
            "diverged_chains": int(np.sum(self.diverged)),
            "divergence_reasons": list(self.divergence_reasons),
            "nbeta": self.nbeta,
            **{k: v for k, v in self.settings.to_dict().items() if k != "nbeta"},
            "seed": self.seed,
            "device": self.device,
            "dtype": self.dtype,
            "chain_method": self.chain_method,
            "n": self.n,
            "dim": self.dim,
            "wall_time": self.wall_time,
            "steps_per_second": self.steps_per_second,
        }
