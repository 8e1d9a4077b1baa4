"""Free-energy quadrature: lambda and m from F_n = -log int exp(-n K(w)) phi(w) dw, d <= 3.

For K with K(0) = 0 and largest zeta pole -lambda of order m at w = 0,

    Z_n = exp(-F_n) = n^(-lambda) P(log n) + O(n^(-lambda')),  deg P = m - 1,

(Watanabe 2009, "Algebraic Geometry and Statistical Learning Theory", ch. 4 and 6: Z_n is the
Laplace transform of the state density whose Mellin transform is the zeta function), i.e.
F_n = lambda log n - (m - 1) log log n + O(1). Z_n is computed by adaptive cubature in
log-coordinates (`cubature.py`) on a log-spaced grid of n, then `asymptotic_fit.fit_power_log`
fits lambda with m = 1, 2, ... fixed.

Choosing m. The data are deterministic to the cubature tolerance, so the candidates are told
apart by their *bias*: a too small m leaves a drift (m_true - m) / log n in the local slope,
while the neglected terms of the correct model decay like a power of n. Each m is fitted on the
first `TRAIN_FRACTION` of the fit window (in log n) and judged by how well it extrapolates to
the rest; the smallest m whose extrapolation error is within `SELECTION_FACTOR` of the best one
(plus the cubature error) is selected.

Standard error. lambda is fitted with the selected m on the whole window; the reported stderr
is the root sum of squares of
* the least-squares standard error of the fit,
* the change of lambda-hat when only the upper half of the window is used (the bias from the
  neglected terms, which the residuals do not see),
* if the selected model does not extrapolate to within MISFIT_LIMIT times the cubature error
  (or the upper half is too short to refit), the change of lambda-hat to the neighbouring m:
  in a finite window a slow power correction n^(-delta) and a log n term look alike. Example:
  K = (x^2 - y^3)^2 (lambda = 5/12, the next pole 1/2 gives delta = 1/12) reaches only
  n ~ 1e8 within the box budget, where m = 2 fits best with lambda-hat = 0.440; without this
  term the stderr would be 2e-4.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

import numpy as np

from rlct.numeric.oracles.asymptotic_fit import (
    PowerLogFit,
    fit_power_log,
    fit_power_loglog,
    local_slopes,
)
from rlct.numeric.oracles.cubature import CubatureStep, LogCoordinatePartition
from rlct.numeric.oracles.domain import as_dim, checked_K, make_domain
from rlct.numeric.oracles.result import OracleEstimate

METHOD = "free-energy-quadrature"
MAX_QUADRATURE_DIM = 3
# Share of the fit window (in log n) the candidate m are trained on; the rest validates them.
TRAIN_FRACTION = 0.7
# A larger m is selected only if it extrapolates more than this factor better.
SELECTION_FACTOR = 3.0
# The selected model "fits" if it extrapolates to within this many times the cubature noise;
# otherwise the data cannot tell a log n term from a slow power correction n^(-delta), and the
# change of lambda-hat to the neighbouring m enters the stderr.
MISFIT_LIMIT = 3.0
# Extra margin (in units of log) in the truncation U_j of the log-coordinates.
TAIL_MARGIN = 10.0


def _as_range(name: str, value: object, *, positive_floor: float) -> tuple[float, float]:
    if (
        isinstance(value, (str, bytes))
        or not isinstance(value, Sequence)
        or len(value) != 2
        or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
    ):
        raise ValueError(f"{name}: expected (low, high), got {value!r}")
    low, high = float(value[0]), float(value[1])
    if not (math.isfinite(low) and math.isfinite(high)) or not positive_floor <= low < high:
        raise ValueError(f"{name}: expected {positive_floor} <= low < high, got {value!r}")
    return low, high


def _truncation(domain_rates: np.ndarray, lam_cap: float, log_n_max: float, rel_tol: float):
    """U_j with sum_j exp(-(h_j+1) U_j) <~ rel_tol * n_max^(-lam_cap) * e^(-TAIL_MARGIN)."""
    depth = lam_cap * log_n_max + math.log(1.0 / rel_tol) + math.log(domain_rates.size)
    return (depth + TAIL_MARGIN) / domain_rates


def select_multiplicity(
    x: np.ndarray,
    log_z: np.ndarray,
    candidates: Sequence[int],
    *,
    lam_bounds: tuple[float, float],
    noise: float,
) -> tuple[int | None, dict[int, float]]:
    """Forward validation: fit each m on the first TRAIN_FRACTION of x, measure the largest
    |log Z - prediction| on the rest; return the smallest m within SELECTION_FACTOR of the best
    (errors below ``noise``, the cubature's relative error, count as ``noise``)."""
    cut = x.min() + TRAIN_FRACTION * (x.max() - x.min())
    train, test = x <= cut, x > cut
    errors: dict[int, float] = {}
    for m in candidates:
        if train.sum() < m + 2 or test.sum() < 1:
            continue
        fit = fit_power_log(x[train], log_z[train], m, lam_bounds=lam_bounds)
        errors[m] = float(np.max(np.abs(log_z[test] - fit.predict_log(x[test]))))
    if not errors:
        return None, errors
    best = min(max(e, noise) for e in errors.values())
    for m in sorted(errors):
        if max(errors[m], noise) <= SELECTION_FACTOR * best:
            return m, errors
    raise AssertionError("unreachable: the best m satisfies its own bound")


def free_energy_quadrature(
    K_fn: object,
    dim: int,
    *,
    box: object,
    prior: object = None,
    n_range: tuple[float, float] = (1e2, 1e12),
    n_per_decade: int = 2,
    fit_from: float = 1e5,
    rel_tol: float = 1e-4,
    max_boxes: int = 250_000,
    initial_width: float = 10.0,
    max_multiplicity: int | None = None,
) -> OracleEstimate:
    """Estimate lambda (and m) at w = 0 from Z_n = int exp(-n K) phi over a range of n.

    Args:
        K_fn: vectorized K(W: (N, d)) -> (N,), K >= 0 and K(0) = 0.
        dim: d, 1 <= d <= 3.
        box: (lo, hi) for every coordinate or a list of d pairs; each must contain 0.
        prior: exponents h_j >= 0 of the prior prod |w_j|^(h_j) on the box (None: uniform).
        n_range: (n_min, n_max) of the log-spaced grid of n. n_max is limited by rounding in
            K: where K is evaluated with absolute error delta near its zero set, n delta must
            stay << 1 (for expanded polynomials delta ~ 1e-16, hence the default 1e12).
        n_per_decade: grid points per decade of n.
        fit_from: the smallest n used in the fit (the grid below it only warms up the
            partition).
        rel_tol: relative accuracy asked of each Z_n (cubature error plus tail bound).
        max_boxes: budget of cubature boxes; an n whose Z_n does not reach ``rel_tol`` within it
            is flagged in ``details["converged"]`` and left out of the fit, as are all larger n.
        initial_width: side (in log-coordinates) of the initial boxes.
        max_multiplicity: largest m tried (default d).

    Returns:
        `OracleEstimate` with method "free-energy-quadrature"; ``details`` holds n, F_n, the
        cubature error and tail bound of each n, the fit of every m, the extrapolation errors
        that chose m, the fit with m free (log log n coefficient), and local slopes.
    """
    d = as_dim(dim)
    if d > MAX_QUADRATURE_DIM:
        raise ValueError(
            f"dim: free-energy quadrature supports 1 <= dim <= {MAX_QUADRATURE_DIM}, got {d}; use volume_scaling"
        )
    domain = make_domain(box, prior, d)
    K = checked_K(K_fn, domain)
    n_min, n_max = _as_range("n_range", n_range, positive_floor=1.0)
    per_decade = n_per_decade
    if isinstance(per_decade, bool) or not isinstance(per_decade, int) or per_decade < 1:
        raise ValueError(f"n_per_decade: expected an integer >= 1, got {n_per_decade!r}")
    if not (isinstance(fit_from, (int, float)) and n_min <= fit_from < n_max):
        raise ValueError(f"fit_from: expected a number in [{n_min}, {n_max}), got {fit_from!r}")
    if not (isinstance(rel_tol, float) and 0 < rel_tol < 1e-1):
        raise ValueError(f"rel_tol: expected a float in (0, 0.1), got {rel_tol!r}")
    if isinstance(max_boxes, bool) or not isinstance(max_boxes, int) or max_boxes < 1:
        raise ValueError(f"max_boxes: expected a positive integer, got {max_boxes!r}")
    if not (isinstance(initial_width, (int, float)) and initial_width > 0):
        raise ValueError(f"initial_width: expected a positive number, got {initial_width!r}")
    m_max = d if max_multiplicity is None else max_multiplicity
    if isinstance(m_max, bool) or not isinstance(m_max, int) or m_max < 1:
        raise ValueError(f"max_multiplicity: expected an integer >= 1, got {max_multiplicity!r}")

    decades = math.log10(n_max / n_min)
    n_grid = np.logspace(math.log10(n_min), math.log10(n_max), max(2, round(decades * per_decade) + 1))
    rates = domain.prior_exponents + 1.0
    two_sided = (domain.lo < 0).astype(float)
    lam_cap = float(np.sum(rates / (1.0 + two_sided)))
    u_max = _truncation(rates, lam_cap, math.log(n_max), rel_tol)

    started = time.perf_counter()
    partition = LogCoordinatePartition(K, domain, u_max, float(initial_width))
    steps: list[CubatureStep] = []
    for n in n_grid:
        step = partition.integrate(float(n), rel_tol=rel_tol, max_boxes=max_boxes)
        steps.append(step)
        if not step.converged:
            break  # continuation: a larger n cannot do better with the same budget
    seconds = time.perf_counter() - started

    values = np.array([s.value for s in steps])
    converged = np.array([s.converged for s in steps])
    ok = converged & (values > 0)
    ns = n_grid[: len(steps)]
    x_all = np.log(ns)
    use = ok & (ns >= fit_from * (1 - 1e-12))
    details: dict[str, object] = {
        "n": ns.tolist(),
        "free_energy": [(-math.log(v) if v > 0 else math.nan) for v in values],
        "cubature_error": [s.error for s in steps],
        "tail_bound": [s.tail_bound for s in steps],
        "converged": converged.tolist(),
        "boxes": [s.boxes for s in steps],
        "u_max": u_max.tolist(),
        "rel_tol": rel_tol,
        "seconds": seconds,
        "local_slopes": local_slopes(x_all[ok], np.log(values[ok])).tolist(),
        "n_not_reached": n_grid[len(steps) :].tolist(),
    }
    n_points = partition.evaluations
    lam_bounds = (0.0, lam_cap + 1.0)
    x, log_z = x_all[use], np.log(values[use])
    if x.size < 4:
        details["failure"] = f"only {x.size} converged n >= fit_from; need at least 4"
        return OracleEstimate(
            estimate=math.nan,
            stderr=math.nan,
            method=METHOD,
            range_used="n: too few converged values",
            n_points=n_points,
            details=details,
        )
    candidates = [m for m in range(1, m_max + 1) if x.size >= m + 3]
    noise = max(rel_tol, float(np.max(np.array([s.error for s in steps])[use] / values[use])))
    m_hat, extrapolation = select_multiplicity(x, log_z, candidates, lam_bounds=lam_bounds, noise=noise)
    fits: dict[int, PowerLogFit] = {m: fit_power_log(x, log_z, m, lam_bounds=lam_bounds) for m in candidates}
    m_used = m_hat if m_hat is not None else 1
    final = fits[m_used]
    upper = x >= 0.5 * (x.min() + x.max())
    window_shift = math.nan
    if upper.sum() >= m_used + 2:
        window_shift = fit_power_log(x[upper], log_z[upper], m_used, lam_bounds=lam_bounds).lam
        window_shift -= final.lam
    fit_se = final.stderr if math.isfinite(final.stderr) else 0.0
    shift = abs(window_shift) if math.isfinite(window_shift) else 0.0
    misfit = extrapolation.get(m_used, math.inf) / noise
    model_term = 0.0
    if misfit > MISFIT_LIMIT or not math.isfinite(window_shift):
        neighbours = [fits[m].lam for m in (m_used - 1, m_used + 1) if m in fits]
        model_term = max((abs(lam - final.lam) for lam in neighbours), default=0.0)
    stderr = math.sqrt(fit_se**2 + shift**2 + model_term**2)
    loglog = fit_power_loglog(x, log_z)
    details.update(
        {
            "fits": {m: {"lambda": f.lam, "stderr": f.stderr, "rss": f.rss} for m, f in fits.items()},
            "extrapolation_error": extrapolation,
            "selected_multiplicity": m_hat,
            "fit_stderr": final.stderr,
            "window_shift": window_shift,
            "misfit": misfit,
            "model_term": model_term,
            "m_free_fit": {
                "lambda": loglog.lam,
                "multiplicity": loglog.multiplicity,
                "rss": loglog.rss,
            },
        }
    )
    n_lo, n_hi = float(np.exp(x.min())), float(np.exp(x.max()))
    return OracleEstimate(
        estimate=final.lam,
        stderr=stderr,
        method=METHOD,
        range_used=f"n in [{n_lo:.3g}, {n_hi:.3g}]",
        n_points=n_points,
        multiplicity_estimate=m_hat,
        details=details,
    )
