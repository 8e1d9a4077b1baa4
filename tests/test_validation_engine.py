"""Running sweeps: serial, process pool, Dask; resume after a kill; lost vs failed jobs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from rlct.validation.engine import pending_jobs, run_jobs
from rlct.validation.executors import (
    DASK_MISSING,
    ExecutorSpec,
    SerialExecutor,
    make_executor,
    parse_executor,
    threads_per_worker,
)
from rlct.validation.jobs import Job
from rlct.validation.store import ResultStore
from rlct.validation.testing import REGISTRY, QuadraticCase, ScriptedEstimator, scripted_jobs

ROOT = Path(__file__).resolve().parent.parent
KILL_TIMEOUT = 120  # seconds to wait for the first results of the killed sweep (a loaded host)


def mixed_jobs():
    jobs = []
    for behavior in ("ok", "diverge", "raise"):
        case = QuadraticCase(d=3, behavior=behavior)
        jobs += [
            Job(case="quadratic", scale="d2", params=case.parameters,
                settings=case.recommended(), seed=s)
            for s in range(2)
        ]
    return jobs


def test_serial_sweep_stores_every_job_and_resumes_without_rerunning(tmp_path):
    store = ResultStore(tmp_path)
    log = tmp_path / "ran.log"
    stats = run_jobs(mixed_jobs(), store, "serial", estimator=ScriptedEstimator(str(log)),
                     cases=REGISTRY)
    assert (stats.planned, stats.skipped, stats.ran) == (6, 0, 6)
    assert stats.statuses == Counter({"ok": 2, "diverged": 2, "error": 2})
    frame = store.load()
    assert len(frame) == 6 and frame["job_id"].is_unique
    ran_first = log.read_text().splitlines()
    assert len(ran_first) == 4  # the two "raise" jobs fail before the estimator runs

    again = run_jobs(mixed_jobs(), store, "serial", estimator=ScriptedEstimator(str(log)),
                     cases=REGISTRY)
    assert (again.skipped, again.ran) == (6, 0)
    assert log.read_text().splitlines() == ran_first  # nothing ran twice


def test_retry_errors_reruns_only_the_errors(tmp_path):
    store = ResultStore(tmp_path)
    run_jobs(mixed_jobs(), store, "serial", estimator=ScriptedEstimator(), cases=REGISTRY)
    assert len(pending_jobs(mixed_jobs(), store, retry_errors=True)) == 2
    stats = run_jobs(mixed_jobs(), store, "serial", estimator=ScriptedEstimator(),
                     cases=REGISTRY, retry_errors=True)
    assert (stats.skipped, stats.ran) == (4, 2) and stats.statuses == Counter({"error": 2})


def test_serial_executor_runs_lazily_one_at_a_time():
    executor = SerialExecutor()
    calls = []
    futures = [executor.submit(calls.append, i) for i in range(3)]
    assert calls == []  # nothing runs at submit time
    seen = []
    for future in executor.as_completed(futures):
        seen.append(len(calls))
        future.result()
    assert seen == [1, 2, 3] and calls == [0, 1, 2]


def test_worker_failure_is_lost_not_stored(tmp_path):
    """A future that raises (a dead worker) is reported as lost and retried next time."""

    class Broken(SerialExecutor):
        def submit(self, fn, /, *args, **kwargs):
            def boom(*a, **k):
                raise OSError("worker died")

            return super().submit(boom, *args, **kwargs)

    store = ResultStore(tmp_path)
    stats = run_jobs(scripted_jobs(2), store, Broken(), estimator=ScriptedEstimator(),
                     cases=REGISTRY)
    assert stats.ran == 0 and len(stats.lost) == 2 and "OSError: worker died" in stats.lost[0][1]
    assert store.done_ids() == set()
    assert len(pending_jobs(scripted_jobs(2), store)) == 2


@pytest.mark.parametrize(
    "spec, parsed",
    [
        ("serial", ExecutorSpec("serial")),
        ("process", ExecutorSpec("process")),
        ("process:3", ExecutorSpec("process", 3)),
        ("dask-local", ExecutorSpec("dask-local")),
        ("dask-local:2", ExecutorSpec("dask-local", 2)),
        ("dask://10.0.0.5:8786", ExecutorSpec("dask", None, "10.0.0.5:8786")),
        ("dask://scheduler.local:8786", ExecutorSpec("dask", None, "scheduler.local:8786")),
    ],
)
def test_parse_executor(spec, parsed):
    assert parse_executor(spec) == parsed


@pytest.mark.parametrize(
    "spec", ["", "threads", "process:0", "process:x", "process:", "dask://", "dask://host",
             "dask-local:-1"]
)
def test_bad_executor_spec_names_the_option(spec):
    with pytest.raises(ValueError, match="^executor: "):
        parse_executor(spec)


def test_threads_per_worker_splits_the_cores():
    assert threads_per_worker(2, cores=2) == 1
    assert threads_per_worker(1, cores=8) == 8
    assert threads_per_worker(3, cores=8) == 2
    assert threads_per_worker(16, cores=2) == 1


def test_process_executor_runs_jobs_in_worker_processes(tmp_path):
    store = ResultStore(tmp_path)
    with make_executor("process:2") as executor:
        assert executor.torch_threads == threads_per_worker(2)
        stats = run_jobs(mixed_jobs(), store, executor, estimator=ScriptedEstimator(),
                         cases=REGISTRY)
    assert stats.ran == 6 and stats.statuses == Counter({"ok": 2, "diverged": 2, "error": 2})
    frame = store.load()
    assert len(frame) == 6
    serial = ResultStore(tmp_path / "serial")
    run_jobs(mixed_jobs(), serial, "serial", estimator=ScriptedEstimator(), cases=REGISTRY)
    # same jobs, same numbers, whichever executor ran them
    merged = frame.merge(serial.load(), on="job_id", suffixes=("", "_serial"))
    assert list(merged["llc_mean"].fillna(-1)) == list(merged["llc_mean_serial"].fillna(-1))


def test_dask_missing_gives_a_clear_error(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_dask(name, *args, **kwargs):
        if name == "distributed" or name.startswith("dask"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_dask)
    with pytest.raises(ValueError, match="^executor: dask is not installed") as info:
        make_executor("dask-local:1")
    assert str(info.value) == DASK_MISSING


@pytest.mark.dask
def test_dask_local_cluster_small_sweep(tmp_path):
    pytest.importorskip("distributed")
    store = ResultStore(tmp_path)
    with make_executor("dask-local:1") as executor:  # one worker process: light on 2 cores
        stats = run_jobs(mixed_jobs(), store, executor, estimator=ScriptedEstimator(),
                         cases=REGISTRY)
    assert stats.ran == 6 and not stats.lost
    assert stats.statuses == Counter({"ok": 2, "diverged": 2, "error": 2})
    assert len(store.load()) == 6


def _result_files(out: Path) -> dict[str, int]:
    results = out / "results"
    if not results.is_dir():
        return {}
    return {
        p.name: p.stat().st_mtime_ns for p in results.glob("*.json") if not p.name.startswith(".")
    }


def test_killed_sweep_resumes_running_exactly_the_missing_jobs(tmp_path):
    """Start a sweep of 8 slow jobs in a subprocess, SIGKILL it after 3 results exist, rerun
    the same command: exactly the missing jobs run, none twice, and the table is complete."""
    out, log = tmp_path / "sweep", tmp_path / "ran.log"
    command = [sys.executable, "-m", "rlct.validation.testing", str(out), "--jobs", "8",
               "--delay", "0.4", "--log", str(log)]
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
    deadline = time.monotonic() + KILL_TIMEOUT
    try:
        while len(_result_files(out)) < 3:
            assert process.poll() is None, process.stderr.read().decode()
            assert time.monotonic() < deadline, "the sweep produced no results in time"
            time.sleep(0.02)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    before = _result_files(out)
    assert 3 <= len(before) < 8, "the sweep finished before it could be killed"
    ran_before = log.read_text().splitlines()

    subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True)
    after = _result_files(out)
    assert len(after) == 8
    assert {k: after[k] for k in before} == before  # finished jobs were not rerun or rewritten
    ran_after = log.read_text().splitlines()[len(ran_before):]
    assert len(ran_after) == len(set(ran_after))  # no duplicates in the rerun
    stored = ResultStore(out).load().set_index("job_id")
    seeds_before = {int(stored.loc[name.removesuffix(".json"), "seed"]) for name in before}
    # the rerun ran exactly the jobs without a result file (one killed mid-run runs again)
    assert sorted(ran_after) == sorted(f"2 {s}" for s in range(8) if s not in seeds_before)
    frame = ResultStore(out).load()
    assert sorted(frame["seed"]) == list(range(8)) and (frame["status"] == "ok").all()
    assert ResultStore(out).write_csv().read_text().count("\n") == 9
    leftovers = list((out / "results").glob(".tmp-*")) + list((out / "traces").glob(".tmp-*"))
    assert all(p.suffix == ".partial" for p in leftovers)  # at most a killed write's temp file


@pytest.mark.dask
def test_dask_scheduler_address_connects_to_a_running_cluster(tmp_path):
    """``dask://HOST:PORT`` against a scheduler on the loopback interface (in-process workers)."""
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=False, protocol="tcp", host="127.0.0.1",
        dashboard_address=None,
    ) as cluster:
        address = cluster.scheduler_address.removeprefix("tcp://")
        store = ResultStore(tmp_path)
        with make_executor(f"dask://{address}") as executor:
            assert executor.torch_threads is None  # a remote cluster's threads are its own
            stats = run_jobs(scripted_jobs(3), store, executor, estimator=ScriptedEstimator(),
                             cases=REGISTRY)
    assert stats.ran == 3 and stats.statuses == Counter({"ok": 3})
    assert len(store.done_ids()) == 3
