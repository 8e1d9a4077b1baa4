"""Our settings in devinterp's terms, and devinterp's own estimator on our targets (optional)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rlct.numeric.settings import SamplerSettings
from rlct.validation import devinterp_adapter


def test_sgld_arguments_map_term_by_term():
    settings = SamplerSettings(step_size=3e-5, nbeta=120.0, localization=5.0, chains=6,
                               steps=5000, burnin=4500, batch_size=500)
    args = devinterp_adapter.devinterp_arguments(settings)
    assert args == {
        "lr": 3e-5,
        "n_beta": 120.0,
        "localization": 5.0,
        "num_chains": 6,
        "num_draws": 500,
        "num_burnin_steps": 4500,
        "num_steps_bw_draws": 1,
        "batch_size": 500,
        "sampling_method": "sgmcmc_sgld",
        "noise_level": 1.0,
        "llc_weight_decay": 0.0,
    }


def test_default_nbeta_is_resolved_from_n_and_psgld_maps_to_rmsprop():
    settings = SamplerSettings(sampler="psgld", psgld_alpha=0.9, psgld_eps=1e-3, batch_size=None)
    args = devinterp_adapter.devinterp_arguments(settings, n=10_000)
    assert args["n_beta"] == pytest.approx(10_000 / math.log(10_000))
    assert args["sampling_method"] == "rmsprop_sgld"
    assert (args["rmsprop_alpha"], args["rmsprop_eps"]) == (0.9, 1e-3)
    assert args["batch_size"] == 10_000  # full batch
    assert devinterp_adapter.devinterp_arguments(settings)["n_beta"] == "n/log n"


def test_mala_has_no_devinterp_counterpart():
    with pytest.raises(ValueError, match="^sampler: devinterp has no 'mala'"):
        devinterp_adapter.devinterp_arguments(SamplerSettings(sampler="mala", batch_size=None))
    assert devinterp_adapter.describe_arguments(SamplerSettings(sampler="mala")).startswith("n/a")


def test_control_variates_have_no_devinterp_counterpart():
    """SGLD-CV must not be passed off as devinterp's plain SGLD under the same settings."""
    cv = SamplerSettings(control_variate=True)
    with pytest.raises(ValueError, match="^control_variate: devinterp has no SGLD with control"):
        devinterp_adapter.devinterp_arguments(cv)
    assert devinterp_adapter.describe_arguments(cv).startswith("n/a")
    assert not devinterp_adapter.supports(cv) and not devinterp_adapter.supports(
        SamplerSettings(sampler="mala", batch_size=None)
    )
    assert devinterp_adapter.supports(SamplerSettings()) and devinterp_adapter.supports(
        SamplerSettings(sampler="psgld")
    )


def test_run_without_devinterp_says_so(monkeypatch):
    monkeypatch.setattr(devinterp_adapter, "available", lambda: False)
    with pytest.raises(ValueError, match="^devinterp: devinterp is not installed"):
        devinterp_adapter.run(object(), SamplerSettings())


@pytest.mark.slow  # importing devinterp's stack (transformers, datasets, zarr) takes ~10 s
@pytest.mark.devinterp
def test_devinterp_estimator_runs_on_our_quadratic_target():
    """devinterp 2.0.1 sampling our target L(w) = |w|^2/2 (d = 3): its burn-in-excluded
    estimate lands near ours for the same settings (both sample the same distribution)."""
    if not devinterp_adapter.available():
        pytest.skip(devinterp_adapter.NOT_INSTALLED)
    from rlct.numeric.llc import estimate_llc
    from rlct.validation.testing import QuadraticCase

    problem = QuadraticCase(d=3).build(seed=0)
    settings = SamplerSettings(step_size=1e-2, chains=2, steps=300, burnin=100, batch_size=16)
    theirs = devinterp_adapter.run(problem, settings, seed=0)
    ours = estimate_llc(problem.target, settings, seed=0)
    assert theirs["loss_trace"].shape == (2, 300)
    assert theirs["model"] == "flat target parameter"
    assert theirs["init_loss"] == pytest.approx(0.0)
    assert np.isfinite(theirs["llc_mean_devinterp"]) and np.isfinite(theirs["llc_mean_after_burnin"])
    # L = |w|^2/2 under exp(-nbeta L - |w|^2/2): nbeta E[L] = d nbeta / (2 (nbeta + 1)) ~ 1.41.
    # Measured (seed 0): devinterp 1.63, ours 1.51; 2 chains x 200 draws have ~10% standard
    # error, plus ~4% step-size bias at eps * (nbeta + gamma) / 4 = 0.04.
    STATISTICAL_MARGIN = 0.35  # ~3 standard errors
    expected = 3 * ours.nbeta / (2 * (ours.nbeta + 1))
    assert theirs["llc_mean_after_burnin"] == pytest.approx(expected, rel=STATISTICAL_MARGIN)
    assert ours.llc_mean == pytest.approx(expected, rel=STATISTICAL_MARGIN)


def _fake_run_output(settings, chains=2):
    rng = np.random.default_rng(0)
    trace = 0.01 + 0.001 * rng.standard_normal((chains, settings.steps))
    return {
        "llc_mean_devinterp": 1.25,
        "llc_per_chain_devinterp": np.array([1.2, 1.3][:chains]),
        "llc_mean_after_burnin": 1.5,
        "llc_stderr_after_burnin": 0.05,
        "llc_mean_full_baseline": 1.4,
        "init_loss": 0.0,
        "full_init_loss": 0.0,
        "loss_trace": trace,
        "nbeta": 100.0,
        "wall_time": 2.0,
        "arguments": {},
        "model": "flat target parameter",
    }


def test_devinterp_jobs_flow_through_run_job(monkeypatch):
    """A job with estimator="devinterp" is estimated by the adapter (here with devinterp's
    output scripted) and recorded like any other: devinterp's own number as llc_mean, the
    burn-in-excluded and full-baseline variants as extra columns."""
    from rlct.validation.jobs import Job
    from rlct.validation.run import run_job
    from rlct.validation.testing import REGISTRY, QuadraticCase

    calls = []

    def fake_run(problem, settings, *, seed=0, device="cpu", **_):
        calls.append((problem.dim, seed))
        return _fake_run_output(settings)

    monkeypatch.setattr(devinterp_adapter, "run", fake_run)
    case = QuadraticCase(d=3)
    job = Job(case="quadratic", scale="d2", params=case.parameters,
              settings=case.recommended(), seed=4, estimator="devinterp")
    outcome = run_job(job, cases=REGISTRY)
    row = outcome.row
    assert calls == [(3, 4)]
    assert row["status"] == "ok" and row["estimator"] == "devinterp"
    assert row["llc_mean"] == pytest.approx(1.25)
    assert row["llc_stderr"] == pytest.approx(np.std([1.2, 1.3], ddof=1) / math.sqrt(2))
    assert row["llc_mean_after_burnin"] == 1.5 and row["llc_mean_full_baseline"] == 1.4
    assert row["chain_method"] == "devinterp" and row["relative_error"] == pytest.approx(
        abs(1.25 - 1.5) / 1.5
    )
    assert outcome.trace["loss_trace"].shape == (2, 40)


def test_validate_with_devinterp_estimator_requires_devinterp(monkeypatch, tmp_path):
    from rlct.validation.sweep import validate
    from rlct.validation.testing import REGISTRY

    monkeypatch.setattr(devinterp_adapter, "available", lambda: False)
    with pytest.raises(ValueError, match="^estimator: devinterp is not installed"):
        validate("quick", registry=REGISTRY, llc_estimator="devinterp", out=tmp_path,
                 device="cpu")
    with pytest.raises(ValueError, match="^estimator: "):
        validate("quick", registry=REGISTRY, llc_estimator="pyro", out=tmp_path, device="cpu")
