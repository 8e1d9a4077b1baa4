r"""How large must nβ be? The estimator's own target λ_β against nβ for deep linear networks.

For the dln case at d ≈ 10², 10³, 10⁴, 10⁵ this study computes, with the exact blocked Gibbs
sampler (`rlct.numeric.gibbs`), the finite-nβ target of the LLC estimator

.. math::
    λ_β = nβ\,(E_β[L(w)] - L(w^*)),\qquad p_β(w) ∝ \exp(-nβ L(w) - \tfrac{γ}{2}\|w - w^*\|^2),

at nβ ∈ {10², 10³, 10⁴, 10⁵} and γ = 1, on the **population** loss (n = ∞): for the case's data
model x ~ N(0, I), y = P* x + σ ε, the sufficient statistics are S_xx = I, S_yx = P*,
s_yy = ‖P*‖_F² + σ² H_L, so L(w) − L(w*) = ‖P(w) − P*‖_F² / (2σ²) = K(w) exactly and no data
fluctuation enters (the issue allowed this in place of n ≥ 100 nβ). The relative gap
(λ_β − λ)/λ is then the estimator's own finite-nβ bias at that scale (theory.md sec. 8; for a
multiplicity m > 1 it closes only like (m − 1)/log nβ, Watanabe 2013 / Lau et al. 2023).

Every (scale, nβ) point is one resumable unit: its result is written atomically as JSON under
``OUT/results`` and skipped when present; the report (``README.md``, ``nbeta.csv``,
``plots/nbeta_bias.png``) is rebuilt from whatever is stored. Half the chains start at w*, half
at w* + N(0, 1/γ) per coordinate (the localization prior's scale), so the split R-hat compares
chains from different starts.

Run: ``python -m rlct.validation.nbeta_study --out reports/nbeta-dln`` (about 15 minutes on one
CPU core with the default sweeps).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import math
import platform
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from rlct.cases.base import get_case
from rlct.cases.dln import layer_shapes
from rlct.numeric.gibbs import MultilinearGaussian, gibbs_llc
from rlct.numeric.seeding import torch_generator
from rlct.validation.store import atomic_write_json, atomic_write_text, load_records

DEFAULT_SCALES = ("1e2", "1e3", "1e4", "1e5")
DEFAULT_NBETAS = (1e2, 1e3, 1e4, 1e5)
DEFAULT_OUT = "reports/nbeta-dln"
POPULATION_N = 10**15  # recorded as the model's n; the statistics are the population's (n = inf)
INIT_STREAM = 7933  # SeedSequence key of the dispersed starting points
DATA_SEED = 0


@dataclass(frozen=True)
class StudyPoint:
    scale: str
    nbeta: float
    localization: float
    chains: int
    sweeps: int
    burnin: int
    seed: int

    @property
    def key(self) -> str:
        return f"dln-{self.scale}-nbeta{self.nbeta:g}-gamma{self.localization:g}-seed{self.seed}"


def sweeps_for(dim: int) -> tuple[int, int]:
    """Sweeps and burn-in by size: 2000 (500) up to d = 10^4, 800 (200) above."""
    return (2000, 500) if dim <= 10**4 else (800, 200)


def population_model(scale: str, seed: int = DATA_SEED) -> tuple[MultilinearGaussian, Any]:
    """The dln case at ``scale``: its w* (drawn from ``seed`` exactly as `DLNCase.build` draws it)
    and the population sufficient statistics S_xx = I, S_yx = P*, s_yy = ‖P*‖² + σ² H_L."""
    case = get_case("dln")(**get_case("dln").scales[scale])
    widths = case.parameters["widths"]
    noise_std = case.parameters["noise_std"]
    from rlct.cases.dln import DATA_STREAM, forward

    w_star = case.true_point(torch_generator(seed, DATA_STREAM), torch.float64)
    product = forward(w_star.unsqueeze(0), torch.eye(widths[0], dtype=torch.float64).unsqueeze(0), widths)[0]
    syx = product.T.contiguous()  # (H_L, H_0): E[y x^T] with E[x x^T] = I
    model = MultilinearGaussian(
        layer_shapes=tuple(layer_shapes(widths)), sxx=torch.eye(widths[0], dtype=torch.float64), syx=syx,
        syy=product.square().sum() + noise_std**2 * widths[-1], noise_std=noise_std, w_star=w_star,
        n=POPULATION_N,
    )
    return model, case


def run_point(point: StudyPoint) -> dict[str, Any]:
    """λ_β at one (scale, nβ) on the population loss; half the chains from w*, half dispersed."""
    model, case = population_model(point.scale)
    generator = torch_generator(point.seed, INIT_STREAM)
    dispersed = point.chains // 2
    noise = torch.randn((dispersed, model.dim), generator=generator, dtype=torch.float64)
    init = torch.cat([model.w_star.unsqueeze(0).repeat(point.chains - dispersed, 1),
                      model.w_star + noise / math.sqrt(point.localization)])
    result = gibbs_llc(model, nbeta=point.nbeta, localization=point.localization, chains=point.chains,
                       sweeps=point.sweeps, burnin=point.burnin, seed=point.seed, init=init, device="cpu")
    exact = case.exact()
    return {
        "key": point.key, "case": "dln", "scale": point.scale, "dim": model.dim,
        "widths": list(case.parameters["widths"]), "rank": case.parameters["rank"],
        "nbeta": point.nbeta, "localization": point.localization, "chains": point.chains,
        "sweeps": point.sweeps, "burnin": point.burnin, "seed": point.seed,
        "lambda_exact": str(exact.value), "lambda_exact_float": float(exact.value),
        "multiplicity": exact.multiplicity,
        "lambda_beta": result.llc_mean, "lambda_beta_se": result.llc_stderr,
        "lambda_beta_per_chain": [float(v) for v in result.llc_per_chain],
        "rhat": result.rhat, "ess": result.ess, "diverged": int(result.diverged.sum()),
        "wall_time": result.wall_time,
        "estimator_bias": (result.llc_mean - float(exact.value)) / float(exact.value),
    }


def plan(scales: Sequence[str], nbetas: Sequence[float], localization: float, chains: int,
         seed: int) -> list[StudyPoint]:
    known = get_case("dln").scales
    points = []
    for scale in scales:
        if scale not in known:
            raise ValueError(f"scales: unknown dln scale {scale!r} (known: {', '.join(known)})")
        dim = get_case("dln")(**known[scale]).dim
        sweeps, burnin = sweeps_for(dim)
        for nbeta in nbetas:
            if not (math.isfinite(nbeta) and nbeta > 0):
                raise ValueError(f"nbetas: expected positive numbers, got {nbeta!r}")
            points.append(StudyPoint(scale, float(nbeta), localization, chains, sweeps, burnin, seed))
    return points


def load(out: Path) -> list[dict[str, Any]]:
    return load_records(out / "results")


def _fmt(value: float, digits: int = 4) -> str:
    return f"{value:.{digits}g}"


def write_report(out: Path, records: list[dict[str, Any]], command: str) -> None:
    import pandas as pd

    from rlct.validation import plots

    if not records:
        raise ValueError(f"out: no results under {out / 'results'}")
    frame = pd.DataFrame(records).drop(columns=["lambda_beta_per_chain"])
    frame = frame.sort_values(["dim", "nbeta"]).reset_index(drop=True)
    atomic_write_text(out / "nbeta.csv", frame.to_csv(index=False))
    _plot(frame, out / "plots" / "nbeta_bias.png", plots)

    commit = _commit()
    lines = [
        "# How large must nβ be? The estimator's own target λ_β against nβ (dln)", "",
        "Regenerate with:", "", "```bash", command, "```", "",
        f"Generated {_dt.datetime.now(_dt.timezone.utc).isoformat(timespec='seconds')} from commit "
        f"`{commit}` on cpu ({platform.platform()}); {len(frame)} points, their wall times sum to "
        f"{frame['wall_time'].sum():.0f} s.", "",
        "λ_β = nβ (E_β[L] − L(w*)) under the exact localized tempered posterior p_β ∝ exp(−nβ L − "
        "(γ/2)‖w − w*‖²), γ = 1, sampled with the exact blocked Gibbs sampler (`rlct.numeric.gibbs`) "
        "on the **population** loss of the dln case (S_xx = I, S_yx = P*, s_yy = ‖P*‖² + σ² H_L; "
        "n = ∞, so no data fluctuation: L − L(w*) = K). Its relative gap (λ_β − λ)/λ is the "
        "**estimator bias** of the single-temperature LLC at that nβ: what a perfect sampler would "
        "still read wrong. Half the chains start at w*, half at w* + N(0, 1/γ); R-hat is the split "
        "R-hat over all of them, ESS that of the post-burn-in draws of L.", "",
        "## Estimator bias (λ_β − λ)/λ by scale and nβ", "",
    ]
    nbetas = sorted(frame["nbeta"].unique())
    header = "| scale | d | λ (m) | " + " | ".join(f"nβ = {nb:.0e}" for nb in nbetas) + " |"
    lines += [header, "|" + "---|" * (3 + len(nbetas))]
    for (scale, dim), group in frame.groupby(["scale", "dim"], sort=False):
        row = group.iloc[0]
        cells = []
        for nb in nbetas:
            hit = group[group["nbeta"] == nb]
            cells.append("" if hit.empty else f"{100 * hit.iloc[0]['estimator_bias']:+.1f}%")
        label = f"| {scale} | {dim} | {row['lambda_exact']} (m={row['multiplicity']}) | "
        lines.append(label + " | ".join(cells) + " |")
    lines += ["", "## Every point", "",
              "| scale | d | nβ | λ | λ_β ± se | bias | R-hat | ESS | sweeps (burn-in) | time [s] |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    for _, row in frame.iterrows():
        lines.append(
            f"| {row['scale']} | {row['dim']} | {row['nbeta']:.0e} | {row['lambda_exact']} | "
            f"{_fmt(row['lambda_beta'])} ± {_fmt(row['lambda_beta_se'], 2)} | {100 * row['estimator_bias']:+.2f}% | "
            f"{row['rhat']:.3f} | {row['ess']:.0f} | {row['sweeps']} ({row['burnin']}) | {row['wall_time']:.0f} |")
    unmixed = frame[(frame["rhat"] > 1.01) | (frame["ess"] < 400)]
    lines += ["", "Mixing: " + (
        "every point has split R-hat ≤ 1.01 and ESS ≥ 400." if unmixed.empty else
        "points with split R-hat > 1.01 or ESS < 400 (their λ_β is less certain than its se says): "
        + ", ".join(f"{r['scale']}/nβ={r['nbeta']:.0e} (R-hat {r['rhat']:.3f}, ESS {r['ess']:.0f})"
                    for _, r in unmixed.iterrows()) + "."),
        "", "![estimator bias against nβ](plots/nbeta_bias.png)", ""]
    notes = out / "NOTES.md"
    if notes.exists():
        lines += [notes.read_text().strip(), ""]
    atomic_write_text(out / "README.md", "\n".join(lines))


def _plot(frame: Any, path: Path, plots: Any) -> None:
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.4))
    colors = plots._colors(list(dict.fromkeys(frame["scale"])))
    for scale, group in frame.groupby("scale", sort=False):
        label = f"d={group['dim'].iloc[0]} (λ={group['lambda_exact'].iloc[0]}, m={group['multiplicity'].iloc[0]})"
        left.errorbar(group["nbeta"], 100 * group["estimator_bias"],
                      yerr=100 * group["lambda_beta_se"] / group["lambda_exact_float"], fmt="o-",
                      color=colors[scale], label=label, capsize=3)
        right.plot(group["nbeta"], group["lambda_beta"] / group["lambda_exact_float"], "o-", color=colors[scale],
                   label=label)
    for ax in (left, right):
        ax.set_xscale("log")
        ax.set_xlabel("nβ")
        ax.grid(alpha=0.3)
    left.axhline(0, color="k", lw=0.8)
    for level in (-5, 5):
        left.axhline(level, color="grey", ls=":", lw=0.8)
    left.set_ylabel("estimator bias (λ_β − λ)/λ [%]")
    right.axhline(1, color="k", lw=0.8)
    right.set_ylabel("λ_β / λ")
    left.legend(fontsize=8)
    left.set_title("exact Gibbs, population loss, γ = 1")
    plots._save(fig, path)


def _commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _floats(name: str, text: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError as error:
        raise ValueError(f"{name}: expected comma-separated numbers, got {text!r}") from error
    if not values:
        raise ValueError(f"{name}: empty")
    return values


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rlct.validation.nbeta_study", description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=DEFAULT_OUT)
    parser.add_argument("--scales", default=",".join(DEFAULT_SCALES))
    parser.add_argument("--nbetas", default=",".join(f"{v:g}" for v in DEFAULT_NBETAS))
    parser.add_argument("--localization", type=float, default=1.0)
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--report-only", action="store_true", help="rebuild the report from stored results")
    args = parser.parse_args(argv)
    try:
        if args.chains < 2:
            raise ValueError(f"chains: need at least 2 (one from w*, one dispersed), got {args.chains}")
        if not (math.isfinite(args.localization) and args.localization > 0):
            raise ValueError(f"localization: expected a positive number, got {args.localization}")
        points = plan([s for s in args.scales.split(",") if s], _floats("nbetas", args.nbetas),
                      args.localization, args.chains, args.seed)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    out = Path(args.out)
    (out / "results").mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)
    if not args.report_only:
        for point in points:
            path = out / "results" / f"{point.key}.json"
            if path.exists():
                continue
            start = time.perf_counter()
            record = run_point(point)
            atomic_write_json(path, record)
            print(f"{point.key}: lambda_beta {record['lambda_beta']:.5g} +- {record['lambda_beta_se']:.2g} "
                  f"(lambda {record['lambda_exact']}), R-hat {record['rhat']:.3f}, "
                  f"{time.perf_counter() - start:.0f} s", flush=True)
    command = "python -m rlct.validation.nbeta_study " + " ".join(
        [f"--out {args.out}"] + ([f"--scales {args.scales}"] if args.scales != ",".join(DEFAULT_SCALES) else [])
        + ([f"--nbetas {args.nbetas}"] if args.nbetas != ",".join(f"{v:g}" for v in DEFAULT_NBETAS) else []))
    try:
        write_report(out, load(out), command)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"report -> {out / 'README.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
