"""Run one job: build the case, estimate its LLC, compare with the exact value -> one tidy row.

The row is a flat JSON-able dict (one row per case x scale x settings x seed); the raw loss
trace goes separately (`Outcome.trace`, saved as ``traces/<id>.npz`` by the store). Nothing a
job does can crash the sweep: an exception becomes ``status="error"`` with its message, and a
job with a diverged chain (NaN/Inf, or a chain that left the localization region) is kept with
``status="diverged"``; its ``llc_mean`` is over the healthy chains only (NaN if none).

Statuses: ``"ok"``, ``"diverged"``, ``"error"``.
"""

from __future__ import annotations

import json
import math
import socket
import time
import traceback
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import numpy as np

from rlct.exact.result import format_fraction
from rlct.numeric.result import LLCResult
from rlct.numeric.settings import SamplerSettings
from rlct.validation.jobs import Job, canonical_json

Estimator = Callable[..., LLCResult]
STATUSES = ("ok", "diverged", "error")
SETTINGS_FIELDS = tuple(SamplerSettings.__dataclass_fields__)

# Column order of the tidy table; rows may carry more keys (appended after these).
COLUMNS = (
    "job_id",
    "status",
    "message",
    "case",
    "scale",
    "params",
    "dim",
    "n",
    "lambda_exact",
    "lambda_exact_float",
    "multiplicity",
    "scope",
    "lambda_finite_nbeta",
    "llc_mean",
    "llc_stderr",
    "llc_stderr_ess",
    "relative_error",
    "rhat",
    "ess",
    "acceptance_rate",
    "diverged",
    "diverged_chains",
    "divergence_reasons",
    "init_loss",
    "llc_per_chain",
    *SETTINGS_FIELDS,
    "nbeta_resolved",
    "seed",
    "device",
    "dtype",
    "estimator",
    "chain_method",
    "wall_time",
    "steps_per_second",
    "build_time",
    "job_time",
    "warnings",
    "host",
    "finished_at",
)


@dataclass(frozen=True)
class Outcome:
    """What a worker sends back to the parent: the row and the raw arrays (or None)."""

    job_id: str
    job: dict[str, Any]
    row: dict[str, Any]
    trace: dict[str, np.ndarray] | None


def default_estimator() -> Estimator:
    """The real estimator, `rlct.numeric.llc.estimate_llc` (imported lazily)."""
    from rlct.numeric.llc import estimate_llc

    return estimate_llc


def default_cases() -> Mapping[str, Any]:
    from rlct.cases import registry

    return registry()


def _finite_or_none(value: Any) -> float | None:
    if value is None:
        return None
    as_float = float(value)
    return as_float if math.isfinite(as_float) else None


def relative_error(estimate: float | None, exact: float) -> float | None:
    """|estimate - exact| / exact; None if the estimate is missing/non-finite or exact == 0."""
    if estimate is None or not math.isfinite(estimate) or exact == 0:
        return None
    return abs(estimate - exact) / abs(exact)


def _base_row(job: Job) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(COLUMNS)
    settings = job.settings.to_dict()
    row.update(
        job_id=job.id,
        case=job.case,
        scale=job.scale,
        params=canonical_json(job.params, "params"),
        seed=job.seed,
        device=job.device,
        dtype=job.dtype,
        estimator=job.estimator,
        diverged=False,
        diverged_chains=0,
        host=socket.gethostname(),
        **settings,
    )
    return row


def _result_fields(result: LLCResult, exact_float: float) -> dict[str, Any]:
    mean = _finite_or_none(result.llc_mean)
    acceptance = (
        None if result.acceptance_rate is None else _finite_or_none(np.mean(result.acceptance_rate))
    )
    return {
        "dim": int(result.dim),
        "n": int(result.n),
        "llc_mean": mean,
        "llc_stderr": _finite_or_none(result.llc_stderr),
        "llc_stderr_ess": _finite_or_none(result.llc_stderr_ess),
        "relative_error": relative_error(mean, exact_float),
        "rhat": _finite_or_none(result.rhat),
        "ess": _finite_or_none(result.ess),
        "acceptance_rate": acceptance,
        "diverged": bool(result.any_diverged),
        "diverged_chains": int(np.sum(result.diverged)),
        "divergence_reasons": json.dumps(list(result.divergence_reasons)),
        "init_loss": _finite_or_none(result.init_loss),
        "llc_per_chain": json.dumps([_finite_or_none(x) for x in result.llc_per_chain]),
        "nbeta_resolved": float(result.nbeta),
        "chain_method": result.chain_method,
        "wall_time": float(result.wall_time),
        "steps_per_second": _finite_or_none(result.steps_per_second),
        # scalar extras of an estimator (e.g. devinterp's burn-in-excluded mean)
        **{
            key: (_finite_or_none(value) if isinstance(value, (int, float)) else value)
            for key, value in result.extra.items()
            if isinstance(value, (int, float, str, bool)) and key not in COLUMNS
        },
    }


# Stored loss traces keep at most this many points per chain: longer chains are stored as means
# of consecutive blocks of ``trace_stride`` steps (the report only plots moving means of them).
MAX_TRACE_POINTS = 50_000


def _thinned(trace: np.ndarray) -> tuple[np.ndarray, int]:
    steps = trace.shape[1]
    stride = max(1, -(-steps // MAX_TRACE_POINTS))
    if stride == 1:
        return trace, 1
    blocks = steps // stride
    return trace[:, : blocks * stride].reshape(trace.shape[0], blocks, stride).mean(axis=2), stride


def _trace_arrays(result: LLCResult) -> dict[str, np.ndarray]:
    trace, stride = _thinned(np.asarray(result.loss_trace, dtype=np.float64))
    return {
        "loss_trace": trace,
        "trace_stride": np.asarray(stride),
        "llc_per_chain": np.asarray(result.llc_per_chain, dtype=np.float64),
        "diverged": np.asarray(result.diverged, dtype=bool),
        "burnin": np.asarray(result.settings.burnin),
        "init_loss": np.asarray(result.init_loss, dtype=np.float64),
        "nbeta": np.asarray(result.nbeta, dtype=np.float64),
    }


def run_job(
    job: Job,
    *,
    estimator: Estimator | None = None,
    cases: Mapping[str, Any] | None = None,
    torch_threads: int | None = None,
) -> Outcome:
    """Run ``job`` and return its row and trace; never raises for a failure inside the job.

    Args:
        job: what to run.
        estimator: ``estimator(target, settings, *, seed, device) -> LLCResult``; default the
            real `rlct.numeric.llc.estimate_llc`.
        cases: name -> case class; default `rlct.cases.registry()`.
        torch_threads: if given, ``torch.set_num_threads`` for this (worker) process first.
    """
    started = time.perf_counter()
    row = _base_row(job)
    trace: dict[str, np.ndarray] | None = None
    caught: list[warnings.WarningMessage] = []
    try:
        import torch

        from rlct.numeric.device import resolve_dtype

        if torch_threads is not None:
            torch.set_num_threads(torch_threads)
        estimate = estimator if estimator is not None else default_estimator()
        registry = cases if cases is not None else default_cases()
        if job.case not in registry:
            raise ValueError(f"case: unknown case {job.case!r}; known: {', '.join(registry)}")
        case = registry[job.case](**dict(job.params))
        exact = case.exact()
        exact_float = float(exact.value)
        row.update(
            lambda_exact=format_fraction(exact.value),
            lambda_exact_float=exact_float,
            multiplicity=int(exact.multiplicity),
            scope=exact.scope,
        )
        reference = getattr(case, "finite_nbeta_reference", None)
        reference = reference(job.settings) if reference is not None else None
        row["lambda_finite_nbeta"] = float(reference) if reference is not None else None
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            built = time.perf_counter()
            check_memory = getattr(case, "check_memory", None)
            if check_memory is not None:  # refuse a job too large for this machine (error row)
                check_memory(job.settings, job.device, resolve_dtype(job.dtype))
            problem = case.build(seed=job.seed, device=job.device, dtype=resolve_dtype(job.dtype))
            row["build_time"] = time.perf_counter() - built
            row["dim"], row["n"] = int(problem.dim), int(problem.n)
            if job.estimator == "devinterp" and estimator is None:
                from rlct.validation import devinterp_adapter

                result = devinterp_adapter.estimate(
                    problem, job.settings, seed=job.seed, device=job.device
                )
            else:
                result = estimate(problem.target, job.settings, seed=job.seed, device=job.device)
        row.update(_result_fields(result, exact_float))
        trace = _trace_arrays(result)
        if result.any_diverged:
            row["status"] = "diverged"
            row["message"] = "; ".join(result.divergence_reasons) or "a chain diverged"
        elif row["llc_mean"] is None:
            row["status"] = "diverged"
            row["message"] = f"llc_mean is not finite ({result.llc_mean!r})"
        else:
            row["status"] = "ok"
            row["message"] = ""
    except Exception as err:  # noqa: BLE001 - a job's failure is data, not a crash
        row["status"] = "error"
        where = traceback.extract_tb(err.__traceback__)[-1] if err.__traceback__ else None
        location = f" (at {where.filename}:{where.lineno})" if where else ""
        row["message"] = f"{type(err).__name__}: {err}{location}"
    row["warnings"] = json.dumps(sorted({str(w.message) for w in caught}))
    row["job_time"] = time.perf_counter() - started
    row["finished_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    return Outcome(job_id=job.id, job=job.to_dict(), row=row, trace=trace)
