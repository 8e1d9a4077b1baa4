"""The target contract shared by every case and every sampler.

A `Target` is an empirical loss L_n(w) evaluated for C chains at once:

    loss(w, batch) -> (C,)     w: (C, d) flat parameters, batch: tuple of (C, b, ...) tensors

Each chain sees its own minibatch (a leading chain axis on the data), so chains stay independent.
The full-data loss L_n is the same function on the whole data set broadcast over chains.
Models written as `torch.nn.Module` are adapted by `rlct.numeric.module_target`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

BatchedLoss = Callable[[Tensor, tuple[Tensor, ...]], Tensor]


@dataclass(frozen=True)
class Target:
    """A batched empirical loss with its data and the point w* to localize at.

    Attributes:
        loss: ``loss(w, batch) -> (C,)``: mean loss of each chain's parameters ``w[c]`` on
            that chain's minibatch ``tuple(t[c] for t in batch)``.
        data: the n training examples, a tuple of tensors each shaped ``(n, ...)``.
        w_star: the point w* (shape ``(d,)``) at which the local learning coefficient is wanted.
        name: a label for reports.
        full_data_loss: optional ``(C, d) -> (C,)`` computing L_n(w) exactly without a pass over
            the data (e.g. from sufficient statistics); used for the baseline and full-batch
            samplers (MALA) when present. Must agree with ``loss`` on the full data set.
        multilinear: optional `rlct.numeric.gibbs.MultilinearGaussian`: the hook by which a
            case whose L_n is a Gaussian likelihood of a product of matrices (its sufficient
            statistics, layer shapes and w*) opts in to the exact Gibbs sampler
            (``sampler="gibbs"``). Must describe the same L_n and w*.
    """

    loss: BatchedLoss
    data: tuple[Tensor, ...]
    w_star: Tensor
    name: str = "target"
    full_data_loss: Callable[[Tensor], Tensor] | None = None
    multilinear: Any = None

    def __post_init__(self) -> None:
        if self.w_star.ndim != 1:
            raise ValueError(f"w_star: expected a flat (d,) tensor, got shape {tuple(self.w_star.shape)}")
        if not self.data:
            raise ValueError("data: expected at least one tensor")
        n = self.data[0].shape[0]
        for i, t in enumerate(self.data):
            if t.shape[0] != n:
                raise ValueError(f"data[{i}]: expected {n} rows like data[0], got {t.shape[0]}")

    def to(self, device: torch.device | str, dtype: torch.dtype | None = None) -> Target:
        """The same target with data and w* on ``device`` (floating tensors cast to ``dtype``)."""

        def move(t: Tensor) -> Tensor:
            cast = dtype if dtype is not None and t.is_floating_point() else t.dtype
            return t.to(device=device, dtype=cast)

        return Target(
            loss=self.loss,
            data=tuple(move(t) for t in self.data),
            w_star=move(self.w_star),
            name=self.name,
            full_data_loss=self.full_data_loss,
            multilinear=None if self.multilinear is None else self.multilinear.to(device),  # stays float64
        )

    @property
    def n(self) -> int:
        return int(self.data[0].shape[0])

    @property
    def dim(self) -> int:
        return int(self.w_star.numel())

    def full_batch(self, chains: int) -> tuple[Tensor, ...]:
        """The whole data set broadcast over ``chains`` (a view, no copy)."""
        return tuple(t.unsqueeze(0).expand(chains, *t.shape) for t in self.data)

    def minibatch(self, chains: int, batch_size: int, generator: torch.Generator) -> tuple[Tensor, ...]:
        """An independent uniform minibatch (with replacement) for each chain: (C, b, ...)."""
        idx = torch.randint(
            0, self.n, (chains, batch_size), generator=generator, device=generator.device
        ).to(self.data[0].device)
        # index_select on the flat indices: the same rows as t[idx], but a serial kernel (advanced
        # indexing opens a parallel region, which stalls when the cores are shared) and faster.
        flat = idx.reshape(-1)
        return tuple(
            torch.index_select(t, 0, flat).view(chains, batch_size, *t.shape[1:]) for t in self.data
        )

    def full_loss(self, w: Tensor, chunk: int = 65536) -> Tensor:
        """L_n(w) for w shaped (C, d) on the whole data set (differentiable when
        ``full_data_loss`` is given, else evaluated without gradient in row chunks)."""
        if self.full_data_loss is not None:
            return self.full_data_loss(w)
        with torch.no_grad():
            return self._chunked_loss(w, chunk)

    def full_loss_and_grad(self, w: Tensor, chunk: int = 65536) -> tuple[Tensor, Tensor]:
        """L_n(w) (C,) and its gradient (C, d), accumulated over row chunks."""
        with torch.enable_grad():
            w = w.detach().requires_grad_(True)
            if self.full_data_loss is not None:
                loss = self.full_data_loss(w)
                (grad,) = torch.autograd.grad(loss.sum(), w)
                return loss.detach(), grad
            loss_total = torch.zeros(w.shape[0], dtype=w.dtype, device=w.device)
            grad_total = torch.zeros_like(w)
            for start in range(0, self.n, chunk):
                part = tuple(t[start : start + chunk] for t in self.data)
                rows = part[0].shape[0]
                batch = tuple(p.unsqueeze(0).expand(w.shape[0], *p.shape) for p in part)
                loss = self.loss(w, batch) * (rows / self.n)
                (grad,) = torch.autograd.grad(loss.sum(), w)
                loss_total += loss.detach()
                grad_total += grad
            return loss_total, grad_total

    def _chunked_loss(self, w: Tensor, chunk: int) -> Tensor:
        total = torch.zeros(w.shape[0], dtype=w.dtype, device=w.device)
        for start in range(0, self.n, chunk):
            part = tuple(t[start : start + chunk] for t in self.data)
            rows = part[0].shape[0]
            batch = tuple(p.unsqueeze(0).expand(w.shape[0], *p.shape) for p in part)
            total += self.loss(w, batch) * rows
        return total / self.n
