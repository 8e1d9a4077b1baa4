"""`rlct validate` / `rlct calibrate`: bad input exits 2 with one line naming the option."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from rlct.cli import build_parser, main

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    "argv, start",
    [
        (["validate", "--seeds", "0"], "rlct: error: seeds: "),
        (["validate", "--seeds", "many"], "rlct: error: seeds: "),
        (["validate", "--executor", "threads"], "rlct: error: executor: "),
        (["validate", "--executor", "process:0"], "rlct: error: executor: "),
        (["validate", "--cases", "no_such_case"], "rlct: error: cases: unknown case 'no_such_case'"),
        (["validate", "--cases", ","], "rlct: error: cases: "),
        (["validate", "--skip", "dln"], "rlct: error: skip: expected case/scale"),
        (["validate", "--skip", "nope/1e2"], "rlct: error: skip: unknown case 'nope'"),
        (["validate", "--skip", "dln/1e9"], "rlct: error: skip: case 'dln' has no scale '1e9'"),
        (["validate", "--device", "tpu"], "rlct: error: rlct validate: argument --device"),
        (["validate", "--quick", "--full"], "rlct: error: rlct validate: argument --full"),
        (["calibrate", "--seeds", "-2"], "rlct: error: seeds: "),
        (["calibrate", "--executor", "dask://nohost"], "rlct: error: executor: "),
    ],
)
def test_bad_input_exits_2_with_one_line(argv, start, capsys, tmp_path):
    code = main([*argv, "--out", str(tmp_path / "never")])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith(start), captured.err
    assert not (tmp_path / "never").exists()


def test_bad_grid_file_exits_2_naming_the_key(tmp_path, capsys):
    grid = tmp_path / "grid.toml"
    grid.write_text("[grid]\nstepsize = [1e-4]\n")
    code = main(["calibrate", "--grid", str(grid), "--out", str(tmp_path / "never")])
    err = capsys.readouterr().err.splitlines()
    assert code == 2 and len(err) == 1
    assert err[0].startswith("rlct: error: grid.stepsize: unknown key")
    code = main(["calibrate", "--grid", str(tmp_path / "missing.toml")])
    assert code == 2 and capsys.readouterr().err.startswith("rlct: error: grid: cannot read")


def test_show_grid_prints_the_built_in_grid(capsys):
    from rlct.validation.grid import DEFAULT_GRID_TOML, CalibrationGrid

    assert main(["calibrate", "--show-grid"]) == 0
    printed = capsys.readouterr().out
    assert printed == DEFAULT_GRID_TOML
    assert CalibrationGrid.from_toml(printed) == CalibrationGrid.default()


def test_help_lists_every_option():
    parser = build_parser()
    sub = parser._subparsers._group_actions[0].choices  # noqa: SLF001
    validate_help = sub["validate"].format_help()
    for option in ("--quick", "--full", "--cases", "--seeds", "--executor", "--out", "--device"):
        assert option in validate_help
    calibrate_help = sub["calibrate"].format_help()
    for option in ("--grid", "--cases", "--out", "--executor", "--show-grid"):
        assert option in calibrate_help


def test_bad_input_in_a_real_process_prints_one_line_no_traceback():
    done = subprocess.run(
        [sys.executable, "-m", "rlct", "validate", "--executor", "bogus"],
        cwd=ROOT, capture_output=True, text=True,
    )
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "rlct: error: executor: expected serial, process[:N], dask://HOST:PORT or "
        "dask-local[:N], got 'bogus'"
    ]


@pytest.mark.slow
def test_rlct_validate_quick_end_to_end_with_the_real_estimator(tmp_path):
    """The real CLI, registry and estimator on one small case; then a rerun resumes (no job
    runs twice) and regenerates the same table."""
    out = tmp_path / "report"
    command = [sys.executable, "-m", "rlct", "validate", "--quick", "--cases", "poly",
               "--seeds", "1", "--device", "cpu", "--no-progress", "--out", str(out)]
    first = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    assert f"report: {out / 'README.md'}" in first.stdout
    assert "1 ran" in first.stdout and "median relative error" in first.stdout
    text = (out / "README.md").read_text()
    assert "rlct validate --quick --cases poly --seeds 1" in text
    assert (out / "plots" / "loss_traces.png").is_file()
    cells = (out / "cells.csv").read_text()
    second = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    assert second.returncode == 0 and "1 already done, 0 ran" in second.stdout
    assert (out / "cells.csv").read_text() == cells


def test_report_only_writes_a_partial_report_without_running(tmp_path, capsys):
    from rlct.cli import main

    out = tmp_path / "partial"
    assert main(["validate", "--full", "--cases", "linreg", "--seeds", "1", "--out", str(out),
                 "--report-only", "--no-progress"]) == 0
    text = (out / "README.md").read_text()
    assert "Partial sweep" in text and "have not run" in text
    assert not any((out / "results").glob("*.json")) if (out / "results").exists() else True


def test_default_executor_is_local_processes_on_the_cpu():
    from rlct.cli.validate import check_executor

    assert check_executor(None, "cpu") == "process"
    assert check_executor("serial", "cpu") == "serial"
    assert check_executor("process:3", "cpu") == "process:3"
    with pytest.raises(ValueError, match="executor"):
        check_executor("threads", "cpu")


def test_skip_leaves_cells_out_and_the_report_lists_them(tmp_path):
    from rlct.cli import main

    out = tmp_path / "skipped"
    assert main(["validate", "--full", "--cases", "linreg", "--seeds", "1", "--out", str(out),
                 "--skip", "linreg/1e3,linreg/1e2", "--report-only", "--no-progress"]) == 0
    text = (out / "README.md").read_text()
    assert "--skip linreg/1e3,linreg/1e2" in text  # in the regenerating command
    assert "Not run (`--skip`): linreg/1e2 (d = 100), linreg/1e3 (d = 1,000)" in text
    assert "0 stored of 1 planned" in text  # only linreg/1e1 is planned
