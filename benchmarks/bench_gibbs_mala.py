"""Exact blocked Gibbs against full-batch MALA on deep linear networks: effective samples of L per
second (ESS/s), at d = 10^4, 10^5, 10^6.

Both samplers target the same localized tempered posterior (nβ = 1000, γ = 1, the case's data of
seed 0, float64), both run 4 chains started at w*, in one process with the same torch thread
count. MALA runs the case's recommended settings (`DLNCase.recommended`: ε = 1.5e-5 √(1200/d)),
with fewer steps where the full 40,000 do not fit (``--mala-steps``); Gibbs runs ``--sweeps``
sweeps. For each: wall time of the whole call (burn-in included: it is part of the cost), the
ESS of the post-burn-in draws of L pooled over chains (`rlct.numeric.diagnostics.ess`, Vehtari et
al. 2021 rank-free bulk ESS on the raw values), split R-hat, λ̂ and ESS/s = ESS / wall time.

Caveat printed with the numbers: an ESS computed from chains that have not reached
stationarity (R-hat > 1.01) is not a count of draws from the target; for MALA at d ≥ 10^4 it is
an upper bound on the useful samples, and its λ̂ sits below the Gibbs λ_β by the unmixed part.

Run from the repository root:

    python benchmarks/bench_gibbs_mala.py --output benchmarks/results_gibbs_mala.json

(about 15 minutes on one quiet core with the defaults).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from typing import Any

import torch

from rlct.cases.base import get_case
from rlct.numeric.gibbs import gibbs_llc
from rlct.numeric.llc import estimate_llc

SCALES = {"1e4": "1e4", "1e5": "1e5", "1e6": "1e6"}
DEFAULT_SWEEPS = {"1e4": 1000, "1e5": 400, "1e6": 150}
DEFAULT_MALA_STEPS = {"1e4": 20_000, "1e5": 2000, "1e6": 300}


def run_scale(scale: str, sweeps: int, mala_steps: int, seed: int) -> dict[str, Any]:
    case = get_case("dln")(**get_case("dln").scales[scale])
    problem = case.build(seed=seed)
    recommended = case.recommended()
    mala = recommended.replace(steps=mala_steps, burnin=min(recommended.burnin, mala_steps // 5))
    row: dict[str, Any] = {"scale": scale, "dim": case.dim, "lambda": str(case.exact().value)}

    start = time.perf_counter()
    gibbs = gibbs_llc(problem.target.multilinear, nbeta=recommended.nbeta or 1000.0,
                      localization=recommended.localization, chains=recommended.chains, sweeps=sweeps,
                      burnin=sweeps // 4, seed=seed, device="cpu")
    gibbs_time = time.perf_counter() - start
    start = time.perf_counter()
    langevin = estimate_llc(problem.target, mala, seed=seed, device="cpu")
    mala_time = time.perf_counter() - start
    for name, result, wall, steps in (("gibbs", gibbs, gibbs_time, sweeps), ("mala", langevin, mala_time, mala_steps)):
        row[name] = {
            "steps": steps, "burnin": result.settings.burnin, "step_size": getattr(result.settings, "step_size", None),
            "wall_time": wall, "seconds_per_step": wall / steps, "llc": result.llc_mean, "llc_se": result.llc_stderr,
            "ess": result.ess, "rhat": result.rhat, "ess_per_second": result.ess / wall,
            "acceptance": None if result.acceptance_rate is None else float(result.acceptance_rate.mean()),
        }
    row["ess_per_second_ratio"] = row["gibbs"]["ess_per_second"] / row["mala"]["ess_per_second"]
    row["seconds_per_step_ratio"] = row["mala"]["seconds_per_step"] / row["gibbs"]["seconds_per_step"]
    return row


def table(rows: list[dict[str, Any]]) -> str:
    lines = ["| d | sampler | steps (burn-in) | s/step | λ̂ ± se | R-hat | ESS | ESS/s | Gibbs/MALA ESS/s |",
             "|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        for name in ("gibbs", "mala"):
            r = row[name]
            ratio = f"{row['ess_per_second_ratio']:.3g}x" if name == "gibbs" else ""
            lines.append(f"| {row['dim']} | {name} | {r['steps']} ({r['burnin']}) | {r['seconds_per_step']:.3g} | "
                         f"{r['llc']:.5g} ± {r['llc_se']:.2g} | {r['rhat']:.3f} | {r['ess']:.3g} | "
                         f"{r['ess_per_second']:.3g} | {ratio} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scales", default="1e4,1e5,1e6", help="dln scales among 1e4,1e5,1e6")
    parser.add_argument("--sweeps", default=None, help="Gibbs sweeps per scale, e.g. 1e4=2000,1e6=300")
    parser.add_argument("--mala-steps", default=None, help="MALA steps per scale, e.g. 1e5=4000")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", default=None)
    args = parser.parse_args(argv)

    def per_scale(text: str | None, default: dict[str, int], name: str) -> dict[str, int]:
        values = dict(default)
        for item in (text or "").split(","):
            if not item:
                continue
            key, _, value = item.partition("=")
            if key not in SCALES or not value.isdigit() or int(value) < 10:
                print(f"error: {name}: expected SCALE=INT>=10 with SCALE in {','.join(SCALES)}, got {item!r}",
                      file=sys.stderr)
                raise SystemExit(2)
            values[key] = int(value)
        return values

    scales = [s for s in args.scales.split(",") if s]
    unknown = [s for s in scales if s not in SCALES]
    if unknown or args.threads < 1:
        print(f"error: scales: unknown {unknown}" if unknown else "error: threads: must be >= 1", file=sys.stderr)
        return 2
    sweeps = per_scale(args.sweeps, DEFAULT_SWEEPS, "sweeps")
    mala_steps = per_scale(args.mala_steps, DEFAULT_MALA_STEPS, "mala-steps")
    torch.set_num_threads(args.threads)
    rows = []
    for scale in scales:
        row = run_scale(scale, sweeps[scale], mala_steps[scale], args.seed)
        rows.append(row)
        print(f"d={row['dim']}: Gibbs {row['gibbs']['ess_per_second']:.3g} ESS/s, MALA "
              f"{row['mala']['ess_per_second']:.3g} ESS/s, ratio {row['ess_per_second_ratio']:.3g}x", flush=True)
        if args.output:
            meta = {"torch": torch.__version__, "threads": args.threads, "platform": platform.platform(),
                    "load_average": os.getloadavg(), "argv": sys.argv[1:]}
            with open(args.output, "w") as handle:
                json.dump({"meta": meta, "rows": rows}, handle, indent=1)
    print(table(rows))
    print("\nMALA rows with R-hat > 1.01 have not reached stationarity: their ESS counts correlated draws of a "
          "transient, an upper bound on useful samples, and their lambda sits below Gibbs' by the unmixed part.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
