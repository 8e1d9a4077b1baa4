"""`rlct calibrate`: sweep sampler settings over the cases and recommend settings per size."""

from __future__ import annotations

import argparse
from typing import Any

from rlct.cli.validate import add_common_options, check_executor, parse_cases, parse_seeds


def register(subparsers: Any) -> None:
    from rlct.validation.defaults import DEFAULT_CALIBRATION_OUT

    parser = subparsers.add_parser(
        "calibrate",
        help="sweep sampler settings per case and scale; recommend settings per model size",
        description=(
            "Run every setting of a calibration grid (step size, nbeta, localization, steps, "
            "batch size, sampler; TOML, see --show-grid) on the cases at their scales, report "
            "error and cost per setting with heatmaps, and recommend per parameter-count bucket "
            "the cheapest setting whose per-run sampler error against the exact-posterior "
            "reference has median <= 5% and max <= 15% (the grid's targets), with its error "
            "against the exact lambda (also in devinterp's terms). Rerunning the same command "
            "resumes an interrupted sweep."
        ),
    )
    parser.add_argument(
        "--grid", metavar="FILE.toml", help="calibration grid (default: the built-in grid)"
    )
    parser.add_argument(
        "--show-grid", action="store_true", help="print the built-in grid as TOML and exit"
    )
    parser.add_argument(
        "--report-only", action="store_true",
        help="run nothing; write the report from the results stored so far",
    )
    add_common_options(parser, DEFAULT_CALIBRATION_OUT)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from rlct.validation.grid import DEFAULT_GRID_TOML, CalibrationGrid
    from rlct.validation.sweep import calibrate

    if args.show_grid:
        print(DEFAULT_GRID_TOML, end="")
        return 0
    seeds = parse_seeds(args.seeds)
    cases = parse_cases(args.cases)
    executor = check_executor(args.executor, args.device)
    if args.grid:
        CalibrationGrid.from_file(args.grid)  # fail on a bad grid before anything runs
    summary = calibrate(
        cases=cases,
        grid=args.grid,
        seeds=seeds,
        executor=executor,
        out=args.out,
        device=args.device,
        retry_errors=args.retry_errors,
        progress=not args.no_progress,
        report_only=args.report_only,
    )
    print(f"report: {summary.report}")
    print(f"jobs: {summary.stats.describe()}")
    for row in summary.headline["recommendation"]:
        print(
            f"d {row['bucket']}: {row['setting']} -> sampler error median "
            f"{row['median sampler err.']}, max {row['max sampler err.']} (per run), "
            f"{row['median rel. error']} against lambda, meets targets: {row['meets targets']}"
        )
    return 1 if summary.stats.lost else 0
