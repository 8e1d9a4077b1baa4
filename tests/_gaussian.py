r"""A Gaussian target with known moments, shared by the sampler exactness tests.

Data x_1..x_n in R^d (standardized so that their mean is exactly w* and their per-coordinate
variance exactly s_k^2, ddof = 0) and the loss

.. math::
    \ell(w, x) = \tfrac12 \sum_k a_k (w_k - x_k)^2, \qquad
    L_B(w) = \tfrac12 \sum_k a_k \big[(w_k - \bar x_{B,k})^2 + S_{B,kk}\big],

so L_n(w) - L_n(w^*) = \tfrac12 \sum_k a_k (w_k - w^*_k)^2 (Hessian diag(a)) and a minibatch
gradient is the full gradient plus noise a_k(\bar x_k - \bar x_{B,k}), of variance a_k^2 s_k^2 / b
for b rows drawn with replacement. The tempered localized posterior
p(w) \propto \exp(-n\beta L_n(w) - \tfrac\gamma2 \|w - w^*\|^2) is Gaussian with mean w* and
per-coordinate precision p_k = n\beta a_k + \gamma, so

.. math::
    \lambda_\beta = n\beta\,\mathbb E[L_n(w) - L_n(w^*)] = \sum_k \frac{n\beta a_k}{2 p_k}.

Step-size bias, in closed form (the chains' coordinates are independent AR(1) processes): an
unadjusted Langevin step with effective step h_k (h = eps for SGLD, eps G_k for pSGLD with a
frozen diagonal preconditioner G) and a gradient-noise variance nbeta^2 a_k^2 s_k^2 / b (0 with
control variates, which are exact for a quadratic loss, or with the full batch),

    delta' = (1 - h p / 2) delta + sqrt(h) xi - (h / 2) nbeta a zeta,

has the stationary variance

.. math::
    \operatorname{Var}_k = \frac{1 + h_k \kappa_k / 4}{p_k (1 - h_k p_k / 4)},
    \qquad \kappa_k = n\beta^2 a_k^2 s_k^2 / b,

(for kappa = 0: the step delta' = (1 - h p / 2) delta + sqrt(h) xi has variance
h / (1 - (1 - h p / 2)^2) = 1 / (p (1 - h p / 4))),
and the estimator (minibatch loss at the chain's current point, an unbiased estimate of L_n
there) then reads nbeta/2 sum_k a_k Var_k. MALA has no step-size bias.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import torch

from rlct.numeric import samplers
from rlct.numeric.potential import LocalizedPotential
from rlct.numeric.target import Target

# An estimate may miss its closed form by this many of its own (between-chain) standard errors:
# with 32 independent chains the standard error is itself known to ~13%, and a 4-sigma Gaussian
# miss has probability 6e-5 (the seeds are fixed; this is a margin for the error model). Measured
# in tests/test_sampler_exactness.py over 2-3 seeds: |z| <= 2.1 everywhere.
STDERR_FACTOR = 4.0


@dataclass(frozen=True)
class GaussianTarget:
    """The target and the numbers its closed forms need (float64 numpy arrays, length d)."""

    target: Target
    curvatures: np.ndarray
    data_variance: np.ndarray

    @property
    def w_star(self) -> np.ndarray:
        return self.target.w_star.detach().cpu().numpy().astype(np.float64)

    def precision(self, nbeta: float, gamma: float) -> np.ndarray:
        return nbeta * self.curvatures + gamma

    def posterior_variance(self, nbeta: float, gamma: float) -> np.ndarray:
        return 1.0 / self.precision(nbeta, gamma)

    def llc(self, nbeta: float, gamma: float) -> float:
        """lambda_beta = sum_k nbeta a_k / (2 p_k): what an exact sampler reads."""
        return float(np.sum(nbeta * self.curvatures / (2.0 * self.precision(nbeta, gamma))))

    def gradient_noise(self, nbeta: float, batch_size: int | None, control_variate: bool) -> np.ndarray:
        """kappa_k = nbeta^2 a_k^2 s_k^2 / b: variance of the minibatch noise in grad U (per
        coordinate); 0 for the full batch or with control variates (exact on a quadratic)."""
        if batch_size is None or control_variate:
            return np.zeros_like(self.curvatures)
        return nbeta**2 * self.curvatures**2 * self.data_variance / batch_size

    def chain_variance(
        self,
        nbeta: float,
        gamma: float,
        step_size: float,
        *,
        batch_size: int | None = None,
        control_variate: bool = False,
        preconditioner: np.ndarray | float = 1.0,
    ) -> np.ndarray:
        """Stationary variance of the unadjusted chain, (1 + h kappa / 4) / (p (1 - h p / 4)) with
        h = step_size * preconditioner (see the module docstring)."""
        p = self.precision(nbeta, gamma)
        h = step_size * np.asarray(preconditioner, dtype=np.float64)
        kappa = self.gradient_noise(nbeta, batch_size, control_variate)
        return (1.0 + h * kappa / 4.0) / (p * (1.0 - h * p / 4.0))

    def chain_llc(self, nbeta: float, gamma: float, step_size: float, **kwargs) -> float:
        """nbeta/2 sum_k a_k Var_k: what the unadjusted chain reads, step-size bias included."""
        var = self.chain_variance(nbeta, gamma, step_size, **kwargs)
        return float(0.5 * nbeta * np.sum(self.curvatures * var))


def gaussian_target(
    curvatures,
    data_std=0.1,
    *,
    n: int = 2000,
    seed: int = 0,
    center=None,
    dtype: torch.dtype = torch.float64,
) -> GaussianTarget:
    """The quadratic target of the module docstring with Hessian diag(``curvatures``), data
    spread ``data_std`` (a number or one per coordinate) and w* = ``center`` (default 0.3, -0.2, ...)."""
    a = np.asarray(curvatures, dtype=np.float64)
    d = a.size
    s = np.broadcast_to(np.asarray(data_std, dtype=np.float64), (d,))
    w_star = np.asarray(center, dtype=np.float64) if center is not None else 0.3 * (-0.7) ** np.arange(d)
    z = np.random.default_rng(seed).standard_normal((n, d))
    z = (z - z.mean(axis=0)) / z.std(axis=0)  # exactly mean 0, variance 1 (ddof = 0)
    x = torch.as_tensor(w_star + s * z, dtype=dtype)
    a_t = torch.as_tensor(a, dtype=dtype)
    mean_t = x.mean(dim=0)
    var_t = x.var(dim=0, unbiased=False)

    def loss(w, batch):
        (xb,) = batch  # (C, b, d)
        diff = w.unsqueeze(1) - xb
        return 0.5 * (diff * diff * a_t.to(w)).sum(dim=2).mean(dim=1)

    def full_data_loss(w):
        diff = w - mean_t.to(w)
        return 0.5 * ((diff * diff + var_t.to(w)) * a_t.to(w)).sum(dim=1)

    target = Target(loss=loss, data=(x,), w_star=mean_t.clone(), name="gaussian", full_data_loss=full_data_loss)
    return GaussianTarget(target=target, curvatures=a, data_variance=var_t.numpy().astype(np.float64))


@dataclass(frozen=True)
class ChainRun:
    """Kept draws of w - w* (chains, draws, d), the mean pSGLD preconditioner G over the kept
    steps (d,) (None for the other samplers), and MALA's acceptance rate (None otherwise)."""

    offsets: np.ndarray
    preconditioner: np.ndarray | None
    acceptance: float | None


def run_sampler(
    gt: GaussianTarget,
    sampler: str,
    *,
    nbeta: float,
    gamma: float,
    step_size: float,
    chains: int,
    steps: int,
    burnin: int,
    batch_size: int | None = 32,
    control_variate: bool = False,
    seed: int = 0,
    psgld_alpha: float = 0.99,
    psgld_eps: float = 1e-5,
    start: str = "w_star",
) -> ChainRun:
    """Drive one integrator of `rlct.numeric.samplers` on ``gt`` (as `estimate_llc` does:
    a `LocalizedPotential`, a fresh minibatch per chain and step, or the full data for MALA /
    ``batch_size=None``) and keep w - w* after ``burnin`` steps.

    ``start="w_star"`` starts every chain at w* (pSGLD with V = 0), as `estimate_llc` does;
    ``start="posterior"`` draws the start from the exact posterior N(w*, 1/p) and sets pSGLD's V
    to its first-order equilibrium E[g^2] = a^2 (1/p + s^2/b) (s^2/b: minibatch noise, absent
    with control variates or the full batch), so that no start-up transient is left to burn in."""
    target = gt.target
    full_batch = sampler == "mala" or batch_size is None
    potential = LocalizedPotential(target, nbeta, gamma, control_variate=control_variate and not full_batch)
    module = samplers.SAMPLERS[sampler]
    extra = {"alpha": psgld_alpha, "damping": psgld_eps} if sampler == "psgld" else {}
    w_star = target.w_star
    generator = torch.Generator().manual_seed(seed)
    d = target.dim
    w0 = w_star.unsqueeze(0).repeat(chains, 1)
    if start == "posterior":
        sd = torch.as_tensor(np.sqrt(gt.posterior_variance(nbeta, gamma)), dtype=w_star.dtype)
        w0 = w0 + sd * torch.randn((chains, d), generator=generator, dtype=w_star.dtype)
    elif start != "w_star":
        raise ValueError(f"start: expected 'w_star' or 'posterior', got {start!r}")
    state = module.init(w0)
    if start == "posterior" and sampler == "psgld":
        noise = 0.0 if full_batch or control_variate else gt.data_variance / batch_size
        v0 = gt.curvatures**2 * (gt.posterior_variance(nbeta, gamma) + noise)
        state = replace(state, preconditioner=torch.as_tensor(v0, dtype=w_star.dtype).expand(chains, d).clone())
    kept = np.empty((chains, steps - burnin, d))
    g_sum = np.zeros(d)
    for step in range(steps):
        batch = None if full_batch else target.minibatch(chains, batch_size, generator)
        noise = torch.randn((chains, d), generator=generator, dtype=w_star.dtype)
        uniform = torch.rand((chains,), generator=generator, dtype=w_star.dtype) if sampler == "mala" else None
        state = module.update(state, potential.evaluate, batch, step_size, noise, uniform, **extra)
        if step >= burnin:
            kept[:, step - burnin] = (state.w - w_star).numpy()
            if sampler == "psgld":
                assert state.preconditioner is not None
                g = 1.0 / (psgld_eps + state.preconditioner.sqrt())
                g_sum += g.mean(dim=0).numpy()
    precond = g_sum / (steps - burnin) if sampler == "psgld" else None
    acceptance = None
    if state.accepted is not None:
        acceptance = float(state.accepted.double().mean()) / steps
    return ChainRun(offsets=kept, preconditioner=precond, acceptance=acceptance)


def chain_mean_and_stderr(per_chain: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean over chains (axis 0) and its between-chain standard error: honest whatever the
    autocorrelation within a chain, since the chains are independent."""
    count = per_chain.shape[0]
    return per_chain.mean(axis=0), per_chain.std(axis=0, ddof=1) / math.sqrt(count)


def assert_gaussian_moments(
    run: ChainRun, variance: np.ndarray, *, bias_allowance: np.ndarray | float = 0.0, label: str = ""
) -> None:
    """Per coordinate, the draws' mean offset is 0 and their second moment is ``variance``,
    each within STDERR_FACTOR between-chain standard errors (plus ``bias_allowance`` * variance
    for the second moment, for biases that the closed form does not include)."""
    offsets = run.offsets
    mean, mean_se = chain_mean_and_stderr(offsets.mean(axis=1))
    second, second_se = chain_mean_and_stderr((offsets**2).mean(axis=1))
    sd = np.sqrt(variance)
    assert np.all(np.abs(mean) <= STDERR_FACTOR * mean_se), f"{label}: mean {mean} (se {mean_se}, posterior sd {sd})"
    tolerance = STDERR_FACTOR * second_se + np.asarray(bias_allowance) * variance
    assert np.all(np.abs(second - variance) <= tolerance), (
        f"{label}: E[(w - w*)^2] {second} vs {variance} (se {second_se}, ratio {second / variance})"
    )
