"""The tanh case (one hidden layer of H tanh units, true function 0): exact values per scale, the
batched loss against a direct computation, the chunked full-data loss and its gradient, the H = 1
population K against quadrature, the finite-nbeta reference, and bad input."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
import torch

from rlct.cases import get_case
from rlct.cases.base import cv_sgld_settings

TANH = get_case("tanh")


def test_registered():
    from rlct.cases import registry
    from rlct.cases.tanh import TanhCase

    assert get_case("tanh") is TanhCase and registry()["tanh"] is TanhCase
    assert list(TANH.scales) == ["H1", "H2", "H3", "H4", "H100", "H1e3", "H1e4"]


@pytest.mark.parametrize(
    ("scale", "dim", "value", "multiplicity"),
    [("H1", 2, Fraction(1, 2), 2), ("H2", 4, Fraction(2, 3), 1), ("H3", 6, Fraction(5, 6), 1),
     ("H4", 8, Fraction(1), 2), ("H100", 200, Fraction(5), 2), ("H1e3", 2000, Fraction(332, 21), 1),
     ("H1e4", 20_000, Fraction(50), 2)],
)
def test_exact_values_per_scale(scale, dim, value, multiplicity):
    case = TANH.at_scale(scale)
    exact = case.exact()
    assert case.dim == dim and case.footprint().dim == dim
    assert (exact.value, exact.multiplicity, exact.scope) == (value, multiplicity, "local")


def _direct_loss(w: torch.Tensor, x: torch.Tensor, y: torch.Tensor, hidden: int, sigma: float) -> torch.Tensor:
    """The per-row loss written out one chain and one unit at a time."""
    out = []
    for row in w:
        f = sum(row[h] * torch.tanh(row[hidden + h] * x) for h in range(hidden))
        out.append(((y - f) ** 2).mean() / (2 * sigma**2))
    return torch.stack(out)


def test_loss_at_w_star_and_batched_loss_match_a_direct_computation():
    sigma = 0.7
    problem = TANH(hidden=3, n=500, noise_std=sigma).build(seed=2)
    target = problem.target
    x, y = target.data
    assert x.shape == (500,) and y.shape == (500,) and target.dim == 6
    assert float(x.min()) >= -1.0 and float(x.max()) <= 1.0
    w0 = target.w_star.unsqueeze(0)
    expected = float(y.square().mean() / (2 * sigma**2))
    assert float(target.full_loss(w0)[0]) == pytest.approx(expected, rel=1e-12)
    assert float(target.loss(w0, target.full_batch(1))[0]) == pytest.approx(expected, rel=1e-12)

    w = torch.randn(4, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    batch = target.minibatch(4, 33, torch.Generator().manual_seed(1))
    direct = torch.stack([_direct_loss(w[c : c + 1], batch[0][c], batch[1][c], 3, sigma)[0] for c in range(4)])
    torch.testing.assert_close(target.loss(w, batch), direct, rtol=1e-12, atol=1e-14)


def test_full_data_loss_and_gradient_match_autograd_on_the_row_wise_loss(monkeypatch):
    import rlct.cases.tanh as module

    monkeypatch.setattr(module, "CHUNK_ELEMENTS", 100)  # many chunks, one a partial one
    target = TANH(hidden=2, n=301).build(seed=3).target
    w = 0.5 * torch.randn(3, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    loss, grad = target.full_loss_and_grad(w)
    w_rows = w.clone().requires_grad_(True)
    rows = target.loss(w_rows, target.full_batch(3))
    (grad_rows,) = torch.autograd.grad(rows.sum(), w_rows)
    torch.testing.assert_close(loss, rows.detach(), rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(grad, grad_rows, rtol=1e-10, atol=1e-13)
    torch.testing.assert_close(target.full_loss(w), rows.detach(), rtol=1e-12, atol=1e-14)


def test_same_seed_same_data():
    first, second = TANH(hidden=2, n=100).build(seed=5), TANH(hidden=2, n=100).build(seed=5)
    other = TANH(hidden=2, n=100).build(seed=6)
    for a, b in zip(first.target.data, second.target.data):
        assert torch.equal(a, b)
    assert not torch.equal(first.target.data[0], other.target.data[0])


@pytest.mark.parametrize("b", [0.0, 1e-9, 1e-4, 0.03, 0.049999, 0.05, 0.2, 1.0, -2.5, 8.0])
def test_h1_population_K_closed_form_against_quadrature(b):
    """E[tanh(b x)^2] for x ~ U(-1, 1) = 1 - tanh(b)/b (series near 0) vs Gauss-Legendre."""
    from rlct.cases.tanh import mean_tanh_squared

    t, weights = np.polynomial.legendre.leggauss(200)
    x = 0.5 * (t + 1.0)
    quadrature = float(0.5 * weights @ np.tanh(b * x) ** 2)
    assert mean_tanh_squared(b) == pytest.approx(quadrature, rel=1e-13, abs=1e-300)
    if b != 0.0:
        assert mean_tanh_squared(b) > 0.0


def test_h1_population_K_matches_the_empirical_loss_gap():
    sigma = 0.5
    target = TANH(hidden=1, n=200_000, noise_std=sigma).build(seed=0).target
    a, b = 0.8, 1.3
    gap = float(target.full_loss(torch.tensor([[a, b]], dtype=torch.float64))[0]
                - target.full_loss(target.w_star.unsqueeze(0))[0])
    from rlct.cases.tanh import mean_tanh_squared

    assert gap == pytest.approx(a * a * mean_tanh_squared(b) / (2 * sigma**2), rel=0.02)


def test_finite_nbeta_reference():
    case = TANH.at_scale("H1")
    settings = cv_sgld_settings(steps=100, burnin=10, nbeta=1000.0)
    reference = case.finite_nbeta_reference(settings)
    # n beta = 1000, gamma = 1: 0.369488 (lambda - (m - 1)/log(n beta) = 0.355); also from the
    # nested 2-D quadrature `tempered_mean_nested` (to 1e-14; see the next test)
    assert reference is not None and math.isfinite(reference)
    assert reference == pytest.approx(0.3694877521910852, rel=1e-9)
    assert 0.3 < reference < 0.6
    assert TANH.at_scale("H2").finite_nbeta_reference(settings) is None
    assert case.finite_nbeta_reference(cv_sgld_settings(steps=100, burnin=10, nbeta=1e4)) > reference


def test_finite_nbeta_reference_equals_the_nested_quadrature():  # ~1 s
    from rlct.cases.tanh import mean_tanh_squared
    from rlct.numeric.oracles.tempered import tempered_mean_nested

    case = TANH.at_scale("H1", noise_std=0.8)
    for nbeta in (100.0, 1000.0):
        settings = cv_sgld_settings(steps=100, burnin=10, nbeta=nbeta)
        nested = tempered_mean_nested(lambda a, b: a * a * mean_tanh_squared(b) / (2 * 0.8**2), nbeta, 1.0)
        assert case.finite_nbeta_reference(settings) == pytest.approx(nested, rel=1e-9)


@pytest.mark.parametrize(
    ("parameters", "field"),
    [({"hidden": 0}, "hidden"), ({"hidden": 1.5}, "hidden"), ({"n": 1}, "n"), ({"noise_std": -1.0}, "noise_std"),
     ({"noise_std": "abc"}, "noise_std"), ({"width": 3}, "width")],
)
def test_bad_parameters_are_named(parameters, field):
    with pytest.raises(ValueError, match=rf"^{field}: "):
        TANH(**parameters)


def test_cli_strings_are_accepted():
    case = TANH(hidden="4", n="1000", noise_std="0.5")
    assert case.parameters == {"hidden": 4, "n": 1000, "noise_std": 0.5}


def test_recommended_settings_are_stable_sgld_cv():
    """eps x (n beta x top curvature ~0.18 H of the a-block) stays ~0.2 at every scale."""
    for scale in TANH.scales:
        case = TANH.at_scale(scale)
        settings = case.recommended()
        assert settings.sampler == "sgld" and settings.control_variate and settings.batch_size == 256
        assert settings.nbeta == 1000.0 and settings.localization == 1.0 and settings.steps > settings.burnin
        assert settings.step_size * settings.nbeta * 0.18 * case.parameters["hidden"] <= 0.25
        assert case.footprint().build_elements > 0
    # the curvature scales as 1 / sigma^2
    assert TANH(hidden=1, noise_std=0.5).recommended().step_size == pytest.approx(0.25 * 3e-4)
