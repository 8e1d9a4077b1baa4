"""A model too large for the machine gets a clear error before anything large is allocated:
one line and exit code 2 on the command line, a `ValueError` naming the size in the API, an
error row (never a crash) in a sweep."""

from __future__ import annotations

import pytest
import torch

from rlct.cases import get_case
from rlct.cli import main
from rlct.numeric import memory
from rlct.numeric.llc import estimate_llc
from rlct.numeric.memory import Footprint, MemoryBudgetError, available_bytes, sampler_bytes
from rlct.numeric.settings import SamplerSettings
from rlct.validation.engine import run_jobs
from rlct.validation.jobs import Job
from rlct.validation.run import run_job
from rlct.validation.store import ResultStore


def test_the_issue_example_is_refused_in_one_line(capsys):
    # d = 10^10: w* alone would be 40 GB in float32. Refused before build allocates anything.
    assert main(["estimate", "dln", "--widths", "100000,100000", "--rank", "0"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("rlct: error: memory: ")
    assert "d = 10,000,000,000 parameters" in err and "4 chains" in err
    assert "lower the model size (d), n, chains" in err and "is free" in err


def test_case_check_names_size_and_what_to_lower():
    case = get_case("dln")(widths=(100_000, 100_000), rank=0)
    settings = case.recommended()
    with pytest.raises(MemoryBudgetError, match=r"^memory: .*d = 10,000,000,000.*use float32 instead"):
        case.check_memory(settings, "cpu", torch.float64)
    assert issubclass(MemoryBudgetError, ValueError)


def test_estimator_refuses_before_sampling(monkeypatch):
    problem = get_case("dln").at_scale("1e2").build(seed=0, dtype=torch.float32)
    settings = SamplerSettings(chains=8, steps=20, burnin=10, batch_size=64)
    needed = sampler_bytes(settings, dim=problem.dim, n=problem.n, row_elements=20, itemsize=4,
                           full_data_loss=True)
    monkeypatch.setenv(memory.ENV_LIMIT, str(needed // 2))
    with pytest.raises(MemoryBudgetError, match=r"sampling 8 chains x 200 parameters \(sgld, float32"):
        estimate_llc(problem.target, settings, seed=0)
    monkeypatch.setenv(memory.ENV_LIMIT, str(needed * 4))
    assert estimate_llc(problem.target, settings, seed=0).llc_per_chain.shape == (8,)


def test_estimate_scales_with_chains_dim_dtype_and_sampler():
    base = SamplerSettings(chains=4, steps=100, burnin=50, batch_size=32)

    def size(settings, dim=10**6, itemsize=4):
        return sampler_bytes(settings, dim=dim, n=10**5, row_elements=10, itemsize=itemsize,
                             full_data_loss=True)

    assert size(base.replace(chains=8)) > 1.9 * size(base)
    assert size(base, dim=2 * 10**6) > 1.9 * size(base)
    assert size(base, itemsize=8) > 1.9 * size(base)
    mala = base.replace(sampler="mala", batch_size=None)
    assert size(mala) > size(base.replace(sampler="psgld")) > size(base)
    assert size(base.replace(control_variate=True)) > size(base)
    # (chains, d) working copies dominate at large d: at least chains x d x itemsize x 6
    assert size(base) >= 4 * 10**6 * 4 * memory.WORKING_COPIES["sgld"]


def test_sweep_records_a_too_large_job_as_an_error_row(tmp_path):
    case = get_case("dln")(widths=(100_000, 100_000), rank=0)
    job = Job(case="dln", scale="huge", params=case.parameters, settings=case.recommended(), seed=0)
    row = run_job(job).row
    assert row["status"] == "error"
    assert row["message"].startswith("MemoryBudgetError: memory: ") and "d = 10,000,000,000" in row["message"]
    store = ResultStore(tmp_path)
    small = get_case("linreg")(d=2, n=200)
    ok = Job(case="linreg", scale="d2", params=small.parameters,
             settings=small.recommended().replace(steps=60, burnin=20), seed=0)
    stats = run_jobs([job, ok], store, "serial")
    assert stats.ran == 2 and dict(stats.statuses) == {"error": 1, "ok": 1}


def test_available_memory_is_read_and_can_be_capped(monkeypatch):
    free = available_bytes("cpu")
    assert free is not None and free > 0
    monkeypatch.setenv(memory.ENV_LIMIT, "1000")
    assert available_bytes("cpu") == 1000
    monkeypatch.setenv(memory.ENV_LIMIT, "lots")
    with pytest.raises(ValueError, match=f"^{memory.ENV_LIMIT}:"):
        available_bytes("cpu")


def test_cuda_free_memory_comes_from_the_device(monkeypatch):
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (123_456, 10**9))
    assert available_bytes(torch.device("cuda")) == 123_456
    with pytest.raises(MemoryBudgetError, match="on cuda"):
        memory.check_fits(10**6, torch.device("cuda"), what="x", lower="y")


def test_footprint_counts_data_and_parameters():
    footprint = get_case("dln")(widths=(10, 20, 30), rank=1, n=1000).footprint()
    assert footprint == Footprint(dim=10 * 20 + 20 * 30, n=1000, row_elements=40,
                                  build_elements=4 * 800 + 100 + 2 * 300)
    assert get_case("rrr")(n_in=3, n_hidden=2, n_out=4, rank=0).footprint().dim == 14
    assert get_case("poly")(f="x*y", copies=3).footprint().dim == 6
