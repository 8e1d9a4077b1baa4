"""Run a list of jobs on an executor, storing each result as soon as it completes.

Resume: a job whose result file already exists is skipped, so rerunning the same sweep after a
crash runs exactly the missing jobs. A job that fails *inside* (an exception in the case or the
estimator) is stored as ``status="error"``; a job whose *worker* failed (a killed process, a
lost Dask worker) is not stored, so the next run retries it; it is reported in
`SweepStats.lost`.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rlct.validation.executors import Executor, ExecutorSpec, make_executor
from rlct.validation.jobs import Job, unique
from rlct.validation.run import Estimator, run_job
from rlct.validation.store import ResultStore


@dataclass
class SweepStats:
    """Counts of one run: ``planned`` jobs, ``skipped`` (already stored), ``ran``, statuses of
    the jobs that ran, and ``lost`` (job id, reason) for jobs whose worker failed."""

    planned: int = 0
    skipped: int = 0
    ran: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    lost: list[tuple[str, str]] = field(default_factory=list)

    def describe(self) -> str:
        parts = [f"{self.planned} jobs", f"{self.skipped} already done", f"{self.ran} ran"]
        parts += [f"{count} {status}" for status, count in sorted(self.statuses.items())]
        if self.lost:
            parts.append(f"{len(self.lost)} lost (worker failures; rerun to retry)")
        return ", ".join(parts)


def pending_jobs(
    jobs: Sequence[Job], store: ResultStore, *, retry_errors: bool = False
) -> list[Job]:
    """The jobs without a stored result (or with a stored error, if ``retry_errors``)."""
    done = store.done_ids()
    if retry_errors and done:
        errored = {
            record["row"]["job_id"]
            for record in store.records()
            if record["row"].get("status") == "error"
        }
        done -= errored
    return [job for job in unique(list(jobs)) if job.id not in done]


def run_jobs(
    jobs: Sequence[Job],
    store: ResultStore,
    executor: str | ExecutorSpec | Executor = "serial",
    *,
    estimator: Estimator | None = None,
    cases: Mapping[str, Any] | None = None,
    retry_errors: bool = False,
    progress: bool = False,
) -> SweepStats:
    """Run the jobs that are not stored yet; store each outcome as its future completes.

    Args:
        jobs: the sweep (duplicates by id are run once).
        store: where results go (and where finished jobs are looked up).
        executor: a spec string (see `rlct.validation.executors`) or an open `Executor` (not
            closed here).
        estimator, cases: passed to `rlct.validation.run.run_job` (defaults: the real estimator
            and `rlct.cases.registry()`); must be picklable for process/Dask executors.
        retry_errors: also rerun jobs stored with ``status="error"``.
        progress: a tqdm bar on stderr.
    """
    planned = unique(list(jobs))
    store.remove_stale_temporaries()
    todo = pending_jobs(planned, store, retry_errors=retry_errors)
    stats = SweepStats(planned=len(planned), skipped=len(planned) - len(todo))
    if not todo:
        return stats
    owned = not isinstance(executor, Executor)
    pool = make_executor(executor) if not isinstance(executor, Executor) else executor
    bar = None
    if progress:
        from tqdm.auto import tqdm

        print(
            f"{len(todo)} jobs to run ({stats.skipped} of {stats.planned} already done) "
            f"-> {store.root}",
            file=sys.stderr,
        )
        # disable=None: no bar when stderr is not a terminal (logs, CI)
        bar = tqdm(total=len(todo), desc="jobs", unit="job", file=sys.stderr, disable=None)
    interrupted = True
    try:
        futures = {
            pool.submit(
                run_job, job, estimator=estimator, cases=cases, torch_threads=pool.torch_threads
            ): job
            for job in todo
        }
        for future in pool.as_completed(futures):
            job = futures[future]
            try:
                outcome = future.result()
            except Exception as err:  # noqa: BLE001 - the worker died; retry on the next run
                stats.lost.append((job.id, f"{type(err).__name__}: {err}"))
            else:
                store.write(outcome)
                stats.ran += 1
                stats.statuses[str(outcome.row.get("status"))] += 1
            if bar is not None:
                bar.update(1)
                bar.set_postfix(dict(stats.statuses), refresh=False)
        interrupted = False
    finally:
        if bar is not None:
            bar.close()
        if owned:
            pool.close(cancel=interrupted)
    return stats
