r"""What each integrator samples, on a Gaussian target with known moments (tests/_gaussian.py),
and the one-step formulas of the integrators and of the control-variate potential (fast).

Every sampler of `rlct.numeric.samplers` (SGLD, SGLD with control variates, pSGLD, pSGLD with
control variates, MALA) runs on the same anisotropic quadratic target (Hessian diag(1, 2, 4),
data spread 0.3, minibatch 64, nbeta = 100, gamma = 5, so p = 105, 205, 405). Two checks per
sampler:

* the integrator alone (`run_sampler`, chains started from the exact posterior): the draws of
  w - w* have per-coordinate mean 0 and second moment equal to the stationary variance of the
  discretized chain in closed form, (1 + h kappa / 4) / (p (1 - h p / 4)) (h = eps for SGLD,
  eps G for pSGLD, kappa the minibatch gradient-noise variance; 1 / p for MALA; see
  tests/_gaussian.py), within STDERR_FACTOR between-chain standard errors; the step sizes are small
  enough that this closed form is within STEP_BIAS_BOUND of the exact posterior variance 1 / p;
* the estimator (`estimate_llc`, chains started at w*): it reads nbeta/2 sum_k a_k Var_k within
  STDERR_FACTOR of its reported standard error (exact: sum_k nbeta a_k / (2 p_k) = 1.4578).

pSGLD is checked with a slowly adapting preconditioner (psgld_alpha = 0.999), where G is nearly
constant over the chain's mixing time and the frozen-G closed form applies. With the default
psgld_alpha = 0.99 its stationary law is not the target (see the xfail tests at the end).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from _gaussian import (
    STDERR_FACTOR,
    assert_gaussian_moments,
    chain_mean_and_stderr,
    gaussian_target,
    run_sampler,
)
from _targets import quadratic_target

from rlct.cases.dln import DLNCase
from rlct.numeric import samplers
from rlct.numeric.llc import estimate_llc
from rlct.numeric.potential import LocalizedPotential
from rlct.numeric.settings import SamplerSettings

NBETA = 100.0
GAMMA = 5.0
CURVATURES = (1.0, 2.0, 4.0)
DATA_STD = 0.3
BATCH = 64
# The closed-form step-size bias of the chains below, Var_chain / (1 / p) - 1, is at most this:
# SGLD eps p / 4 <= 2.5% (+1.4% from minibatch noise), pSGLD eps G p / 4 <= 4.1% (+1.8%).
STEP_BIAS_BOUND = 0.08
# pSGLD's measured mean preconditioner may differ from 1 / sqrt(E[g^2]) (first order, with
# Var = 1 / p) by this much: Jensen's inequality over the EMA's fluctuations (+) and the step bias
# of Var (-), each 1-3% (measured: -1.5% on every coordinate, with and without control variates).
PRECONDITIONER_TOLERANCE = 0.05

# sampler, step size, control variates, psgld_alpha
SAMPLER_CASES = {
    "sgld": ("sgld", 2.5e-4, False, 0.99),
    "sgld-cv": ("sgld", 2.5e-4, True, 0.99),
    "psgld": ("psgld", 8e-5, False, 0.999),
    "psgld-cv": ("psgld", 8e-5, True, 0.999),
    "mala": ("mala", 1e-3, False, 0.99),
}
# Moment checks: chains started from the exact posterior (and pSGLD's V at its equilibrium), so
# the burn-in only lets pSGLD's EMA settle; the slowest mode (SGLD, p = 105) decorrelates its
# square in ~2 / (eps p) = 80 steps, so 32 x 3000 draws give it a standard error of ~4%.
MOMENT_RUN = dict(chains=32, steps=3500, burnin=500, start="posterior")
# Through estimate_llc the chains start at w*: pSGLD gets 2000 burn-in steps for its start-up
# transient (see test_psgld_first_step_from_w_star_with_control_variates).
LLC_CHAINS = 32
LLC_STEPS = {"sgld": (4000, 1000), "psgld": (5000, 2000), "mala": (4000, 1000)}


@pytest.fixture(scope="module")
def gaussian():
    return gaussian_target(CURVATURES, DATA_STD)


def _batch_size(sampler: str) -> int | None:
    return None if sampler == "mala" else BATCH


def _predicted_preconditioner(gt, control_variate: bool, batch_size: int | None) -> np.ndarray:
    """RMSProp's G = 1 / (damping + sqrt(V)), V ~ E[g^2] = a^2 Var + a^2 s^2 / b (minibatch
    noise; none with control variates), Var ~ 1 / p (first order)."""
    noise = 0.0 if control_variate or batch_size is None else gt.data_variance / batch_size
    second_moment = gt.curvatures**2 * (1.0 / gt.precision(NBETA, GAMMA) + noise)
    return 1.0 / (1e-5 + np.sqrt(second_moment))


def _closed_form_variance(gt, sampler, step_size, control_variate, preconditioner):
    if sampler == "mala":
        return gt.posterior_variance(NBETA, GAMMA)
    return gt.chain_variance(
        NBETA, GAMMA, step_size, batch_size=BATCH, control_variate=control_variate, preconditioner=preconditioner
    )


# --- the Gaussian helper itself -----------------------------------------------------------------


def test_gaussian_target_closed_forms(gaussian):
    """The target's full-data loss, its gradient and its minibatch loss are the quadratic of
    tests/_gaussian.py: minimum at w*, Hessian diag(a), L_B = L_n on the full data."""
    target = gaussian.target
    gen = torch.Generator().manual_seed(0)
    w = target.w_star + 0.1 * torch.randn(5, target.dim, generator=gen, dtype=torch.float64)
    torch.testing.assert_close(target.full_data_loss(w), target._chunked_loss(w, chunk=128))
    loss, grad = target.full_loss_and_grad(w)
    offset = (w - target.w_star).numpy()
    a = gaussian.curvatures
    baseline = float(target.full_loss(target.w_star.unsqueeze(0))[0])
    np.testing.assert_allclose(loss.numpy() - baseline, 0.5 * (a * offset**2).sum(axis=1), rtol=1e-10)
    np.testing.assert_allclose(grad.numpy(), a * offset, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(gaussian.data_variance, DATA_STD**2, rtol=1e-10)
    assert gaussian.llc(NBETA, GAMMA) == pytest.approx(sum(NBETA * x / (2 * (NBETA * x + GAMMA)) for x in a))


# --- one-step formulas ----------------------------------------------------------------------------


def test_sgld_noise_has_variance_step_size():
    """With grad U = 0 (nbeta = 0, gamma = 0) one SGLD step is w + sqrt(eps) xi: the increments
    equal sqrt(eps) * noise and their variance is eps (4 standard errors of a Gaussian variance,
    eps sqrt(2 / N), N = 32,768)."""
    step_size = 0.01
    target = quadratic_target([1.0] * 8)
    potential = LocalizedPotential(target, nbeta=0.0, localization=0.0)
    chains = 4096
    w = torch.zeros(chains, 8, dtype=torch.float64)
    noise = torch.randn(chains, 8, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    out = samplers.sgld.update(samplers.sgld.init(w), potential.evaluate, target.full_batch(chains), step_size, noise)
    increments = (out.w - w).numpy()
    np.testing.assert_allclose(increments, math.sqrt(step_size) * noise.numpy(), rtol=1e-14)
    count = increments.size
    assert abs(increments.var() - step_size) < 4 * step_size * math.sqrt(2 / count)


def test_estimator_sgld_noise_scale_through_the_loss_trace():
    """Through `estimate_llc`: L(w) = sum_k w_k (data-independent) with nbeta = 1e-9 and
    gamma = 0 makes the chain a random walk of step sqrt(eps) xi (drift eps nbeta / 2 = 5e-12),
    so successive trace values differ by sqrt(eps) sum_k xi_k, of variance d eps = 0.04."""
    d, step_size = 4, 0.01

    def loss(w, batch):
        (x,) = batch
        return w.sum(dim=1) + 0.0 * x.sum(dim=(1, 2))

    target = quadratic_target([1.0] * d)
    target = type(target)(loss=loss, data=target.data, w_star=target.w_star, name="linear")
    settings = SamplerSettings(
        step_size=step_size, nbeta=1e-9, localization=0.0, chains=8, steps=2000, burnin=0, batch_size=4
    )
    result = estimate_llc(target, settings, seed=0, device="cpu")
    increments = np.diff(result.loss_trace, axis=1)
    count = increments.size
    assert abs(increments.mean()) < 4 * math.sqrt(d * step_size / count)
    assert abs(increments.var() - d * step_size) < 4 * d * step_size * math.sqrt(2 / count)


@pytest.mark.parametrize("control_variate", [False, True])
def test_psgld_update_matches_a_hand_computation(gaussian, control_variate):
    """Two pSGLD steps against numpy, from Li et al. 2016, Alg. 1 (no Gamma term):
    g = grad L_B(w) (control variates: grad L_B(w) - grad L_B(w*) + grad L_n(w*) = a (w - w*)),
    V' = alpha V + (1 - alpha) g^2, G = 1 / (damping + sqrt(V')),
    w' = w - (eps/2) G (nbeta g + gamma (w - w*)) + sqrt(eps G) xi; the state's loss is L_B(w)
    (control variates: L_B(w) - L_B(w*) + L_n(w*)) at the starting point."""
    target = gaussian.target
    alpha, damping, step_size = 0.9, 1e-3, 1e-3
    a = gaussian.curvatures
    w_star = target.w_star.numpy()
    gen = torch.Generator().manual_seed(1)
    chains = 3
    w = target.w_star + 0.2 * torch.randn(chains, 3, generator=gen, dtype=torch.float64)
    state = samplers.psgld.init(w)
    # a preconditioner carried over from earlier steps (two entries 0: a fresh V, as after init)
    state = type(state)(w=w, loss=state.loss, preconditioner=torch.tensor(
        [[0.0, 0.5, 2.0], [1.0, 0.1, 0.01], [3.0, 0.0, 0.2]], dtype=torch.float64))
    potential = LocalizedPotential(target, NBETA, GAMMA, control_variate=control_variate)
    V = state.preconditioner.numpy().copy()
    w_np = w.numpy().copy()
    x_all = target.data[0].numpy()
    full_mean = x_all.mean(axis=0)
    full_loss_star = 0.5 * float((a * ((w_star - x_all) ** 2)).sum(axis=1).mean())
    for _ in range(2):
        batch = target.minibatch(chains, 7, gen)
        noise = torch.randn(chains, 3, generator=gen, dtype=torch.float64)
        xb = batch[0].numpy()  # (C, b, d)

        def batch_loss(v, xb=xb):
            return 0.5 * (a * (v[:, None, :] - xb) ** 2).sum(axis=2).mean(axis=1)

        if control_variate:
            g = a * (w_np - full_mean)
            loss = batch_loss(w_np) - batch_loss(np.broadcast_to(w_star, w_np.shape)) + full_loss_star
        else:
            g = a * (w_np - xb.mean(axis=1))
            loss = batch_loss(w_np)
        V = alpha * V + (1 - alpha) * g * g
        G = 1.0 / (damping + np.sqrt(V))
        grad_u = NBETA * g + GAMMA * (w_np - w_star)
        expected_w = w_np - 0.5 * step_size * G * grad_u + np.sqrt(step_size * G) * noise.numpy()
        state = samplers.psgld.update(
            state, potential.evaluate, batch, step_size, noise, alpha=alpha, damping=damping
        )
        np.testing.assert_allclose(state.preconditioner.numpy(), V, rtol=1e-12, atol=1e-300)
        np.testing.assert_allclose(state.loss.numpy(), loss, rtol=1e-12)
        np.testing.assert_allclose(state.w.numpy(), expected_w, rtol=1e-12)
        w_np = expected_w


@pytest.fixture(scope="module")
def dln_target():
    return DLNCase(widths=(4, 3, 5), rank=1, n=500).build(seed=3).target


@pytest.mark.parametrize("chain_method", ["vectorized", "sequential"])
def test_control_variate_loss_and_gradient(dln_target, chain_method):
    """SGLD-CV (Baker et al. 2019) on a non-quadratic target: L~_B(w) = L_B(w) - L_B(w*) + L_n(w*)
    and grad L~_B(w) = grad L_B(w) - grad L_B(w*) + grad L_n(w*), computed here by autograd on
    `target.loss`; U = nbeta L~_B + gamma/2 |w - w*|^2 and its gradient follow."""
    target = dln_target
    nbeta, gamma, chains = 50.0, 2.0, 4
    potential = LocalizedPotential(target, nbeta, gamma, chain_method, control_variate=True)
    gen = torch.Generator().manual_seed(0)
    w = target.w_star + 0.05 * torch.randn(chains, target.dim, generator=gen, dtype=torch.float64)
    batch = target.minibatch(chains, 16, gen)

    def loss_and_grad(v, data):
        v = v.detach().requires_grad_(True)
        value = target.loss(v, data)
        (grad,) = torch.autograd.grad(value.sum(), v)
        return value.detach(), grad

    at_w, grad_w = loss_and_grad(w, batch)
    at_star, grad_star = loss_and_grad(target.w_star.expand_as(w), batch)
    full_star, full_grad_star = loss_and_grad(target.w_star.unsqueeze(0), target.full_batch(1))
    ev = potential.evaluate(w, batch)
    torch.testing.assert_close(ev.loss, at_w - at_star + full_star[0], rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(ev.grad_loss, grad_w - grad_star + full_grad_star[0], rtol=1e-12, atol=1e-14)
    offset = w - target.w_star
    torch.testing.assert_close(ev.potential, nbeta * ev.loss + 0.5 * gamma * (offset**2).sum(dim=1))
    torch.testing.assert_close(ev.grad, nbeta * ev.grad_loss + gamma * offset)
    # The plain minibatch potential differs (the control variate is not a no-op here).
    plain = LocalizedPotential(target, nbeta, gamma, chain_method).evaluate(w, batch)
    assert not torch.allclose(plain.grad_loss, ev.grad_loss)


def test_control_variate_is_exact_at_w_star(dln_target):
    """At w = w*, whatever the minibatch, L~_B = L_n(w*) and grad L~_B = grad L_n(w*)."""
    target = dln_target
    potential = LocalizedPotential(target, 50.0, 2.0, control_variate=True)
    gen = torch.Generator().manual_seed(4)
    chains = 5
    w = target.w_star.unsqueeze(0).repeat(chains, 1)
    full_loss, full_grad = target.full_loss_and_grad(target.w_star.unsqueeze(0))
    for batch_size in (1, 8, 64):
        ev = potential.evaluate(w, target.minibatch(chains, batch_size, gen))
        torch.testing.assert_close(ev.loss, full_loss.expand(chains), rtol=1e-12, atol=1e-14)
        torch.testing.assert_close(ev.grad_loss, full_grad.expand(chains, -1), rtol=1e-12, atol=1e-14)
        torch.testing.assert_close(ev.grad, 50.0 * full_grad.expand(chains, -1), rtol=1e-12, atol=1e-14)


# --- what each sampler samples ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def sampler_runs(gaussian):
    """One run per sampler (shared by the moment and preconditioner checks)."""
    runs = {}
    for key, (sampler, step_size, cv, alpha) in SAMPLER_CASES.items():
        runs[key] = run_sampler(
            gaussian, sampler, nbeta=NBETA, gamma=GAMMA, step_size=step_size, batch_size=_batch_size(sampler),
            control_variate=cv, seed=11, psgld_alpha=alpha, **MOMENT_RUN,
        )
    return runs


@pytest.mark.parametrize("key", list(SAMPLER_CASES))
def test_sampler_moments_on_a_gaussian(gaussian, sampler_runs, key):
    sampler, step_size, cv, _ = SAMPLER_CASES[key]
    run = sampler_runs[key]
    precond = run.preconditioner if run.preconditioner is not None else 1.0
    variance = _closed_form_variance(gaussian, sampler, step_size, cv, precond)
    bias = variance / gaussian.posterior_variance(NBETA, GAMMA) - 1.0
    assert np.all((bias >= 0) & (bias <= STEP_BIAS_BOUND)), bias  # small steps: nearly exact
    assert_gaussian_moments(run, variance, label=key)
    if sampler == "mala":
        assert run.acceptance is not None and run.acceptance > 0.9


@pytest.mark.parametrize("key", ["psgld", "psgld-cv"])
def test_psgld_preconditioner_is_rmsprop_of_the_loss_gradient(gaussian, sampler_runs, key):
    """The mean G over the kept steps is 1 / sqrt(E[g^2]) of the loss gradient g (to first order;
    with control variates g = a (w - w*) has no minibatch noise)."""
    cv = SAMPLER_CASES[key][2]
    predicted = _predicted_preconditioner(gaussian, cv, BATCH)
    measured = sampler_runs[key].preconditioner
    np.testing.assert_allclose(measured, predicted, rtol=PRECONDITIONER_TOLERANCE)


@pytest.mark.parametrize("key", list(SAMPLER_CASES))
def test_estimator_llc_on_a_gaussian(gaussian, key):
    """`estimate_llc` reads nbeta/2 sum_k a_k Var_k of its chain (step-size bias included) within
    STDERR_FACTOR of its own between-chain standard error; that value is within STEP_BIAS_BOUND of
    the exact lambda_beta = 1.4578."""
    sampler, step_size, cv, alpha = SAMPLER_CASES[key]
    steps, burnin = LLC_STEPS[sampler]
    settings = SamplerSettings(
        sampler=sampler, step_size=step_size, nbeta=NBETA, localization=GAMMA, chains=LLC_CHAINS,
        steps=steps, burnin=burnin, batch_size=_batch_size(sampler), control_variate=cv, psgld_alpha=alpha,
    )
    result = estimate_llc(gaussian.target, settings, seed=3, device="cpu")
    assert not result.any_diverged
    exact = gaussian.llc(NBETA, GAMMA)
    if sampler == "mala":
        expected = exact
    else:
        precond = _predicted_preconditioner(gaussian, cv, BATCH) if sampler == "psgld" else 1.0
        expected = gaussian.chain_llc(
            NBETA, GAMMA, step_size, batch_size=BATCH, control_variate=cv, preconditioner=precond
        )
    assert 0 <= expected / exact - 1 <= STEP_BIAS_BOUND
    assert abs(result.llc_mean - expected) <= STDERR_FACTOR * result.llc_stderr, (
        result.llc_mean, result.llc_stderr, expected, exact
    )


@pytest.mark.parametrize("control_variate", [False, True])
def test_sgld_large_step_bias_is_the_closed_form(gaussian, control_variate):
    """At eps = 2e-3 (eps p = 0.21, 0.41, 0.81) the unadjusted chain is far from the posterior
    (+6%, +11%, +25% in variance from the step, and +1%, +3%, +11% more from minibatch gradient
    noise without control variates) and matches (1 + eps kappa / 4) / (p (1 - eps p / 4))."""
    step_size = 2e-3
    run = run_sampler(
        gaussian, "sgld", nbeta=NBETA, gamma=GAMMA, step_size=step_size, chains=32, steps=2000, burnin=200,
        batch_size=BATCH, control_variate=control_variate, seed=5,
    )
    variance = gaussian.chain_variance(NBETA, GAMMA, step_size, batch_size=BATCH, control_variate=control_variate)
    assert_gaussian_moments(run, variance, label="large step")
    second, se = chain_mean_and_stderr((run.offsets**2).mean(axis=1))
    exact = gaussian.posterior_variance(NBETA, GAMMA)
    assert second[2] - exact[2] > 2 * STDERR_FACTOR * se[2]  # the check can tell the bias apart


# --- known defects of pSGLD (strict xfail: they fail the suite once fixed, so the mark goes) --------


@pytest.mark.xfail(
    strict=True,
    reason="pSGLD (no Gamma term) with the default psgld_alpha = 0.99: the preconditioner's EMA "
    "(memory ~100 steps) follows the chain's own recent |grad L| when the chain mixes more slowly than "
    "that (here eps G p = 0.03-0.06), and the stationary law tends to exp(-U) / G rather than exp(-U); "
    "measured variance +10-25% (z = 3.5-7.6) from a stationary start, not shrinking with eps",
)
def test_psgld_default_alpha_samples_the_gaussian(gaussian):
    step_size = 3e-5
    run = run_sampler(
        gaussian, "psgld", nbeta=NBETA, gamma=GAMMA, step_size=step_size, chains=64, steps=3500, burnin=500,
        batch_size=BATCH, seed=11, psgld_alpha=0.99, start="posterior",
    )
    variance = gaussian.chain_variance(NBETA, GAMMA, step_size, batch_size=BATCH, preconditioner=run.preconditioner)
    assert_gaussian_moments(run, variance, label="psgld alpha=0.99")


@pytest.mark.xfail(
    strict=True,
    reason="pSGLD with control variates from w*: the first gradient is grad L_n(w*) = 0, so V = 0 and "
    "G = 1 / psgld_eps; the first step moves each coordinate by sqrt(eps / psgld_eps) xi "
    "(1.7 xi at eps = 3e-5), dozens of posterior standard deviations",
)
def test_psgld_first_step_from_w_star_with_control_variates(gaussian):
    step_size = 1e-4
    target = gaussian.target
    chains = 256
    potential = LocalizedPotential(target, NBETA, GAMMA, control_variate=True)
    gen = torch.Generator().manual_seed(2)
    state = samplers.psgld.init(target.w_star.unsqueeze(0).repeat(chains, 1))
    noise = torch.randn(chains, 3, generator=gen, dtype=torch.float64)
    out = samplers.psgld.update(state, potential.evaluate, target.minibatch(chains, BATCH, gen), step_size, noise)
    offsets = (out.w - target.w_star).numpy()
    sd = np.sqrt(gaussian.posterior_variance(NBETA, GAMMA))
    # from w*, a sampler of N(0, 1/p) should not put any draw of 256 beyond 6 standard deviations
    assert np.all(np.abs(offsets) < 6 * sd)
