"""The HMC sampler (rlct/numeric/samplers/hmc.py): its one-leapfrog limit is MALA, it samples a
Gaussian exactly through `estimate_llc`, it is reproducible, and bad settings name the field."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from _gaussian import gaussian_target

from rlct.numeric import samplers
from rlct.numeric.llc import estimate_llc
from rlct.numeric.potential import LocalizedPotential
from rlct.numeric.settings import SamplerSettings

NBETA, GAMMA = 100.0, 5.0
CURVATURES = (1.0, 2.0, 4.0)
STDERR_FACTOR = 4.0  # |estimate - exact| in between-chain standard errors


@pytest.fixture(scope="module")
def gaussian():
    return gaussian_target(CURVATURES, 0.3)


def test_one_leapfrog_step_without_jitter_is_the_mala_step(gaussian):
    """Neal 2011 sec. 5.5.2: HMC with L = 1 proposes w - (eps/2) grad U + sqrt(eps) p and accepts
    with MALA's probability; with the same momentum and uniforms both take the same decisions."""
    target = gaussian.target
    potential = LocalizedPotential(target, NBETA, GAMMA, "vectorized")
    gen = torch.Generator().manual_seed(0)
    chains, step = 64, 2e-2  # a large step: about half the proposals are rejected
    w = target.w_star + 0.3 * torch.randn(chains, target.dim, generator=gen, dtype=torch.float64)
    noise = torch.randn(chains, target.dim, generator=gen, dtype=torch.float64)
    uniform = torch.rand(chains, generator=gen, dtype=torch.float64)
    mala = samplers.mala.update(samplers.mala.init(w), potential.evaluate, None, step, noise, uniform)
    hmc = samplers.hmc.update(samplers.hmc.init(w), potential.evaluate, None, step, noise,
                              torch.stack([uniform, torch.full_like(uniform, 0.5)]), leapfrog_steps=1, jitter=0.0)
    assert 0 < int(mala.accepted.sum()) < chains
    assert torch.equal(mala.accepted, hmc.accepted)
    torch.testing.assert_close(hmc.w, mala.w, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(hmc.loss, mala.loss, rtol=1e-12, atol=1e-12)


def test_hmc_reads_the_exact_gaussian_lambda_beta(gaussian):
    """lambda_beta = (nbeta / 2) sum_k a_k / (nbeta a_k + gamma) in closed form; HMC has no
    step-size bias (Metropolis-adjusted), so it must agree within its standard error."""
    settings = SamplerSettings(sampler="hmc", step_size=1e-3, nbeta=NBETA, localization=GAMMA, chains=16,
                               steps=600, burnin=100, batch_size=None, leapfrog_steps=8)
    result = estimate_llc(gaussian.target, settings, seed=3, device="cpu")
    exact = gaussian.llc(NBETA, GAMMA)
    assert not result.any_diverged
    assert result.acceptance_rate is not None and float(np.mean(result.acceptance_rate)) > 0.9
    assert abs(result.llc_mean - exact) <= STDERR_FACTOR * result.llc_stderr, (result.llc_mean, exact)
    assert result.llc_stderr < 0.03 * exact


def _soft_coordinate_path(update, state, potential, iterations, chains, dim, gen, uniform_shape):
    path = []
    for _ in range(iterations):
        noise = torch.randn(chains, dim, generator=gen, dtype=torch.float64)
        uniform = torch.rand(uniform_shape, generator=gen, dtype=torch.float64)
        state = update(state, potential.evaluate, None, noise=noise, uniform=uniform)
        path.append(state.w[:, 0].clone())
    return torch.stack(path, dim=1).numpy()  # (chain, draw)


def _lag_autocorrelation(path: np.ndarray, lag: int) -> float:
    centred = path - path.mean()
    return float((centred[:, lag:] * centred[:, :-lag]).mean() / (centred * centred).mean())


def test_a_trajectory_decorrelates_a_weakly_confined_direction_that_mala_barely_moves():
    """Coordinate 0 has loss curvature 0 and is confined only by gamma = 1; coordinate 1 is stiff
    (nbeta a = 10^3), which caps the step at eps ~ 2 / (nbeta a). MALA moves coordinate 0 by a
    fraction ~ eps gamma / 2 of its range per gradient; one HMC trajectory of length ~ pi/2 (L
    leapfrog steps = L gradients) carries it a quarter period. Same gradients: after L MALA steps
    its autocorrelation is still ~ 1 - L eps / 2 = 0.96, after one HMC iteration near 0."""
    target = gaussian_target((0.0, 1.0), 0.0, center=[0.0, 0.0]).target
    potential = LocalizedPotential(target, 1000.0, 1.0, "vectorized")
    eps, chains, iterations = 1e-3, 16, 150
    leapfrog = math.ceil((math.pi / 2) / math.sqrt(eps))  # 50
    gen = torch.Generator().manual_seed(0)
    start = target.w_star + torch.randn(chains, 2, generator=gen, dtype=torch.float64) * torch.tensor([1.0, 0.03])
    hmc_update = lambda state, evaluate, batch, noise, uniform: samplers.hmc.update(  # noqa: E731
        state, evaluate, batch, eps, noise, uniform, leapfrog_steps=leapfrog)
    mala_update = lambda state, evaluate, batch, noise, uniform: samplers.mala.update(  # noqa: E731
        state, evaluate, batch, eps, noise, uniform)
    hmc = _soft_coordinate_path(hmc_update, samplers.hmc.init(start), potential, iterations, chains, 2, gen,
                                (2, chains))
    mala = _soft_coordinate_path(mala_update, samplers.mala.init(start), potential, iterations * leapfrog, chains,
                                 2, gen, (chains,))
    assert abs(_lag_autocorrelation(hmc, 1)) < 0.3
    assert _lag_autocorrelation(mala, leapfrog) > 0.9
    assert abs(hmc.var() - 1.0) < 0.25  # the stationary variance 1 / gamma


def test_same_seed_same_numbers(gaussian):
    settings = SamplerSettings(sampler="hmc", step_size=1e-3, nbeta=NBETA, localization=GAMMA, chains=3,
                               steps=40, burnin=10, batch_size=None, leapfrog_steps=5)
    first = estimate_llc(gaussian.target, settings, seed=7, device="cpu")
    second = estimate_llc(gaussian.target, settings, seed=7, device="cpu")
    np.testing.assert_array_equal(first.loss_trace, second.loss_trace)
    other = estimate_llc(gaussian.target, settings, seed=8, device="cpu")
    assert not np.array_equal(first.loss_trace, other.loss_trace)


@pytest.mark.parametrize("changes, field", [
    ({"sampler": "mala", "leapfrog_steps": 4}, "leapfrog_steps"),
    ({"sampler": "hmc", "leapfrog_steps": 0}, "leapfrog_steps"),
    ({"sampler": "hmc", "leapfrog_steps": 2.5}, "leapfrog_steps"),
])
def test_bad_leapfrog_steps_name_the_field(changes, field):
    with pytest.raises(ValueError, match=field):
        SamplerSettings(**changes)
