"""Sweeps end to end (scripted estimator): Markdown report, PNG plots, CSV, manifest."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest

from rlct.validation import aggregate, report
from rlct.validation.grid import CalibrationGrid
from rlct.validation.sweep import calibrate, plan_validation, validate
from rlct.validation.testing import REGISTRY, QuadraticCase, ScriptedEstimator

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_plan_validation_quick_and_full():
    quick = plan_validation("quick", seeds=2, registry=REGISTRY)
    assert [(j.scale, j.seed) for j in quick] == [("d2", 0), ("d2", 1)]
    full = plan_validation("full", seeds=1, registry=REGISTRY, max_parameters=20)
    assert [j.scale for j in full] == ["d2", "d10"]  # d40 is over the parameter limit
    assert all(j.settings == QuadraticCase(d=2).recommended() for j in full)
    with pytest.raises(ValueError, match="^cases: unknown case 'nope'"):
        plan_validation("quick", cases=["nope"], registry=REGISTRY)
    with pytest.raises(ValueError, match="^mode: "):
        plan_validation("medium", registry=REGISTRY)
    with pytest.raises(ValueError, match="^seeds: "):
        plan_validation("quick", seeds=0, registry=REGISTRY)


def test_plan_validation_skips_the_named_cells():
    full = plan_validation("full", seeds=1, registry=REGISTRY, skip="quadratic/d10")
    assert [j.scale for j in full] == ["d2", "d40"]
    assert plan_validation("full", seeds=1, registry=REGISTRY, skip=["quadratic/d2"])[0].scale == "d10"
    for bad, message in [("quadratic", "expected case/scale"), ("x/d2", "unknown case 'x'"),
                         ("quadratic/d3", "has no scale 'd3'"), (",", "expected comma-separated")]:
        with pytest.raises(ValueError, match=f"^skip: .*{message}"):
            plan_validation("full", seeds=1, registry=REGISTRY, skip=bad)


def test_validation_report_has_markdown_plots_csv_and_manifest(tmp_path):
    out = tmp_path / "report"
    summary = validate("full", seeds=2, out=out, device="cpu", registry=REGISTRY,
                       estimator=ScriptedEstimator())
    assert summary.report == out / "README.md"
    text = summary.report.read_text()
    # the top states the command that regenerates the report
    assert text.splitlines()[4] == "```bash"
    assert text.splitlines()[5] == summary.command
    assert summary.command.startswith("rlct validate --full --seeds 2 --executor serial")
    assert "## Headline" in text and "## Per case × scale" in text
    for name in ("estimate_vs_exact", "error_vs_parameters", "error_split", "loss_traces"):
        png = out / "plots" / f"{name}.png"
        assert png.read_bytes()[:8] == PNG_MAGIC
        assert f"(plots/{name}.png)" in text
    results = pd.read_csv(out / "results.csv")
    assert len(results) == 6 and set(results["status"]) == {"ok"}
    cells = pd.read_csv(out / "cells.csv")
    assert list(cells["scale"]) == ["d2", "d10", "d40"]
    assert list(cells["lambda_exact"].astype(str)) == ["1", "5", "20"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["command"] == summary.command
    assert manifest["config"]["mode"] == "full" and manifest["config"]["seeds"] == 2
    assert manifest["versions"]["torch"] and manifest["versions"]["python"]
    assert "commit" in manifest["git"] and manifest["hardware"]["device"] == "cpu"
    assert manifest["run"]["ran"] == 6 and len(manifest["job_ids"]) == 6
    head = summary.headline
    assert head["median_met"] and head["max_met"] and head["median_relative_error"] < 0.05
    # the finite-nbeta reference of every cell, and the estimates' deviation from it
    nbeta = 64 / math.log(64)
    expected = [d / 2 * nbeta / (nbeta + 1.0) for d in (2, 10, 40)]
    assert cells["lambda_finite_nbeta"].tolist() == pytest.approx(expected, rel=1e-12)
    deviation = (cells["lambda_hat"] - cells["lambda_finite_nbeta"]).abs() / cells["lambda_finite_nbeta"]
    assert head["reference_cells"] == 3
    assert head["reference_max_deviation"] == pytest.approx(deviation.max(), rel=1e-9)
    assert head["reference_cells_quadrature"] == 3 and head["reference_cells_gibbs"] == 0
    assert cells["sampler_error"].abs().tolist() == pytest.approx(deviation.tolist(), rel=1e-9)
    assert "| λ_β ± se | sampler error | estimator bias | ref. R-hat / ESS |" in text
    assert "over the 3 of 3 case × scale cells that have a reference λ_β (0 exact Gibbs, 3 quadrature)" in text


def test_report_says_plainly_when_targets_are_not_met(tmp_path):
    class Biased(ScriptedEstimator):
        def __call__(self, target, settings, **kwargs):
            result = super().__call__(target, settings, **kwargs)
            return type(result)(**{**result.__dict__, "llc_mean": 1.3 * target.dim / 2})

    registry = {"quadratic": QuadraticCase, "broken": _BrokenCase}
    summary = validate("quick", seeds=1, out=tmp_path, device="cpu", registry=registry,
                       estimator=Biased())
    text = summary.report.read_text()
    assert "**NOT met**" in text
    assert "1 of 2 cells have no valid estimate" in text and "broken/d2" in text
    assert "scripted failure" in text  # the error message is in the report
    head = summary.headline
    assert not head["median_met"] and not head["max_met"]
    assert head["median_relative_error"] == pytest.approx(0.3)


class _BrokenCase(QuadraticCase):
    name = "broken"

    def __init__(self, **parameters):
        super().__init__(**{**parameters, "behavior": "raise"})


def test_cell_table_excludes_diverged_and_error_jobs():
    rows = []
    for seed, (status, mean) in enumerate([("ok", 1.1), ("ok", 0.9), ("diverged", 50.0),
                                           ("error", None)]):
        rows.append({"case": "c", "scale": "s", "status": status, "llc_mean": mean,
                     "llc_stderr": 0.1, "lambda_exact": "1", "lambda_exact_float": 1.0,
                     "multiplicity": 1, "scope": "local", "dim": 2, "n": 10, "rhat": 1.0,
                     "ess": 100.0, "wall_time": 1.0, "job_time": 1.0, "steps_per_second": 1.0,
                     "chains": 2, "steps": 10, "batch_size": 5, "message": "", "seed": seed})
    cells = aggregate.cell_table(pd.DataFrame(rows))
    row = cells.iloc[0]
    assert (row["ok"], row["diverged"], row["error"]) == (2, 1, 1)
    assert row["lambda_hat"] == pytest.approx(1.0) and row["relative_error"] == pytest.approx(0)
    assert row["lambda_hat_se"] == pytest.approx(0.1)  # std([1.1, 0.9]) / sqrt(2)
    assert row["chain_gradient_rows"] == 2 * 10 * 5
    # pooled, the two seeds cancel; each run on its own is 10% off
    assert row["relative_error_run_mean"] == pytest.approx(0.1)
    assert row["relative_error_run_max"] == pytest.approx(0.1)


def _scatter_cells(spread: float) -> pd.DataFrame:
    """One case x scale under one setting, two seeds at lambda (1 - spread), lambda (1 + spread)."""
    rows = [
        {"case": "c", "scale": "s", "status": "ok", "llc_mean": 2.0 * (1 + sign * spread),
         "llc_stderr": 0.01, "lambda_exact": "2", "lambda_exact_float": 2.0, "multiplicity": 1,
         "scope": "local", "dim": 2, "n": 10, "rhat": 1.0, "ess": 100.0, "wall_time": 1.0,
         "job_time": 1.0, "steps_per_second": 1.0, "chains": 2, "steps": 10, "batch_size": 5,
         "message": "", "seed": seed, "sampler": "sgld", "step_size": 1e-4}
        for seed, sign in enumerate((-1, 1))
    ]
    return aggregate.cell_table(pd.DataFrame(rows), by_settings=True)


@pytest.mark.parametrize("spread, met", [(0.04, True), (0.3, False)])
def test_targets_hold_per_run_not_only_for_the_pooled_estimate(spread, met):
    cells = _scatter_cells(spread)
    assert cells.iloc[0]["relative_error"] == pytest.approx(0)
    head = aggregate.headline(cells)
    assert head["run_max_relative_error"] == pytest.approx(spread)
    assert head["worst_run_relative_error"] == pytest.approx(spread)
    assert head["max_met"] is met and head["median_met"] is (spread <= 0.05)
    table = aggregate.setting_table(cells, (1e3,))
    assert table.iloc[0]["max_relative_error"] == pytest.approx(0)
    assert table.iloc[0]["max_run_error"] == pytest.approx(spread)
    assert bool(table.iloc[0]["meets_targets"]) is met


def test_unmixed_cells_are_flagged_in_the_headline():
    cells = _scatter_cells(0.01)
    assert aggregate.headline(cells)["unmixed_cells"] == []
    slow = cells.assign(rhat_max=1.2, ess_min=14.0)
    head = aggregate.headline(slow)
    assert head["unmixed_cells"] == ["c/s (R-hat 1.2, ESS 14)"]
    assert any("not yet mixed" in line and "c/s" in line for line in report.headline_text(head))
    low_ess = cells.assign(ess_min=50.0)
    assert aggregate.headline(low_ess)["unmixed_cells"] == ["c/s (R-hat 1, ESS 50)"]


def test_buckets():
    edges = (1e3, 1e5, 1e7)
    assert aggregate.bucket_labels(edges) == ["<1e3", "1e3-1e5", "1e5-1e7", ">=1e7"]
    assert [aggregate.bucket_of(d, edges) for d in (10, 1000, 99_999, 10**7)] == [
        "<1e3", "1e3-1e5", "1e3-1e5", ">=1e7"
    ]


GRID = """
[sweep]
seeds = 1
scales = ["d2", "d10"]

[targets]
median_relative_error = 0.05
max_relative_error = 0.15
bucket_edges = [5]

[[grid]]
step_size = [1e-5, 1e-4]
localization = [1.0, 10.0]
steps = [40]
burnin_fraction = [0.5]
chains = [2]
batch_size = [8]

[[grid]]
steps = [40, 80]
chains = [2]
batch_size = [8]
"""


class _StepSensitive(ScriptedEstimator):
    """Reads the exact lambda_beta = (d/2) nb / (nb + gamma) of `QuadraticCase` (its quadrature
    reference) with step size 1e-4 and 30% more otherwise: sampler error 0 or +30%. The
    recommendation must find step 1e-4."""

    def __call__(self, target, settings, **kwargs):
        result = super().__call__(target, settings, **kwargs)
        nbeta = settings.resolved_nbeta(target.n)
        factor = (1.0 if settings.step_size == 1e-4 else 1.3) * nbeta / (nbeta + settings.localization)
        return type(result)(**{**result.__dict__, "llc_mean": factor * result.llc_mean})


def test_calibration_report_recommends_the_cheapest_accurate_setting(tmp_path):
    grid_file = tmp_path / "grid.toml"
    grid_file.write_text(GRID)
    out = tmp_path / "cal"
    summary = calibrate(grid=grid_file, out=out, device="cpu", registry=REGISTRY,
                        estimator=_StepSensitive())
    text = summary.report.read_text()
    assert summary.command.startswith("rlct calibrate --grid ")
    assert f"```bash\n{summary.command}\n```" in text
    # the first lines answer the user: per bucket, what to use and what to expect against lambda
    first = text.splitlines()[2:4]
    assert first[0].startswith("- **d < 5** (rlct): use `sgld, ε=0.0001") and "expect ±" in first[0]
    assert first[1].startswith("- **d ≥ 5** (rlct): use `sgld, ε=0.0001")
    assert "of which -6.1% is the estimator's own bias at nβ = n/log n, γ = 1" in first[0]
    recommendation = pd.read_csv(out / "recommendation.csv")
    assert list(recommendation["bucket"]) == ["<5", ">=5"]
    for _, row in recommendation.iterrows():
        settings = json.loads(row["settings_json"])
        assert settings["step_size"] == 1e-4 and row["meets targets"] == "yes"
        # cheapest accurate: 2 chains x 40 steps x batch 8
        assert (settings["chains"], settings["steps"], settings["batch_size"]) == (2, 40, 8)
        assert "lr=0.0001" in row["devinterp 2.0.1"] and "num_draws=20" in row["devinterp 2.0.1"]
    table = pd.read_csv(out / "settings.csv")
    assert len(table) == 2 * 5  # 2 buckets x (4 + 2 - 1 shared) settings
    assert set(table.loc[table["step_size"] == 1e-5, "meets_targets"]) == {False}
    heatmaps = sorted(p.name for p in (out / "plots").glob("heatmap_*.png"))
    assert heatmaps, "no heatmap was drawn"
    assert all((out / "plots" / h).read_bytes()[:8] == PNG_MAGIC for h in heatmaps)
    assert any("step_size_localization" in h for h in heatmaps)
    assert json.loads((out / "manifest.json").read_text())["config"]["grid"]["sweep"]["seeds"] == 1


def test_calibration_without_any_accurate_setting_says_no(tmp_path):
    grid = CalibrationGrid.from_toml(GRID.replace("[1e-5, 1e-4]", "[1e-5]").replace(
        "steps = [40, 80]", "steps = [40]\nstep_size = [1e-5]"))
    summary = calibrate(grid=grid, out=tmp_path, device="cpu", registry=REGISTRY,
                        estimator=_StepSensitive())
    rows = summary.headline["recommendation"]
    assert rows and all(r["meets targets"] == "**NO**" for r in rows)
    assert all(math.isclose(float(r["median sampler err."].rstrip("%")), 30.0, abs_tol=3)
               for r in rows)


DEVINTERP_GRID = GRID.replace("seeds = 1\n", 'seeds = 1\nestimators = ["rlct", "devinterp"]\n') + """
[[grid]]
sampler = ["mala"]
batch_size = ["full"]
steps = [40]
chains = [2]

[[grid]]
control_variate = [true]
steps = [40]
chains = [2]
batch_size = [8]
"""


def test_calibration_runs_devinterp_on_the_settings_it_has(tmp_path, monkeypatch):
    """With estimators = ["rlct", "devinterp"], devinterp's estimator runs the plain-SGLD
    settings only (it has no MALA and no control variates), its rows are labelled as its own,
    and each bucket gets one recommendation per estimator, ours first."""
    from rlct.validation import devinterp_adapter
    from rlct.validation.sweep import plan_calibration

    monkeypatch.setattr(devinterp_adapter, "available", lambda: True)
    grid = CalibrationGrid.from_toml(DEVINTERP_GRID)
    jobs = plan_calibration(grid, registry=REGISTRY)
    ours = [j for j in jobs if j.estimator == "rlct"]
    theirs = [j for j in jobs if j.estimator == "devinterp"]
    assert len(ours) == 2 * 7 and len(theirs) == 2 * 5  # 2 cells x settings
    assert {(j.settings.sampler, j.settings.control_variate) for j in theirs} == {("sgld", False)}
    assert len({j.id for j in jobs}) == len(jobs)  # same settings, other estimator: other job

    summary = calibrate(grid=grid, out=tmp_path, device="cpu", registry=REGISTRY,
                        estimator=_StepSensitive())
    recommendation = pd.read_csv(tmp_path / "recommendation.csv")
    assert list(recommendation["bucket"]) == ["<5", "<5", ">=5", ">=5"]
    labels = list(recommendation["setting"])
    assert not labels[0].startswith("devinterp") and labels[1].startswith("devinterp's estimator: sgld")
    assert recommendation["devinterp 2.0.1"].iloc[1].startswith("lr=0.0001")
    text = summary.report.read_text()
    matrix = text[text.index("## Signed error per case × scale"):text.index("## Sampler error per case × scale")]
    assert "quadratic/d2 (d=2)" in matrix and "quadratic/d10 (d=10)" in matrix
    assert matrix.count("devinterp's estimator: ") == 5
    assert "+22.1%" in matrix and "mala" in matrix  # 1.3 x lambda_beta = 1.3 x 0.939 lambda


def test_calibration_with_devinterp_needs_devinterp(monkeypatch):
    from rlct.validation import devinterp_adapter
    from rlct.validation.sweep import plan_calibration

    monkeypatch.setattr(devinterp_adapter, "available", lambda: False)
    with pytest.raises(ValueError, match="^sweep.estimators: devinterp is not installed"):
        plan_calibration(CalibrationGrid.from_toml(DEVINTERP_GRID), registry=REGISTRY)


def test_git_state_ignores_regenerated_reports(tmp_path, monkeypatch):
    """A report being regenerated is not "local changes"; an edited code file is."""
    import subprocess

    from rlct.validation import manifest

    def git(*args):
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    git("init", "-q")
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "README.md").write_text("old\n")
    (tmp_path / "code.py").write_text("x = 1\n")
    git("add", ".")
    git("-c", "user.email=t@t", "-c", "user.name=t", "commit", "-q", "-m", "init")
    monkeypatch.setattr(manifest, "CODE_ROOT", tmp_path)
    assert manifest.git_state()["dirty"] is False
    (tmp_path / "reports" / "README.md").write_text("regenerated\n")
    assert manifest.git_state()["dirty"] is False
    (tmp_path / "code.py").write_text("x = 2\n")
    assert manifest.git_state()["dirty"] is True
