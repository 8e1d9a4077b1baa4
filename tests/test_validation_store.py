"""The results directory: atomic writes, round trips, CSV regenerated from per-job files."""

from __future__ import annotations

import json
import os
import threading

import numpy as np
import pytest

from rlct.validation import store as store_module
from rlct.validation.run import run_job
from rlct.validation.store import ResultStore, atomic_write_json, atomic_write_text
from rlct.validation.testing import REGISTRY, ScriptedEstimator, scripted_jobs


def test_atomic_write_leaves_no_partial_file_when_interrupted(tmp_path, monkeypatch):
    path = tmp_path / "results" / "job.json"

    def crash(src, dst):  # the process "dies" after writing the temp file, before the rename
        raise KeyboardInterrupt

    monkeypatch.setattr(store_module.os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        atomic_write_json(path, {"row": list(range(1000))})
    assert not path.exists()
    assert os.listdir(path.parent) == []  # the temp file is removed as well


def test_atomic_write_replaces_whole_file_and_readers_never_see_a_partial_one(tmp_path):
    path = tmp_path / "state.json"
    versions = [json.dumps({"version": i, "payload": "x" * (200_000 + i)}) for i in range(30)]
    atomic_write_text(path, versions[0])
    seen, errors = set(), []
    done = threading.Event()

    def reader():
        while not done.is_set():
            try:
                seen.add(json.loads(path.read_text())["version"])
            except Exception as err:  # a partial file would fail to parse
                errors.append(err)

    thread = threading.Thread(target=reader)
    thread.start()
    for text in versions[1:]:
        atomic_write_text(path, text)
    done.set()
    thread.join()
    assert errors == []
    assert json.loads(path.read_text())["version"] == 29
    assert seen <= set(range(30))
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]


def test_write_then_load_round_trip(tmp_path):
    store = ResultStore(tmp_path)
    jobs = scripted_jobs(3)
    for job in jobs:
        store.write(run_job(job, estimator=ScriptedEstimator(), cases=REGISTRY))
    assert store.done_ids() == {j.id for j in jobs}
    frame = store.load()
    assert list(frame["job_id"]) == sorted(j.id for j in jobs)
    assert list(frame.columns[:4]) == ["job_id", "status", "message", "case"]
    assert (frame["status"] == "ok").all()
    trace = store.load_trace(jobs[0].id)
    assert trace["loss_trace"].shape == (2, 40) and int(trace["burnin"]) == 20
    csv = store.write_csv()
    assert csv.read_text().count("\n") == 4  # header + 3 rows
    assert list(store.load([jobs[1].id])["job_id"]) == [jobs[1].id]
    store.write_csv(tmp_path / "one.csv", job_ids=[jobs[1].id])
    assert (tmp_path / "one.csv").read_text().count("\n") == 2


def test_non_finite_numbers_are_stored_as_null(tmp_path):
    store = ResultStore(tmp_path)
    job = scripted_jobs(1)[0]
    outcome = run_job(job, estimator=ScriptedEstimator(), cases=REGISTRY)
    outcome.row["llc_stderr"] = float("nan")
    outcome.row["extra"] = np.float64("inf")
    store.write(outcome)
    text = store.result_path(job.id).read_text()
    record = json.loads(text)  # strict JSON: no NaN / Infinity tokens
    assert "NaN" not in text and "Infinity" not in text
    assert record["row"]["llc_stderr"] is None and record["row"]["extra"] is None


def test_stale_temporary_files_are_removed(tmp_path):
    store = ResultStore(tmp_path)
    (tmp_path / "results").mkdir()
    stale = tmp_path / "results" / ".tmp-dead.partial"
    fresh = tmp_path / "results" / ".tmp-live.partial"
    stale.write_text("{")
    fresh.write_text("{")
    old = stale.stat().st_mtime - 3600
    os.utime(stale, (old, old))
    assert store.remove_stale_temporaries() == 1
    assert not stale.exists() and fresh.exists()  # a write in progress is left alone
    assert store.done_ids() == set()


def test_empty_store_loads_an_empty_table_with_the_columns(tmp_path):
    frame = ResultStore(tmp_path / "nothing").load()
    assert frame.empty and "llc_mean" in frame.columns
