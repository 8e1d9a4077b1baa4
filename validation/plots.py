"""Report figures (matplotlib, Agg backend, PNG).

* `estimate_vs_exact`: mean lambda_hat (+- se over seeds) against exact lambda, log-log, one
  colour per case across its scales, with the y = x line and the +-15% band.
* `error_vs_parameters`: relative error against the parameter count d, with the 5% and 15%
  targets.
* `loss_traces`: nbeta (L_B(w_t) - L_n(w*)) per chain (moving mean) for a few jobs, burn-in
  shaded, with the exact lambda (the estimate is the post-burn-in mean of this curve).
* `error_split_vs_parameters`: the sampler error (lambda_hat - lambda_beta) / lambda_beta and
  the estimator bias (lambda_beta - lambda) / lambda, signed, in %, against d (log x-axis), one
  point each per cell with a reference (theory.md sec. 8).
* `heatmap_pair`: median relative error and mean wall time over two hyperparameters.
* `cost_vs_parameters`: per bucket's recommended setting, the cost of one job (seconds here, and
  chain-gradient rows) against d at each cell it ran on, log-log, so that a user can extrapolate.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

DPI = 110


def _save(fig: Any, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path


def _colors(names: Sequence[str]) -> dict[str, Any]:
    cmap = plt.get_cmap("tab10")
    return {name: cmap(i % 10) for i, name in enumerate(names)}


def estimate_vs_exact(cells: pd.DataFrame, path: Path, max_target: float = 0.15) -> Path:
    fig, ax = plt.subplots(figsize=(6.4, 5.2))
    good = cells[np.isfinite(cells["lambda_hat"].astype(float))]
    good = good[(good["lambda_hat"].astype(float) > 0) & (good["lambda_exact_float"] > 0)]
    colors = _colors(list(dict.fromkeys(cells["case"])))
    for case, group in good.groupby("case", sort=False):
        se = group["lambda_hat_se"].astype(float).fillna(0.0)
        ax.errorbar(
            group["lambda_exact_float"],
            group["lambda_hat"].astype(float),
            yerr=se,
            fmt="o-",
            ms=4,
            capsize=3,
            color=colors[case],
            label=case,
        )
    exact = cells["lambda_exact_float"].astype(float)
    exact = exact[np.isfinite(exact) & (exact > 0)]
    if len(exact):
        lo, hi = float(exact.min()) / 1.5, float(exact.max()) * 1.5
        line = np.geomspace(lo, hi, 50)
        ax.plot(line, line, "k--", lw=1, label="exact")
        ax.fill_between(
            line, line * (1 - max_target), line * (1 + max_target), color="0.85",
            label=f"±{max_target:.0%}",
        )
        ax.set_xscale("log")
        ax.set_yscale("log")
    ax.set_xlabel("exact λ")
    ax.set_ylabel("estimated λ̂ (mean ± se over seeds)")
    ax.set_title("LLC estimates against exact learning coefficients")
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    return _save(fig, path)


def error_vs_parameters(
    cells: pd.DataFrame, path: Path, median_target: float = 0.05, max_target: float = 0.15
) -> Path:
    fig, ax = plt.subplots(figsize=(6.4, 4.6))
    colors = _colors(list(dict.fromkeys(cells["case"])))
    good = cells[np.isfinite(cells["relative_error"].astype(float))]
    for case, group in good.groupby("case", sort=False):
        group = group.sort_values("dim")
        err = np.maximum(group["relative_error"].astype(float), 1e-4)
        ax.plot(group["dim"].astype(float), err, "o-", ms=4, color=colors[case], label=case)
    ax.axhline(
        median_target, color="tab:green", ls="--", lw=1, label=f"median target {median_target:.0%}"
    )
    ax.axhline(max_target, color="tab:red", ls="--", lw=1, label=f"max target {max_target:.0%}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("parameter count d")
    ax.set_ylabel("relative error |λ̂ − λ| / λ")
    ax.set_title("Relative error by model size")
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    return _save(fig, path)


def error_split_vs_parameters(cells: pd.DataFrame, path: Path) -> Path:
    """Signed sampler error and estimator bias (%) against d, one colour per case: circles the
    sampler error of the seeds' pooled estimate, open squares the estimator bias. Cells without
    a reference are left out (the title counts them).
    Calibration cells (one per setting) give one sampler-error point per setting; the bias,
    which depends only on n beta and gamma, is drawn once per distinct reference."""
    fig, ax = plt.subplots(figsize=(6.8, 4.6))
    frame = cells.copy()
    for column in ("sampler_error", "estimator_bias", "lambda_finite_nbeta", "dim"):
        frame[column] = pd.to_numeric(frame.get(column), errors="coerce").astype(float)
    has_ref = frame[np.isfinite(frame["lambda_finite_nbeta"]) & np.isfinite(frame["dim"])]
    colors = _colors(list(dict.fromkeys(cells["case"]))) if len(cells) else {}
    drawn = {"sampler": False, "bias": False}
    for case, group in has_ref.groupby("case", sort=False):
        sampler = group[np.isfinite(group["sampler_error"])]
        if len(sampler):
            ax.plot(sampler["dim"], 100 * sampler["sampler_error"], "o", ms=5, color=colors[case],
                    label=f"{case}: sampler error")
            drawn["sampler"] = True
        bias = group[np.isfinite(group["estimator_bias"])].drop_duplicates(
            ["scale", "lambda_finite_nbeta"]
        )
        if len(bias):
            ax.plot(bias["dim"], 100 * bias["estimator_bias"], "s", ms=6, mfc="none", mew=1.5,
                    color=colors[case], label=f"{case}: estimator bias")
            drawn["bias"] = True
    ax.axhline(0.0, color="k", lw=0.8)
    if not len(has_ref):
        ax.text(0.5, 0.5, "no cell has a reference", ha="center", va="center", transform=ax.transAxes)
    else:
        ax.set_xscale("log")
    ax.set_xlabel("parameter count d")
    ax.set_ylabel("signed error [%]")
    ax.set_title(
        "Error split: sampler (λ̂ − λ_β)/λ_β (○), estimator (λ_β − λ)/λ (□)\n"
        f"{len(has_ref)} of {len(cells)} cells have a reference λ_β",
        fontsize=9,
    )
    if any(drawn.values()):
        ax.legend(fontsize=7, ncol=2)
    ax.grid(True, which="both", alpha=0.3)
    return _save(fig, path)


def loss_traces(examples: Sequence[dict[str, Any]], path: Path) -> Path:
    """``examples``: dicts with title, trace (chain, points), init_loss, nbeta, burnin, exact, and
    optionally stride (steps per stored point, 1 by default)."""
    count = max(1, len(examples))
    cols = min(3, count)
    rows = math.ceil(count / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.6 * cols, 3.2 * rows), squeeze=False)
    for ax in axes.flat[count:]:
        ax.axis("off")
    if not examples:
        axes[0, 0].text(0.5, 0.5, "no traces stored", ha="center", va="center")
    for ax, ex in zip(axes.flat, examples, strict=False):
        trace = np.asarray(ex["trace"], dtype=float)
        scaled = ex["nbeta"] * (trace - ex["init_loss"])
        stride = int(ex.get("stride", 1))
        steps = np.arange(trace.shape[1]) * stride
        window = max(1, trace.shape[1] // 50)
        smooth = np.stack([moving_average(row, window) for row in scaled])
        for c in range(trace.shape[0]):
            ax.plot(steps, smooth[c], lw=1.0, color=f"C{c % 10}")
        ax.axvspan(0, ex["burnin"], color="0.9", label="burn-in")
        ax.axhline(ex["exact"], color="k", ls="--", lw=1, label=f"exact λ = {ex['exact']:.4g}")
        finite = smooth[np.isfinite(smooth)]
        if finite.size:
            lo, hi = np.percentile(finite, [1, 99])
            pad = 0.2 * (hi - lo + 1e-12)
            ax.set_ylim(min(lo, ex["exact"]) - pad, max(hi, ex["exact"]) + pad)
        ax.set_title(ex["title"], fontsize=9)
        ax.set_xlabel(f"step (lines: moving mean over {window * stride} steps)")
        ax.set_ylabel("nβ (L_B(w_t) − L_n(w*))")
        ax.legend(fontsize=7, loc="upper right")
    return _save(fig, path)


def moving_average(values: np.ndarray, window: int) -> np.ndarray:
    """Trailing mean over ``window`` steps (shorter at the start); NaN stays NaN."""
    cumulative = np.cumsum(np.nan_to_num(values, nan=0.0))
    out = cumulative.copy()
    out[window:] = cumulative[window:] - cumulative[:-window]
    counts = np.minimum(np.arange(1, len(values) + 1), window)
    smooth = out / counts
    smooth[~np.isfinite(values)] = np.nan
    return smooth


def heatmap_pair(
    table: pd.DataFrame, x: str, y: str, path: Path, title: str, error_max: float = 0.5
) -> Path:
    """Two panels over (x, y): median relative error and mean wall time per job.

    ``table`` has columns x, y, relative_error, wall_time (one row per cell x setting).
    """
    fig, axes = plt.subplots(1, 2, figsize=(10.5, 4.0))
    err = table.pivot_table(index=y, columns=x, values="relative_error", aggfunc="median")
    cost = table.pivot_table(index=y, columns=x, values="wall_time", aggfunc="mean")
    for ax, pivot, label, cmap, vmax in (
        (axes[0], err, "median relative error", "viridis_r", error_max),
        (axes[1], cost, "mean wall time per job [s]", "magma_r", None),
    ):
        values = pivot.to_numpy(dtype=float)
        image = ax.imshow(values, aspect="auto", cmap=cmap, vmin=0, vmax=vmax, origin="lower")
        ax.set_xticks(range(len(pivot.columns)), [_tick(v) for v in pivot.columns], rotation=30)
        ax.set_yticks(range(len(pivot.index)), [_tick(v) for v in pivot.index])
        ax.set_xlabel(x)
        ax.set_ylabel(y)
        for (i, j), v in np.ndenumerate(values):
            if np.isfinite(v):
                text = f"{v:.0%}" if pivot is err else f"{v:.3g}"
                shade = float(image.norm(v))  # light end of the *_r colormaps: dark text
                ax.text(j, i, text, ha="center", va="center", fontsize=7,
                        color="k" if shade < 0.5 else "w")
        fig.colorbar(image, ax=ax, label=label)
    fig.suptitle(title, fontsize=10)
    return _save(fig, path)


def _tick(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def cost_vs_parameters(points: pd.DataFrame, path: Path) -> Path:
    """``points``: one row per (label, cell) with ``label`` (the bucket and setting), ``dim``,
    ``wall_time`` (s per job) and ``chain_gradient_rows``; two log-log panels against d."""
    fig, axes = plt.subplots(1, 2, figsize=(11.0, 4.6))
    labels = list(dict.fromkeys(points["label"]))
    colors = _colors(labels)
    for label in labels:
        group = points[points["label"] == label].sort_values("dim")
        for ax, column in zip(axes, ("wall_time", "chain_gradient_rows"), strict=True):
            values = group[column].astype(float)
            ok = np.isfinite(values) & (values > 0)
            ax.plot(group["dim"][ok], values[ok], "o-", ms=4, color=colors[label], label=label)
    axes[0].set_ylabel("seconds per job here (2 CPU cores shared)")
    axes[1].set_ylabel("chain-gradient rows per job (chains × steps × batch rows)")
    for ax in axes:
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("parameters d")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].legend(fontsize=6, loc="upper left")
    fig.suptitle("Cost of the recommended setting of each bucket, at every cell it ran on")
    return _save(fig, path)
