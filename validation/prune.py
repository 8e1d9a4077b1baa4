"""Early pruning of a calibration sweep: run it in stages and drop settings that have failed.

A calibration grid with ``[sweep] prune = true`` runs its jobs in stages, one per (parameter-
count bucket, seed), small buckets and seed 0 first (`stages`). A run *fails* when

* it has a reference lambda_beta (`rlct.validation.aggregate.attach_references`) and its
  sampler error |lambda_hat - lambda_beta| / lambda_beta exceeds the grid's max target, or
* it did not give an estimate: ``status`` "diverged" (a chain ran away or became non-finite) or
  "error".

Before each stage, a setting (sampler settings and whose estimator runs them) loses its jobs in
the stage's bucket when it has a failed run (`failed_runs`, `split_pruned`)

* in the same bucket: a setting is recommended for a bucket only if *every* run there has
  sampler error <= the max target (`rlct.validation.aggregate.setting_table`), so one failed
  run already rules it out, and the remaining seeds and cells cannot change that; or
* on a case that also has a cell in this bucket, at a smaller size: step-size bias and slow
  mixing grow with d for the same model, and the setting would have to cover that cell too.

A failure on a case with no cell in the bucket (e.g. the polynomial cells, which stop at 2,000
parameters) does not prune there. Runs without a reference prune only when they diverge or fail.
The report lists every pruned setting with the run that failed.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from rlct.validation.jobs import Job, is_reference, settings_for_id

Stage = list[Job]


def setting_key(job: Job) -> str:
    """What pruning drops as a whole: the settings (as hashed into job ids) and the estimator."""
    return json.dumps([job.estimator, settings_for_id(job.settings)], sort_keys=True)


def stages(jobs: Sequence[Job], bucket_index: Mapping[tuple[str, str], int]) -> list[Stage]:
    """The jobs grouped by (bucket index of their case x scale, seed), in that order; job order
    within a stage is kept (each cell's references stay after its estimates)."""
    grouped: dict[tuple[int, int], Stage] = {}
    for job in jobs:
        key = (bucket_index[(job.case, job.scale)], job.seed)
        grouped.setdefault(key, []).append(job)
    return [grouped[key] for key in sorted(grouped)]


@dataclass(frozen=True)
class Failure:
    """A failed run of a setting: where (case, scale, its bucket, seed), and why."""

    case: str
    scale: str
    bucket: str
    seed: int
    reason: str


def _failure_reason(row: pd.Series, max_error: float) -> str | None:
    status = str(row.get("status"))
    if status in ("diverged", "error"):
        message = str(row.get("message") or "").strip()
        return status + (f" ({message[:120]})" if message else "")
    error = row.get("sampler_error")
    try:
        value = float(error)
    except (TypeError, ValueError):
        return None
    if math.isfinite(value) and abs(value) > max_error:
        return f"sampler error {value:+.1%} (max target {max_error:.0%})"
    return None


def failed_runs(
    frame: pd.DataFrame, jobs: Sequence[Job], max_error: float, bucket_of: Mapping[tuple[str, str], str]
) -> dict[str, list[Failure]]:
    """Per setting key, its failed runs among the stored rows ``frame`` of ``jobs`` (the jobs
    of the stages run so far; rows of other jobs are ignored), in stage order."""
    from rlct.validation.aggregate import attach_references

    if frame.empty:
        return {}
    by_id = {job.id: job for job in jobs}
    order = {job.id: i for i, job in enumerate(jobs)}
    rows = attach_references(frame)
    found: list[tuple[int, str, Failure]] = []
    for _, row in rows.iterrows():
        job = by_id.get(str(row.get("job_id")))
        if job is None or is_reference(job):
            continue
        reason = _failure_reason(row, max_error)
        if reason is not None:
            bucket = bucket_of[(job.case, job.scale)]
            found.append((order[job.id], setting_key(job), Failure(job.case, job.scale, bucket, job.seed, reason)))
    out: dict[str, list[Failure]] = {}
    for _, key, failure in sorted(found, key=lambda item: item[0]):
        out.setdefault(key, []).append(failure)
    return out


def pruning_failure(failures: Sequence[Failure], bucket: str, cases_in_bucket: set[str]) -> Failure | None:
    """The failure that prunes a setting from ``bucket`` (module docstring), or None."""
    for failure in failures:
        if failure.bucket == bucket or failure.case in cases_in_bucket:
            return failure
    return None


def _posterior_key(job: Job) -> tuple[Any, ...]:
    """What an estimate and its reference share (`rlct.validation.sweep.reference_job`): the
    data (case, scale, seed, dtype) and the posterior (n beta, gamma)."""
    return (job.case, job.scale, job.seed, job.dtype, job.settings.nbeta, job.settings.localization)


def split_pruned(
    stage: Stage, failures: Mapping[str, Sequence[Failure]], bucket: str, cases_in_bucket: set[str]
) -> tuple[Stage, list[tuple[Job, Failure]]]:
    """(jobs to run, pruned estimates with the failure that pruned each) of one stage in
    ``bucket``; the references that no remaining estimate of the stage needs are dropped
    silently (a reference is not a setting)."""
    estimates = [job for job in stage if not is_reference(job)]
    pruned: list[tuple[Job, Failure]] = []
    kept: set[int] = set()
    for job in estimates:
        failure = pruning_failure(failures.get(setting_key(job), ()), bucket, cases_in_bucket)
        if failure is None:
            kept.add(id(job))
        else:
            pruned.append((job, failure))
    needed = {_posterior_key(job) for job in estimates if id(job) in kept}
    keep = [
        job for job in stage
        if (id(job) in kept) or (is_reference(job) and _posterior_key(job) in needed)
    ]
    return keep, pruned


def pruned_summary(
    pruned: Sequence[tuple[Job, Failure]], bucket_of: Mapping[tuple[str, str], str]
) -> list[dict[str, Any]]:
    """One record per pruned setting: its estimator and settings, the failed run(s) that pruned
    it, and the buckets and number of jobs it was pruned from (for the report)."""
    records: dict[str, dict[str, Any]] = {}
    for job, failure in pruned:
        key = setting_key(job)
        record = records.setdefault(
            key,
            {
                "estimator": job.estimator,
                "settings": settings_for_id(job.settings),
                "failed_run": f"{failure.case}/{failure.scale} seed {failure.seed}",
                "reason": failure.reason,
                "buckets": [],
                "jobs": 0,
            },
        )
        bucket = bucket_of[(job.case, job.scale)]
        if bucket not in record["buckets"]:
            record["buckets"].append(bucket)
        record["jobs"] += 1
    return list(records.values())
