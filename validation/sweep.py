"""The two sweeps: `validate` (every case at its scales with its recommended settings) and
`calibrate` (a grid of sampler settings per case and scale, and a recommendation per
parameter-count bucket). Both plan independent `Job`s, run them with `engine.run_jobs` (resuming
from the results directory) and write a report.

Modes of `validate`:

* ``quick``: the smallest scale of every case, `QUICK_SEEDS` seeds: minutes on 2 CPU cores.
* ``full``: every scale up to `CPU_MAX_PARAMETERS` parameters on the CPU (`CUDA_MAX_PARAMETERS`
  on CUDA), `FULL_SEEDS` seeds.

Reference jobs: for every cell and seed whose case has an exact reference sampler for the cell's
settings (`Case.reference_settings`, the Gibbs sampler of dln, rrr and multireg), both sweeps
also plan one reference job (`reference_job`; same case, scale, parameters, seed, device and
dtype, hence the same data), run like any other job. Settings that share n beta and gamma share
one reference per seed (same job id). The reports split each estimate's error with it
(`rlct.validation.aggregate.attach_references`).
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rlct.validation.defaults import (  # noqa: F401 - re-exported
    CPU_MAX_PARAMETERS,
    CUDA_MAX_PARAMETERS,
    DEFAULT_CALIBRATION_OUT,
    DEFAULT_OUT,
    FULL_SEEDS,
    MODES,
    QUICK_SEEDS,
)
from rlct.validation.engine import SweepStats, run_jobs
from rlct.validation.executors import Executor, ExecutorSpec, parse_executor
from rlct.validation.grid import CalibrationGrid
from rlct.validation.jobs import ESTIMATORS, REFERENCE_SAMPLER, Job, is_reference
from rlct.validation.run import Estimator
from rlct.validation.store import ResultStore


@dataclass
class SweepSummary:
    """What a sweep returns: where its report is, the headline figures, and the run counts."""

    out: Path
    report: Path
    stats: SweepStats
    headline: dict[str, Any] = field(default_factory=dict)
    command: str = ""


def select_cases(names: Sequence[str] | str | None, registry: Mapping[str, Any]) -> dict[str, Any]:
    """The chosen cases (default all), in registry order; ``ValueError`` names unknown ones."""
    if names is None:
        return dict(registry)
    if isinstance(names, str):
        names = [n.strip() for n in names.split(",") if n.strip()]
    if not names:
        raise ValueError("cases: expected at least one case name")
    unknown = [n for n in names if n not in registry]
    if unknown:
        raise ValueError(
            f"cases: unknown case {unknown[0]!r}; known: {', '.join(registry) or '(none)'}"
        )
    return {n: registry[n] for n in registry if n in set(names)}


def parse_skip(
    cells: Sequence[str] | str | None, registry: Mapping[str, Any]
) -> tuple[tuple[str, str], ...]:
    """``"case/scale"`` cells not to run (comma-separated text or a sequence), checked against
    the registry; ``ValueError`` names a malformed entry or an unknown case or scale."""
    if cells is None:
        return ()
    if isinstance(cells, str):
        cells = [c.strip() for c in cells.split(",") if c.strip()]
        if not cells:
            raise ValueError("skip: expected comma-separated case/scale cells")
    out = []
    for cell in cells:
        case_name, sep, scale = str(cell).partition("/")
        if not sep or not case_name or not scale:
            raise ValueError(f"skip: expected case/scale (e.g. dln/1e6), got {cell!r}")
        if case_name not in registry:
            raise ValueError(f"skip: unknown case {case_name!r} in {cell!r}")
        if scale not in registry[case_name].scales:
            raise ValueError(
                f"skip: case {case_name!r} has no scale {scale!r}; its scales: "
                f"{', '.join(registry[case_name].scales)}"
            )
        out.append((case_name, scale))
    return tuple(dict.fromkeys(out))


def _stored_stats(jobs: Sequence[Job], store: ResultStore) -> SweepStats:
    """Counts of a run that runs nothing (``report_only``): planned and already stored."""
    return SweepStats(planned=len(jobs), skipped=sum(store.has(j.id) for j in jobs))


def parameter_count(case: Any) -> int:
    """d of a case instance: its ``dim`` attribute if it has one, else built once on the CPU."""
    dim = getattr(case, "dim", None)
    if callable(dim):
        dim = dim()
    if isinstance(dim, int):
        return dim
    import torch

    return int(case.build(seed=0, device="cpu", dtype=torch.float32).dim)


def resolve_device(device: str) -> str:
    from rlct.numeric.device import resolve_device as resolve

    return str(resolve(device))


def _max_parameters(device: str) -> int:
    return CUDA_MAX_PARAMETERS if device.startswith("cuda") else CPU_MAX_PARAMETERS


def default_executor(device: str) -> str:
    """The command line's executor when none is named: local worker processes (one per core)
    when sampling on the CPU, where jobs are independent and mostly single-core; this process
    on CUDA, where one process keeps the GPU busy."""
    return "serial" if resolve_device(device).startswith("cuda") else "process"


def _positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name}: expected a positive integer, got {value!r}")
    return value


def _scales_of(
    case_cls: Any, which: str | Sequence[str], max_parameters: int | None
) -> list[tuple[str, Any]]:
    """(scale name, case instance) for the chosen scales of a case, small to large."""
    names = list(case_cls.scales)
    if not names:
        raise ValueError(f"cases: case {case_cls.name!r} declares no scales")
    if which == "smallest":
        chosen = names[:1]
    elif which == "all":
        chosen = names
    else:
        chosen = [s for s in names if s in set(which)]
    out = []
    for scale in chosen:
        case = case_cls.at_scale(scale)
        if which != "smallest" and max_parameters is not None:
            if parameter_count(case) > max_parameters:
                continue
        out.append((scale, case))
    return out


def _cells(
    mode: str, cases: Sequence[str] | str | None, registry: Mapping[str, Any],
    max_parameters: int | None, device: str,
) -> list[tuple[str, str, Any]]:
    """(case name, scale, case instance) of a validation sweep before any ``--skip``: the chosen
    cases at their smallest scale (quick) or every scale within the parameter cap (full)."""
    limit = max_parameters if max_parameters is not None else _max_parameters(device)
    which = "smallest" if mode == "quick" else "all"
    return [
        (name, scale, case)
        for name, case_cls in select_cases(cases, registry).items()
        for scale, case in _scales_of(case_cls, which, limit)
    ]


def plan_validation(
    mode: str = "quick",
    *,
    cases: Sequence[str] | str | None = None,
    seeds: int | None = None,
    device: str = "cpu",
    dtype: str = "float64",
    registry: Mapping[str, Any] | None = None,
    max_parameters: int | None = None,
    llc_estimator: str = "rlct",
    skip: Sequence[str] | str | None = None,
) -> list[Job]:
    """The jobs of a validation sweep: each chosen case at its scales x seeds, with
    ``case.recommended()`` settings, leaving out the ``skip`` cells ("case/scale"); after each
    cell's estimates, its reference jobs (one per seed, where the case has a reference sampler:
    module docstring).
    ``device`` must be concrete (not "auto")."""
    if mode not in MODES:
        raise ValueError(f"mode: expected one of {MODES}, got {mode!r}")
    seeds = _positive_int("seeds", seeds if seeds is not None else (
        QUICK_SEEDS if mode == "quick" else FULL_SEEDS
    ))
    if registry is None:
        from rlct.cases import registry as load_registry

        registry = load_registry()
    cells = _cells(mode, cases, registry, max_parameters, device)
    skipped = set(parse_skip(skip, registry))
    jobs: list[Job] = []
    seen: set[str] = set()
    for name, scale, case in cells:
        if (name, scale) in skipped:
            continue
        settings = case.recommended()
        estimates = [
            Job(
                case=name,
                scale=scale,
                params=dict(case.parameters),
                settings=settings,
                seed=seed,
                device=device,
                dtype=dtype,
                estimator=llc_estimator,
            )
            for seed in range(seeds)
        ]
        jobs += estimates
        jobs += _new_references(case, estimates, seen)
    return jobs


def reference_job(case: Any, job: Job) -> Job | None:
    """The reference job of estimate ``job`` (module docstring): the same case, scale,
    parameters, seed, device and dtype (the same data), estimator ``"rlct"``, and the case's
    reference settings for ``job.settings`` (`Case.reference_settings`); None where the case has
    none for them (cases without the hook, and Gibbs settings, their own reference).

    The dtype is the estimate's, not float64 whatever it is: the data are drawn in that dtype
    (float32 and float64 draws differ), and the Gibbs sampler computes in float64 either way."""
    make = getattr(case, "reference_settings", None)
    settings = make(job.settings) if make is not None else None
    if settings is None:
        return None
    reference = Job(case=job.case, scale=job.scale, params=dict(job.params), settings=settings,
                    seed=job.seed, device=job.device, dtype=job.dtype, estimator="rlct")
    if not is_reference(reference):
        raise ValueError(
            f"{job.case}: reference_settings must use the sampler {REFERENCE_SAMPLER!r} "
            f"(how reports tell references from estimates), got {settings.sampler!r}"
        )
    return reference


def _new_references(case: Any, estimates: Sequence[Job], seen: set[str]) -> list[Job]:
    """The reference jobs of ``estimates`` whose ids are not in ``seen`` (which is updated):
    settings with the same n beta and gamma share one reference per seed."""
    out = []
    for job in estimates:
        reference = reference_job(case, job)
        if reference is not None and reference.id not in seen:
            seen.add(reference.id)
            out.append(reference)
    return out


@dataclass(frozen=True)
class CalibrationCell:
    """One case x scale of a calibration sweep: its case instance, d, bucket, and whether it
    fits this device's parameter cap (``runnable``; the others are listed as not run)."""

    case: str
    scale: str
    instance: Any
    dim: int
    bucket: str
    runnable: bool


def calibration_cells(
    grid: CalibrationGrid,
    *,
    cases: Sequence[str] | str | None = None,
    device: str = "cpu",
    registry: Mapping[str, Any] | None = None,
) -> list[CalibrationCell]:
    """The case x scale cells of a calibration sweep, each case small to large; cells above
    the device's parameter cap (``sweep.max_parameters``, one number or per device; else 1e6 on
    CPU, 1e8 on CUDA) are kept with ``runnable=False``."""
    if registry is None:
        from rlct.cases import registry as load_registry

        registry = load_registry()
    chosen = select_cases(cases if cases is not None else grid.cases, registry)
    cap = grid.parameter_cap(device)
    limit = cap if cap is not None else _max_parameters(device)
    per_case = dict(grid.case_scales)
    for name in per_case:
        if name not in registry:
            raise ValueError(
                f"sweep.case_scales.{name}: unknown case; registered: {', '.join(sorted(registry))}"
            )
    out = []
    for name, case_cls in chosen.items():
        which = grid.scales_for(name)
        if name in per_case and not isinstance(which, str):
            unknown = [s for s in which if s not in case_cls.scales]
            if unknown:
                raise ValueError(
                    f"sweep.case_scales.{name}: unknown scale(s) {unknown}; "
                    f"{name} has {list(case_cls.scales)}"
                )
        for scale, case in _scales_of(case_cls, which, None):
            dim = parameter_count(case)
            runnable = which == "smallest" or dim <= limit
            out.append(CalibrationCell(name, scale, case, dim, grid.bucket_of(dim), runnable))
    return out


def _unsupported(case: Any, settings: Any) -> str | None:
    """`Case.unsupported` (a case without it supports every setting)."""
    method = getattr(case, "unsupported", None)
    return None if method is None else method(settings)


def _check_grid_cells(grid: CalibrationGrid, cells: Sequence[CalibrationCell]) -> None:
    """Every sub-grid's buckets have cells in this sweep, and each of its settings is supported
    by at least one case of each bucket it runs in (`Case.unsupported`): else one ValueError
    naming the sub-grid, bucket and setting, before any job starts."""
    for i, sub in enumerate(grid.grids):
        where = f"grid[{i}]"
        mine = [c for c in cells if sub.applies_to(c.case)]
        buckets = list(sub.buckets) if sub.buckets is not None else list(
            dict.fromkeys(c.bucket for c in mine)
        )
        for bucket in buckets:
            in_bucket = [c for c in mine if c.bucket == bucket]
            if not in_bucket:
                raise ValueError(
                    f"{where}.buckets: bucket {bucket!r} has no case x scale cell of this sweep"
                    + (f" among the cases {list(sub.cases)}" if sub.cases else "")
                )
            for setting in sub.settings(where):
                reasons = [_unsupported(c.instance, setting) for c in in_bucket]
                if all(r is not None for r in reasons):
                    raise ValueError(
                        f"{where}: no case of bucket {bucket!r} supports the setting "
                        f"sampler={setting.sampler!r}, step_size={setting.step_size:g} "
                        f"({reasons[0]})"
                    )


def plan_calibration(
    grid: CalibrationGrid,
    *,
    cases: Sequence[str] | str | None = None,
    seeds: int | None = None,
    device: str = "cpu",
    registry: Mapping[str, Any] | None = None,
) -> list[Job]:
    """The jobs of a calibration sweep: for every runnable cell (`calibration_cells`) the grid
    settings of its case and bucket that the case supports x seeds, and after each cell its
    reference jobs (one per seed and distinct n beta, gamma; module docstring)."""
    if registry is None:
        from rlct.cases import registry as load_registry

        registry = load_registry()
    seeds = _positive_int("seeds", seeds if seeds is not None else grid.seeds)
    if "devinterp" in grid.estimators:
        from rlct.validation import devinterp_adapter

        if not devinterp_adapter.available():
            raise ValueError(f"sweep.estimators: {devinterp_adapter.NOT_INSTALLED}")
        if not any(devinterp_adapter.supports(s) for s in grid.settings()) and (
            grid.estimators == ("devinterp",)
        ):
            raise ValueError("sweep.estimators: devinterp supports none of the grid's settings")
    for i, sub in enumerate(grid.grids):
        for name in sub.cases or ():
            if name not in registry:
                raise ValueError(
                    f"grid[{i}].cases: unknown case {name!r}; registered: "
                    f"{', '.join(sorted(registry))}"
                )
    cells = calibration_cells(grid, cases=cases, device=device, registry=registry)
    _check_grid_cells(grid, cells)

    def runs_for(cell: CalibrationCell) -> list[tuple[Any, str]]:
        def supported(estimator: str) -> list[Any]:
            return [
                s for s in grid.settings(cell.case, cell.bucket, estimator)
                if _unsupported(cell.instance, s) is None
            ]

        runs = [(s, "rlct") for s in supported("rlct")] if "rlct" in grid.estimators else []
        if "devinterp" in grid.estimators:
            # devinterp runs the settings it has a sampler for (plain SGLD, pSGLD), no others
            runs += [(s, "devinterp") for s in supported("devinterp") if devinterp_adapter.supports(s)]
        return runs

    jobs: list[Job] = []
    seen: set[str] = set()
    for cell in cells:
        if not cell.runnable:
            continue
        estimates = [
            Job(
                case=cell.case,
                scale=cell.scale,
                params=dict(cell.instance.parameters),
                settings=setting,
                seed=seed,
                device=device,
                dtype=grid.dtype,
                estimator=estimator,
            )
            for setting, estimator in runs_for(cell)
            for seed in range(seeds)
        ]
        jobs += estimates
        jobs += _new_references(cell.instance, estimates, seen)
    return jobs


def _run_pruned(
    jobs: Sequence[Job],
    cells: Sequence[CalibrationCell],
    grid: CalibrationGrid,
    store: ResultStore,
    executor: str | ExecutorSpec | Executor,
    run: bool = True,
    **run_options: Any,
) -> tuple[list[Job], SweepStats, list[dict[str, Any]]]:
    """Run ``jobs`` stage by stage (bucket, seed), pruning the settings that failed in an
    earlier stage (`rlct.validation.prune`). Returns the jobs that were kept, the summed
    statistics, and one record per pruned setting. ``run=False``: the same stages and pruning
    from the stored results only, running nothing (``--report-only``)."""
    from rlct.validation import prune
    from rlct.validation.executors import make_executor

    order = {label: i for i, label in enumerate(grid.bucket_labels())}
    index = {(c.case, c.scale): order[c.bucket] for c in cells}
    buckets = {(c.case, c.scale): c.bucket for c in cells}
    cases_in = {label: {c.case for c in cells if c.bucket == label} for label in order}
    registry = run_options.pop("registry")
    owned = run and not isinstance(executor, Executor)
    pool = make_executor(executor) if owned else executor
    total = SweepStats()
    kept: list[Job] = []
    pruned: list[tuple[Job, prune.Failure]] = []
    failures: dict[str, list[prune.Failure]] = {}
    try:
        for stage in prune.stages(jobs, index):
            if kept:
                failures = prune.failed_runs(
                    store.load(j.id for j in kept), kept, grid.max_target, buckets
                )
            bucket = buckets[(stage[0].case, stage[0].scale)]
            keep, dropped = prune.split_pruned(stage, failures, bucket, cases_in[bucket])
            pruned += dropped
            kept += keep
            if run:
                stats = run_jobs(keep, store, pool, cases=registry, **run_options)
            else:
                stats = _stored_stats(keep, store)
            total.planned += stats.planned
            total.skipped += stats.skipped
            total.ran += stats.ran
            total.statuses.update(stats.statuses)
            total.lost += stats.lost
    except BaseException:
        if owned:
            pool.close(cancel=True)
        raise
    if owned:
        pool.close()
    return kept, total, prune.pruned_summary(pruned, buckets)


def _not_run_record(cell: CalibrationCell, grid: CalibrationGrid, seeds: int | None) -> dict[str, Any]:
    """A cell above the device's parameter cap: what it would have run (for the report's cost)."""
    settings = grid.settings(cell.case, cell.bucket)
    return {
        "case": cell.case,
        "scale": cell.scale,
        "dim": cell.dim,
        "bucket": cell.bucket,
        "settings": len(settings),
        "seeds": seeds if seeds is not None else grid.seeds,
        "steps": sum(s.steps * s.chains for s in settings),
    }


def _executor_text(executor: str | ExecutorSpec | Executor) -> str:
    if isinstance(executor, Executor):
        return executor.spec.describe()
    if isinstance(executor, ExecutorSpec):
        return executor.describe()
    return parse_executor(executor).describe()


def validate(
    mode: str = "quick",
    *,
    cases: Sequence[str] | str | None = None,
    seeds: int | None = None,
    executor: str | ExecutorSpec | Executor = "serial",
    out: str | Path | None = None,
    device: str = "auto",
    dtype: str = "float64",
    estimator: Estimator | None = None,
    registry: Mapping[str, Any] | None = None,
    retry_errors: bool = False,
    progress: bool = False,
    argv: Sequence[str] | None = None,
    llc_estimator: str = "rlct",
    max_parameters: int | None = None,
    report_only: bool = False,
    skip: Sequence[str] | str | None = None,
) -> SweepSummary:
    """Run the validation sweep and write its report (``<out>/README.md`` and friends).

    ``llc_estimator``: ``"rlct"`` (ours) or ``"devinterp"`` (devinterp 2.0.1 with the same
    settings, if installed). ``report_only``: run nothing, write the report from the jobs stored
    so far (the report counts the planned jobs that are missing). ``estimator`` and ``registry``
    default to the real estimator and `rlct.cases.registry()` (injectable for tests); ``argv`` is
    recorded in the manifest.
    """
    from rlct.validation import report

    started = time.time()
    if mode not in MODES:
        raise ValueError(f"mode: expected one of {MODES}, got {mode!r}")
    if llc_estimator not in ESTIMATORS:
        raise ValueError(f"estimator: expected one of {ESTIMATORS}, got {llc_estimator!r}")
    if llc_estimator == "devinterp" and estimator is None:
        from rlct.validation import devinterp_adapter

        if not devinterp_adapter.available():
            raise ValueError(f"estimator: {devinterp_adapter.NOT_INSTALLED}")
    executor_text = _executor_text(executor)
    concrete = resolve_device(device)
    seeds = _positive_int("seeds", seeds if seeds is not None else (
        QUICK_SEEDS if mode == "quick" else FULL_SEEDS
    ))
    default_out = DEFAULT_OUT[mode] + ("" if llc_estimator == "rlct" else f"-{llc_estimator}")
    out_dir = Path(out if out is not None else default_out)
    if registry is None:
        from rlct.cases import registry as load_registry

        registry = load_registry()
    skipped = parse_skip(skip, registry)
    jobs = plan_validation(
        mode, cases=cases, seeds=seeds, device=concrete, dtype=dtype, registry=registry,
        llc_estimator=llc_estimator, max_parameters=max_parameters, skip=skip,
    )
    # the skipped cells the sweep would otherwise have run (chosen cases, within the cap)
    not_run = [
        {"case": name, "scale": scale, "parameters": parameter_count(case)}
        for name, scale, case in _cells(mode, cases, registry, max_parameters, concrete)
        if (name, scale) in skipped
    ]
    if not jobs:
        raise ValueError("cases: no case has a scale to run")
    store = ResultStore(out_dir)
    if report_only:
        stats = _stored_stats(jobs, store)
    else:
        stats = run_jobs(
            jobs,
            store,
            executor,
            estimator=estimator,
            cases=registry,
            retry_errors=retry_errors,
            progress=progress,
        )
    case_list = cases if cases is None or isinstance(cases, str) else ",".join(cases)
    command = validate_command(
        mode, case_list, seeds, executor_text, out_dir, device, dtype, llc_estimator,
        max_parameters, [f"{c}/{s}" for c, s in skipped],
    )
    config = {
        "sweep": "validate",
        "mode": mode,
        "estimator": llc_estimator,
        "cases": sorted({j.case for j in jobs}),
        "seeds": seeds,
        "executor": executor_text,
        "device": concrete,
        "device_requested": device,
        "dtype": dtype,
        "out": str(out_dir),
        "jobs": len(jobs),
        "skipped": not_run,
    }
    written = report.write_validation_report(
        store,
        jobs,
        config=config,
        command=command,
        argv=argv,
        stats=stats,
        started=started,
    )
    return SweepSummary(
        out=out_dir, report=written.path, stats=stats, headline=written.headline, command=command
    )


def validate_command(
    mode: str,
    cases: str | None,
    seeds: int,
    executor: str,
    out: Path,
    device: str,
    dtype: str,
    llc_estimator: str = "rlct",
    max_parameters: int | None = None,
    skip: Sequence[str] = (),
) -> str:
    """The `rlct validate` command line that regenerates a report."""
    parts = ["rlct", "validate", f"--{mode}"]
    if llc_estimator != "rlct":
        parts += ["--estimator", llc_estimator]
    if cases:
        parts += ["--cases", cases]
    parts += ["--seeds", str(seeds), "--executor", executor, "--device", device]
    if dtype != "float64":
        parts += ["--dtype", dtype]
    if max_parameters is not None:
        parts += ["--max-parameters", str(max_parameters)]
    if skip:
        parts += ["--skip", ",".join(skip)]
    parts += ["--out", str(out)]
    return shlex.join(parts)


def calibrate(
    *,
    cases: Sequence[str] | str | None = None,
    grid: CalibrationGrid | str | Path | None = None,
    seeds: int | None = None,
    executor: str | ExecutorSpec | Executor = "serial",
    out: str | Path | None = None,
    device: str = "auto",
    estimator: Estimator | None = None,
    registry: Mapping[str, Any] | None = None,
    retry_errors: bool = False,
    progress: bool = False,
    argv: Sequence[str] | None = None,
    report_only: bool = False,
) -> SweepSummary:
    """Sweep the grid's settings over the cases and scales; write the calibration report with
    error and cost per setting and a recommendation per parameter-count bucket.
    ``report_only``: run nothing, write the report from the jobs stored so far (with pruning,
    the settings that stored runs have failed are pruned as a run would; the report counts the
    planned jobs that have no result yet)."""
    from rlct.validation import report

    started = time.time()
    grid_path = None
    if grid is None:
        parsed = CalibrationGrid.default()
    elif isinstance(grid, CalibrationGrid):
        parsed = grid
    else:
        grid_path = Path(grid)
        parsed = CalibrationGrid.from_file(grid_path)
    executor_text = _executor_text(executor)
    concrete = resolve_device(device)
    out_dir = Path(out if out is not None else DEFAULT_CALIBRATION_OUT)
    jobs = plan_calibration(parsed, cases=cases, seeds=seeds, device=concrete, registry=registry)
    if not jobs:
        raise ValueError("cases: no case has a scale to run")
    cells = calibration_cells(parsed, cases=cases, device=concrete, registry=registry)
    store = ResultStore(out_dir)
    pruned: list[dict[str, Any]] = []
    if parsed.prune:
        jobs, stats, pruned = _run_pruned(
            jobs, cells, parsed, store, executor, run=not report_only,
            estimator=estimator, registry=registry, retry_errors=retry_errors, progress=progress,
        )
    elif report_only:
        stats = _stored_stats(jobs, store)
    else:
        stats = run_jobs(
            jobs,
            store,
            executor,
            estimator=estimator,
            cases=registry,
            retry_errors=retry_errors,
            progress=progress,
        )
    parts = ["rlct", "calibrate"]
    case_list = cases if cases is None or isinstance(cases, str) else ",".join(cases)
    if case_list:
        parts += ["--cases", case_list]
    if grid_path is not None:
        parts += ["--grid", str(grid_path)]
    if seeds is not None:
        parts += ["--seeds", str(seeds)]
    parts += ["--executor", executor_text, "--device", device, "--out", str(out_dir)]
    command = shlex.join(parts)
    config = {
        "sweep": "calibrate",
        "cases": sorted({j.case for j in jobs}),
        "grid": parsed.to_dict(),
        "grid_file": None if grid_path is None else str(grid_path),
        "seeds": seeds if seeds is not None else parsed.seeds,
        "executor": executor_text,
        "device": concrete,
        "device_requested": device,
        "out": str(out_dir),
        "jobs": len(jobs),
        "pruned": pruned,
        "not_run": [_not_run_record(cell, parsed, seeds) for cell in cells if not cell.runnable],
    }
    written = report.write_calibration_report(
        store,
        jobs,
        parsed,
        config=config,
        command=command,
        argv=argv,
        stats=stats,
        started=started,
    )
    return SweepSummary(
        out=out_dir, report=written.path, stats=stats, headline=written.headline, command=command
    )
