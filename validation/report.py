"""Markdown reports of a sweep, with CSV tables, PNG plots and a manifest.

Validation report (``<out>/README.md``): the command that regenerates it, the headline figures
(median and max relative error over case x scale cells; targets median <= 5%, max <= 15%,
said plainly where not met; the error split into the sampler's and the estimator's parts over
the cells with a reference lambda_beta), a table per case x scale (exact lambda, mean
lambda_hat +- se over seeds, relative error, lambda_beta +- se, sampler error, estimator bias,
R-hat, ESS, time), plots, and the files: ``results.csv`` (one row per job, reference jobs
included), ``cells.csv`` (one row per case x scale), ``manifest.json``, ``plots/*.png``,
``results/*.json`` and ``traces/*.npz``.

Calibration report: error and cost of every setting per parameter-count bucket
(``settings.csv``), the error split per setting x cell where a reference exists, heatmaps over
pairs of hyperparameters, and the recommendation table (``recommendation.csv``) in our terms and
in devinterp's.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rlct.numeric.settings import SamplerSettings
from rlct.validation import aggregate, plots
from rlct.validation.devinterp_adapter import describe_arguments
from rlct.validation.grid import CalibrationGrid
from rlct.validation.jobs import Job, is_reference
from rlct.validation.manifest import build_manifest
from rlct.validation.store import ResultStore, atomic_write_json, atomic_write_text

REPORT_NAME = "README.md"
TRACE_EXAMPLES = 6
HEATMAP_KEYS = (
    "step_size", "control_variate", "nbeta", "localization", "sampler", "chains", "steps",
    "batch_size",
)
MAX_HEATMAPS_PER_BUCKET = 8
HEADLINE_KEYS = (
    "bucket", "setting", "median sampler err.", "max sampler err.", "median rel. error",
    "estimator bias", "meets targets",
)


@dataclass
class Written:
    path: Path
    headline: dict[str, Any] = field(default_factory=dict)


def _pct(x: Any) -> str:
    return "n/a" if x is None or not np.isfinite(float(x)) else f"{100 * float(x):.1f}%"


def _num(x: Any, digits: int = 4) -> str:
    if x is None:
        return ""
    try:
        value = float(x)
    except (TypeError, ValueError):
        return str(x)
    if not np.isfinite(value):
        return "n/a"
    return f"{value:.{digits}g}"


def markdown_table(frame: pd.DataFrame) -> str:
    if frame.empty:
        return "_(no rows)_\n"
    header = "| " + " | ".join(str(c) for c in frame.columns) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    lines = [header, rule]
    for _, row in frame.iterrows():
        cells = [str(v).replace("|", "\\|").replace("\n", " ") for v in row]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _signed_pct(x: Any) -> str:
    """A signed percentage; blank (not "n/a", not 0) where there is no value."""
    if x is None:
        return ""
    try:
        value = float(x)
    except (TypeError, ValueError):
        return ""
    return f"{100 * value:+.1f}%" if np.isfinite(value) else ""


def _finite_number(x: Any) -> float | None:
    try:
        value = float(x)
    except (TypeError, ValueError):
        return None
    return value if np.isfinite(value) else None


SPLIT_PARAGRAPH = (
    "Error split (theory.md §8): λ̂ − λ = (λ̂ − λ_β) + (λ_β − λ), with λ_β = nβ(E_β[L_n] − "
    "L_n(w*)) under the exact localized tempered posterior at the same nβ, γ and data. The first "
    "part, the **sampler error** (λ̂ − λ_β)/λ_β, is the sampler's: step-size bias and incomplete "
    "mixing. The second, the **estimator bias** (λ_β − λ)/λ, is the estimator's own at finite nβ, "
    "γ and n (for m > 1 it shrinks only like (m − 1)/log nβ); no sampler setting removes it. "
    "λ_β comes from an exact Gibbs reference job per seed on the same data (dln, rrr, multireg; "
    "± its Monte Carlo standard error, with its own R-hat and ESS) or, for poly, from quadrature "
    "of the posterior (`Case.finite_nbeta_reference`, infinite data, no standard error). "
    "Blank: no reference for that cell."
)


def _nbeta_text(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/log n"
    return _num(value)


def _batch_text(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "full"
    return str(int(value))


def _sweep_frame(store: ResultStore, jobs: Sequence[Job]) -> pd.DataFrame:
    """The stored rows of this sweep's jobs (a directory may also hold other sweeps' jobs)."""
    return store.load(job.id for job in jobs).reset_index(drop=True)


def _job_time_text(frame: pd.DataFrame) -> str:
    """The summed wall time of the jobs in ``frame`` (a resumed run's own time is not the cost)."""
    if frame.empty or "wall_time" not in frame:
        return ""
    total = float(pd.to_numeric(frame["wall_time"], errors="coerce").sum())
    return f"; the jobs' own wall times sum to {total:.0f} s ({total / 3600:.1f} h)"


def headline_text(head: dict[str, Any]) -> list[str]:
    """Plain sentences: the figures, whether each target is met, and why not."""
    lines = [
        f"- Median relative error over {head['measured_cells']} case × scale cells: "
        f"**{_pct(head['median_relative_error'])}** (target ≤ {head['median_target']:.0%}: "
        f"**{'met' if head['median_met'] else 'NOT met'}**).",
        f"- Max relative error: **{_pct(head['max_relative_error'])}**"
        + (f" ({head['worst_cell']})" if head.get("worst_cell") else "")
        + f" (target ≤ {head['max_target']:.0%}: **{'met' if head['max_met'] else 'NOT met'}**).",
    ]
    if "run_median_relative_error" in head:
        lines.append(
            "- Per run (each seed's own estimate; the targets hold only if they hold for these "
            "too): mean error per cell, median over cells "
            f"**{_pct(head['run_median_relative_error'])}**, max "
            f"**{_pct(head['run_max_relative_error'])}**; the worst single run "
            f"**{_pct(head['worst_run_relative_error'])}** ({head['worst_run_cell']})."
        )
    lines += split_text(head, targets=True)
    if head.get("unmixed_cells"):
        lines.append(
            f"- Chains not yet mixed (split R-hat > {aggregate.RHAT_FLAG} or ESS < "
            f"{aggregate.ESS_FLAG:.0f} in some seed; Vehtari et al. 2021 ask for R-hat < 1.01 "
            f"and ESS > 400): {', '.join(head['unmixed_cells'])}. Their λ̂ may still drift with "
            "longer chains; their standard errors understate the error."
        )
    if head["missing_cells"]:
        lines.append(
            f"- **{len(head['missing_cells'])} of {head['cells']} cells have no valid estimate** "
            f"(every seed diverged or failed): {', '.join(head['missing_cells'])}. The targets "
            "count as not met while any cell is missing."
        )
    return lines


def split_text(head: dict[str, Any], cells_word: str = "case × scale cells", targets: bool = False) -> list[str]:
    """The headline sentences of the error split (`aggregate.split_summary` keys); with
    ``targets``, whether the sampler error meets the targets of the recommended settings
    (`aggregate.SAMPLER_ERROR_MEDIAN_TARGET`, `aggregate.SAMPLER_ERROR_MAX_TARGET`)."""
    total = head.get("cells")
    count = int(head.get("reference_cells", 0) or 0)
    of = f"{count} of {total}" if total is not None else f"{count}"
    if not count:
        return [
            f"- Error split: {of} {cells_word} have a reference λ_β (exact Gibbs or quadrature), "
            "so no error is split into the sampler's and the estimator's parts."
        ]
    kinds = (f"{head.get('reference_cells_gibbs', 0)} exact Gibbs, "
             f"{head.get('reference_cells_quadrature', 0)} quadrature")
    line = (
        f"- Error split, λ̂ − λ = (λ̂ − λ_β) + (λ_β − λ), over the {of} {cells_word} that have a "
        f"reference λ_β ({kinds}):"
    )
    if head.get("sampler_error_cells"):
        line += (
            f" **sampler error** |λ̂ − λ_β|/λ_β median **{_pct(head['sampler_error_median'])}**, max "
            f"**{_pct(head['sampler_error_max'])}** ({head['sampler_error_worst_cell']}, "
            f"{_signed_pct(head['sampler_error_worst'])}"
            + (f"; worst single run {_pct(head['sampler_error_worst_run'])}"
               if "sampler_error_worst_run" in head else "")
            + ");"
        )
    else:
        line += " no sampler error (no valid estimate where there is a reference);"
    if "estimator_bias_median" in head:
        line += (
            f" **estimator bias** |λ_β − λ|/λ median **{_pct(head['estimator_bias_median'])}**, max "
            f"**{_pct(head['estimator_bias_max'])}** ({head['estimator_bias_worst_cell']}, "
            f"{_signed_pct(head['estimator_bias_worst'])})."
        )
    lines = [line + " The first is the sampler's to fix; the second no sampler setting removes."]
    if targets and head.get("sampler_error_cells"):
        median_ok = head["sampler_error_median"] <= aggregate.SAMPLER_ERROR_MEDIAN_TARGET
        max_ok = head["sampler_error_max"] <= aggregate.SAMPLER_ERROR_MAX_TARGET
        over = head.get("sampler_error_over_max_cells") or []
        lines.append(
            f"- Sampler-error targets of the recommended settings (median ≤ "
            f"{_pct(aggregate.SAMPLER_ERROR_MEDIAN_TARGET)}, max ≤ {_pct(aggregate.SAMPLER_ERROR_MAX_TARGET)} over "
            f"the cells with a reference): median **{'met' if median_ok else 'NOT met'}**, max "
            f"**{'met' if max_ok else 'NOT met'}**"
            + (f"; over {_pct(aggregate.SAMPLER_ERROR_MAX_TARGET)}: {', '.join(over)}." if over else ".")
        )
    if head.get("reference_unmixed_cells"):
        lines.append(
            f"- References not yet mixed (R-hat > {aggregate.RHAT_FLAG} or ESS < "
            f"{aggregate.ESS_FLAG:.0f}): {', '.join(head['reference_unmixed_cells'])}; their λ_β "
            "is less certain than its standard error says."
        )
    return lines


def _trace_examples(store: ResultStore, frame: pd.DataFrame, cells: pd.DataFrame) -> list[dict]:
    """Seed-0-first ok jobs: the largest scale of each case, then the smallest, up to 6."""
    examples: list[dict[str, Any]] = []
    picks: list[tuple[str, str]] = []
    for case, group in cells.groupby("case", sort=False):
        ordered = list(group.sort_values("dim")["scale"])
        picks.append((case, ordered[-1]))
    for case, group in cells.groupby("case", sort=False):
        ordered = list(group.sort_values("dim")["scale"])
        if len(ordered) > 1:
            picks.append((case, ordered[0]))
    for case, scale in picks[:TRACE_EXAMPLES]:
        rows = frame[(frame["case"] == case) & (frame["scale"] == scale)]
        rows = rows.sort_values(["status", "seed"], key=lambda s: s.map(
            lambda v: {"ok": 0, "diverged": 1}.get(v, 2) if isinstance(v, str) else v
        ))
        for _, row in rows.iterrows():
            if not store.trace_path(row["job_id"]).is_file():
                continue
            data = store.load_trace(row["job_id"])
            examples.append(
                {
                    "title": f"{case}/{scale} (d={row['dim']}) seed {row['seed']}: "
                    f"λ̂={_num(row['llc_mean'])} [{row['status']}]",
                    "trace": data["loss_trace"],
                    "init_loss": float(data["init_loss"]),
                    "nbeta": float(data["nbeta"]),
                    "burnin": int(data["burnin"]),
                    "stride": int(data["trace_stride"]) if "trace_stride" in data else 1,
                    "exact": float(row["lambda_exact_float"]),
                }
            )
            break
    return examples


def _validation_table(cells: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "case": cells["case"],
            "scale": cells["scale"],
            "d": cells["dim"],
            "n": cells["n"],
            "exact λ": [
                f"{e} (m={m})"
                for e, m in zip(cells["lambda_exact"], cells["multiplicity"], strict=True)
            ],
            "λ̂ ± se": [
                f"{_num(a)} ± {_num(b, 2)}"
                for a, b in zip(cells["lambda_hat"], cells["lambda_hat_se"], strict=True)
            ],
            "rel. error": [_pct(x) for x in cells["relative_error"]],
            "per run: mean / worst": [
                f"{_pct(a)} / {_pct(b)}"
                for a, b in zip(
                    cells.get("relative_error_run_mean", [math.nan] * len(cells)),
                    cells.get("relative_error_run_max", [math.nan] * len(cells)),
                    strict=True,
                )
            ],
            **_split_columns(cells),
            "R-hat (max)": [_num(x, 3) for x in cells["rhat_max"]],
            "ESS (min)": [_num(x, 3) for x in cells["ess_min"]],
            "seeds ok/div/err": [
                f"{o}/{d}/{e}" for o, d, e in zip(
                    cells["ok"], cells["diverged"], cells["error"], strict=True
                )
            ],
            "time/job [s]": [_num(x, 3) for x in cells["job_time"]],
        }
    )


def _reference_text(value: Any, se: Any, source: Any) -> str:
    reference = _finite_number(value)
    if reference is None:
        return ""
    if str(source) == "quadrature":
        return f"{_num(reference)} (quadrature)"
    error = _finite_number(se)
    return _num(reference) + (f" ± {_num(error, 2)}" if error is not None else "")


def _split_columns(cells: pd.DataFrame) -> dict[str, list[str]]:
    """The error-split columns of a report table: λ_β ± se, sampler error, estimator bias
    (signed) and the reference's R-hat / ESS; blank where a cell has no reference."""
    blank = [None] * len(cells)

    def column(name: str) -> list[Any]:
        return list(cells[name]) if name in cells else blank

    return {
        "λ_β ± se": [
            _reference_text(v, e, s) for v, e, s in zip(
                column("lambda_finite_nbeta"), column("lambda_finite_nbeta_se"),
                column("reference_source"), strict=True,
            )
        ],
        "sampler error": [_signed_pct(x) for x in column("sampler_error")],
        "estimator bias": [_signed_pct(x) for x in column("estimator_bias")],
        "ref. R-hat / ESS": [
            f"{_num(r, 4)} / {_num(e, 4)}" if _finite_number(r) is not None else ""
            for r, e in zip(column("reference_rhat_max"), column("reference_ess_min"), strict=True)
        ],
    }


def write_validation_report(
    store: ResultStore,
    jobs: Sequence[Job],
    *,
    config: dict[str, Any],
    command: str,
    argv: Sequence[str] | None,
    stats: Any,
    started: float,
) -> Written:
    root = store.root
    frame = _sweep_frame(store, jobs)
    cells = aggregate.cell_table(frame)
    head = aggregate.headline(cells)
    references = sum(is_reference(j) for j in jobs)
    store.write_csv(job_ids=[j.id for j in jobs])
    atomic_write_text(root / "cells.csv", cells.to_csv(index=False))
    plot_dir = root / "plots"
    figures = []
    if not cells.empty:
        figures.append(plots.estimate_vs_exact(cells, plot_dir / "estimate_vs_exact.png"))
        figures.append(plots.error_vs_parameters(cells, plot_dir / "error_vs_parameters.png"))
        figures.append(plots.error_split_vs_parameters(cells, plot_dir / "error_split.png"))
        estimates = frame[~aggregate.is_reference_row(frame)] if not frame.empty else frame
        figures.append(
            plots.loss_traces(_trace_examples(store, estimates, cells), plot_dir / "loss_traces.png")
        )
    manifest = build_manifest(
        config=config,
        command=command,
        argv=argv,
        started=started,
        stats=stats,
        job_ids=[j.id for j in jobs],
    )
    atomic_write_json(root / "manifest.json", manifest)
    lines = [
        f"# LLC validation report ({config.get('mode', '')}"
        + (f", {config['estimator']}'s estimator" if config.get("estimator", "rlct") != "rlct"
           else "")
        + ")",
        "",
        "Regenerate with:",
        "",
        "```bash",
        command,
        "```",
        "",
        f"Generated {manifest['created']} from commit `{manifest['git']['commit']}`"
        + (" (with local changes)" if manifest["git"]["dirty"] else "")
        + f" on {config.get('device')} ({manifest['hardware']['platform']}); "
        f"{len(jobs)} jobs ({config.get('seeds')} seeds per case × scale"
        + (f"; {references} of them exact Gibbs reference jobs" if references else "")
        + "), executor "
        f"`{config.get('executor')}`, {manifest['wall_time_seconds']:.0f} s wall time "
        f"for this run{_job_time_text(frame)}.",
        "",
        "## Headline",
        "",
        *headline_text(head),
    ]
    if stats.lost:
        lines.append(
            f"- {len(stats.lost)} jobs were lost to worker failures in this run and are missing; "
            "rerun the command to run them."
        )
    if len(frame) < len(jobs):
        done = {str(i) for i in frame["job_id"]} if "job_id" in frame else set()
        missing = sorted({f"{j.case}/{j.scale}" for j in jobs if j.id not in done}) if done else []
        lines.append(
            f"- **Partial sweep: {len(jobs) - len(frame)} of {len(jobs)} planned jobs have not run**"
            + (f" ({', '.join(missing)})" if missing else "")
            + "; the figures above cover the finished jobs only. Rerun the command to complete it."
        )
    if config.get("skipped"):
        not_run = ", ".join(
            f"{c['case']}/{c['scale']} (d = {c['parameters']:,})" for c in config["skipped"]
        )
        lines.append(
            f"- **Not run (`--skip`): {not_run}.** These cells are within the parameter cap but "
            "were left out of this sweep; the figures above do not cover them."
        )
    diverged = int((frame["status"] == "diverged").sum()) if not frame.empty else 0
    errors = int((frame["status"] == "error").sum()) if not frame.empty else 0
    lines += [
        f"- Jobs: {len(frame)} stored of {len(jobs)} planned; {diverged} with a diverged chain "
        f"and {errors} errors (kept in `results.csv`, never averaged in).",
        "",
        "## Per case × scale",
        "",
        "λ̂ is the mean over seeds whose jobs finished with no diverged chain; ± is the standard "
        "error over those seeds (one seed: the job's own standard error across chains). The "
        "relative error is |λ̂ − λ| / λ; per run: the mean and the worst of each seed's own "
        "error. R-hat is the worst and ESS the smallest over seeds (ref. R-hat / ESS: the same "
        "for the reference jobs).",
        "",
        SPLIT_PARAGRAPH,
        "",
        markdown_table(_validation_table(cells)),
    ]
    from rlct.validation.ladder_study import validation_section

    lines += validation_section(cells, root.parent / "ladder" / "ladder.csv")
    problems = cells[cells["messages"].astype(str) != ""] if not cells.empty else cells
    if len(problems):
        lines += ["### Diverged or failed jobs", ""]
        for _, row in problems.iterrows():
            lines.append(f"- {row['case']}/{row['scale']}: {row['messages']}")
        lines.append("")
    lines += ["## Plots", ""]
    for figure in figures:
        lines.append(f"![{figure.stem}](plots/{figure.name})")
        lines.append("")
    lines += [
        "## Files",
        "",
        "- `results.csv`: one row per job (case, scale, parameters, settings, seed, estimate, "
        "diagnostics, status), the reference jobs (sampler `gibbs`) included; "
        "`results/<job id>.json` the same per job.",
        "- `cells.csv`: the table above with full precision (`lambda_finite_nbeta` = λ_β, "
        "`lambda_finite_nbeta_se`, `reference_source`, `reference_rhat_max`, `reference_ess_min`, "
        "`sampler_error`, `sampler_error_run_max`, `estimator_bias`).",
        "- `traces/<job id>.npz`: raw loss traces (chain, steps), burn-in included.",
        "- `manifest.json`: configuration, code commit, library versions, hardware, wall time.",
        "",
    ]
    path = root / REPORT_NAME
    atomic_write_text(path, "\n".join(lines))
    return Written(path=path, headline=head)


def _setting_label(row: pd.Series) -> str:
    cv = str(row.get("control_variate")) == "True"  # CV doubles the gradient rows per step
    who = row.get("estimator", "rlct")
    parts = [
        str(row["sampler"]) + ("-cv" if cv else ""),
        f"ε={_num(row['step_size'])}",
        f"nβ={_nbeta_text(row['nbeta'])}",
        f"γ={_num(row['localization'])}",
        f"C={int(row['chains'])}",
        f"T={int(row['steps'])}",
        f"burn={int(row['burnin'])}",
        f"b={_batch_text(row['batch_size'])}",
    ]
    if row["sampler"] == "psgld":
        parts.append(f"α={_num(row['psgld_alpha'])}, λ={_num(row['psgld_eps'])}")
    label = ", ".join(parts)
    return label if who in ("rlct", None) or pd.isna(who) else f"{who}'s estimator: {label}"


def _signed_error_matrix(
    cells: pd.DataFrame, table: pd.DataFrame, column: str | None = None
) -> pd.DataFrame:
    """Settings (rows, in the order of ``table``) x case/scale (columns, by parameter count):
    the signed relative error (lambda_hat - lambda) / lambda of the mean over ok seeds, or
    "diverged" / "error" where no seed gave an estimate. With ``column`` (``"sampler_error"``):
    that signed fraction instead, blank where the cell has none."""
    cells = aggregate.with_estimator(cells)
    keys = aggregate.calibration_key_columns()
    order = cells.sort_values(["dim", "case", "scale"], kind="stable")
    columns = list(dict.fromkeys(f"{c}/{s}" for c, s in zip(order["case"], order["scale"],
                                                             strict=True)))
    dims = dict(zip((f"{c}/{s}" for c, s in zip(cells["case"], cells["scale"], strict=True)),
                    cells["dim"], strict=True))
    by_setting: dict[str, dict[str, str]] = {}
    for _, row in cells.iterrows():
        label = _setting_label(row)
        name = f"{row['case']}/{row['scale']}"
        exact = float(row["lambda_exact_float"])
        estimate = row["lambda_hat"]
        if column is not None:
            text = _signed_pct(row.get(column))
        elif estimate is not None and pd.notna(estimate) and exact:
            text = f"{100 * (float(estimate) - exact) / exact:+.1f}%"
        elif int(row.get("diverged", 0) or 0):
            text = "diverged"
        else:
            text = "error"
        by_setting.setdefault(label, {})[name] = text
    ranked = aggregate.with_estimator(table).drop_duplicates(keys)
    ranked = ranked.assign(_theirs=ranked["estimator"] != "rlct").sort_values(
        "_theirs", kind="stable"
    )  # ours first, each in the order of the settings table
    labels = list(dict.fromkeys(_setting_label(r) for _, r in ranked.iterrows()))
    labels += [k for k in by_setting if k not in labels]
    header = {c: f"{c} (d={int(dims[c])})" for c in columns}
    rows = [{"setting": label, **{header[c]: by_setting[label].get(c, "") for c in columns}}
            for label in labels if label in by_setting]
    return pd.DataFrame(rows, columns=["setting", *header.values()])


def _reference_table(cells: pd.DataFrame) -> pd.DataFrame:
    """One row per case × scale × (nβ, γ) with a reference: λ, λ_β ± se, the estimator bias,
    the reference's source and diagnostics."""
    columns = ["case", "scale", "d", "nβ", "γ", "exact λ", "λ_β ± se", "estimator bias",
               "source", "ref. R-hat / ESS"]
    if cells.empty or "lambda_finite_nbeta" not in cells:
        return pd.DataFrame(columns=columns)
    has = cells[pd.to_numeric(cells["lambda_finite_nbeta"], errors="coerce").notna()]
    has = has.assign(_nbeta=[_nbeta_text(v) for v in has["nbeta"]]).drop_duplicates(
        ["case", "scale", "_nbeta", "localization", "lambda_finite_nbeta"]
    ).sort_values(["dim", "case", "scale"], kind="stable")
    split = _split_columns(has)
    return pd.DataFrame(
        {
            "case": list(has["case"]),
            "scale": list(has["scale"]),
            "d": list(has["dim"]),
            "nβ": list(has["_nbeta"]),
            "γ": [_num(g) for g in has["localization"]],
            "exact λ": list(has["lambda_exact"]),
            "λ_β ± se": split["λ_β ± se"],
            "estimator bias": split["estimator bias"],
            "source": [str(s) for s in has["reference_source"]],
            "ref. R-hat / ESS": split["ref. R-hat / ESS"],
        },
        columns=columns,
    )


def _settings_from_row(row: pd.Series) -> Any:
    from rlct.numeric.settings import SamplerSettings

    def clean(value: Any) -> Any:
        if isinstance(value, float) and math.isnan(value):
            return None
        if isinstance(value, np.bool_):
            return bool(value)
        if isinstance(value, np.integer):
            return int(value)
        if isinstance(value, np.floating):
            return float(value)
        return value

    data = {k: clean(row[k]) for k in aggregate.settings_key_columns()}
    for key in ("chains", "steps", "burnin"):
        data[key] = int(data[key])
    if data["batch_size"] is not None:
        data["batch_size"] = int(data["batch_size"])
    # stored before the field existed (NaN -> None: the default), or read back as a float
    if data.get("leapfrog_steps") is None:
        data.pop("leapfrog_steps", None)
    else:
        data["leapfrog_steps"] = int(data["leapfrog_steps"])
    return SamplerSettings.from_dict(data)


def _heatmaps(cells: pd.DataFrame, edges: Sequence[float], out_dir: Path) -> list[Path]:
    """Per bucket, per pair of varying hyperparameters: the other varying ones are held at their
    most common value (the base of a pair grid)."""
    if cells.empty:
        return []
    cells = cells.copy()
    cells["nbeta"] = [_nbeta_text(v) for v in cells["nbeta"]]
    cells["batch_size"] = [_batch_text(v) for v in cells["batch_size"]]
    cells["bucket"] = [aggregate.bucket_of(float(d), edges) for d in cells["dim"]]
    figures = []
    for bucket, group in cells.groupby("bucket", sort=False):
        varying = [k for k in HEATMAP_KEYS if group[k].nunique(dropna=False) > 1]
        pairs = list(itertools.combinations(varying, 2))[:MAX_HEATMAPS_PER_BUCKET]
        for x, y in pairs:
            others = [k for k in varying if k not in (x, y)]
            mask = np.ones(len(group), dtype=bool)
            held = []
            for key in others:
                mode = group[key].mode(dropna=False).iloc[0]
                mask &= (group[key] == mode).to_numpy()
                held.append(f"{key}={_num(mode) if not isinstance(mode, str) else mode}")
            part = group[mask]
            if part[x].nunique() < 2 or part[y].nunique() < 2:
                continue
            name = f"heatmap_{_slug(bucket)}_{x}_{y}.png"
            title = f"d {bucket}: {y} × {x}" + (f" (held: {', '.join(held)})" if held else "")
            figures.append(plots.heatmap_pair(part, x, y, out_dir / name, title))
    return figures


def _slug(text: str) -> str:
    text = text.replace(">=", "ge").replace("<", "lt")
    return "".join(c if c.isalnum() else "_" for c in text).strip("_")


def _bucket_words(bucket: str) -> str:
    """A bucket label in words: "<1e3" -> "d < 10^3", "1e3-1e4" -> "10^3 <= d < 10^4"."""
    def power(text: str) -> str:
        mantissa, _, exponent = text.partition("e")
        if exponent and mantissa == "1":
            return f"10^{int(exponent)}"
        return text

    if bucket.startswith("<"):
        return f"d < {power(bucket[1:])}"
    if bucket.startswith(">="):
        return f"d ≥ {power(bucket[2:])}"
    low, _, high = bucket.partition("-")
    return f"{power(low)} ≤ d < {power(high)}"


def _answer_lines(best: pd.DataFrame, grid: CalibrationGrid) -> list[str]:
    """The report's first lines: per bucket, what to use and what to expect (our estimator's
    recommendation, and devinterp's where it ran)."""
    if best.empty:
        return ["_No results yet: nothing to recommend._"]
    lines = []
    table = aggregate.with_estimator(best)
    for _, row in table.iterrows():
        who = "devinterp 2.0.1" if row["estimator"] == "devinterp" else "rlct"
        settings = _settings_from_row(row)
        use = (
            f"`{describe_arguments(settings)}`" if row["estimator"] == "devinterp"
            else f"`{_setting_label(row)}`"
        )
        bias = _finite_number(row["median_estimator_bias"])
        expect = (
            f"expect ±{_pct(row['median_run_error'])} against λ per run (worst run "
            f"{_pct(row['worst_run_error'])}), of which {_signed_pct(bias)} is the estimator's own "
            f"bias at nβ = {_nbeta_text(row['nbeta'])}, γ = {_num(row['localization'])}"
            if bias is not None else
            f"expect ±{_pct(row['median_run_error'])} against λ per run (worst run "
            f"{_pct(row['worst_run_error'])}; no reference: the estimator's own bias is not separated)"
        )
        bias_note = (
            f" **Its estimator bias ({_signed_pct(bias)}) exceeds {grid.max_target:.0%}: the reading "
            "is faithful to λ_β but λ_β is far from λ (change nβ or γ, not the sampler).**"
            if bias is not None and abs(bias) > grid.max_target else ""
        )
        if row["meets_targets"]:
            lines.append(
                f"- **{_bucket_words(str(row['bucket']))}** ({who}): use {use}; {expect}.{bias_note} Sampler "
                f"error per run: median {_pct(row['median_sampler_error'])}, max "
                f"{_pct(row['max_sampler_error'])} (targets {grid.median_target:.0%} / "
                f"{grid.max_target:.0%}); {_num(row['gradient_evaluations'], 3)} gradients, "
                f"{_num(row['wall_time'], 3)} s per job here."
            )
        elif int(row["covered"]) < int(row["cells"]):
            lines.append(
                f"- **{_bucket_words(str(row['bucket']))}** ({who}): not yet decided: no setting "
                f"has results on all {int(row['cells'])} cells of this bucket. So far the best: "
                f"{use}, on {int(row['covered'])} cells: sampler error median "
                f"{_pct(row['median_sampler_error'])}, max {_pct(row['max_sampler_error'])}; "
                f"{expect}."
            )
        else:
            lines.append(
                f"- **{_bucket_words(str(row['bucket']))}** ({who}): **no setting of the grid met the "
                f"targets** (per-run sampler error ≤ {grid.median_target:.0%} median, ≤ "
                f"{grid.max_target:.0%} max). Closest: {use}, sampler error median "
                f"{_pct(row['median_sampler_error'])}, max {_pct(row['max_sampler_error'])}; "
                f"{expect}."
            )
    return _with_pruned_estimators(lines, table, grid)


def _with_pruned_estimators(lines: list[str], table: pd.DataFrame, grid: CalibrationGrid) -> list[str]:
    """``lines`` (one per row of ``table``) with a line after each bucket for every estimator of
    the grid that has no row there: all its settings were pruned in smaller buckets."""
    estimators = list(grid.estimators)
    buckets = [str(b) for b in table["bucket"]]
    out: list[str] = []
    for i, line in enumerate(lines):
        out.append(line)
        if i + 1 == len(buckets) or buckets[i + 1] != buckets[i]:
            here = set(table.loc[table["bucket"].astype(str) == buckets[i], "estimator"])
            for missing in (e for e in estimators if e not in here):
                who = "devinterp 2.0.1" if missing == "devinterp" else "rlct"
                out.append(
                    f"- **{_bucket_words(buckets[i])}** ({who}): **no setting ran in this bucket**: each of "
                    "the grid's settings for this estimator failed the max target in a smaller bucket and "
                    "was pruned (see *Pruned settings*)."
                )
    return out


def _cost_figure(cells: pd.DataFrame, best: pd.DataFrame, edges: Sequence[float], path: Path) -> Path | None:
    """`plots.cost_vs_parameters` for each bucket's recommended settings (both estimators)."""
    if cells.empty or best.empty:
        return None
    keys = aggregate.calibration_key_columns()
    table = aggregate.with_estimator(cells)
    points = []
    for _, row in aggregate.with_estimator(best).iterrows():
        match = np.ones(len(table), dtype=bool)
        for key in keys:
            value, column = row[key], table[key]
            if pd.isna(value):
                match &= column.isna().to_numpy()
            else:
                match &= (column == value).to_numpy()
        label = f"{row['bucket']}: " + ("devinterp " if row["estimator"] == "devinterp" else "") + _setting_label(row)
        for _, cell in table[match].iterrows():
            points.append({"label": label, "dim": float(cell["dim"]), "wall_time": cell["wall_time"],
                           "chain_gradient_rows": cell["chain_gradient_rows"]})
    if not points:
        return None
    return plots.cost_vs_parameters(pd.DataFrame(points), path)


def _not_run_lines(not_run: Sequence[dict[str, Any]], cells: pd.DataFrame) -> list[str]:
    """The cells above the device's parameter cap, with the CPU time they would take here:
    seconds per (chain step x parameter) of our estimator's jobs on the same case, measured at
    its largest cell that ran, times d x chain-steps x seeds (devinterp's jobs not included)."""
    if not not_run:
        return []
    ours = aggregate.with_estimator(cells)
    ours = ours[ours["estimator"] == "rlct"]
    rows = []
    for record in not_run:
        same = ours[ours["case"] == record["case"]]
        rate = math.nan
        if len(same):
            largest = same[same["dim"].astype(float) == same["dim"].astype(float).max()]
            per = largest["wall_time"].astype(float) / (
                largest["dim"].astype(float) * largest["steps"].astype(float) * largest["chains"].astype(float)
            )
            per = per[np.isfinite(per)]
            rate = float(np.median(per)) if len(per) else math.nan
        seconds = rate * float(record["dim"]) * float(record["steps"]) * float(record["seeds"])
        rows.append({
            "case × scale": f"{record['case']}/{record['scale']}",
            "d": f"{int(record['dim']):,}",
            "bucket": record["bucket"],
            "settings": str(record["settings"]),
            "seeds": str(record["seeds"]),
            "est. CPU time here": f"{seconds / 3600:.0f} h" if math.isfinite(seconds) else "unknown",
        })
    return [
        "## Not run: cells above this device's parameter cap",
        "",
        "Planned in the grid (`sweep.max_parameters`, per device; run them with `--device cuda`, "
        "where the grid's `cuda` cap applies, 10⁸ by default). Estimated CPU time here: our "
        "estimator's measured seconds per chain step per parameter on the same case (its "
        "largest cell that ran) × d × the cell's chain steps × seeds, assuming cost linear in "
        "d; devinterp's jobs (5-10× slower) and the Gibbs references are not included.",
        "",
        markdown_table(pd.DataFrame(rows)),
        "",
    ]


def _pruned_lines(pruned: Sequence[dict[str, Any]]) -> list[str]:
    """The settings that `prune = true` stopped, with the run that failed."""
    if not pruned:
        return []
    rows = []
    for record in pruned:
        settings = SamplerSettings.from_dict(record["settings"])
        label = _setting_label(pd.Series({**settings.to_dict(), "estimator": record["estimator"]}))
        rows.append({
            "setting": label,
            "failed run": record["failed_run"],
            "why": record["reason"],
            "pruned from": ", ".join(record["buckets"]),
            "jobs not run": str(record["jobs"]),
        })
    return [
        "## Pruned settings",
        "",
        "With `prune = true` the sweep runs bucket by bucket and seed by seed; a setting with one "
        "run whose sampler error exceeds the max target (or that diverged or failed) cannot meet "
        "the targets in that bucket, so its remaining jobs there and in larger buckets are not "
        "run (`rlct.validation.prune`).",
        "",
        markdown_table(pd.DataFrame(rows)),
        "",
    ]


def write_calibration_report(
    store: ResultStore,
    jobs: Sequence[Job],
    grid: CalibrationGrid,
    *,
    config: dict[str, Any],
    command: str,
    argv: Sequence[str] | None,
    stats: Any,
    started: float,
) -> Written:
    root = store.root
    frame = _sweep_frame(store, jobs)
    cells = aggregate.cell_table(frame, by_settings=True)
    table = aggregate.setting_table(cells, grid.bucket_edges, grid.median_target, grid.max_target)
    best = aggregate.recommend(table)
    store.write_csv(job_ids=[j.id for j in jobs])
    atomic_write_text(root / "cells.csv", cells.to_csv(index=False))
    atomic_write_text(root / "settings.csv", table.to_csv(index=False))
    recommendation_rows = []
    for _, row in best.iterrows():
        settings = _settings_from_row(row)
        recommendation_rows.append(
            {
                "bucket": row["bucket"],
                "setting": _setting_label(row),
                "covered": f"{row['covered']}/{row['cells']}",
                "median sampler err.": _pct(row["median_sampler_error"]),
                "max sampler err.": _pct(row["max_sampler_error"]),
                "median rel. error": _pct(row["median_run_error"]),
                "worst run vs λ": _pct(row["worst_run_error"]),
                "estimator bias": _signed_pct(row["median_estimator_bias"]),
                "meets targets": "yes" if row["meets_targets"] else "**NO**",
                "gradients": _num(row["gradient_evaluations"], 3),
                "chain-gradient rows": _num(row["chain_gradient_rows"], 3),
                "time/job [s]": _num(row["wall_time"], 3),
                "devinterp 2.0.1": describe_arguments(settings),
                "settings_json": json.dumps(settings.to_dict()),
            }
        )
    recommendation = pd.DataFrame(recommendation_rows)
    atomic_write_text(root / "recommendation.csv", recommendation.to_csv(index=False))
    ours = aggregate.with_estimator(cells)
    figures = _heatmaps(ours[ours["estimator"] == "rlct"], grid.bucket_edges, root / "plots")
    cost_figure = _cost_figure(cells, best, grid.bucket_edges, root / "plots" / "cost_vs_d.png")
    split = {
        "cells": int(len(cells)),
        **aggregate.split_summary(
            cells, label=lambda r: f"{r['case']}/{r['scale']} [{_setting_label(r)}]",
            reference_label=lambda r: (f"{r['case']}/{r['scale']} [nβ={_nbeta_text(r['nbeta'])}, "
                                       f"γ={_num(r['localization'])}]"),
        ),
    }
    split_figure = (
        plots.error_split_vs_parameters(cells, root / "plots" / "error_split.png")
        if not cells.empty else None
    )
    manifest = build_manifest(
        config=config,
        command=command,
        argv=argv,
        started=started,
        stats=stats,
        job_ids=[j.id for j in jobs],
    )
    atomic_write_json(root / "manifest.json", manifest)
    met = [r for r in recommendation_rows if r["meets targets"] == "yes"]
    answers = _answer_lines(best, grid)
    head = {
        "buckets": len(recommendation_rows),
        "buckets_met": len(met),
        "recommendation": [
            {k: r[k] for k in HEADLINE_KEYS} for r in recommendation_rows
        ],
        "answers": answers,
        "median_target": grid.median_target,
        "max_target": grid.max_target,
        **split,
    }
    pruned = config.get("pruned") or []
    not_run = config.get("not_run") or []
    missing = sum(not store.has(j.id) for j in jobs)
    lines = [
        "# LLC calibration report",
        "",
        *(
            [f"**Partial: {missing} of the {len(jobs)} planned jobs have no result yet; the answers "
             "below are as measured so far.**", ""]
            if missing else []
        ),
        *answers,
        "",
        "Regenerate with:",
        "",
        "```bash",
        command,
        "```",
        "",
        f"Generated {manifest['created']} from commit `{manifest['git']['commit']}`"
        + (" (with local changes)" if manifest["git"]["dirty"] else "")
        + f" on {config.get('device')}; {len(jobs)} jobs, executor `{config.get('executor')}`, "
        f"{manifest['wall_time_seconds']:.0f} s wall time for this run{_job_time_text(frame)}"
        + (f"; {sum(int(r['jobs']) for r in pruned)} jobs pruned" if pruned else "")
        + ".",
        *(
            [
                "",
                f"**Partial: {missing} of the {len(jobs)} planned jobs have no result yet** (the "
                "sweep is resumable: the command above finishes it; buckets and settings below "
                "are as measured so far).",
            ]
            if missing else []
        ),
        "",
        "## Recommendation per parameter-count bucket",
        "",
        f"Per bucket of parameter count d and per estimator (ours; devinterp's own where the "
        f"grid's `estimators` include it), among the settings whose **per-run sampler error** "
        f"meets the targets, the cheapest (chain-gradient rows = chains × steps × batch rows, what "
        f"a step costs on a model without sufficient statistics) of those within 1 point of the "
        f"smallest median total error against λ. The sampler error |λ̂ − λ_β| / λ_β must have median ≤ "
        f"{grid.median_target:.0%} over the bucket's cells (each cell: the mean over its runs) "
        f"and max ≤ {grid.max_target:.0%} over every run, with every cell measured. In a cell "
        "without a reference λ_β the total error |λ̂ − λ| / λ stands in. Beside it, what a user "
        "gets against the exact λ: the median over cells of the mean per-run |λ̂ − λ| / λ, the "
        "worst single run, and the estimator's own bias (λ_β − λ) / λ (median over the cells "
        "with a reference), which no sampler setting removes. Where no setting met the targets, "
        "the row says **NO** and shows the covering setting with the smallest max sampler error. "
        "gradients: chains × steps (× 2 with control variates); time/job: seconds here.",
        "",
        markdown_table(recommendation.drop(columns=["settings_json"])) if len(recommendation)
        else "_(no results)_\n",
        "",
    ]
    if cost_figure is not None:
        lines += [
            "## Cost against d",
            "",
            "The recommended setting of each bucket at every cell it ran on: seconds per job "
            "here and chain-gradient rows, log-log. A step of SGLD costs one minibatch gradient "
            "(two with control variates); a full-batch step (MALA) costs a pass over the data, "
            "which these cases shortcut with sufficient statistics, a user's network cannot.",
            "",
            f"![{cost_figure.stem}](plots/{cost_figure.name})",
            "",
        ]
    lines += _not_run_lines(not_run, cells)
    lines += _pruned_lines(pruned)
    lines += [
        "## Error split: sampler and estimator",
        "",
        *split_text(split, "setting × case × scale cells"),
        "",
        SPLIT_PARAGRAPH + " Per setting × case × scale in `cells.csv` and in the tables below.",
        "",
        "### In devinterp's terms",
        "",
        "devinterp 2.0.1 (`devinterp.slt.llc.llc` / `devinterp.slt.sampling.sample`) takes "
        "`lr` = ε, `n_beta` = nβ (required; ours defaults to n/log n, devinterp's helper "
        "`default_nbeta` gives b/log b), `localization` = γ, `num_chains`, `num_draws` = steps − "
        "burn-in, `num_burnin_steps` = burn-in, `batch_size`, and `sampling_method` "
        "`sgmcmc_sgld` (sgld) or `rmsprop_sgld` (psgld; `rmsprop_alpha`, `rmsprop_eps`). Its SGLD "
        "step is −(lr/2)(n_beta ∇L̄_B + localization (w − w₀)) + √lr N(0, 1): the same as ours, "
        "Δw = (ε/2)[−nβ ∇L_B − γ(w − w*)] + N(0, ε), so the numbers carry over unchanged. Not "
        "the same: devinterp 2.0.1's `llc_mean` averages the loss over burn-in too, and its "
        "baseline is a minibatch mean (see `validation/devinterp_adapter.py`). devinterp ≤ 1.x "
        "took the same values as `estimate_learning_coeff_with_summary(..., "
        "sampling_method_kwargs=dict(lr=, localization=, nbeta=), num_chains=, num_draws=, "
        "num_burnin_steps=)` with the DataLoader's batch size.",
        "",
        "## Error and cost of every setting",
        "",
        "Full table in `settings.csv`; per bucket, settings meeting the targets first, cheapest "
        "first. Sampler error: per run, |λ̂ − λ_β| / λ_β (median over cells of the per-cell mean; "
        "max over runs); cells w/o ref.: cells where |λ̂ − λ| / λ stood in. vs λ: the total "
        "error per run (median of the per-cell mean; worst single run); max, pooled: of the "
        "seeds' pooled estimate.",
        "",
    ]
    if not table.empty:
        shown = pd.DataFrame(
            {
                "bucket": table["bucket"],
                "setting": [_setting_label(r) for _, r in table.iterrows()],
                "covered": [
                    f"{c}/{n}" for c, n in zip(table["covered"], table["cells"], strict=True)
                ],
                "median sampler err.": [_pct(x) for x in table["median_sampler_error"]],
                "max sampler err.": [_pct(x) for x in table["max_sampler_error"]],
                "cells w/o ref.": [str(int(x)) for x in table["unreferenced_cells"]],
                "median vs λ": [_pct(x) for x in table["median_run_error"]],
                "worst run vs λ": [_pct(x) for x in table["worst_run_error"]],
                "max, pooled": [_pct(x) for x in table["max_relative_error"]],
                "meets": ["yes" if m else "no" for m in table["meets_targets"]],
                "chain-gradient rows": [_num(x, 3) for x in table["chain_gradient_rows"]],
                "time/job [s]": [_num(x, 3) for x in table["wall_time"]],
            }
        )
        lines.append(markdown_table(shown))
        lines += [
            "## Signed error per case × scale",
            "",
            "(λ̂ − λ) / λ of the mean over the seeds with no diverged chain, for every setting "
            "(rows: ours, then devinterp's, each in the order above) and case × scale (columns, by parameter count d). "
            "\"diverged\" or \"error\": no seed gave an estimate (see `results.csv`).",
            "",
            markdown_table(_signed_error_matrix(cells, table)),
            "",
            "## Sampler error per case × scale",
            "",
            "(λ̂ − λ_β) / λ_β of the mean over the seeds with no diverged chain and a reference, "
            "for the same settings and cells; blank: no reference for that cell.",
            "",
            markdown_table(_signed_error_matrix(cells, table, "sampler_error")),
            "",
            "## Estimator bias per case × scale, nβ and γ",
            "",
            "The reference λ_β depends on nβ, γ and the data only (not on the sampler), so the "
            "settings that share them share it.",
            "",
            markdown_table(_reference_table(cells)),
            "",
        ]
    if split_figure is not None:
        lines += ["## Error split against d", "", f"![{split_figure.stem}](plots/{split_figure.name})", ""]
    lines += ["## Heatmaps", ""]
    if not figures:
        lines.append("_(fewer than two varying hyperparameters in every bucket: no heatmaps)_")
    for figure in figures:
        lines.append(f"![{figure.stem}](plots/{figure.name})")
        lines.append("")
    lines += [
        "## Files",
        "",
        "- `recommendation.csv`: the recommendation (with the full settings as JSON).",
        "- `settings.csv`: error and cost per bucket × setting.",
        "- `cells.csv`: per case × scale × setting (mean over seeds, with λ_β, "
        "`sampler_error`, `estimator_bias` and the reference's diagnostics where a reference "
        "exists); `results.csv`: per job (reference jobs, sampler `gibbs`, included).",
        "- `results/`, `manifest.json` as in the validation report; `traces/<job id>.npz` (raw "
        "loss traces) are written too but are not needed to rebuild this report.",
        "",
    ]
    path = root / REPORT_NAME
    atomic_write_text(path, "\n".join(lines))
    return Written(path=path, headline=head)
