"""The tempered-limit oracle: lambda_t = t E_t[K] (nested quadrature) extrapolated to t -> infinity.

Checked on closed forms (x^2 y^2 under the Gaussian prior, lambda_t by a 1-D integral), on a
curve singularity off the axes (the cusp), on the fit's own model (hypothesis), and for bad input.
The polynomial networks are checked with it in tests/test_case_pnn.py.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate

from rlct.numeric.oracles.tempered import tempered_mean_nested
from rlct.numeric.oracles.tempered_limit import DEFAULT_NBETAS, fit_tempered_limit, tempered_limit


def _crossing_lambda_t(t: float) -> float:
    """t E_t[x^2 y^2] under exp(-t x^2 y^2 - (x^2 + y^2)/2): given y, x ~ N(0, 1/(2 t y^2 + 1)),
    so lambda_t = E_y[t y^2/(2 t y^2 + 1)] under the y-marginal ~ (2 t y^2 + 1)^(-1/2) e^(-y^2/2)."""
    def weight(y: float) -> float:
        return (2 * t * y * y + 1) ** -0.5 * math.exp(-y * y / 2)

    cuts = sorted({0.0, 1 / math.sqrt(t), 10 / math.sqrt(t), 1e-3, 0.1, 1.0, 12.0})
    z = sum(integrate.quad(weight, a, b, epsabs=0, epsrel=1e-13, limit=500)[0] for a, b in zip(cuts, cuts[1:]))
    moment = sum(integrate.quad(lambda y: weight(y) * t * y * y / (2 * t * y * y + 1), a, b, epsabs=0,
                                epsrel=1e-13, limit=500)[0] for a, b in zip(cuts, cuts[1:]))
    return moment / z


def _crossing(x: np.ndarray, y: float) -> np.ndarray:
    return (x * y) ** 2


@pytest.mark.parametrize("nbeta", [1e4, 1e10, 1e16])
def test_the_nested_quadrature_resolves_the_ridge_at_large_nbeta(nbeta):
    """The ridge of x^2 y^2 near y = 0 has width ~ t^(-1/2); with breakpoints only down to 2^-15
    the rule read 0.47292 at t = 10^16 (exact 0.47438)."""
    value = tempered_mean_nested(_crossing, nbeta, 1.0, valleys=lambda y: [0.0])
    assert value == pytest.approx(_crossing_lambda_t(nbeta), abs=1e-9)


def test_a_normal_crossing_has_multiplicity_two():
    """x^2 y^2: lambda = 1/2, m = 2 (lambda_t = 1/2 - 1/(log t + 2.19) + O(1/t))."""
    oracle = tempered_limit(_crossing, valleys=lambda y: [0.0])
    assert oracle.multiplicity_estimate == 2
    assert oracle.estimate == pytest.approx(0.5, abs=1e-6)


def test_the_cusp_off_the_axes():
    """(x^2 - y^3)^2: lambda = (1/2 + 1/3)/2 = 5/12, m = 1; K vanishes on x = +-y^(3/2). The fit
    reads 0.41555 (-0.27%): the next candidate pole, 1/2, is only 1/12 away and can be double (in
    the cusp's resolution the divisors with nu/N = 1 meet the one with 5/6, whose next candidate is
    (5 + 1)/6 = 1 as well), so the correction decays like t^(-1/12) log t, which the fit's single
    exponential follows only approximately over 10^4..10^16."""
    oracle = tempered_limit(lambda x, y: (x**2 - y**3) ** 2,
                            valleys=lambda y: [y**1.5, -(y**1.5)] if y > 0 else [])
    assert oracle.multiplicity_estimate == 1
    assert oracle.estimate == pytest.approx(5 / 12, rel=5e-3)
    assert abs(oracle.estimate - 5 / 12) < 0.03 * (7 / 12 - 5 / 12)  # far from 1/2, the next pole
    assert oracle.method == "tempered-limit" and "1e+04" in oracle.range_used


@settings(max_examples=6, deadline=None)
@given(
    lam=st.floats(0.02, 1.5),
    multiplicity=st.sampled_from([1, 2]),
    shift=st.floats(-3.0, 8.0),
    rate=st.floats(0.05, 1.0),
    amplitude=st.floats(-0.3, 0.3).filter(lambda c: abs(c) > 1e-3),
)
def test_the_fit_recovers_its_own_model(lam, multiplicity, shift, rate, amplitude):
    """lambda_t = lambda - (m - 1)/(x + s) + c exp(-delta (x - x_0)): lambda and m come back."""
    t = np.array(DEFAULT_NBETAS)
    x = np.log(t)
    values = lam - (multiplicity - 1) / (x + shift) + amplitude * np.exp(-rate * (x - x[0]))
    oracle = fit_tempered_limit(t, values)
    assert oracle.multiplicity_estimate == multiplicity
    assert oracle.estimate == pytest.approx(lam, rel=1e-5)


@pytest.mark.parametrize(("nbetas", "values", "field"), [
    ([1e4, 1e6, 1e8], [0.1, 0.2, 0.3], "nbetas"),
    ([1e4, 1e6, 1e8, 1e10, 1e12, 1e14], [0.1] * 5, "values"),
    ([1e4, 1e8, 1e6, 1e10, 1e12, 1e14], [0.1] * 6, "nbetas"),
    ([0.5, 1e6, 1e8, 1e10, 1e12, 1e14], [0.1] * 6, "nbetas"),
    ([1e4, 1e6, 1e8, 1e10, 1e12, 1e14], [0.1, 0.1, float("nan"), 0.1, 0.1, 0.1], "values"),
])
def test_bad_input_is_named(nbetas, values, field):
    with pytest.raises(ValueError, match=field):
        fit_tempered_limit(nbetas, values)


def test_a_bad_multiplicity_bound_and_localization_are_named():
    t = list(DEFAULT_NBETAS)
    with pytest.raises(ValueError, match="max_multiplicity"):
        fit_tempered_limit(t, [0.1] * len(t), max_multiplicity=0)
    with pytest.raises(ValueError, match="localization"):
        tempered_limit(_crossing, localization=-1.0)
