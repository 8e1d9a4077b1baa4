"""`rlct estimate CASE [case parameters] [estimator options]`: sample and estimate the LLC.

Case parameters are passed as ``--name value`` (e.g. ``--widths 10,10,10 --rank 2 --n 10000``)
and validated by the case; estimator options default to the case's recommended settings.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from rlct.numeric.settings import CHAIN_METHODS, SAMPLERS, SamplerSettings


def parse_case_parameters(extra: list[str]) -> dict[str, str]:
    """``["--widths", "5,4,3", "--rank=2"]`` -> ``{"widths": "5,4,3", "rank": "2"}``."""
    params: dict[str, str] = {}
    i = 0
    while i < len(extra):
        token = extra[i]
        if not token.startswith("--") or len(token) == 2:
            raise ValueError(f"case parameters: expected --name value, got {token!r}")
        if "=" in token:
            key, value = token[2:].split("=", 1)
            i += 1
        else:
            if i + 1 >= len(extra) or extra[i + 1].startswith("--"):
                raise ValueError(f"{token[2:].replace('-', '_')}: missing a value")
            key, value = token[2:], extra[i + 1]
            i += 2
        params[key.replace("-", "_")] = value
    return params


def _batch_size(text: str) -> int | str:
    if text == "full":
        return text
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer or 'full', got {text!r}") from None


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "estimate",
        help="estimate the LLC of a case with an SGLD-family sampler",
        description=(
            "Estimate the local learning coefficient of an analytic case at its point w* and "
            "compare with the exact value. Case parameters are given as --name value "
            "(see `rlct cases show NAME`). Unset estimator options take the case's "
            "recommended settings."
        ),
    )
    p.add_argument("case", help="case name (see `rlct cases list`)")
    p.add_argument("--scale", help="a named scale of the case (its parameters; others override)")
    p.add_argument("--sampler", choices=SAMPLERS,
                   help="sgld, psgld (RMSProp-preconditioned), mala, hmc (full batch), or gibbs (exact; dln, "
                   "rrr, multireg)")
    p.add_argument("--leapfrog-steps", type=int, help="hmc: leapfrog steps (gradients) per iteration")
    p.add_argument("--step-size", type=float, help="epsilon: dw = (eps/2) grad log p + N(0, eps)")
    p.add_argument("--nbeta", type=float, help="n*beta, inverse temperature (default n/log n)")
    p.add_argument("--localization", type=float, help="gamma of the (gamma/2)||w - w*||^2 term")
    p.add_argument("--chains", type=int, help="number of chains")
    p.add_argument("--steps", type=int, help="steps per chain, burn-in included")
    p.add_argument("--burnin", type=int, help="steps discarded at the start of each chain")
    p.add_argument("--batch-size", type=_batch_size,
                   help="minibatch size per chain, or 'full' for the full data set")
    p.add_argument("--seed", type=int, default=0, help="root seed for data and sampler (default 0)")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda (default auto)")
    p.add_argument("--dtype", default="float32", choices=("float32", "float64"),
                   help="floating point precision (default float32)")
    p.add_argument("--chain-method", default="vectorized", choices=CHAIN_METHODS,
                   help="vectorized (default) or sequential (reference)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(handler=run, accepts_extra=True)


def settings_from_args(args: argparse.Namespace, base: SamplerSettings) -> SamplerSettings:
    changes: dict[str, Any] = {}
    for name in ("sampler", "step_size", "nbeta", "localization", "chains", "steps", "burnin", "leapfrog_steps"):
        value = getattr(args, name)
        if value is not None:
            changes[name] = value
    if args.batch_size is not None:
        changes["batch_size"] = None if args.batch_size == "full" else args.batch_size
    if "steps" in changes and "burnin" not in changes and base.burnin >= changes["steps"]:
        changes["burnin"] = changes["steps"] // 2
    return base.replace(**changes)


def error_split(estimate: float, reference: float | None, exact: float) -> dict[str, float | None]:
    """theory.md sec. 8: lambda_hat - lambda = (lambda_hat - lambda_beta) + (lambda_beta - lambda).
    ``sampler_error`` = (estimate - reference) / reference, ``estimator_bias`` = (reference -
    exact) / exact, both None without a reference."""
    if reference is None or reference == 0 or exact == 0:
        return {"sampler_error": None, "estimator_bias": None}
    return {"sampler_error": (estimate - reference) / reference, "estimator_bias": (reference - exact) / exact}


def run(args: argparse.Namespace) -> int:
    from rlct.cases import get_case
    from rlct.exact import format_fraction
    from rlct.numeric.device import resolve_device, resolve_dtype
    from rlct.numeric.llc import estimate_llc

    case_cls = get_case(args.case)
    params = parse_case_parameters(args.extra)
    if args.scale is not None:
        case = case_cls.at_scale(args.scale, **params)
    elif not params and case_cls.scales:
        case = case_cls.at_scale(next(iter(case_cls.scales)))
    else:
        case = case_cls(**params)
    if isinstance(args.seed, bool) or args.seed < 0:
        raise ValueError(f"seed: expected a non-negative integer, got {args.seed}")
    device = resolve_device(args.device)
    dtype = resolve_dtype(args.dtype)
    settings = settings_from_args(args, case.recommended())
    case.check_memory(settings, device, dtype)  # before anything large is allocated
    exact = case.exact()
    problem = case.build(seed=args.seed, device=device, dtype=dtype)
    progress = not args.no_progress and not args.json and sys.stderr.isatty()
    result = estimate_llc(
        problem.target, settings, seed=args.seed, chain_method=args.chain_method, progress=progress
    )
    exact_float = float(exact.value)
    reference = case.finite_nbeta_reference(settings.replace(nbeta=result.nbeta))
    split = error_split(result.llc_mean, reference, exact_float)
    out = {
        "case": case_cls.name,
        "parameters": {k: list(v) if isinstance(v, tuple) else v for k, v in case.parameters.items()},
        "llc_mean": result.llc_mean,
        "llc_stderr": result.llc_stderr,
        "exact_lambda": format_fraction(exact.value),
        "exact_lambda_float": exact_float,
        "exact_multiplicity": int(exact.multiplicity),
        "relative_error": result.relative_error(exact_float),
        "lambda_finite_nbeta": reference,
        **split,
        **{k: v for k, v in result.summary().items() if k not in ("llc_mean", "llc_stderr")},
    }
    if args.json:
        print(json.dumps(out, default=str))
        return 0
    print(f"case          {case!r}  (d = {result.dim}, n = {result.n})")
    print(f"exact lambda  {format_fraction(exact.value)} (~ {exact_float:.6g}), m = {exact.multiplicity}, "
          f"{exact.scope} at {exact.point}")
    print(f"LLC estimate  {result.llc_mean:.6g} +- {result.llc_stderr:.3g} (se across chains; "
          f"ESS-based se {result.llc_stderr_ess:.3g})")
    print(f"rel. error    {out['relative_error']:.2%}")
    if reference is not None:
        print(f"reference     n beta E[K] under the exact tempered posterior = {reference:.6g}: sampler error "
              f"{split['sampler_error']:+.2%}, estimator bias {split['estimator_bias']:+.2%}")
    print(f"diagnostics   R-hat {result.rhat:.4f}, ESS {result.ess:.0f}, "
          f"diverged chains {int(result.diverged.sum())}/{settings.chains}"
          + (f", {settings.sampler.upper()} acceptance {out['acceptance_rate']:.2f}"
             if result.acceptance_rate is not None else ""))
    full_batch = settings.full_batch
    print(f"settings      {settings.sampler}, step_size {settings.step_size:g}, nbeta {result.nbeta:.6g}, "
          f"localization {settings.localization:g}, chains {settings.chains}, steps {settings.steps}, "
          f"burnin {settings.burnin}, batch_size {'full' if full_batch else settings.batch_size}"
          + (f", leapfrog_steps {settings.leapfrog_steps}" if settings.sampler == "hmc" else ""))
    print(f"speed         {result.steps_per_second:.0f} chain-steps/s on {result.device} "
          f"({result.dtype}), {result.wall_time:.1f} s")
    for reason in result.divergence_reasons:
        print(f"warning       {reason}")
    return 0
