"""Small targets with known answers, shared by the estimator tests."""

from __future__ import annotations

import torch

from rlct.numeric.target import Target


def quadratic_target(curvatures, n: int = 1000, dtype=torch.float64) -> Target:
    """L(w) = 1/2 sum_i a_i w_i^2, independent of the data (n dummy rows), w* = 0.

    Under p(w) ~ exp(-nbeta L - gamma/2 |w|^2), nbeta E[L] = sum_i nbeta a_i / (2 (nbeta a_i + gamma)),
    which tends to d/2 (a regular model) as gamma / (nbeta a_i) -> 0.
    """
    a = torch.as_tensor(curvatures, dtype=dtype)

    def loss(w, batch):
        (x,) = batch
        return 0.5 * (a * w * w).sum(dim=1) + 0.0 * x.sum(dim=(1, 2))

    return Target(loss=loss, data=(torch.zeros(n, 1, dtype=dtype),), w_star=torch.zeros(len(a), dtype=dtype))


def quadratic_llc(curvatures, nbeta: float, localization: float) -> float:
    return float(sum(nbeta * a / (2 * (nbeta * a + localization)) for a in curvatures))
