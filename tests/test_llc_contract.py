"""API contracts of the LLC estimator and the integrators (fast)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from _targets import quadratic_llc, quadratic_target

from rlct.cases.dln import DLNCase
from rlct.numeric import samplers
from rlct.numeric.llc import estimate_llc
from rlct.numeric.module_target import module_target
from rlct.numeric.potential import LocalizedPotential
from rlct.numeric.settings import SamplerSettings

SMALL = SamplerSettings(step_size=1e-4, chains=3, steps=60, burnin=20, batch_size=32)


@pytest.fixture(scope="module")
def dln_problem():
    return DLNCase(widths=(4, 3, 5), rank=1, n=500).build(seed=3)


def test_shapes_and_fields(dln_problem):
    result = estimate_llc(dln_problem.target, SMALL, seed=0)
    assert result.loss_trace.shape == (3, 60)
    assert result.llc_per_chain.shape == (3,)
    assert result.diverged.shape == (3,) and not result.any_diverged
    assert result.dim == dln_problem.dim == 4 * 3 + 3 * 5
    assert result.n == 500
    assert math.isclose(result.nbeta, 500 / math.log(500))
    assert np.isfinite(result.llc_mean) and result.llc_stderr > 0
    kept = result.loss_trace[:, 20:]
    expected = result.nbeta * (kept.mean(axis=1) - result.init_loss)
    np.testing.assert_allclose(result.llc_per_chain, expected)
    assert math.isclose(result.llc_mean, float(expected.mean()))
    assert math.isclose(result.llc_stderr, float(expected.std(ddof=1) / math.sqrt(3)))
    assert result.acceptance_rate is None


def test_baseline_is_the_full_data_loss(dln_problem):
    result = estimate_llc(dln_problem.target, SMALL, seed=0)
    target = dln_problem.target
    full = target.loss(target.w_star.unsqueeze(0), target.full_batch(1))
    assert math.isclose(result.init_loss, float(full[0]), rel_tol=1e-12)


def test_same_seed_same_draws_and_different_seed_differs(dln_problem):
    a = estimate_llc(dln_problem.target, SMALL, seed=5)
    b = estimate_llc(dln_problem.target, SMALL, seed=5)
    c = estimate_llc(dln_problem.target, SMALL, seed=6)
    np.testing.assert_array_equal(a.loss_trace, b.loss_trace)
    assert not np.array_equal(a.loss_trace, c.loss_trace)


@pytest.mark.parametrize("sampler", ["sgld", "psgld", "mala"])
def test_vectorized_equals_sequential(dln_problem, sampler):
    settings = SMALL.replace(sampler=sampler, step_size=1e-5 if sampler == "psgld" else 1e-4)
    vec = estimate_llc(dln_problem.target, settings, seed=1, chain_method="vectorized")
    seq = estimate_llc(dln_problem.target, settings, seed=1, chain_method="sequential")
    np.testing.assert_allclose(vec.loss_trace, seq.loss_trace, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(vec.llc_per_chain, seq.llc_per_chain, rtol=1e-9)


def test_zero_noise_sgld_is_gradient_descent(dln_problem):
    target = dln_problem.target
    potential = LocalizedPotential(target, nbeta=100.0, localization=2.0)
    w = target.w_star.unsqueeze(0).repeat(2, 1) + 0.01
    batch = target.full_batch(2)
    state = samplers.sgld.init(w)
    out = samplers.sgld.update(state, potential.evaluate, batch, 1e-3, torch.zeros_like(w))
    w_req = w.clone().requires_grad_(True)
    u = 100.0 * target.loss(w_req, batch) + 1.0 * ((w_req - target.w_star) ** 2).sum(dim=1)
    (grad,) = torch.autograd.grad(u.sum(), w_req)
    torch.testing.assert_close(out.w, w - 0.5e-3 * grad)


def test_zero_noise_zero_gradient_does_not_move():
    target = quadratic_target([1.0, 2.0])
    potential = LocalizedPotential(target, nbeta=10.0, localization=1.0)
    w = torch.zeros(3, 2, dtype=torch.float64)
    for module in (samplers.sgld, samplers.psgld):
        out = module.update(module.init(w), potential.evaluate, target.full_batch(3), 0.1, torch.zeros_like(w))
        torch.testing.assert_close(out.w, w)


def test_mala_reports_acceptance_and_samples_a_gaussian_exactly():
    """MALA on a quadratic samples the Gaussian exactly: nbeta E[L] has a closed form."""
    curv = [1.0, 3.0, 0.5, 2.0]
    target = quadratic_target(curv)
    settings = SamplerSettings(sampler="mala", step_size=2e-3, nbeta=100.0, localization=1.0,
                               chains=8, steps=3000, burnin=500, batch_size=None)
    result = estimate_llc(target, settings, seed=0)
    assert result.acceptance_rate is not None
    assert np.all((result.acceptance_rate > 0.5) & (result.acceptance_rate <= 1.0))
    exact = quadratic_llc(curv, 100.0, 1.0)
    # 5 standard errors: the chains are exact samplers, so only Monte Carlo error remains.
    assert abs(result.llc_mean - exact) < 5 * result.llc_stderr_ess + 1e-3


def test_divergent_chains_are_flagged_and_excluded(dln_problem):
    settings = SMALL.replace(step_size=10.0)
    with pytest.warns(RuntimeWarning, match="diverged"):
        result = estimate_llc(dln_problem.target, settings, seed=0)
    assert result.diverged.all()
    assert math.isnan(result.llc_mean) and math.isnan(result.llc_stderr)
    assert len(result.divergence_reasons) == 3
    assert np.isnan(result.llc_per_chain).all()


def test_module_target_matches_the_batched_dln_loss(dln_problem):
    module = dln_problem.extra["torch_module"]()
    target = dln_problem.target

    def loss_fn(pred, y):
        return 0.5 * ((pred - y) ** 2).sum(dim=-1).mean()

    adapted = module_target(module, loss_fn, target.data)
    torch.testing.assert_close(adapted.w_star, target.w_star)
    gen = torch.Generator().manual_seed(0)
    w = target.w_star + 0.05 * torch.randn(4, target.dim, generator=gen, dtype=target.w_star.dtype)
    batch = target.minibatch(4, 16, gen)
    torch.testing.assert_close(adapted.loss(w, batch), target.loss(w, batch))


@pytest.mark.parametrize(
    "field, changes",
    [
        ("sampler", {"sampler": "nuts"}),
        ("step_size", {"step_size": -1.0}),
        ("step_size", {"step_size": float("nan")}),
        ("nbeta", {"nbeta": 0.0}),
        ("localization", {"localization": -1.0}),
        ("chains", {"chains": 0}),
        ("chains", {"chains": 2.5}),
        ("burnin", {"burnin": 100, "steps": 100}),
        ("batch_size", {"batch_size": 0}),
    ],
)
def test_bad_settings_name_the_field(field, changes):
    with pytest.raises(ValueError, match=f"^{field}:"):
        SamplerSettings(**changes)


def test_bad_seed_and_chain_method(dln_problem):
    with pytest.raises(ValueError, match="^seed:"):
        estimate_llc(dln_problem.target, SMALL, seed=-1)
    with pytest.raises(ValueError, match="^chain_method:"):
        estimate_llc(dln_problem.target, SMALL, seed=0, chain_method="parallel")


def test_float32_runs(dln_problem):
    target = dln_problem.target.to("cpu", torch.float32)
    result = estimate_llc(target, SMALL, seed=0)
    assert result.dtype == "float32" and np.isfinite(result.llc_mean)


def test_dln_sufficient_statistics_equal_the_full_data_loss(dln_problem):
    target = dln_problem.target
    gen = torch.Generator().manual_seed(1)
    w = target.w_star + 0.1 * torch.randn(3, target.dim, generator=gen, dtype=target.w_star.dtype)
    torch.testing.assert_close(target.full_data_loss(w), target._chunked_loss(w, chunk=128))


def test_mala_uses_the_exact_full_data_loss_in_both_chain_methods(dln_problem):
    settings = SMALL.replace(sampler="mala", batch_size=None)
    vec = estimate_llc(dln_problem.target, settings, seed=2)
    seq = estimate_llc(dln_problem.target, settings, seed=2, chain_method="sequential")
    np.testing.assert_allclose(vec.loss_trace, seq.loss_trace, rtol=1e-10)
