"""One job -> one tidy row: ok, diverged (kept), error (recorded), and the real estimator."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from rlct.numeric.settings import SamplerSettings
from rlct.validation.jobs import Job
from rlct.validation.run import COLUMNS, SETTINGS_FIELDS, run_job
from rlct.validation.testing import REGISTRY, QuadraticCase, ScriptedEstimator


def scripted(behavior="ok", d=4, seed=0):
    case = QuadraticCase(d=d, behavior=behavior)
    return Job(case="quadratic", scale="d2", params=case.parameters,
               settings=case.recommended(), seed=seed)


def test_ok_row_has_every_column_and_the_exact_value():
    outcome = run_job(scripted(d=5), estimator=ScriptedEstimator(), cases=REGISTRY)
    row = outcome.row
    assert set(COLUMNS) <= set(row)
    assert row["status"] == "ok" and row["message"] == ""
    assert row["lambda_exact"] == "5/2" and row["lambda_exact_float"] == 2.5
    assert row["multiplicity"] == 1 and row["scope"] == "local"
    assert row["dim"] == 5 and row["n"] == 64
    assert row["relative_error"] == pytest.approx(abs(row["llc_mean"] - 2.5) / 2.5)
    assert row["diverged"] is False and row["diverged_chains"] == 0
    assert row["nbeta"] is None and row["nbeta_resolved"] == pytest.approx(64 / math.log(64))
    for name in SETTINGS_FIELDS:
        assert row[name] == getattr(scripted().settings, name)
    assert json.loads(row["params"]) == {"behavior": "ok", "d": 5, "delay": 0.0}
    assert outcome.trace is not None and outcome.trace["loss_trace"].shape == (2, 40)


def test_diverged_job_is_recorded_as_diverged_with_its_reason():
    outcome = run_job(scripted("diverge"), estimator=ScriptedEstimator(), cases=REGISTRY)
    row = outcome.row
    assert row["status"] == "diverged" and row["diverged"] is True
    assert row["diverged_chains"] == 1
    assert "chain 0" in row["message"]
    assert math.isfinite(row["llc_mean"])  # the healthy chain's value is kept, flagged
    assert outcome.trace is not None


def test_all_chains_nan_is_diverged_not_averaged():
    row = run_job(scripted("nan"), estimator=ScriptedEstimator(), cases=REGISTRY).row
    assert row["status"] == "diverged" and row["llc_mean"] is None
    assert row["relative_error"] is None


def test_exception_in_a_job_is_recorded_as_error():
    outcome = run_job(scripted("raise"), estimator=ScriptedEstimator(), cases=REGISTRY)
    row = outcome.row
    assert row["status"] == "error"
    assert row["message"].startswith("RuntimeError: scripted failure while building the case")
    assert row["lambda_exact"] == "2"  # what was known before the failure is kept
    assert row["case"] == "quadratic" and row["seed"] == 0 and row["step_size"] == 1e-4
    assert outcome.trace is None


def test_unknown_case_and_bad_parameters_are_errors_not_crashes():
    unknown = Job(case="nope", scale="s", params={}, settings=SamplerSettings(), seed=0)
    row = run_job(unknown, estimator=ScriptedEstimator(), cases=REGISTRY).row
    assert row["status"] == "error" and "case: unknown case 'nope'" in row["message"]
    bad = Job(case="quadratic", scale="d2", params={"d": 0}, settings=SamplerSettings(), seed=0)
    row = run_job(bad, estimator=ScriptedEstimator(), cases=REGISTRY).row
    assert row["status"] == "error" and "d: expected a positive integer" in row["message"]


def test_real_estimator_on_the_real_dln_case_end_to_end():
    """The default estimator (rlct.numeric.llc) and the default registry (cases.registry())."""
    pytest.importorskip("rlct.numeric.llc")
    from rlct.cases import registry

    if "dln" not in registry():
        pytest.skip("the dln case is not registered")
    settings = SamplerSettings(step_size=1e-4, chains=2, steps=200, burnin=100, batch_size=32)
    job = Job(case="dln", scale="tiny", params={"widths": (2, 2, 2), "rank": 1, "n": 500},
              settings=settings, seed=3)
    outcome = run_job(job)
    row = outcome.row
    assert row["status"] in ("ok", "diverged"), row["message"]
    assert row["lambda_exact"] == "2" and row["dim"] == 8 and row["n"] == 500
    assert row["chain_method"] == "vectorized" and row["wall_time"] > 0
    assert outcome.trace["loss_trace"].shape == (2, 200)
    if row["status"] == "ok":
        assert math.isfinite(row["llc_mean"]) and math.isfinite(row["llc_stderr"])
    again = run_job(job).row  # same job, same numbers
    assert again["llc_mean"] == row["llc_mean"]


def test_long_traces_are_stored_as_block_means():
    """Chains longer than MAX_TRACE_POINTS are stored as means of consecutive blocks of
    ``trace_stride`` steps (the report plots moving means); shorter ones unchanged, stride 1."""
    from rlct.validation.run import MAX_TRACE_POINTS, _thinned

    steps = 2 * MAX_TRACE_POINTS + 3
    trace = np.arange(2 * steps, dtype=np.float64).reshape(2, steps)
    thinned, stride = _thinned(trace)
    assert stride == 3 and thinned.shape == (2, steps // 3)
    np.testing.assert_array_equal(thinned[:, 0], trace[:, :3].mean(axis=1))
    np.testing.assert_array_equal(thinned[1, -1], trace[1, 3 * (steps // 3) - 3 : 3 * (steps // 3)].mean())
    short = trace[:, :MAX_TRACE_POINTS]
    same, one = _thinned(short)
    assert one == 1 and same is short
