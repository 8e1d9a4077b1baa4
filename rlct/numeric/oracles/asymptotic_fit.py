"""Fit the asymptotic form y(x) ~ exp(-lambda x) (c_0 + c_1 x + ... + c_{m-1} x^(m-1)).

Both oracles measure a function with this expansion in a large variable x:

* the volume V(eps) = vol{K < eps} with x = -log eps,
* the partition function Z_n = int exp(-n K) phi with x = log n (so F_n = -log Z_n).

For a zeta function zeta(z) = int K^z phi whose largest pole is -lambda of order m, both have
the expansion  e^{-lambda x} P(x) + O(e^{-lambda' x} x^(m'-1)),  lambda' > lambda,  with P a
polynomial of degree exactly m - 1: V(eps) is the integral of the state density
v(t) = int delta(t - K(w)) phi(w) dw, whose Mellin transform is zeta (Watanabe 2009, "Algebraic
Geometry and Statistical Learning Theory", ch. 4), Z_n is its Laplace transform, and a pole of
order m at -lambda contributes the residue terms t^lambda (log t)^k, k < m (the Mellin transform
method, NIST DLMF sec. 2.5, eq. 2.5.6). The familiar F_n = lambda log n - (m-1) log log n
+ O(1) is the leading part of this.

`fit_power_log` fits  log y = -lambda x + log P(x)  by least squares with m fixed (P of degree
m - 1, its coefficients profiled out); `fit_power_loglog` fits the three-parameter form
log y = a - lambda x + mu log x  with mu = m - 1 free. Which m to use is decided by each oracle
(the rounded mu of the free fit for Monte Carlo data, forward extrapolation for quadrature
data), since what separates the candidates is the kind of error in the data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import optimize

# Points of the coarse lambda grid before the bounded scalar refinement.
PROFILE_GRID = 121
# Residual returned where the fitted polynomial P is not positive (log P undefined).
INVALID_RESIDUAL = 1e3
# Profile value standing in for +inf (no admissible P) in the scalar search.
INVALID_PROFILE = 1e300


@dataclass(frozen=True)
class PowerLogFit:
    """A least-squares fit of  log y = -lambda x + log P(x),  deg P <= multiplicity - 1.

    P is constrained to be positive on the data with a non-negative leading coefficient (the
    coefficient of x^(m-1) dominates as x -> infinity, where P > 0).

    Attributes:
        lam: fitted lambda.
        multiplicity: m (the number of coefficients of P).
        coefficients: P's coefficients in the scaled variable (x - center) / scale.
        center, scale: the affine map of x used for conditioning.
        rss: weighted residual sum of squares of log y.
        stderr: least-squares standard error of lambda (residual variance times (J^T J)^{-1});
            NaN when there are no more points than parameters.
        n_points: number of (x, y) pairs fitted.
    """

    lam: float
    multiplicity: int
    coefficients: tuple[float, ...]
    center: float
    scale: float
    rss: float
    stderr: float
    n_points: int

    def log_prefactor(self, x: np.ndarray) -> np.ndarray:
        xi = (np.asarray(x, dtype=float) - self.center) / self.scale
        poly = np.polynomial.polynomial.polyval(xi, np.array(self.coefficients))
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(poly > 0, np.log(np.abs(poly)), -np.inf)

    def predict_log(self, x: np.ndarray) -> np.ndarray:
        """log y predicted at x (-inf where P <= 0)."""
        return -self.lam * np.asarray(x, dtype=float) + self.log_prefactor(x)


@dataclass(frozen=True)
class PowerLogLogFit:
    """log y = a - lambda x + mu log x (mu = m - 1 free); ``multiplicity`` = 1 + mu (real)."""

    lam: float
    mu: float
    intercept: float
    rss: float

    @property
    def multiplicity(self) -> float:
        return 1.0 + self.mu


def _design(xi: np.ndarray, multiplicity: int) -> np.ndarray:
    return np.vander(xi, multiplicity, increasing=True)


def _profile(
    lams: np.ndarray,
    x: np.ndarray,
    log_y: np.ndarray,
    xi: np.ndarray,
    sqrt_w: np.ndarray,
    multiplicity: int,
) -> tuple[np.ndarray, np.ndarray]:
    """For each lambda: P's coefficients by relative linear least squares (minimize
    sum w (1 - P / (y e^{lambda x}))^2, equal to the log residual to first order) and the
    log-residual sum of squares (inf where the fitted P is not positive on the data).

    Returns (coefficients (L, m), rss (L,)), coefficients of P in the variable xi.
    """
    z = log_y[None, :] + lams[:, None] * x[None, :]
    shift = z.max(axis=1, keepdims=True)
    target = np.maximum(np.exp(z - shift), 1e-150)
    design = _design(xi, multiplicity)
    A = design[None, :, :] * (sqrt_w[None, :] / target)[:, :, None]
    gram = np.einsum("lgi,lgj->lij", A, A)
    ridge = 1e-13 * np.trace(gram, axis1=1, axis2=2)[:, None, None] * np.eye(multiplicity)
    rhs = np.einsum("lgi,g->li", A, sqrt_w)
    coef = np.linalg.solve(gram + ridge, rhs[:, :, None])[:, :, 0]
    poly = coef @ design.T
    # P > 0 on the data, and the leading coefficient (of x^(m-1)) >= 0: it dominates as
    # x -> infinity, where P must stay positive.
    valid = np.all(poly > 0, axis=1) & (coef[:, -1] >= 0 if multiplicity > 1 else True)
    with np.errstate(divide="ignore", invalid="ignore"):
        resid = sqrt_w[None, :] * (z - shift - np.log(poly))
    rss = np.where(valid, np.sum(resid**2, axis=1), np.inf)
    return coef * np.exp(shift), rss


def fit_power_log(
    x: np.ndarray,
    log_y: np.ndarray,
    multiplicity: int,
    *,
    lam_bounds: tuple[float, float],
    weights: np.ndarray | None = None,
    polish: bool = True,
) -> PowerLogFit:
    """Least-squares fit of  log y = -lambda x + log P(x)  with deg P = multiplicity - 1.

    lambda is found by profiling: for each lambda on a grid in ``lam_bounds`` the coefficients
    of P are fitted linearly; the best grid point is refined by a bounded scalar search. With
    ``polish`` (lambda, P) are then fitted jointly by nonlinear least squares on the log
    residuals, whose Jacobian gives the standard error (NaN without ``polish``).
    """
    x = np.asarray(x, dtype=float)
    log_y = np.asarray(log_y, dtype=float)
    if x.shape != log_y.shape or x.ndim != 1:
        raise ValueError(f"x: expected 1-D arrays of equal shape, got {x.shape} and {log_y.shape}")
    if multiplicity < 1:
        raise ValueError(f"multiplicity: expected >= 1, got {multiplicity}")
    if x.size < multiplicity + 1:
        raise ValueError(f"x: need at least {multiplicity + 1} points to fit m = {multiplicity}, got {x.size}")
    w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=float)
    sqrt_w = np.sqrt(w / np.mean(w))
    center = float(0.5 * (x.min() + x.max()))
    scale = float(max(0.5 * (x.max() - x.min()), 1e-12))
    xi = (x - center) / scale

    def profile(lam: float) -> float:
        value = float(_profile(np.array([lam]), x, log_y, xi, sqrt_w, multiplicity)[1][0])
        return value if math.isfinite(value) else INVALID_PROFILE

    lo, hi = lam_bounds
    grid = np.linspace(lo, hi, PROFILE_GRID)
    values = _profile(grid, x, log_y, xi, sqrt_w, multiplicity)[1]
    if not np.any(np.isfinite(values)):
        raise ValueError("log_y: no lambda in lam_bounds gives a positive prefactor P")
    best = int(np.argmin(values))
    left, right = grid[max(best - 1, 0)], grid[min(best + 1, PROFILE_GRID - 1)]
    refined = optimize.minimize_scalar(profile, bounds=(left, right), method="bounded", options={"xatol": 1e-10})
    lam0 = float(refined.x) if refined.fun <= values[best] else float(grid[best])
    coefs, rss0 = _profile(np.array([lam0]), x, log_y, xi, sqrt_w, multiplicity)
    params = np.concatenate([[lam0], coefs[0]])
    rss = float(rss0[0])
    stderr = math.nan
    if polish:
        params, rss, stderr = _polish(params, rss, x, log_y, xi, sqrt_w, multiplicity)
    return PowerLogFit(
        lam=float(params[0]),
        multiplicity=multiplicity,
        coefficients=tuple(float(c) for c in params[1:]),
        center=center,
        scale=scale,
        rss=rss,
        stderr=stderr,
        n_points=int(x.size),
    )


def _polish(
    start: np.ndarray,
    start_rss: float,
    x: np.ndarray,
    log_y: np.ndarray,
    xi: np.ndarray,
    sqrt_w: np.ndarray,
    multiplicity: int,
) -> tuple[np.ndarray, float, float]:
    """Joint nonlinear least squares on the log residuals from ``start``; returns
    (params, rss, stderr of lambda from the Jacobian)."""
    design = _design(xi, multiplicity)

    def residuals(params: np.ndarray) -> np.ndarray:
        poly = design @ params[1:]
        if np.any(poly <= 0) or (multiplicity > 1 and params[-1] < 0):
            return np.full_like(x, INVALID_RESIDUAL)
        return sqrt_w * (log_y + params[0] * x - np.log(poly))

    solution = optimize.least_squares(residuals, start, method="trf", x_scale="jac")
    params = solution.x
    resid = residuals(params)
    rss = float(resid @ resid)
    if rss > start_rss:  # the polish must not make the fit worse
        params = start
        resid = residuals(params)
        rss = float(resid @ resid)
    dof = x.size - (multiplicity + 1)
    stderr = math.nan
    if dof > 0:
        jac = optimize.approx_fprime(params, residuals, 1e-7 * np.maximum(1.0, np.abs(params)))
        try:
            cov = np.linalg.inv(jac.T @ jac) * (rss / dof)
            stderr = float(math.sqrt(max(cov[0, 0], 0.0)))
        except np.linalg.LinAlgError:
            stderr = math.nan
    return params, rss, stderr


def fit_power_loglog(x: np.ndarray, log_y: np.ndarray, weights: np.ndarray | None = None) -> PowerLogLogFit:
    """(Weighted) linear least squares for  log y = a - lambda x + mu log x  (x > 0)."""
    x = np.asarray(x, dtype=float)
    log_y = np.asarray(log_y, dtype=float)
    if np.any(x <= 0):
        raise ValueError("x: the log-log fit needs x > 0")
    w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=float)
    sqrt_w = np.sqrt(w / np.mean(w))
    A = np.column_stack([np.ones_like(x), -x, np.log(x)])
    coef, *_ = np.linalg.lstsq(A * sqrt_w[:, None], log_y * sqrt_w, rcond=None)
    resid = sqrt_w * (log_y - A @ coef)
    return PowerLogLogFit(lam=float(coef[1]), mu=float(coef[2]), intercept=float(coef[0]), rss=float(resid @ resid))


def local_slopes(x: np.ndarray, log_y: np.ndarray) -> np.ndarray:
    """-d log y / dx between consecutive points (the naive local estimate of lambda)."""
    x = np.asarray(x, dtype=float)
    log_y = np.asarray(log_y, dtype=float)
    return -np.diff(log_y) / np.diff(x)
