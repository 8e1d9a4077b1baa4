"""Accuracy of the LLC estimator against exact values with each case's recommended settings
(slow tier). The issue targets are 10% for deep linear networks (issue 4) and 15% for the other
cases at their smallest scale (issue 5); 3% for the regular multi-output regression.

CI (`pytest -m "slow and ci"`) runs one cell per case family, CI_CELLS, with a tolerance measured
for exactly that setting: the largest |relative error| over two seeds (0 and 1; data seed =
sampler seed) plus 3 times the larger relative between-chain standard error, rounded up to a whole
per cent. Each tolerance is at most its issue target (asserted). The test runs seed 0 on the CPU
(device="cpu": the readings below are CPU draws). Measured on 2 shared CPU cores (relative error,
its standard error in brackets):

==================  ================================  ================  ================  ====
cell                settings                          seed 0            seed 1            tol
==================  ================================  ================  ================  ====
dln 1e2 (d = 200)   recommended: SGLD-CV 4 x 10k      +1.00% (0.81%)    +1.65% (0.37%)    5%
dln 1e3 (d = 1200)  recommended: MALA 4 x 40k         -6.07% (0.47%)    -6.38% (0.27%)    8%
rrr 1e2 (d = 90)    recommended: MALA 4 x 40k         -2.62% (0.38%)    -2.93% (0.45%)    5%
poly 2-ideal        recommended: MALA 4 x 20k         +1.59% (1.06%)    -7.38% (1.51%)    12%
linreg 1e1          recommended, 16 chains x 6k       -2.09% (1.37%)    +1.54% (1.48%)    7%
multireg 1e2        recommended (float64): 4 x 5k     +0.80% (0.86%)    -0.61% (0.94%)    4%
tms c5              recommended, 16 chains x 4k       +3.39% (1.48%)    +5.85% (2.34%)    13%
turing detectA      recommended, 16 chains x 2k       -4.15% (1.20%)    -2.68% (1.05%)    8%
==================  ================================  ================  ================  ====

The 16-chain cells (SGLD-CV and MALA chains are vectorized, so 4x the chains costs ~2x the time)
cut the standard error that dominated their tolerance with the recommended 4 chains (linreg 14%,
tms 17%, turing 15% by the same rule). dln 1e3 reads low by the estimator's own finite-nbeta bias
(cases/dln.py); poly's two seeds differ by more than their standard errors (data), hence 12%.
Float32 except multireg (its known +0.5% step and -1% data biases are float64 figures).
"""

from __future__ import annotations

import math

import pytest
import torch

from rlct.cases import get_case
from rlct.numeric.llc import estimate_llc

DLN_TARGET = 0.10
CASE_TARGET = 0.15
MULTIREG_TARGET = 0.03
GOOD_RHAT = 1.1  # tests only

# name, scale, settings overrides, dtype, tolerance, issue target
CI_CELLS = [
    pytest.param("dln", "1e2", {}, torch.float32, 0.05, DLN_TARGET, id="dln-1e2"),
    pytest.param("dln", "1e3", {}, torch.float32, 0.08, DLN_TARGET, id="dln-1e3"),
    pytest.param("rrr", "1e2", {}, torch.float32, 0.05, CASE_TARGET, id="rrr-1e2"),
    pytest.param("poly", "2-ideal", {}, torch.float32, 0.12, CASE_TARGET, id="poly-2-ideal"),
    pytest.param("linreg", "1e1", {"chains": 16}, torch.float32, 0.07, CASE_TARGET, id="linreg-1e1"),
    pytest.param("multireg", "1e2", {}, torch.float64, 0.04, CASE_TARGET, id="multireg-1e2"),
    pytest.param("tms", "c5", {"chains": 16}, torch.float32, 0.13, CASE_TARGET, id="tms-c5"),
    pytest.param("turing", "detectA", {"chains": 16}, torch.float32, 0.08, CASE_TARGET, id="turing-detectA"),
]


def _relative_error(name: str, scale: str, seed: int = 0, dtype=torch.float32, **overrides) -> float:
    case = get_case(name).at_scale(scale)
    problem = case.build(seed=seed, dtype=dtype)
    result = estimate_llc(problem.target, case.recommended().replace(**overrides), seed=seed, device="cpu")
    assert not result.any_diverged
    assert result.rhat < GOOD_RHAT
    assert math.isfinite(result.llc_stderr)
    return result.relative_error(float(case.exact().value))


@pytest.mark.slow
@pytest.mark.ci
@pytest.mark.parametrize("name, scale, overrides, dtype, tolerance, target", CI_CELLS)
def test_ci_accuracy(name, scale, overrides, dtype, tolerance, target):
    assert tolerance <= target
    error = _relative_error(name, scale, dtype=dtype, **overrides)
    assert error < tolerance, f"{name} {scale}: relative error {error:.4f} (tolerance {tolerance})"


@pytest.mark.slow
def test_rrr_smallest_scale_within_15_percent():
    """(2, 2, 2), r = 0, lambda = 3/2: measured -6.7% (seed 0) and -4.4% (seed 1), stderr ~1%,
    the finite-nbeta bias of a small lambda (README)."""
    assert _relative_error("rrr", "1e1") < CASE_TARGET


@pytest.mark.slow
def test_multireg_1e4_within_3_percent():
    """Regular, well-conditioned: the recommended full-batch Langevin chain is within its known
    biases (+0.5% step, -1% data fluctuation at n = 10^5) of d/2."""
    case = get_case("multireg").at_scale("1e4")
    result = estimate_llc(case.build(seed=0).target, case.recommended(), seed=0, device="cpu")
    assert not result.any_diverged and result.rhat < GOOD_RHAT
    assert result.relative_error(float(case.exact().value)) < MULTIREG_TARGET
