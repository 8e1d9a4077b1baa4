r"""The LLC estimator on a ladder of inverse temperatures: λ̂ and m̂ without the finite-nβ bias.

One temperature cannot give λ: the estimator's own target λ_t = t E_t[K] (t = nβ) tends to λ
only like λ − (m − 1)/log t (theory.md sec. 8). `estimate_llc_ladder` runs `estimate_llc` at each
rung t_1 < … < t_N on the same data and fits λ_t with the asymptotic forms of
`rlct.numeric.ladder_fit`, which give λ̂, m̂ and their standard errors.

Per rung:

* **Step size** ε_k = ε (t_ref / t_k)^p with t_ref the settings' nβ (n/log n when unset). The
  curvature of the tempered potential grows like t, so p = 1 keeps ε·curvature fixed: the rule
  for SGLD and pSGLD, whose discretization bias and stability depend on it. MALA and HMC have no
  step bias (the Metropolis test corrects it); what limits them is mixing, and no single p serves:
  the flat directions of K relax under the localization at a rate ε·γ, which p = 1 slows 100-fold
  two decades up the ladder, while the regular directions reject a fixed ε at large t. Measured:
  on K = (xy)²/2 (64 chains, n = 10⁷) p = 0 read the rungs 10² … 10⁵ within −0.2% … −6% of the
  exact targets and p = 1/2 read the top two −17% and −18%; on K = y²/2, p = 0 had acceptance 0.17
  and 0.04 at t = 3·10⁴ and 10⁵ and read −5% and −43%. So for MALA and HMC each rung takes **the
  largest step of the p-grid** `PILOT_EXPONENTS` **whose pilot run accepts at least**
  `TARGET_ACCEPTANCE` (a pilot of min(2000, steps/10) steps on at most 8 chains per candidate,
  its own seed stream; counted in the cost). An explicit ``step_exponent`` skips the pilots.
* **Seed**: rung k samples with the seed derived from ``SeedSequence([seed, LADDER_STREAM, k])``;
  the data are the caller's (one target for every rung).
* **n ≫ nβ**: the target is nβ E[L_n − L_n(w*)], which follows K only while the data
  fluctuation is small; the ladder's top rung must be ≤ ``max_fraction_of_n``·n (default n/100),
  checked before anything runs. For K = (xy)²/2 the data shift the zero set to the hyperbola
  xy = s with s ~ N(0, 1/n), which cuts off the log term of m = 2 below |x|, |y| ~ n^(-1/4): with
  MALA, 64 chains and n = 10⁶ the rungs read −1.0% at t = n/100 and −13.5% at t = n/10 against
  the population value. Along a quartic direction the shift is of order √(t/n), not t/n: on
  K = y⁴/2 with n = 10⁷ the rungs read +5%, +7% and +14% at t = 10⁴, 3·10⁴, 10⁵. So n/100 is a
  floor, not a guarantee: above t = n/10⁴ the result carries a warning with √(t_max/n).
* **Flags**: a rung whose every chain diverged (NaN or escape) is dropped from the fit with a
  warning; one with some diverged chains keeps the healthy ones (`estimate_llc`) and is named;
  a rung with R-hat > `RHAT_LIMIT` is named as not mixed. Fewer than three usable rungs → no fit.

Cost: the ladder costs the sum of its rungs' (and pilots') gradient evaluations; ``cost_ratio`` divides it by
the cost of the single-temperature run at the settings' own nβ (the same settings), and is
printed by the command line.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from rlct.numeric.ladder_fit import DEFAULT_REL_FLOOR, LadderFit, check_ladder, fit_ladder
from rlct.numeric.llc import estimate_llc
from rlct.numeric.result import LLCResult
from rlct.numeric.seeding import seed_sequence
from rlct.numeric.settings import SamplerSettings
from rlct.numeric.target import Target

LADDER_STREAM = 7949  # SeedSequence key of the rungs' sampler seeds
RHAT_LIMIT = 1.1
DATA_WARNING_FRACTION = 1e-4  # above t = n * this, warn of the data's sqrt(t/n) fluctuation
PILOT_STREAM = 7951  # SeedSequence key of the pilot runs' seeds
METROPOLIS_SAMPLERS = ("mala", "hmc")
PILOT_EXPONENTS = (0.0, 0.25, 0.5, 0.75, 1.0)
TARGET_ACCEPTANCE = 0.6
PILOT_CHAINS = 8


def default_step_exponent(sampler: str) -> float:
    """p of the fixed step-size rule for ``sampler``: 1 for the SGLD family, 0 for the others
    (whose rungs are tuned by pilots unless p is given; module docstring)."""
    return 0.0 if sampler in (*METROPOLIS_SAMPLERS, "gibbs") else 1.0


def rung_seed(seed: int, rung: int) -> int:
    """The sampler seed of rung ``rung`` (a 31-bit integer from the root ``seed``)."""
    return int(seed_sequence(seed, LADDER_STREAM, rung).generate_state(1, dtype=np.uint32)[0] >> 1)


def rung_settings(settings: SamplerSettings, nbeta: float, n: int,
                  step_exponent: float | None = None) -> SamplerSettings:
    """``settings`` at inverse temperature ``nbeta``: ε (t_ref / nbeta)^p (module docstring; p
    by sampler when None); the Gibbs sampler has no step size and keeps its own."""
    if step_exponent is None:
        step_exponent = default_step_exponent(settings.sampler)
    reference = settings.resolved_nbeta(n)
    step = settings.step_size * (reference / nbeta) ** step_exponent
    return settings.replace(nbeta=float(nbeta), step_size=step)


@dataclass(frozen=True)
class LadderResult:
    """λ̂ and m̂ from a ladder, with every rung's estimate and the reasons to distrust them.

    Attributes:
        fit: the asymptotic fit (`rlct.numeric.ladder_fit.LadderFit`), None when fewer than three
            rungs were usable.
        rungs: the `LLCResult` of every rung, in ladder order.
        used: (rung,) True where the rung entered the fit.
        warnings: the fit's warnings and the rungs' flags.
        cost_ratio: gradient evaluations of the ladder (pilots included) / those of one run at the
            settings' nβ.
    """

    fit: LadderFit | None
    rungs: tuple[LLCResult, ...]
    used: tuple[bool, ...]
    warnings: tuple[str, ...]
    cost_ratio: float

    @property
    def nbetas(self) -> tuple[float, ...]:
        return tuple(r.nbeta for r in self.rungs)

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "lambda_corrected": math.nan, "lambda_corrected_se": math.nan, "m_hat": None,
            "m_continuous": math.nan, "m_continuous_se": math.nan, "ladder_model": None,
        }
        if self.fit is not None:
            out.update(self.fit.summary())
        out.update({
            "ladder_nbetas": list(self.nbetas),
            "ladder_values": [r.llc_mean for r in self.rungs],
            "ladder_stderrs": [r.llc_stderr for r in self.rungs],
            "ladder_rhat": [r.rhat for r in self.rungs],
            "ladder_used": list(self.used),
            "ladder_warnings": list(self.warnings),
            "ladder_cost_ratio": self.cost_ratio,
        })
        return out


def _cost(settings: SamplerSettings) -> float:
    return float(settings.chains * settings.steps * settings.gradients_per_step)


def tuned_rung_settings(target: Target, settings: SamplerSettings, nbeta: float, *, seed: int, rung: int,
                        device: Any = "auto") -> tuple[SamplerSettings, dict[str, Any]]:
    """For MALA and HMC: the rung's settings with the largest step of ε (t_ref / t)^p, p in
    `PILOT_EXPONENTS`, whose pilot accepts ≥ `TARGET_ACCEPTANCE` (the smallest step when none
    does); other samplers: the fixed rule. Returns the settings and the pilots' record (chosen p,
    each pilot's acceptance, their cost in chain-gradient evaluations)."""
    if settings.sampler not in METROPOLIS_SAMPLERS:
        return rung_settings(settings, nbeta, target.n), {"step_exponent": default_step_exponent(settings.sampler),
                                                          "pilot_acceptance": [], "pilot_cost": 0.0}
    pilot_steps = max(200, min(2000, settings.steps // 10))
    accepted: list[float] = []
    cost = 0.0
    chosen = rung_settings(settings, nbeta, target.n, PILOT_EXPONENTS[-1])
    exponent = PILOT_EXPONENTS[-1]
    for k, p in enumerate(PILOT_EXPONENTS):
        candidate = rung_settings(settings, nbeta, target.n, p)
        pilot = candidate.replace(steps=pilot_steps, burnin=pilot_steps // 2,
                                  chains=min(settings.chains, PILOT_CHAINS))
        pilot_seed = int(seed_sequence(seed, PILOT_STREAM, rung, k).generate_state(1, dtype=np.uint32)[0] >> 1)
        result = estimate_llc(target, pilot, seed=pilot_seed, device=device)
        cost += _cost(pilot)
        rate = float(np.mean(result.acceptance_rate)) if result.acceptance_rate is not None else 1.0
        accepted.append(rate)
        if rate >= TARGET_ACCEPTANCE:
            chosen, exponent = candidate, p
            break
    return chosen, {"step_exponent": exponent, "pilot_acceptance": accepted, "pilot_cost": cost}


def estimate_llc_ladder(
    target: Target,
    settings: SamplerSettings,
    nbetas: Sequence[float],
    *,
    seed: int = 0,
    step_exponent: float | None = None,
    max_fraction_of_n: float = 0.01,
    device: Any = "auto",
    chain_method: str = "vectorized",
    rel_floor: float | None = None,
) -> LadderResult:
    """Run the LLC estimator at every rung of ``nbetas`` and fit λ and m (module docstring).

    Args:
        target: the batched loss, data and w* (one data set for every rung).
        settings: the sampler settings at their own nβ (the step size is scaled per rung).
        nbetas: the ladder (≥ 3 increasing positive values, top ≤ ``max_fraction_of_n``·n).
        seed: root seed of the rungs' sampler seeds (`rung_seed`).
        step_exponent: p of ε_k = ε (t_ref / t_k)^p, in [0, 1]; None: MALA and HMC tune each
            rung by pilots (`tuned_rung_settings`), the SGLD family takes p = 1.
        rel_floor: passed to `rlct.numeric.ladder_fit.fit_ladder` (None: its default).
    """
    ladder = check_ladder(nbetas, target.n, max_fraction_of_n=max_fraction_of_n)
    if step_exponent is not None and not (isinstance(step_exponent, (int, float)) and 0.0 <= step_exponent <= 1.0):
        raise ValueError(f"step_exponent: expected a number in [0, 1], got {step_exponent!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed: expected a non-negative integer, got {seed!r}")
    rungs, used, warnings = [], [], []
    pilot_cost = 0.0
    for k, nbeta in enumerate(ladder):
        if step_exponent is None:
            rung, pilots = tuned_rung_settings(target, settings, float(nbeta), seed=seed, rung=k, device=device)
            pilot_cost += pilots["pilot_cost"]
            if pilots["pilot_acceptance"] and max(pilots["pilot_acceptance"]) < TARGET_ACCEPTANCE:
                warnings.append(f"rung nbeta = {nbeta:g}: no pilot step reached acceptance {TARGET_ACCEPTANCE:g} "
                                f"(best {max(pilots['pilot_acceptance']):.2f}); ran at the smallest step")
        else:
            rung = rung_settings(settings, float(nbeta), target.n, step_exponent)
        result = estimate_llc(target, rung, seed=rung_seed(seed, k), device=device, chain_method=chain_method)
        rungs.append(result)
        ok = math.isfinite(result.llc_mean) and math.isfinite(result.llc_stderr)
        used.append(ok)
        if not ok:
            warnings.append(f"rung nbeta = {nbeta:g}: every chain diverged or the estimate is not finite; "
                            "left out of the fit")
            continue
        if result.any_diverged:
            warnings.append(f"rung nbeta = {nbeta:g}: {int(result.diverged.sum())} of {rung.chains} "
                            "chains diverged (excluded)")
        if not result.rhat <= RHAT_LIMIT:
            warnings.append(f"rung nbeta = {nbeta:g}: not mixed (R-hat {result.rhat:.3f}, ESS {result.ess:.0f})")
    if ladder[-1] > DATA_WARNING_FRACTION * target.n:
        warnings.append(f"data fluctuation: the top rung is n/{target.n / ladder[-1]:.3g}; along quartic (or "
                        f"flatter) directions of K the data move lambda_t by up to ~sqrt(t/n) = "
                        f"{math.sqrt(ladder[-1] / target.n):.1%} (raise n to shrink it)")
    fit = None
    usable = [r for r, ok in zip(rungs, used) if ok]
    if len(usable) >= 3:
        fit = fit_ladder([r.nbeta for r in usable], [r.llc_mean for r in usable],
                         [r.llc_stderr for r in usable],
                         rel_floor=DEFAULT_REL_FLOOR if rel_floor is None else rel_floor)
        warnings = list(fit.warnings) + warnings
    else:
        warnings.append(f"no fit: {len(usable)} usable rungs (need 3)")
    cost_ratio = (sum(_cost(r.settings) for r in rungs) + pilot_cost) / _cost(settings)
    return LadderResult(fit=fit, rungs=tuple(rungs), used=tuple(used), warnings=tuple(warnings),
                        cost_ratio=cost_ratio)
