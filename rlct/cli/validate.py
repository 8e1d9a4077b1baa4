"""`rlct validate`: run the validation suite and write its report."""

from __future__ import annotations

import argparse
from typing import Any

EXECUTOR_HELP = (
    "where jobs run: 'serial' (this process), 'process[:N]' (N worker processes, default one "
    "per core, torch threads split between them), 'dask://HOST:PORT' (a running Dask "
    "scheduler), 'dask-local[:N]' (a local Dask cluster); Dask needs `pip install 'rlct[dask]'`. "
    "Default: 'process' (one worker per core) when sampling on the CPU, 'serial' on CUDA (one "
    "process keeps the GPU busy)"
)


def parse_seeds(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"seeds: expected a positive integer, got {text!r}") from None
    if value < 1:
        raise ValueError(f"seeds: expected a positive integer, got {value}")
    return value


def parse_cases(text: str | None) -> list[str] | None:
    if text is None:
        return None
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise ValueError(f"cases: expected comma-separated case names, got {text!r}")
    return names


def check_executor(text: str | None, device: str = "cpu") -> str:
    """The executor to use: ``text`` if given (checked), else the default for ``device``
    (`rlct.validation.sweep.default_executor`)."""
    from rlct.validation.executors import parse_executor
    from rlct.validation.sweep import default_executor

    if text is None:
        return default_executor(device)
    parse_executor(text)
    return text


def add_common_options(parser: argparse.ArgumentParser, default_out: str) -> None:
    parser.add_argument(
        "--cases", metavar="A,B", help="comma-separated case names (default: every case)"
    )
    parser.add_argument(
        "--seeds", metavar="N",
        help="seeds per case x scale (x setting); default 2 (--quick), 5 (--full), or the grid's",
    )
    parser.add_argument("--executor", default=None, metavar="SPEC", help=EXECUTOR_HELP)
    parser.add_argument(
        "--out", metavar="DIR", help=f"results and report directory (default: {default_out})"
    )
    parser.add_argument(
        "--device", default="auto", choices=("auto", "cpu", "cuda"),
        help="where to sample (auto: CUDA if present)",
    )
    parser.add_argument(
        "--retry-errors", action="store_true",
        help="rerun jobs stored with status 'error' (finished jobs are otherwise skipped)",
    )
    parser.add_argument(
        "--no-progress", action="store_true", help="no progress bar on stderr"
    )


def register(subparsers: Any) -> None:
    from rlct.validation.defaults import DEFAULT_OUT, FULL_SEEDS, QUICK_SEEDS

    parser = subparsers.add_parser(
        "validate",
        help="run the validation suite (LLC estimates vs exact values) and write a report",
        description=(
            "Estimate the LLC of every analytic case at its scales with its recommended "
            "settings, compare with the exact learning coefficient, and write a Markdown report "
            "(tables, plots, CSV, manifest) to --out. Finished jobs are stored one file each, "
            "so rerunning the same command resumes an interrupted sweep."
        ),
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--quick", dest="mode", action="store_const", const="quick",
        help=f"smallest scale of each case, {QUICK_SEEDS} seeds (default; minutes on 2 cores)",
    )
    mode.add_argument(
        "--full", dest="mode", action="store_const", const="full",
        help=f"every scale up to 1e6 parameters on CPU (1e8 on CUDA), {FULL_SEEDS} seeds",
    )
    parser.set_defaults(mode="quick")
    add_common_options(parser, f"{DEFAULT_OUT['quick']} or {DEFAULT_OUT['full']}")
    parser.add_argument(
        "--dtype", default="float64", choices=("float32", "float64"), help="floating-point type"
    )
    parser.add_argument(
        "--estimator", default="rlct", choices=("rlct", "devinterp"),
        help="whose LLC estimator: rlct (ours) or devinterp (devinterp 2.0.1 with the same "
        "settings; needs `pip install 'rlct[devinterp]'`)",
    )
    parser.add_argument(
        "--max-parameters", type=int, default=None, metavar="D",
        help="with --full: skip scales with more than D parameters (default 1e6 on CPU, 1e8 on CUDA)",
    )
    parser.add_argument(
        "--skip", metavar="CASE/SCALE,...", default=None,
        help="comma-separated case/scale cells not to run (e.g. dln/1e6); the report lists them "
        "as not run",
    )
    parser.add_argument(
        "--report-only", action="store_true",
        help="run nothing: write the report from the jobs already stored in --out "
        "(a partial sweep's report says how many planned jobs are missing)",
    )
    parser.set_defaults(handler=run)


def _max_parameters(value: int | None) -> int | None:
    if value is not None and value < 1:
        raise ValueError(f"--max-parameters: expected a positive integer, got {value}")
    return value


def run(args: argparse.Namespace) -> int:
    from rlct.validation.sweep import validate

    seeds = parse_seeds(args.seeds)
    cases = parse_cases(args.cases)
    executor = check_executor(args.executor, args.device)
    summary = validate(
        args.mode,
        cases=cases,
        seeds=seeds,
        executor=executor,
        out=args.out,
        device=args.device,
        dtype=args.dtype,
        retry_errors=args.retry_errors,
        progress=not args.no_progress,
        llc_estimator=args.estimator,
        max_parameters=_max_parameters(args.max_parameters),
        report_only=args.report_only,
        skip=args.skip,
    )
    head = summary.headline
    print(f"report: {summary.report}")
    print(f"jobs: {summary.stats.describe()}")
    print(
        f"median relative error {_pct(head['median_relative_error'])} "
        f"(target <= {head['median_target']:.0%}: {'met' if head['median_met'] else 'NOT met'}); "
        f"max {_pct(head['max_relative_error'])} "
        f"(target <= {head['max_target']:.0%}: {'met' if head['max_met'] else 'NOT met'})"
    )
    if "run_median_relative_error" in head:
        print(
            f"per run: median {_pct(head['run_median_relative_error'])}, "
            f"max {_pct(head['run_max_relative_error'])}, worst single run "
            f"{_pct(head['worst_run_relative_error'])} ({head['worst_run_cell']})"
        )
    print(split_line(head))
    if head["missing_cells"]:
        print(f"no valid estimate for: {', '.join(head['missing_cells'])}")
    return 1 if summary.stats.lost else 0


def split_line(head: dict) -> str:
    """One line of the error split (theory.md sec. 8) from the headline's split keys."""
    text = (f"error split: {head.get('reference_cells', 0)} of {head['cells']} cells have a reference "
            f"lambda_beta ({head.get('reference_cells_gibbs', 0)} Gibbs, "
            f"{head.get('reference_cells_quadrature', 0)} quadrature)")
    if "sampler_error_median" in head:
        text += (f"; sampler error |lambda_hat - lambda_beta| / lambda_beta median "
                 f"{_pct(head['sampler_error_median'])}, max {_pct(head['sampler_error_max'])} "
                 f"({head['sampler_error_worst_cell']})")
    if "estimator_bias_median" in head:
        text += (f"; estimator bias |lambda_beta - lambda| / lambda median {_pct(head['estimator_bias_median'])}, "
                 f"max {_pct(head['estimator_bias_max'])} ({head['estimator_bias_worst_cell']})")
    return text


def _pct(x: float) -> str:
    return "n/a" if x != x else f"{100 * x:.1f}%"
