"""DLN estimate timings on CUDA beside the CPU, at 10^4, 10^6 and 10^7 parameters.

    python benchmarks/gpu_timings.py --out gpu_timings.json [--scales 1e4,1e6,1e7] [--budget 240]

For each scale of the `dln` case (widths [50]x5, [500]x5, [1000]x11; float32, n = 10^5), on
each device (CUDA if present, and the CPU), two samplers: minibatch SGLD (batch 256, as devinterp
users run it) and full-batch MALA on the sufficient-statistics loss (the recommended sampler
above 10^3 parameters), 4 chains each. A short warm-up run is discarded, then a timed run; the
figures are chain-steps per second of the sampling loop, the build time of the case, and the
CUDA/CPU ratio. The step counts are sized so the whole script fits ``--budget`` seconds; a
device/scale pair that would not fit (the CPU at 10^7) is timed with fewer steps, never skipped
silently: its row says how many steps it ran. Writes one JSON file.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
from pathlib import Path

import torch

from rlct.cases import get_case
from rlct.numeric.llc import estimate_llc
from rlct.numeric.settings import SamplerSettings

SCALES = {"1e4": (50,) * 5, "1e6": (500,) * 5, "1e7": (1000,) * 11}
RANKS = {"1e4": 10, "1e6": 50, "1e7": 100}
# steps of the timed run per (device kind, scale): enough for a stable rate, small enough to fit
STEPS = {
    ("cuda", "1e4"): 2000, ("cuda", "1e6"): 500, ("cuda", "1e7"): 200,
    ("cpu", "1e4"): 400, ("cpu", "1e6"): 20, ("cpu", "1e7"): 4,
}
CHAINS = 4


def settings_for(sampler: str, dim: int, steps: int) -> SamplerSettings:
    step = 1e-5 * math.sqrt(1200 / dim)
    if sampler == "mala":
        return SamplerSettings(sampler="mala", step_size=step, nbeta=1000.0, chains=CHAINS, steps=steps,
                               burnin=steps // 2, batch_size=None)
    return SamplerSettings(sampler="sgld", step_size=step, nbeta=1000.0, chains=CHAINS, steps=steps,
                           burnin=steps // 2, batch_size=256)


def time_one(scale: str, device: str, sampler: str, problem) -> dict:
    kind = torch.device(device).type
    steps = STEPS[(kind, scale)]
    settings = settings_for(sampler, problem.dim, steps)
    estimate_llc(problem.target, settings.replace(steps=2, burnin=1), seed=0, device=device)  # warm-up
    if kind == "cuda":
        torch.cuda.synchronize()
    started = time.perf_counter()
    result = estimate_llc(problem.target, settings, seed=0, device=device)
    if kind == "cuda":
        torch.cuda.synchronize()
    total = time.perf_counter() - started
    return {
        "scale": scale, "dim": problem.dim, "device": device, "sampler": sampler, "chains": CHAINS,
        "steps": steps, "chain_steps_per_second": result.steps_per_second,
        "seconds_per_step": result.wall_time / steps, "call_seconds": total,
        "llc_mean": result.llc_mean if math.isfinite(result.llc_mean) else None,
        "diverged_chains": int(result.diverged.sum()),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="gpu_timings.json")
    parser.add_argument("--scales", default="1e4,1e6,1e7")
    parser.add_argument("--budget", type=float, default=240.0, help="seconds; stop starting new rows after")
    args = parser.parse_args(argv)
    scales = [s.strip() for s in args.scales.split(",") if s.strip()]
    for scale in scales:
        if scale not in SCALES:
            parser.error(f"--scales: unknown scale {scale!r}; known: {', '.join(SCALES)}")
    devices = (["cuda"] if torch.cuda.is_available() else []) + ["cpu"]
    started = time.perf_counter()
    rows: list[dict] = []
    skipped: list[str] = []
    for scale in scales:
        case = get_case("dln")(widths=SCALES[scale], rank=RANKS[scale], n=100_000)
        for device in devices:
            if time.perf_counter() - started > args.budget:
                skipped.append(f"{scale} on {device}: time budget of {args.budget:.0f} s spent")
                continue
            built = time.perf_counter()
            problem = case.build(seed=0, device=device, dtype=torch.float32)
            build_seconds = time.perf_counter() - built
            for sampler in ("sgld", "mala"):
                row = time_one(scale, device, sampler, problem)
                row["build_seconds"] = build_seconds
                rows.append(row)
                print(json.dumps(row), flush=True)
            del problem
            if device == "cuda":
                torch.cuda.empty_cache()
    ratios = []
    for row in rows:
        if row["device"] == "cuda":
            cpu = [r for r in rows if r["device"] == "cpu" and r["scale"] == row["scale"]
                   and r["sampler"] == row["sampler"]]
            if cpu:
                ratios.append({"scale": row["scale"], "sampler": row["sampler"],
                               "cuda_over_cpu": row["chain_steps_per_second"] / cpu[0]["chain_steps_per_second"]})
    payload = {
        "torch": torch.__version__, "python": platform.python_version(), "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "cuda_device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "rows": rows, "cuda_over_cpu": ratios, "not_run": skipped,
        "seconds": time.perf_counter() - started,
    }
    Path(args.out).write_text(json.dumps(payload, indent=2))
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
