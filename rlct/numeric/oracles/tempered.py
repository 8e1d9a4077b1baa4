r"""The finite-temperature value the LLC estimator converges to, by quadrature (no sampling).

With an exact sampler and infinite data, the SGLD-family estimator of Lau et al. (2023,
arXiv 2308.12108) reads

.. math::
    \lambda_{n\beta} = n\beta\, \mathbb{E}_p[K], \qquad
    p(w) \propto \exp\big(-n\beta K(w) - \tfrac{\gamma}{2}\|w\|^2\big)

(w* = 0), which equals -d log Z / d log(n beta) and tends to lambda only as n beta -> infinity:
lambda - (m - 1)/log(n beta) + ... for m > 1 (from Z(t) ~ c t^-lambda (log t)^(m-1), Watanabe
2009, Thm 6.1 / 7.1), and with corrections ~ t^-(lambda' - lambda) from the next pole lambda'
when m = 1. This module computes lambda_{n beta} for dim <= 2 by the trapezoid rule in log
coordinates w_j = s_j exp(u_j) over the 2^dim sign orthants: the integrand is smooth in u and
decays like exp(u) as u -> -infinity and doubly exponentially as u -> +infinity, so the rule
converges fast; the validation report uses it to separate a sampler's error from the
estimator's own finite-n beta bias.

Accuracy: exact to ~1e-15 against closed-form 1-D reductions when K vanishes only on the
coordinate axes (monomial generators: x*y, x*y^2, {x, y^2}). When K vanishes on a curve off the
axes (the cusp x^2 - y^3) the zero valley at |w| ~ 1 is narrower than the grid step and the
result moves by ~3e-3 under grid refinement: callers should restrict to the first kind, or use
`tempered_mean_nested`, a nested adaptive (Gauss-Kronrod) quadrature in two variables that takes the
valley's x-positions at each y as breakpoints.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Callable

import numpy as np

from rlct.numeric.oracles.adaptive import integrate_adaptive

LOG_LOWER = -40.0  # exp(-40) ~ 4e-18: the mass below is < that fraction of the total
TAIL_SDS = 12.0  # upper limit |w_j| <= 12 / sqrt(gamma) (Gaussian tail e^-72)
# breakpoints at distance 2^-j, j < 16, from each zero of K (nested quadrature), and further down to
# ~ (n beta)^(-1/2) / 4, the width of the ridge, at n beta > 2^26 (the tempered-limit oracle goes
# to 10^16: with 16 levels the rule missed the ridge of x^2 y^2 at y ~ 1e-8, 3e-3 off)
GRADED_LEVELS = 16
# rounding noise accepted by the inner quadrature, relative to each piece's own integral of
# max(w, n beta K w) (w the weight; deep polynomial networks: K cancels to ~4e-9 relative near
# its valleys, pnn L3r4): the noise then moves n beta E[K] by ~1e-8 absolute at most. The
# outer quadrature, whose integrand carries the inner one's error, accepts 10x that
INNER_NOISE_FLOOR = 1e-8
# a zero c of one generator marks a ridge of e^(-n beta K) (and gets graded breakpoints) when
# n beta K(c) <= the cutoff (above it the integrand is < e^-400 there) and n beta K rises by >= 1
# within RIDGE_PROBE of c (where it does not, the integrand varies by < e over 2 RIDGE_PROBE and
# the adaptive rule resolves it unaided: deep networks have dozens of such zeros in their flat
# region, pnn L3r4)
VALLEY_ENERGY_CUTOFF = 400.0
RIDGE_PROBE = 2.0**-4


def _check_temperature(nbeta: float, localization: float) -> None:
    """``ValueError`` naming nbeta or gamma unless both are finite positive numbers."""
    for name, value in (("nbeta", nbeta), ("localization", localization)):
        if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
            raise ValueError(f"{name}: expected a positive number, got {value!r}")


def tempered_mean(
    potential: Callable[..., np.ndarray],
    dim: int,
    nbeta: float,
    localization: float,
    *,
    points: int = 1601,
) -> float:
    r"""n beta E_p[K] under p(w) ∝ exp(-n beta K(w) - (gamma/2)||w||^2), w in R^dim.

    Args:
        potential: K as a vectorized numpy function of ``dim`` arrays (K >= 0, K(0) = 0).
        dim: 1 or 2.
        nbeta: the inverse temperature n beta (> 0).
        localization: gamma (> 0).
        points: trapezoid nodes per log coordinate.
    """
    if dim not in (1, 2):
        raise ValueError(f"dim: expected 1 or 2, got {dim!r}")
    _check_temperature(nbeta, localization)
    if not (isinstance(points, int) and points >= 101):
        raise ValueError(f"points: expected an integer >= 101, got {points!r}")
    upper = math.log(TAIL_SDS / math.sqrt(localization))
    u = np.linspace(LOG_LOWER, upper, points)
    step = u[1] - u[0]
    trapezoid = np.full(points, step)
    trapezoid[[0, -1]] = step / 2
    grids = np.meshgrid(*([u] * dim), indexing="ij")
    # log of (trapezoid weights x Jacobian prod_j exp(u_j)) on the tensor grid
    log_weight_base = functools.reduce(np.add.outer, [np.log(trapezoid)] * dim) + sum(grids)
    log_weights, energies = [], []
    for signs in itertools.product((-1.0, 1.0), repeat=dim):
        w = [s * np.exp(g) for s, g in zip(signs, grids, strict=True)]
        k = np.asarray(potential(*w), dtype=np.float64)
        if np.any(k < -1e-12 * (1 + np.abs(k).max())):
            raise ValueError("potential: K must be >= 0")
        tk = nbeta * np.maximum(k, 0.0)
        log_weights.append(log_weight_base - tk - 0.5 * localization * sum(x * x for x in w))
        energies.append(tk)
    log_w = np.stack(log_weights)
    weights = np.exp(log_w - log_w.max())
    return float((weights * np.stack(energies)).sum() / weights.sum())



def tempered_mean_nested(
    potential: Callable[[np.ndarray, float], np.ndarray],
    nbeta: float,
    localization: float,
    *,
    valleys: Callable[[float], list[float]] | None = None,
    tolerance: float = 1e-10,
) -> float:
    r"""n beta E_p[K] under p(w) ∝ exp(-n beta K(w) - (gamma/2)||w||^2), w = (x, y) in R^2, by
    nested adaptive Gauss-Kronrod quadrature (`rlct.numeric.oracles.adaptive`, QUADPACK's (7, 15)
    pair, vectorized): the inner integral over x at each y, the outer over y, for the normalizer
    Z and for E[n beta K] Z together.

    Args:
        potential: K(x, y) >= 0 for an array x and a scalar y (numpy broadcasting), with
            K(0, 0) = 0.
        nbeta, localization: n beta and gamma (> 0).
        valleys: y -> the x-coordinates where K(., y) vanishes or nearly so (e.g. +-y^(3/2) for
            (x^2 - y^3)^2); the inner quadrature puts graded breakpoints around each of them
            that marks a ridge of the integrand (`VALLEY_ENERGY_CUTOFF`, `RIDGE_PROBE`; the
            ridge has a width ~ (n beta)^(-1/2) / |dK^(1/2)/dx|).
        tolerance: absolute and relative error target of each quadrature (the integrand is <= 1);
            a piece whose error is within `INNER_NOISE_FLOOR` of its own integral of
            max(w, n beta K w) (10x that in the outer quadrature) is accepted too, so the result
            is good to ~1e-7 absolute at worst where K carries rounding noise (and to
            ``tolerance`` where it does not).

    Unlike `tempered_mean`, K may vanish on curves off the coordinate axes. Agreement with
    `tempered_mean` and with 1-D reductions where they apply (x y^p: to 1e-7), and with a
    brute-force grid on the cusp, is checked in the tests.
    """
    _check_temperature(nbeta, localization)
    bound = TAIL_SDS / math.sqrt(localization)
    # graded breakpoints around each zero of K: the ridge there has a width that shrinks with
    # n beta (and, where valleys meet, with the distance to the meeting point)
    levels = max(GRADED_LEVELS, math.ceil(0.5 * math.log2(nbeta)) + 3)
    offsets = np.array([2.0**-j for j in range(0, levels)])

    def graded(centres: np.ndarray) -> np.ndarray:
        cuts = np.concatenate([centres, (centres[:, None] + offsets[None, :]).ravel(),
                               (centres[:, None] - offsets[None, :]).ravel(), [-bound, bound]])
        return np.unique(cuts[(cuts >= -bound) & (cuts <= bound)])

    def tempered_energy(x: np.ndarray, y: float) -> np.ndarray:
        k = np.broadcast_to(np.asarray(potential(x, y), dtype=np.float64), x.shape)
        if np.any(k < -1e-12):
            raise ValueError("potential: K must be >= 0")
        return nbeta * np.maximum(k, 0.0)

    def inner(y: float) -> np.ndarray:
        """(int dx weight, int dx n beta K weight) at this y."""
        centres = np.unique(np.array([0.0, *(float(x) for x in (valleys(y) if valleys else []))]))
        centres = centres[np.isfinite(centres) & (np.abs(centres) < bound)]
        at_centre = tempered_energy(centres, y)
        rise = np.maximum(tempered_energy(centres - RIDGE_PROBE, y), tempered_energy(centres + RIDGE_PROBE, y))
        ridge = (at_centre <= VALLEY_ENERGY_CUTOFF) & (rise >= at_centre + 1.0)
        centres = centres[ridge | (centres == 0.0)]

        def integrand(x: np.ndarray) -> np.ndarray:
            tk = tempered_energy(x, y)
            weight = np.exp(-tk - 0.5 * localization * (x * x + y * y))
            return np.stack([weight, tk * weight], axis=1)

        return integrate_adaptive(integrand, graded(centres), epsabs=tolerance, epsrel=tolerance,
                                  relative_floor=INNER_NOISE_FLOOR)

    def outer(ys: np.ndarray) -> np.ndarray:
        return np.stack([inner(float(y)) for y in ys])

    normalizer, moment = integrate_adaptive(outer, graded(np.zeros(1)), epsabs=tolerance, epsrel=tolerance,
                                            relative_floor=10 * INNER_NOISE_FLOOR)
    return float(moment / normalizer)
