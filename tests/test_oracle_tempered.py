"""`tempered_mean` and `tempered_mean_nested` (n beta E[K] under the localized tempered
posterior) against independent closed forms, 1-D reductions, each other and a brute-force grid,
and the poly case's finite-n beta reference."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate

from rlct.cases.poly import PolyCase
from rlct.numeric.oracles import tempered_mean
from rlct.numeric.oracles.tempered import tempered_mean_nested
from rlct.numeric.settings import SamplerSettings


def _x_times_y_power(t: float, gamma: float, power: int, a: float) -> float:
    """K = a (x y^p)^2: given y, x is Gaussian with precision gamma + 2 a t y^(2p), so
    E[tK | y] = a t y^(2p) / (gamma + 2 a t y^(2p)) and y has the marginal weight
    exp(-gamma y^2 / 2) (gamma / (gamma + 2 a t y^(2p)))^(1/2): a 1-D integral (scipy quad)."""
    def curvature(y):
        return 2 * a * t * y ** (2 * power)

    def weight(y):
        return math.exp(-gamma * y * y / 2) * math.sqrt(gamma / (gamma + curvature(y)))

    def energy(y):
        return curvature(y) / 2 / (gamma + curvature(y))

    top = 14 / math.sqrt(gamma)
    cuts = [0.0, 1e-4, 1e-3, 1e-2, 0.1, 1.0, top]
    num = sum(integrate.quad(lambda y: weight(y) * energy(y), lo, hi, limit=500, epsrel=1e-12)[0]
              for lo, hi in zip(cuts[:-1], cuts[1:]))
    den = sum(integrate.quad(weight, lo, hi, limit=500, epsrel=1e-12)[0] for lo, hi in zip(cuts[:-1], cuts[1:]))
    return num / den


@settings(max_examples=25, deadline=None)
@given(
    log_t=st.floats(1.0, 6.0),
    gamma=st.sampled_from([0.3, 1.0, 3.0]),
    power=st.integers(1, 2),
    a=st.sampled_from([0.5, 2.0]),
)
def test_matches_the_one_dimensional_reduction_of_x_times_y_power(log_t, gamma, power, a):
    t = 10.0**log_t
    value = tempered_mean(lambda x, y: a * (x * y**power) ** 2, 2, t, gamma, points=801)
    assert value == pytest.approx(_x_times_y_power(t, gamma, power, a), rel=1e-7)


@settings(max_examples=40, deadline=None)
@given(log_t=st.floats(-1.0, 8.0), gamma=st.floats(0.05, 20.0), a=st.floats(0.1, 10.0))
def test_regular_quadratic_is_a_gaussian_mean(log_t, gamma, a):
    """K = a x^2 / 2: E[t K] = (1/2) a t / (a t + gamma) exactly; two such variables add."""
    t = 10.0**log_t
    one = 0.5 * a * t / (a * t + gamma)
    assert tempered_mean(lambda x: a * x * x / 2, 1, t, gamma) == pytest.approx(one, rel=1e-9)
    two = tempered_mean(lambda x, y: a * (x * x + y * y) / 2, 2, t, gamma, points=801)
    assert two == pytest.approx(2 * one, rel=1e-9)


def test_finite_nbeta_values_used_in_the_readme():
    assert tempered_mean(lambda x, y: (x * y) ** 2 / 2, 2, 1000.0, 1.0) == pytest.approx(0.381344, abs=1e-6)
    assert tempered_mean(lambda x, y: (x * y * y) ** 2 / 2, 2, 1000.0, 1.0) == pytest.approx(0.220150, abs=1e-6)


def test_tends_to_lambda_minus_the_log_correction_for_m_2():
    """K = x^2 y^2 / 2 (lambda = 1/2, m = 2): t E[K] = lambda - (m - 1)/log t + O(1/log^2 t), so
    the deficit times log t tends to 1."""
    deficits = [(0.5 - tempered_mean(lambda x, y: (x * y) ** 2 / 2, 2, t, 1.0)) * math.log(t)
                for t in (1e6, 1e12, 1e24)]
    assert all(abs(d - 1) < 0.35 for d in deficits)
    assert abs(deficits[-1] - 1) < abs(deficits[0] - 1)


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"dim": 3}, "dim"),
        ({"nbeta": 0.0}, "nbeta"),
        ({"nbeta": math.inf}, "nbeta"),
        ({"localization": 0.0}, "localization"),
        ({"points": 10}, "points"),
    ],
)
def test_bad_input_names_the_field(kwargs, field):
    args = {"potential": lambda x: x * x, "dim": 1, "nbeta": 10.0, "localization": 1.0, **kwargs}
    with pytest.raises(ValueError, match=f"^{field}: "):
        tempered_mean(**args)


def test_negative_potential_is_refused():
    with pytest.raises(ValueError, match="^potential: "):
        tempered_mean(lambda x: -x * x, 1, 10.0, 1.0)


@settings(max_examples=4, deadline=None)  # a few seconds each
@given(log_t=st.floats(1.0, 5.0), gamma=st.sampled_from([0.5, 1.0, 3.0]), power=st.integers(1, 2))
def test_nested_quadrature_matches_the_log_grid_and_the_reduction_on_monomials(log_t, gamma, power):
    t = 10.0**log_t
    nested = tempered_mean_nested(lambda x, y: (x * y**power) ** 2 / 2, t, gamma, valleys=lambda y: [0.0])
    assert nested == pytest.approx(_x_times_y_power(t, gamma, power, 0.5), rel=1e-7)


def _cusp_on_a_uniform_grid(t: float, gamma: float, nodes: int = 2001, half_width: float = 6.0) -> float:
    """Brute force: the plain Riemann sum on a uniform grid of [-6, 6]^2 (Gaussian tail e^-18 at
    gamma = 1); converges spectrally once the valley (width ~ t^(-1/2)) spans several nodes."""
    u = np.linspace(-half_width / math.sqrt(gamma), half_width / math.sqrt(gamma), nodes)
    x, y = np.meshgrid(u, u, indexing="ij")
    energy = t * 0.5 * (x * x - y**3) ** 2
    weight = np.exp(-energy - 0.5 * gamma * (x * x + y * y))
    return float((weight * energy).sum() / weight.sum())


@pytest.mark.parametrize("t, gamma", [(100.0, 1.0), (1000.0, 3.0)])
def test_nested_quadrature_of_the_cusp_matches_a_brute_force_grid(t, gamma):
    """K = (x^2 - y^3)^2 / 2 vanishes on a curve: the case `tempered_mean` is not accurate for."""
    nested = tempered_mean_nested(lambda x, y: 0.5 * (x * x - y**3) ** 2, t, gamma,
                                  valleys=lambda y: [y**1.5, -(y**1.5)] if y > 0 else [])
    assert nested == pytest.approx(_cusp_on_a_uniform_grid(t, gamma), rel=1e-7)


def test_nested_quadrature_bad_input_names_the_field():
    with pytest.raises(ValueError, match="^nbeta: "):
        tempered_mean_nested(lambda x, y: x * x, -1.0, 1.0)
    with pytest.raises(ValueError, match="^localization: "):
        tempered_mean_nested(lambda x, y: x * x, 10.0, math.nan)
    with pytest.raises(ValueError, match="^potential: "):
        tempered_mean_nested(lambda x, y: -x * x - 1.0, 10.0, 1.0)


def test_poly_reference_scales_with_copies_and_covers_the_cusp():
    mala = SamplerSettings(sampler="mala", nbeta=1000.0, batch_size=None)
    one = PolyCase(f="x*y**2").finite_nbeta_reference(mala)
    three = PolyCase(f="x*y**2", copies=3).finite_nbeta_reference(mala)
    assert one == pytest.approx(0.220150, abs=1e-6) and three == pytest.approx(3 * one, rel=1e-12)
    # noise_std rescales K: the same posterior as nbeta / noise_std^2
    assert PolyCase(f="x*y", noise_std=2.0).finite_nbeta_reference(mala) == pytest.approx(
        PolyCase(f="x*y").finite_nbeta_reference(mala.replace(nbeta=250.0)), rel=1e-12
    )
    cusp = PolyCase(f="x**2 - y**3").finite_nbeta_reference(mala)  # zero curve off the axes
    assert cusp == pytest.approx(_cusp_on_a_uniform_grid(1000.0, 1.0), rel=1e-7)
    assert cusp == pytest.approx(0.369807, abs=1e-6)
    assert PolyCase(f="x*y*z").finite_nbeta_reference(mala) is None  # three variables
    assert np.isfinite(PolyCase(f="x; y**2").finite_nbeta_reference(mala))
