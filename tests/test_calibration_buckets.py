"""Calibration grids by parameter-count bucket: per-sub-grid ``buckets`` and ``estimators``,
the checks made before any job starts, cells above the device cap, and early pruning
(`rlct.validation.prune`)."""

from __future__ import annotations

import json

import pytest

from rlct.validation.grid import CalibrationGrid
from rlct.validation.jobs import is_reference
from rlct.validation.prune import Failure, pruning_failure, setting_key, split_pruned, stages
from rlct.validation.store import ResultStore
from rlct.validation.sweep import calibrate, calibration_cells, plan_calibration
from rlct.validation.testing import REFERENCE_REGISTRY, REGISTRY, ScriptedEstimator

BASE = """
[sweep]
seeds = 1
scales = "all"
[targets]
bucket_edges = [5, 20]
"""
SETTING = """
steps = [40]
chains = [2]
batch_size = [8]
"""


def _grid(extra: str, sweep: str = BASE) -> CalibrationGrid:
    return CalibrationGrid.from_toml(sweep + extra)


def test_cells_get_buckets_and_the_cap_marks_cells_not_run():
    grid = _grid("[[grid]]\n" + SETTING, BASE.replace("seeds = 1", "seeds = 1\nmax_parameters = 20"))
    cells = calibration_cells(grid, registry=REGISTRY)
    assert [(c.scale, c.dim, c.bucket, c.runnable) for c in cells] == [
        ("d2", 2, "<5", True), ("d10", 10, "5-20", True), ("d40", 40, ">=20", False)
    ]
    jobs = plan_calibration(grid, registry=REGISTRY)
    assert {j.scale for j in jobs} == {"d2", "d10"}


def test_a_sub_grid_runs_only_in_its_buckets():
    grid = _grid("[[grid]]\nstep_size = [1e-4]\n" + SETTING
                 + "[[grid]]\nbuckets = ['>=20']\nstep_size = [1e-5]\n" + SETTING)
    jobs = plan_calibration(grid, registry=REGISTRY)
    steps = {(j.scale, j.settings.step_size) for j in jobs}
    assert steps == {("d2", 1e-4), ("d10", 1e-4), ("d40", 1e-4), ("d40", 1e-5)}


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("[[grid]]\nbuckets = ['1e3-1e4']\n", r"^grid\[0\]\.buckets: unknown bucket '1e3-1e4'; .*'<5', '5-20', '>=20'"),
        ("[[grid]]\nbuckets = '<5'\n", r"^grid\[0\]\.buckets: expected a list of bucket labels"),
        ("[[grid]]\nestimators = ['devinterp']\n", r"^grid\[0\]\.estimators: 'devinterp' is not one of the sweep's"),
        ("[[grid]]\nbucket = ['<5']\n", r"^grid\[0\]\.bucket: unknown key"),
    ],
)
def test_bad_bucket_selectors_are_named(extra, message):
    with pytest.raises(ValueError, match=message):
        _grid(extra)


def test_a_bucket_without_cells_is_an_error_before_any_job():
    grid = _grid("[[grid]]\n" + SETTING, BASE.replace('scales = "all"', 'scales = ["d2"]').replace(
        "[[grid]]", "") + "[[grid]]\nbuckets = ['>=20']\n" + SETTING)
    with pytest.raises(ValueError, match=r"^grid\[0\]\.buckets: bucket '>=20' has no case x scale cell"):
        plan_calibration(grid, registry=REGISTRY)


def test_a_setting_no_case_of_its_bucket_supports_is_an_error():
    from rlct.cases import registry

    grid = CalibrationGrid.from_toml("""
[sweep]
seeds = 1
scales = "smallest"
cases = ["poly", "dln"]
[targets]
bucket_edges = [100]
[[grid]]
buckets = ["<1e2"]
sampler = ["gibbs"]
steps = [40]
""")
    # poly/2-ideal (d = 2) is the only cell under 100 parameters; gibbs needs dln, rrr or multireg
    with pytest.raises(ValueError, match=r"^grid\[0\]: no case of bucket '<1e2' supports the setting "
                                         r"sampler='gibbs'.*multilinear Gaussian hook"):
        plan_calibration(grid, registry=registry())


def test_stages_go_bucket_by_bucket_then_seed_by_seed():
    grid = _grid("[[grid]]\n" + SETTING, BASE.replace("seeds = 1", "seeds = 2"))
    jobs = plan_calibration(grid, registry=REGISTRY)
    index = {("quadratic", "d2"): 0, ("quadratic", "d10"): 1, ("quadratic", "d40"): 2}
    order = [(j.scale, j.seed) for stage in stages(jobs, index) for j in stage]
    assert order == [("d2", 0), ("d2", 1), ("d10", 0), ("d10", 1), ("d40", 0), ("d40", 1)]


def test_pruning_drops_a_failed_setting_and_the_references_nobody_needs():
    grid = _grid("[[grid]]\nnbeta = [1000.0, 1.0]\n" + SETTING, BASE.replace("seeds = 1", "seeds = 2"))
    jobs = plan_calibration(grid, registry=REFERENCE_REGISTRY, cases=["gibbsquad"])
    bad = next(j for j in jobs if j.settings.nbeta == 1.0 and not is_reference(j))
    stage = [j for j in jobs if j.scale == "d2" and j.seed == 0]
    failure = Failure("gibbsquad", "d2", "<5", 0, "sampler error +90%")
    keep, pruned = split_pruned(stage, {setting_key(bad): [failure]}, "<5", {"gibbsquad"})
    assert [(j.settings.nbeta, f) for j, f in pruned] == [(1.0, failure)]
    assert all(j.settings.nbeta == 1000.0 for j in keep)
    assert sum(is_reference(j) for j in keep) == 1  # the n beta = 1 reference is not needed


def test_a_failure_prunes_its_own_bucket_and_larger_cells_of_the_same_case_only():
    poly = Failure("poly", "2000", "1e3-1e4", 0, "sampler error -58%")
    dln = Failure("dln", "1e3", "1e3-1e4", 1, "diverged")
    # same bucket: any case's failure rules the setting out there
    assert pruning_failure([poly], "1e3-1e4", {"dln", "poly", "multireg"}) == poly
    # larger bucket: only a failure on a case that has a cell there
    assert pruning_failure([poly], "1e4-1e5", {"dln", "rrr", "multireg"}) is None
    assert pruning_failure([poly, dln], "1e4-1e5", {"dln", "rrr", "multireg"}) == dln


def test_a_pruned_sweep_runs_a_failing_setting_once_and_reports_why(tmp_path):
    # the scripted estimate reads d/2 (+-1%); the exact lambda_beta is (d/2) nb / (nb + gamma):
    # at nbeta = 1, gamma = 10 the sampler error is +1000% (fails), at nbeta = 1000 about 1%
    grid = _grid("[[grid]]\nnbeta = [1000.0, 1.0]\nlocalization = [10.0]\n" + SETTING,
                 BASE.replace("seeds = 1", "seeds = 2\nprune = true"))
    summary = calibrate(grid=grid, out=tmp_path, device="cpu", registry=REGISTRY,
                        estimator=ScriptedEstimator())
    rows = ResultStore(tmp_path).load()
    assert len(rows[rows["nbeta"] == 1.0]) == 1  # d2, seed 0 only
    assert len(rows[rows["nbeta"] == 1000.0]) == 3 * 2
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    config = manifest.get("config", manifest)
    (record,) = config["pruned"]
    assert record["failed_run"] == "quadratic/d2 seed 0" and record["jobs"] == 5
    assert record["buckets"] == ["<5", "5-20", ">=20"] and record["reason"].startswith("sampler error +")
    assert summary.stats.ran == 7
    text = summary.report.read_text()
    assert "## Pruned settings" in text and "quadratic/d2 seed 0" in text


def test_prune_must_be_a_boolean():
    grid = _grid("[[grid]]\n" + SETTING, BASE.replace("seeds = 1", "seeds = 1\nprune = true"))
    assert grid.prune and grid.to_dict()["sweep"]["prune"] is True
    with pytest.raises(ValueError, match=r"^sweep\.prune: expected true or false"):
        _grid("[[grid]]\n", BASE.replace("seeds = 1", "seeds = 1\nprune = 1"))


def test_report_only_prunes_from_stored_results_and_counts_what_is_missing(tmp_path):
    grid = _grid("[[grid]]\nnbeta = [1000.0, 1.0]\nlocalization = [10.0]\n" + SETTING,
                 BASE.replace("seeds = 1", "seeds = 2\nprune = true"))
    partial = CalibrationGrid.from_toml(
        (BASE.replace('scales = "all"', 'scales = ["d2"]').replace("seeds = 1", "seeds = 1\nprune = true"))
        + "[[grid]]\nnbeta = [1000.0, 1.0]\nlocalization = [10.0]\n" + SETTING
    )
    calibrate(grid=partial, out=tmp_path, device="cpu", registry=REGISTRY, estimator=ScriptedEstimator())
    stored = len(ResultStore(tmp_path).load())
    summary = calibrate(grid=grid, out=tmp_path, device="cpu", registry=REGISTRY,
                        estimator=ScriptedEstimator(), report_only=True)
    assert len(ResultStore(tmp_path).load()) == stored  # nothing ran
    assert summary.stats.ran == 0
    text = summary.report.read_text()
    # kept: both settings at d2 seed 0 (stored), then nbeta = 1000 only (5 jobs, none stored)
    assert "**Partial: 5 of the 7 planned jobs have no result yet**" in text
    assert "## Pruned settings" in text and "quadratic/d2 seed 0" in text


def test_the_parameter_cap_can_differ_per_device():
    grid = _grid("[[grid]]\n" + SETTING,
                 BASE.replace("seeds = 1", "seeds = 1\nmax_parameters = {cpu = 5, cuda = 20}"))
    assert grid.parameter_cap("cpu") == 5 and grid.parameter_cap("cuda:0") == 20
    on_cpu = {c.scale: c.runnable for c in calibration_cells(grid, device="cpu", registry=REGISTRY)}
    on_cuda = {c.scale: c.runnable for c in calibration_cells(grid, device="cuda", registry=REGISTRY)}
    assert on_cpu == {"d2": True, "d10": False, "d40": False}
    assert on_cuda == {"d2": True, "d10": True, "d40": False}
    with pytest.raises(ValueError, match=r"^sweep\.max_parameters: unknown device 'gpu'"):
        _grid("[[grid]]\n", BASE.replace("seeds = 1", "seeds = 1\nmax_parameters = {gpu = 5}"))
