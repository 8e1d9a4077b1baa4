"""Numeric oracles: lambda (and m) measured from K alone, without SGLD (numpy/scipy only).

* `volume_scaling`: V(eps) = vol{K < eps} ~ c eps^lambda (-log eps)^(m-1), by multilevel
  splitting with independent batches (any dimension).
* `free_energy_quadrature`: F_n = -log int exp(-n K) phi ~ lambda log n - (m-1) log log n, by
  adaptive cubature in log-coordinates (d <= 3).
* `oracle_for_polynomial`: either of them for a sympy polynomial K (or an ideal <f_i>).
* `tempered_mean`: n beta E[K] under the localized tempered posterior (d <= 2), the value the
  LLC estimator converges to at finite n beta (not lambda itself).
* `tempered_limit`: lambda (and m) in two variables as the limit of that value, computed by nested
  quadrature at n beta = 10^4..10^16 and extrapolated (`fit_tempered_limit`).

All return an `OracleEstimate`.
"""

from rlct.numeric.oracles.polynomial import oracle_for_polynomial
from rlct.numeric.oracles.quadrature import free_energy_quadrature
from rlct.numeric.oracles.result import OracleEstimate
from rlct.numeric.oracles.tempered import tempered_mean
from rlct.numeric.oracles.tempered_limit import fit_tempered_limit, tempered_limit
from rlct.numeric.oracles.volume import volume_scaling

__all__ = ["OracleEstimate", "fit_tempered_limit", "free_energy_quadrature", "oracle_for_polynomial", "tempered_limit",
           "tempered_mean", "volume_scaling"]
