r"""Certificates of the local learning coefficients at TMS k-gon critical points.

For every (c, k, sigma_plus) with 5 <= k <= c <= 8 the certificate records, at the point of
`rlct.cases._tms_kgon.kgon_point` (population loss of `rlct.cases._tms_loss`, computed at 50 digits):
  * ||grad L(w*)|| (limited by the 45 stored digits of (l*, b*));
  * the kink margin min_(i,j) min(|b_j|, |a_ij + b_j|) > 0, so L is analytic near w*;
  * the Hessian spectrum: rank, number of negative eigenvalues, the smallest kept |eigenvalue|
    and the largest dropped one (the gap);
  * exact flatness along the known flat directions (`rlct.cases._tms_flat.exact_flatness`);
  * the dimension of {L = L*} measured by projection + PCA (`rlct.cases._tms_flat`).

Rule (Watanabe 2009, "Algebraic Geometry and Statistical Learning Theory", sec. 7.1, and
theory.md sec. 0): if w* is a local minimum near which {L = L*} is a submanifold of codimension r
and the Hessian has rank r (Morse-Bott), then lambda(w*) = r/2, m = 1. Here the flat set contains
the rotation orbit times the sigma- boxes (dimension 1 + 3 sigma-, exactly flat); the Hessian is
positive definite on a complement, so by the Morse-Bott lemma L - L* is equivalent to the squared
distance to that manifold, and lambda = rank/2 with rank = 3c - 1 - 3 sigma- = 3k - 1 + 3 sigma+.

What the computation shows (CERTIFICATES below; regenerate with `regenerate_certificates`):
the rule lambda = (3k - 1)/2 + (3/2) sigma+ of theory.md sec. 5 holds whenever all dead features
have the same sign (sigma+ = 0 or sigma- = 0). When both kinds are present (sigma+ >= 1 and
sigma- >= 1, which needs c - k >= 2) the point is a **saddle**: the output of a sigma+ feature j
when a sigma- feature i fires is ReLU(u W_j.W_i + 1/(2c)), whose cross term 2 (1/(2c)) u W_j.W_i
couples W_j to W_i, whose own diagonal block is 0; the Hessian gets 2 negative eigenvalues
(and 2 more positive ones) and L decreases along them. No learning coefficient is certified there.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import mpmath

from rlct.cases._tms_flat import exact_flatness, measure_flat_dimension
from rlct.cases._tms_kgon import (
    DPS,
    SIGMA_MINUS_BIAS,
    gradient_norm,
    hessian_spectrum,
    kgon_parameters,
    kgon_point,
    loss_at,
)
from rlct.cases._tms_loss import max_kink_free_radius, population_hessian, population_loss

DESCENT_STEP = mpmath.mpf("1e-3")  # step along a negative-curvature eigenvector (saddle check)


@dataclass(frozen=True)
class Certificate:
    """The numbers behind one k-gon's learning coefficient (see the module docstring)."""

    c: int
    k: int
    sigma_plus: int
    loss: float
    gradient_norm: float
    kink_margin: float
    rank: int
    negative: int
    smallest_kept: float
    largest_dropped: float
    exact_flatness: float
    flat_dimension: int
    flat_smallest_kept: float
    flat_largest_dropped: float
    descent: float  # L(w* + t v) - L* along the most negative eigenvector (0 at a minimum)

    @property
    def sigma_minus(self) -> int:
        return self.c - self.k - self.sigma_plus

    @property
    def dim(self) -> int:
        return 3 * self.c

    @property
    def is_minimum(self) -> bool:
        return self.negative == 0

    @property
    def minimally_singular(self) -> bool:
        """Local minimum whose Hessian rank equals the codimension of the measured flat set."""
        return self.is_minimum and self.rank == self.dim - self.flat_dimension

    @property
    def rule(self) -> Fraction:
        """theory.md sec. 5: (3k - 1)/2 + (3/2) sigma+."""
        return Fraction(3 * self.k - 1, 2) + Fraction(3, 2) * self.sigma_plus

    @property
    def learning_coefficient(self) -> Fraction | None:
        """rank/2 at a minimally singular point, else None."""
        return Fraction(self.rank, 2) if self.minimally_singular else None

    def describe(self) -> str:
        return (
            f"||grad L|| = {self.gradient_norm:.1e}; Hessian rank {self.rank} of {self.dim} "
            f"(smallest kept eigenvalue {self.smallest_kept:.4g}, largest dropped "
            f"{self.largest_dropped:.1e}, {self.negative} negative); flat set {{L = L*}} of "
            f"measured dimension {self.flat_dimension} (PCA of projected perturbations: smallest "
            f"kept {self.flat_smallest_kept:.3g}, largest dropped {self.flat_largest_dropped:.1e};"
            f" rotation and sigma- moves flat to {self.exact_flatness:.0e}); kink margin "
            f"{self.kink_margin:.4g} > 0 (L analytic near w*)"
        )


def point_keys(cs: tuple[int, ...] = (5, 6, 7, 8)) -> list[tuple[int, int, int]]:
    """All (c, k, sigma_plus) with 5 <= k <= c and 0 <= sigma_plus <= c - k."""
    return [(c, k, s) for c in cs for k in range(5, c + 1) for s in range(c - k + 1)]


def certify_point(c: int, k: int, sigma_plus: int, *, measure_flat: bool = True) -> Certificate:
    """Compute the certificate of one point from scratch (a few seconds with ``measure_flat``)."""
    w = kgon_point(c, k, sigma_plus)
    spectrum = hessian_spectrum(w)
    descent = mpmath.mpf(0)
    if spectrum.negative:
        with mpmath.workdps(DPS):
            values, vectors = mpmath.eigsy(mpmath.matrix(population_hessian(w)))
            lowest = min(range(len(w)), key=lambda i: values[i])
            moved = [w[p] + DESCENT_STEP * vectors[p, lowest] for p in range(len(w))]
            descent = population_loss(moved) - loss_at(w)
    if measure_flat and not spectrum.negative:
        flat = measure_flat_dimension(w, float(spectrum.eigenvalues[-1]))
        flat_numbers = (flat.dimension, flat.smallest_kept, flat.largest_dropped)
    else:
        flat_numbers = (-1, float("nan"), float("nan"))
    return Certificate(
        c=c,
        k=k,
        sigma_plus=sigma_plus,
        loss=float(loss_at(w)),
        gradient_norm=float(gradient_norm(w)),
        kink_margin=float(max_kink_free_radius(w)),
        rank=spectrum.rank,
        negative=spectrum.negative,
        smallest_kept=float(spectrum.smallest_kept),
        largest_dropped=float(spectrum.largest_dropped),
        exact_flatness=float(exact_flatness(w, k, sigma_plus)),
        flat_dimension=flat_numbers[0],
        flat_smallest_kept=flat_numbers[1],
        flat_largest_dropped=flat_numbers[2],
        descent=float(descent),
    )


def regenerate_certificates() -> str:
    """The source of `CERTIFICATES` (paste it below after changing the computation)."""
    lines = ["CERTIFICATES: dict[tuple[int, int, int], Certificate] = {"]
    for key in point_keys():
        cert = certify_point(*key)
        fields = ", ".join(
            f"{name}={getattr(cert, name)!r}"
            for name in Certificate.__dataclass_fields__
            if name not in ("c", "k", "sigma_plus")
        )
        lines.append(f"    {key}: Certificate({key[0]}, {key[1]}, {key[2]}, {fields}),")
    lines.append("}")
    return "\n".join(lines)


def kgon_description(c: int, k: int, sigma_plus: int) -> str:
    """Human-readable w*: the k-gon's (l*, b*) and the dead features."""
    l_star, b_star = kgon_parameters(k)
    sigma_minus = c - k - sigma_plus
    dead = []
    if sigma_plus:
        dead.append(f"{sigma_plus} sigma+ dead feature(s) W_i = 0, b_i = 1/(2c) = 1/{2 * c}")
    if sigma_minus:
        bias = mpmath.nstr(SIGMA_MINUS_BIAS, 6)
        dead.append(f"{sigma_minus} sigma- dead feature(s) W_i = 0, b_i = {bias}")
    return (
        f"regular {k}-gon of column length l* = {mpmath.nstr(l_star, 12)} with bias "
        f"b* = {mpmath.nstr(b_star, 12)} on features 0..{k - 1}"
        + ("; " + "; ".join(dead) if dead else "")
        + f" (c = {c}, d = {3 * c})"
    )
