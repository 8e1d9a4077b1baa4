"""From per-job rows to per-cell summaries, headline figures and recommendations.

A *cell* is one case x scale (x settings, for calibration). Only jobs with ``status == "ok"``
enter a cell's mean: a job with a diverged chain or an error is counted and shown, never
averaged in. The cell's relative error is |mean over seeds of lambda_hat - lambda| / lambda;
its per-run errors are each seed's own |lambda_hat - lambda| / lambda (mean and worst).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

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
    seeds, relative error, worst R-hat, smallest ESS, mean wall time, status counts.

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
        "messages",
    ]
    if frame.empty:
        return pd.DataFrame(columns=columns)
    frame = frame.copy()
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
                "lambda_finite_nbeta": _first_valid(group["lambda_finite_nbeta"])
                if "lambda_finite_nbeta" in group
                else None,
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
                "messages": " | ".join(messages)[:300],
            }
        )
    out = pd.DataFrame(rows, columns=columns)
    out["_order"] = out["dim"].astype(float)
    out = out.sort_values(["case", "_order"], kind="stable").drop(columns="_order")
    return out.reset_index(drop=True)


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
        **_reference_summary(cells),
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
    """|lambda_hat - ref| / ref per cell, ref = n beta E[K] by quadrature (NaN where none)."""
    if "lambda_finite_nbeta" not in cells:
        return pd.Series(math.nan, index=cells.index)
    ref = pd.to_numeric(cells["lambda_finite_nbeta"], errors="coerce").astype(float)
    return (cells["lambda_hat"].astype(float) - ref).abs() / ref.abs()


def _reference_summary(cells: pd.DataFrame) -> dict[str, Any]:
    """How far the estimates are from the finite-n beta references, over cells that have one:
    the sampler's error with the estimator's own finite-n beta bias taken out."""
    deviation = reference_deviation(cells)
    measured = deviation[np.isfinite(deviation)]
    if not len(measured):
        return {"reference_cells": 0}
    worst = cells.loc[measured.idxmax()]
    return {
        "reference_cells": int(len(measured)),
        "reference_median_deviation": float(np.median(measured)),
        "reference_max_deviation": float(np.max(measured)),
        "reference_worst_cell": f"{worst['case']}/{worst['scale']}",
    }


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


def setting_table(
    cells: pd.DataFrame,
    edges: Sequence[float],
    median_target: float = MEDIAN_TARGET,
    max_target: float = MAX_TARGET,
) -> pd.DataFrame:
    """Error and cost of every setting within every parameter-count bucket.

    ``cells`` comes from ``cell_table(frame, by_settings=True)``. A setting *covers* a bucket
    when every case x scale of the bucket has a valid estimate under it; it *meets the targets*
    when it covers the bucket with median relative error <= ``median_target`` and max <=
    ``max_target``, both for the seeds' pooled estimate and for the mean per-run error (the
    error one run of these settings has; see ``cell_table``). Cost: chain-gradient rows =
    chains x steps x batch rows (deterministic), and the measured mean wall time per job.
    """
    keys = calibration_key_columns()
    columns = [
        "bucket",
        *keys,
        "cells",
        "covered",
        "median_relative_error",
        "max_relative_error",
        "median_run_error",
        "max_run_error",
        "worst_run_error",
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
            median = float(np.median(errors[np.isfinite(errors)])) if len(good) else math.nan
            worst = float(np.max(errors[np.isfinite(errors)])) if len(good) else math.nan
            complete = covered >= needed
            run_mean = _finite(good, "relative_error_run_mean")
            run_worst = _finite(good, "relative_error_run_max")
            run_median = float(np.median(run_mean)) if len(run_mean) else median
            run_max = float(np.max(run_mean)) if len(run_mean) else worst
            rows.append(
                {
                    "bucket": bucket,
                    **dict(zip(keys, key, strict=True)),
                    "cells": len(needed),
                    "covered": len(covered),
                    "median_relative_error": median,
                    "max_relative_error": worst,
                    "median_run_error": run_median,
                    "max_run_error": run_max,
                    "worst_run_error": float(np.max(run_worst)) if len(run_worst) else worst,
                    "chain_gradient_rows": float(group["chain_gradient_rows"].mean()),
                    "wall_time": float(group["wall_time"].mean()),
                    "meets_targets": bool(
                        complete
                        and max(median, run_median) <= median_target
                        and max(worst, run_max) <= max_target
                    ),
                }
            )
    table = pd.DataFrame(rows, columns=columns)
    order = {label: i for i, label in enumerate(bucket_labels(edges))}
    table["_bucket"] = table["bucket"].map(lambda b: order.get(b, len(order)))
    table = table.sort_values(
        ["_bucket", "meets_targets", "chain_gradient_rows", "max_run_error"],
        ascending=[True, False, True, True],
        kind="stable",
    )
    return table.drop(columns="_bucket").reset_index(drop=True)


def recommend(settings_table: pd.DataFrame) -> pd.DataFrame:
    """Per bucket and estimator: the cheapest setting that meets the targets (``meets_targets``
    True), or, if none does, the covering setting with the smallest max per-run error, marked
    as not meeting."""
    rows = []
    table = with_estimator(settings_table)
    for _key, group in table.groupby(["bucket", "estimator"], sort=False):
        meeting = group[group["meets_targets"]]
        if len(meeting):
            best = meeting.sort_values(
                ["chain_gradient_rows", "median_relative_error"], kind="stable"
            ).iloc[0]
        else:
            covering = group[group["covered"] == group["cells"]]
            pool = covering if len(covering) else group
            best = pool.sort_values(
                ["max_run_error", "chain_gradient_rows"], kind="stable", na_position="last"
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

