r"""Where the exact localized posterior of a deep linear network lives, and how far a Langevin
chain started at w* gets: the cause of the DLN sampler error at d >= 10^4.

    python -m rlct.validation.reach_study --out reports/dln-reach [--scales 1e3,1e4] [--steps 20000]

For each dln scale and localization gamma (nbeta = 1000, seed-0 data, 4 chains, float64):

1. exact blocked Gibbs (`rlct.numeric.gibbs`) from w*: lambda_beta and the distance
   ||w - w*|| of its draws (the last sweep of each chain);
2. full-batch MALA from w* at the case's recommended step (`DLNCase.recommended`): per block
   of steps, the block's lambda_hat = nbeta (mean L_n - L_n(w*)), its distance from w* and its
   acceptance rate;
3. MALA started at the Gibbs draws (the exact posterior) at the same step and at steps 10x and
   100x smaller: the acceptance rate over a few hundred steps.

The localized tempered posterior exp(-nbeta L_n(w) - gamma ||w - w*||^2 / 2) of a DLN spreads along
the flat directions of the set of true parameters (directions that change a layer without
changing the product) out to ||w - w*|| ~ sqrt(#flat / gamma), far beyond ||w*||; there the layers
are larger and the curvature transverse to the true set grows with the other layers' norms, so
a step fitted at w* is far too large there. A chain started at w* creeps outward, slows as the
curvature grows, and reads lambda_beta of a smaller region (a larger effective gamma).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path
from typing import Any

import torch

from rlct.numeric import gibbs
from rlct.numeric.potential import LocalizedPotential
from rlct.numeric.samplers import mala
from rlct.numeric.seeding import torch_generator
from rlct.validation.store import atomic_write_json, atomic_write_text, load_records

NBETA = 1000.0
CHAINS = 4
GIBBS_SWEEPS = 600
GIBBS_BURNIN = 200
START_STEPS = 300  # MALA steps from the Gibbs draws, per step size
STREAM = 0x5EAC  # the study's own random stream under the root seed


def _gibbs_draws(model: gibbs.MultilinearGaussian, gamma: float, seed: int) -> tuple[Any, torch.Tensor]:
    """The Gibbs result and each chain's last draw (C, d): `gibbs_llc` keeps no state, so its
    layer draws are recorded as they are made (the last ``depth`` draws are the last sweep)."""
    last: dict[int, torch.Tensor] = {}
    count = [0]
    original = gibbs.LayerConditional.sample

    def recording(self: gibbs.LayerConditional, generator: torch.Generator | None = None) -> torch.Tensor:
        draw = original(self, generator)
        last[count[0] % model.depth] = draw
        count[0] += 1
        return draw

    gibbs.LayerConditional.sample = recording  # type: ignore[method-assign]
    try:
        result = gibbs.gibbs_llc(model, nbeta=NBETA, localization=gamma, chains=CHAINS,
                                 sweeps=GIBBS_SWEEPS, burnin=GIBBS_BURNIN, seed=seed)
    finally:
        gibbs.LayerConditional.sample = original  # type: ignore[method-assign]
    return result, model.flatten([last[i] for i in range(model.depth)])


def _mala(potential: LocalizedPotential, start: torch.Tensor, step_size: float, steps: int,
          generator: torch.Generator, blocks: int, init_loss: float, w_star: torch.Tensor) -> list[dict[str, float]]:
    state = mala.init(start.clone())
    out = []
    every = max(1, steps // blocks)
    total = torch.zeros((), dtype=start.dtype)
    accepted_before = 0
    for step in range(steps):
        noise = torch.randn(start.shape, generator=generator, dtype=start.dtype)
        uniform = torch.rand((start.shape[0],), generator=generator, dtype=start.dtype)
        state = mala.update(state, potential.evaluate, None, step_size, noise, uniform)
        total = total + (state.loss - init_loss).mean()
        if (step + 1) % every == 0:
            assert state.accepted is not None
            accepted = int(state.accepted.sum())
            out.append({
                "step": step + 1,
                "lambda_hat": float(NBETA * total / every),
                "distance": float((state.w - w_star).norm(dim=1).mean()),
                "acceptance": (accepted - accepted_before) / (every * start.shape[0]),
            })
            accepted_before = accepted
            total = torch.zeros((), dtype=start.dtype)
    return out


def study(scale: str, gamma: float, steps: int, seed: int = 0) -> dict[str, Any]:
    from rlct.cases import get_case

    case = get_case("dln").at_scale(scale)
    target = case.build(seed=seed).target
    model = target.multilinear
    w_star = target.w_star.unsqueeze(0)
    step_size = case.recommended().step_size
    started = time.perf_counter()
    reference, draws = _gibbs_draws(model, gamma, seed)
    potential = LocalizedPotential(target, NBETA, gamma)
    init_loss = float(target.full_loss(w_star)[0])
    generator = torch_generator(seed, STREAM)
    from_w_star = _mala(potential, w_star.repeat(CHAINS, 1), step_size, steps, generator, 10, init_loss, target.w_star)
    from_posterior = {
        f"{factor:g}": _mala(potential, draws, step_size * factor, START_STEPS, generator, 1, init_loss,
                             target.w_star)[0]["acceptance"]
        for factor in (1.0, 0.1, 0.01)
    }
    return {
        "scale": scale, "dim": target.dim, "gamma": gamma, "nbeta": NBETA, "seed": seed,
        "lambda": float(case.exact().value), "w_star_norm": float(target.w_star.norm()),
        "gibbs_lambda_beta": reference.llc_mean, "gibbs_stderr": reference.llc_stderr,
        "gibbs_distance": [float(x) for x in (draws - target.w_star).norm(dim=1)],
        "mala_step_size": step_size, "mala_from_w_star": from_w_star,
        "mala_acceptance_from_posterior": from_posterior,
        "wall_time": time.perf_counter() - started,
    }


def _report(records: list[dict[str, Any]]) -> str:
    lines = [
        "# Where the DLN posterior lives, and how far MALA from w* gets",
        "",
        "Regenerate with `python -m rlct.validation.reach_study --out reports/dln-reach` "
        "(module docstring: what is measured and why). nβ = 1000, seed-0 data, 4 chains, float64.",
        "",
        "| d | γ | λ | λ_β (Gibbs) | ‖w*‖ | Gibbs ‖w − w*‖ | MALA steps | MALA λ̂ (last block) | "
        "MALA ‖w − w*‖ | MALA acceptance from the Gibbs draws at ε, ε/10, ε/100 |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in records:
        last = r["mala_from_w_star"][-1]
        acc = r["mala_acceptance_from_posterior"]
        distance = sum(r["gibbs_distance"]) / len(r["gibbs_distance"])
        lines.append(
            f"| {r['dim']:,} | {r['gamma']:g} | {r['lambda']:g} | {r['gibbs_lambda_beta']:.1f} ± "
            f"{r['gibbs_stderr']:.1f} | {r['w_star_norm']:.2f} | {distance:.1f} | {last['step']:,} | "
            f"{last['lambda_hat']:.1f} ({(last['lambda_hat'] / r['gibbs_lambda_beta'] - 1):+.1%}) | "
            f"{last['distance']:.1f} | {acc['1']:.2f}, {acc['0.1']:.2f}, {acc['0.01']:.2f} |"
        )
    lines += ["", "MALA from w*, per block of steps (λ̂ of the block, mean distance, acceptance):", ""]
    for r in records:
        trail = ", ".join(
            f"{b['step']:,}: {b['lambda_hat']:.0f} / {b['distance']:.1f} / {b['acceptance']:.2f}"
            for b in r["mala_from_w_star"]
        )
        lines.append(f"- d = {r['dim']:,}, γ = {r['gamma']:g}, ε = {r['mala_step_size']:.3g}: {trail}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rlct.validation.reach_study")
    parser.add_argument("--out", default="reports/dln-reach")
    parser.add_argument("--scales", default="1e3,1e4")
    parser.add_argument("--gammas", default="1,10")
    parser.add_argument("--steps", type=int, default=20_000)
    args = parser.parse_args(argv)
    try:
        gammas = [float(g) for g in args.gammas.split(",")]
        if any(not math.isfinite(g) or g <= 0 for g in gammas):
            raise ValueError
    except ValueError:
        print(f"rlct: error: --gammas: expected positive numbers, got {args.gammas!r}", file=sys.stderr)
        return 2
    if args.steps < 10:
        print(f"rlct: error: --steps: expected at least 10, got {args.steps}", file=sys.stderr)
        return 2
    out = Path(args.out)
    (out / "results").mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)  # small kernels; threads only spin while the cores are shared
    for scale in args.scales.split(","):
        for gamma in gammas:
            path = out / "results" / f"dln-{scale}-gamma{gamma:g}-steps{args.steps}.json"
            if path.exists():
                continue
            record = study(scale, gamma, args.steps)
            atomic_write_json(path, record)
            print(f"dln/{scale} gamma {gamma:g}: {record['wall_time']:.0f} s", file=sys.stderr)
    # the report covers every stored record (earlier runs with other scales or gammas too)
    stored = load_records(out / "results")
    stored.sort(key=lambda r: (r["dim"], r["gamma"], len(r["mala_from_w_star"])))
    atomic_write_text(out / "README.md", _report(stored))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
