r"""The polynomial networks of Sergeant-Perthuis, Tsigaridas & Tsukahara (2026): what an LLC
estimate reads on them, and whose error it is.

    python -m rlct.validation.pnn_study --out reports/pnn [--scales L1r2,L2r2] [--seeds 2]

Per pnn scale (`rlct.cases.pnn`; depth L, activation v^r, 2 parameters, n = 10^5, seed-s data):

1. the exact lambda and m (`rlct.exact.bivariate`, adapted coordinates) and its time;
2. lambda_beta = n beta E_beta[K] of the localized tempered posterior (gamma = 1) by nested
   quadrature of the population K (`PNNCase.finite_nbeta_reference`) at n beta = 1000 and at
   devinterp's default n beta = b / log b for b = 256 (46.17): the estimator's own target at each;
3. rlct's recommended estimate (`PNNCase.recommended`: full-batch MALA, n beta = 1000) per seed;
4. an oracle of lambda that does not use the engine: lambda_beta at n beta = 10^4..10^16
   extrapolated to infinity (`rlct.numeric.oracles.tempered_limit`);
5. SGLD at the settings the paper reports for its devinterp runs (theory.md sec. 9: gamma = 1,
   eps = 1e-5, 5 chains x 10^4 steps; batch 256, no burn-in as devinterp's default) at n beta =
   46.17 and 1000 (the paper does not state its n beta here; devinterp's default is b / log b).

Each estimate's error splits into the sampler's (lambda_hat - lambda_beta) / lambda_beta and the
estimator's own (lambda_beta - lambda) / lambda (theory.md sec. 8). Results are stored per record
(atomic JSON, resumable); the report (README.md + results.csv) covers every stored record.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from rlct.validation.store import atomic_write_text, load_records, run_missing

DEVINTERP_DEFAULT_NBETA = 256 / math.log(256)  # devinterp's default_nbeta for batch size 256
NBETAS = (DEVINTERP_DEFAULT_NBETA, 1000.0)
LOCALIZATION = 1.0
# Published devinterp SGLD estimates (Sergeant-Perthuis et al. 2026, Table 1, r = 2; theory.md sec. 9):
# gamma = 1, eps = 1e-5, 5 chains x 10^4 steps.
PAPER_SGLD = {(1, 2): 0.677, (2, 2): 0.154, (3, 2): 0.038, (4, 2): 0.014, (5, 2): 0.006}
PAPER_SETTINGS = "devinterp SGLD, gamma = 1, eps = 1e-5, 5 chains x 10^4 steps"
NOT_RUN = ("Not pnn scales: L = 5, r = 2 needs an expansion of 244,838 terms, beyond the bivariate "
           "engine's bound (`MAX_TERMS` = 200,000); with the bound raised to 2,000,000 it gave 3/124 "
           "(m = 1) in 480 s here (= 3 / (4 (1 + 2 + 4 + 8 + 16))); L = 4, r = 3 did not finish within "
           "400 s; L = 4, r = 4 (output degree 64 in x) is above the case's cap "
           "`pnn.MAX_OUTPUT_DEGREE` = 27.")


def _paper_sgld_settings(nbeta: float) -> Any:
    from rlct.numeric.settings import SamplerSettings

    return SamplerSettings(sampler="sgld", step_size=1e-5, nbeta=nbeta, localization=LOCALIZATION,
                           chains=5, steps=10_000, burnin=0, batch_size=256)


def _estimate(case: Any, settings: Any, seed: int) -> dict[str, Any]:
    from rlct.numeric.llc import estimate_llc

    problem = case.build(seed=seed)
    result = estimate_llc(problem.target, settings, seed=seed, device="cpu")
    summary = result.summary()
    return {key: summary[key] for key in ("llc_mean", "llc_stderr", "rhat", "ess", "acceptance_rate",
                                          "diverged", "diverged_chains", "nbeta", "sampler", "step_size", "steps",
                                          "chains", "batch_size", "wall_time")}


def study_exact(scale: str) -> dict[str, Any]:
    from rlct.cases.pnn import PNNCase

    case = PNNCase.at_scale(scale)
    start = time.perf_counter()
    exact = case.exact()
    exact_seconds = time.perf_counter() - start
    references = {}
    for nbeta in NBETAS:
        start = time.perf_counter()
        value = case.finite_nbeta_reference(_paper_sgld_settings(nbeta))
        references[f"{nbeta:.6g}"] = {"lambda_beta": value, "seconds": time.perf_counter() - start}
    return {"kind": "exact", "scale": scale, **case.parameters, "lambda": str(exact.value),
            "lambda_float": float(exact.value), "multiplicity": exact.multiplicity,
            "certificate": exact.certificate, "exact_seconds": exact_seconds, "references": references}


def study_limit(scale: str) -> dict[str, Any]:
    """lambda (and m) from K alone: the population lambda_beta at n beta = 10^4, 10^6, ..., 10^16
    extrapolated to n beta -> infinity (`rlct.numeric.oracles.tempered_limit`), a check of the
    engine's value that does not use it."""
    from rlct.cases.pnn import PNNCase
    from rlct.numeric.oracles.tempered_limit import DEFAULT_NBETAS, fit_tempered_limit

    case = PNNCase.at_scale(scale)
    start = time.perf_counter()
    values = [case.finite_nbeta_reference(_paper_sgld_settings(nbeta)) for nbeta in DEFAULT_NBETAS]
    oracle = fit_tempered_limit(DEFAULT_NBETAS, values)
    return {"kind": "limit", "scale": scale, **case.parameters, "oracle": oracle.to_json(),
            "seconds": time.perf_counter() - start}


def study_data(scale: str, seed: int) -> dict[str, Any]:
    """lambda_beta of the seed's own data at each n beta (`PNNCase.data_reference`)."""
    from rlct.cases.pnn import PNNCase

    case = PNNCase.at_scale(scale)
    references = {f"{nbeta:.6g}": case.data_reference(_paper_sgld_settings(nbeta), seed) for nbeta in NBETAS}
    return {"kind": "data", "scale": scale, "seed": seed, **case.parameters, "data_references": references}


def study_paper_sgld(scale: str, seed: int) -> dict[str, Any]:
    from rlct.cases.pnn import PNNCase

    case = PNNCase.at_scale(scale)
    runs = {f"paper_sgld_nbeta{nbeta:.6g}": _estimate(case, _paper_sgld_settings(nbeta), seed) for nbeta in NBETAS}
    return {"kind": "estimates", "scale": scale, "seed": seed, **case.parameters, "runs": runs}


def recommended_key(scale: str) -> str:
    """A short key of the scale's current recommended settings: a change of `PNNCase.recommended`
    re-runs those estimates (and only those)."""
    import hashlib

    from rlct.cases.pnn import PNNCase

    text = json.dumps(PNNCase.at_scale(scale).recommended().to_dict(), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def study_recommended(scale: str, seed: int) -> dict[str, Any]:
    from rlct.cases.pnn import PNNCase

    case = PNNCase.at_scale(scale)
    return {"kind": "estimates", "scale": scale, "seed": seed, **case.parameters,
            "settings_key": recommended_key(scale),
            "runs": {"rlct_recommended": _estimate(case, case.recommended(), seed)}}


def _pct(value: float | None) -> str:
    return "n/a" if value is None or not math.isfinite(value) else f"{100 * value:+.1f}%"


def _limit_cells(oracle: dict[str, Any] | None, lam: float) -> str:
    if oracle is None:
        return "not run | "
    difference = (oracle["estimate"] - lam) / lam
    return (f"{oracle['estimate']:.5f} +- {oracle['stderr']:.5f} ({oracle['multiplicity_estimate']}) | "
            f"{100 * difference:+.2f}%")


def _diverged(run: dict[str, Any]) -> str:
    """Chains excluded as diverged from one run (records written before the count was stored
    keep only whether any did: ">=1")."""
    if "diverged_chains" in run:
        return str(run["diverged_chains"])
    return ">=1" if run["diverged"] else "0"


def _rows(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (scale, estimator): exact, reference, mean estimate over seeds, error split."""
    exact = {r["scale"]: r for r in records if r["kind"] == "exact"}
    rows = []
    for scale, e in exact.items():
        key = recommended_key(scale)
        estimates = [r for r in records if r["kind"] == "estimates" and r["scale"] == scale
                     and r.get("settings_key", key) == key]
        data = {r["seed"]: r["data_references"] for r in records if r["kind"] == "data" and r["scale"] == scale}
        lam = e["lambda_float"]
        for name in ("rlct_recommended", *(f"paper_sgld_nbeta{nb:.6g}" for nb in NBETAS)):
            pairs = [(r["runs"][name], data[r["seed"]]) for r in estimates
                     if name in r["runs"] and r["seed"] in data]
            if not pairs:
                continue
            runs = [run for run, _ in pairs]
            nbeta = runs[0]["nbeta"]
            ref = e["references"].get(f"{nbeta:.6g}", {}).get("lambda_beta")
            values = [run["llc_mean"] for run in runs]
            mean = sum(values) / len(values)
            data_refs = [refs[f"{nbeta:.6g}"] for _, refs in pairs]
            sampler = [(v - d) / d for v, d in zip(values, data_refs)]
            data_term = None if ref is None else sum((d - ref) / lam for d in data_refs) / len(data_refs)
            rows.append({
                "scale": scale, "depth": e["depth"], "power": e["power"], "lambda": e["lambda"],
                "lambda_float": lam, "multiplicity": e["multiplicity"], "estimator": name,
                "sampler": runs[0]["sampler"], "step_size": runs[0]["step_size"], "nbeta": nbeta,
                "seeds": len(runs), "estimate": mean,
                "per_seed": ";".join(f"{v:.4g}" for v in values),
                "max_rhat": max((run["rhat"] or float("nan")) for run in runs),
                "diverged_chains": ";".join(_diverged(run) for run in runs),
                "lambda_beta": ref,
                "lambda_beta_data": sum(data_refs) / len(data_refs),
                "sampler_error": sum(sampler) / len(sampler),
                "max_sampler_error": max(sampler, key=abs),
                "data_fluctuation": data_term,
                "estimator_bias": None if ref is None else (ref - lam) / lam,
                "total_error": (mean - lam) / lam,
                "paper_sgld": PAPER_SGLD.get((e["depth"], e["power"])),
                "seconds_per_job": sum(run["wall_time"] for run in runs) / len(runs),
            })
    rows.sort(key=lambda r: (r["depth"], r["power"], r["estimator"] != "rlct_recommended", r["nbeta"]))
    return rows


def write_report(out: Path, records: Sequence[dict[str, Any]], command: str) -> None:
    import pandas as pd

    rows = _rows(records)
    frame = pd.DataFrame(rows)
    atomic_write_text(out / "results.csv", frame.to_csv(index=False))
    exact = sorted((r for r in records if r["kind"] == "exact"), key=lambda r: (r["depth"], r["power"]))
    lines = [
        "# Polynomial networks in two parameters: exact lambda, lambda_beta, and what the estimators read",
        "",
        "Sergeant-Perthuis, Tsigaridas & Tsukahara (2026), \"Exact Algebraic Computation of Learning "
        "Coefficients for Two-Dimensional Singular Models\": W = [[t1+t2, t1^2], [t1^2, t2^2]] repeated "
        "L times, activation v^r, t* = 0 (`rlct.cases.pnn`). The exact lambda comes from "
        "`rlct.exact.bivariate` (adapted coordinates); lambda_beta = n beta E_beta[K] at gamma = 1 by "
        "nested quadrature of the population K; estimates on n = 10^5 rows. Errors: sampler "
        "(lambda_hat - lambda_beta) / lambda_beta | estimator bias (lambda_beta - lambda) / lambda | "
        "total (lambda_hat - lambda) / lambda.",
        "",
        "## Exact values",
        "",
        "| L | r | lambda | m | 3 / (4 (1 + r + ... + r^(L-1))) | published SGLD (r = 2) | its error vs lambda "
        "| engine time [s] | lambda_beta, n beta = 46.17 | lambda_beta, n beta = 1000 "
        "| oracle: lambda_beta extrapolated from n beta = 10^4..10^16 (m) | oracle vs lambda |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    # refitted from the stored lambda_beta values, so the table follows the current fit
    from rlct.numeric.oracles.tempered_limit import fit_tempered_limit

    limits = {r["scale"]: fit_tempered_limit(r["oracle"]["details"]["nbetas"],
                                             r["oracle"]["details"]["values"]).to_json()
              for r in records if r["kind"] == "limit"}
    for e in exact:
        depth, power = e["depth"], e["power"]
        pattern = 3 / (4 * sum(power**j for j in range(depth)))
        paper = PAPER_SGLD.get((depth, power))
        refs = [e["references"].get(f"{nb:.6g}", {}).get("lambda_beta") for nb in NBETAS]
        lines.append(
            f"| {depth} | {power} | {e['lambda']} ({e['lambda_float']:.4f}) | {e['multiplicity']} | "
            f"{pattern:.4f} | {'' if paper is None else paper} | "
            f"{'' if paper is None else _pct((paper - e['lambda_float']) / e['lambda_float'])} | "
            f"{e['exact_seconds']:.1f} | "
            + " | ".join("n/a" if v is None else f"{v:.4f}" for v in refs) + " | "
            + _limit_cells(limits.get(e["scale"]), e["lambda_float"]) + " |"
        )
    from rlct.cases.pnn import PNNCase

    scales = {(p["depth"], p["power"]): name for name, p in PNNCase.scales.items()}
    done = {(e["depth"], e["power"]) for e in exact}
    pending = [scales[key] for key in scales if key not in done]
    if pending:
        lines += ["", f"Scales not yet run (the study resumes where it stopped): {', '.join(pending)}."]
    lines += ["", "The oracle column uses K alone, not the engine: lambda_beta (nested quadrature of the "
              "population K) at n beta = 10^4, 10^6, ..., 10^16, fitted by lambda_t + P'(x)/P(x) = lambda + "
              "c exp(-delta x), x = log n beta, P of degree m - 1, m chosen by the stability of the "
              "extrapolation; +- is the change of lambda when the fit drops its first, last or last two "
              "points (`rlct.numeric.oracles.tempered_limit`)."]
    lines += ["", NOT_RUN]
    lines += [
        "",
        "## Estimates and their error split",
        "",
        f"rlct_recommended: `PNNCase.recommended()` (full-batch MALA). paper_sgld_*: SGLD at the "
        f"settings the paper reports for devinterp ({PAPER_SETTINGS}), batch 256, no burn-in, at "
        "devinterp's default n beta = b / log b = 46.17 and at n beta = 1000 (the paper does not "
        "state its n beta here).",
        "",
        "| L | r | lambda | estimator | n beta | seeds | lambda_hat (per seed) | lambda_beta,data (mean) | "
        "lambda_beta | sampler error (mean; worst seed) | data fluctuation | estimator bias | total error "
        "| max R-hat | chains diverged (per seed; excluded from lambda_hat) | s/job |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['depth']} | {r['power']} | {r['lambda_float']:.4f} | {r['estimator']} | {r['nbeta']:.4g} | "
            f"{r['seeds']} | {r['estimate']:.4f} ({r['per_seed']}) | {r['lambda_beta_data']:.4f} | "
            f"{'n/a' if r['lambda_beta'] is None else format(r['lambda_beta'], '.4f')} | "
            f"{_pct(r['sampler_error'])}; {_pct(r['max_sampler_error'])} | {_pct(r['data_fluctuation'])} | "
            f"{_pct(r['estimator_bias'])} | {_pct(r['total_error'])} | "
            f"{r['max_rhat']:.3f} | {r['diverged_chains']} | {r['seconds_per_job']:.0f} |"
        )
    missed = [r for r in rows if r["estimator"] == "rlct_recommended" and abs(r["max_sampler_error"]) > 0.05]
    if missed:
        lines += ["", "**The recommended sampler misses its target** (sampler error beyond 5% in a seed, against "
                  "the exact tempered mean of the same data) at: "
                  + "; ".join(f"L{r['depth']}r{r['power']} (mean {_pct(r['sampler_error'])}, worst seed "
                              f"{_pct(r['max_sampler_error'])}, max R-hat {r['max_rhat']:.3f})" for r in missed)
                  + ". R-hat near 1 does not detect it: every chain starts at t* = 0 and they agree with "
                  "each other, not with the posterior. These estimates are not to be trusted; the error is "
                  "the sampler's, not the estimator's."]
    elif any(r["estimator"] == "rlct_recommended" for r in rows):
        worst = max((r for r in rows if r["estimator"] == "rlct_recommended"),
                    key=lambda r: abs(r["max_sampler_error"]))
        lines += ["", "The recommended sampler meets its target on every scale shown: sampler error within 5% "
                  f"in every seed against the exact tempered mean of the same data (worst: L{worst['depth']}r"
                  f"{worst['power']}, {_pct(worst['max_sampler_error'])}). What remains is the estimator's own "
                  "bias at n beta = 1000 (column 'estimator bias'), which only a larger n beta removes."]
    lines += ["", f"Regenerate: `{command}`", ""]
    atomic_write_text(out / "README.md", "\n".join(lines))


def main(argv: Sequence[str] | None = None) -> int:
    from rlct.cases.pnn import PNNCase

    parser = argparse.ArgumentParser(prog="python -m rlct.validation.pnn_study")
    parser.add_argument("--out", default="reports/pnn")
    parser.add_argument("--scales", default=",".join(PNNCase.scales))
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--report-only", action="store_true",
                        help="write the report from the stored records without running anything")
    args = parser.parse_args(argv)
    scales = args.scales.split(",")
    unknown = [s for s in scales if s not in PNNCase.scales]
    if unknown:
        print(f"rlct: error: --scales: unknown pnn scale {unknown[0]!r}; known: {', '.join(PNNCase.scales)}",
              file=sys.stderr)
        return 2
    if args.seeds < 1:
        print(f"rlct: error: --seeds: expected a positive integer, got {args.seeds}", file=sys.stderr)
        return 2
    out = Path(args.out)
    (out / "results").mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)
    for scale in [] if args.report_only else scales:
        jobs = [(f"{scale}-exact.json", lambda s=scale: study_exact(s)),
                (f"{scale}-limit.json", lambda s=scale: study_limit(s))]
        for seed in range(args.seeds):
            jobs += [
                (f"{scale}-seed{seed}-data.json", lambda s=scale, k=seed: study_data(s, k)),
                (f"{scale}-seed{seed}-recommended-{recommended_key(scale)}.json",
                 lambda s=scale, k=seed: study_recommended(s, k)),
                (f"{scale}-seed{seed}-paper.json", lambda s=scale, k=seed: study_paper_sgld(s, k)),
            ]
        run_missing(out / "results", jobs, "pnn")
    records = load_records(out / "results")
    command = "python -m rlct.validation.pnn_study --out " + str(out)
    write_report(out, records, command)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
