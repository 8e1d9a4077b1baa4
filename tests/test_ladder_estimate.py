"""The estimator on a ladder of nβ (`rlct.numeric.ladder`, `rlct estimate --nbeta-ladder`): with
samplers on cases of known (λ, m), a normal crossing with a prior (noise-free), the refusal on a
regular model, the rung flags and the bad input."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from rlct.cases import get_case
from rlct.cases.poly import PolyCase
from rlct.cli import main
from rlct.numeric.ladder import estimate_llc_ladder, rung_seed, rung_settings
from rlct.numeric.ladder_fit import fit_ladder
from rlct.numeric.settings import SamplerSettings

HALF_DECADES = [10 ** (2 + k / 2) for k in range(7)]


def monomial_target(nbeta: float, a: int, b: int, h1: float = 0.0, h2: float = 0.0, points: int = 1601) -> float:
    """t E_t[K] for K = x^(2a) y^(2b) / 2 under exp(-t K) |x|^h1 |y|^h2 exp(-(x^2 + y^2)/2): the
    trapezoid rule in w = e^u on the positive quadrant (the integrand is even in x and y), written
    here independently of `rlct.numeric.oracles.tempered`."""
    u = np.linspace(-60.0 / (1.0 + min(h1, h2)), math.log(12.0), points)
    u1, u2 = np.meshgrid(u, u, indexing="ij")
    energy = 0.5 * np.exp(2 * a * u1 + 2 * b * u2)
    log_w = -nbeta * energy + (h1 + 1) * u1 + (h2 + 1) * u2 - 0.5 * (np.exp(2 * u1) + np.exp(2 * u2))
    weights = np.exp(log_w - log_w.max())
    return float(nbeta * np.sum(weights * energy) / np.sum(weights))


def test_independent_quadrature_matches_the_oracle():
    oracle = PolyCase(f="x*y").finite_nbeta_reference(SamplerSettings(nbeta=1000.0, localization=1.0))
    assert monomial_target(1000.0, 1, 1) == pytest.approx(oracle, rel=1e-6)


@pytest.mark.parametrize("a, b, h1, lam, m", [
    (1, 1, 1.0, 0.5, 1),  # x^2 y^2 with prior |x|: x's pole moves to 1, lambda = 1/2 from y, m = 1
    (2, 1, 1.0, 0.5, 2),  # x^4 y^2 with prior |x|: (1 + 1)/4 = 1/2 = 1/2, m = 2
])
def test_noise_free_normal_crossings_with_a_prior(a, b, h1, lam, m):
    """Normal crossings with a monomial prior (lambda = min_j (h_j + 1)/(2 k_j), m = the number of
    minimizers; Watanabe 2009, Thm 7.1 / theory.md): the fit on seven exact rungs over 1e2..1e5
    gives lambda within 1% and m exactly."""
    values = [monomial_target(t, a, b, h1) for t in HALF_DECADES]
    fit = fit_ladder(HALF_DECADES, values)
    assert fit.multiplicity == m, fit.candidates
    assert abs(fit.lam - lam) / lam < 1e-2


def test_gibbs_ladder_on_rrr_with_m_2():
    """rrr (2, 1, 2) at rank 0: lambda = 1, m = 2. The exact Gibbs sampler on six rungs over
    1e2..4e4 (n = 4e6): the fit gives lambda within 5% and m = 2, where the top rung alone
    reads more than 10% low (measured: 0.976 +- 0.005 against 0.893)."""
    case = get_case("rrr").at_scale("1e1-m2", n=4_000_000)
    problem = case.build(seed=0)
    settings = case.reference_settings(case.recommended())
    result = estimate_llc_ladder(problem.target, settings, [1e2, 3e2, 1e3, 3e3, 1e4, 4e4], seed=0)
    assert result.fit is not None and all(result.used)
    assert result.fit.multiplicity == 2
    assert abs(result.fit.lam - 1.0) < 0.05
    assert result.rungs[-1].llc_mean < 0.9
    assert result.cost_ratio == pytest.approx(6.0)
    assert any(w.startswith("data fluctuation: the top rung is n/100;") for w in result.warnings)


def test_regular_model_with_a_short_ladder_gives_m_1():
    """multireg (10 -> 10, lambda = 50, m = 1) with the exact Gibbs sampler on three rungs over
    one decade: m = 1, named as a short ladder, lambda within 2%."""
    case = get_case("multireg").at_scale("1e2")
    problem = case.build(seed=0)
    settings = case.reference_settings(case.recommended())
    result = estimate_llc_ladder(problem.target, settings, [1e2, 3e2, 1e3], seed=0)
    assert result.fit is not None
    assert result.fit.multiplicity == 1
    assert abs(result.fit.lam - 50.0) / 50.0 < 0.02
    assert any(w.startswith("short range") for w in result.warnings)


def test_same_seed_same_ladder_and_distinct_rung_seeds():
    case = PolyCase(f="x*y", n=1_000_000)
    problem = case.build(seed=0)
    settings = case.recommended().replace(chains=4, steps=400, burnin=100)
    first = estimate_llc_ladder(problem.target, settings, [1e2, 1e3, 1e4], seed=3)
    second = estimate_llc_ladder(problem.target, settings, [1e2, 1e3, 1e4], seed=3)
    assert [r.llc_mean for r in first.rungs] == [r.llc_mean for r in second.rungs]
    assert len({rung_seed(3, k) for k in range(10)}) == 10
    assert first.summary()["ladder_nbetas"] == [1e2, 1e3, 1e4]


def test_step_size_rule_by_sampler():
    mala = SamplerSettings(sampler="mala", step_size=1e-3, nbeta=1e3)
    assert rung_settings(mala, 1e5, 10**8).step_size == 1e-3  # p = 0
    sgld = SamplerSettings(sampler="sgld", step_size=1e-3, nbeta=1e3)
    assert rung_settings(sgld, 1e5, 10**8).step_size == pytest.approx(1e-5)  # p = 1
    assert rung_settings(sgld, 1e5, 10**8, step_exponent=0.5).step_size == pytest.approx(1e-4)
    assert rung_settings(sgld, 1e5, 10**8).nbeta == 1e5


def test_a_diverged_rung_is_left_out_and_named():
    """SGLD with a step size 10^4 times too large at every rung (p = 0): the top rungs blow up;
    they are named and not fitted, and with fewer than three usable rungs there is no fit."""
    case = PolyCase(f="x*y", n=1_000_000)
    problem = case.build(seed=0)
    settings = SamplerSettings(sampler="sgld", step_size=1.0, nbeta=1e2, chains=4, steps=200, burnin=50,
                               batch_size=64)
    with pytest.warns(RuntimeWarning, match="chains diverged"):
        result = estimate_llc_ladder(problem.target, settings, [1e2, 1e3, 1e4], seed=0, step_exponent=0.0)
    assert not all(result.used)
    assert any("diverged" in w for w in result.warnings)
    assert result.fit is None and any(w.startswith("no fit") for w in result.warnings)


def test_bad_ladder_input_is_refused():
    problem = PolyCase(f="x*y").build(seed=0)
    settings = PolyCase(f="x*y").recommended()
    with pytest.raises(ValueError, match="nbeta_ladder: largest nbeta"):
        estimate_llc_ladder(problem.target, settings, [1e2, 1e3, 1e4], seed=0)
    with pytest.raises(ValueError, match="nbeta_ladder: expected at least 3"):
        estimate_llc_ladder(problem.target, settings, [1e1, 1e2], seed=0)
    with pytest.raises(ValueError, match="step_exponent"):
        estimate_llc_ladder(problem.target, settings, [1e1, 1e2, 1e3], seed=0, step_exponent=2.0)


def test_cli_ladder_json_and_cost(capsys):
    code = main(["estimate", "multireg", "--scale", "1e2", "--sampler", "gibbs", "--nbeta-ladder",
                 "1e2,3e2,1e3", "--steps", "600", "--burnin", "100", "--json"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert out["m_hat"] == 1 and out["exact_multiplicity"] == 1
    assert abs(out["relative_error_corrected"]) < 0.03
    assert out["ladder_cost_ratio"] == pytest.approx(3.0)
    assert out["ladder_nbetas"] == [100.0, 300.0, 1000.0]


def test_cli_ladder_text_names_the_exact_rungs(capsys):
    code = main(["estimate", "poly", "--f", "x*y", "--n", "1000000", "--nbeta-ladder", "1e2,1e3,1e4",
                 "--chains", "4", "--steps", "600", "--burnin", "100"])
    assert code == 0
    text = capsys.readouterr().out
    assert "corrected     lambda = " in text
    assert "exact rungs   the same fit on the exact tempered targets" in text
    cost = float(text.split("cost          ")[1].split(" x one run at nbeta 1000")[0])
    assert cost > 3.0  # three rungs plus the MALA step pilots


@pytest.mark.parametrize("ladder, message", [
    ("1e2,1e3", "nbeta_ladder: expected at least 3"),
    ("1e3,1e2,1e4", "nbeta_ladder: must be strictly increasing"),
    ("-1,1e2,1e3", "nbeta_ladder: every nbeta must be a finite positive number"),
    ("1e2,1e3,1e4", "nbeta_ladder: largest nbeta 10000 is not well below n = 100000"),
    ("1e2,x,1e3", "argument --nbeta-ladder: expected comma-separated numbers"),
])
def test_cli_bad_ladders_exit_2_with_one_line(capsys, ladder, message):
    code = main(["estimate", "poly", "--f", "x*y", f"--nbeta-ladder={ladder}"])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err


@pytest.mark.slow
def test_mala_ladder_on_the_normal_crossing_xy():
    """K = (xy)^2/2 (lambda = 1/2, m = 2) with the case's MALA (the pilots keep eps = 3e-4 at every
    rung: acceptance >= 0.73), 64 chains, n = 10^7, seven rungs over 1e2..1e5: lambda within 5% and
    m = 2 (measured -1.9%; the top rung alone reads -6%, the single temperature at 1e3 -25%)."""
    case = PolyCase(f="x*y", n=10_000_000)
    problem = case.build(seed=0)
    settings = case.recommended().replace(chains=64, steps=20_000, burnin=4_000)
    result = estimate_llc_ladder(problem.target, settings, HALF_DECADES, seed=0)
    assert result.fit is not None
    assert result.fit.multiplicity == 2
    assert abs(result.fit.lam - 0.5) / 0.5 < 0.05
