r"""The k-gon critical points of TMS with two hidden dimensions, to high precision.

Chen, Lau, Mendel, Wei, Murfet 2023 (arXiv 2310.06301, sec. 4 and appendix): for r = 2 hidden
dimensions the population loss of `rlct.cases._tms_loss` has critical points where k of the c columns
of W form a regular k-gon of column length l and those k features share one bias b, and the other
c - k features are "dead", W_i = 0, with either a negative bias (sigma-) or the positive bias
b+ = 1/(2c) (sigma+).

Layout of the point in the flat chart (W[0, :], W[1, :], b): features 0..k-1 are the k-gon,
W_i = l (cos 2 pi i/k, sin 2 pi i/k), b_i = b; then `sigma_plus` features with W_i = 0,
b_i = 1/(2c); then the sigma- features with W_i = 0, b_i = `SIGMA_MINUS_BIAS`.

Why these are critical points (checked numerically to 40 digits in `certify`):
  * k-gon block. The loss restricted to the symmetric family depends on (l, b) only, through the
    per-feature reduced loss R(l, b) = G(l^2, b, 1) + sum_{m=1}^{k-1} G(l^2 cos(2 pi m/k), b, 0);
    the dihedral group D_k acts on parameters preserving L, so a critical point of R is a critical
    point of L (symmetric criticality). `solve_kgon` finds it with mpmath.findroot on grad R.
  * sigma+ dead feature: its output is ReLU(0 + beta) = beta for every input, contributing
    (1/c)(1/3 - beta + beta^2) + ((c-1)/c) beta^2, minimized at beta = 1/(2c), a drop of
    1/(4c^2) against a sigma- feature; grad_{W_i} L = (2 beta/c) E[u] sum_j W_j = 0 because the
    k-gon's columns sum to zero.
  * sigma- dead feature: L does not depend on (W_i, b_i) on the open set where feature i never
    fires and never makes a k-gon output fire: b_i + max(0, |W_i|^2, max_j W_i.W_j) < 0 and
    W_i.W_j + b < 0 for the k-gon columns j. (0, b_i < 0) lies inside it, so these 3 coordinates
    are exactly flat in a full neighbourhood and contribute 0 to lambda.
At 4-gons (l = 1, b = 0) every pair (i, j) with W_i . W_j <= 0 has its ReLU kink at u = 0
(pre-activation u a_ij + 0): L is C^1 but not C^2 there (see `fourgon_second_derivative_jump`).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

import mpmath

from rlct.cases._tms_loss import (
    pair_jet,
    population_gradient,
    population_hessian,
    population_loss,
)

DPS = 50  # working precision (decimal digits) of the critical-point computations

# (l*, b*) of the regular k-gon, 45 significant digits, from `regenerate_kgon_table()`
# (mpmath.findroot on grad R at 60 digits); tests/test_case_tms.py re-solves and compares.
KGON_TABLE: dict[int, tuple[str, str]] = {
    5: (
        "1.17045963909782894866084347085047448259287554",
        "-0.282297283126771638578969444057758342309480847",
    ),
    6: (
        "1.32052633077996701993636377957808639752265862",
        "-0.618135131868214974800852165337412624300065023",
    ),
    7: (
        "1.44839375037951563547927655095889869911606078",
        "-0.966906339379662539861872186417441240351669956",
    ),
    8: (
        "1.55044969005925742459055715933791574707550047",
        "-1.29119264469249019311123546071537223774648781",
    ),
}

SIGMA_MINUS_BIAS = mpmath.mpf(-1) / 2
"""The bias of a sigma- dead feature. Any value < 0 gives a critical point with the same loss
and the same lambda (the feature's 3 coordinates are flat on an open set around it); -1/2 keeps
the flat box around (0, b_i) comfortably wide for a sampler."""


def reduced_loss(l: mpmath.mpf, b: mpmath.mpf, k: int) -> mpmath.mpf:
    """R(l, b): the loss contributed by one k-gon feature (its own output and the k - 1 other
    k-gon outputs), so the k-gon block contributes (k/c) R."""
    return _reduced_jet(l, b, k)[0]


def _reduced_jet(l: Any, b: Any, k: int) -> tuple[Any, Any, Any]:
    """(R, dR/dl, dR/db) by the chain rule through a = l^2 cos(2 pi m / k); floats or mpf."""
    exact = isinstance(l, mpmath.mpf)
    value = grad_l = grad_b = 0 * l
    for m in range(k):
        cosine: Any = 1
        if m:
            cosine = mpmath.cos(2 * mpmath.pi * m / k) if exact else math.cos(2 * math.pi * m / k)
        g, g_a, g_b, *_ = pair_jet(l * l * cosine, b, int(m == 0))
        value += g
        grad_l += g_a * 2 * l * cosine
        grad_b += g_b
    return value, grad_l, grad_b


def solve_kgon(
    k: int, start: tuple[float, float] | None = None, dps: int = DPS
) -> tuple[mpmath.mpf, mpmath.mpf]:
    """(l*, b*) of the regular k-gon critical point, k >= 5, to ``dps`` digits.

    Starts from ``start`` (default: the stored table, else a coarse grid minimum of R) and
    polishes with Newton's method (mpmath.findroot) on grad R = 0."""
    if k < 5:
        raise ValueError(f"k: the k-gon equations are smooth only for k >= 5, got {k}")
    with mpmath.workdps(dps + 10):
        if start is None and k in KGON_TABLE:
            start = (float(KGON_TABLE[k][0]), float(KGON_TABLE[k][1]))
        first = start if start is not None else _grid_start(k)
        root = mpmath.findroot(
            lambda l, b: _reduced_jet(l, b, k)[1:],
            (mpmath.mpf(first[0]), mpmath.mpf(first[1])),
            tol=mpmath.mpf(10) ** (-2 * dps),
        )
    with mpmath.workdps(dps):
        return +root[0], +root[1]


def _grid_start(k: int) -> tuple[float, float]:
    """A coarse minimum of R(l, b) on a grid (float precision) to start Newton from."""
    best = (math.inf, 1.0, 0.0)
    for i in range(61):
        for j in range(61):
            l, b = 0.5 + 1.5 * i / 60, -2.0 + 2.0 * j / 60
            best = min(best, (_reduced_jet(l, b, k)[0], l, b))
    return best[1], best[2]


def regenerate_kgon_table(
    ks: tuple[int, ...] = (5, 6, 7, 8), digits: int = 45
) -> dict[int, tuple[str, str]]:
    """Recompute `KGON_TABLE` from scratch (grid start, Newton at 60 digits)."""
    table = {}
    for k in ks:
        l_star, b_star = solve_kgon(k, start=_grid_start(k), dps=60)
        table[k] = (mpmath.nstr(l_star, digits), mpmath.nstr(b_star, digits))
    return table


@functools.cache
def kgon_parameters(k: int) -> tuple[mpmath.mpf, mpmath.mpf]:
    """(l*, b*) at `DPS` digits: the stored table for k >= 5, (1, 0) for the 4-gon."""
    if k == 4:
        return mpmath.mpf(1), mpmath.mpf(0)
    if k in KGON_TABLE:
        with mpmath.workdps(DPS):
            return mpmath.mpf(KGON_TABLE[k][0]), mpmath.mpf(KGON_TABLE[k][1])
    return solve_kgon(k)


def kgon_point(c: int, k: int, sigma_plus: int) -> list[mpmath.mpf]:
    """The flat critical point w* (layout in the module docstring), `DPS` digits."""
    l_star, b_star = kgon_parameters(k)
    with mpmath.workdps(DPS):
        w = [mpmath.mpf(0)] * (3 * c)
        for i in range(k):
            angle = 2 * mpmath.pi * i / k
            w[i], w[c + i] = l_star * mpmath.cos(angle), l_star * mpmath.sin(angle)
            w[2 * c + i] = b_star
        for i in range(k, c):
            w[2 * c + i] = mpmath.mpf(1) / (2 * c) if i < k + sigma_plus else SIGMA_MINUS_BIAS
    return w


def sigma_minus_box_radius(k: int) -> float:
    """Radius of a ball of W_i (with b_i = `SIGMA_MINUS_BIAS`) inside the inert box of a sigma-
    dead feature next to the k-gon: |W_i| < min(-b*, -b_i)/l* keeps W_i.W_j + b* < 0 and
    W_i.W_j + b_i < 0, and |W_i| < sqrt(-b_i) keeps |W_i|^2 + b_i < 0."""
    l_star, b_star = kgon_parameters(k)
    minus = -float(SIGMA_MINUS_BIAS)
    return min(min(-float(b_star), minus) / float(l_star), math.sqrt(minus))


def kgon_loss(c: int, k: int, sigma_plus: int) -> mpmath.mpf:
    """L at the k-gon critical point: (h_k + c - k)/(3c) - sigma_plus/(4c^2), h_k = 3k R(l*, b*)."""
    l_star, b_star = kgon_parameters(k)
    with mpmath.workdps(DPS):
        h_k = 3 * k * reduced_loss(l_star, b_star, k) if k > 4 else mpmath.mpf(0)
        return (h_k + c - k) / (3 * c) - mpmath.mpf(sigma_plus) / (4 * c * c)


def h_k(k: int) -> mpmath.mpf:
    """h_k = 3k R(l*, b*), the k-gon's share in L(k, c) = (h_k + c - k)/(3c) (h_4 = 0)."""
    l_star, b_star = kgon_parameters(k)
    with mpmath.workdps(DPS):
        return 3 * k * reduced_loss(l_star, b_star, k)


def rotation_tangent(w: list[mpmath.mpf]) -> list[mpmath.mpf]:
    """d/dtheta of R_theta w at theta = 0 (R_theta rotates every column W_i; b unchanged)."""
    c = len(w) // 3
    return [-w[c + i] for i in range(c)] + [w[i] for i in range(c)] + [mpmath.mpf(0)] * c


def rotate(w: list[mpmath.mpf], theta: mpmath.mpf) -> list[mpmath.mpf]:
    """R_theta w: every column W_i rotated by theta (an exact symmetry of L)."""
    c = len(w) // 3
    cos, sin = mpmath.cos(theta), mpmath.sin(theta)
    first = [cos * w[i] - sin * w[c + i] for i in range(c)]
    second = [sin * w[i] + cos * w[c + i] for i in range(c)]
    return first + second + list(w[2 * c :])


@dataclass(frozen=True)
class HessianSpectrum:
    """Eigenvalues of the population Hessian at w*, split at the numerical-rank gap.

    Attributes:
        eigenvalues: all d eigenvalues, ascending (mpmath, `DPS` digits).
        rank: number of eigenvalues above the gap.
        smallest_kept: the smallest eigenvalue counted in the rank.
        largest_dropped: the largest |eigenvalue| not counted (0 if rank == d).
        negative: number of eigenvalues below -`ZERO_TOLERANCE` (0 at a local minimum).
    """

    eigenvalues: tuple[mpmath.mpf, ...]
    rank: int
    smallest_kept: mpmath.mpf
    largest_dropped: mpmath.mpf
    negative: int

    @property
    def gap(self) -> mpmath.mpf:
        """smallest kept / largest dropped (inf if nothing is dropped or dropped are exact 0)."""
        if self.largest_dropped == 0:
            return mpmath.inf
        return self.smallest_kept / self.largest_dropped


ZERO_TOLERANCE = mpmath.mpf(10) ** (-DPS // 2)
"""|eigenvalue| below this counts as zero: the Hessian is computed to ~DPS digits, so true zeros
come out ~1e-DPS and the kept eigenvalues are >= 1e-3 (see the certificate table)."""


def hessian_spectrum(w: list[mpmath.mpf]) -> HessianSpectrum:
    """Eigen-decomposition (mpmath.eigsy) of the exact population Hessian at ``w``."""
    with mpmath.workdps(DPS):
        hess = mpmath.matrix(population_hessian(w))
        values = sorted(mpmath.eigsy(hess, eigvals_only=True))
        kept = [v for v in values if abs(v) > ZERO_TOLERANCE]
        dropped = [abs(v) for v in values if abs(v) <= ZERO_TOLERANCE]
        return HessianSpectrum(
            eigenvalues=tuple(values),
            rank=len(kept),
            smallest_kept=min((abs(v) for v in kept), default=mpmath.mpf(0)),
            largest_dropped=max(dropped, default=mpmath.mpf(0)),
            negative=sum(1 for v in kept if v < 0),
        )


def gradient_norm(w: list[mpmath.mpf]) -> mpmath.mpf:
    """||grad L(w)||_2 at `DPS` digits."""
    with mpmath.workdps(DPS):
        return mpmath.sqrt(sum(g * g for g in population_gradient(w)))


def loss_at(w: list[mpmath.mpf]) -> mpmath.mpf:
    with mpmath.workdps(DPS):
        return population_loss(w)
