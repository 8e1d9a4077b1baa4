"""The pnn case (polynomial networks in two parameters): exact values from the bivariate engine,
its sufficient-statistics loss against the row-wise loss, and bad input."""

from __future__ import annotations

from fractions import Fraction

import pytest
import torch

from rlct.cases import get_case

PNN = get_case("pnn")


@pytest.mark.parametrize(("scale", "lam"), [("L1r2", Fraction(3, 4)), ("L2r2", Fraction(1, 4)),
                                             ("L2r3", Fraction(3, 16)), ("L2r4", Fraction(3, 20)),
                                             ("L3r2", Fraction(3, 28))])
def test_exact_values_come_from_the_bivariate_engine(scale, lam):
    # cross-checked against the free-energy quadrature oracle for L <= 2 in tests/test_bivariate.py,
    # and against the tempered-limit oracle below (every scale in reports/pnn)
    exact = PNN.at_scale(scale).exact()
    assert (exact.value, exact.multiplicity) == (lam, 1)
    assert "adapted coordinates (changes of variables t2 -> t2 + -1*t1)" in exact.certificate


@pytest.mark.parametrize("scale", ["L1r2", "L2r3"])
def test_sufficient_statistics_equal_the_row_wise_loss(scale):
    problem = PNN.at_scale(scale, n=3000).build(seed=1)
    target = problem.target
    t = torch.tensor([[0.1, -0.05], [0.02, 0.3], [0.0, 0.0], [-0.4, 0.4]], dtype=torch.float64)
    rows = target.loss(t, tuple(d.unsqueeze(0).expand(4, *d.shape) for d in target.data))
    assert torch.allclose(target.full_data_loss(t), rows, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    ("parameters", "field"),
    [({"depth": 0}, "depth"), ({"power": 1}, "power"), ({"depth": 5, "power": 3}, "depth"),
     ({"noise_std": -1.0}, "noise_std"), ({"width": 3}, "width")],
)
def test_bad_parameters_are_named(parameters, field):
    with pytest.raises(ValueError, match=rf"^{field}: "):
        PNN(**parameters)


def _grid_tempered_mean(excess, nbeta, gamma, half_width=4.0, points=2001):
    """n beta E[V] under exp(-n beta V - gamma |t|^2 / 2) on a fine uniform grid (an independent
    check of the nested quadrature; the valley of L1r2 is ~ (n beta)^(-1/2) = 0.03 wide)."""
    import numpy as np

    axis = np.linspace(-half_width, half_width, points)
    a, b = np.meshgrid(axis, axis, indexing="ij")
    v = excess(a, b)
    log_w = -nbeta * (v - v.min()) - 0.5 * gamma * (a * a + b * b)
    w = np.exp(log_w - log_w.max())
    return float(nbeta * (w * v).sum() / w.sum())


@pytest.mark.slow
@pytest.mark.ci
def test_same_data_reference_matches_a_grid_integral():  # ~25 s on an idle core
    # L1r2: f_t(x) = W x, c(t) = (t1 + t2, t1^2 | t1^2, t2^2); the empirical L_n(t) - L_n(0)
    # from the data's own sufficient statistics, integrated on a grid
    import numpy as np

    from rlct.cases.pnn import _sufficient_statistics

    case = PNN.at_scale("L1r2", n=20_000)
    settings = case.recommended()
    x, y = case._data(3)
    _, b_stat, g_stat = (v.numpy() for v in _sufficient_statistics(1, 2, x, y))

    def excess(a, b):
        c = np.stack([a + b, a * a, a * a, b * b], axis=-1)
        return 0.5 * (-2.0 * c @ b_stat + np.einsum("...p,pq,...q->...", c, g_stat, c))

    expected = _grid_tempered_mean(excess, 1000.0, 1.0)
    assert case.data_reference(settings, 3) == pytest.approx(expected, rel=2e-3)


@pytest.mark.slow
@pytest.mark.parametrize(("scale", "lam"), [("L3r3", Fraction(3, 52)), ("L3r4", Fraction(1, 28)),
                                             ("L4r2", Fraction(1, 20))])
def test_exact_values_of_the_deeper_scales(scale, lam):
    # 5-30 s each; each equals 3 / (4 (1 + r + ... + r^(L-1))) like the shallower ones
    exact = PNN.at_scale(scale).exact()
    assert (exact.value, exact.multiplicity) == (lam, 1)


def _population_excess(scale: str):
    """K(t1, t2) = c^T G c / (2 sigma^2) on arrays, from the case's coefficients and Gram matrix."""
    import numpy as np
    import sympy

    from rlct.cases.pnn import _gaussian_moment, _second_moments, network_terms

    case = PNN.at_scale(scale)
    terms = network_terms(case.parameters["depth"], case.parameters["power"])
    gram = _second_moments(terms, lambda i, j: _gaussian_moment(i) * _gaussian_moment(j))
    t1, t2 = sympy.symbols("t1 t2")
    functions = [sympy.lambdify((t1, t2), c, modules="numpy") for _, _, c in terms]

    def excess(a, b):
        c = np.stack([np.broadcast_to(f(a, b), a.shape) for f in functions], axis=-1)
        return np.einsum("...p,pq,...q->...", c, gram, c) / (2 * case.parameters["noise_std"] ** 2)

    return case, excess


@pytest.mark.parametrize("scale", ["L2r2", pytest.param("L3r2", marks=pytest.mark.slow)])
def test_population_reference_matches_a_grid_integral(scale):
    """The nested Gauss-Kronrod reference (breakpoints at the real roots of the irreducible
    factors of the coefficients) against a uniform grid (1501^2 nodes: L2r2 to 1e-15)."""
    from rlct.numeric.settings import SamplerSettings

    case, excess = _population_excess(scale)
    settings = SamplerSettings(sampler="mala", nbeta=1000.0, localization=1.0, batch_size=None)
    expected = _grid_tempered_mean(excess, 1000.0, 1.0, half_width=6.0, points=1501)
    assert case.finite_nbeta_reference(settings) == pytest.approx(expected, rel=1e-6)


def test_population_reference_matches_importance_sampling_from_the_prior():
    """An independent check of the L3r2 reference: lambda_beta = E_prior[w t K] / E_prior[w],
    w = exp(-t K), t = n beta = 1000, with draws from the Gaussian prior (gamma = 1) and K from the
    sampler's own torch evaluator (not the quadrature's Horner tables). 4e5 draws: se ~0.3%."""
    import sympy
    import torch

    from rlct.cases.pnn import _gaussian_moment, _second_moments, network_terms
    from rlct.cases.poly import make_evaluator, monomial_tables
    from rlct.numeric.settings import SamplerSettings

    terms = network_terms(3, 2)
    exponents, table = monomial_tables([c for _, _, c in terms], sympy.symbols("t1 t2"))
    evaluate = make_evaluator(exponents, table, 1)
    gram = torch.tensor(_second_moments(terms, lambda i, j: _gaussian_moment(i) * _gaussian_moment(j)))
    draws = torch.randn(400_000, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    c = evaluate(draws).reshape(draws.shape[0], -1)
    tk = 1000.0 * 0.5 * ((c @ gram) * c).sum(dim=1)
    weight = torch.exp(-tk)
    sampled = float((weight * tk).sum() / weight.sum())
    settings = SamplerSettings(sampler="mala", nbeta=1000.0, localization=1.0, batch_size=None)
    assert PNN.at_scale("L3r2").finite_nbeta_reference(settings) == pytest.approx(sampled, rel=1e-2)


@pytest.mark.slow
@pytest.mark.parametrize(("scale", "lam"), [
    ("L2r2", Fraction(1, 4)),
    pytest.param("L3r2", Fraction(3, 28), marks=pytest.mark.ci),
])
def test_the_engine_agrees_with_the_tempered_limit_oracle(scale, lam):
    """The engine's lambda against an oracle that uses K alone: the population lambda_beta (nested
    quadrature) at n beta = 10^4..10^16 extrapolated to infinity (`tempered_limit`). Measured (the
    pnn report runs every scale): L2r2 -0.01%, L3r2 -0.08%, L3r3 +0.18%, L3r4 +0.68%, L4r2 +0.01%,
    m = 1 everywhere. The Newton-distance bounds rlct gave before the engine (1/3, 1/7) are 33% and
    25% away. ~60-80 s each."""
    from rlct.numeric.oracles.tempered_limit import DEFAULT_NBETAS, fit_tempered_limit
    from rlct.numeric.settings import SamplerSettings

    case = PNN.at_scale(scale)
    values = [case.finite_nbeta_reference(SamplerSettings(sampler="mala", nbeta=t, localization=1.0,
                                                          batch_size=None)) for t in DEFAULT_NBETAS]
    oracle = fit_tempered_limit(DEFAULT_NBETAS, values)
    assert oracle.multiplicity_estimate == case.exact().multiplicity == 1
    assert oracle.estimate == pytest.approx(float(lam), rel=2e-3)
