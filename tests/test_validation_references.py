"""Finite-nbeta references in the sweeps: one exact Gibbs reference job per cell x seed (shared by
settings with the same nbeta and gamma), attached to the estimates of the same data and nbeta,
and the error split lambda_hat - lambda = (lambda_hat - lambda_beta) + (lambda_beta - lambda) in
every report (theory.md sec. 8)."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from rlct.cases import get_case
from rlct.cases.base import gibbs_reference_settings
from rlct.numeric.settings import SamplerSettings
from rlct.validation import aggregate, plots, report
from rlct.validation.grid import CalibrationGrid
from rlct.validation.jobs import Job, is_reference
from rlct.validation.sweep import calibrate, plan_calibration, plan_validation, reference_job, validate
from rlct.validation.testing import (
    REFERENCE_REGISTRY,
    REGISTRY,
    GibbsQuadraticCase,
    QuadraticCase,
    ScriptedEstimator,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _lambda_beta(d: int, gamma: float = 1.0, n: int = 64) -> float:
    nbeta = n / math.log(n)
    return d / 2 * nbeta / (nbeta + gamma)


# -- the cases' reference settings ------------------------------------------------------------


@pytest.mark.parametrize("name", ["dln", "rrr", "multireg"])
def test_multilinear_cases_give_gibbs_reference_settings_at_the_same_nbeta_and_gamma(name):
    case_cls = get_case(name)
    for scale in case_cls.scales:
        case = case_cls.at_scale(scale)
        settings = case.recommended()
        reference = case.reference_settings(settings)
        assert reference is not None and reference.sampler == "gibbs" and reference.chains == 4
        assert (reference.nbeta, reference.localization) == (settings.nbeta, settings.localization)
        d = case.dim
        expected = (2000, 500) if d <= 10**4 else (1000, 300) if d <= 10**5 else (400, 100)
        assert (reference.steps, reference.burnin) == expected
        assert case.reference_settings(reference) is None  # Gibbs is its own reference
    # nbeta = None (n / log n) stays None: the Gibbs job resolves it with the same n
    default = case.reference_settings(SamplerSettings(nbeta=None, localization=3.0))
    assert default is not None and default.nbeta is None and default.localization == 3.0


def test_size_thresholds_and_cases_without_a_reference():
    plain = SamplerSettings()
    assert [gibbs_reference_settings(plain, d).steps for d in (10**4, 10**4 + 1, 10**5, 10**5 + 1)] == [
        2000, 1000, 1000, 400]
    assert get_case("poly")(f="x*y").reference_settings(plain) is None
    assert get_case("linreg")(d=2).reference_settings(plain) is None


# -- planning -----------------------------------------------------------------------------------


def test_validation_plans_one_reference_per_cell_and_seed_and_keeps_estimate_ids():
    jobs = plan_validation("full", seeds=2, registry=REFERENCE_REGISTRY)
    references = [j for j in jobs if is_reference(j)]
    estimates = [j for j in jobs if not is_reference(j)]
    assert len(estimates) == 2 * 3 * 2  # 2 cases x 3 scales x 2 seeds
    assert sorted((j.case, j.scale, j.seed) for j in references) == sorted(
        ("gibbsquad", s, seed) for s in ("d2", "d10", "d40") for seed in (0, 1)
    )  # the quadrature case plans none
    for ref in references:
        estimate = next(j for j in estimates if (j.case, j.scale, j.seed) == (ref.case, ref.scale, ref.seed))
        assert (ref.params, ref.device, ref.dtype, ref.estimator) == (
            estimate.params, estimate.device, estimate.dtype, "rlct")
        assert ref.settings == GibbsQuadraticCase(**estimate.params).reference_settings(estimate.settings)
    # estimate jobs are the jobs planned before references existed (same ids, same order)
    plain = plan_validation("full", seeds=2, registry=REGISTRY)
    assert [j.id for j in estimates if j.case == "quadratic"] == [j.id for j in plain]
    old = [Job(case="gibbsquad", scale=s, params=GibbsQuadraticCase.at_scale(s).parameters,
               settings=QuadraticCase().recommended(), seed=seed) for s in ("d2", "d10", "d40")
           for seed in (0, 1)]
    assert [j.id for j in estimates if j.case == "gibbsquad"] == [j.id for j in old]
    # each cell's references follow its estimates
    assert [is_reference(j) for j in jobs[6:12]] == [False, False, True, True, False, False]


def test_real_quick_sweep_plans_gibbs_references_for_the_multilinear_cases_only():
    jobs = plan_validation("quick", cases="dln,rrr,multireg,poly", seeds=2, dtype="float32")
    references = [j for j in jobs if is_reference(j)]
    assert sorted({j.case for j in references}) == ["dln", "multireg", "rrr"]
    assert len(references) == 3 * 2
    for ref in references:
        recommended = get_case(ref.case)(**ref.params).recommended()
        assert ref.settings.sampler == "gibbs"
        assert (ref.settings.nbeta, ref.settings.localization) == (recommended.nbeta, recommended.localization)
        assert ref.dtype == "float32"  # the estimates' dtype: the same data


def test_calibration_shares_one_reference_per_seed_among_settings_with_the_same_nbeta_and_gamma():
    grid = CalibrationGrid.from_toml("""
[sweep]
seeds = 2
scales = ["d2", "d10"]
[[grid]]
step_size = [1e-5, 1e-4]
localization = [1.0, 10.0]
steps = [40]
chains = [2]
batch_size = [8]
""")
    jobs = plan_calibration(grid, registry=REFERENCE_REGISTRY)
    assert len({j.id for j in jobs}) == len(jobs)
    references = [j for j in jobs if is_reference(j)]
    # 2 cells x 2 gammas x 2 seeds for the Gibbs stand-in; the step sizes share theirs
    assert len(references) == 2 * 2 * 2 and {j.case for j in references} == {"gibbsquad"}
    assert len([j for j in jobs if not is_reference(j)]) == 2 * 2 * 4 * 2


def test_reference_settings_must_be_gibbs():
    class Wrong(QuadraticCase):
        def reference_settings(self, settings):
            return settings.replace(sampler="mala")

    job = Job(case="quadratic", scale="d2", params=QuadraticCase().parameters,
              settings=QuadraticCase().recommended(), seed=0)
    with pytest.raises(ValueError, match="reference_settings must use the sampler 'gibbs'"):
        reference_job(Wrong(), job)
    assert reference_job(QuadraticCase(), job) is None


# -- attaching references and the split ----------------------------------------------------------


def _row(**changes):
    row = {"case": "c", "scale": "s", "params": '{"d":2}', "seed": 0, "dtype": "float64",
           "status": "ok", "llc_mean": 1.0, "llc_stderr": 0.01, "lambda_exact": "2",
           "lambda_exact_float": 2.0, "multiplicity": 1, "scope": "local", "dim": 4, "n": 100,
           "rhat": 1.0, "ess": 400.0, "wall_time": 1.0, "job_time": 1.0, "steps_per_second": 1.0,
           "chains": 2, "steps": 10, "batch_size": 5, "message": "", "sampler": "sgld",
           "nbeta": 1000.0, "nbeta_resolved": 1000.0, "localization": 1.0,
           "lambda_finite_nbeta": None, "job_id": "x"}
    row.update(changes)
    return row


def _synthetic_frame() -> pd.DataFrame:
    gibbs = dict(sampler="gibbs", batch_size=None, chains=4, steps=2000)
    return pd.DataFrame([
        _row(seed=0, llc_mean=1.7, job_id="e0"),
        _row(seed=1, llc_mean=2.1, job_id="e1"),
        _row(seed=2, llc_mean=None, status="error", nbeta_resolved=None, job_id="e2"),
        _row(seed=0, llc_mean=1.6, llc_stderr=0.03, rhat=1.01, ess=900.0, job_id="r0", **gibbs),
        _row(seed=1, llc_mean=2.0, llc_stderr=0.04, rhat=1.05, ess=80.0, job_id="r1", **gibbs),
        # not references of these estimates: other nbeta, other gamma, other data, failed
        _row(seed=0, llc_mean=9.0, nbeta=500.0, nbeta_resolved=500.0, job_id="x1", **gibbs),
        _row(seed=0, llc_mean=9.0, localization=10.0, job_id="x2", **gibbs),
        _row(seed=0, llc_mean=9.0, params='{"d":3}', job_id="x3", **gibbs),
        _row(seed=0, llc_mean=9.0, dtype="float32", job_id="x4", **gibbs),
        _row(seed=1, llc_mean=9.0, status="diverged", job_id="x5", **gibbs),
        _row(seed=2, llc_mean=9.0, status="error", job_id="x6", **gibbs),
    ])


def test_references_attach_to_the_estimates_of_the_same_data_nbeta_and_gamma():
    attached = aggregate.attach_references(_synthetic_frame())
    assert list(attached["job_id"]) == ["e0", "e1", "e2"]  # reference rows are not estimates
    assert list(attached["reference_job_id"]) == ["r0", "r1", None]
    assert attached["lambda_finite_nbeta"].tolist()[:2] == [1.6, 2.0]
    assert attached["reference_source"].tolist() == ["gibbs", "gibbs", None]
    assert attached["sampler_error"].tolist()[:2] == pytest.approx([0.1 / 1.6, 0.1 / 2.0])
    assert attached["estimator_bias"].tolist()[:2] == pytest.approx([-0.2, 0.0])
    assert pd.isna(attached["sampler_error"].iloc[2])
    again = aggregate.attach_references(attached)  # idempotent
    assert again["lambda_finite_nbeta"].tolist()[:2] == [1.6, 2.0]


def test_split_columns_of_a_cell_and_the_headline():
    cells = aggregate.cell_table(_synthetic_frame())
    assert len(cells) == 1  # references are not cells
    cell = cells.iloc[0]
    assert (cell["seeds"], cell["ok"], cell["error"]) == (3, 2, 1)
    assert cell["lambda_hat"] == pytest.approx(1.9)
    assert cell["lambda_finite_nbeta"] == pytest.approx(1.8)
    assert cell["lambda_finite_nbeta_se"] == pytest.approx(math.hypot(0.03, 0.04) / 2)
    assert cell["reference_source"] == "gibbs" and cell["reference_seeds"] == 2
    assert cell["sampler_error"] == pytest.approx((1.9 - 1.8) / 1.8)
    assert cell["sampler_error_run_max"] == pytest.approx(0.1 / 1.6)
    assert cell["estimator_bias"] == pytest.approx((1.8 - 2.0) / 2.0)
    assert (cell["reference_rhat_max"], cell["reference_ess_min"]) == (1.05, 80.0)
    assert aggregate.reference_deviation(cells).iloc[0] == pytest.approx(abs(cell["sampler_error"]))
    head = aggregate.headline(cells)
    assert (head["cells"], head["measured_cells"]) == (1, 1)
    assert head["median_relative_error"] == pytest.approx(0.05)  # of the estimates, not the references
    assert (head["reference_cells"], head["reference_cells_gibbs"], head["reference_cells_quadrature"]) == (1, 1, 0)
    assert head["sampler_error_max"] == pytest.approx(abs(cell["sampler_error"]))
    assert head["sampler_error_worst"] == pytest.approx(cell["sampler_error"])
    assert head["estimator_bias_median"] == pytest.approx(0.1) and head["estimator_bias_worst"] == pytest.approx(-0.1)
    assert head["estimator_bias_worst_cell"] == head["sampler_error_worst_cell"] == "c/s"
    assert head["reference_unmixed_cells"] == ["c/s (R-hat 1.05, ESS 80)"]
    lines = report.headline_text(head)
    assert any("over the 1 of 1 case × scale cells that have a reference λ_β (1 exact Gibbs, 0 quadrature)"
               in line for line in lines)
    assert any("References not yet mixed" in line for line in lines)
    # the targets of the recommended settings: median <= 2%, max <= 5% (here one cell at +5.6%)
    assert head["sampler_error_over_max_cells"] == ["c/s (+5.6%)"]
    target_line = next(line for line in lines if "Sampler-error targets" in line)
    assert "median **NOT met**, max **NOT met**; over 5.0%: c/s (+5.6%)." in target_line


def test_a_cell_without_a_reference_gets_blanks_not_zeros():
    frame = pd.DataFrame([_row(seed=0, llc_mean=1.9), _row(seed=1, llc_mean=2.1)])
    cells = aggregate.cell_table(frame)
    for column in ("lambda_finite_nbeta", "lambda_finite_nbeta_se", "sampler_error", "estimator_bias",
                   "reference_rhat_max"):
        assert np.isnan(cells.iloc[0][column]), column
    table = report._validation_table(cells)
    for column in ("λ_β ± se", "sampler error", "estimator bias", "ref. R-hat / ESS"):
        assert table.iloc[0][column] == ""
    head = aggregate.headline(cells)
    assert head["reference_cells"] == 0 and "sampler_error_median" not in head
    assert "0 of 1 case × scale cells have a reference" in report.headline_text(head)[-1]


def test_command_line_prints_the_split():
    from rlct.cli.validate import split_line

    head = aggregate.headline(aggregate.cell_table(_synthetic_frame()))
    line = split_line(head)
    assert line.startswith("error split: 1 of 1 cells have a reference lambda_beta (1 Gibbs, 0 quadrature)")
    assert "sampler error" in line and "estimator bias" in line and "(c/s)" in line
    none = split_line(aggregate.headline(aggregate.cell_table(pd.DataFrame([_row()]))))
    assert none == "error split: 0 of 1 cells have a reference lambda_beta (0 Gibbs, 0 quadrature)"


def test_split_plot_draws_with_and_without_references(tmp_path):
    with_ref = aggregate.cell_table(_synthetic_frame())
    without = aggregate.cell_table(pd.DataFrame([_row()]))
    for name, cells in (("with", with_ref), ("without", without), ("both", pd.concat([with_ref, without]))):
        path = plots.error_split_vs_parameters(cells, tmp_path / f"{name}.png")
        assert path.read_bytes()[:8] == PNG_MAGIC


# -- end to end (scripted estimator) --------------------------------------------------------------


def test_validation_report_splits_the_error_of_every_cell_with_a_reference(tmp_path):
    registry = {**REFERENCE_REGISTRY, "plain": _NoReference}
    summary = validate("full", seeds=2, out=tmp_path, device="cpu", registry=registry,
                       estimator=ScriptedEstimator())
    assert summary.stats.planned == 3 * 3 * 2 + 3 * 2  # 3 cases x 3 scales x 2 seeds + Gibbs references
    results = pd.read_csv(tmp_path / "results.csv")
    assert (results["sampler"] == "gibbs").sum() == 6
    cells = pd.read_csv(tmp_path / "cells.csv")
    assert len(cells) == 9  # references are not cells
    head = summary.headline
    assert (head["cells"], head["reference_cells"], head["reference_cells_gibbs"],
            head["reference_cells_quadrature"]) == (9, 6, 3, 3)
    gibbs = cells[cells["case"] == "gibbsquad"].set_index("scale")
    for scale, d in (("d2", 2), ("d10", 10), ("d40", 40)):
        row = gibbs.loc[scale]
        assert row["reference_source"] == "gibbs" and row["reference_seeds"] == 2
        assert row["lambda_finite_nbeta"] == pytest.approx(_lambda_beta(d), rel=0.01)
        assert row["lambda_finite_nbeta_se"] > 0 and row["reference_rhat_max"] == 1.0
        assert row["estimator_bias"] == pytest.approx((row["lambda_finite_nbeta"] - d / 2) / (d / 2))
        assert row["sampler_error"] == pytest.approx(
            (row["lambda_hat"] - row["lambda_finite_nbeta"]) / row["lambda_finite_nbeta"])
    plain = cells[cells["case"] == "plain"]
    assert plain["lambda_finite_nbeta"].isna().all() and plain["sampler_error"].isna().all()
    assert plain["estimator_bias"].isna().all()
    text = summary.report.read_text()
    assert "| λ_β ± se | sampler error | estimator bias | ref. R-hat / ESS |" in text
    assert "6 of them exact Gibbs reference jobs" in text
    assert "over the 6 of 9 case × scale cells that have a reference λ_β (3 exact Gibbs, 3 quadrature)" in text
    assert "(plots/error_split.png)" in text
    assert (tmp_path / "plots" / "error_split.png").read_bytes()[:8] == PNG_MAGIC
    plain_rows = [line for line in text.splitlines() if line.startswith("| plain |")]
    assert len(plain_rows) == 3 and all("|  |  |  |  |" in line for line in plain_rows)
    # rerunning resumes: the references are stored like any job
    again = validate("full", seeds=2, out=tmp_path, device="cpu", registry=registry,
                     estimator=ScriptedEstimator())
    assert again.stats.ran == 0 and again.stats.skipped == again.stats.planned


class _NoReference(QuadraticCase):
    name = "plain"

    def finite_nbeta_reference(self, settings):
        return None


def test_calibration_report_splits_the_error_per_setting_and_cell(tmp_path):
    grid = CalibrationGrid.from_toml("""
[sweep]
seeds = 1
scales = ["d2", "d10"]
[targets]
bucket_edges = [5]
[[grid]]
step_size = [1e-5, 1e-4]
localization = [1.0, 10.0]
steps = [40]
chains = [2]
batch_size = [8]
""")
    summary = calibrate(grid=grid, out=tmp_path, device="cpu", registry=REFERENCE_REGISTRY,
                        estimator=ScriptedEstimator())
    cells = pd.read_csv(tmp_path / "cells.csv")
    assert len(cells) == 2 * 2 * 4 and set(cells["sampler"]) == {"sgld"}
    gibbs = cells[cells["case"] == "gibbsquad"]
    assert (gibbs["reference_source"] == "gibbs").all()
    for _, row in gibbs.iterrows():
        assert row["lambda_finite_nbeta"] == pytest.approx(_lambda_beta(row["dim"], row["localization"]), rel=0.01)
    head = summary.headline
    assert (head["cells"], head["reference_cells"], head["reference_cells_gibbs"]) == (16, 16, 8)
    assert "[sgld" in head["sampler_error_worst_cell"]  # calibration cells are named with their setting
    text = summary.report.read_text()
    for section in ("## Error split: sampler and estimator", "## Sampler error per case × scale",
                    "## Estimator bias per case × scale, nβ and γ", "(plots/error_split.png)"):
        assert section in text
    bias = text[text.index("## Estimator bias per case × scale"):text.index("## Error split against d")]
    assert bias.count("| gibbsquad |") == 2 * 2  # per cell and gamma, shared by the step sizes
    assert "max sampler err." in text and "cells w/o ref." in text
    settings = pd.read_csv(tmp_path / "settings.csv")
    assert {"reference_cells", "median_sampler_error", "max_sampler_error"} <= set(settings.columns)


# -- a real tiny case: Gibbs reference and MALA estimate through the engine ------------------------


def test_real_gibbs_reference_attaches_to_a_tiny_dln_estimate(tmp_path):
    from rlct.validation.engine import run_jobs
    from rlct.validation.store import ResultStore

    case = get_case("dln")(widths=(2, 2, 2), rank=1, n=2000)
    settings = SamplerSettings(sampler="mala", step_size=2e-4, nbeta=200.0, chains=2, steps=300,
                               burnin=100, batch_size=None)
    estimates = [Job(case="dln", scale="tiny", params=case.parameters, settings=settings, seed=s)
                 for s in (0, 1)]
    references = [reference_job(case, job) for job in estimates]
    assert all(r is not None and r.settings.steps == 2000 for r in references)
    references = [replace(r, settings=r.settings.replace(steps=300, burnin=100))
                  for r in references if r is not None]
    store = ResultStore(tmp_path)
    stats = run_jobs([*estimates, *references], store, "serial")
    assert stats.statuses["ok"] == 4
    cells = aggregate.cell_table(store.load())
    assert len(cells) == 1
    cell = cells.iloc[0]
    assert cell["reference_source"] == "gibbs" and cell["reference_seeds"] == 2
    assert np.isfinite(cell["lambda_finite_nbeta"]) and cell["lambda_finite_nbeta_se"] > 0
    assert np.isfinite(cell["sampler_error"]) and np.isfinite(cell["estimator_bias"])
    # lambda = 2 for widths (2, 2, 2), r = 1 (d = 8); lambda_beta at nbeta = 200 is near it
    assert 1.0 < cell["lambda_finite_nbeta"] < 3.0
