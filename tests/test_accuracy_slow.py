"""Accuracy of the LLC estimator against exact values with each case's recommended settings
(slow tier: long chains). Tolerances are the issue targets: 10% for deep linear networks
(issue 4), 15% for the other cases at their smallest scale (issue 5)."""

from __future__ import annotations

import pytest
import torch

from rlct.cases import get_case
from rlct.numeric.llc import estimate_llc

DLN_TOLERANCE = 0.10
CASE_TOLERANCE = 0.15


def _relative_error(name: str, scale: str, seed: int = 0) -> float:
    case = get_case(name).at_scale(scale)
    problem = case.build(seed=seed, dtype=torch.float32)
    result = estimate_llc(problem.target, case.recommended(), seed=seed)
    assert not result.any_diverged
    assert result.rhat < 1.1
    return result.relative_error(float(case.exact().value))


@pytest.mark.slow
@pytest.mark.ci
def test_dln_1e2_within_10_percent():
    assert _relative_error("dln", "1e2") < DLN_TOLERANCE


@pytest.mark.slow
@pytest.mark.ci
def test_linreg_within_15_percent():
    assert _relative_error("linreg", "1e1") < CASE_TOLERANCE


@pytest.mark.slow
@pytest.mark.parametrize("name, scale", [("rrr", "1e1"), ("rrr", "1e2"), ("poly", "2-ideal")])
def test_case_within_15_percent(name, scale):
    assert _relative_error(name, scale) < CASE_TOLERANCE


@pytest.mark.slow
def test_dln_1e3_within_10_percent():
    """Widths [20, 20, 20, 20], r = 3: full-batch MALA (the recommended sampler above 10^3
    parameters; SGLD-CV at eps = 3e-5 reads +40% here, see cases/dln.py)."""
    assert _relative_error("dln", "1e3") < DLN_TOLERANCE


@pytest.mark.slow
@pytest.mark.parametrize("scale", ["1e2", "1e4"])
def test_multireg_within_3_percent(scale):
    """Regular, well-conditioned: the recommended full-batch Langevin chain is within its known
    biases (+0.5% step, -1% data fluctuation at n = 10^5) of d/2."""
    case = get_case("multireg").at_scale(scale)
    result = estimate_llc(case.build(seed=0).target, case.recommended(), seed=0)
    assert not result.any_diverged and result.rhat < 1.1
    assert result.relative_error(float(case.exact().value)) < 0.03
