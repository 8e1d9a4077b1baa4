"""The results directory of a sweep: one JSON file per finished job, written atomically.

Layout of ``root``::

    results/<job id>.json   {"job": <canonical job>, "row": <tidy row>}  (one per finished job)
    traces/<job id>.npz     the raw loss trace (chain, steps) and per-chain values
    results.csv             the rows of a sweep, regenerated from results/ by its report
                            (never the source of truth)

Every file is written to a temporary file in the same directory (``.tmp-*.partial``) and moved
into place with ``os.replace`` (atomic on POSIX), so a reader never sees a partial file and a
killed sweep leaves either the whole result or none (plus, at worst, a stale temporary file,
removed by the next sweep). The trace is written before the result, so a result
file always has its trace. A job is "done" exactly when its result file exists: rerunning the
same sweep skips those (resume), with no duplicates and nothing lost.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rlct.validation.run import COLUMNS, Outcome

TMP_PREFIX = ".tmp-"
TMP_SUFFIX = ".partial"
STALE_TEMP_SECONDS = 600  # a temp file this old belongs to a writer that died (SIGKILL)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically: temp file in the same directory, fsync, rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=TMP_PREFIX, suffix=TMP_SUFFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=1, sort_keys=False, allow_nan=False) + "\n")


def load_records(results: Path) -> list[dict[str, Any]]:
    """Every study record stored under ``results`` (one ``*.json`` each), in file-name order."""
    return [json.loads(p.read_text()) for p in sorted(results.glob("*.json"))]


def run_missing(results: Path, jobs: Iterable[tuple[str, Callable[[], Any]]], label: str) -> None:
    """Run each ``(file name, job)`` whose record is not yet stored under ``results``, write its
    record atomically (a study resumes where it stopped) and log its time as ``label/name: N s``."""
    for name, job in jobs:
        path = results / name
        if path.exists():
            continue
        start = time.perf_counter()
        atomic_write_json(path, job())
        print(f"{label}/{name}: {time.perf_counter() - start:.0f} s", file=sys.stderr, flush=True)


def _json_safe(value: Any) -> Any:
    """Floats that are not finite become None (strict JSON); numpy scalars become Python."""
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


class ResultStore:
    """A sweep's results directory (see the module docstring)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.results_dir = self.root / "results"
        self.traces_dir = self.root / "traces"

    def result_path(self, job_id: str) -> Path:
        return self.results_dir / f"{job_id}.json"

    def trace_path(self, job_id: str) -> Path:
        return self.traces_dir / f"{job_id}.npz"

    def has(self, job_id: str) -> bool:
        return self.result_path(job_id).is_file()

    def done_ids(self) -> set[str]:
        if not self.results_dir.is_dir():
            return set()
        return {p.stem for p in self.results_dir.glob("*.json") if not p.name.startswith(".")}

    def remove_stale_temporaries(self, older_than: float = STALE_TEMP_SECONDS) -> int:
        """Delete temp files left by a writer killed mid-write; returns how many."""
        removed = 0
        now = time.time()
        for folder in (self.results_dir, self.traces_dir):
            if not folder.is_dir():
                continue
            for path in folder.glob(f"{TMP_PREFIX}*{TMP_SUFFIX}"):
                with contextlib.suppress(FileNotFoundError):
                    if now - path.stat().st_mtime > older_than:
                        path.unlink()
                        removed += 1
        return removed

    def write(self, outcome: Outcome) -> None:
        """Store one finished job: the trace first, then the result file (the done marker)."""
        if outcome.trace is not None:
            buffer = io.BytesIO()
            np.savez_compressed(buffer, **outcome.trace)  # type: ignore[arg-type]
            atomic_write_bytes(self.trace_path(outcome.job_id), buffer.getvalue())
        record = {"job": outcome.job, "row": _json_safe(outcome.row)}
        atomic_write_json(self.result_path(outcome.job_id), record)

    def records(self) -> Iterator[dict[str, Any]]:
        for job_id in sorted(self.done_ids()):
            with open(self.result_path(job_id), encoding="utf-8") as handle:
                yield json.load(handle)

    def load(self, job_ids: Iterable[str] | None = None) -> pd.DataFrame:
        """The stored rows (all, or those of ``job_ids``) as a tidy DataFrame (columns in
        `COLUMNS` order, then the rest)."""
        wanted = None if job_ids is None else set(job_ids)
        rows = [
            record["row"]
            for record in self.records()
            if wanted is None or record["row"]["job_id"] in wanted
        ]
        frame = pd.DataFrame(rows)
        if frame.empty:
            return pd.DataFrame(columns=list(COLUMNS))
        ordered = [c for c in COLUMNS if c in frame.columns]
        rest = [c for c in frame.columns if c not in COLUMNS]
        return frame[ordered + rest]

    def load_trace(self, job_id: str) -> dict[str, np.ndarray]:
        with np.load(self.trace_path(job_id)) as data:
            return {key: data[key] for key in data.files}

    def write_csv(
        self, path: str | os.PathLike[str] | None = None, job_ids: Iterable[str] | None = None
    ) -> Path:
        """Regenerate ``results.csv`` (or ``path``) from the per-job files (all, or those of
        ``job_ids``); returns its path."""
        target = Path(path) if path is not None else self.root / "results.csv"
        frame = self.load(job_ids)
        atomic_write_text(target, frame.to_csv(index=False))
        return target
