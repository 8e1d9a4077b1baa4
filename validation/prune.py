"""Early pruning of a calibration sweep: run it in stages and drop settings that have failed.

A calibration grid with ``[sweep] prune = true`` runs its jobs in stages, one per (parameter-
count bucket, seed), small buckets and seed 0 first (`stages`). Before each stage, every
setting (sampler settings and whose estimator runs them) that already has a *failed run* in an
earlier stage loses its jobs in this stage (`failed_settings`, `split_pruned`). A run fails when

* it has a reference lambda_beta (`rlct.validation.aggregate.attach_references`) and its
  sampler error |lambda_hat - lambda_beta| / lambda_beta exceeds the grid's max target, or
* it did not give an estimate: ``status`` "diverged" (a chain ran away or became non-finite) or
  "error".

Why this rule is safe: a setting is recommended for a bucket only if *every* run in it has
sampler error <= the max target (`rlct.validation.aggregate.setting_table`), so one failed run
in a bucket already rules the setting out there, and the remaining seeds cannot change that.
Larger buckets are pruned too: step-size bias and slow mixing grow with d, so a setting that
fails at 10^3 parameters is not run at 10^5 (the report lists every pruned setting with the run
that failed). Runs without a reference (cells with neither a Gibbs nor a quadrature reference)
prune only when they diverge or fail.
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
    """The first failed run of a setting: where, and why."""

    case: str
    scale: str
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


def failed_settings(frame: pd.DataFrame, jobs: Sequence[Job], max_error: float) -> dict[str, Failure]:
    """Per setting key, its first failed run among the stored rows ``frame`` of ``jobs`` (the
    jobs of the stages run so far; rows of other jobs are ignored)."""
    from rlct.validation.aggregate import attach_references

    if frame.empty:
        return {}
    by_id = {job.id: job for job in jobs}
    rows = attach_references(frame)
    out: dict[str, Failure] = {}
    for _, row in rows.iterrows():
        job = by_id.get(str(row.get("job_id")))
        if job is None or is_reference(job):
            continue
        key = setting_key(job)
        if key in out:
            continue
        reason = _failure_reason(row, max_error)
        if reason is not None:
            out[key] = Failure(job.case, job.scale, job.seed, reason)
    return out


def _posterior_key(job: Job) -> tuple[Any, ...]:
    """What an estimate and its reference share (`rlct.validation.sweep.reference_job`): the
    data (case, scale, seed, dtype) and the posterior (n beta, gamma)."""
    return (job.case, job.scale, job.seed, job.dtype, job.settings.nbeta, job.settings.localization)


def split_pruned(stage: Stage, failed: Mapping[str, Failure]) -> tuple[Stage, Stage]:
    """(jobs to run, estimates pruned) of one stage: estimates of a failed setting are pruned,
    and so are the references that no remaining estimate of the stage needs (dropped silently:
    a reference is not a setting)."""
    estimates = [job for job in stage if not is_reference(job)]
    pruned = [job for job in estimates if setting_key(job) in failed]
    kept = {id(job) for job in estimates if setting_key(job) not in failed}
    needed = {_posterior_key(job) for job in estimates if id(job) in kept}
    keep = [
        job for job in stage
        if (id(job) in kept) or (is_reference(job) and _posterior_key(job) in needed)
    ]
    return keep, pruned


def pruned_summary(
    pruned: Sequence[Job], failed: Mapping[str, Failure], bucket_of: Mapping[tuple[str, str], str]
) -> list[dict[str, Any]]:
    """One record per pruned setting: its estimator and settings, the failed run, and the
    buckets and number of jobs it was pruned from (for the report)."""
    records: dict[str, dict[str, Any]] = {}
    for job in pruned:
        key = setting_key(job)
        failure = failed[key]
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
