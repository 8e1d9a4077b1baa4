r"""Benchmark: rlct's vectorized SGLD LLC estimator against devinterp 2.0.1 on deep linear networks.

Both tools estimate the local learning coefficient (Lau, Furman, Wang, Murfet, Wei 2023, arXiv
2308.12108) of the same DLN (``rlct.cases.dln.DLNCase``, same data, same w*, float32) with the same
n, minibatch size, step size, n beta, localization, number of chains and number of steps, in one
process, with the same torch thread count.

Update conventions (checked against the sources; the two steps are the same map):

* rlct (`rlct.numeric.samplers.sgld` with `rlct.numeric.potential.LocalizedPotential`):
  ``w <- w - (eps/2) (n beta grad L_B(w) + gamma (w - w*)) + sqrt(eps) N(0, I)``.
* devinterp (``devinterp/optim/sgmcmc.py``, ``SGMCMC.step`` built by ``SGMCMC.sgld``: identity
  preconditioner, ``GaussianPrior(localization, center="initial")``, noise_level 1):
  ``d_p = nbeta * p.grad + localization * (p - p_0)``; ``p -= (lr/2) d_p``;
  ``p += sqrt(lr) * N(0, 1)``, with p.grad the gradient of the mean minibatch loss
  (``sample_single_chain`` calls ``loss.mean().backward()``) and p_0 the starting point w*.

So ``lr = eps = SamplerSettings.step_size``, ``n_beta = nbeta``, ``localization = gamma``.
The per-example loss is 1/2 ||y - f(x)||^2 summed over outputs (noise_std = 1) in both.

Tools timed (each wall time is the whole public call, baseline loss L(w*) included):

* ``rlct``: `rlct.numeric.llc.estimate_llc` (all chains in one batched computation).
* ``devinterp.llc``: devinterp's high-level ``devinterp.slt.llc.llc`` (``sample`` +
  ``compute_llc``): HF ``Dataset`` + ``loss_fn``, chains in turn, per-step zarr writes of the
  minibatch losses and ids, no observables (``observables={}``). See
  ``benchmarks/_devinterp_glue.py`` for how a regression is fed to this LM-oriented API.
* ``devinterp-sgld``: devinterp's SGLD optimizer alone (``SGMCMC.sgld``): one deep-copied model
  per chain, chains in turn, minibatches from a shuffling DataLoader; no zarr, no observables.

chain-steps/s = chains * steps / wall. The LLC of each devinterp run is computed the rlct way
(n beta (mean of kept minibatch losses - L(w*)), burn-in excluded, se = sd over chains /
sqrt(chains)).

Achieved FLOP/s of rlct: per chain-step the matmul FLOPs of forward + backward are
``3 * 2 * b * sum_l H_{l-1} H_l`` (forward, grad wrt activations, grad wrt weights; the grad wrt
the input x is not formed, so this slightly overcounts) plus ``10 d`` elementwise FLOPs for the
potential gradient and the update (w - w*, its square and sum, n beta g + gamma (w - w*), the
step and the noise axpy). Achieved = chains * steps * that / wall; reported as a fraction of this
machine's measured float32 matmul throughput (best of several 2048 x 2048 ``torch.matmul``, same
thread count).

Run (from the repository root; needs ``pip install -e .[devinterp]``)::

    python benchmarks/bench_devinterp.py --sizes small,large --threads 2 --output results.json
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

os.environ.setdefault("TQDM_DISABLE", "1")  # devinterp draws a progress bar per chain

import torch  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import _devinterp_glue as glue  # noqa: E402

from rlct.cases.dln import DLNCase, layer_shapes  # noqa: E402
from rlct.numeric.llc import estimate_llc  # noqa: E402
from rlct.numeric.settings import SamplerSettings  # noqa: E402

TOOLS = ("rlct", "devinterp.llc", "devinterp-sgld")
ELEMENTWISE_FLOPS_PER_PARAM = 10  # see module docstring
MATMUL_SIZE = 2048
MATMUL_REPEATS = 7


@dataclass(frozen=True)
class Size:
    """One benchmark size: the DLN, default chains/steps, and the speed-up target vs devinterp."""

    name: str
    widths: tuple[int, ...]
    rank: int
    chains: int
    steps: int
    step_size: float
    target_speedup: float


SIZES = {
    # eps = 1e-4 (the DLN case's recommended value) lets some 1e6-parameter chains overflow to
    # NaN within 300 steps (the noise-filled zero blocks make the layer products grow); 1e-5
    # keeps every chain finite there.
    "small": Size("small", (10, 10, 10), 2, chains=8, steps=2000, step_size=1e-4,
                  target_speedup=10.0),
    "large": Size("large", (500,) * 5, 50, chains=4, steps=300, step_size=1e-5,
                  target_speedup=1.5),
}


def matmul_flops_per_second(size: int = MATMUL_SIZE, repeats: int = MATMUL_REPEATS) -> float:
    """Best-of-``repeats`` float32 ``torch.matmul`` throughput (FLOP/s) of a size x size product."""
    generator = torch.Generator().manual_seed(0)
    a = torch.randn(size, size, generator=generator)
    b = torch.randn(size, size, generator=generator)
    torch.matmul(a, b)  # warm-up
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        torch.matmul(a, b)
        best = min(best, time.perf_counter() - start)
    return 2.0 * size**3 / best


def flops_per_chain_step(widths: tuple[int, ...], batch_size: int) -> float:
    """3 * 2 * b * sum_l H_{l-1} H_l (matmuls, forward + backward) + 10 d (elementwise)."""
    dim = sum(r * c for r, c in layer_shapes(widths))
    return 6.0 * batch_size * dim + ELEMENTWISE_FLOPS_PER_PARAM * dim


def run_tool(
    tool: str, problem: Any, settings: SamplerSettings, seed: int, encoding: str
) -> dict[str, Any]:
    """Run one tool once; the LLC, its se, wall time and chain-steps/s."""
    x, y = problem.target.data
    nbeta = settings.resolved_nbeta(problem.n)
    load = os.getloadavg()[0]
    if tool == "rlct":
        start = time.perf_counter()
        result = estimate_llc(problem.target, settings, seed=seed)
        wall = time.perf_counter() - start
        out = {
            "llc_mean": result.llc_mean,
            "llc_stderr": result.llc_stderr,
            "wall_time": wall,
            "loop_wall_time": result.wall_time,
            "diverged_chains": int(result.diverged.sum()),
        }
    else:
        common = dict(
            lr=settings.step_size,
            nbeta=nbeta,
            localization=settings.localization,
            chains=settings.chains,
            steps=settings.steps,
            burnin=settings.burnin,
            batch_size=settings.batch_size,
            seed=seed,
        )
        module = problem.extra["torch_module"]()
        if tool == "devinterp.llc":
            run = glue.run_devinterp_llc(module, x, y, encoding=encoding, **common)
        else:
            run = glue.run_sgmcmc_loop(module, x, y, **common)
        out = {
            "llc_mean": run.llc_mean,
            "llc_stderr": run.llc_stderr,
            "wall_time": run.wall_time,
            **run.extra,
        }
    out["chain_steps_per_second"] = settings.chains * settings.steps / out["wall_time"]
    out["load_average_1min_before"] = load
    return out


def bench_size(
    size: Size, args: argparse.Namespace, peak: float
) -> dict[str, Any]:
    chains = args.chains if args.chains is not None else size.chains
    steps = args.steps if args.steps is not None else size.steps
    problem = DLNCase(widths=list(size.widths), rank=size.rank, n=args.n).build(
        seed=args.seed, dtype=torch.float32
    )
    settings = SamplerSettings(
        sampler="sgld",
        step_size=args.step_size if args.step_size is not None else size.step_size,
        nbeta=args.nbeta,
        localization=args.localization,
        chains=chains,
        steps=steps,
        burnin=steps // 2,
        batch_size=args.batch_size,
    )
    exact = float(problem.exact.value)
    tools = [t for t in TOOLS if t in args.tools]

    warm = settings.replace(chains=min(2, chains), steps=20, burnin=10)
    for tool in tools:
        run_tool(tool, problem, warm, args.seed, args.encoding)

    repeats: dict[str, list[dict[str, Any]]] = {t: [] for t in tools}
    for _ in range(args.repeats):
        for tool in tools:  # interleaved, so load changes hit every tool alike
            repeats[tool].append(run_tool(tool, problem, settings, args.seed, args.encoding))

    rows = {}
    for tool in tools:
        runs = sorted(repeats[tool], key=lambda r: r["wall_time"])
        median = runs[len(runs) // 2]
        rows[tool] = {
            "tool": tool,
            "dim": problem.dim,
            "chains": chains,
            "steps": steps,
            "wall_time": statistics.median(r["wall_time"] for r in runs),
            "chain_steps_per_second": statistics.median(
                r["chain_steps_per_second"] for r in runs
            ),
            "llc_mean": median["llc_mean"],
            "llc_stderr": median["llc_stderr"],
            "exact": exact,
            "relative_error": abs(median["llc_mean"] - exact) / exact,
            "repeats": repeats[tool],
        }
    out: dict[str, Any] = {
        "size": size.name,
        "widths": list(size.widths),
        "rank": size.rank,
        "exact_llc": str(problem.exact.value),
        "settings": settings.to_dict(),
        "nbeta": settings.resolved_nbeta(problem.n),
        "n": problem.n,
        "rows": rows,
        "target_speedup": size.target_speedup,
    }
    if "rlct" in rows:
        per_step = flops_per_chain_step(size.widths, args.batch_size)
        achieved = per_step * rows["rlct"]["chain_steps_per_second"]
        out["rlct_flops"] = {
            "flops_per_chain_step": per_step,
            "achieved_flops_per_second": achieved,
            "fraction_of_matmul_peak": achieved / peak,
        }
        out["speedup"] = {
            t: rows["rlct"]["chain_steps_per_second"] / rows[t]["chain_steps_per_second"]
            for t in tools
            if t != "rlct"
        }
    return out


def format_table(result: dict[str, Any]) -> str:
    header = (
        f"{'tool':<16}{'d':>9}{'chains':>7}{'steps':>7}{'chain-steps/s':>15}{'wall s':>9}"
        f"{'lambda_hat +- se':>22}{'exact':>8}{'rel.err':>9}"
    )
    lines = [header, "-" * len(header)]
    for row in result["rows"].values():
        estimate = f"{row['llc_mean']:.2f} +- {row['llc_stderr']:.2f}"
        lines.append(
            f"{row['tool']:<16}{row['dim']:>9}{row['chains']:>7}{row['steps']:>7}"
            f"{row['chain_steps_per_second']:>15.1f}{row['wall_time']:>9.2f}{estimate:>22}"
            f"{row['exact']:>8.1f}{row['relative_error']:>9.3f}"
        )
    for tool, ratio in result.get("speedup", {}).items():
        verdict = "meets" if ratio >= result["target_speedup"] else "MISSES"
        lines.append(
            f"rlct / {tool} chain-steps/s: {ratio:.2f}x "
            f"({verdict} the {result['target_speedup']:g}x target)"
        )
    if "rlct_flops" in result:
        f = result["rlct_flops"]
        lines.append(
            f"rlct achieved {f['achieved_flops_per_second'] / 1e9:.2f} GFLOP/s "
            f"({f['flops_per_chain_step'] / 1e6:.3g} MFLOP per chain-step) = "
            f"{100 * f['fraction_of_matmul_peak']:.1f}% of measured matmul throughput"
        )
    return "\n".join(lines)


WHOLE_PROCESS = {  # the model and arguments of the whole-process comparison (issue #14)
    "widths": "10,10,10", "rank": "2", "n": "10000", "batch-size": "100", "chains": "8",
    "burnin": "1000", "steps": "5000", "step-size": "1e-4", "localization": "1",
}


def whole_process(repeats: int, threads: int | None) -> dict[str, Any]:
    """Wall time of a whole process, start to exit, as a user meets it: ``rlct estimate dln ...
    --json`` against a fresh Python process that builds the same DLN and data and runs
    devinterp's ``devinterp.slt.llc.llc`` with the same chains, steps, batch, eps, nbeta = n/log n
    and gamma (`_devinterp_process.py`). Interleaved repeats; medians and their ratio."""
    import subprocess

    flags = [token for key, value in WHOLE_PROCESS.items() for token in (f"--{key}", value)]
    commands = {
        "rlct": [sys.executable, "-m", "rlct", "estimate", "dln", *flags, "--json", "--no-progress"],
        "devinterp.llc": [sys.executable, str(Path(__file__).resolve().parent / "_devinterp_process.py"),
                          *flags],
    }
    env = dict(os.environ)
    if threads is not None:
        env["OMP_NUM_THREADS"] = str(threads)
        commands["devinterp.llc"] += ["--threads", str(threads)]
    runs: dict[str, list[dict[str, Any]]] = {tool: [] for tool in commands}
    for _ in range(repeats):
        for tool, command in commands.items():
            load = os.getloadavg()[0]
            start = time.perf_counter()
            done = subprocess.run(command, capture_output=True, text=True, env=env, check=True)
            wall = time.perf_counter() - start
            reading = json.loads(done.stdout.strip().splitlines()[-1])
            runs[tool].append({"process_seconds": wall, "sampling_seconds": reading["wall_time"],
                               "llc_mean": reading["llc_mean"], "load_average_1min_before": load})
    medians = {tool: statistics.median(r["process_seconds"] for r in rs) for tool, rs in runs.items()}
    return {
        "arguments": WHOLE_PROCESS,
        "threads": threads,
        "runs": runs,
        "median_process_seconds": medians,
        "ratio": medians["devinterp.llc"] / medians["rlct"],
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="rlct vs devinterp LLC estimation speed on deep linear networks."
    )
    parser.add_argument("--sizes", default="small,large",
                        help="comma-separated sizes: small ([10,10,10] r=2, 200 params), "
                        "large ([500]*5 r=50, 1e6 params)")
    parser.add_argument("--steps", type=int, default=None,
                        help="steps per chain for every size (default: small 2000, large 300); "
                        "burn-in is half")
    parser.add_argument("--chains", type=int, default=None,
                        help="chains for every size (default: small 8, large 4)")
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (both tools)")
    parser.add_argument("--repeats", type=int, default=3,
                        help="timed runs per tool and size; the median is reported")
    parser.add_argument("--n", type=int, default=10_000, help="data set size")
    parser.add_argument("--batch-size", type=int, default=256, help="minibatch size per chain")
    parser.add_argument("--step-size", type=float, default=None,
                        help="eps (= devinterp lr) for every size (default: small 1e-4, large 1e-5)")
    parser.add_argument("--nbeta", type=float, default=None,
                        help="n beta (= devinterp n_beta); default n / log n")
    parser.add_argument("--localization", type=float, default=1.0, help="gamma")
    parser.add_argument("--seed", type=int, default=0, help="data and sampler seed")
    parser.add_argument("--tools", default=",".join(TOOLS),
                        help=f"comma-separated subset of {','.join(TOOLS)}")
    parser.add_argument("--encoding", choices=glue.ENCODINGS, default="index",
                        help="how a regression example is stored in devinterp's 'input_ids' "
                        "(see benchmarks/_devinterp_glue.py)")
    parser.add_argument("--output", default=None, help="write all numbers to this JSON file")
    parser.add_argument("--whole-process", action="store_true",
                        help="also time whole processes: `rlct estimate dln ...` against a fresh "
                        "process running devinterp on the same model (start-up included)")
    args = parser.parse_args(argv)
    args.sizes = [s.strip() for s in args.sizes.split(",") if s.strip()]
    for s in args.sizes:
        if s not in SIZES:
            parser.error(f"--sizes: unknown size {s!r} (choose from {', '.join(SIZES)})")
    args.tools = [t.strip() for t in args.tools.split(",") if t.strip()]
    for t in args.tools:
        if t not in TOOLS:
            parser.error(f"--tools: unknown tool {t!r} (choose from {', '.join(TOOLS)})")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    import devinterp  # noqa: F401  (fail early if the optional extra is missing)

    peak = matmul_flops_per_second()
    print(
        f"torch {torch.__version__}, devinterp {version('devinterp')}, threads "
        f"{torch.get_num_threads()}, float32 matmul {MATMUL_SIZE}^2: {peak / 1e9:.1f} GFLOP/s, "
        f"load average {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    results = []
    for name in args.sizes:
        result = bench_size(SIZES[name], args, peak)
        results.append(result)
        print(f"\n== {name}: DLN widths {result['widths']} rank {result['rank']}, n {result['n']}, "
              f"batch {args.batch_size}, eps {result['settings']['step_size']:g}, "
              f"nbeta {result['nbeta']:.1f}, "
              f"gamma {args.localization:g}, median of {args.repeats} ==")
        print(format_table(result), flush=True)
    process = None
    if args.whole_process:
        process = whole_process(args.repeats, args.threads)
        medians = process["median_process_seconds"]
        print(f"\n== whole process: rlct estimate dln {' '.join(f'--{k} {v}' for k, v in WHOLE_PROCESS.items())}"
              f" vs devinterp.llc in a fresh process, median of {args.repeats} ==")
        print(f"rlct {medians['rlct']:.2f} s, devinterp {medians['devinterp.llc']:.2f} s: "
              f"{process['ratio']:.1f}x", flush=True)
    if args.output:
        payload = {
            "whole_process": process,
            "machine": {
                "platform": platform.platform(),
                "processor": platform.processor(),
                "cpu_count": os.cpu_count(),
                "torch": torch.__version__,
                "devinterp": version("devinterp"),
                "threads": args.threads,
                "matmul_flops_per_second": peak,
                "matmul_size": MATMUL_SIZE,
            },
            "arguments": {k: v for k, v in vars(args).items()},
            "results": results,
        }
        Path(args.output).write_text(json.dumps(payload, indent=2) + "\n")
        print(f"\nwrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
