"""SGLD-family integrators, one module each: a sampler is `init(w, evaluation) -> state` and
`update(state, evaluate, batch, step_size, noise, uniform) -> state`.

The integrators know nothing of the LLC estimator; the estimator (`rlct.numeric.llc`) drives them.
"""

from rlct.numeric.samplers import mala, psgld, sgld
from rlct.numeric.samplers.base import SamplerState

SAMPLERS = {"sgld": sgld, "psgld": psgld, "mala": mala}

__all__ = ["SAMPLERS", "SamplerState", "mala", "psgld", "sgld"]
