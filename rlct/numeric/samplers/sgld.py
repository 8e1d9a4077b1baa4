r"""Stochastic gradient Langevin dynamics (Welling & Teh 2011, ICML).

.. math::
    w_{t+1} = w_t - \frac{\epsilon}{2} \nabla U_B(w_t) + \sqrt{\epsilon}\, \xi_t,
    \qquad \xi_t \sim N(0, I)

with U_B(w) = n beta L_B(w) + (gamma/2)||w - w*||^2 on a fresh minibatch B each step.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from rlct.numeric.samplers.base import Evaluate, SamplerState


def init(w: Tensor) -> SamplerState:
    return SamplerState(w=w, loss=w.new_full((w.shape[0],), float("nan")))


def update(
    state: SamplerState,
    evaluate: Evaluate,
    batch: tuple[Tensor, ...] | None,
    step_size: float,
    noise: Tensor,
    uniform: Tensor | None = None,
) -> SamplerState:
    """One SGLD step; ``state.loss`` of the result is L_B at the *starting* point w_t."""
    ev = evaluate(state.w, batch)
    # w - (eps/2) grad U + sqrt(eps) xi as two fused passes (one new tensor) instead of four.
    w = torch.add(state.w, ev.grad, alpha=-0.5 * step_size).add_(noise, alpha=math.sqrt(step_size))
    return SamplerState(w=w, loss=ev.loss)
