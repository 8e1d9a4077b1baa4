r"""The exact blocked Gibbs sampler of multilinear Gaussian models (`rlct.numeric.gibbs`).

* the loss from sufficient statistics is the DLN case's full-data loss;
* each layer conditional (mean, covariance) equals the Gaussian read off the exact Hessian of
  U(W_l) = nβ L_n + (γ/2)||W - W*||² (autograd, float64), and its draws have those moments;
* one layer (multi-output regression): the posterior is Gaussian, λ_β in closed form;
* tiny DLN and RRR: Gibbs agrees with long full-batch MALA (`estimate_llc`);
* widths (1, 1, 1) with hand-made statistics, L(W) - L(0) = (ab)²/2: Gibbs agrees with the
  quadrature oracle `rlct.numeric.oracles.tempered.tempered_mean`;
* dispersed starts reach the same value (split R-hat);
* reproducibility, divergence flags, bad input.

Sampling comparisons allow STDERR_FACTOR combined standard errors (fixed seeds).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from _multilinear import model_from_problem

from rlct.cases.dln import DLNCase
from rlct.cases.rrr import RRRCase
from rlct.numeric.gibbs import (
    GibbsSettings,
    MultilinearGaussian,
    conditional,
    gibbs_llc,
    sample_layer,
)
from rlct.numeric.llc import estimate_llc
from rlct.numeric.oracles.tempered import tempered_mean
from rlct.numeric.settings import SamplerSettings

STDERR_FACTOR = 4.0


def _se(result) -> float:
    """The larger of the between-chain and the ESS-based standard error (conservative)."""
    return max(result.llc_stderr, result.llc_stderr_ess)


def _two_by_two(nbeta: float = 100.0) -> MultilinearGaussian:
    problem = DLNCase(widths=(2, 2, 2), rank=1, n=10_000).build(seed=0)
    return model_from_problem(problem)


# --------------------------------------------------------------------------- the loss


@pytest.mark.parametrize("widths, rank", [((3, 4, 2), 1), ((2, 3, 3, 2), 2), ((4, 3), 2)])
def test_loss_equals_dln_full_data_loss(widths, rank):
    problem = DLNCase(widths=widths, rank=rank, n=500).build(seed=0)
    model = model_from_problem(problem)
    generator = torch.Generator().manual_seed(1)
    w = problem.target.w_star + torch.randn(5, model.dim, generator=generator, dtype=torch.float64)
    expected = problem.target.full_data_loss(w)
    torch.testing.assert_close(model.loss(w), expected, rtol=0, atol=1e-10)
    # and the per-example loss on the full data set
    direct = problem.target.loss(w, problem.target.full_batch(5))
    torch.testing.assert_close(model.loss(w), direct, rtol=1e-12, atol=1e-10)
    assert torch.equal(model.flatten(model.unflatten(w)), w)


# --------------------------------------------------------------------------- conditionals


def _potential_of_layer(model, layers, index, nbeta, gamma, chain):
    """U(vec_r W_l) for one chain, the other layers fixed."""
    star = model.star_layers()[index]
    rows, cols = model.layer_shapes[index]

    def potential(v):
        fixed = [layer[chain : chain + 1] for layer in layers]
        fixed[index] = v.reshape(1, rows, cols)
        w = model.flatten(fixed)
        return nbeta * model.loss(w)[0] + 0.5 * gamma * (v - star.reshape(-1)).square().sum()

    return potential


@pytest.mark.parametrize("widths, rank", [((2, 3, 2), 1), ((3, 2, 4, 2), 1), ((3, 2), 1)])
def test_conditional_matches_exact_hessian(widths, rank):
    nbeta, gamma = 100.0, 0.7
    problem = DLNCase(widths=widths, rank=rank, n=300, noise_std=0.8).build(seed=0)
    model = model_from_problem(problem)
    generator = torch.Generator().manual_seed(2)
    w = problem.target.w_star + 0.5 * torch.randn(2, model.dim, generator=generator, dtype=torch.float64)
    layers = model.unflatten(w)
    for index, (rows, cols) in enumerate(model.layer_shapes):
        law = conditional(model, layers, index, nbeta, gamma)
        covariance = law.covariance()
        mean = law.mean
        for chain in range(2):
            potential = _potential_of_layer(model, layers, index, nbeta, gamma, chain)
            zero = torch.zeros(rows * cols, dtype=torch.float64)
            hessian = torch.autograd.functional.hessian(potential, zero)
            gradient = torch.autograd.functional.jacobian(potential, zero)
            # U is quadratic: U(v) = U(0) + g^T v + v^T H v / 2, minimized at -H^{-1} g
            exact_mean = -torch.linalg.solve(hessian, gradient)
            exact_cov = torch.linalg.inv(hessian)
            scale = float(exact_cov.abs().max())
            torch.testing.assert_close(mean[chain].reshape(-1), exact_mean, rtol=1e-8, atol=1e-10)
            torch.testing.assert_close(covariance[chain], exact_cov, rtol=1e-8, atol=1e-10 * scale)


def test_conditional_draws_have_its_moments():
    """Draws of `sample_layer` for 40,000 copies of one configuration: mean and covariance."""
    nbeta, gamma = 50.0, 1.0
    problem = DLNCase(widths=(2, 3, 2), rank=1, n=300).build(seed=0)
    model = model_from_problem(problem)
    generator = torch.Generator().manual_seed(3)
    w = problem.target.w_star + 0.5 * torch.randn(1, model.dim, generator=generator, dtype=torch.float64)
    copies = 40_000
    layers = [layer.expand(copies, -1, -1) for layer in model.unflatten(w)]
    for index in range(model.depth):
        law = conditional(model, [layer[:1] for layer in layers], index, nbeta, gamma)
        draws = sample_layer(model, layers, index, nbeta, gamma, generator).reshape(copies, -1)
        mean, cov = law.mean[0].reshape(-1), law.covariance()[0]
        sd = cov.diagonal().sqrt()
        z = (draws.mean(dim=0) - mean) / (sd / math.sqrt(copies))
        assert float(z.abs().max()) < STDERR_FACTOR, z
        centred = draws - mean
        empirical = centred.T @ centred / copies
        # each entry's standard error: sqrt((S_ii S_jj + S_ij^2) / N)
        se = ((sd[:, None] * sd[None, :]) ** 2 + cov**2).sqrt() / math.sqrt(copies)
        assert float(((empirical - cov) / se).abs().max()) < STDERR_FACTOR + 0.5


# --------------------------------------------------------------------------- one layer


def test_one_layer_posterior_closed_form():
    """L = 1: the posterior is Gaussian; each output row independently has precision
    c S_xx + γ I (c = nβ/σ²) and mean (c S_yx + γ W*) (c S_xx + γ I)^{-1}, so
    E[L_n] = L_n(M) + H_L tr(S_xx Σ) / (2σ²) with Σ = (c S_xx + γ I)^{-1}."""
    nbeta, gamma, sigma = 100.0, 1.0, 0.9
    problem = DLNCase(widths=(3, 2), rank=1, n=200, noise_std=sigma).build(seed=0)
    model = model_from_problem(problem)
    c = nbeta / sigma**2
    sxx, syx = model.sxx, model.syx
    precision = c * sxx + gamma * torch.eye(3, dtype=torch.float64)
    sigma_row = torch.linalg.inv(precision)
    w_star = model.star_layers()[0]
    mean = (c * syx + gamma * w_star) @ sigma_row
    expected_loss = float(model.loss(mean.reshape(1, -1))[0]) + 2 * float(torch.trace(sxx @ sigma_row)) / (
        2 * sigma**2
    )
    expected_llc = nbeta * (expected_loss - float(model.loss(model.w_star.unsqueeze(0))[0]))

    # moments of the exact draws (one conditional = the posterior)
    copies = 40_000
    generator = torch.Generator().manual_seed(4)
    draws = sample_layer(model, [torch.zeros(copies, 2, 3, dtype=torch.float64)], 0, nbeta, gamma, generator)
    draws = draws.reshape(copies, -1)
    variance = sigma_row.diagonal().repeat(2)
    z_mean = (draws.mean(dim=0) - mean.reshape(-1)) / (variance / copies).sqrt()
    z_var = (draws.var(dim=0) - variance) / (variance * math.sqrt(2 / copies))
    assert float(z_mean.abs().max()) < STDERR_FACTOR
    assert float(z_var.abs().max()) < STDERR_FACTOR

    result = gibbs_llc(model, nbeta=nbeta, localization=gamma, chains=4, sweeps=3000, burnin=10, seed=0)
    assert abs(result.llc_mean - expected_llc) < STDERR_FACTOR * _se(result), (result.llc_mean, expected_llc)
    # independent draws: the ESS is close to the number of draws
    assert result.ess > 0.7 * 4 * 2990


# --------------------------------------------------------------------------- against MALA

MALA_CASES = {
    # case, nbeta, MALA step (acceptance 0.68 and 0.89 measured)
    "dln(2,2,2) r=1": (DLNCase(widths=(2, 2, 2), rank=1, n=10_000), 100.0, 4e-3),
    "rrr(2,1,2) r=0": (RRRCase(n_in=2, n_hidden=1, n_out=2, rank=0, n=10_000), 100.0, 1e-2),
}


@pytest.mark.parametrize("name", sorted(MALA_CASES))
def test_agrees_with_full_batch_mala(name):
    case, nbeta, step = MALA_CASES[name]
    problem = case.build(seed=0)
    model = model_from_problem(problem)
    gibbs = gibbs_llc(model, nbeta=nbeta, localization=1.0, chains=4, sweeps=4000, burnin=200, seed=0)
    mala = estimate_llc(
        problem.target,
        SamplerSettings(sampler="mala", step_size=step, nbeta=nbeta, localization=1.0, chains=8, steps=6000,
                        burnin=1000, batch_size=None),
        seed=0,
        device=None,
    )
    assert mala.acceptance_rate is not None and 0.5 < float(np.mean(mala.acceptance_rate)) < 0.95
    assert abs(gibbs.init_loss - mala.init_loss) < 1e-12
    combined = math.hypot(_se(gibbs), _se(mala))
    assert abs(gibbs.llc_mean - mala.llc_mean) < STDERR_FACTOR * combined, (gibbs.llc_mean, mala.llc_mean, combined)
    assert gibbs.rhat < 1.05


# --------------------------------------------------------------------------- against quadrature


def test_two_parameter_network_matches_quadrature():
    """y = b a x with S_xx = 1, S_yx = 0, s_yy = 1, σ = 1, W* = 0: L(W) - L(0) = (ab)²/2 exactly,
    so λ_β = nβ E[(ab)²/2] under exp(-nβ (ab)²/2 - γ(a² + b²)/2), by 2-D quadrature."""
    nbeta, gamma = 1000.0, 1.0
    model = MultilinearGaussian(
        layer_shapes=((1, 1), (1, 1)),
        sxx=torch.ones(1, 1, dtype=torch.float64),
        syx=torch.zeros(1, 1, dtype=torch.float64),
        syy=1.0,
        noise_std=1.0,
        w_star=torch.zeros(2, dtype=torch.float64),
        n=10**6,
    )
    w = torch.tensor([[0.3, -2.0], [1.5, 0.1]], dtype=torch.float64)
    torch.testing.assert_close(model.loss(w) - 0.5, 0.5 * (w[:, 0] * w[:, 1]) ** 2)
    expected = tempered_mean(lambda a, b: 0.5 * (a * b) ** 2, 2, nbeta, gamma)
    result = gibbs_llc(model, nbeta=nbeta, localization=gamma, chains=8, sweeps=5000, burnin=200, seed=0)
    assert abs(result.llc_mean - expected) < STDERR_FACTOR * _se(result), (result.llc_mean, expected, _se(result))
    assert result.rhat < 1.05


# --------------------------------------------------------------------------- dispersed starts


def test_dispersed_starts_reach_the_same_value():
    model = _two_by_two()
    dispersed = gibbs_llc(model, nbeta=100.0, chains=8, sweeps=1500, burnin=300, seed=1, init="dispersed")
    at_star = gibbs_llc(model, nbeta=100.0, chains=8, sweeps=1500, burnin=300, seed=2)
    # (a single sweep already forgets the start here: the first recorded losses are typical)
    assert dispersed.rhat < 1.05
    combined = math.hypot(_se(dispersed), _se(at_star))
    assert abs(dispersed.llc_mean - at_star.llc_mean) < STDERR_FACTOR * combined


# --------------------------------------------------------------------------- the result contract


def test_result_contract_and_reproducibility():
    model = _two_by_two()
    first = gibbs_llc(model, nbeta=100.0, chains=3, sweeps=60, burnin=10, seed=5, init="dispersed")
    again = gibbs_llc(model, nbeta=100.0, chains=3, sweeps=60, burnin=10, seed=5, init="dispersed")
    other = gibbs_llc(model, nbeta=100.0, chains=3, sweeps=60, burnin=10, seed=6, init="dispersed")
    assert np.array_equal(first.loss_trace, again.loss_trace)
    assert not np.array_equal(first.loss_trace, other.loss_trace)
    assert first.loss_trace.shape == (3, 60)
    assert first.llc_per_chain.shape == (3,)
    assert first.acceptance_rate is None and not first.any_diverged
    assert first.chain_method == "gibbs" and first.dim == 8 and first.n == 10_000
    assert first.extra == {"sweeps": 60, "layers": 2, "init": "dispersed"}
    assert first.init_loss == pytest.approx(float(model.loss(model.w_star.unsqueeze(0))[0]))
    np.testing.assert_allclose(
        first.llc_per_chain, 100.0 * (first.loss_trace[:, 10:].mean(axis=1) - first.init_loss)
    )
    assert first.llc_mean == pytest.approx(float(first.llc_per_chain.mean()))
    settings = first.settings
    assert (settings.sampler, settings.steps, settings.burnin, settings.chains) == ("gibbs", 60, 10, 3)
    assert isinstance(settings, GibbsSettings)
    assert GibbsSettings.from_dict(settings.to_dict()) == settings
    summary = first.summary()
    assert summary["sampler"] == "gibbs" and summary["steps"] == 60 and summary["nbeta"] == 100.0
    # explicit starting points: (chains, d) or one (d,) point for all chains
    start = model.w_star.unsqueeze(0).repeat(3, 1)
    assert np.array_equal(gibbs_llc(model, nbeta=100.0, chains=3, sweeps=20, burnin=0, init=start).loss_trace,
                          gibbs_llc(model, nbeta=100.0, chains=3, sweeps=20, burnin=0).loss_trace)


def test_overflowing_chain_is_flagged_and_excluded():
    model = _two_by_two()
    start = model.w_star.unsqueeze(0).repeat(3, 1)
    start[1] = 1e200  # products overflow to inf in the first conditional
    with pytest.warns(RuntimeWarning, match="1 of 3 chains diverged"):
        result = gibbs_llc(model, nbeta=100.0, chains=3, sweeps=60, burnin=10, init=start)
    assert result.diverged.tolist() == [False, True, False]
    assert np.isnan(result.llc_per_chain[1])
    assert result.llc_mean == pytest.approx(float(np.mean(result.llc_per_chain[[0, 2]])))
    assert "chain 1" in result.divergence_reasons[0]


def _statistics(**changes):
    base = {
        "layer_shapes": [(3, 2), (2, 3)],
        "sxx": torch.eye(2, dtype=torch.float64),
        "syx": torch.zeros(2, 2, dtype=torch.float64),
        "syy": 1.0,
        "noise_std": 1.0,
        "w_star": torch.zeros(12, dtype=torch.float64),
        "n": 100,
    }
    return {**base, **changes}


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"sxx": torch.tensor([[1.0, math.nan], [math.nan, 1.0]], dtype=torch.float64)}, "sxx"),
        ({"sxx": torch.eye(3, dtype=torch.float64)}, "sxx"),
        ({"sxx": torch.tensor([[1.0, 0.5], [0.0, 1.0]], dtype=torch.float64)}, "sxx"),
        ({"sxx": torch.tensor([[1.0, 2.0], [2.0, 1.0]], dtype=torch.float64)}, "sxx"),
        ({"syx": torch.zeros(3, 2, dtype=torch.float64)}, "syx"),
        ({"syx": torch.full((2, 2), math.inf, dtype=torch.float64)}, "syx"),
        ({"syy": math.nan}, "syy"),
        ({"w_star": torch.zeros(11, dtype=torch.float64)}, "w_star"),
        ({"noise_std": 0.0}, "noise_std"),
        ({"noise_std": -1.0}, "noise_std"),
        ({"n": 0}, "n"),
        ({"layer_shapes": [(3, 2), (2, 2)]}, "layer_shapes"),
        ({"layer_shapes": []}, "layer_shapes"),
    ],
)
def test_model_rejects_bad_input(changes, field):
    with pytest.raises(ValueError, match=rf"^{field}"):
        MultilinearGaussian(**_statistics(**changes))


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"localization": 0.0}, "localization"),
        ({"nbeta": 0.0}, "nbeta"),
        ({"nbeta": -1.0}, "nbeta"),
        ({"nbeta": math.inf}, "nbeta"),
        ({"burnin": 20}, "burnin"),
        ({"chains": 0}, "chains"),
        ({"sweeps": 0}, "sweeps"),
        ({"seed": -1}, "seed"),
        ({"init": "origin"}, "init"),
        ({"init": torch.zeros(2, 5, dtype=torch.float64)}, "init"),
        ({"init": torch.full((12,), math.nan, dtype=torch.float64)}, "init"),
    ],
)
def test_gibbs_llc_rejects_bad_input(changes, field):
    model = MultilinearGaussian(**_statistics())
    arguments = {"nbeta": 10.0, "localization": 1.0, "chains": 2, "sweeps": 20, "burnin": 5, **changes}
    with pytest.raises(ValueError, match=rf"^{field}"):
        gibbs_llc(model, **arguments)


def test_conditional_rejects_bad_input():
    model = MultilinearGaussian(**_statistics())
    layers = model.unflatten(model.w_star.unsqueeze(0))
    with pytest.raises(ValueError, match="^localization"):
        conditional(model, layers, 0, 10.0, 0.0)
    with pytest.raises(ValueError, match="^l:"):
        conditional(model, layers, 2, 10.0, 1.0)
