r"""Hamiltonian Monte Carlo (Duane, Kennedy, Pendleton & Roweth 1987, Phys. Lett. B 195; Neal 2011,
"MCMC using Hamiltonian dynamics", Handbook of MCMC ch. 5), full batch, identity mass matrix.

One iteration: draw momentum p ~ N(0, I), run ``leapfrog_steps`` leapfrog steps of size h on
H(w, p) = U(w) + ||p||²/2,

.. math::
    p_{1/2} = p - \tfrac{h}{2}\nabla U(w),\quad w' = w + h\,p_{1/2},\quad
    p' = p_{1/2} - \tfrac{h}{2}\nabla U(w'),

and accept the end point with probability min(1, exp(H(w, p) − H(w', p'))).

Units. ``step_size`` is ε of the Langevin samplers and the leapfrog step is h = √ε · j, with a
per-chain, per-iteration jitter j ~ Uniform(1 − JITTER, 1 + JITTER) (Neal 2011 sec. 5.4.2.2: it
breaks the periodicity that a fixed trajectory length can hit). With one leapfrog step and no
jitter the proposal is w − (ε/2)∇U + √ε p: MALA's, with the same acceptance probability (the tests
use this).

Why. A Langevin step moves a direction of curvature κ by a fraction ~ εκ of its distance to
equilibrium, and ε is bounded by the stiffest direction (ε ≲ 2/(nβ h_max)); along the nearly flat
directions of a singular model only the localization γ confines the chain, so MALA needs ~1/(εγ)
steps to equilibrate them. A leapfrog trajectory of length T = L h ≈ (π/2)/√γ carries such a
direction a quarter period in one iteration: ~ (π/2)/(√(εγ)) gradients instead of 1/(εγ), the
square root of the condition number (Neal 2011 sec. 5.4.4).
"""

from __future__ import annotations

import math

from torch import Tensor

from rlct.numeric.samplers.base import Evaluate, SamplerState
from rlct.numeric.samplers.mala import init, metropolis_select

__all__ = ["JITTER", "init", "update"]

JITTER = 0.2


def update(
    state: SamplerState,
    evaluate: Evaluate,
    batch: tuple[Tensor, ...] | None,
    step_size: float,
    noise: Tensor,
    uniform: Tensor | None = None,
    *,
    leapfrog_steps: int = 1,
    jitter: float = JITTER,
) -> SamplerState:
    """One HMC iteration; ``noise`` (C, d) is the momentum, ``uniform`` (2, C): row 0 decides
    acceptance, row 1 the step jitter. ``state.loss`` of the result is the full-data loss."""
    assert uniform is not None and state.accepted is not None
    current = state.evaluation if state.evaluation is not None else evaluate(state.w, batch)
    accept_u, jitter_u = uniform[0], uniform[1]
    h = (math.sqrt(step_size) * (1.0 + jitter * (2.0 * jitter_u - 1.0))).to(state.w.dtype).unsqueeze(1)
    momentum = noise - 0.5 * h * current.grad
    w = state.w + h * momentum
    proposal = evaluate(w, batch)
    for _ in range(leapfrog_steps - 1):
        momentum = momentum - h * proposal.grad
        w = w + h * momentum
        proposal = evaluate(w, batch)
    momentum = momentum - 0.5 * h * proposal.grad
    log_ratio = (
        current.potential
        + 0.5 * (noise * noise).sum(dim=1)
        - proposal.potential
        - 0.5 * (momentum * momentum).sum(dim=1)
    )
    return metropolis_select(state, current, w, proposal, log_ratio, accept_u)
