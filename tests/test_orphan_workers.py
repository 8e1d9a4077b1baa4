"""Worker processes never outlive their coordinator: SIGKILL the coordinator of a real sweep (a
subprocess), and every worker it started is gone within a few seconds."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rlct.validation.executors import PARENT_POLL_SECONDS

START_TIMEOUT = 120  # seconds for the workers to start their first jobs (spawn imports torch)
EXIT_WITHIN = 5.0  # seconds after the kill by which every worker must be gone

pytestmark = pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads the process table in /proc")


def _stat(pid: int) -> tuple[str, int] | None:
    """(state, parent pid) of a live process, None if it is gone or a zombie."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    state, ppid = text.rsplit(")", 1)[1].split()[:2]
    return None if state in ("Z", "X") else (state, int(ppid))


def _descendants(root: int) -> set[int]:
    """Every live process below ``root`` in the process tree."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = _stat(int(entry.name))
            if stat is not None:
                parents[int(entry.name)] = stat[1]
    found: set[int] = set()
    frontier = {root}
    while frontier:
        frontier = {pid for pid, ppid in parents.items() if ppid in frontier} - found
        found |= frontier
    return found


def _kill_and_wait_for_workers(process: subprocess.Popen, ready) -> tuple[set[int], float]:
    deadline = time.monotonic() + START_TIMEOUT
    try:
        while not ready():
            assert process.poll() is None, process.stderr.read().decode()[-2000:]
            assert time.monotonic() < deadline, "the workers did not start their jobs in time"
            time.sleep(0.1)
        workers = _descendants(process.pid)
        assert workers, "the sweep runs no worker processes"
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    killed = time.monotonic()
    while {pid for pid in workers if _stat(pid) is not None} and time.monotonic() - killed < 30:
        time.sleep(0.05)
    alive = {pid for pid in workers if _stat(pid) is not None}
    for pid in alive:  # do not leave them behind even when the test fails
        os.kill(pid, signal.SIGKILL)
    assert not alive, f"workers {sorted(alive)} outlived their coordinator by 30 s"
    return workers, time.monotonic() - killed


@pytest.mark.parametrize("executor", ["process:2", pytest.param("dask-local:2", marks=pytest.mark.dask)])
def test_workers_stop_when_the_coordinator_is_killed(tmp_path, executor):
    if executor.startswith("dask"):
        pytest.importorskip("distributed")
    started = tmp_path / "started"
    started.mkdir()
    command = [sys.executable, "-m", "rlct.validation.testing", str(tmp_path / "sweep"), "--jobs", "8",
               "--delay", "600", "--executor", executor, "--started", str(started)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    workers, took = _kill_and_wait_for_workers(process, lambda: len(list(started.iterdir())) >= 2)
    assert took < EXIT_WITHIN, f"workers took {took:.1f} s to stop (poll every {PARENT_POLL_SECONDS} s)"


def test_rlct_validate_workers_stop_when_it_is_killed(tmp_path):
    """The real command: `rlct validate --quick --executor process:2`, killed while its workers
    sample (their torch threads busy), leaves no process behind."""
    out = tmp_path / "quick"
    command = [sys.executable, "-m", "rlct", "validate", "--quick", "--cases", "dln,rrr",
               "--executor", "process:2", "--out", str(out)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def sampling() -> bool:  # both workers started and have been computing for a moment
        busy = [pid for pid in _descendants(process.pid) if _cpu_seconds(pid) > 3.0]
        return len(busy) >= 2

    _, took = _kill_and_wait_for_workers(process, sampling)
    assert took < EXIT_WITHIN


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
