"""Split R-hat and bulk ESS on chains with known answers (Vehtari et al. 2021)."""

from __future__ import annotations

import math

import numpy as np

from rlct.numeric.diagnostics import ess, rhat

GOOD_RHAT = 1.01  # iid chains of 4000 draws: sampling noise in R-hat is ~1e-3


def _ar1(phi: float, chains: int, draws: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    x = np.zeros((chains, draws))
    x[:, 0] = rng.normal(size=chains) / math.sqrt(1 - phi**2)
    for t in range(1, draws):
        x[:, t] = phi * x[:, t - 1] + rng.normal(size=chains)
    return x


def test_iid_chains():
    x = np.random.default_rng(0).normal(size=(4, 4000))
    assert abs(rhat(x) - 1) < GOOD_RHAT - 1
    assert 0.8 * x.size < ess(x) < 1.2 * x.size


def test_ar1_ess_matches_theory():
    """ESS of AR(1) = N (1 - phi) / (1 + phi); within 25% (estimator noise at N = 40000)."""
    x = _ar1(0.9, chains=4, draws=10_000, seed=1)
    expected = x.size * (1 - 0.9) / (1 + 0.9)
    assert abs(ess(x) / expected - 1) < 0.25


def test_rhat_detects_a_shifted_chain():
    x = np.random.default_rng(2).normal(size=(4, 1000))
    x[0] += 2.0
    assert rhat(x) > 1.1


def test_too_few_or_nonfinite_draws_give_nan():
    assert math.isnan(rhat(np.ones((2, 3)))) and math.isnan(ess(np.ones((2, 3))))
    x = np.random.default_rng(3).normal(size=(2, 100))
    x[0, 5] = np.nan
    assert math.isnan(rhat(x)) and math.isnan(ess(x))
