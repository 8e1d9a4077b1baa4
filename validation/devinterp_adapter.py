r"""Our sampler settings in devinterp's terms, and devinterp's own estimator on our cases.

**Update conventions (checked against the devinterp 2.0.1 wheel's source).** Ours
(`rlct.numeric.samplers.sgld`, Lau et al. 2023, arXiv 2308.12108):

.. math::  \Delta w = \tfrac{\epsilon}{2}\big[-n\beta\,\nabla L_B(w) - \gamma (w - w^*)\big]
           + N(0, \epsilon I).

devinterp 2.0.1 (`devinterp.optim.sgmcmc.SGMCMC.sgld`, the default ``sampling_method=
"sgmcmc_sgld"``; the deprecated `devinterp.optim.SGLD` has the same step): with ``p.grad`` the
gradient of the *mean* minibatch loss (`devinterp.slt.sampler.sample_single_chain` calls
``loss.mean().backward()``),

.. math::  \Delta w = -\tfrac{lr}{2}\big[n\_beta\,\nabla \bar\ell_B(w) + localization\,(w - w_0)
           + llc\_weight\_decay\,w\big] + \sqrt{lr}\, N(0, noise\_level^2),

so with ``noise_level = 1`` and ``llc_weight_decay = 0`` the two coincide term by term:
``lr = step_size``, ``n_beta = nbeta``, ``localization = gamma``. The RMSProp variant
(``sampling_method="rmsprop_sgld"``) matches our ``psgld`` too (V from the mean-loss gradient,
G = 1/(eps + sqrt V), drift and prior scaled by G, noise by sqrt G), with ``rmsprop_alpha =
psgld_alpha`` and ``rmsprop_eps = psgld_eps`` (devinterp's default eps is 0.1, ours 1e-5).
devinterp has no MALA.

**Estimator differences that are not a change of names** (2.0.1):

* `devinterp.slt.llc.compute_llc` averages the loss over *every* step, burn-in included
  (``num_sgld_steps = num_draws + num_burnin_steps``); ours discards the burn-in. `run` below
  reports both devinterp's number and the burn-in-excluded mean of devinterp's own trace.
* devinterp's baseline ``init_loss`` is a mean over ``num_init_loss_batches`` (32) minibatches;
  ours is the full-data L_n(w*). Its sampling error, times n_beta, enters the estimate: of order
  n_beta sd(loss) / sqrt(32 b), which at n_beta = n / log n can exceed a small lambda (measured:
  poly case "2", lambda = 1/2, devinterp -5.4). ``llc_mean_full_baseline`` uses ours instead.
* ``n_beta`` is required in 2.0.1; devinterp's helper `devinterp.utils.default_nbeta` gives
  b / log b (b = batch size), ours defaults to n / log n (theory.md sec. 7).
* Minibatches: devinterp shuffles without replacement (``epoch_mode="cycle"`` replays the first
  epoch's order) and by default feeds every chain the same batches; ours draws with
  replacement, independently per chain.
* devinterp 2.0.1 removed ``estimate_learning_coeff_with_summary`` (devinterp <= 1.x: the same
  quantities as ``sampling_method_kwargs=dict(lr=, localization=, nbeta=)``, ``num_chains``,
  ``num_draws``, ``num_burnin_steps``, and the DataLoader's ``batch_size``). Its entry points
  are `devinterp.slt.sampling.sample` and `devinterp.slt.llc.llc` (models fed "input_ids").

**Running devinterp on a case.** devinterp 2.0.1 feeds a dataset of ``{"input_ids": ...}``
rows to ``loss_fn(model, input_ids) -> (batch, seq - 1)``. We feed the row *indices* (``[i, i]``,
sequence length 2) and look the rows up in ``target.data`` inside ``loss_fn``. The model is:

* the case's own network if the case provides both hooks ``Problem.extra["torch_module"]``
  (a zero-argument factory of an ``nn.Module`` at w*, called with the inputs ``data[:-1]``) and
  ``Problem.extra["torch_loss"]`` (``loss(output, *targets) -> (b,)`` per-example loss whose
  mean is the target's loss);
* otherwise a module holding the flat parameter vector w (initialized at w*) whose loss is the
  target's own batched loss: exactly the same function we sample, so a difference in the
  numbers comes from the samplers and estimators alone.
"""

from __future__ import annotations

import importlib.util
import math
import time
from typing import Any

import numpy as np

from rlct.numeric.settings import SamplerSettings

DEVINTERP_VERSION = "2.0.1"
SAMPLING_METHODS = {"sgld": "sgmcmc_sgld", "psgld": "rmsprop_sgld"}
NOT_INSTALLED = (
    f"devinterp is not installed; `pip install 'rlct[devinterp]'` (devinterp=={DEVINTERP_VERSION}) "
    "to compare with devinterp's estimator"
)


def supports(settings: SamplerSettings) -> bool:
    """True if devinterp 2.0.1 has the same sampler as ``settings`` (plain SGLD or pSGLD)."""
    try:
        devinterp_arguments(settings)
    except ValueError:
        return False
    return True


def available() -> bool:
    """True if devinterp (and the libraries its LLC module imports) can be imported."""
    return all(
        importlib.util.find_spec(name) is not None
        for name in ("devinterp", "datasets", "xarray", "zarr", "transformers")
    )


def devinterp_arguments(settings: SamplerSettings, n: int | None = None) -> dict[str, Any]:
    """Keyword arguments of devinterp 2.0.1's `devinterp.slt.sampling.sample` / `llc.llc` for
    the same sampler as ``settings`` (see the module docstring for what is *not* the same).

    ``n`` resolves the default inverse temperature n / log n (devinterp has no such default);
    without it ``n_beta`` is the string ``"n/log n"``. Raises ``ValueError`` for MALA and for
    SGLD with control variates (devinterp has neither; mapping them to its plain SGLD would be a
    different sampler under the same name).
    """
    if settings.sampler not in SAMPLING_METHODS:
        raise ValueError(f"sampler: devinterp has no {settings.sampler!r} sampler")
    if settings.control_variate:
        raise ValueError("control_variate: devinterp has no SGLD with control variates (SGLD-CV)")
    if settings.nbeta is not None:
        n_beta: float | str = float(settings.nbeta)
    elif n is not None:
        n_beta = settings.resolved_nbeta(n)
    else:
        n_beta = "n/log n"
    out: dict[str, Any] = {
        "lr": settings.step_size,
        "n_beta": n_beta,
        "localization": settings.localization,
        "num_chains": settings.chains,
        "num_draws": settings.steps - settings.burnin,
        "num_burnin_steps": settings.burnin,
        "num_steps_bw_draws": 1,
        "batch_size": settings.batch_size if settings.batch_size is not None else (n or "n"),
        "sampling_method": SAMPLING_METHODS[settings.sampler],
        "noise_level": 1.0,
        "llc_weight_decay": 0.0,
    }
    if settings.sampler == "psgld":
        out["rmsprop_alpha"] = settings.psgld_alpha
        out["rmsprop_eps"] = settings.psgld_eps
    return out


def describe_arguments(settings: SamplerSettings) -> str:
    """The devinterp call arguments as one compact string (for report tables)."""
    try:
        args = devinterp_arguments(settings)
    except ValueError as err:
        return f"n/a ({err})"
    shown = [
        "lr",
        "n_beta",
        "localization",
        "num_chains",
        "num_draws",
        "num_burnin_steps",
        "batch_size",
        "sampling_method",
        "rmsprop_alpha",
        "rmsprop_eps",
    ]
    return ", ".join(f"{k}={args[k]!r}" if isinstance(args[k], str) else f"{k}={args[k]:g}"
                     for k in shown if k in args)


class _IndexDataset:
    """Rows ``{"input_ids": tensor([i, i])}``: the index i of data row i, as a length-2 sequence."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> dict[str, Any]:
        import torch

        return {"input_ids": torch.tensor([i, i], dtype=torch.long)}


def _flat_target_module(target: Any) -> Any:
    import torch

    class FlatTarget(torch.nn.Module):
        """One parameter, the flat w (initialized at w*); forward = the target's batched loss."""

        def __init__(self) -> None:
            super().__init__()
            self.w = torch.nn.Parameter(target.w_star.detach().clone())

        def forward(self, *rows: torch.Tensor) -> torch.Tensor:
            batch = tuple(r.unsqueeze(0) for r in rows)
            return target.loss(self.w.unsqueeze(0), batch)[0]

    return FlatTarget()


def _loss_fn(problem: Any) -> tuple[Any, Any]:
    """(model, loss_fn(model, input_ids) -> (b, 1)) for devinterp."""
    import torch

    target = problem.target
    data = target.data
    make_module = problem.extra.get("torch_module")
    example_loss = problem.extra.get("torch_loss")
    if make_module is not None and example_loss is not None:
        model = make_module()

        def module_loss(model: torch.nn.Module, input_ids: torch.Tensor) -> torch.Tensor:
            idx = input_ids[:, 0].to(data[0].device)
            rows = tuple(t[idx] for t in data)
            output = model(*rows[:-1])
            return example_loss(output, rows[-1]).reshape(-1, 1)

        return model, module_loss
    model = _flat_target_module(target)

    def flat_loss(model: torch.nn.Module, input_ids: torch.Tensor) -> torch.Tensor:
        idx = input_ids[:, 0].to(data[0].device)
        rows = tuple(t[idx] for t in data)
        mean = model(*rows)
        # devinterp averages (b, 1) per-example losses; the batch mean broadcast gives the same
        # mean and the same gradient.
        return mean.expand(idx.shape[0]).reshape(-1, 1)

    return model, flat_loss


def run(
    problem: Any,
    settings: SamplerSettings,
    *,
    seed: int = 0,
    device: str = "cpu",
    output_path: str | None = None,
    progress: bool = False,
) -> dict[str, Any]:
    """Run devinterp 2.0.1's estimator on ``problem`` with the same settings.

    Returns devinterp's ``llc_mean`` (burn-in included, as devinterp computes it), the
    burn-in-excluded mean from devinterp's own loss trace and baseline, the same with our
    full-data baseline L_n(w*) (``llc_mean_full_baseline``: isolates the sampler), the
    per-chain values, the trace, and the wall time. Raises ``ValueError`` if devinterp is not
    installed or the sampler has no devinterp counterpart.
    """
    if not available():
        raise ValueError(f"devinterp: {NOT_INSTALLED}")
    import functools
    import tempfile
    import warnings

    import devinterp.slt.sampler as devinterp_sampler
    from devinterp.slt.llc import llc

    args = devinterp_arguments(settings, problem.n)
    batch_size = int(args.pop("batch_size"))
    model, loss_fn = _loss_fn(problem)
    trange = devinterp_sampler.trange
    if not progress:  # devinterp draws one tqdm bar per chain; silence them unless asked
        devinterp_sampler.trange = functools.partial(trange, disable=True)
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        started = time.perf_counter()
        try:
            result = llc(
                model,
                _IndexDataset(problem.n),
                {},
                loss_fn=loss_fn,
                batch_size=batch_size,
                init_seed=seed,
                device=device,
                output_path=output_path or f"{tmp}/samples.zarr",
                **args,
            )
        finally:
            devinterp_sampler.trange = trange
        trace = np.asarray(result["loss_trace"].values, dtype=np.float64)
        init_loss = float(result["init_loss"].values)
        llc_mean = float(result["llc_mean"].values)
        per_chain = np.asarray(result["llc_per_chain"].values, dtype=np.float64)
        wall = time.perf_counter() - started
    nbeta = float(args["n_beta"])
    kept = trace[:, settings.burnin :]
    per_chain_kept = nbeta * (kept.mean(axis=1) - init_loss)
    target = problem.target
    full_init = float(target.full_loss(target.w_star.unsqueeze(0))[0])
    per_chain_full = nbeta * (kept.mean(axis=1) - full_init)
    chains = len(per_chain_kept)
    stderr = float(per_chain_kept.std(ddof=1) / math.sqrt(chains)) if chains > 1 else math.nan
    return {
        "llc_mean_devinterp": llc_mean,
        "llc_per_chain_devinterp": per_chain,
        "llc_mean_after_burnin": float(per_chain_kept.mean()),
        "llc_stderr_after_burnin": stderr,
        "llc_mean_full_baseline": float(per_chain_full.mean()),
        "init_loss": init_loss,
        "full_init_loss": full_init,
        "loss_trace": trace,
        "nbeta": nbeta,
        "wall_time": wall,
        "arguments": {**args, "batch_size": batch_size},
        "model": "case module" if "torch_loss" in problem.extra else "flat target parameter",
    }


def estimate(
    problem: Any, settings: SamplerSettings, *, seed: int = 0, device: str = "cpu"
) -> Any:
    """devinterp's estimate as an `LLCResult`, so devinterp jobs flow through the same sweep,
    store and report. ``llc_mean`` is devinterp's own number (burn-in included, as a devinterp
    user gets it); ``extra["llc_mean_after_burnin"]`` is our convention on devinterp's trace.
    R-hat and ESS are computed by us on the post-burn-in part of devinterp's trace; a chain
    whose trace is not finite is flagged as diverged and excluded."""
    from rlct.numeric.diagnostics import ess, rhat
    from rlct.numeric.result import LLCResult

    out = run(problem, settings, seed=seed, device=device)
    trace = out["loss_trace"]
    per_chain = np.asarray(out["llc_per_chain_devinterp"], dtype=np.float64)
    diverged = ~np.isfinite(trace).all(axis=1) | ~np.isfinite(per_chain)
    healthy = ~diverged
    kept = trace[healthy, settings.burnin :]
    nbeta = out["nbeta"]
    count = int(healthy.sum())
    mean = float(per_chain[healthy].mean()) if count else math.nan
    stderr = float(per_chain[healthy].std(ddof=1) / math.sqrt(count)) if count > 1 else math.nan
    effective = ess(kept) if count else math.nan
    stderr_ess = (
        float(nbeta * kept.std(ddof=1) / math.sqrt(effective))
        if count and effective > 0
        else math.nan
    )
    wall = out["wall_time"]
    return LLCResult(
        llc_mean=mean,
        llc_stderr=stderr,
        llc_stderr_ess=stderr_ess,
        llc_per_chain=np.where(healthy, per_chain, np.nan),
        loss_trace=trace,
        init_loss=out["init_loss"],
        rhat=rhat(kept) if count else math.nan,
        ess=effective,
        acceptance_rate=None,
        diverged=diverged,
        divergence_reasons=tuple(
            f"chain {c}: non-finite loss in devinterp's trace" for c in np.flatnonzero(diverged)
        ),
        nbeta=nbeta,
        settings=settings,
        seed=seed,
        device=str(device),
        dtype=str(problem.target.w_star.dtype).removeprefix("torch."),
        chain_method="devinterp",
        n=problem.n,
        dim=problem.dim,
        wall_time=wall,
        steps_per_second=settings.chains * settings.steps / wall if wall > 0 else math.inf,
        extra={
            "llc_mean_after_burnin": out["llc_mean_after_burnin"],
            "llc_mean_full_baseline": out["llc_mean_full_baseline"],
            "devinterp_model": out["model"],
        },
    )
