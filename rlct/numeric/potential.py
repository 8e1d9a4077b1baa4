"""The localized tempered potential and its gradient, for C chains at once.

    U(w) = n beta L(w) + (gamma / 2) ||w - w*||^2,
    p(w) proportional to exp(-U(w))     (Lau et al. 2023, arXiv 2308.12108, eq. 6)

with L the minibatch (SGLD family) or full-data (MALA) loss. Gradients per chain are the
gradient of the *sum* over chains (chains are independent, so d(sum)/dw_c = dL_c/dw_c).
`chain_method="sequential"` evaluates one chain at a time: the reference that the vectorized
path must reproduce.

With ``control_variate=True`` the minibatch loss and gradient are replaced by the control-variate
estimates anchored at w* (Baker, Fearnhead, Fox, Nemeth 2019, "Control variates for stochastic
gradient MCMC", Statistics and Computing 29:599-615):

    L~_B(w) = L_B(w) - L_B(w*) + L_n(w*),   grad L~_B(w) = grad L_B(w) - grad L_B(w*) + grad L_n(w*),

unbiased for L_n(w) and its gradient, with a variance that vanishes as w -> w* (the chains are
localized at w*, so the minibatch noise nearly disappears). Costs a second batched evaluation.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from rlct.numeric.settings import CHAIN_METHODS
from rlct.numeric.target import Target


@dataclass(frozen=True)
class Evaluation:
    """At w (C, d): loss L (C,), its gradient (C, d), potential U (C,) and grad U (C, d)."""

    loss: Tensor
    grad_loss: Tensor
    potential: Tensor
    grad: Tensor


@dataclass(frozen=True)
class LocalizedPotential:
    target: Target
    nbeta: float
    localization: float
    chain_method: str = "vectorized"
    control_variate: bool = False

    def __post_init__(self) -> None:
        if self.chain_method not in CHAIN_METHODS:
            raise ValueError(f"chain_method: expected one of {CHAIN_METHODS}, got {self.chain_method!r}")
        if self.control_variate:
            anchor_loss, anchor_grad = self.target.full_loss_and_grad(self.target.w_star.unsqueeze(0))
            object.__setattr__(self, "_anchor", (anchor_loss[0], anchor_grad[0]))

    def _cv_loss_and_grad(self, w: Tensor, batch: tuple[Tensor, ...]) -> tuple[Tensor, Tensor]:
        """Control-variate loss and gradient: one batched call on [w; w*] with the batch twice."""
        chains = w.shape[0]
        stacked = torch.cat([w, self.target.w_star.expand_as(w)])
        doubled = tuple(torch.cat([t, t]) for t in batch)
        loss, grad = self._loss_and_grad(stacked, doubled)
        anchor_loss, anchor_grad = self._anchor  # type: ignore[attr-defined]
        return (
            loss[:chains] - loss[chains:] + anchor_loss,
            grad[:chains] - grad[chains:] + anchor_grad,
        )

    def _loss_and_grad(self, w: Tensor, batch: tuple[Tensor, ...] | None) -> tuple[Tensor, Tensor]:
        """``batch=None`` means the full data set through ``target.full_data_loss``."""
        with torch.enable_grad():
            w = w.detach().requires_grad_(True)
            if batch is None:
                assert self.target.full_data_loss is not None
                loss = self.target.full_data_loss(w)
            else:
                loss = self.target.loss(w, batch)
            (grad,) = torch.autograd.grad(loss.sum(), w)
        return loss.detach(), grad

    def _rows(self, w: Tensor, batch: tuple[Tensor, ...] | None) -> tuple[Tensor, Tensor]:
        if self.control_variate and batch is not None:
            return self._cv_loss_and_grad(w, batch)
        return self._loss_and_grad(w, batch)

    def evaluate(self, w: Tensor, batch: tuple[Tensor, ...] | None) -> Evaluation:
        """U and grad U at w for every chain; ``batch`` has a leading chain axis, or is None
        for the exact full-data loss (``target.full_data_loss``)."""
        if self.chain_method == "vectorized":
            loss, grad_loss = self._rows(w, batch)
        else:
            parts = [
                self._rows(w[c : c + 1], None if batch is None else tuple(t[c : c + 1] for t in batch))
                for c in range(w.shape[0])
            ]
            loss = torch.cat([p[0] for p in parts])
            grad_loss = torch.cat([p[1] for p in parts])
        offset = w - self.target.w_star
        # After the offset, three passes over (C, d) (a fused norm, then the gradient in place)
        # instead of five, and no further (C, d) allocations.
        squared_distance = torch.linalg.vector_norm(offset, dim=1).square()
        potential = self.nbeta * loss + 0.5 * self.localization * squared_distance
        grad = offset.mul_(self.localization).add_(grad_loss, alpha=self.nbeta)
        return Evaluation(loss=loss, grad_loss=grad_loss, potential=potential, grad=grad)
