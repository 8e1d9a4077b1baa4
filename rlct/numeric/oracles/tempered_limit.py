r"""lambda and m as the limit of the estimator's own target, lambda_t = t E_t[K], as t -> infinity.

With Z(t) = int exp(-t K) phi (t = n beta, phi the localizing prior), lambda_t = t E_t[K] =
-d log Z / d log t is what an exact sampler reads at n beta = t (`tempered_mean_nested` computes
it by quadrature in two variables). If the zeta function int K^z phi has its largest pole at
-lambda, of order m, and its next at -lambda' (order m'), Z has the expansion (Watanabe 2009,
"Algebraic Geometry and Statistical Learning Theory", Thm 6.1 / 7.1; see `asymptotic_fit`)

.. math::
    Z(t) = t^{-\lambda} (\log t)^{m-1} \big(C_0 + C_1/\log t + \dots\big)
           + O\big(t^{-\lambda'} (\log t)^{m'-1}\big),

so with x = log t

.. math::
    \lambda_t = \lambda - \frac{m-1}{x} + O(x^{-2})
                + O\big(e^{-(\lambda' - \lambda) x} x^{m'-1}\big),

and for m = 1 only the exponential corrections remain (the polynomial in 1/x is a constant).
The 1/x series converges slowly where C_1/C_0 is large (x^2 y^2 under a Gaussian prior:
lambda_t = 1/2 - 1/(x + s) exactly up to O(1/t), s = 2.19), so it is kept summed: the terms of
log Z that are polynomial in x are log P(x), P of degree m - 1, and `fit_tempered_limit` fits,
for each candidate m,

    lambda_t + P'(x)/P(x) = lambda + c exp(-delta (x - x_0)),   P monic of degree m - 1,

by least squares (lambda and c linear; delta and P's coefficients on a grid, then refined). A
richer model always fits better (its extra terms absorb the next exponentials of a smaller m), so
the residual cannot pick m; the stability of the extrapolation does: m is the one whose lambda
moves least when the fit drops its first, its last or its last two points, and that change is the
reported uncertainty (the truncation of the expansion dominates it: the quadrature is good to
~1e-7). Unlike the free-energy fit of Z itself (`free_energy_quadrature`), the data here are
the derivative of log Z, so the constant log C_0 drops out and the 1/x terms of m > 1 stand out:
at x in [9, 37] a -1/x term cannot be mimicked by an exponential to within 1e-3. Where the gap
lambda' - lambda is small (pnn L3r2: delta = 0.076, so e^(-delta x) is still 0.06 at t = 10^16)
an m = 1 curve resembles an m = 2 one over the data; the stability test above is what separates
them, and the selected m should be read with its spread in ``details``: on synthetic curves with
a second correction of comparable size (0.3 c at rate 2.2 delta, outside the model), m in {1, 2}
and shifts in [-3, 8], m came out wrong in 2 of 30 draws and lambda was off by up to 1.6%.

This is an oracle for lambda that uses K alone, not the exact engine: the polynomial networks of
Sergeant-Perthuis, Tsigaridas & Tsukahara (2026) are checked with it where the free-energy
cubature does not reach (L >= 3).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
from scipy import optimize

from rlct.numeric.oracles.result import OracleEstimate

METHOD = "tempered-limit"
# n beta = 10^4, 10^6, ..., 10^16: x = log n beta in [9.2, 36.8]
DEFAULT_NBETAS = tuple(10.0**k for k in range(4, 17, 2))
MAX_MULTIPLICITY = 3
# the decay rate delta = lambda' - lambda is profiled on this grid, then refined by a bounded search
RATE_GRID = np.geomspace(1e-3, 4.0, 400)
# m is the one whose lambda moves least when the fit drops its first, its last or its last two
# points; spreads within this factor of the least count as a tie, which the smaller m wins (for m > 1
# a P with a large shift mimics a constant, so a model with m = 1 is also one with m = 2)
TIE = 1.5
# evaluations of each Nelder-Mead refinement (m > 1), from the two best grid starts
NELDER_MEAD_EVALUATIONS = 1500
# starting shifts s of P(x) = (x + s)^(m - 1) for m > 1 (P's roots -s: the constant of log Z)
SHIFT_GRID = (-5.0, -2.0, 0.0, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0)


def _log_derivative(x: np.ndarray, shape: np.ndarray) -> np.ndarray | None:
    """P'(x)/P(x) for the monic P(x) = x^k + shape[k-1] x^(k-1) + ... + shape[0] (k = len(shape)),
    or None where P is not positive on the data (log P undefined)."""
    polynomial = np.polynomial.Polynomial(np.append(shape, 1.0))
    values = polynomial(x)
    if np.any(values <= 0):
        return None
    return np.asarray(polynomial.deriv()(x) / values)


def _regress(target: np.ndarray, decay: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Least squares of target = lambda + c * decay along the last axis (simple linear regression,
    closed form; broadcasts over leading axes): (rss, lambda, c)."""
    decay_centred = decay - decay.mean(axis=-1, keepdims=True)
    target_centred = target - target.mean(axis=-1, keepdims=True)
    c = (decay_centred * target_centred).sum(axis=-1) / (decay_centred**2).sum(axis=-1)
    lam = target.mean(axis=-1) - c * decay.mean(axis=-1)
    rss = ((target_centred - c[..., None] * decay_centred) ** 2).sum(axis=-1)
    return rss, lam, c


def _profile(x: np.ndarray, y: np.ndarray, shape: np.ndarray, rate: float) -> tuple[float, float]:
    """Residual sum of squares and lambda of  y + P'/P = lambda + c exp(-rate (x - x_0))
    (linear least squares at fixed P and rate: variable projection)."""
    derivative = _log_derivative(x, shape)
    if derivative is None or not (math.isfinite(rate) and rate > 0):
        return math.inf, math.nan
    rss, lam, _ = _regress(y + derivative, np.exp(-rate * (x - x[0])))
    return float(rss), float(lam)


def _fit(x: np.ndarray, y: np.ndarray, multiplicity: int) -> tuple[float, float, float]:
    """(lambda, delta, rss) of the model for one m: delta on a grid (and P = (x + s)^(m - 1) for
    s on a grid), then refined (bounded search for m = 1, Nelder-Mead over P's coefficients and
    log delta for m > 1)."""
    degree = multiplicity - 1
    if degree == 0:
        empty = np.zeros(0)
        rss = _regress(y[None, :], np.exp(-RATE_GRID[:, None] * (x - x[0])[None, :]))[0]
        k = int(np.argmin(rss))
        low, high = RATE_GRID[max(k - 1, 0)], RATE_GRID[min(k + 1, len(RATE_GRID) - 1)]
        refined = optimize.minimize_scalar(lambda r: _profile(x, y, empty, r)[0], bounds=(low, high),
                                           method="bounded", options={"xatol": 1e-12})
        rate = float(refined.x) if refined.fun <= rss[k] else float(RATE_GRID[k])
        residual, lam = _profile(x, y, empty, rate)
        return lam, rate, residual

    def shape_of(shift: float) -> np.ndarray:
        """The coefficients below the leading 1 of (x + shift)^degree, lowest first."""
        return np.asarray((np.polynomial.Polynomial([shift, 1.0]) ** degree).coef[:-1])

    starts = []
    for shift in SHIFT_GRID:
        if x[0] + shift <= 0:
            continue
        shape = shape_of(shift)
        derivative = _log_derivative(x, shape)
        if derivative is None:
            continue
        rss = _regress((y + derivative)[None, :], np.exp(-RATE_GRID[:, None] * (x - x[0])[None, :]))[0]
        k = int(np.argmin(rss))
        starts.append((float(rss[k]), np.append(shape, math.log(RATE_GRID[k]))))
    starts.sort(key=lambda start: start[0])

    def objective(theta: np.ndarray) -> float:
        return _profile(x, y, theta[:-1], math.exp(theta[-1]))[0] if theta[-1] < 5 else math.inf

    best = min((optimize.minimize(objective, theta, method="Nelder-Mead",
                                  options={"xatol": 1e-9, "fatol": 1e-22, "maxfev": NELDER_MEAD_EVALUATIONS})
                for _, theta in starts[:2]), key=lambda result: result.fun)
    theta = best.x if best.fun <= starts[0][0] else starts[0][1]
    residual, lam = _profile(x, y, theta[:-1], math.exp(theta[-1]))
    return lam, math.exp(theta[-1]), residual


def fit_tempered_limit(
    nbetas: Sequence[float], values: Sequence[float], *, max_multiplicity: int = MAX_MULTIPLICITY
) -> OracleEstimate:
    """Extrapolate lambda_t = t E_t[K] (``values`` at t = ``nbetas``) to t -> infinity.

    Args:
        nbetas: increasing inverse temperatures t > 1, at least 6 of them, best equally spaced
            in log t and spanning several decades (the default oracle uses 10^4..10^16).
        values: lambda_t at each t (finite).
        max_multiplicity: the largest m tried.

    Returns:
        An `OracleEstimate` (method ``"tempered-limit"``): the extrapolated lambda, the selected
        m, and as ``stderr`` the largest change of lambda when the fit drops its first, its last
        or its last two points;
        ``details`` holds each m's lambda, rate delta and residual sum of squares, and the data.
    """
    t = np.asarray(nbetas, dtype=float)
    y = np.asarray(values, dtype=float)
    if t.ndim != 1 or t.shape != y.shape:
        raise ValueError(f"values: expected one value per n beta ({t.shape}), got shape {y.shape}")
    if t.size < 6:
        raise ValueError(f"nbetas: need at least 6 inverse temperatures for the fit, got {t.size}")
    if not (np.all(np.isfinite(t)) and np.all(t > 1.0) and np.all(np.diff(t) > 0)):
        raise ValueError("nbetas: expected increasing finite values > 1")
    if not np.all(np.isfinite(y)):
        raise ValueError("values: lambda_t must be finite (a failed quadrature?)")
    if not isinstance(max_multiplicity, int) or max_multiplicity < 1:
        raise ValueError(f"max_multiplicity: expected an integer >= 1, got {max_multiplicity!r}")
    x = np.log(t)
    fits = {m: _fit(x, y, m) for m in range(1, max_multiplicity + 1)}
    subsets = (slice(1, None), slice(None, -1), slice(None, -2))
    spreads = {m: max(abs(_fit(x[part], y[part], m)[0] - fits[m][0]) for part in subsets) for m in fits}
    least = min(spreads.values())
    multiplicity = min(m for m in fits if spreads[m] <= TIE * least + 1e-12)
    lam, rate, rss = fits[multiplicity]
    return OracleEstimate(
        estimate=lam,
        stderr=spreads[multiplicity],
        method=METHOD,
        range_used=f"n beta in [{t[0]:.0e}, {t[-1]:.0e}]",
        multiplicity_estimate=multiplicity,
        details={
            "fits": {m: {"lam": f[0], "rate": f[1], "rss": f[2], "spread": spreads[m]} for m, f in fits.items()},
            "nbetas": t.tolist(),
            "values": y.tolist(),
            "rate": rate,
            "rss": rss,
        },
    )


def tempered_limit(
    potential: Callable[[np.ndarray, float], np.ndarray],
    *,
    valleys: Callable[[float], list[float]] | None = None,
    nbetas: Sequence[float] = DEFAULT_NBETAS,
    localization: float = 1.0,
    max_multiplicity: int = MAX_MULTIPLICITY,
) -> OracleEstimate:
    """lambda (and m) at 0 of a K >= 0 in two variables, from lambda_t = t E_t[K] computed by
    `tempered_mean_nested` at each t in ``nbetas`` and extrapolated by `fit_tempered_limit`.

    Args:
        potential, valleys: as for `tempered_mean_nested` (K(x, y) for an array x and a scalar
            y; the x-positions of K's zero curves at each y).
        nbetas: the inverse temperatures (default 10^4, 10^6, ..., 10^16).
        localization: gamma of the Gaussian prior exp(-gamma |w|^2 / 2) (it does not change
            lambda; a larger gamma keeps the quadrature local).
        max_multiplicity: the largest m tried.
    """
    from rlct.numeric.oracles.tempered import tempered_mean_nested

    if not (isinstance(localization, (int, float)) and math.isfinite(localization) and localization > 0):
        raise ValueError(f"localization: expected a positive number, got {localization!r}")
    values = [tempered_mean_nested(potential, float(t), float(localization), valleys=valleys) for t in nbetas]
    return fit_tempered_limit(nbetas, values, max_multiplicity=max_multiplicity)
