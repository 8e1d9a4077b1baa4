"""`rlct estimate CASE [case parameters] [estimator options]`: sample and estimate the LLC.

Case parameters are passed as ``--name value`` (e.g. ``--widths 10,10,10 --rank 2 --n 10000``)
and validated by the case; estimator options default to the case's recommended settings.
"""

from __future__ import annotations

import argparse
import json
import math
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


def _ladder(text: str) -> list[float]:
    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None


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
    p.add_argument("--nbeta-ladder", type=_ladder,
                   help="comma-separated increasing n*beta values (>= 3, top <= n/100), e.g. "
                   "1e2,1e3,1e4,1e5: run the estimator at each and fit lambda and m from the ladder "
                   "(rlct.numeric.ladder)")
    p.add_argument("--step-exponent", type=float,
                   help="ladder: step size at rung t is step_size * (nbeta / t)^p (default: mala and "
                   "hmc take the largest p-grid step a pilot accepts at >= 0.6; sgld and psgld p = 1)")
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


def _print_header(case: Any, dim: int, n: int, exact: Any) -> None:
    """The first two lines of the text output: the case, and its exact lambda and m."""
    from rlct.exact import format_fraction

    print(f"case          {case!r}  (d = {dim}, n = {n})")
    print(f"exact lambda  {format_fraction(exact.value)} (~ {float(exact.value):.6g}), m = {exact.multiplicity}, "
          f"{exact.scope} at {exact.point}")


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
    if args.nbeta_ladder is not None:
        from rlct.numeric.ladder_fit import check_ladder

        footprint = case.footprint()
        check_ladder(args.nbeta_ladder, footprint.n if footprint is not None else case.parameters.get("n"))
        if args.step_exponent is not None and not 0.0 <= args.step_exponent <= 1.0:
            raise ValueError(f"step_exponent: expected a number in [0, 1], got {args.step_exponent}")
    case.check_memory(settings, device, dtype)  # before anything large is allocated
    exact = case.exact()
    problem = case.build(seed=args.seed, device=device, dtype=dtype)
    progress = not args.no_progress and not args.json and sys.stderr.isatty()
    if args.nbeta_ladder is not None:
        return run_ladder(args, case, problem, settings, exact)
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
    _print_header(case, result.dim, result.n, exact)
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


def run_ladder(args: argparse.Namespace, case: Any, problem: Any, settings: SamplerSettings, exact: Any) -> int:
    """``--nbeta-ladder``: the estimator at every rung, the fit of lambda and m, and (where the
    case computes the exact tempered target) the same fit on the exact rungs, which is the
    correction's own error with no sampler in it."""
    from rlct.exact import format_fraction
    from rlct.numeric.ladder import estimate_llc_ladder
    from rlct.numeric.ladder_fit import fit_ladder

    result = estimate_llc_ladder(problem.target, settings, args.nbeta_ladder, seed=args.seed,
                                 step_exponent=args.step_exponent, chain_method=args.chain_method)
    exact_float = float(exact.value)
    references = [case.finite_nbeta_reference(r.settings) for r in result.rungs]
    reference_fit = None
    if all(v is not None for v in references):
        reference_fit = fit_ladder(list(result.nbetas), references)
    fit = result.fit
    out: dict[str, Any] = {
        "case": case.name,
        "parameters": {k: list(v) if isinstance(v, tuple) else v for k, v in case.parameters.items()},
        "exact_lambda": format_fraction(exact.value),
        "exact_lambda_float": exact_float,
        "exact_multiplicity": int(exact.multiplicity),
        **result.summary(),
        "relative_error_corrected": (fit.lam - exact_float) / exact_float if fit else None,
        "relative_error_top_rung": (result.rungs[-1].llc_mean - exact_float) / exact_float,
        "ladder_references": references if reference_fit else None,
        "reference_lambda_corrected": reference_fit.lam if reference_fit else None,
        "reference_m_hat": reference_fit.multiplicity if reference_fit else None,
        "wall_time": sum(r.wall_time for r in result.rungs),
    }
    if args.json:
        print(json.dumps(out, default=str))
        return 0
    _print_header(case, problem.target.dim, problem.target.n, exact)
    print("rung  nbeta        step_size   lambda_t (estimate)      R-hat   exact lambda_t")
    for k, rung in enumerate(result.rungs):
        ref = references[k]
        print(f"{k:>4}  {rung.nbeta:<11.4g}  {rung.settings.step_size:<10.3g}  "
              f"{rung.llc_mean:>10.6g} +- {rung.llc_stderr:<9.3g}  {rung.rhat:<6.4f}  "
              + (f"{ref:.6g}" if ref is not None else "-"))
    if fit is None:
        print("ladder fit    none (fewer than 3 usable rungs)")
    else:
        print(f"corrected     lambda = {fit.lam:.6g} +- {fit.lam_stderr:.3g} "
              f"(error {out['relative_error_corrected']:+.2%}; top rung alone {out['relative_error_top_rung']:+.2%}), "
              f"m = {fit.multiplicity} (exact {exact.multiplicity}; "
              + (f"free fit {fit.m_continuous:.2f} +- {fit.m_stderr:.2f}"
                 if math.isfinite(fit.m_stderr) and fit.m_stderr < 1 else "free fit: m not resolved")
              + f"), model {fit.model}")
    if reference_fit is not None:
        print(f"exact rungs   the same fit on the exact tempered targets: lambda = {reference_fit.lam:.6g} "
              f"({(reference_fit.lam - exact_float) / exact_float:+.2%}), m = {reference_fit.multiplicity}: the "
              "correction's own error, without the sampler's")
    print(f"cost          {result.cost_ratio:.1f} x one run at nbeta {settings.resolved_nbeta(problem.target.n):.6g} "
          f"({out['wall_time']:.1f} s)")
    for reason in result.warnings:
        print(f"warning       {reason}")
    return 0
