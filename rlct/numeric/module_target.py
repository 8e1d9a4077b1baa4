"""Adapt any `torch.nn.Module` to the batched `Target` contract through `torch.func`.

The parameters of C chains are one flat (C, d) tensor; they are split into the module's
parameter shapes and evaluated with ``vmap(functional_call)`` over the chain axis, so every
chain runs in one batched computation (numpyro-style "vectorized" chains).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor
from torch.func import functional_call, vmap

from rlct.numeric.target import Target

ExampleLoss = Callable[[Tensor, Tensor], Tensor]


def flatten_parameters(module: torch.nn.Module) -> Tensor:
    """The module's parameters as one flat (d,) tensor (in `named_parameters` order)."""
    return torch.cat([p.detach().reshape(-1) for p in module.parameters()])


def module_target(
    module: torch.nn.Module,
    loss_fn: ExampleLoss,
    data: tuple[Tensor, Tensor],
    w_star: Tensor | None = None,
    name: str = "module",
) -> Target:
    """A `Target` whose loss is ``loss_fn(module(x), y)`` (a scalar mean over the batch).

    Args:
        module: any module; its buffers are shared by all chains.
        loss_fn: e.g. ``torch.nn.functional.mse_loss``; must reduce to a scalar.
        data: ``(x, y)`` with n rows each.
        w_star: flat (d,) point to localize at; default: the module's current parameters.
    """
    names = [n for n, _ in module.named_parameters()]
    shapes = [p.shape for _, p in module.named_parameters()]
    sizes = [p.numel() for _, p in module.named_parameters()]
    buffers = dict(module.named_buffers())
    if w_star is None:
        w_star = flatten_parameters(module)
    if w_star.shape != (sum(sizes),):
        raise ValueError(f"w_star: expected shape ({sum(sizes)},), got {tuple(w_star.shape)}")

    def one_chain(flat: Tensor, x: Tensor, y: Tensor) -> Tensor:
        params = {
            n: part.view(shape)
            for n, part, shape in zip(names, torch.split(flat, sizes), shapes)
        }
        return loss_fn(functional_call(module, {**params, **buffers}, (x,)), y)

    batched = vmap(one_chain)

    def loss(w: Tensor, batch: tuple[Tensor, ...]) -> Tensor:
        x, y = batch
        return batched(w, x, y)

    return Target(loss=loss, data=tuple(data), w_star=w_star.detach(), name=name)
