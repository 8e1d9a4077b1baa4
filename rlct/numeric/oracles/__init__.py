"""Numeric oracles: lambda (and m) measured from K alone, without SGLD (numpy/scipy only)."""

from rlct.numeric.oracles.quadrature import free_energy_quadrature
from rlct.numeric.oracles.result import OracleEstimate
from rlct.numeric.oracles.volume import volume_scaling

__all__ = ["OracleEstimate", "free_energy_quadrature", "volume_scaling"]
