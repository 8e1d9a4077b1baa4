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
logarithmic in 1/V. The proposals (one coordinate or all of them per step) are: a random walk in
log|w_j| (scale-free, for the multi-scale sets near coordinate hyperplanes), an additive move
whose size is drawn log-uniformly over many decades (for thin sets not aligned with the axes),
and a sign flip; each is symmetric in its own coordinates and accepted with the prior density
ratio (|w'|/|w|)^h (times |w'|/|w| for the log move) and the constraints K < eps, w in box.

Poor mixing of the MCMC does not bias the estimator (every step leaves the conditional law
invariant) but raises its variance, so the standard error is taken from B independent batches:
the curves are averaged, lambda is fitted to the average, and the jackknife over batches (each
delete-one replicate re-selects m by its own cross-validation) gives the stderr. m is selected
by leave-one-batch-out cross-validation of the fitted curve.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from rlct.numeric.oracles.asymptotic_fit import (
    PowerLogFit,
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
LOG_STEP_RANGE = (0.01, 3.0)
# Additive steps are range_j * 10^(-s), s uniform in [0, s_max],
# s_max = ADDITIVE_DECADES_MARGIN + 0.5 log10(1/eps): below the width sqrt(eps) of {c w^2 < eps}.
ADDITIVE_DECADES_MARGIN = 2.0
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


def _mcmc_step(
    W: np.ndarray,
    k_values: np.ndarray,
    eps: np.ndarray,
    K: KFunction,
    domain: ProductDomain,
    rng: np.random.Generator,
    counts: np.ndarray,
) -> None:
    """One Metropolis-Hastings step for every particle (row of W), in place.

    Particle i targets the prior restricted to {K < eps[i]} (see the module docstring).
    ``counts`` (2, kinds) accumulates accepted and proposed moves per kind.
    """
    n, d = W.shape
    rows = np.arange(n)
    coord = rng.integers(d, size=n)
    kind = np.searchsorted(np.cumsum(MOVE_PROBABILITIES), rng.random(n) * 0.999999999)
    h = domain.prior_exponents[coord]
    span = domain.ranges()
    s_max = ADDITIVE_DECADES_MARGIN + 0.5 * np.log10(1.0 / np.maximum(eps, 1e-300))
    old = W[rows, coord]
    log_sigma = np.log(LOG_STEP_RANGE)
    sigma = np.exp(rng.uniform(log_sigma[0], log_sigma[1], size=n)) * rng.standard_normal(n)
    additive = span[coord] * 10.0 ** (-rng.uniform(0.0, 1.0, size=n) * s_max)
    additive *= rng.standard_normal(n)
    new = np.select(
        [kind == 0, kind == 1, kind == 2], [old * np.exp(sigma), old + additive, -old], old
    )
    log_alpha = np.where(kind == 0, (h + 1.0) * sigma, 0.0)
    single = kind == 1
    log_alpha[single] = _log_ratio(new[single], old[single], h[single])
    proposal = W.copy()
    proposal[rows, coord] = new
    joint = np.flatnonzero(kind == 3)
    if joint.size:
        scales = 10.0 ** (-rng.uniform(0.0, 1.0, size=(joint.size, 1)) * s_max[joint, None])
        moved = W[joint] + span * scales * rng.standard_normal((joint.size, d))
        proposal[joint] = moved
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
    counts[0] += np.bincount(kind[accept], minlength=kinds)
    counts[1] += np.bincount(kind, minlength=kinds)


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
    counts = np.zeros((2, len(MOVE_PROBABILITIES)))
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
        for _ in range(mcmc_steps):
            _mcmc_step(flat_W, flat_k, flat_eps, K, domain, rng, counts)
        W[moving] = flat_W.reshape(moving.size, n_particles, dim)
        k_values[moving] = flat_k.reshape(moving.size, n_particles)
        evaluations += mcmc_steps * moving.size * n_particles
    acceptance = tuple(
        float(a / p) if p else math.nan for a, p in zip(counts[0], counts[1])
    )
    return MultilevelRun(out, evaluations, levels, acceptance, tuple(failures))


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


def _fit(
    x: np.ndarray, log_volumes: np.ndarray, m: int, lam_bounds: tuple[float, float]
) -> PowerLogFit:
    return fit_power_log(
        x,
        _pooled_log(log_volumes),
        m,
        lam_bounds=lam_bounds,
        weights=_weights(log_volumes),
        polish=False,
    )


def cross_validated_multiplicity(
    x: np.ndarray,
    log_volumes: np.ndarray,
    candidates: list[int],
    lam_bounds: tuple[float, float],
) -> tuple[int, dict[int, float]]:
    """m by leave-one-batch-out cross-validation with the one-standard-error rule.

    For each held-out batch b each model is fitted to the other batches and scored by
    sum_eps w(eps) (log V_b(eps) - prediction(eps))^2 with the pooled inverse-variance weights.
    The selected m is the smallest whose paired score difference to the best model is within
    one standard error of that difference (the one-standard-error rule; Hastie, Tibshirani &
    Friedman 2009, "The Elements of Statistical Learning", sec. 7.10): a larger m must earn its
    extra coefficient. Returns (m, mean score per m).
    """
    weights = _weights(log_volumes) / log_volumes.shape[0]
    batches = log_volumes.shape[0]
    per_fold = np.zeros((len(candidates), batches))
    for i, m in enumerate(candidates):
        for b in range(batches):
            rest = np.delete(log_volumes, b, axis=0)
            fit = _fit(x, rest, m, lam_bounds)
            per_fold[i, b] = float(np.sum(weights * (log_volumes[b] - fit.predict_log(x)) ** 2))
    means = per_fold.mean(axis=1)
    best = int(np.argmin(means))
    for i in range(len(candidates)):
        diff = per_fold[i] - per_fold[best]
        if diff.mean() <= diff.std(ddof=1) / math.sqrt(batches):
            return candidates[i], dict(zip(candidates, means.tolist()))
    raise AssertionError("unreachable: the best model is within one SE of itself")


def volume_scaling(
    K_fn: object,
    dim: int,
    *,
    box: object,
    prior: object = None,
    seed: int,
    n_samples: int = 1000,
    n_batches: int = 8,
    eps_range: tuple[float, float] = (1e-12, 1e-4),
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
        mcmc_steps: Metropolis-Hastings steps per level (default 10 + 2 d).
        max_multiplicity: largest m tried (default min(d, 4)).

    Returns:
        `OracleEstimate` with method "volume-scaling"; ``details`` holds the eps grid, the
        pooled and per-batch log V, the per-m fits and cross-validation scores, the jackknife
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
    steps = 10 + 2 * d if mcmc_steps is None else mcmc_steps
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
        "acceptance": dict(
            zip(("log_scale", "additive", "sign_flip", "joint_additive"), run.acceptance)
        ),
        "particles": n_samples,
        "mcmc_steps": steps,
        "level_fraction": level_fraction,
        "seed": root,
        "seconds_sampling": seconds,
    }
    if healthy.sum() < 3:
        details["failure"] = f"only {int(healthy.sum())} of {n_batches} batches produced a full curve"
        return OracleEstimate(
            math.nan, math.nan, METHOD, range_used, n_samples=run.evaluations, details=details
        )

    log_volumes = run.log_volume[healthy]
    x = -np.log(eps_grid)
    rates = domain.prior_exponents + 1.0
    lam_bounds = (0.0, float(np.sum(rates)) + 1.0)
    candidates = [m for m in range(1, m_cap + 1) if x.size >= m + 3]
    m_hat, cv_scores = cross_validated_multiplicity(x, log_volumes, candidates, lam_bounds)
    fits = {m: _fit(x, log_volumes, m, lam_bounds) for m in candidates}
    estimate = fits[m_hat].lam

    batches = log_volumes.shape[0]
    replicates = []
    replicate_m = []
    for b in range(batches):
        rest = np.delete(log_volumes, b, axis=0)
        m_b = cross_validated_multiplicity(x, rest, candidates, lam_bounds)[0] if batches > 3 else m_hat
        replicates.append(_fit(x, rest, m_b, lam_bounds).lam)
        replicate_m.append(m_b)
    reps = np.array(replicates)
    stderr = float(math.sqrt((batches - 1) / batches * np.sum((reps - reps.mean()) ** 2)))
    fixed_m_stderr = {}
    for m in candidates:
        lams = np.array(
            [_fit(x, np.delete(log_volumes, b, axis=0), m, lam_bounds).lam for b in range(batches)]
        )
        fixed_m_stderr[m] = float(math.sqrt((batches - 1) / batches * np.sum((lams - lams.mean()) ** 2)))
    pooled = _pooled_log(log_volumes)
    loglog = fit_power_loglog(x, pooled)
    details.update(
        {
            "log_volume": pooled.tolist(),
            "log_volume_batches": log_volumes.tolist(),
            "fits": {
                m: {"lambda": f.lam, "jackknife_stderr": fixed_m_stderr[m], "rss": f.rss}
                for m, f in fits.items()
            },
            "cv_scores": cv_scores,
            "selected_multiplicity": m_hat,
            "jackknife_lambdas": reps.tolist(),
            "jackknife_multiplicities": replicate_m,
            "m_free_fit": {"lambda": loglog.lam, "multiplicity": loglog.multiplicity},
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
