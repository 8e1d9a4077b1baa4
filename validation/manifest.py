"""The manifest of a report: what was run, with which code, libraries and hardware."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import subprocess
import sys
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

LIBRARIES = (
    "rlct",
    "torch",
    "numpy",
    "scipy",
    "sympy",
    "pandas",
    "matplotlib",
    "dask",
    "distributed",
    "devinterp",
)
CODE_ROOT = Path(__file__).resolve().parent.parent


def library_versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    if out.get("rlct") is None:
        import rlct

        out["rlct"] = rlct.__version__
    return out


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", *args], cwd=CODE_ROOT, capture_output=True, text=True, timeout=10, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip()


def git_state() -> dict[str, Any]:
    """The commit of the code that ran and whether tracked files had local changes.

    Files under ``reports/`` do not count: they are this command's output (a report being
    regenerated is always "changed"), not the code that produced it."""
    commit = _git("rev-parse", "HEAD")
    status = _git("status", "--porcelain", "--untracked-files=no", "--", ".", ":(exclude)reports")
    return {
        "commit": commit,
        "dirty": None if status is None else bool(status),
        "branch": _git("rev-parse", "--abbrev-ref", "HEAD"),
    }


def device_info(device: str) -> dict[str, Any]:
    import torch

    info: dict[str, Any] = {
        "device": device,
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "cuda_available": torch.cuda.is_available(),
    }
    if torch.cuda.is_available():
        info["cuda_devices"] = [
            torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())
        ]
    return info


def build_manifest(
    *,
    config: dict[str, Any],
    command: str,
    argv: Sequence[str] | None,
    started: float,
    stats: Any,
    job_ids: Sequence[str],
) -> dict[str, Any]:
    return {
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": command,
        "argv": list(argv) if argv is not None else [sys.executable, *sys.argv],
        "config": config,
        "git": git_state(),
        "versions": library_versions(),
        "hardware": device_info(str(config.get("device", "cpu"))),
        "wall_time_seconds": round(time.time() - started, 3),
        "run": {
            "planned": stats.planned,
            "skipped_already_done": stats.skipped,
            "ran": stats.ran,
            "statuses_of_jobs_run": dict(stats.statuses),
            "lost": [{"job_id": j, "reason": r} for j, r in stats.lost],
        },
        "job_ids": list(job_ids),
    }
