"""Volume scaling: lambda and m from V(eps) = prior mass of {w in box : K(w) < eps}.

V(eps) ~ c eps^lambda (-log eps)^(m-1) as eps -> 0 (Watanabe 2009, "Algebraic Geometry and
Statistical Learning Theory", ch. 4: V is the integral of the state density, whose Mellin
transform is the zeta function; see `asymptotic_fit` for the full expansion that is fitted).

Estimating V(eps) down to eps = 1e-12 by plain Monte Carlo would need ~1/V samples (1e18 for
lambda = 3/2). Instead each batch runs multilevel splitting (subset simulation; Au & Beck 2001,
"Estimation of small failure probabilities in high dimensions by subset simulation",
Probabilistic Engineering Mechanics 16(4):263-277; as a sequential Monte Carlo sampler: Cerou,
Del Moral, Furon & Guyader 2012, "Sequential Monte Carlo for rare event estimation", Statistics
and Computing 22:795-808):

1. N particles from the prior; eps_0 = infinity, V_0 = 1.
2. eps_{k+1} = the `level_fraction` quantile of K over the particles;
   V(eps_{k+1}) = V(eps_k) * (fraction of particles with K < eps_{k+1}); for eps on the output
   grid in [eps_{k+1}, eps_k), V(eps) = V(eps_k) * (fraction with K < eps).
3. The survivors are replicated back to N and moved by `mcmc_steps` Metropolis-Hastings steps
   that leave the prior restricted to {K < eps_{k+1}} invariant, then back to 2.

The number of levels grows like lambda log(1/eps_min) / log(1/level_fraction), so the cost is
logarithmic in 1/V. The batches run in lockstep (one array operation per MCMC step for all of
them) but share no particles, thresholds or tuning.

Proposals (one coordinate, or all of them, per step; each symmetric in its own coordinates and
accepted with the prior density ratio and the constraints K < eps, w in box):
* a random walk in log|w_j| with step sigma N(0, 1), sigma log-uniform in LOG_STEP_RANGE
  (scale-free, for the multi-scale sets near coordinate hyperplanes; ratio (|w'|/|w|)^(h+1));
* an additive move of one coordinate or of all of them, of size (side) 10^(-s): s uniform over
  all decades down to eps, or, with probability FOCUS_PROBABILITY, around the decade that gave
  the largest expected squared jump in the previous level of the same batch (for thin sets not
  aligned with the axes, e.g. near the rank-deficient matrices of a linear network);
* a sign flip of one coordinate.

Mixing matters: with adaptive levels, particles duplicated at resampling that the MCMC does not
separate make the quantile thresholds too optimistic, and log V drifts low. Measured on K = u
on [0, 1] (V = eps): with the log-step range (0.01, 3) and 12 steps per level log V was
~1.0 too low at eps = 1e-16, with 100 steps it was unbiased; on DLN [2,2,2] with non-adaptive
additive steps the fitted lambda was 1.513 +- 0.001 (truth 3/2) until the steps were tripled.
With the ESJD focus and 26 = 10 + 2d steps, DLN [2,2,2] down to eps = 1e-24 still drifted
(m = 1 fit 1.511 +- 0.006, m selected 2); with 52 steps it gave 1.494 +- 0.003, m = 1.
The defaults here (LOG_STEP_RANGE, the ESJD focus, 10 + 5d steps) gave estimates within
4 standard errors + 0.03 on every case of tests/test_oracles.py; ``details["acceptance"]``
reports the acceptance rate of each kind of move.

The standard error comes from B independent batches: the curves are averaged (V, not log V,
is what each batch estimates without bias), lambda is fitted to the average, and the jackknife
over batches gives the stderr, each delete-one replicate making its own
choice of m, so that an unstable choice shows up in the stderr. m is selected as the rounded
1 + mu of the fit log V = a - lambda x + mu log x (x = -log eps); see `loglog_multiplicity`.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from rlct.numeric.oracles.asymptotic_fit import (
    PowerLogFit,
    PowerLogLogFit,
    fit_power_log,
    fit_power_loglog,
    local_slopes,
)
from rlct.numeric.oracles.domain import (
    KFunction,
    ProductDomain,
    as_dim,
    as_seed,
    checked_K,
    make_domain,
)
from rlct.numeric.oracles.result import OracleEstimate

METHOD = "volume-scaling"
# Proposal mix: log-scale move, additive move of one coordinate, sign flip, joint additive move.
MOVE_PROBABILITIES = (0.4, 0.3, 0.1, 0.2)
# The log-scale move's step is sigma * N(0, 1), sigma log-uniform in this range.
LOG_STEP_RANGE = (0.2, 3.0)
# Additive steps are range_j * 10^(-s), s uniform in [0, s_max],
# s_max = ADDITIVE_DECADES_MARGIN + log10(1/eps): down to the width eps of {c u < eps}.
ADDITIVE_DECADES_MARGIN = 2.0
# Additive step decades: with this probability the decade is drawn around the previous level's
# decade of largest expected squared jump (ESJD), within +- FOCUS_HALF_WIDTH; decades with fewer
# than MIN_TRIALS_PER_DECADE proposals are not considered. ESJD is the usual criterion for
# tuning random-walk proposals (Pasarica & Gelman 2010, Statistica Sinica 20:343-364).
FOCUS_PROBABILITY = 0.5
FOCUS_HALF_WIDTH = 1.0
MIN_TRIALS_PER_DECADE = 20
DECADE_BINS = 64
# Candidates for m are 1..min(d, MAX_MULTIPLICITY) unless asked otherwise.
MAX_MULTIPLICITY = 4
# A batch that has not reached eps_min after this many levels is reported as failed.
MAX_LEVELS = 2000


@dataclass(frozen=True)
class MultilevelRun:
    """B batches of multilevel splitting: log V on the eps grid and the cost.

    Attributes:
        log_volume: (B, G) log V(eps) of each batch on the grid (NaN where a batch failed).
        evaluations: K evaluations over all batches.
        levels: (B,) number of levels each batch used.
        acceptance: acceptance rate of each proposal kind (see MOVE_PROBABILITIES).
        failures: one message per failed batch.
    """

    log_volume: np.ndarray
    evaluations: int
    levels: np.ndarray
    acceptance: tuple[float, ...]
    failures: tuple[str, ...]


def _log_ratio(new: np.ndarray, old: np.ndarray, power: np.ndarray) -> np.ndarray:
    """power * (log|new| - log|old|), with 0 where power == 0 (no 0 * inf)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        out = power * (np.log(np.abs(new)) - np.log(np.abs(old)))
    out[power == 0] = 0.0
    out[np.isnan(out)] = -np.inf
    return out


@dataclass
class StepStatistics:
    """Running counts of one level's MCMC, per batch where it matters.

    Attributes:
        accepted, proposed: (kinds,) accepted and proposed moves per proposal kind.
        jump: (B, bins) sum of accepted squared additive jumps (in units of the box side) by
            the decade s of the step size; trials: (B, bins) additive proposals by decade.
    """

    accepted: np.ndarray
    proposed: np.ndarray
    jump: np.ndarray
    trials: np.ndarray


def _draw_decades(rng: np.random.Generator, s_max: np.ndarray, focus: np.ndarray) -> np.ndarray:
    """Decades s of the additive step sizes 10^(-s): uniform on [0, s_max], or with probability
    FOCUS_PROBABILITY uniform on focus +- FOCUS_HALF_WIDTH (clipped), where focus (per
    particle, NaN = none) is the decade of largest expected squared jump at the previous level.
    The mixture does not depend on the current state, so the proposal stays symmetric."""
    broad = rng.uniform(0.0, 1.0, size=s_max.shape) * s_max
    centred = focus + rng.uniform(-FOCUS_HALF_WIDTH, FOCUS_HALF_WIDTH, size=s_max.shape)
    use_focus = np.isfinite(focus) & (rng.random(s_max.shape) < FOCUS_PROBABILITY)
    return np.where(use_focus, np.clip(centred, 0.0, s_max), broad)


def _mcmc_step(
    W: np.ndarray,
    k_values: np.ndarray,
    eps: np.ndarray,
    focus: np.ndarray,
    batch: np.ndarray,
    K: KFunction,
    domain: ProductDomain,
    rng: np.random.Generator,
    stats: StepStatistics,
) -> None:
    """One Metropolis-Hastings step for every particle (row of W), in place.

    Particle i belongs to batch ``batch[i]`` and targets the prior restricted to
    {K < eps[i]}; ``focus[i]`` is its batch's preferred additive decade (see `_draw_decades`).
    """
    n, d = W.shape
    rows = np.arange(n)
    coord = rng.integers(d, size=n)
    kind = np.asarray(np.searchsorted(np.cumsum(MOVE_PROBABILITIES), rng.random(n) * 0.999999999), dtype=int)
    h = domain.prior_exponents[coord]
    span = domain.ranges()
    s_max = ADDITIVE_DECADES_MARGIN + np.log10(1.0 / np.maximum(eps, 1e-300))
    decades = _draw_decades(rng, s_max, focus)
    old = W[rows, coord]
    log_sigma = np.log(LOG_STEP_RANGE)
    sigma = np.exp(rng.uniform(log_sigma[0], log_sigma[1], size=n)) * rng.standard_normal(n)
    noise = rng.standard_normal(n)
    additive = span[coord] * 10.0 ** (-decades) * noise
    jump = (10.0 ** (-decades) * noise) ** 2
    new = np.select([kind == 0, kind == 1, kind == 2], [old * np.exp(sigma), old + additive, -old], old)
    log_alpha = np.where(kind == 0, (h + 1.0) * sigma, 0.0)
    single = kind == 1
    log_alpha[single] = _log_ratio(new[single], old[single], h[single])
    proposal = W.copy()
    proposal[rows, coord] = new
    joint = np.flatnonzero(kind == 3)
    if joint.size:
        unit = rng.standard_normal((joint.size, d))
        moved = W[joint] + span * 10.0 ** (-decades[joint, None]) * unit
        proposal[joint] = moved
        jump[joint] = 10.0 ** (-2 * decades[joint]) * np.sum(unit**2, axis=1)
        ratios = _log_ratio(moved, W[joint], np.broadcast_to(domain.prior_exponents, moved.shape))
        log_alpha[joint] = ratios.sum(axis=1)
    inside = domain.contains(proposal)
    k_new = np.full(n, np.inf)
    if np.any(inside):
        k_new[inside] = K(proposal[inside])
    accept = inside & (k_new < eps) & (np.log(rng.random(n)) < log_alpha)
    W[accept] = proposal[accept]
    k_values[accept] = k_new[accept]
    kinds = len(MOVE_PROBABILITIES)
    stats.accepted += np.bincount(kind[accept], minlength=kinds)
    stats.proposed += np.bincount(kind, minlength=kinds)
    moves = (kind == 1) | (kind == 3)
    bins = stats.trials.shape[1]
    cell = batch[moves] * bins + np.minimum(decades[moves].astype(int), bins - 1)
    size = stats.trials.size
    stats.trials += np.bincount(cell, minlength=size).reshape(stats.trials.shape)
    gained = np.where(accept[moves], jump[moves], 0.0)
    stats.jump += np.bincount(cell, weights=gained, minlength=size).reshape(stats.jump.shape)


def _focus_decades(stats: StepStatistics) -> np.ndarray:
    """(B,) centre of the decade with the largest expected squared jump (NaN if none)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        esjd = np.where(stats.trials >= MIN_TRIALS_PER_DECADE, stats.jump / stats.trials, 0.0)
    best = np.argmax(esjd, axis=1).astype(float) + 0.5
    return np.where(np.max(esjd, axis=1) > 0, best, np.nan)


def multilevel_log_volume(
    K: KFunction,
    domain: ProductDomain,
    rng: np.random.Generator,
    eps_grid: np.ndarray,
    *,
    batches: int,
    n_particles: int,
    level_fraction: float,
    mcmc_steps: int,
) -> MultilevelRun:
    """log V(eps) on ``eps_grid`` (decreasing) by ``batches`` independent runs of multilevel
    splitting, advanced in lockstep so that the MCMC moves of all batches are one array
    operation (the batches share no particles and no thresholds)."""
    dim = domain.dim
    W = domain.sample_prior(rng, batches * n_particles).reshape(batches, n_particles, dim)
    k_values = K(W.reshape(-1, dim)).reshape(batches, n_particles)
    evaluations = batches * n_particles
    log_v_level = np.zeros(batches)
    out = np.full((batches, eps_grid.size), np.nan)
    position = np.zeros(batches, dtype=int)
    levels = np.zeros(batches, dtype=int)
    active = np.ones(batches, dtype=bool)
    failures: list[str] = []
    kinds = len(MOVE_PROBABILITIES)
    accepted_total = np.zeros(kinds)
    proposed_total = np.zeros(kinds)
    focus = np.full(batches, np.nan)
    kth = int(level_fraction * n_particles)
    while np.any(active):
        thresholds = np.full(batches, np.nan)
        for b in np.flatnonzero(active):
            eps_next = float(np.partition(k_values[b], kth)[kth])
            while position[b] < eps_grid.size and eps_grid[position[b]] >= eps_next:
                fraction = float(np.mean(k_values[b] < eps_grid[position[b]]))
                if fraction > 0:
                    out[b, position[b]] = log_v_level[b] + math.log(fraction)
                position[b] += 1
            if position[b] == eps_grid.size:
                active[b] = False
                continue
            survivors = np.flatnonzero(k_values[b] < eps_next)
            if survivors.size == 0 or levels[b] >= MAX_LEVELS:
                reason = (
                    f"no particle below eps = {eps_next:.3g} (K values tie at the level)"
                    if survivors.size == 0
                    else f"eps_min not reached after {MAX_LEVELS} levels"
                )
                failures.append(f"batch {b}: {reason}")
                out[b] = np.nan
                active[b] = False
                continue
            log_v_level[b] += math.log(survivors.size / n_particles)
            chosen = np.resize(rng.permutation(survivors), n_particles)
            W[b], k_values[b] = W[b, chosen], k_values[b, chosen]
            thresholds[b] = eps_next
            levels[b] += 1
        moving = np.flatnonzero(active)
        if moving.size == 0:
            break
        flat_W = W[moving].reshape(-1, dim)
        flat_k = k_values[moving].reshape(-1)
        flat_eps = np.repeat(thresholds[moving], n_particles)
        flat_focus = np.repeat(focus[moving], n_particles)
        owner = np.repeat(np.arange(moving.size), n_particles)
        stats = StepStatistics(
            accepted=np.zeros(kinds),
            proposed=np.zeros(kinds),
            jump=np.zeros((moving.size, DECADE_BINS)),
            trials=np.zeros((moving.size, DECADE_BINS)),
        )
        for _ in range(mcmc_steps):
            _mcmc_step(flat_W, flat_k, flat_eps, flat_focus, owner, K, domain, rng, stats)
        accepted_total += stats.accepted
        proposed_total += stats.proposed
        focus[moving] = _focus_decades(stats)
        W[moving] = flat_W.reshape(moving.size, n_particles, dim)
        k_values[moving] = flat_k.reshape(moving.size, n_particles)
        evaluations += mcmc_steps * moving.size * n_particles
    acceptance = tuple(float(a / p) if p else math.nan for a, p in zip(accepted_total, proposed_total))
    return MultilevelRun(out, evaluations, levels, acceptance, tuple(failures))


def _jackknife_stderr(replicates: np.ndarray) -> float:
    """sqrt((B-1)/B sum (t_b - mean t)^2) over the B delete-one replicates."""
    count = replicates.size
    return float(math.sqrt((count - 1) / count * np.sum((replicates - replicates.mean()) ** 2)))


def _pooled_log(log_volumes: np.ndarray) -> np.ndarray:
    """log of the mean over batches of V (the batches are unbiased for V, not for log V)."""
    peak = np.max(log_volumes, axis=0)
    return peak + np.log(np.mean(np.exp(log_volumes - peak), axis=0))


def _weights(log_volumes: np.ndarray) -> np.ndarray:
    """Inverse variance of log(mean V) per grid point, from the spread of the batches."""
    volumes = np.exp(log_volumes - _pooled_log(log_volumes))
    variance = np.var(volumes, axis=0, ddof=1) / volumes.shape[0]
    variance = np.maximum(variance, 1e-12)
    return 1.0 / variance


def _fit(x: np.ndarray, log_volumes: np.ndarray, m: int, lam_bounds: tuple[float, float]) -> PowerLogFit:
    return fit_power_log(
        x,
        _pooled_log(log_volumes),
        m,
        lam_bounds=lam_bounds,
        weights=_weights(log_volumes),
        polish=False,
    )


def loglog_multiplicity(x: np.ndarray, log_volumes: np.ndarray, m_cap: int) -> tuple[int, PowerLogLogFit]:
    """m = 1 + mu rounded (and clipped to [1, m_cap]), mu from the weighted fit
    log V = a - lambda x + mu log x of the pooled curve.

    With Monte Carlo noise this two-parameter-plus-one family separates m far more stably than
    comparing the m-coefficient polynomial fits (measured on the cases of tests/test_oracles.py:
    leave-one-batch-out cross-validation of the polynomial fits chose m = 2 for (xyz)^2, m = 3
    for RRR (2,1,2,0) and m = 3 for a regular quadratic; rounded 1 + mu was right in all nine
    cases).
    """
    fit = fit_power_loglog(x, _pooled_log(log_volumes), _weights(log_volumes))
    return int(np.clip(round(fit.multiplicity), 1, m_cap)), fit


def volume_scaling(
    K_fn: object,
    dim: int,
    *,
    box: object,
    prior: object = None,
    seed: int,
    n_samples: int = 1000,
    n_batches: int = 8,
    eps_range: tuple[float, float] = (1e-24, 1e-4),
    eps_per_decade: int = 4,
    level_fraction: float = 0.5,
    mcmc_steps: int | None = None,
    max_multiplicity: int | None = None,
) -> OracleEstimate:
    """Estimate lambda (and m) at w = 0 from the volume V(eps) = P_prior(K < eps).

    Args:
        K_fn: vectorized K(W: (N, d)) -> (N,), K >= 0 and K(0) = 0.
        dim: d >= 1.
        box: (lo, hi) for every coordinate or a list of d pairs; each must contain 0.
        prior: exponents h_j >= 0 of the prior prod |w_j|^(h_j) on the box (None: uniform).
        seed: root of the numpy SeedSequence of the one Generator that drives all batches.
        n_samples: particles per level in each batch.
        n_batches: B independent batches (>= 3), for the jackknife standard error.
        eps_range: (eps_min, eps_max): the fitted grid of eps, log-spaced.
        eps_per_decade: grid points per decade of eps.
        level_fraction: the conditional probability targeted per level (a quantile of K).
        mcmc_steps: Metropolis-Hastings steps per level (default 10 + 5 d).
        max_multiplicity: largest m tried (default min(d, 4)).

    Returns:
        `OracleEstimate` with method "volume-scaling"; ``details`` holds the eps grid, the
        pooled and per-batch log V, the per-m fits (with fixed-m jackknife stderr), the jackknife
        replicates, the fit with m free ((-log eps) exponent), local slopes and MCMC acceptance.
    """
    d = as_dim(dim)
    domain = make_domain(box, prior, d)
    K = checked_K(K_fn, domain)
    root = as_seed(seed)
    for name, value, minimum in (
        ("n_samples", n_samples, 10),
        ("n_batches", n_batches, 3),
        ("eps_per_decade", eps_per_decade, 1),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ValueError(f"{name}: expected an integer >= {minimum}, got {value!r}")
    steps = 10 + 5 * d if mcmc_steps is None else mcmc_steps
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"mcmc_steps: expected an integer >= 1, got {mcmc_steps!r}")
    if not (isinstance(level_fraction, float) and 0.05 <= level_fraction <= 0.9):
        raise ValueError(f"level_fraction: expected a float in [0.05, 0.9], got {level_fraction!r}")
    if (
        isinstance(eps_range, (str, bytes))
        or not hasattr(eps_range, "__len__")
        or len(eps_range) != 2
        or not all(isinstance(e, (int, float)) and not isinstance(e, bool) for e in eps_range)
        or not 0 < eps_range[0] < eps_range[1]
    ):
        raise ValueError(f"eps_range: expected (eps_min, eps_max) with 0 < eps_min < eps_max, got {eps_range!r}")
    m_cap = min(d, MAX_MULTIPLICITY) if max_multiplicity is None else max_multiplicity
    if isinstance(m_cap, bool) or not isinstance(m_cap, int) or m_cap < 1:
        raise ValueError(f"max_multiplicity: expected an integer >= 1, got {max_multiplicity!r}")

    eps_min, eps_max = float(eps_range[0]), float(eps_range[1])
    count = max(2, round(math.log10(eps_max / eps_min) * eps_per_decade) + 1)
    eps_grid = np.logspace(math.log10(eps_max), math.log10(eps_min), count)
    started = time.perf_counter()
    run = multilevel_log_volume(
        K,
        domain,
        np.random.default_rng(np.random.SeedSequence(root)),
        eps_grid,
        batches=n_batches,
        n_particles=n_samples,
        level_fraction=level_fraction,
        mcmc_steps=steps,
    )
    seconds = time.perf_counter() - started
    healthy = np.all(np.isfinite(run.log_volume), axis=1)
    range_used = f"eps in [{eps_min:.3g}, {eps_max:.3g}]"
    details: dict[str, object] = {
        "eps": eps_grid.tolist(),
        "batches": n_batches,
        "healthy_batches": int(healthy.sum()),
        "batch_failures": list(run.failures),
        "levels": run.levels.tolist(),
        "acceptance": dict(zip(("log_scale", "additive", "sign_flip", "joint_additive"), run.acceptance)),
        "particles": n_samples,
        "mcmc_steps": steps,
        "level_fraction": level_fraction,
        "seed": root,
        "seconds_sampling": seconds,
    }
    if healthy.sum() < 3:
        details["failure"] = f"only {int(healthy.sum())} of {n_batches} batches produced a full curve"
        return OracleEstimate(math.nan, math.nan, METHOD, range_used, n_samples=run.evaluations, details=details)

    log_volumes = run.log_volume[healthy]
    x = -np.log(eps_grid)
    rates = domain.prior_exponents + 1.0
    lam_bounds = (0.0, float(np.sum(rates)) + 1.0)
    candidates = [m for m in range(1, m_cap + 1) if x.size >= m + 3]
    m_hat, loglog = loglog_multiplicity(x, log_volumes, max(candidates))
    fits = {m: _fit(x, log_volumes, m, lam_bounds) for m in candidates}
    estimate = fits[m_hat].lam

    batches = log_volumes.shape[0]
    replicates = []
    replicate_m = []
    replicate_free_m = []
    for b in range(batches):
        rest = np.delete(log_volumes, b, axis=0)
        m_b, loglog_b = loglog_multiplicity(x, rest, max(candidates))
        replicates.append(_fit(x, rest, m_b, lam_bounds).lam)
        replicate_m.append(m_b)
        replicate_free_m.append(loglog_b.multiplicity)
    stderr = _jackknife_stderr(np.array(replicates))
    fixed_m_stderr = {
        m: _jackknife_stderr(
            np.array([_fit(x, np.delete(log_volumes, b, axis=0), m, lam_bounds).lam for b in range(batches)])
        )
        for m in candidates
    }
    pooled = _pooled_log(log_volumes)
    details.update(
        {
            "log_volume": pooled.tolist(),
            "log_volume_batches": log_volumes.tolist(),
            "fits": {
                m: {"lambda": f.lam, "jackknife_stderr": fixed_m_stderr[m], "rss": f.rss} for m, f in fits.items()
            },
            "selected_multiplicity": m_hat,
            "jackknife_lambdas": replicates,
            "jackknife_multiplicities": replicate_m,
            "m_free_fit": {
                "lambda": loglog.lam,
                "multiplicity": loglog.multiplicity,
                "multiplicity_stderr": _jackknife_stderr(np.array(replicate_free_m)),
            },
            "local_slopes": local_slopes(x, pooled).tolist(),
            "seconds_total": time.perf_counter() - started,
        }
    )
    return OracleEstimate(
        estimate=estimate,
        stderr=stderr,
        method=METHOD,
        range_used=range_used,
        n_samples=run.evaluations,
        multiplicity_estimate=m_hat,
        details=details,
    )
