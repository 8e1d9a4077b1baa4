"""Adaptive cubature of Z_n = int exp(-n K(w)) phi(w) dw in log-coordinates, one n after another.

Each orthant of the box (a sign pattern, see `domain.ProductDomain`) is mapped to
u in [0, U_1] x ... x [0, U_d] by w_j = s_j a_j exp(-u_j); there the prior is the product of
exponential densities and the integrand is

    f_n(u) = mass(pattern) * prod_j (h_j+1) exp(-(h_j+1) u_j) * exp(-n K(w(u))).

For a normal crossing the sharp peak of exp(-n K) at the coordinate hyperplanes becomes a smooth
step at sum_j 2 k_j u_j = log n whose width does not depend on n, so the cost of a relative
accuracy is independent of n. The part of the orthant with some u_j > U_j is left out; its
contribution is at most sum_j exp(-(h_j+1) U_j) (the integrand is at most the prior), which is
reported as the tail bound.

The rule on each box is the degree-7 Genz-Malik rule with its embedded degree-5 rule for the
error estimate, and the box is split in half along the axis of largest fourth difference
(Genz & Malik 1980, "An adaptive algorithm for numerical integration over an n-dimensional
rectangular region", J. Comput. Appl. Math. 6(4):295-302; the weights are checked for exactness
in the tests). In one dimension an 8-point Gauss-Legendre rule with a 4-point one as the error
estimate replaces it. Refinement is global: the boxes holding the largest share of the error
estimate are split until  error + tail <= rel_tol * Z_n.

n increases along the grid and the partition is kept from one n to the next ("continuation"):
a ridge of exp(-n K) that is not aligned with the axes narrows by a factor sqrt(n'/n) per step,
so the boxes that resolved it at n are where its refinement at n' starts.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from rlct.numeric.oracles.domain import KFunction, ProductDomain

# Genz-Malik generator radii (Genz & Malik 1980, sec. 3).
_GM_L2 = math.sqrt(9.0 / 70.0)
_GM_L4 = math.sqrt(9.0 / 10.0)
_GM_L5 = math.sqrt(9.0 / 19.0)
# K is evaluated in chunks of at most this many points.
EVALUATION_CHUNK = 200_000


@dataclass(frozen=True)
class CubatureRule:
    """An embedded pair of rules on [-1, 1]^d with weights normalized to sum 1 (a mean).

    Attributes:
        nodes: (P, d).
        weights_high, weights_low: (P,) the rule and its lower-degree companion.
        axis_plus, axis_minus, axis_far_plus, axis_far_minus: (d,) node indices of
            +-l2 e_i and +-l4 e_i, for the fourth-difference split criterion (empty in 1-D).
    """

    nodes: np.ndarray
    weights_high: np.ndarray
    weights_low: np.ndarray
    axis_plus: np.ndarray
    axis_minus: np.ndarray
    axis_far_plus: np.ndarray
    axis_far_minus: np.ndarray

    @property
    def dim(self) -> int:
        return int(self.nodes.shape[1])

    def split_axis(self, values: np.ndarray, halfwidths: np.ndarray) -> np.ndarray:
        """(B,) axis along which to halve each box: largest fourth difference of the integrand
        (Genz & Malik 1980), ties broken by the longest side."""
        if self.dim == 1:
            return np.zeros(values.shape[0], dtype=int)
        centre = values[:, :1]
        near = values[:, self.axis_plus] + values[:, self.axis_minus] - 2 * centre
        far = values[:, self.axis_far_plus] + values[:, self.axis_far_minus] - 2 * centre
        fourth = np.abs(near - (_GM_L2**2 / _GM_L4**2) * far)
        scale = np.max(fourth, axis=1, keepdims=True)
        # Differences within 10% of the largest count as ties, resolved by the longest side.
        candidates = fourth >= 0.9 * scale
        score = np.where(candidates, halfwidths, -np.inf)
        return np.argmax(score, axis=1)


def genz_malik_rule(dim: int) -> CubatureRule:
    """The degree-7/5 Genz-Malik pair on [-1, 1]^dim (dim >= 2), 2^d + 2d^2 + 2d + 1 nodes."""
    if dim < 2:
        raise ValueError(f"dim: the Genz-Malik rule needs dim >= 2, got {dim}")
    d = dim
    nodes: list[np.ndarray] = [np.zeros(d)]
    high = [(12824 - 9120 * d + 400 * d * d) / 19683]
    low = [(729 - 950 * d + 50 * d * d) / 729]
    plus: list[int] = []
    minus: list[int] = []
    far_plus: list[int] = []
    far_minus: list[int] = []
    for radius, w_h, w_l, (pos, neg) in (
        (_GM_L2, 980 / 6561, 245 / 486, (plus, minus)),
        (_GM_L4, (1820 - 400 * d) / 19683, (265 - 100 * d) / 1458, (far_plus, far_minus)),
    ):
        for i in range(d):
            for sign, store in ((1.0, pos), (-1.0, neg)):
                point = np.zeros(d)
                point[i] = sign * radius
                store.append(len(nodes))
                nodes.append(point)
                high.append(w_h)
                low.append(w_l)
    for i, j in itertools.combinations(range(d), 2):
        for si, sj in itertools.product((1.0, -1.0), repeat=2):
            point = np.zeros(d)
            point[i], point[j] = si * _GM_L4, sj * _GM_L4
            nodes.append(point)
            high.append(200 / 19683)
            low.append(25 / 729)
    for signs in itertools.product((1.0, -1.0), repeat=d):
        nodes.append(_GM_L5 * np.array(signs))
        high.append(6859 / 19683 / 2**d)
        low.append(0.0)
    return CubatureRule(
        nodes=np.array(nodes),
        weights_high=np.array(high),
        weights_low=np.array(low),
        axis_plus=np.array(plus),
        axis_minus=np.array(minus),
        axis_far_plus=np.array(far_plus),
        axis_far_minus=np.array(far_minus),
    )


def gauss_pair_rule() -> CubatureRule:
    """1-D: 8-point Gauss-Legendre with the 4-point rule as companion (12 nodes)."""
    x8, w8 = np.polynomial.legendre.leggauss(8)
    x4, w4 = np.polynomial.legendre.leggauss(4)
    nodes = np.concatenate([x8, x4])[:, None]
    empty = np.zeros(0, dtype=int)
    return CubatureRule(
        nodes=nodes,
        weights_high=np.concatenate([w8 / 2, np.zeros(4)]),
        weights_low=np.concatenate([np.zeros(8), w4 / 2]),
        axis_plus=empty,
        axis_minus=empty,
        axis_far_plus=empty,
        axis_far_minus=empty,
    )


def rule_for(dim: int) -> CubatureRule:
    return gauss_pair_rule() if dim == 1 else genz_malik_rule(dim)


@dataclass(frozen=True)
class CubatureStep:
    """Z_n at one n: value, error estimate, tail bound and whether the tolerance was met."""

    n: float
    value: float
    error: float
    tail_bound: float
    converged: bool
    boxes: int


class LogCoordinatePartition:
    """The current partition of all orthants in log-coordinates, with K cached at the nodes."""

    def __init__(
        self,
        K: KFunction,
        domain: ProductDomain,
        u_max: np.ndarray,
        initial_width: float,
    ) -> None:
        self.K = K
        self.domain = domain
        self.rule = rule_for(domain.dim)
        self.u_max = np.asarray(u_max, dtype=float)
        self.evaluations = 0
        patterns = domain.sign_patterns()
        self._pattern_signs = np.array([[hf.sign for hf in p] for p in patterns], dtype=float)
        self._pattern_lengths = np.array([[hf.length for hf in p] for p in patterns])
        self._pattern_log_mass = np.array([sum(math.log(hf.mass) for hf in p) for p in patterns])
        self._rates = domain.prior_exponents + 1.0
        edges = [
            np.linspace(0.0, self.u_max[j], max(1, math.ceil(self.u_max[j] / initial_width)) + 1)
            for j in range(domain.dim)
        ]
        cells = np.array(list(itertools.product(*[range(len(e) - 1) for e in edges])))
        lows = np.stack([edges[j][cells[:, j]] for j in range(domain.dim)], axis=1)
        highs = np.stack([edges[j][cells[:, j] + 1] for j in range(domain.dim)], axis=1)
        count = len(patterns)
        centres = np.tile(0.5 * (lows + highs), (count, 1))
        halfwidths = np.tile(0.5 * (highs - lows), (count, 1))
        pattern = np.repeat(np.arange(count), cells.shape[0])
        points = self.rule.nodes.shape[0]
        self._size = 0
        self._centres = np.empty((0, domain.dim))
        self._halfwidths = np.empty((0, domain.dim))
        self._pattern = np.empty(0, dtype=int)
        self._k_nodes = np.empty((0, points))
        self._log_prior_nodes = np.empty((0, points))
        self._store(np.arange(centres.shape[0]), *self._evaluate(centres, halfwidths, pattern))

    @property
    def size(self) -> int:
        return self._size

    def tail_bound(self) -> float:
        """Prior mass left out by the truncation u_j <= U_j: at most sum_j exp(-(h_j+1) U_j)."""
        return float(np.sum(np.exp(-self._rates * self.u_max)))

    def _evaluate(self, centres: np.ndarray, halfwidths: np.ndarray, pattern: np.ndarray) -> tuple[np.ndarray, ...]:
        """K and the log prior density at the nodes of the given boxes."""
        u = centres[:, None, :] + halfwidths[:, None, :] * self.rule.nodes[None, :, :]
        signs = self._pattern_signs[pattern][:, None, :]
        lengths = self._pattern_lengths[pattern][:, None, :]
        flat = (signs * lengths * np.exp(-u)).reshape(-1, self.domain.dim)
        k_values = np.concatenate(
            [self.K(flat[i : i + EVALUATION_CHUNK]) for i in range(0, flat.shape[0], EVALUATION_CHUNK)]
        )
        self.evaluations += flat.shape[0]
        log_prior = self._pattern_log_mass[pattern][:, None] + float(np.sum(np.log(self._rates))) - u @ self._rates
        return centres, halfwidths, pattern, k_values.reshape(u.shape[:2]), log_prior

    def _store(self, rows: np.ndarray, *columns: np.ndarray) -> None:
        """Write boxes into ``rows`` (existing rows are overwritten, new ones appended)."""
        needed = int(rows.max()) + 1 if rows.size else 0
        if needed > self._centres.shape[0]:
            capacity = max(needed, 2 * self._centres.shape[0])
            for name in ("_centres", "_halfwidths", "_pattern", "_k_nodes", "_log_prior_nodes"):
                old = getattr(self, name)
                grown = np.empty((capacity, *old.shape[1:]), dtype=old.dtype)
                grown[: old.shape[0]] = old
                setattr(self, name, grown)
        names = ("_centres", "_halfwidths", "_pattern", "_k_nodes", "_log_prior_nodes")
        for name, column in zip(names, columns):
            getattr(self, name)[rows] = column
        self._size = max(self._size, needed)

    def _box_integrals(self, n: float, rows: slice | np.ndarray) -> tuple[np.ndarray, ...]:
        values = np.exp(self._log_prior_nodes[rows] - n * self._k_nodes[rows])
        volume = np.prod(2.0 * self._halfwidths[rows], axis=1)
        high = volume * (values @ self.rule.weights_high)
        low = volume * (values @ self.rule.weights_low)
        return values, high, np.abs(high - low)

    def integrate(self, n: float, *, rel_tol: float, max_boxes: int) -> CubatureStep:
        """Refine the partition until the estimate of Z_n meets ``rel_tol`` (or the box budget
        runs out) and return it. The partition is kept for the next call."""
        values, high, err = self._box_integrals(n, slice(0, self._size))
        tail = self.tail_bound()
        while True:
            total = float(high.sum())
            error = float(err.sum())
            if total > 0 and error + tail <= rel_tol * total:
                return CubatureStep(n, total, error, tail, True, self._size)
            room = max_boxes - self._size
            if room <= 0 or error == 0.0:  # out of budget, or exp(-n K) underflows everywhere
                return CubatureStep(n, total, error, tail, False, self._size)
            order = np.argsort(err)[::-1]
            excess = error - 0.5 * max(rel_tol * abs(total) - tail, 0.0)
            count = int(np.searchsorted(np.cumsum(err[order]), excess)) + 1
            chosen = order[: min(count, room, self._size)]
            axes = self.rule.split_axis(values[chosen], self._halfwidths[chosen])
            rows = np.arange(chosen.size)
            halfwidths = self._halfwidths[chosen].copy()
            halfwidths[rows, axes] *= 0.5
            left = self._centres[chosen].copy()
            right = left.copy()
            left[rows, axes] -= halfwidths[rows, axes]
            right[rows, axes] += halfwidths[rows, axes]
            pattern = self._pattern[chosen]
            # The left child takes its parent's row, the right child is appended.
            new_rows = np.concatenate([chosen, self._size + rows])
            self._store(
                new_rows,
                *self._evaluate(
                    np.concatenate([left, right]),
                    np.concatenate([halfwidths, halfwidths]),
                    np.concatenate([pattern, pattern]),
                ),
            )
            new_values, new_high, new_err = self._box_integrals(n, new_rows)
            values = np.concatenate([values, np.empty((chosen.size, values.shape[1]))])
            high = np.concatenate([high, np.empty(chosen.size)])
            err = np.concatenate([err, np.empty(chosen.size)])
            values[new_rows], high[new_rows], err[new_rows] = new_values, new_high, new_err
