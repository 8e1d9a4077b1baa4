"""MCMC diagnostics on arrays shaped (chain, draw): split R-hat and bulk ESS.

Private numpy kernels plus thin public wrappers. Too few draws or non-finite input give NaN
rather than an exception. References: Gelman et al. 2013 (BDA3, sec. 11.4-11.5); Vehtari,
Gelman, Simpson, Carpenter, Buerkner 2021, "Rank-normalization, folding, and localization:
an improved R-hat", Bayesian Analysis 16(2) (split R-hat; Geyer's initial monotone sequence
for the ESS).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

MIN_DRAWS = 4


def _as_chain_draw(x: np.ndarray) -> np.ndarray:
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2:
        raise ValueError(f"draws: expected an array shaped (chain, draw), got shape {arr.shape}")
    return arr


def _split_chains(x: np.ndarray) -> np.ndarray:
    """(C, N) -> (2C, N//2): the first and second half of each chain as separate chains."""
    half = x.shape[1] // 2
    return np.concatenate([x[:, :half], x[:, x.shape[1] - half :]], axis=0)


def _autocovariance(x: np.ndarray) -> np.ndarray:
    """Autocovariance of each row by FFT, biased estimator (divides by N)."""
    n = x.shape[-1]
    centred = x - x.mean(axis=-1, keepdims=True)
    size = 1 << (2 * n - 1).bit_length()
    spectrum = np.fft.rfft(centred, n=size, axis=-1)
    acov = np.fft.irfft(spectrum * np.conjugate(spectrum), n=size, axis=-1)[..., :n]
    return acov / n


def rhat(draws: np.ndarray) -> float:
    """Split R-hat (Gelman et al. 2013, eq. 11.4 on split chains). NaN if not computable."""
    x = _as_chain_draw(draws)
    if x.shape[1] < MIN_DRAWS or not np.all(np.isfinite(x)):
        return float("nan")
    s = _split_chains(x)
    n = s.shape[1]
    within = s.var(axis=1, ddof=1).mean()
    between = n * s.mean(axis=1).var(ddof=1)
    if within == 0:
        return float("nan") if between == 0 else float("inf")
    var_plus = (n - 1) / n * within + between / n
    return float(np.sqrt(var_plus / within))


def ess(draws: np.ndarray) -> float:
    """Bulk effective sample size over all chains (Geyer's initial monotone sequence on
    split chains; Vehtari et al. 2021, sec. 3.2). NaN if not computable."""
    x = _as_chain_draw(draws)
    if x.shape[1] < MIN_DRAWS or not np.all(np.isfinite(x)):
        return float("nan")
    s = _split_chains(x)
    chains, n = s.shape
    acov = _autocovariance(s)
    chain_var = acov[:, 0] * n / (n - 1)
    within = chain_var.mean()
    var_plus = within * (n - 1) / n
    if chains > 1:
        var_plus += s.mean(axis=1).var(ddof=1)
    if var_plus <= 0:
        return float("nan")
    rho = 1.0 - (within - acov.mean(axis=0)) / var_plus
    rho[0] = 1.0
    # Geyer: sum consecutive pairs while positive, enforcing monotone decrease.
    pair_sums: list[float] = []
    t = 0
    while t + 1 < n:
        p = float(rho[t] + rho[t + 1])
        if p <= 0:
            break
        if pair_sums and p > pair_sums[-1]:
            p = pair_sums[-1]
        pair_sums.append(p)
        t += 2
    tau = -1.0 + 2.0 * float(np.sum(pair_sums)) if pair_sums else 1.0
    tau = max(tau, 1.0 / np.log10(max(chains * n, 10)))
    return float(chains * n / tau)


@dataclass(frozen=True)
class ChainSummary:
    """The LLC estimate of a set of chains (Lau et al. 2023): per-chain nbeta (mean kept loss -
    L_n(w*)) (NaN for diverged chains), their mean over healthy chains, the standard error across
    chains and the ESS-based one, split R-hat and bulk ESS of the kept healthy draws."""

    per_chain: np.ndarray
    mean: float
    stderr: float
    stderr_ess: float
    rhat: float
    ess: float


def summarize_chains(
    trace: np.ndarray, diverged: np.ndarray, burnin: int, nbeta: float, init_loss: float,
    reasons: list[str],
) -> ChainSummary:
    """Summarize a (chain, draw) loss trace whose first ``burnin`` draws are discarded. Diverged
    chains are excluded, never averaged in, with a RuntimeWarning giving ``reasons``; if every
    chain diverged, every figure is NaN. Shared by the SGLD-family estimator and the Gibbs
    sampler."""
    chains = trace.shape[0]
    kept = trace[:, burnin:]
    with np.errstate(invalid="ignore", over="ignore"):
        per_chain = nbeta * (kept.mean(axis=1) - init_loss)
    per_chain[diverged] = np.nan
    healthy = ~diverged
    n_ok = int(healthy.sum())
    if n_ok < chains:
        warnings.warn(
            f"{chains - n_ok} of {chains} chains diverged and were excluded: " + "; ".join(reasons),
            RuntimeWarning,
            stacklevel=3,
        )
    if n_ok == 0:
        nan = float("nan")
        return ChainSummary(per_chain, nan, nan, nan, nan, nan)
    good = kept[healthy]
    eff = ess(good)
    return ChainSummary(
        per_chain=per_chain,
        mean=float(per_chain[healthy].mean()),
        stderr=float(per_chain[healthy].std(ddof=1) / math.sqrt(n_ok)) if n_ok > 1 else math.nan,
        stderr_ess=float(nbeta * good.std(ddof=1) / math.sqrt(eff)) if eff > 0 else math.nan,
        rhat=rhat(good),
        ess=eff,
    )
