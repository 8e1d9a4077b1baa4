r"""The flat set {L = L*} near a TMS k-gon critical point, measured without the Hessian.

Two independent measurements (the Hessian rank is the third, in `rlct.cases._tms_kgon`):

1. `exact_flatness`: the known flat directions are flat at *finite* distance, to `DPS` digits:
   a rotation R_theta of all columns (the O(2) symmetry, 1 direction) and moving each sigma-
   dead feature's (W_i, b_i) inside its inert box (3 directions each). So the flat set contains
   a manifold of dimension 1 + 3 sigma-.
2. `measure_flat_dimension`: perturb w* by eps v (v uniform on the unit sphere, N samples), flow
   back down the population loss by accelerated gradient descent in float64 until the gradient
   vanishes, check that every landing point has L = L* (to float64 rounding), and count the
   principal components of the landing displacements. Gradient methods move only in the range
   of the Hessian to first order, so the landing map is the orthogonal projection onto the flat
   set up to O(eps^2): tangent directions give singular values of relative size O(1), the
   curvature of the rotation orbit O(eps), the projection error O(tolerance / eps). The local
   dimension is the number of relative singular values above sqrt(eps) (the geometric middle of
   O(1) and O(eps)); the smallest kept and largest dropped values are reported as the gap.
At a minimally singular (Morse-Bott) point the measured dimension equals d - rank(Hessian).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import mpmath
import numpy as np
import torch

from rlct.cases._tms_kgon import DPS, rotate
from rlct.cases._tms_loss import population_loss, population_loss_torch

FLAT_EPS = 1e-4  # size of the perturbations of w*
FLAT_GRADIENT_TOL = 1e-13  # stop the descent when every sample's ||grad L|| is below this
FLAT_MAX_STEPS = 50_000


def exact_flatness(w: list[mpmath.mpf], k: int, sigma_plus: int) -> mpmath.mpf:
    """max |L(w') - L(w*)| over finite moves w' along the known flat directions (mpmath).

    Moves: rotations by 0.3 and -1.1 rad; for every sigma- feature i, (W_i, b_i) moved to
    (0.05, -0.03, b_i + 0.1) and (-0.04, 0.02, b_i - 0.2), still inside its inert box."""
    c = len(w) // 3
    with mpmath.workdps(DPS):
        base = population_loss(w)
        moved = [rotate(w, mpmath.mpf("0.3")), rotate(w, mpmath.mpf("-1.1"))]
        for i in range(k + sigma_plus, c):
            for dx, dy, db in (("0.05", "-0.03", "0.1"), ("-0.04", "0.02", "-0.2")):
                w2 = list(w)
                w2[i], w2[c + i] = mpmath.mpf(dx), mpmath.mpf(dy)
                w2[2 * c + i] += mpmath.mpf(db)
                moved.append(w2)
        return max(abs(population_loss(v) - base) for v in moved)


@dataclass(frozen=True)
class FlatDimension:
    """The measured local dimension of {L = L*} near w*.

    Attributes:
        dimension: number of relative singular values above ``threshold``.
        singular_values: relative singular values (s / s_max) of the landing displacements.
        smallest_kept, largest_dropped: the two sides of the threshold.
        threshold: sqrt(eps).
        max_loss_excess: max over samples of L(landing point) - L(w*) (float64).
        max_gradient: max over samples of ||grad L|| at the landing point.
        steps: descent steps taken.
    """

    dimension: int
    singular_values: tuple[float, ...]
    smallest_kept: float
    largest_dropped: float
    threshold: float
    max_loss_excess: float
    max_gradient: float
    steps: int


def descend(
    start: torch.Tensor, step: float, tol: float = FLAT_GRADIENT_TOL
) -> tuple[torch.Tensor, int, float]:
    """Nesterov-accelerated gradient descent on the population loss for a batch (N, 3c) of
    starting points (restarting the momentum every 50 steps); returns (points, steps, max ||g||)."""
    x = start.detach().clone()
    y = x.clone()
    momentum = 1.0
    gradient_max = math.inf
    for it in range(FLAT_MAX_STEPS):
        y.requires_grad_(True)
        (grad,) = torch.autograd.grad(population_loss_torch(y).sum(), y)
        y = y.detach()
        x_next = y - step * grad
        if it % 50 == 0:
            gradient_max = float(grad.norm(dim=1).max())
            if gradient_max < tol:
                return y, it, gradient_max
            momentum, y, x = 1.0, x_next.clone(), x_next
            continue
        momentum_next = (1 + math.sqrt(1 + 4 * momentum * momentum)) / 2
        y = x_next + ((momentum - 1) / momentum_next) * (x_next - x)
        x, momentum = x_next, momentum_next
    return x, FLAT_MAX_STEPS, gradient_max


def measure_flat_dimension(
    w: list[mpmath.mpf],
    largest_eigenvalue: float,
    *,
    seed: int = 0,
    eps: float = FLAT_EPS,
    samples: int | None = None,
) -> FlatDimension:
    """Estimate dim {L = L*} near ``w`` (module docstring, method 2); step 1/largest_eigenvalue."""
    w_star = torch.tensor([float(x) for x in w], dtype=torch.float64)
    d = w_star.numel()
    samples = samples if samples is not None else 3 * d
    rng = np.random.default_rng(np.random.SeedSequence([seed, d]))
    directions = torch.tensor(rng.standard_normal((samples, d)))
    directions /= directions.norm(dim=1, keepdim=True)
    landing, steps, gradient_max = descend(w_star + eps * directions, 1.0 / largest_eigenvalue)
    excess = population_loss_torch(landing) - population_loss_torch(w_star.unsqueeze(0))
    singular = np.linalg.svd((landing - w_star).numpy(), compute_uv=False)
    relative = singular / singular[0]
    threshold = math.sqrt(eps)
    dimension = int((relative > threshold).sum())
    return FlatDimension(
        dimension=dimension,
        singular_values=tuple(float(s) for s in relative),
        smallest_kept=float(relative[dimension - 1]) if dimension else math.nan,
        largest_dropped=float(relative[dimension]) if dimension < len(relative) else 0.0,
        threshold=threshold,
        max_loss_excess=float(excess.max()),
        max_gradient=gradient_max,
        steps=steps,
    )
