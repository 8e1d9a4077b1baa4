"""The integration domain of the oracles: a box containing 0 with a product prior.

The prior on the box prod_j [lo_j, hi_j] (lo_j <= 0 < hi_j) has density

    phi(w) = prod_j |w_j|^(h_j) / Z_j,   Z_j = (|lo_j|^(h_j+1) + hi_j^(h_j+1)) / (h_j + 1),

the standard form of a prior near w = 0 in Watanabe 2009 ("Algebraic Geometry and Statistical
Learning Theory", Thm 6.1). Each coordinate splits into its sign halves: the half of sign s and
length a (a = hi_j for s = +1, |lo_j| for s = -1) carries prior mass a^(h_j+1) / (h_j+1) / Z_j,
and in the log-coordinate u = -log(|w_j| / a) >= 0 the prior restricted to that half is the
exponential density (h_j+1) exp(-(h_j+1) u). Both oracles work in these log-coordinates, which
turn the neighbourhoods of the coordinate hyperplanes (where the zero sets of normal crossings
live) into half-lines.

Also here: validation of the inputs shared by both oracles (``K_fn``, ``dim``, ``box``,
``prior``, ``seed``). Every error names its field.
"""

from __future__ import annotations

import itertools
import math
import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

KFunction = Callable[[np.ndarray], np.ndarray]

# K(0) must vanish for the oracles to measure lambda at w = 0; polynomial K evaluates 0 exactly.
K_AT_ZERO_TOLERANCE = 1e-12
# A K value below -NEGATIVE_K_TOLERANCE * max(1, |K|_max) is reported as an error; smaller
# negative values are rounding in an expanded polynomial and are set to 0.
NEGATIVE_K_TOLERANCE = 1e-9


@dataclass(frozen=True)
class SignHalf:
    """One sign half of a coordinate: w_j = sign * length * exp(-u), u >= 0."""

    sign: int
    length: float
    mass: float


@dataclass(frozen=True)
class ProductDomain:
    """A box containing 0 with the prior prod_j |w_j|^(h_j) (see the module docstring).

    Attributes:
        lo, hi: (d,) box bounds, lo_j <= 0 < hi_j.
        prior_exponents: (d,) h_j >= 0.
    """

    lo: np.ndarray
    hi: np.ndarray
    prior_exponents: np.ndarray

    @property
    def dim(self) -> int:
        return int(self.lo.shape[0])

    def halves(self, j: int) -> tuple[SignHalf, ...]:
        """The sign halves of coordinate j with positive length, with their prior masses."""
        rate = float(self.prior_exponents[j]) + 1.0
        lengths = [(1, float(self.hi[j])), (-1, float(-self.lo[j]))]
        lengths = [(s, a) for s, a in lengths if a > 0]
        weights = [a**rate for _, a in lengths]
        total = sum(weights)
        return tuple(SignHalf(s, a, wt / total) for (s, a), wt in zip(lengths, weights))

    def sign_patterns(self) -> list[tuple[SignHalf, ...]]:
        """Every orthant of the box: one half per coordinate (2^d patterns at most)."""
        return list(itertools.product(*(self.halves(j) for j in range(self.dim))))

    def sample_prior(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """(size, d) independent draws from the prior (inverse CDF on each half)."""
        out = np.empty((size, self.dim))
        for j in range(self.dim):
            halves = self.halves(j)
            rate = float(self.prior_exponents[j]) + 1.0
            pick = rng.choice(len(halves), size=size, p=[hf.mass for hf in halves])
            signs = np.array([hf.sign for hf in halves], dtype=float)[pick]
            lengths = np.array([hf.length for hf in halves])[pick]
            out[:, j] = signs * lengths * rng.random(size) ** (1.0 / rate)
        return out

    def contains(self, w: np.ndarray) -> np.ndarray:
        """(N,) bool: each row of w lies in the closed box."""
        return np.all((w >= self.lo) & (w <= self.hi), axis=-1)

    def ranges(self) -> np.ndarray:
        """(d,) side lengths hi - lo."""
        return self.hi - self.lo


def as_dim(dim: object) -> int:
    if isinstance(dim, bool) or not isinstance(dim, numbers.Integral) or int(dim) < 1:
        raise ValueError(f"dim: expected an integer >= 1, got {dim!r}")
    return int(dim)


def as_seed(seed: object) -> int:
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or int(seed) < 0:
        raise ValueError(f"seed: expected a non-negative integer, got {seed!r}")
    return int(seed)


def _finite_number(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name}: expected a real number, got {value!r}")
    out = float(value)
    if not math.isfinite(out):
        raise ValueError(f"{name}: expected a finite number, got {value!r}")
    return out


def as_box(box: object, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """Bounds (lo, hi) from ``(lo, hi)`` (same for every coordinate) or ``[(lo_1, hi_1), ...]``.

    Every interval must contain 0 with hi_j > 0 >= lo_j: the oracles measure lambda at w = 0.
    """
    if isinstance(box, (str, bytes)) or not isinstance(box, Sequence):
        raise ValueError(f"box: expected (lo, hi) or a list of {dim} (lo, hi) pairs, got {box!r}")
    items = list(box)
    if len(items) == 2 and all(isinstance(v, numbers.Real) for v in items):
        pairs = [tuple(items)] * dim
    elif len(items) == dim and all(
        isinstance(p, Sequence) and not isinstance(p, (str, bytes)) and len(p) == 2 for p in items
    ):
        pairs = [tuple(p) for p in items]
    else:
        raise ValueError(f"box: expected (lo, hi) or a list of {dim} (lo, hi) pairs, got {box!r}")
    lo = np.array([_finite_number(f"box[{j}][0]", p[0]) for j, p in enumerate(pairs)])
    hi = np.array([_finite_number(f"box[{j}][1]", p[1]) for j, p in enumerate(pairs)])
    for j in range(dim):
        if not lo[j] < hi[j]:
            raise ValueError(f"box: interval {j} is empty: [{lo[j]}, {hi[j]}]")
        if not (lo[j] <= 0.0 < hi[j]):
            raise ValueError(
                f"box: interval {j} = [{lo[j]}, {hi[j]}] must contain 0 with hi > 0 "
                "(the oracles measure lambda at w = 0)"
            )
    return lo, hi


def as_prior(prior: object, dim: int) -> np.ndarray:
    """Prior exponents h_j >= 0 (None: uniform prior, all h_j = 0)."""
    if prior is None:
        return np.zeros(dim)
    if isinstance(prior, (str, bytes)) or not isinstance(prior, Sequence):
        raise ValueError(f"prior: expected a list of {dim} exponents h_j >= 0, got {prior!r}")
    if len(prior) != dim:
        raise ValueError(f"prior: expected {dim} exponents (one per variable), got {len(prior)}")
    out = np.array([_finite_number(f"prior[{j}]", h) for j, h in enumerate(prior)])
    for j, h in enumerate(out):
        if h < 0:
            raise ValueError(f"prior[{j}]: expected an exponent >= 0, got {h}")
    return out


def make_domain(box: object, prior: object, dim: int) -> ProductDomain:
    lo, hi = as_box(box, dim)
    return ProductDomain(lo=lo, hi=hi, prior_exponents=as_prior(prior, dim))


def checked_K(K_fn: object, domain: ProductDomain) -> KFunction:
    """Validate ``K_fn`` (callable, (N, d) -> (N,), K(0) = 0) and wrap it.

    The wrapper returns float64 (N,) arrays, raises ``ValueError`` on NaN/Inf or clearly negative
    values (K is a Kullback-Leibler divergence, >= 0), and clips rounding-level negatives to 0.
    """
    if not callable(K_fn):
        raise ValueError(f"K_fn: expected a callable K(W: (N, d)) -> (N,), got {K_fn!r}")

    def wrapped(W: np.ndarray) -> np.ndarray:
        values = np.asarray(K_fn(W), dtype=np.float64)
        if values.shape != (W.shape[0],):
            raise ValueError(
                f"K_fn: expected an array of shape ({W.shape[0]},) for input of shape "
                f"{W.shape}, got shape {values.shape}"
            )
        if not np.all(np.isfinite(values)):
            bad = W[~np.isfinite(values)][0]
            raise ValueError(f"K_fn: returned NaN/Inf at w = {bad.tolist()}")
        scale = max(1.0, float(np.max(np.abs(values)))) if values.size else 1.0
        if np.any(values < -NEGATIVE_K_TOLERANCE * scale):
            bad = W[values < -NEGATIVE_K_TOLERANCE * scale][0]
            raise ValueError(f"K_fn: returned a negative value at w = {bad.tolist()}; K must be >= 0")
        return np.maximum(values, 0.0)

    dim = domain.dim
    probe = np.zeros((3, dim))  # 0 and two points inside the box
    probe[1] = 0.5 * domain.hi
    probe[2] = np.where(np.arange(dim) % 2 == 0, 0.25 * domain.lo, 0.25 * domain.hi)
    try:
        at_probe = wrapped(probe)
    except ValueError:
        raise
    except Exception as exc:  # the user's function failed on a (3, d) input
        raise ValueError(f"K_fn: calling it on an array of shape (3, {dim}) failed: {exc}") from exc
    if abs(at_probe[0]) > K_AT_ZERO_TOLERANCE:
        raise ValueError(
            f"K_fn: K(0) = {at_probe[0]:.3g}, but the oracles measure lambda at w = 0, which needs K(0) = 0"
        )
    return wrapped
