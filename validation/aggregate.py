"""From per-job rows to per-cell summaries, headline figures and recommendations.

A *cell* is one case x scale (x settings, for calibration). Only jobs with ``status == "ok"``
enter a cell's mean: a job with a diverged chain or an error is counted and shown, never
averaged in. The cell's relative error is |mean over seeds of lambda_hat - lambda| / lambda;
its per-run errors are each seed's own |lambda_hat - lambda| / lambda (mean and worst).

The error split (theory.md sec. 8): lambda_hat - lambda = (lambda_hat - lambda_beta) +
(lambda_beta - lambda), lambda_beta = n beta (E_beta[L_n] - L_n(w*)) under the exact localized
tempered posterior. The first part is the sampler's (step-size bias, mixing), the second the
estimator's own (finite n beta, gamma, n). lambda_beta comes from a reference: a Gibbs reference
job of the same case, scale, parameters, seed and dtype (same data) at the same gamma and
resolved n beta (`attach_references`; reference rows are then dropped, they are not
estimates), or else the case's deterministic quadrature (`Case.finite_nbeta_reference`, stored
in each row's ``lambda_finite_nbeta`` by `rlct.validation.run`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from rlct.validation.jobs import REFERENCE_SAMPLER
from rlct.validation.run import SETTINGS_FIELDS

MEDIAN_TARGET = 0.05  # headline target: median relative error over cells
MAX_TARGET = 0.15  # headline target: max relative error over cells
CELL_KEYS = ("case", "scale")


def settings_key_columns() -> list[str]:
    return list(SETTINGS_FIELDS)


def calibration_key_columns() -> list[str]:
    """What distinguishes two calibration rows: the sampler settings and whose estimator ran
    them (``rlct`` or ``devinterp``)."""
    return [*SETTINGS_FIELDS, "estimator"]


def with_estimator(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows stored before the estimator column existed were ours."""
    if "estimator" in frame.columns:
        return frame.assign(estimator=frame["estimator"].fillna("rlct"))
    return frame.assign(estimator="rlct")


# What a reference gives each estimate row (`attach_references`).
REFERENCE_COLUMNS = (
    "lambda_finite_nbeta", "lambda_finite_nbeta_se", "reference_rhat", "reference_ess",
    "reference_source", "reference_job_id",
)
# What must agree between an estimate row and its Gibbs reference row (besides the resolved
# n beta): the same data (case, scale, parameters, seed, dtype) and the same posterior (gamma).
REFERENCE_MATCH = ("case", "scale", "params", "seed", "dtype", "localization")
NBETA_RTOL = 1e-9


def is_reference_row(frame: pd.DataFrame) -> pd.Series:
    """Rows of reference jobs (``sampler == "gibbs"``; `rlct.validation.jobs.is_reference`)."""
    if "sampler" not in frame:
        return pd.Series(False, index=frame.index)
    return frame["sampler"] == REFERENCE_SAMPLER


def _number(value: Any) -> float:
    """A stored number as a float; None, NaN, text that is not a number -> NaN."""
    if value is None or isinstance(value, bool):
        return math.nan
    try:
        out = float(value)
    except (TypeError, ValueError):
        return math.nan
    return out


def _row_nbeta(row: pd.Series) -> float:
    """The resolved n beta of a row (``nbeta_resolved``; the ``nbeta`` setting where the job
    failed before resolving it)."""
    resolved = _number(row.get("nbeta_resolved"))
    return resolved if math.isfinite(resolved) else _number(row.get("nbeta"))


def _match_key(row: pd.Series) -> tuple[Any, ...]:
    return tuple(
        _number(row.get(k)) if k == "localization" else (None if pd.isna(row.get(k)) else row.get(k))
        for k in REFERENCE_MATCH
    )


def attach_references(frame: pd.DataFrame) -> pd.DataFrame:
    """The estimate rows of ``frame`` (reference rows dropped), each with its reference.

    For an estimate row, the ok reference row (``sampler == "gibbs"``) with the same case,
    scale, params, seed, dtype and localization and the same resolved n beta (relative
    tolerance `NBETA_RTOL`) gives ``lambda_finite_nbeta`` (its llc_mean),
    ``lambda_finite_nbeta_se`` (its llc_stderr), ``reference_rhat``, ``reference_ess``,
    ``reference_job_id`` and ``reference_source = "gibbs"`` (of several, the one with the
    smallest standard error). Otherwise a row whose ``lambda_finite_nbeta`` came from the case's
    quadrature (`Case.finite_nbeta_reference`) keeps it with ``reference_source =
    "quadrature"`` (no standard error or diagnostics: it is deterministic); other rows get
    blanks. Per row, ``sampler_error`` = (llc_mean - ref) / ref and ``estimator_bias`` = (ref -
    lambda) / lambda. Applying it twice changes nothing."""
    frame = frame.copy()
    for column in REFERENCE_COLUMNS:
        if column not in frame:
            frame[column] = None
    frame = frame.astype({c: object for c in REFERENCE_COLUMNS})
    references = frame[is_reference_row(frame)]
    estimates = frame[~is_reference_row(frame)].copy()
    ref_values = pd.to_numeric(estimates["lambda_finite_nbeta"], errors="coerce")
    quadrature = ref_values.notna() & estimates["reference_source"].isna()
    estimates.loc[quadrature, "reference_source"] = "quadrature"
    candidates: dict[tuple[Any, ...], list[pd.Series]] = {}
    for _, ref in references.iterrows():
        mean = _number(ref.get("llc_mean"))
        if ref.get("status") == "ok" and math.isfinite(mean):
            candidates.setdefault(_match_key(ref), []).append(ref)
    for index, row in estimates.iterrows():
        nbeta = _row_nbeta(row)
        found = [
            ref for ref in candidates.get(_match_key(row), [])
            if math.isfinite(nbeta) and math.isclose(_row_nbeta(ref), nbeta, rel_tol=NBETA_RTOL)
        ]
        if not found:
            continue
        best = min(found, key=lambda r: (_se_key(r), str(r.get("job_id"))))
        estimates.at[index, "lambda_finite_nbeta"] = _number(best["llc_mean"])
        estimates.at[index, "lambda_finite_nbeta_se"] = _number(best.get("llc_stderr"))
        estimates.at[index, "reference_rhat"] = _number(best.get("rhat"))
        estimates.at[index, "reference_ess"] = _number(best.get("ess"))
        estimates.at[index, "reference_job_id"] = best.get("job_id")
        estimates.at[index, "reference_source"] = "gibbs"
    ref = pd.to_numeric(estimates["lambda_finite_nbeta"], errors="coerce").astype(float)
    estimate = _numeric_column(estimates, "llc_mean")
    exact = _numeric_column(estimates, "lambda_exact_float")
    with np.errstate(divide="ignore", invalid="ignore"):
        estimates["sampler_error"] = ((estimate - ref) / ref).where(ref != 0)
        estimates["estimator_bias"] = ((ref - exact) / exact).where(exact != 0)
    return estimates.reset_index(drop=True)


def _numeric_column(frame: pd.DataFrame, column: str) -> pd.Series:
    if column not in frame:
        return pd.Series(math.nan, index=frame.index, dtype=float)
    return pd.to_numeric(frame[column], errors="coerce").astype(float)


def _se_key(row: pd.Series) -> float:
    se = _number(row.get("llc_stderr"))
    return se if math.isfinite(se) else math.inf


def _reference_fields(group: pd.DataFrame, ok: pd.DataFrame, exact: float) -> dict[str, Any]:
    """A cell's reference columns from its rows (after `attach_references`): lambda_beta = mean
    of the seeds' references, its standard error sqrt(sum se_s^2) / seeds (NaN for quadrature),
    the signed sampler error of the pooled estimate over the ok seeds that have a reference,
    the worst |per-run sampler error|, the signed estimator bias, the references' worst R-hat
    and smallest ESS; blanks (NaN / None) without a reference."""
    blank: dict[str, Any] = {
        "lambda_finite_nbeta": math.nan, "lambda_finite_nbeta_se": math.nan,
        "reference_source": None, "reference_seeds": 0, "reference_rhat_max": math.nan,
        "reference_ess_min": math.nan, "sampler_error": math.nan,
        "sampler_error_run_mean": math.nan, "sampler_error_run_max": math.nan,
        "estimator_bias": math.nan,
    }
    if "lambda_finite_nbeta" not in group:
        return blank
    values = pd.to_numeric(group["lambda_finite_nbeta"], errors="coerce").astype(float)
    with_ref = group[np.isfinite(values)]
    if not len(with_ref):
        return blank
    per_seed = with_ref.drop_duplicates("seed") if "seed" in with_ref else with_ref
    refs = pd.to_numeric(per_seed["lambda_finite_nbeta"], errors="coerce").astype(float)
    ses = pd.to_numeric(per_seed.get("lambda_finite_nbeta_se"), errors="coerce").astype(float)
    sources = sorted({str(s) for s in per_seed.get("reference_source", pd.Series(dtype=object)).dropna()})
    lambda_beta = float(refs.mean())
    se = float(np.sqrt(np.sum(ses**2)) / len(ses)) if len(ses) and np.isfinite(ses).all() else math.nan
    out = {
        **blank,
        "lambda_finite_nbeta": lambda_beta,
        "lambda_finite_nbeta_se": se,
        "reference_source": "+".join(sources) if sources else None,
        "reference_seeds": int(len(per_seed)),
        "reference_rhat_max": _nanmax(per_seed.get("reference_rhat")),
        "reference_ess_min": _nanmin(per_seed.get("reference_ess")),
    }
    if math.isfinite(exact) and exact != 0:
        out["estimator_bias"] = (lambda_beta - exact) / exact
    ok_values = pd.to_numeric(ok["lambda_finite_nbeta"], errors="coerce").astype(float)
    ok_estimates = pd.to_numeric(ok["llc_mean"], errors="coerce").astype(float)
    matched = np.isfinite(ok_values) & np.isfinite(ok_estimates) & (ok_values != 0)
    if matched.any():
        pooled_ref = float(ok_values[matched].mean())
        if pooled_ref != 0:
            out["sampler_error"] = (float(ok_estimates[matched].mean()) - pooled_ref) / pooled_ref
        per_run = ((ok_estimates[matched] - ok_values[matched]) / ok_values[matched]).abs()
        out["sampler_error_run_mean"] = float(per_run.mean())
        out["sampler_error_run_max"] = float(per_run.max())
    return out


def _nanmax(values: Any) -> float:
    array = pd.to_numeric(pd.Series(values, dtype=object), errors="coerce").to_numpy(dtype=float)
    array = array[np.isfinite(array)]
    return float(array.max()) if array.size else math.nan


def _nanmin(values: Any) -> float:
    array = pd.to_numeric(pd.Series(values, dtype=object), errors="coerce").to_numpy(dtype=float)
    array = array[np.isfinite(array)]
    return float(array.min()) if array.size else math.nan


def _se_over_seeds(group: pd.DataFrame) -> float:
    values = group["llc_mean"].to_numpy(dtype=float)
    if len(values) >= 2:
        return float(np.std(values, ddof=1) / math.sqrt(len(values)))
    if len(values) == 1:
        se = group["llc_stderr"].iloc[0]
        return float(se) if se is not None and pd.notna(se) else math.nan
    return math.nan


def cell_table(frame: pd.DataFrame, by_settings: bool = False) -> pd.DataFrame:
    """One row per case x scale (x settings): exact lambda, mean lambda_hat +- se over the ok
    seeds, relative error, worst R-hat, smallest ESS, mean wall time, status counts, and the
    error split against the cell's reference lambda_beta (`attach_references`, applied here;
    reference rows are not cells): ``lambda_finite_nbeta`` +- ``lambda_finite_nbeta_se``,
    ``reference_source`` ("gibbs" / "quadrature"), ``reference_seeds``, ``reference_rhat_max``,
    ``reference_ess_min``, ``sampler_error`` = (lambda_hat - lambda_beta) / lambda_beta (signed,
    the ok seeds with a reference pooled), ``sampler_error_run_max`` (the worst |per-run
    sampler error|) and ``estimator_bias`` = (lambda_beta - lambda) / lambda (signed); NaN
    where the cell has no reference.

    Two kinds of error: ``relative_error`` is that of the seeds' pooled estimate (the mean of
    their lambda_hat, i.e. seeds x chains chains); ``relative_error_run_mean`` / ``_run_max``
    are the mean and the worst of each run's own |lambda_hat - lambda| / lambda, the error a
    user with one run of these settings should expect. Seeds that scatter around lambda make
    the pooled error small and the per-run error large."""
    keys = list(CELL_KEYS) + (calibration_key_columns() if by_settings else [])
    if by_settings:
        frame = with_estimator(frame)
    columns = [
        *keys,
        "dim",
        "n",
        "lambda_exact",
        "lambda_exact_float",
        "multiplicity",
        "scope",
        "lambda_finite_nbeta",
        "lambda_finite_nbeta_se",
        "reference_source",
        "reference_seeds",
        "reference_rhat_max",
        "reference_ess_min",
        "sampler_error",
        "sampler_error_run_mean",
        "sampler_error_run_max",
        "estimator_bias",
        "seeds",
        "ok",
        "diverged",
        "error",
        "lambda_hat",
        "lambda_hat_se",
        "relative_error",
        "relative_error_run_mean",
        "relative_error_run_max",
        "rhat_max",
        "ess_min",
        "wall_time",
        "job_time",
        "steps_per_second",
        "chain_gradient_rows",
        "gradient_evaluations",
        "messages",
    ]
    if frame.empty:
        return pd.DataFrame(columns=columns)
    frame = attach_references(frame)
    if frame.empty:  # only reference rows
        return pd.DataFrame(columns=columns)
    for column in keys:
        if column not in frame:
            frame[column] = None
    rows = []
    for key, group in frame.groupby(keys, dropna=False, sort=False):
        key = key if isinstance(key, tuple) else (key,)
        ok = group[group["status"] == "ok"]
        first = group.iloc[0]
        exact = first.get("lambda_exact_float")
        exact = float(exact) if exact is not None and pd.notna(exact) else math.nan
        mean = float(ok["llc_mean"].astype(float).mean()) if len(ok) else math.nan
        if len(ok) and exact and math.isfinite(exact) and exact != 0:
            rel = abs(mean - exact) / abs(exact)
            per_run = (ok["llc_mean"].astype(float) - exact).abs() / abs(exact)
            run_mean, run_max = float(per_run.mean()), float(per_run.max())
        else:
            rel = run_mean = run_max = math.nan
        batch = first.get("batch_size")
        n = group["n"].dropna()
        if batch is not None and pd.notna(batch):
            rows_per_step = float(batch)
        else:
            rows_per_step = float(n.iloc[0]) if len(n) else math.nan
        messages = sorted({str(m) for m in group["message"].dropna() if str(m)})
        rows.append(
            {
                **dict(zip(keys, key, strict=True)),
                "dim": _first_valid(group["dim"]),
                "n": _first_valid(group["n"]),
                "lambda_exact": first.get("lambda_exact"),
                "lambda_exact_float": exact,
                "multiplicity": _first_valid(group["multiplicity"]),
                "scope": first.get("scope"),
                **_reference_fields(group, ok, exact),
                "seeds": int(len(group)),
                "ok": int(len(ok)),
                "diverged": int((group["status"] == "diverged").sum()),
                "error": int((group["status"] == "error").sum()),
                "lambda_hat": mean,
                "lambda_hat_se": _se_over_seeds(ok) if len(ok) else math.nan,
                "relative_error": rel,
                "relative_error_run_mean": run_mean,
                "relative_error_run_max": run_max,
                "rhat_max": float(ok["rhat"].astype(float).max()) if len(ok) else math.nan,
                "ess_min": float(ok["ess"].astype(float).min()) if len(ok) else math.nan,
                "wall_time": float(group["wall_time"].astype(float).mean()),
                "job_time": float(group["job_time"].astype(float).mean()),
                "steps_per_second": float(group["steps_per_second"].astype(float).mean()),
                "chain_gradient_rows": float(first.get("chains") or math.nan)
                * float(first.get("steps") or math.nan)
                * rows_per_step
                * (2.0 if _is_true(first.get("control_variate")) and first.get("sampler") != "mala" else 1.0),
                "gradient_evaluations": _gradient_evaluations(first),
                "messages": " | ".join(messages)[:300],
            }
        )
    out = pd.DataFrame(rows, columns=columns)
    out["_order"] = out["dim"].astype(float)
    out = out.sort_values(["case", "_order"], kind="stable").drop(columns="_order")
    return out.reset_index(drop=True)


def _gradient_evaluations(row: pd.Series) -> float:
    """Gradients of the loss (on a minibatch, or on the full data for full-batch samplers) one
    job computes: chains x steps, x2 with control variates (the batch at w and at w*), x the
    leapfrog steps of HMC."""
    chains = _number(row.get("chains"))
    steps = _number(row.get("steps"))
    full_batch = row.get("sampler") in ("mala", "hmc", "gibbs") or pd.isna(row.get("batch_size"))
    factor = 2.0 if _is_true(row.get("control_variate")) and not full_batch else 1.0
    leapfrog = _number(row.get("leapfrog_steps"))
    if row.get("sampler") == "hmc" and math.isfinite(leapfrog):
        factor *= leapfrog
    return chains * steps * factor


def _finite(frame: pd.DataFrame, column: str) -> np.ndarray:
    """The finite values of ``column`` (empty when the column is absent)."""
    if column not in frame:
        return np.empty(0)
    values = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float)
    return values[np.isfinite(values)]


def _first_valid(series: pd.Series) -> Any:
    valid = series.dropna()
    if not len(valid):
        return None
    value = valid.iloc[0]
    return int(value) if float(value).is_integer() else float(value)


def headline(
    cells: pd.DataFrame, median_target: float = MEDIAN_TARGET, max_target: float = MAX_TARGET
) -> dict[str, Any]:
    """Median and max relative error over cells, whether the targets are met, and which cells
    have no valid estimate (those make the targets unmet: nothing is claimed for them)."""
    errors = cells["relative_error"].astype(float)
    measured = errors[np.isfinite(errors)]
    missing = cells[~np.isfinite(errors)]
    median = float(np.median(measured)) if len(measured) else math.nan
    worst = float(np.max(measured)) if len(measured) else math.nan
    worst_cell = None
    if len(measured):
        row = cells.loc[errors[np.isfinite(errors)].idxmax()]
        worst_cell = f"{row['case']}/{row['scale']}"
    complete = len(missing) == 0 and len(measured) > 0
    run = _run_summary(cells)
    run_median = run.get("run_median_relative_error", median)
    run_worst = run.get("run_max_relative_error", worst)
    return {
        "cells": int(len(cells)),
        "measured_cells": int(len(measured)),
        "missing_cells": [f"{r['case']}/{r['scale']}" for _, r in missing.iterrows()],
        "median_relative_error": median,
        "max_relative_error": worst,
        "worst_cell": worst_cell,
        "median_target": median_target,
        "max_target": max_target,
        "median_met": bool(complete and median <= median_target and run_median <= median_target),
        "max_met": bool(complete and worst <= max_target and run_worst <= max_target),
        **run,
        **split_summary(cells),
        "unmixed_cells": unmixed_cells(cells),
    }


# Mixing flags for the headline. Vehtari, Gelman, Simpson, Carpenter, Buerkner 2021
# ("Rank-normalization, folding, and localization", Bayesian Analysis 16) ask for R-hat < 1.01
# and a bulk ESS > 400 before trusting a posterior mean; 1.1 is Gelman & Rubin's older, looser
# threshold. The report flags the looser failures so that an estimate whose chains visibly
# disagree is not read as converged.
RHAT_FLAG = 1.1
ESS_FLAG = 100.0


def unmixed_cells(cells: pd.DataFrame) -> list[str]:
    """Cells whose worst seed has split R-hat > ``RHAT_FLAG`` or ESS < ``ESS_FLAG``, as
    "case/scale (R-hat x, ESS y)"."""
    out = []
    for _, row in cells.iterrows():
        rhat, ess = float(row.get("rhat_max", math.nan)), float(row.get("ess_min", math.nan))
        if (math.isfinite(rhat) and rhat > RHAT_FLAG) or (math.isfinite(ess) and ess < ESS_FLAG):
            out.append(f"{row['case']}/{row['scale']} (R-hat {rhat:.3g}, ESS {ess:.3g})")
    return out


def _run_summary(cells: pd.DataFrame) -> dict[str, Any]:
    """Per-run error over cells: median and max of each cell's mean per-run error, and the
    worst single run (see ``cell_table``). Empty when the cells carry no per-run columns."""
    if "relative_error_run_mean" not in cells:
        return {}
    mean = cells["relative_error_run_mean"].astype(float)
    worst = cells["relative_error_run_max"].astype(float)
    if not np.isfinite(mean).any():
        return {}
    row = cells.loc[worst[np.isfinite(worst)].idxmax()]
    return {
        "run_median_relative_error": float(np.median(mean[np.isfinite(mean)])),
        "run_max_relative_error": float(np.max(mean[np.isfinite(mean)])),
        "worst_run_relative_error": float(np.max(worst[np.isfinite(worst)])),
        "worst_run_cell": f"{row['case']}/{row['scale']}",
    }


def reference_deviation(cells: pd.DataFrame) -> pd.Series:
    """|sampler error| = |lambda_hat - lambda_beta| / lambda_beta per cell (NaN where the cell
    has no reference)."""
    if "sampler_error" in cells:
        return pd.to_numeric(cells["sampler_error"], errors="coerce").astype(float).abs()
    if "lambda_finite_nbeta" not in cells:
        return pd.Series(math.nan, index=cells.index)
    ref = pd.to_numeric(cells["lambda_finite_nbeta"], errors="coerce").astype(float)
    return (cells["lambda_hat"].astype(float) - ref).abs() / ref.abs()


def _cell_name(row: pd.Series) -> str:
    return f"{row['case']}/{row['scale']}"


# Targets of the recommended settings for the sampler error |lambda_hat - lambda_beta| / lambda_beta
# over all cells with a reference (issue: exact-posterior references).
SAMPLER_ERROR_MEDIAN_TARGET = 0.02
SAMPLER_ERROR_MAX_TARGET = 0.05


def _signed(value: float, fallback: float) -> str:
    value = value if math.isfinite(value) else fallback
    return f"{100 * value:+.1f}%"


def split_summary(cells: pd.DataFrame, label: Any = None, reference_label: Any = None) -> dict[str, Any]:
    """The error split over the cells that have a reference (see the module docstring).

    Keys: ``reference_cells`` (cells with a reference lambda_beta), ``reference_cells_gibbs``,
    ``reference_cells_quadrature``, ``sampler_error_cells`` (of those, cells with an estimate
    too), ``sampler_error_median`` / ``sampler_error_max`` (of |sampler error|, pooled over
    seeds), ``sampler_error_worst`` (signed) and ``sampler_error_worst_cell``,
    ``sampler_error_worst_run`` (the largest |per-run sampler error|), ``estimator_bias_median``
    / ``estimator_bias_max`` (of |estimator bias|), ``estimator_bias_worst`` (signed) and
    ``estimator_bias_worst_cell``, ``sampler_error_over_max_cells`` (cells whose |sampler error|
    exceeds `SAMPLER_ERROR_MAX_TARGET`, worst first, with the signed error),
    ``reference_unmixed_cells`` (references with R-hat >
    `RHAT_FLAG` or ESS < `ESS_FLAG`). The older names ``reference_median_deviation``,
    ``reference_max_deviation`` and ``reference_worst_cell`` are the sampler-error ones.
    ``label(row)`` names a cell (default "case/scale"), ``reference_label(row)`` its reference
    in ``reference_unmixed_cells`` (default ``label``; each reference named once)."""
    name = label if label is not None else _cell_name
    ref_name = reference_label if reference_label is not None else name
    if cells.empty or "lambda_finite_nbeta" not in cells:
        return {"reference_cells": 0, "reference_cells_gibbs": 0, "reference_cells_quadrature": 0}
    ref = pd.to_numeric(cells["lambda_finite_nbeta"], errors="coerce").astype(float)
    has_ref = cells[np.isfinite(ref)]
    source = has_ref.get("reference_source", pd.Series(None, index=has_ref.index, dtype=object))
    out: dict[str, Any] = {
        "reference_cells": int(len(has_ref)),
        "reference_cells_gibbs": int(source.astype(str).str.contains("gibbs").sum()),
        "reference_cells_quadrature": int(source.astype(str).str.contains("quadrature").sum()),
    }
    sampler = reference_deviation(cells)
    measured = sampler[np.isfinite(sampler)]
    out["sampler_error_cells"] = int(len(measured))
    if len(measured):
        worst = cells.loc[measured.idxmax()]
        signed = _number(worst.get("sampler_error"))
        out.update(
            sampler_error_median=float(np.median(measured)),
            sampler_error_max=float(np.max(measured)),
            sampler_error_worst=signed if math.isfinite(signed) else float(np.max(measured)),
            sampler_error_worst_cell=name(worst),
            reference_median_deviation=float(np.median(measured)),
            reference_max_deviation=float(np.max(measured)),
            reference_worst_cell=name(worst),
        )
        runs = _finite(cells, "sampler_error_run_max")
        if len(runs):
            out["sampler_error_worst_run"] = float(np.max(runs))
        over = measured[measured > SAMPLER_ERROR_MAX_TARGET].sort_values(ascending=False)
        out["sampler_error_over_max_cells"] = [
            f"{name(cells.loc[i])} ({_signed(_number(cells.loc[i].get('sampler_error')), measured[i])})"
            for i in over.index
        ]
    if "estimator_bias" in cells:
        bias = pd.to_numeric(cells["estimator_bias"], errors="coerce").astype(float)
        finite = bias[np.isfinite(bias)]
        if len(finite):
            worst = cells.loc[finite.abs().idxmax()]
            out.update(
                estimator_bias_median=float(np.median(finite.abs())),
                estimator_bias_max=float(np.max(finite.abs())),
                estimator_bias_worst=float(bias[finite.abs().idxmax()]),
                estimator_bias_worst_cell=name(worst),
            )
    unmixed = []
    for _, row in has_ref.iterrows():
        rhat, ess = _number(row.get("reference_rhat_max")), _number(row.get("reference_ess_min"))
        if (math.isfinite(rhat) and rhat > RHAT_FLAG) or (math.isfinite(ess) and ess < ESS_FLAG):
            unmixed.append(f"{ref_name(row)} (R-hat {rhat:.3g}, ESS {ess:.3g})")
    out["reference_unmixed_cells"] = list(dict.fromkeys(unmixed))
    return out


def bucket_labels(edges: Sequence[float]) -> list[str]:
    def fmt(x: float) -> str:
        exponent = math.log10(x)
        return f"1e{int(exponent)}" if exponent.is_integer() else f"{x:g}"

    labels = [f"<{fmt(edges[0])}"]
    labels += [f"{fmt(a)}-{fmt(b)}" for a, b in zip(edges, edges[1:], strict=False)]
    labels.append(f">={fmt(edges[-1])}")
    return labels


def bucket_of(dim: float, edges: Sequence[float]) -> str:
    labels = bucket_labels(edges)
    for i, edge in enumerate(edges):
        if dim < edge:
            return labels[i]
    return labels[-1]


def _run_errors(cells: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per cell: (mean per-run error, max per-run error, has a reference) where the error is the
    sampler error |lambda_hat - lambda_beta| / lambda_beta of each run, or, in cells without a
    reference, the total error |lambda_hat - lambda| / lambda of each run."""
    sampler_mean = _numeric_column(cells, "sampler_error_run_mean").to_numpy()
    sampler_max = _numeric_column(cells, "sampler_error_run_max").to_numpy()
    total_mean = _numeric_column(cells, "relative_error_run_mean").to_numpy()
    total_max = _numeric_column(cells, "relative_error_run_max").to_numpy()
    referenced = np.isfinite(sampler_mean)
    return (
        np.where(referenced, sampler_mean, total_mean),
        np.where(referenced, sampler_max, total_max),
        referenced,
    )


def setting_table(
    cells: pd.DataFrame,
    edges: Sequence[float],
    median_target: float = MEDIAN_TARGET,
    max_target: float = MAX_TARGET,
) -> pd.DataFrame:
    """Error and cost of every setting within every parameter-count bucket.

    ``cells`` comes from ``cell_table(frame, by_settings=True)``. A setting *covers* a bucket
    when every case x scale of the bucket has a valid estimate under it. It *meets the targets*
    when it covers the bucket and the **per-run sampler error** |lambda_hat - lambda_beta| /
    lambda_beta (theory.md sec. 8; in a cell without a reference, the per-run total error
    |lambda_hat - lambda| / lambda stands in) has median <= ``median_target`` over the bucket's
    cells (each cell: the mean over its runs) and max <= ``max_target`` over every run.

    Columns: ``median_sampler_error`` / ``max_sampler_error`` (those two), ``unreferenced_cells``
    (cells where the total error stood in), the total error a user gets against lambda,
    ``median_run_error`` / ``max_run_error`` (per-cell mean per-run |lambda_hat - lambda| /
    lambda) and ``worst_run_error`` (largest single run), ``median_relative_error`` /
    ``max_relative_error`` (of the seeds' pooled estimate), ``median_estimator_bias`` (signed,
    over the cells with a reference: (lambda_beta - lambda) / lambda, the part of the total no
    sampler removes), and cost: ``gradient_evaluations`` (chains x steps, x2 with control
    variates), ``chain_gradient_rows`` (x batch rows; full batch: n) and the mean ``wall_time``
    per job here.
    """
    keys = calibration_key_columns()
    columns = [
        "bucket",
        *keys,
        "cells",
        "covered",
        "dims",
        "median_sampler_error",
        "max_sampler_error",
        "reference_cells",
        "unreferenced_cells",
        "median_run_error",
        "max_run_error",
        "worst_run_error",
        "median_relative_error",
        "max_relative_error",
        "median_estimator_bias",
        "gradient_evaluations",
        "chain_gradient_rows",
        "wall_time",
        "meets_targets",
    ]
    if cells.empty:
        return pd.DataFrame(columns=columns)
    cells = with_estimator(cells)
    cells["bucket"] = [bucket_of(float(d), edges) if pd.notna(d) else "?" for d in cells["dim"]]
    rows = []
    for bucket, in_bucket in cells.groupby("bucket", sort=False):
        needed = {(c, s) for c, s in zip(in_bucket["case"], in_bucket["scale"], strict=True)}
        for key, group in in_bucket.groupby(keys, dropna=False, sort=False):
            errors = group["relative_error"].astype(float)
            good = group[np.isfinite(errors)]
            covered = {(c, s) for c, s in zip(good["case"], good["scale"], strict=True)}
            run_mean, run_max, referenced = _run_errors(good)
            total_mean = _finite(good, "relative_error_run_mean")
            total_max = _finite(good, "relative_error_run_max")
            bias = _finite(good[referenced], "estimator_bias") if len(good) else np.array([])
            median_sampler = float(np.median(run_mean)) if len(run_mean) else math.nan
            max_sampler = float(np.max(run_max)) if len(run_max) else math.nan
            pooled = errors[np.isfinite(errors)]
            rows.append(
                {
                    "bucket": bucket,
                    **dict(zip(keys, key, strict=True)),
                    "cells": len(needed),
                    "covered": len(covered),
                    "dims": sorted({int(d) for d in good["dim"].dropna()}),
                    "median_sampler_error": median_sampler,
                    "max_sampler_error": max_sampler,
                    "reference_cells": int(referenced.sum()),
                    "unreferenced_cells": int((~referenced).sum()),
                    "median_run_error": float(np.median(total_mean)) if len(total_mean) else math.nan,
                    "max_run_error": float(np.max(total_mean)) if len(total_mean) else math.nan,
                    "worst_run_error": float(np.max(total_max)) if len(total_max) else math.nan,
                    "median_relative_error": float(np.median(pooled)) if len(pooled) else math.nan,
                    "max_relative_error": float(np.max(pooled)) if len(pooled) else math.nan,
                    "median_estimator_bias": float(np.median(bias)) if len(bias) else math.nan,
                    "gradient_evaluations": float(group["gradient_evaluations"].mean())
                    if "gradient_evaluations" in group else math.nan,
                    "chain_gradient_rows": float(group["chain_gradient_rows"].mean()),
                    "wall_time": float(group["wall_time"].mean()),
                    "meets_targets": bool(
                        covered >= needed
                        and median_sampler <= median_target
                        and max_sampler <= max_target
                    ),
                }
            )
    table = pd.DataFrame(rows, columns=columns)
    order = {label: i for i, label in enumerate(bucket_labels(edges))}
    table["_bucket"] = table["bucket"].map(lambda b: order.get(b, len(order)))
    table = table.sort_values(
        ["_bucket", "meets_targets", "chain_gradient_rows", "max_sampler_error"],
        ascending=[True, False, True, True],
        kind="stable",
    )
    return table.drop(columns="_bucket").reset_index(drop=True)


TOTAL_ERROR_SLACK = 0.01  # recommend the cheapest setting within 1 point of the best total error


def recommend(settings_table: pd.DataFrame) -> pd.DataFrame:
    """Per bucket and estimator: among the settings that meet the sampler-error targets (whose
    readings are faithful to the estimator's own target lambda_beta), the cheapest (fewest
    chain-gradient rows) of those whose median total error against lambda is within
    `TOTAL_ERROR_SLACK` of the smallest (a faithful reading of a badly biased lambda_beta, e.g.
    at a strong localization, is no use to a user); if none meets them, the covering setting
    with the smallest max per-run sampler error, marked as not meeting."""
    rows = []
    table = with_estimator(settings_table)
    for _key, group in table.groupby(["bucket", "estimator"], sort=False):
        meeting = group[group["meets_targets"]]
        if len(meeting):
            closest = float(meeting["median_run_error"].min())
            near = meeting[meeting["median_run_error"] <= closest + TOTAL_ERROR_SLACK]
            best = near.sort_values(
                ["chain_gradient_rows", "median_run_error", "median_sampler_error"], kind="stable"
            ).iloc[0]
        else:
            covering = group[group["covered"] == group["cells"]]
            pool = covering if len(covering) else group
            best = pool.sort_values(
                ["max_sampler_error", "chain_gradient_rows"], kind="stable", na_position="last"
            ).iloc[0]
        rows.append(best)
    if not rows:
        return settings_table.iloc[0:0]
    buckets = list(dict.fromkeys(table["bucket"]))
    rows.sort(key=lambda r: (buckets.index(r["bucket"]), r["estimator"] != "rlct"))
    return pd.DataFrame(rows).reset_index(drop=True)


def _is_true(value: object) -> bool:
    """A stored boolean (True, numpy bool, "True"); NaN and missing are False."""
    return value is True or str(value) == "True"

