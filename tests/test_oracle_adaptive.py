"""`integrate_adaptive` (vectorized Gauss-Kronrod (7, 15)) against exact integrals, and
`scipy.integrate.quad` (QUADPACK) on the same integrands."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate

from rlct.numeric.oracles.adaptive import GAUSS, KRONROD, NODES, QuadratureError, integrate_adaptive


@pytest.mark.parametrize("degree", range(24))
def test_rules_are_exact_on_polynomials_up_to_their_degree(degree):
    """Kronrod 15 integrates x^k exactly for k <= 22 (and every odd k by symmetry), the embedded
    Gauss 7 for k <= 13."""
    exact = 0.0 if degree % 2 else 2.0 / (degree + 1)
    assert float(KRONROD @ NODES**degree) == pytest.approx(exact, abs=1e-14)
    if degree <= 13 or degree % 2:
        assert float(GAUSS @ NODES**degree) == pytest.approx(exact, abs=1e-14)
    else:
        assert abs(float(GAUSS @ NODES**degree) - exact) > 1e-6


@settings(max_examples=40, deadline=None)
@given(centre=st.floats(-3.0, 3.0), log_width=st.floats(-6.0, 0.0))
def test_a_narrow_gaussian_with_graded_breakpoints_around_its_centre(centre, log_width):
    """Breakpoints at centre +- 2^-j, j < 16, as `tempered_mean_nested` places them: a peak
    narrower than every node spacing would be invisible to any rule (no node sees it)."""
    width = 10.0**log_width
    offsets = np.array([2.0**-j for j in range(16)])
    cuts = np.unique(np.concatenate([[-10.0, centre, 10.0], centre + offsets, centre - offsets]))
    value = integrate_adaptive(lambda x: np.exp(-0.5 * ((x - centre) / width) ** 2), cuts,
                               epsabs=1e-13, epsrel=1e-12)
    assert value == pytest.approx(width * math.sqrt(2 * math.pi), rel=1e-10)


def test_components_share_nodes_and_match_quadpack():
    def integrand(x: np.ndarray) -> np.ndarray:
        return np.stack([np.exp(-1e4 * (x - 0.3) ** 2) * np.cos(x), np.abs(x - 0.3) ** 0.5], axis=1)

    value = integrate_adaptive(integrand, [-1.0, 0.3, 1.0], epsabs=1e-12, epsrel=1e-12)
    first = integrate.quad(lambda x: math.exp(-1e4 * (x - 0.3) ** 2) * math.cos(x), -1, 1, points=[0.3],
                           epsabs=1e-13, epsrel=1e-13)[0]
    second = (1.3**1.5 + 0.7**1.5) * 2 / 3
    assert value.shape == (2,)
    assert value[0] == pytest.approx(first, rel=1e-10) and value[1] == pytest.approx(second, rel=1e-10)


def test_a_scalar_integrand_gives_a_scalar():
    assert np.ndim(integrate_adaptive(np.exp, [0.0, 1.0], epsabs=1e-14, epsrel=1e-14)) == 0
    assert integrate_adaptive(np.exp, [0.0, 1.0], epsabs=1e-14, epsrel=1e-14) == pytest.approx(math.e - 1, rel=1e-14)


def test_failures_are_named():
    with pytest.raises(ValueError, match="^cuts: "):
        integrate_adaptive(np.exp, [1.0, 0.0], epsabs=1e-10, epsrel=1e-10)
    with pytest.raises(ValueError, match="^cuts: "):
        integrate_adaptive(np.exp, [0.0], epsabs=1e-10, epsrel=1e-10)
    with pytest.raises(QuadratureError, match="not finite"):
        integrate_adaptive(lambda x: np.where(x > 0.5, np.nan, 1.0), [0.0, 1.0], epsabs=1e-10, epsrel=1e-10)
    with pytest.raises(QuadratureError, match="bisections"):  # a divergent integral
        integrate_adaptive(lambda x: 1.0 / x, [0.0, 1.0], epsabs=1e-10, epsrel=1e-10)
    with pytest.raises(QuadratureError, match="subintervals"):  # 1,600 oscillations need > 100 pieces
        integrate_adaptive(lambda x: np.sin(1e4 * x), [0.0, 1.0], epsabs=1e-12, epsrel=1e-12,
                           max_subintervals=100)
