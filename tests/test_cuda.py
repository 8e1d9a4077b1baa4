"""The CUDA path. Tests marked ``cuda`` run only where CUDA is present (they skip elsewhere;
`benchmarks/gpu_check.sh` runs them with ``pytest -m cuda`` on a GPU machine). The choice of
device by ``device="auto"`` is tested everywhere, with CUDA's presence mocked."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from rlct.cases import get_case
from rlct.numeric.device import resolve_device
from rlct.numeric.llc import estimate_llc, sampling_device
from rlct.numeric.memory import MemoryBudgetError
from rlct.numeric.settings import SamplerSettings
from rlct.numeric.target import Target

HAS_CUDA = torch.cuda.is_available()
SHORT = SamplerSettings(step_size=1e-4, nbeta=100.0, chains=4, steps=200, burnin=100, batch_size=64)


@pytest.fixture(scope="module")
def cpu_problem():
    return get_case("dln")(widths=(6, 5, 4), rank=1, n=2000).build(seed=0, dtype=torch.float32)


# -- device="auto" (everywhere, CUDA mocked) ---------------------------------------------------------


def test_auto_resolves_to_cuda_when_present_and_cpu_otherwise(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == torch.device("cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")


def test_estimate_llc_default_moves_a_cpu_target_to_cuda_when_present(monkeypatch, cpu_problem):
    """The README's example passes no device: the default ("auto") must sample on CUDA where it
    exists. Mocked: CUDA "present", `Target.to` records where it is asked to go (and stays on the
    CPU so the test can run here), CUDA's free memory reads 1 GB."""
    moved: list[torch.device] = []
    original_to = Target.to

    def record(self, device, dtype=None):
        moved.append(torch.device(device))
        return original_to(self, "cpu", dtype)

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (10**9, 10**9))
    monkeypatch.setattr(Target, "to", record)
    assert sampling_device(cpu_problem.target, "auto") == torch.device("cuda")
    estimate_llc(cpu_problem.target, SHORT.replace(steps=10, burnin=5), seed=0)  # default device
    assert moved == [torch.device("cuda")]
    moved.clear()
    estimate_llc(cpu_problem.target, SHORT.replace(steps=10, burnin=5), seed=0, device=None)
    assert moved == []  # None keeps the target where it is


def test_estimate_llc_default_stays_on_the_cpu_without_cuda(monkeypatch, cpu_problem):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    result = estimate_llc(cpu_problem.target, SHORT.replace(steps=10, burnin=5), seed=0)
    assert result.device == "cpu"
    with pytest.raises(ValueError, match="^device: 'cuda' was requested but CUDA is not available"):
        estimate_llc(cpu_problem.target, SHORT, seed=0, device="cuda")


def test_auto_keeps_a_target_already_on_an_accelerator():
    meta = Target(loss=lambda w, b: w.sum(1), data=(torch.zeros(3, 1, device="meta"),),
                  w_star=torch.zeros(2, device="meta"))
    assert sampling_device(meta, "auto") == torch.device("meta")
    assert sampling_device(meta, None) == torch.device("meta")


# -- on a CUDA device ---------------------------------------------------------------------------------


@pytest.mark.cuda
@pytest.mark.skipif(not HAS_CUDA, reason="needs a CUDA device")
@pytest.mark.parametrize("sampler", ["sgld", "psgld", "mala"])
def test_cuda_estimate_runs_on_cuda_and_vectorized_equals_sequential(cpu_problem, sampler):
    settings = SHORT.replace(sampler=sampler, batch_size=None if sampler == "mala" else 64,
                             step_size=2e-4 if sampler == "mala" else 1e-4)
    a = estimate_llc(cpu_problem.target, settings, seed=1, device="cuda")
    b = estimate_llc(cpu_problem.target, settings, seed=1, device="cuda", chain_method="sequential")
    assert a.device.startswith("cuda") and b.device.startswith("cuda")
    assert np.isfinite(a.llc_mean) and not a.any_diverged
    np.testing.assert_allclose(a.loss_trace, b.loss_trace, rtol=1e-4, atol=1e-6)
    c = estimate_llc(cpu_problem.target, settings, seed=1, device="cuda")
    np.testing.assert_array_equal(a.loss_trace, c.loss_trace)  # same seed, same draws on CUDA


@pytest.mark.cuda
@pytest.mark.skipif(not HAS_CUDA, reason="needs a CUDA device")
def test_cuda_recommended_dln_1e2_is_accurate():
    """The CI accuracy check of the CPU (dln 1e2 within 10% of lambda = 42), on CUDA."""
    case = get_case("dln").at_scale("1e2")
    problem = case.build(seed=0, device="cuda", dtype=torch.float32)
    result = estimate_llc(problem.target, case.recommended(), seed=0)
    assert result.device.startswith("cuda")
    assert abs(result.llc_mean - 42) / 42 < 0.10, (result.llc_mean, result.llc_stderr)


@pytest.mark.cuda
@pytest.mark.skipif(not HAS_CUDA, reason="needs a CUDA device")
def test_cuda_float64_mala_on_sufficient_statistics():
    case = get_case("rrr")(n_in=3, n_hidden=2, n_out=3, rank=1, n=10_000)
    problem = case.build(seed=0, device="cuda", dtype=torch.float64)
    settings = case.recommended().replace(steps=2000, burnin=500)
    result = estimate_llc(problem.target, settings, seed=0)
    assert result.dtype == "float64" and result.device.startswith("cuda")
    assert result.acceptance_rate is not None and float(np.mean(result.acceptance_rate)) > 0.3
    assert math.isfinite(result.llc_mean)


@pytest.mark.cuda
@pytest.mark.skipif(not HAS_CUDA, reason="needs a CUDA device")
def test_cuda_memory_guard_reads_the_device(monkeypatch):
    case = get_case("dln")(widths=(100_000, 100_000), rank=0)
    with pytest.raises(MemoryBudgetError, match="on cuda"):
        case.check_memory(case.recommended(), "cuda", torch.float32)
    problem = get_case("dln").at_scale("1e2").build(seed=0, device="cuda", dtype=torch.float32)
    monkeypatch.setenv("RLCT_MEMORY_LIMIT", "1000")
    with pytest.raises(MemoryBudgetError, match="on cuda"):
        estimate_llc(problem.target, SHORT, seed=0)


@pytest.mark.cuda
@pytest.mark.skipif(not HAS_CUDA, reason="needs a CUDA device")
def test_cuda_validation_job_row(tmp_path):
    from rlct.validation.jobs import Job
    from rlct.validation.run import run_job

    case = get_case("linreg")(d=3, n=2000)
    job = Job(case="linreg", scale="d3", params=case.parameters,
              settings=case.recommended().replace(steps=400, burnin=100), seed=0, device="cuda")
    row = run_job(job).row
    assert row["status"] == "ok", row["message"]
    assert row["device"] == "cuda"
