"""The sampler state shared by the integrators."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch import Tensor

from rlct.numeric.potential import Evaluation

Evaluate = Callable[[Tensor, tuple[Tensor, ...] | None], Evaluation]


@dataclass(frozen=True)
class SamplerState:
    """w: (C, d) positions; loss: (C,) loss at w on the batch used for this step;
    evaluation: cached U and grad U at w (MALA, full batch); preconditioner: RMSProp second
    moment V (pSGLD); accepted: (C,) running count of accepted proposals (MALA)."""

    w: Tensor
    loss: Tensor
    evaluation: Evaluation | None = None
    preconditioner: Tensor | None = None
    accepted: Tensor | None = None
