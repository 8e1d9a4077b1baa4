"""SGLD-family integrators, one module each: a sampler is `init(w, evaluation) -> state` and
`update(state, evaluate, batch, step_size, noise, uniform) -> state`.

The integrators know nothing of the LLC estimator; the estimator (`rlct.numeric.llc`) drives them.
"""

from rlct.numeric.samplers import hmc, mala, psgld, sgld
from rlct.numeric.samplers.base import SamplerState

SAMPLERS = {"sgld": sgld, "psgld": psgld, "mala": mala, "hmc": hmc}

__all__ = ["SAMPLERS", "SamplerState", "hmc", "mala", "psgld", "sgld"]
