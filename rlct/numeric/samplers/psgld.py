r"""RMSProp-preconditioned SGLD (Li, Chen, Carlson, Carin 2016, AAAI, "Preconditioned
stochastic gradient Langevin dynamics for deep neural networks", Alg. 1, without the Gamma
correction term, as recommended there):

.. math::
    V_t = \alpha V_{t-1} + (1 - \alpha)\, \bar g_t \odot \bar g_t, \qquad
    G_t = \mathrm{diag}\big(1 / (\lambda + \sqrt{V_t})\big),

    w_{t+1} = w_t - \frac{\epsilon}{2} G_t \nabla U_B(w_t) + \sqrt{\epsilon}\, G_t^{1/2} \xi_t,

where \bar g_t = \nabla L_B(w_t) is the mean minibatch loss gradient (Li et al.'s \bar g) and
lambda the damping ``psgld_eps``. Hitchcock & Hoogland 2025 (arXiv 2507.21449) found it the most
faithful sampler for LLC estimation on deep linear networks.
"""

from __future__ import annotations

import math

from torch import Tensor

from rlct.numeric.samplers.base import Evaluate, SamplerState


def init(w: Tensor) -> SamplerState:
    return SamplerState(
        w=w, loss=w.new_full((w.shape[0],), float("nan")), preconditioner=w.new_zeros(w.shape)
    )


def update(
    state: SamplerState,
    evaluate: Evaluate,
    batch: tuple[Tensor, ...] | None,
    step_size: float,
    noise: Tensor,
    uniform: Tensor | None = None,
    *,
    alpha: float = 0.99,
    damping: float = 1e-5,
) -> SamplerState:
    """One pSGLD step; ``state.loss`` of the result is L_B at the starting point."""
    assert state.preconditioner is not None
    ev = evaluate(state.w, batch)
    second_moment = alpha * state.preconditioner + (1 - alpha) * ev.grad_loss * ev.grad_loss
    precond = 1.0 / (damping + second_moment.sqrt())
    w = state.w - 0.5 * step_size * precond * ev.grad + math.sqrt(step_size) * precond.sqrt() * noise
    return SamplerState(w=w, loss=ev.loss, preconditioner=second_moment)
