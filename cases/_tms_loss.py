r"""Exact population loss of the toy model of superposition (TMS) in the high-sparsity limit.

Model (Elhage et al. 2022; Chen, Lau, Mendel, Wei, Murfet 2023, arXiv 2310.06301, sec. 3):
f(x) = ReLU(W^T W x + b), W in R^{2 x c}, b in R^c, d = 3c parameters. Data in the high-sparsity
limit: one feature i is chosen uniformly from c, with magnitude u ~ U[0, 1], all others 0, so
x = u e_i. Loss: squared error summed over the c outputs, averaged over the data,

    L(W, b) = E_x ||x - f(x)||^2
            = (1/c) sum_i sum_j int_0^1 (delta_ij u - ReLU(u a_ij + b_j))^2 du,
    a_ij = W_i . W_j  (W_i the i-th column of W).

Each (feature i, output j) term is the pair integral G(a_ij, b_j, delta_ij) with

    G(a, b, t) = int_0^1 (t u - ReLU(u a + b))^2 du
               = t^2/3 - 2t (a D3/3 + b D2/2) + a^2 D3/3 + a b D2 + b^2 D1,
    D_m = q^m - p^m,

where [p, q] is the part of [0, 1] on which u a + b > 0: for a > 0 it is [r, 1] clipped,
for a < 0 it is [0, r] clipped (r = -b/a), for a = 0 all of [0, 1] if b > 0 and empty otherwise.
G is a polynomial in (a, b) wherever the active interval is all or nothing, a rational function of
(a, b) where one end is the kink r in (0, 1), and analytic in (a, b) away from {b = 0} and
{a + b = 0} (where r hits an end of [0, 1]). This normalization gives the numbers of the paper:
a 4-gon plus c - 4 dead features has L = (c - 4)/(3c), and each dead feature with W_i = 0 and the
optimal positive bias 1/(2c) lowers L by 1/(4c^2).

Parameter chart (the one the sampler uses): w = (W[0, :], W[1, :], b) flat, length 3c; for C
chains w is (C, 3c) -> W (C, 2, c), b (C, c).

Three implementations, cross-checked in tests/test_case_tms.py:
  * `population_loss` / `population_gradient` / `population_hessian`: scalar code that runs on
    Python floats or mpmath mpf (any precision); the derivatives of G come from sympy
    (differentiating the closed form exactly, case by case), then the chain rule through a_ij.
  * `population_loss_numpy`: float64, vectorized over a leading batch axis.
  * `population_loss_torch`: batched over chains, differentiable with autograd.
`empirical_loss` is the batched MSE on a sample (the sampler's target) and `sample_data` draws the
high-sparsity data.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from typing import Any

import mpmath
import numpy as np
import torch
from torch import Tensor

PAIR_CASES = ("full", "upper", "lower", "empty")


# -- the pair integral G(a, b, t) ---------------------------------------------------------------


def pair_case(a: Any, b: Any) -> str:
    """Which part of [0, 1] is active for ReLU(u a + b): "full" [0,1], "upper" [r,1],
    "lower" [0,r] (r = -b/a in (0, 1)) or "empty"."""
    if a > 0:
        r = -b / a
        return "full" if r <= 0 else ("empty" if r >= 1 else "upper")
    if a < 0:
        r = -b / a
        return "full" if r >= 1 else ("empty" if r <= 0 else "lower")
    return "full" if b > 0 else "empty"


def kink_margin(a: Any, b: Any) -> Any:
    """Distance of (a, b) from the non-smooth locus {b = 0} u {a + b = 0} of G, measured as
    min(|b|, |a + b|) (the ReLU kink u = -b/a reaching u = 0 or u = 1)."""
    return min(abs(b), abs(a + b))


def pair_integral(a: Any, b: Any, t: int) -> Any:
    """G(a, b, t) = int_0^1 (t u - ReLU(u a + b))^2 du, exactly (floats or mpmath numbers)."""
    case = pair_case(a, b)
    if case == "empty":
        return t * t / (3 * _one(a))
    p, q = (0, 1) if case == "full" else ((-b / a, 1) if case == "upper" else (0, -b / a))
    d1, d2, d3 = q - p, q * q - p * p, q**3 - p**3
    return (
        t * t / (3 * _one(a))
        - 2 * t * (a * d3 / 3 + b * d2 / 2)
        + a * a * d3 / 3
        + a * b * d2
        + (b * b * d1)
    )


def _one(x: Any) -> Any:
    return mpmath.mpf(1) if isinstance(x, mpmath.mpf) else 1.0


@functools.lru_cache(maxsize=2)
def _pair_jets(module: str) -> dict[str, Callable[..., tuple[Any, ...]]]:
    """Per active-interval case, a function (a, b, t) -> (G, G_a, G_b, G_aa, G_ab, G_bb),
    obtained by differentiating the closed form of G exactly with sympy."""
    import sympy

    a, b, t = sympy.symbols("a b t", real=True)
    r = -b / a

    def closed_form(p: sympy.Expr, q: sympy.Expr) -> sympy.Expr:
        return (
            t**2 / 3
            - 2 * t * (a * (q**3 - p**3) / 3 + b * (q**2 - p**2) / 2)
            + a**2 * (q**3 - p**3) / 3
            + a * b * (q**2 - p**2)
            + b**2 * (q - p)
        )

    forms = {
        "full": closed_form(sympy.Integer(0), sympy.Integer(1)),
        "upper": closed_form(r, sympy.Integer(1)),
        "lower": closed_form(sympy.Integer(0), r),
        "empty": t**2 / 3 + 0 * a,
    }
    jets = {}
    for case, g in forms.items():
        exprs = [g, g.diff(a), g.diff(b), g.diff(a, 2), g.diff(a, b), g.diff(b, 2)]
        jets[case] = sympy.lambdify((a, b, t), exprs, modules=module)
    return jets


def pair_jet(a: Any, b: Any, t: int) -> tuple[Any, ...]:
    """(G, G_a, G_b, G_aa, G_ab, G_bb) at (a, b); exact where G is C^2 (off the kink locus)."""
    module = "mpmath" if isinstance(a, mpmath.mpf) or isinstance(b, mpmath.mpf) else "math"
    values = _pair_jets(module)[pair_case(a, b)](a, b, t)
    return tuple(values)


# -- the population loss and its derivatives (scalar code: floats or mpmath) ------------------


def n_features(w: Sequence[Any]) -> int:
    """c from a flat parameter vector of length 3c."""
    if len(w) % 3:
        raise ValueError(f"w: expected a flat vector of length 3c, got length {len(w)}")
    return len(w) // 3


def gram(w: Sequence[Any], c: int) -> list[list[Any]]:
    """a_ij = W_i . W_j from the flat chart (W[0, :], W[1, :], b)."""
    return [[w[i] * w[j] + w[c + i] * w[c + j] for j in range(c)] for i in range(c)]


def population_loss(w: Sequence[Any]) -> Any:
    """L(W, b) exactly (see the module docstring); ``w`` flat of length 3c, floats or mpf."""
    c = n_features(w)
    a = gram(w, c)
    total = sum(
        pair_integral(a[i][j], w[2 * c + j], int(i == j)) for i in range(c) for j in range(c)
    )
    return total / c


def population_gradient(w: Sequence[Any]) -> list[Any]:
    """The gradient of `population_loss` in the flat chart (chain rule through a_ij)."""
    c = n_features(w)
    a = gram(w, c)
    grad = [0 * w[0] for _ in range(3 * c)]
    for i in range(c):
        for j in range(c):
            _, g_a, g_b, *_ = pair_jet(a[i][j], w[2 * c + j], int(i == j))
            for row in range(2):
                grad[row * c + i] += g_a * w[row * c + j]
                grad[row * c + j] += g_a * w[row * c + i]
            grad[2 * c + j] += g_b
    return [g / c for g in grad]


def population_hessian(w: Sequence[Any]) -> list[list[Any]]:
    """The Hessian of `population_loss` in the flat chart, exact off the kink locus:
    sum over pairs of J^T (d^2 G) J + G_a d^2 a_ij, with J the Jacobian of (a_ij, b_j)."""
    c = n_features(w)
    d = 3 * c
    a = gram(w, c)
    zero = 0 * w[0]
    hess = [[zero for _ in range(d)] for _ in range(d)]
    for i in range(c):
        for j in range(c):
            _, g_a, _, g_aa, g_ab, g_bb = pair_jet(a[i][j], w[2 * c + j], int(i == j))
            jac: dict[int, Any] = {}
            for row in range(2):
                jac[row * c + i] = jac.get(row * c + i, zero) + w[row * c + j]
                jac[row * c + j] = jac.get(row * c + j, zero) + w[row * c + i]
            bias = 2 * c + j
            for p, jp in jac.items():
                for q, jq in jac.items():
                    hess[p][q] += g_aa * jp * jq
                hess[p][bias] += g_ab * jp
                hess[bias][p] += g_ab * jp
            hess[bias][bias] += g_bb
            for row in range(2):  # second derivative of a_ij = W_i . W_j
                hess[row * c + i][row * c + j] += g_a
                hess[row * c + j][row * c + i] += g_a
    return [[h / c for h in line] for line in hess]


def max_kink_free_radius(w: Sequence[Any]) -> Any:
    """min over pairs (i, j) of the kink margin of (a_ij, b_j): L is analytic near ``w`` if > 0."""
    c = n_features(w)
    a = gram(w, c)
    return min(kink_margin(a[i][j], w[2 * c + j]) for i in range(c) for j in range(c))


# -- vectorized float64 and batched torch versions -----------------------------------------------


def _pair_integral_array(a: Any, b: Any, t: Any, xp: Any) -> Any:
    """G(a, b, t) elementwise for numpy (xp=np) or torch (xp=torch) arrays."""
    positive = a > 0
    negative = a < 0
    safe = xp.where(a == 0, xp.ones_like(a), a)  # r is unused where a == 0
    r = xp.clip(-b / safe, 0.0, 1.0) if xp is np else torch.clamp(-b / safe, 0.0, 1.0)
    zero, one = xp.zeros_like(a), xp.ones_like(a)
    full = xp.where(b > 0, one, zero)  # a == 0: all of [0, 1] or nothing
    p = xp.where(positive, r, xp.where(negative, zero, one - full))
    q = xp.where(positive, one, xp.where(negative, r, one))
    d1, d2, d3 = q - p, q * q - p * p, q**3 - p**3
    return t * t / 3 - 2 * t * (a * d3 / 3 + b * d2 / 2) + a * a * d3 / 3 + a * b * d2 + b * b * d1


def population_loss_numpy(w: np.ndarray) -> np.ndarray:
    """L for a batch of flat parameter vectors, float64: (N, 3c) -> (N,) (or (3c,) -> ())."""
    w = np.asarray(w, dtype=np.float64)
    single = w.ndim == 1
    w2 = w[None] if single else w
    c = w2.shape[1] // 3
    weights = w2[:, : 2 * c].reshape(-1, 2, c)
    bias = w2[:, 2 * c :]
    a = np.einsum("nri,nrj->nij", weights, weights)
    b = np.broadcast_to(bias[:, None, :], a.shape)
    t = np.eye(c)[None]
    out = _pair_integral_array(a, b, t, np).sum(axis=(1, 2)) / c
    return out[0] if single else out


def unflatten(w: Tensor, c: int) -> tuple[Tensor, Tensor]:
    """(C, 3c) -> W (C, 2, c) and b (C, c) (views)."""
    return w[:, : 2 * c].reshape(w.shape[0], 2, c), w[:, 2 * c :]


def population_loss_torch(w: Tensor) -> Tensor:
    """L for C chains at once: w (C, 3c) -> (C,), differentiable (autograd) off the kink locus."""
    c = w.shape[1] // 3
    weights, bias = unflatten(w, c)
    a = torch.einsum("nri,nrj->nij", weights, weights)
    b = bias.unsqueeze(1).expand_as(a)
    t = torch.eye(c, dtype=w.dtype, device=w.device).unsqueeze(0)
    return _pair_integral_array(a, b, t, torch).sum(dim=(1, 2)) / c


def forward(w: Tensor, x: Tensor) -> Tensor:
    """f(x) = ReLU(W^T W x + b) for C chains: w (C, 3c), x (C, B, c) -> (C, B, c)."""
    c = x.shape[-1]
    weights, bias = unflatten(w, c)
    hidden = torch.bmm(x, weights.transpose(1, 2))  # (C, B, 2)
    return torch.relu(torch.bmm(hidden, weights) + bias.unsqueeze(1))


def empirical_loss(w: Tensor, batch: tuple[Tensor, ...]) -> Tensor:
    """L_n(w) = mean over the batch of ||x - f(x)||^2 (sum over outputs), per chain: (C,)."""
    (x,) = batch
    return (x - forward(w, x)).square().sum(dim=2).mean(dim=1)


def sample_data(
    n: int, c: int, generator: torch.Generator, *, dtype: torch.dtype = torch.float64
) -> Tensor:
    """n draws of the high-sparsity data x = u e_i, i ~ Uniform{0..c-1}, u ~ U[0, 1]: (n, c)."""
    index = torch.randint(0, c, (n,), generator=generator, device=generator.device)
    magnitude = torch.rand(n, generator=generator, device=generator.device, dtype=dtype)
    x = torch.zeros(n, c, dtype=dtype, device=generator.device)
    x[torch.arange(n, device=generator.device), index] = magnitude
    return x


def monte_carlo_loss(w: np.ndarray, n: int, rng: np.random.Generator) -> tuple[float, float]:
    """Plain Monte Carlo of E||x - f(x)||^2 with n draws: (mean, standard error); float64."""
    w = np.asarray(w, dtype=np.float64)
    c = w.shape[0] // 3
    weights, bias = w[: 2 * c].reshape(2, c), w[2 * c :]
    index = rng.integers(0, c, n)
    u = rng.random(n)
    x = np.zeros((n, c))
    x[np.arange(n), index] = u
    out = np.maximum(x @ weights.T @ weights + bias, 0.0)
    per_example = ((x - out) ** 2).sum(axis=1)
    return float(per_example.mean()), float(per_example.std(ddof=1) / math.sqrt(n))
