r"""Vectorized globally adaptive Gauss-Kronrod quadrature on an interval with breakpoints.

The (7, 15) Gauss-Kronrod pair of QUADPACK's QK15 (Piessens, de Doncker-Kapenga, Überhuber &
Kahaner 1983, "QUADPACK", Springer, sec. 2.2; nodes and weights from Kronrod 1965): on every
subinterval the 15-point Kronrod sum K and the embedded 7-point Gauss sum G are formed, |K - G|
is the error estimate, and the subintervals whose error exceeds their share of the tolerance are
bisected. Unlike `scipy.integrate.quad`, the integrand is called once per round with the nodes of
*all* open subintervals (one numpy array), so a polynomial potential costs a few vector
operations per round instead of a Python call per node, and it may return several components at
once (the normalizer Z and the moment E[n beta K] Z share their nodes).

Acceptance rule (local): a subinterval [a, b] of the whole [lo, hi] is accepted when, in every
component, its error is at most tol (b - a) / (hi - lo), tol = max(epsabs, epsrel |I|) with I the
current estimate of the whole integral (the accepted errors then sum to at most tol), or at most
``relative_floor`` times its own integral of max_c |f_c| (the components' common scale: the
accepted errors then sum to at most relative_floor times the integral of max_c |f_c|). The
second clause is for integrands carrying rounding noise (a polynomial K that cancels to 1e-9 of
its terms): no bisection lowers an error made of noise, and the first clause alone would bisect
such a piece until the budget ran out. The rule needs the integrand's features to be visible at
the initial breakpoints (a peak narrower than every node spacing can be missed by any
quadrature); callers pass breakpoints at the ridges.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

# Kronrod nodes on [0, 1] (the negatives are the mirror images), odd indices are the Gauss nodes
_KRONROD_NODES = np.array([
    0.991455371120812639206854697526329, 0.949107912342758524526189684047851,
    0.864864423359769072789712788640926, 0.741531185599394439863864773280788,
    0.586087235467691130294144845693013, 0.405845151377397166906606412076961,
    0.207784955007898467600689403773245, 0.000000000000000000000000000000000,
])
_KRONROD_WEIGHTS = np.array([
    0.022935322010529224963732008058970, 0.063092092629978553290700663189204,
    0.104790010322250183839876322541518, 0.140653259715525918745189590510238,
    0.169004726639267902826583426598550, 0.190350578064785409913256402421014,
    0.204432940075298892414161999234649, 0.209482141084727828012999174891714,
])
_GAUSS_WEIGHTS = np.array([  # at the Kronrod nodes 1, 3, 5, 7
    0.129484966168869693270611432679082, 0.279705391489276667901467771423780,
    0.381830050505118944950369775488975, 0.417959183673469387755102040816327,
])
# the 15 nodes on [-1, 1] and their weights, in the order -x0, ..., -x6, 0, x6, ..., x0
NODES = np.concatenate([-_KRONROD_NODES[:-1], [0.0], _KRONROD_NODES[-2::-1]])
KRONROD = np.concatenate([_KRONROD_WEIGHTS[:-1], _KRONROD_WEIGHTS[-1:], _KRONROD_WEIGHTS[-2::-1]])
GAUSS = np.zeros(15)
GAUSS[[1, 3, 5, 7, 9, 11, 13]] = np.concatenate([_GAUSS_WEIGHTS, _GAUSS_WEIGHTS[-2::-1]])

MAX_ROUNDS = 60  # bisection depth: 2^-60 of the widest subinterval


class QuadratureError(RuntimeError):
    """The adaptive rule did not reach its tolerance within its bisection depth or its budget of
    subintervals."""


def integrate_adaptive(
    integrand: Callable[[np.ndarray], np.ndarray],
    cuts: Sequence[float] | np.ndarray,
    *,
    epsabs: float,
    epsrel: float,
    relative_floor: float = 0.0,
    max_subintervals: int = 200_000,
) -> np.ndarray:
    r"""\int_{cuts[0]}^{cuts[-1]} f(x) dx for each component of f, by adaptive Gauss-Kronrod (7, 15).

    Args:
        integrand: nodes of shape (N,) -> values of shape (N,) or (N, k); finite everywhere.
        cuts: increasing breakpoints, the first and last being the limits (at least two).
        epsabs, epsrel: absolute and relative tolerance of every component.
        relative_floor: accept a subinterval whose error is at most this fraction of its own
            integral of max_c |f_c| (0: never; see the module docstring).
        max_subintervals: the most subintervals open in one round.

    Returns:
        The integrals, shape () or (k,).

    Raises:
        QuadratureError: not converged within `MAX_ROUNDS` bisections or ``max_subintervals``.
    """
    edges = np.asarray(cuts, dtype=np.float64)
    if edges.ndim != 1 or edges.size < 2 or not np.all(np.diff(edges) > 0):
        raise ValueError("cuts: expected at least two increasing breakpoints")
    total_length = edges[-1] - edges[0]
    lows, highs = edges[:-1], edges[1:]
    accepted: np.ndarray | None = None
    scalar = False
    for _ in range(MAX_ROUNDS):
        if lows.size > max_subintervals:
            raise QuadratureError(f"more than {max_subintervals} subintervals open")
        centres, halves = (lows + highs) / 2, (highs - lows) / 2
        nodes = centres[:, None] + halves[:, None] * NODES[None, :]
        values = np.asarray(integrand(nodes.ravel()), dtype=np.float64)
        scalar = values.ndim == 1
        values = values.reshape(lows.size, 15, -1)  # (subinterval, node, component)
        kronrod = np.einsum("snc,n->sc", values, KRONROD) * halves[:, None]
        gauss = np.einsum("snc,n->sc", values, GAUSS) * halves[:, None]
        error = np.abs(kronrod - gauss)
        magnitude = np.einsum("sn,n->s", np.abs(values).max(axis=2), KRONROD) * halves  # of max_c |f_c|
        if accepted is None:
            accepted = np.zeros(kronrod.shape[1])
        if not np.all(np.isfinite(kronrod)):
            raise QuadratureError("the integrand is not finite")
        estimate = accepted + kronrod.sum(axis=0)
        tolerance = np.maximum(epsabs, epsrel * np.abs(estimate))
        share = ((highs - lows) / total_length)[:, None] * tolerance[None, :]
        done = np.all((error <= share) | (error <= relative_floor * magnitude[:, None]), axis=1)
        accepted = accepted + kronrod[done].sum(axis=0)
        if done.all():
            return accepted[0] if scalar else accepted
        lows, highs = lows[~done], highs[~done]
        middles = (lows + highs) / 2
        lows, highs = np.concatenate([lows, middles]), np.concatenate([middles, highs])
    raise QuadratureError(f"not converged after {MAX_ROUNDS} bisections")
