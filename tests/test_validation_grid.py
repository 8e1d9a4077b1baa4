"""Calibration grids from TOML: frozen dataclasses that reject unknown keys by name."""

from __future__ import annotations

import math

import pytest

from rlct.validation.grid import DEFAULT_GRID_TOML, CalibrationGrid, SubGrid
from rlct.validation.jobs import is_reference
from rlct.validation.sweep import plan_calibration


def test_default_grid_parses_and_is_a_union_of_pair_grids():
    grid = CalibrationGrid.default()
    assert grid == CalibrationGrid.from_toml(DEFAULT_GRID_TOML)
    assert len(grid.grids) == 4 and grid.seeds == 2 and grid.scales == "all"
    settings = grid.settings()
    keys = [tuple(sorted(s.to_dict().items())) for s in settings]
    assert len(keys) == len(set(keys))  # duplicates across sub-grids removed
    # 12 + 8 + 9 + 8 minus the settings shared between the pair grids (the base point and the
    # step sizes at the base localization / nbeta)
    assert len(settings) == 12 + 8 + 9 + 8 - 4 - 1
    assert {s.sampler for s in settings} == {"sgld", "psgld"}
    assert all(s.burnin == s.steps // 2 for s in settings)


def test_symbols_resolve():
    grid = SubGrid.from_dict({"nbeta": ["default", "batch", 50.0], "batch_size": [64, "full"]})
    by = {(s.batch_size, s.nbeta) for s in grid.settings()}
    assert (64, None) in by and (None, None) in by and (64, 50.0) in by
    assert (64, pytest.approx(64 / math.log(64))) in [(b, n) for b, n in by if n is not None]


@pytest.mark.parametrize(
    "text, message",
    [
        ("[grid]\nstep_sizes = [1e-4]", r"^grid\.step_sizes: unknown key"),
        ("[[grid]]\nsteps = [10]\n[[grid]]\nchain = [2]", r"^grid\[1\]\.chain: unknown key"),
        ("[sweep]\nseed = 2", r"^sweep\.seed: unknown key"),
        ("[targets]\nmedian = 0.1", r"^targets\.median: unknown key"),
        ("[grids]\nsteps = [1]", r"^grid file\.grids: unknown key"),
        ("[grid]\nstep_size = [-1.0]", r"^grid\.step_size: "),
        ("[grid]\nsampler = ['nuts']", r"^grid\.sampler: "),
        ("[grid]\nnbeta = ['huge']", r"^grid\.nbeta\[0\]: "),
        ("[grid]\nsteps = [1.5]", r"^grid\.steps\[0\]: expected an integer"),
        ("[grid]\nburnin_fraction = [1.0]", r"^grid\.burnin_fraction\[0\]: "),
        ("[grid]\nbatch_size = ['half']", r"^grid\.batch_size\[0\]: "),
        ("[sweep]\nseeds = 0", r"^sweep\.seeds: "),
        ("[sweep]\nscales = 'largest'", r"^sweep\.scales: "),
        ("[targets]\nbucket_edges = [10, 5]", r"^targets\.bucket_edges: "),
        ("[grid\nsteps = 1", r"^grid: .* is not valid TOML"),
        ("[sweep]\nestimators = ['pyro']", r"^sweep\.estimators: expected a non-empty list"),
        ("[sweep]\nestimators = []", r"^sweep\.estimators: expected a non-empty list"),
        ("[sweep]\nestimators = 'rlct'", r"^sweep\.estimators: expected a list"),
        ("[grid]\ncases = 'dln'", r"^grid\.cases: expected a list of case names"),
        ("[[grid]]\nsteps = [10]\n[[grid]]\ncases = []", r"^grid\[1\]\.cases: expected a list"),
        ("[sweep]\ncase_scales = 3", r"^sweep\.case_scales: expected a table"),
        ("[sweep]\ncase_scales = {dln = 'largest'}", r"^sweep\.case_scales\.dln: expected one of"),
        ("[sweep]\ncase_scales = {dln = [1]}", r"^sweep\.case_scales\.dln: expected scale names"),
        ("[sweep]\ncase_scales = {dln = []}", r"^sweep\.case_scales\.dln: expected scale names"),
    ],
)
def test_bad_grids_raise_naming_the_key(text, message):
    with pytest.raises(ValueError, match=message):
        CalibrationGrid.from_toml(text)


def test_grid_is_frozen():
    grid = CalibrationGrid.default()
    with pytest.raises(AttributeError):
        grid.seeds = 3  # type: ignore[misc]


def test_missing_grid_file(tmp_path):
    with pytest.raises(ValueError, match="^grid: cannot read"):
        CalibrationGrid.from_file(tmp_path / "nope.toml")


def test_to_dict_round_trips_through_from_dict():
    grid = CalibrationGrid.default()
    data = grid.to_dict()
    data["sweep"] = {k: v for k, v in data["sweep"].items() if v is not None}
    assert CalibrationGrid.from_dict(data) == grid


CASE_SCALES_TOML = """
[sweep]
seeds = 1
scales = "smallest"
cases = ["dln", "linreg", "rrr"]
case_scales = {dln = ["1e2", "1e3"], linreg = "all"}
[[grid]]
step_size = [1e-5, 1e-4]
"""


def test_case_scales_override_the_sweep_scales_per_case():
    grid = CalibrationGrid.from_toml(CASE_SCALES_TOML)
    assert grid.scales_for("dln") == ("1e2", "1e3") and grid.scales_for("rrr") == "smallest"
    jobs = plan_calibration(grid)
    cells = sorted({(j.case, j.scale) for j in jobs})
    assert cells == [("dln", "1e2"), ("dln", "1e3"), ("linreg", "1e1"), ("linreg", "1e2"),
                     ("linreg", "1e3"), ("rrr", "1e1")]
    estimates = [j for j in jobs if not is_reference(j)]
    assert len(estimates) == len(cells) * 2  # two settings, one seed
    # one Gibbs reference per dln / rrr cell: the two settings share n beta and gamma
    assert sorted((j.case, j.scale) for j in jobs if is_reference(j)) == [
        ("dln", "1e2"), ("dln", "1e3"), ("rrr", "1e1")]
    data = grid.to_dict()
    data["sweep"] = {k: v for k, v in data["sweep"].items() if v is not None}
    assert CalibrationGrid.from_dict(data) == grid


@pytest.mark.parametrize(
    "table, message",
    [
        ('{dln = ["1e2", "9e9"]}', r"^sweep\.case_scales\.dln: unknown scale\(s\) \['9e9'\]"),
        ('{dnl = ["1e2"]}', r"^sweep\.case_scales\.dnl: unknown case"),
    ],
)
def test_case_scales_must_name_known_cases_and_scales(table, message):
    grid = CalibrationGrid.from_toml(f"[sweep]\ncase_scales = {table}\n[[grid]]\nsteps = [10]")
    with pytest.raises(ValueError, match=message):
        plan_calibration(grid)


SUBGRID_CASES_TOML = """
[sweep]
seeds = 1
scales = "smallest"
cases = ["dln", "linreg", "rrr"]
[[grid]]
step_size = [1e-5, 1e-4]
[[grid]]
cases = ["dln", "rrr"]
sampler = ["mala"]
batch_size = ["full"]
"""


def test_a_sub_grid_can_be_restricted_to_some_cases():
    grid = CalibrationGrid.from_toml(SUBGRID_CASES_TOML)
    assert len(grid.settings()) == 3 and len(grid.settings("linreg")) == 2
    jobs = plan_calibration(grid)
    samplers = {(j.case, j.settings.sampler) for j in jobs if not is_reference(j)}
    assert samplers == {("dln", "sgld"), ("dln", "mala"), ("linreg", "sgld"), ("rrr", "sgld"),
                        ("rrr", "mala")}
    assert len(jobs) == 3 + 2 + 3 + 2  # + one Gibbs reference each for dln and rrr
    data = grid.to_dict()
    data["sweep"] = {k: v for k, v in data["sweep"].items() if v is not None}
    assert CalibrationGrid.from_dict(data) == grid


def test_sub_grid_cases_must_be_registered():
    grid = CalibrationGrid.from_toml(SUBGRID_CASES_TOML.replace('["dln", "rrr"]', '["dln", "rr"]'))
    with pytest.raises(ValueError, match=r"^grid\[1\]\.cases: unknown case 'rr'"):
        plan_calibration(grid)
