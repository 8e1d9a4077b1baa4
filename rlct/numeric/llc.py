r"""The local learning coefficient estimator (Lau, Furman, Wang, Murfet, Wei 2023,
"Quantifying degeneracy in singular models via the learning coefficient", arXiv 2308.12108):

.. math::
    \hat\lambda(w^*) = n\beta \big( \mathbb{E}_{w \sim p}[L_n(w)] - L_n(w^*) \big),
    \qquad p(w) \propto \exp\big(-n\beta L_n(w) - \tfrac{\gamma}{2}\|w - w^*\|^2\big),

with beta = 1/log n by default. The expectation is the mean of the per-step loss over the kept
draws of each chain (minibatch loss for SGLD/pSGLD, an unbiased estimate of L_n; full-data loss
for MALA); the baseline L_n(w*) is always the full-data loss. Chains that produce NaN/Inf or
leave the localization region are flagged and excluded (with a warning), never averaged in.
An estimate whose working memory exceeds what the device has free is refused before it allocates
(`rlct.numeric.memory.MemoryBudgetError`, a ValueError).
"""

from __future__ import annotations

import math
import time
from dataclasses import replace
from functools import partial

import numpy as np
import torch
from torch import Tensor

from rlct.numeric import samplers
from rlct.numeric.device import cpu_threads_for, resolve_device
from rlct.numeric.diagnostics import summarize_chains
from rlct.numeric.memory import advice, check_fits, sampler_bytes
from rlct.numeric.potential import LocalizedPotential
from rlct.numeric.result import LLCResult
from rlct.numeric.seeding import torch_generator
from rlct.numeric.settings import SamplerSettings
from rlct.numeric.target import Target

DIVERGENCE_CHECK_EVERY = 50  # steps between (synchronizing) divergence checks
SAMPLER_STREAM = 7919  # SeedSequence key of the sampler's stream (cases use others for data)


def _divergence(
    w: Tensor, w_star: Tensor, losses: Tensor, radius: float
) -> tuple[Tensor, list[str]]:
    """Per chain: True if non-finite or farther than ``radius`` from w*; with reasons."""
    finite = torch.isfinite(w).all(dim=1) & torch.isfinite(losses).all(dim=1)
    distance = torch.linalg.vector_norm(torch.nan_to_num(w - w_star, nan=math.inf), dim=1)
    escaped = distance > radius
    bad = ~finite | escaped
    reasons = []
    for c in torch.nonzero(bad).flatten().tolist():
        if not bool(finite[c]):
            reasons.append(f"chain {c}: non-finite parameters or loss")
        else:
            reasons.append(
                f"chain {c}: left the localization region (||w - w*|| = {float(distance[c]):.3g}"
                f" > {radius:.3g})"
            )
    return bad, reasons


def sampling_device(target: Target, device: str | torch.device | None) -> torch.device:
    """Where `estimate_llc` samples: ``None`` keeps the target's device; ``"auto"`` keeps a
    target that is already on an accelerator and otherwise picks CUDA when present, else the CPU
    (`rlct.numeric.device.resolve_device`); anything else is resolved as given."""
    here = target.w_star.device
    if device is None or (isinstance(device, str) and device == "auto" and here.type != "cpu"):
        return here
    return resolve_device(device)


def _check_memory(target: Target, settings: SamplerSettings, dev: torch.device) -> None:
    """Refuse (`MemoryBudgetError`) an estimate whose working memory exceeds what is free."""
    itemsize = target.w_star.element_size()
    row_elements = sum(t[0].numel() for t in target.data)
    required = sampler_bytes(
        settings, dim=target.dim, n=target.n, row_elements=row_elements, itemsize=itemsize,
        full_data_loss=target.full_data_loss is not None,
    )
    if dev != target.w_star.device:  # the data and w* are copied there first
        required += sum(t.numel() * t.element_size() for t in (*target.data, target.w_star))
    check_fits(
        required, dev,
        what=f"sampling {settings.chains} chains x {target.dim:,} parameters ({settings.sampler}, "
        f"{str(target.w_star.dtype).removeprefix('torch.')}, {settings.steps:,} steps)",
        lower=advice("chains, steps, the batch size", target.w_star.dtype),
    )


def _park(state: samplers.SamplerState, chains: Tensor, w_star: Tensor) -> samplers.SamplerState:
    """Send diverged ``chains`` back to w* (their draws are discarded) at every check where they
    are bad again, with a fresh pSGLD moment and no cached MALA evaluation, so that they cannot
    overflow; healthy chains are untouched (a MALA evaluation at the same point is recomputed
    with the same result)."""
    rows = chains.unsqueeze(1)
    changes: dict[str, object] = {"w": torch.where(rows, w_star, state.w)}
    if state.preconditioner is not None:
        changes["preconditioner"] = torch.where(rows, torch.zeros_like(state.preconditioner), state.preconditioner)
    if state.evaluation is not None:
        changes["evaluation"] = None
    return replace(state, **changes)  # type: ignore[arg-type]


def _gibbs(target: Target, settings: SamplerSettings, seed: int) -> LLCResult:
    """``sampler="gibbs"``: exact blocked Gibbs draws (`rlct.numeric.gibbs.gibbs_llc`) on the
    target's multilinear Gaussian model; one step is one sweep over the layers."""
    from rlct.numeric.gibbs import gibbs_llc

    if target.multilinear is None:
        raise ValueError(
            f"sampler: 'gibbs' needs a target with a multilinear Gaussian model "
            f"(Target.multilinear; the cases dln, rrr and multireg have one), {target.name!r} has none"
        )
    with cpu_threads_for(target.w_star.device, settings.chains * target.dim):
        result = gibbs_llc(
            target.multilinear, nbeta=settings.resolved_nbeta(target.n), localization=settings.localization,
            chains=settings.chains, sweeps=settings.steps, burnin=settings.burnin, seed=seed, device=None,
        )
    return replace(result, settings=settings)


def estimate_llc(
    target: Target,
    settings: SamplerSettings | None = None,
    *,
    seed: int = 0,
    device: str | torch.device | None = "auto",
    chain_method: str = "vectorized",
    progress: bool = False,
) -> LLCResult:
    """Estimate the LLC at ``target.w_star`` with ``settings.chains`` chains.

    Args:
        target: the batched loss, data and w* (see `rlct.numeric.target`).
        settings: sampler hyperparameters (defaults: `SamplerSettings()`).
        seed: the root seed; noise, minibatches and MALA uniforms come from one
            `torch.Generator` derived from it (same seed, same draws on the same device).
            ``settings.sampler == "gibbs"`` runs the exact Gibbs sampler on ``target.multilinear``
            (`rlct.numeric.gibbs`); ``chain_method`` and ``progress`` do not apply to it.
        device: where to sample (`sampling_device`): ``"auto"`` (default; CUDA when present,
            and a target already on an accelerator stays there), ``"cpu"``, ``"cuda"``, or
            ``None`` (the target's device).
        chain_method: ``"vectorized"`` (all chains in one batched computation) or
            ``"sequential"`` (one chain at a time; the reference, same draws).
        progress: show a tqdm progress bar.
    """
    settings = settings if settings is not None else SamplerSettings()
    if not isinstance(settings, SamplerSettings):
        raise ValueError(f"settings: expected SamplerSettings, got {type(settings).__name__}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed: expected a non-negative integer, got {seed!r}")
    placement = sampling_device(target, device)
    _check_memory(target, settings, placement)
    if placement != target.w_star.device:
        target = target.to(placement)
    if settings.sampler == "gibbs":
        return _gibbs(target, settings, seed)
    dev = target.w_star.device
    dtype = target.w_star.dtype
    chains, dim, n = settings.chains, target.dim, target.n
    nbeta = settings.resolved_nbeta(n)
    full_batch = settings.full_batch  # gibbs returned above
    potential = LocalizedPotential(
        target,
        nbeta,
        settings.localization,
        chain_method,
        control_variate=settings.control_variate and not full_batch,
    )
    if settings.sampler == "psgld":
        update = partial(
            samplers.psgld.update, alpha=settings.psgld_alpha, damping=settings.psgld_eps
        )
    elif settings.sampler == "hmc":
        update = partial(samplers.hmc.update, leapfrog_steps=settings.leapfrog_steps)
    else:
        update = samplers.SAMPLERS[settings.sampler].update
    state = samplers.SAMPLERS[settings.sampler].init(
        target.w_star.detach().unsqueeze(0).repeat(chains, 1)
    )
    generator = torch_generator(seed, SAMPLER_STREAM, device=dev)
    radius = (
        settings.divergence_factor * math.sqrt(dim / settings.localization)
        if settings.localization > 0
        else math.inf
    )

    with torch.no_grad():
        init_loss = float(target.full_loss(target.w_star.unsqueeze(0))[0])
    trace = torch.full((chains, settings.steps), math.nan, dtype=dtype, device=dev)
    diverged = torch.zeros(chains, dtype=torch.bool, device=dev)
    reasons: list[str] = []
    full: tuple[Tensor, ...] | None = None
    if full_batch and target.full_data_loss is None:
        full = target.full_batch(chains)

    steps = range(settings.steps)
    if progress:
        from tqdm.auto import tqdm

        steps = tqdm(steps, desc=f"{settings.sampler} x{chains}", unit="step", leave=False)
    # Small problems sample on one CPU thread: their per-step kernels are too small to gain from
    # threads, and OpenMP threads that spin while the cores are shared slow them down ~10x.
    with cpu_threads_for(dev, chains * dim):
        start = time.perf_counter()
        for step in steps:
            if full_batch:
                batch = full  # None: the exact full-data loss of the target
            else:
                assert settings.batch_size is not None
                batch = target.minibatch(chains, settings.batch_size, generator)
            noise = torch.randn((chains, dim), generator=generator, device=dev, dtype=dtype)
            uniform = (
                torch.rand((chains,), generator=generator, device=dev, dtype=dtype)
                if settings.sampler == "mala"
                else torch.rand((2, chains), generator=generator, device=dev, dtype=dtype)
                if settings.sampler == "hmc"
                else None
            )
            state = update(state, potential.evaluate, batch, settings.step_size, noise, uniform)
            trace[:, step] = state.loss
            last = step + 1 == settings.steps
            if (step + 1) % DIVERGENCE_CHECK_EVERY == 0 or last:
                first = max(0, step + 1 - DIVERGENCE_CHECK_EVERY)
                bad, why = _divergence(state.w, target.w_star, trace[:, first : step + 1], radius)
                new = bad & ~diverged
                if bool(new.any()):
                    reasons += [r for r, c in zip(why, torch.nonzero(bad).flatten().tolist()) if new[c]]
                    diverged |= new
                if bool((bad & diverged).any()):
                    state = _park(state, bad & diverged, target.w_star)
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
    wall = time.perf_counter() - start

    trace_np = trace.detach().cpu().numpy().astype(np.float64)
    diverged_np = diverged.cpu().numpy()
    summary = summarize_chains(trace_np, diverged_np, settings.burnin, nbeta, init_loss, reasons)
    acceptance = None
    if state.accepted is not None:
        acceptance = state.accepted.cpu().numpy() / settings.steps
    return LLCResult(
        llc_mean=summary.mean,
        llc_stderr=summary.stderr,
        llc_stderr_ess=summary.stderr_ess,
        llc_per_chain=summary.per_chain,
        loss_trace=trace_np,
        init_loss=init_loss,
        rhat=summary.rhat,
        ess=summary.ess,
        acceptance_rate=acceptance,
        diverged=diverged_np,
        divergence_reasons=tuple(reasons),
        nbeta=nbeta,
        settings=settings,
        seed=seed,
        device=str(dev),
        dtype=str(dtype).removeprefix("torch."),
        chain_method=chain_method,
        n=n,
        dim=dim,
        wall_time=wall,
        steps_per_second=chains * settings.steps / wall if wall > 0 else math.inf,
    )
