"""The nbeta study (validation/nbeta_study.py): population statistics, resumable points, report."""

from __future__ import annotations

import json

import pytest
import torch

from rlct.cases.base import get_case
from rlct.validation import nbeta_study


def test_population_statistics_are_the_large_n_limit_of_the_case_data():
    model, case = nbeta_study.population_model("1e2")
    problem = case.build(seed=nbeta_study.DATA_SEED)
    empirical = problem.target.multilinear
    assert torch.equal(model.w_star, empirical.w_star)
    assert torch.allclose(model.sxx, torch.eye(model.sxx.shape[0], dtype=torch.float64))
    # n = 10^5 rows: empirical statistics within a few 1/sqrt(n) of the population ones
    assert float((empirical.sxx - model.sxx).abs().max()) < 0.03
    assert float((empirical.syx - model.syx).abs().max()) < 0.05
    # the population loss at w* is the noise floor H_L / 2 (sigma = 1), and the population
    # loss difference is K(w) = ||P(w) - P*||^2 / (2 sigma^2) >= 0
    widths = case.parameters["widths"]
    assert float(model.loss(model.w_star.unsqueeze(0))[0]) == pytest.approx(widths[-1] / 2, rel=1e-12)
    w = model.w_star + 0.1 * torch.randn(3, model.dim, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    assert bool((model.loss(w) >= model.loss(model.w_star.unsqueeze(0))).all())


def test_plan_rejects_bad_input():
    with pytest.raises(ValueError, match="scales"):
        nbeta_study.plan(["1e9"], [1e3], 1.0, 4, 0)
    with pytest.raises(ValueError, match="nbetas"):
        nbeta_study.plan(["1e2"], [-1.0], 1.0, 4, 0)
    assert nbeta_study.main(["--nbetas", "abc", "--out", "unused"]) == 2
    assert nbeta_study.main(["--chains", "1", "--out", "unused"]) == 2


def test_study_runs_resumes_and_reports(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(nbeta_study, "sweeps_for", lambda dim: (60, 20))
    out = tmp_path / "nbeta"
    argv = ["--out", str(out), "--scales", "1e2", "--nbetas", "100,1000"]
    assert nbeta_study.main(argv) == 0
    stored = sorted((out / "results").glob("*.json"))
    assert [p.name for p in stored] == ["dln-1e2-nbeta100-gamma1-seed0.json", "dln-1e2-nbeta1000-gamma1-seed0.json"]
    record = json.loads(stored[1].read_text())
    assert record["lambda_exact"] == str(get_case("dln")(**get_case("dln").scales["1e2"]).exact().value)
    assert record["chains"] == 4 and len(record["lambda_beta_per_chain"]) == 4
    assert 30 < record["lambda_beta"] < 50  # lambda = 42; 40 draws per chain
    mtimes = [p.stat().st_mtime_ns for p in stored]
    capsys.readouterr()
    assert nbeta_study.main(argv) == 0  # resumes: nothing recomputed
    assert [p.stat().st_mtime_ns for p in stored] == mtimes
    assert "lambda_beta" not in capsys.readouterr().out
    report = (out / "README.md").read_text()
    assert "| 1e2 | 200 | 42 (m=1) |" in report
    assert (out / "plots" / "nbeta_bias.png").stat().st_size > 0
    assert (out / "nbeta.csv").read_text().count("\n") == 3
