r"""Metropolis-adjusted Langevin algorithm (Roberts & Tweedie 1996, Bernoulli 2(4)), full batch.

Proposal  w' = w - (eps/2) grad U(w) + sqrt(eps) xi,  accepted with probability

.. math::
    \min\Big(1, \exp\big(-U(w') + U(w) - \log q(w \mid w') + \log q(w' \mid w)\big)\Big),
    \qquad \log q(a \mid b) = -\frac{\|a - b + \frac{\epsilon}{2}\nabla U(b)\|^2}{2\epsilon}.

With the full-data loss this samples the tempered localized posterior exactly, so comparing it
with SGLD separates discretization bias from estimator bias.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from rlct.numeric.potential import Evaluation
from rlct.numeric.samplers.base import Evaluate, SamplerState


def init(w: Tensor) -> SamplerState:
    return SamplerState(
        w=w,
        loss=w.new_full((w.shape[0],), float("nan")),
        accepted=torch.zeros(w.shape[0], dtype=torch.long, device=w.device),
    )


def _log_q(to: Tensor, start: Tensor, grad_start: Tensor, step_size: float) -> Tensor:
    diff = to - start + 0.5 * step_size * grad_start
    return -(diff * diff).sum(dim=1) / (2.0 * step_size)


def update(
    state: SamplerState,
    evaluate: Evaluate,
    batch: tuple[Tensor, ...] | None,
    step_size: float,
    noise: Tensor,
    uniform: Tensor | None = None,
) -> SamplerState:
    """One MALA step; ``state.loss`` of the result is the full-data loss at the new state."""
    assert uniform is not None and state.accepted is not None
    current = state.evaluation if state.evaluation is not None else evaluate(state.w, batch)
    proposal_w = state.w - 0.5 * step_size * current.grad + math.sqrt(step_size) * noise
    proposal = evaluate(proposal_w, batch)
    log_ratio = (
        current.potential
        - proposal.potential
        + _log_q(state.w, proposal_w, proposal.grad, step_size)
        - _log_q(proposal_w, state.w, current.grad, step_size)
    )
    return metropolis_select(state, current, proposal_w, proposal, log_ratio, uniform)


def metropolis_select(
    state: SamplerState, current: Evaluation, proposal_w: Tensor, proposal: Evaluation, log_ratio: Tensor,
    uniform: Tensor,
) -> SamplerState:
    """Accept each chain's proposal where log(uniform) < log_ratio (NaN rejects); the new state
    caches the kept evaluation and counts acceptances (MALA and HMC)."""
    assert state.accepted is not None
    accept = torch.log(uniform) < torch.nan_to_num(log_ratio, nan=-math.inf)
    keep = accept.unsqueeze(1)
    evaluation = Evaluation(
        loss=torch.where(accept, proposal.loss, current.loss),
        grad_loss=torch.where(keep, proposal.grad_loss, current.grad_loss),
        potential=torch.where(accept, proposal.potential, current.potential),
        grad=torch.where(keep, proposal.grad, current.grad),
    )
    return SamplerState(
        w=torch.where(keep, proposal_w, state.w),
        loss=evaluation.loss,
        evaluation=evaluation,
        accepted=state.accepted + accept.long(),
    )
