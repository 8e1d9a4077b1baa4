r"""Glue that runs devinterp 2.0.1 on a deep linear network (DLN) regression, faithfully.

devinterp's SGLD step (``devinterp/optim/sgmcmc.py``, ``SGMCMC.step`` with the
``SGMCMC.sgld`` factory: identity preconditioner, ``GaussianPrior(localization, center="initial")``)
is, with g the gradient of the *mean* minibatch loss,

.. math::
    w \leftarrow w - \tfrac{lr}{2}\big(n\beta\, g + \gamma (w - w_0)\big)
        + \sqrt{lr}\,\mathcal N(0, \sigma^2 I), \qquad \sigma = \text{noise\_level} = 1,

the same update as rlct's SGLD (`rlct.numeric.samplers.sgld`) with eps = lr, nbeta = n_beta,
gamma = localization and w* = w_0 (the model's parameters when sampling starts).

Two ways to drive devinterp are provided, and the benchmark reports both, separately:

* `run_devinterp_llc`: the public high-level API ``devinterp.slt.llc.llc`` (``sample`` +
  ``compute_llc``). It is language-model oriented: the data is a HuggingFace ``Dataset`` with an
  ``"input_ids"`` column and ``loss_fn(model, input_ids)`` must return a per-token loss shaped
  ``(batch, seq - 1)``; every step it also writes the per-token losses and the input ids of the
  minibatch to a zarr store. Two encodings of a regression example are supported:

  - ``"row"``: ``input_ids`` holds the float row [x, y] (H_0 + H_L numbers; the column is
    float32 and ``with_format("torch")`` keeps it float32, checked in `make_dataset`). devinterp
    checks that the loss is ``(batch, H_0 + H_L - 1)``, so the per-example loss is broadcast over
    that axis (its mean over the axis, which devinterp takes, is the per-example loss; the gradient
    is unchanged). devinterp's zarr record of the ids is int64, so the *record* truncates the
    floats; the computation never sees it.
  - ``"index"``: ``input_ids`` holds ``[i, i]`` for example i (int64); ``loss_fn`` gathers
    ``x[i], y[i]`` and returns the per-example loss as ``(batch, 1)``. Same loss and gradient,
    and the least LM-specific overhead (one float and two ints written to zarr per example).

* `run_sgmcmc_loop`: devinterp's SGLD optimizer alone (``SGMCMC.sgld``), the way its optimizer
  is meant to be used: one deep-copied model per chain, chains one after another, minibatches
  from a shuffling ``torch.utils.data.DataLoader``, ``loss.backward(); optimizer.step()``. No
  zarr, no observables: this isolates the cost of devinterp's per-chain SGLD itself.

Loss (same as ``cases/dln.py``): per example ||y - f(x)||^2 / (2 sigma^2) (sigma = noise_std,
1 by default, i.e. 1/2 ||y - f(x)||^2 summed over outputs), averaged over the minibatch.

The LLC is n beta (mean over kept draws of the minibatch loss - L(w*)), burn-in excluded, as in
`rlct.numeric.llc.estimate_llc`. (devinterp's own ``compute_llc`` averages over every step,
burn-in included; its value is returned too, as ``devinterp_llc_mean``.)
"""

from __future__ import annotations

import copy
import math
import shutil
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

ENCODINGS = ("index", "row")


@dataclass
class DevinterpRun:
    """What one devinterp run produced (the LLC as computed by the benchmark, see module doc)."""

    path: str
    llc_mean: float
    llc_stderr: float
    llc_per_chain: list[float]
    init_loss: float
    wall_time: float
    chains: int
    steps: int
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def chain_steps_per_second(self) -> float:
        return self.chains * self.steps / self.wall_time


def per_example_loss(model: torch.nn.Module, x: Tensor, y: Tensor, noise_std: float) -> Tensor:
    """||y - model(x)||^2 / (2 sigma^2) per example: (batch,)."""
    residual = y - model(x)
    return residual.square().sum(dim=1) / (2.0 * noise_std**2)


def make_dataset(x: Tensor, y: Tensor, encoding: str) -> Any:
    """The HF ``Dataset`` devinterp samples from, torch-formatted; checks the dtype survives."""
    from datasets import Dataset

    if encoding == "row":
        rows = torch.cat([x, y], dim=1).cpu().numpy().astype(np.float32)
        expected = torch.float32
    elif encoding == "index":
        idx = np.arange(x.shape[0], dtype=np.int64)
        rows = np.stack([idx, idx], axis=1)
        expected = torch.int64
    else:
        raise ValueError(f"encoding: expected one of {ENCODINGS}, got {encoding!r}")
    dataset = Dataset.from_dict({"input_ids": list(rows)}).with_format("torch")
    probe = dataset[:2]["input_ids"]
    if probe.dtype != expected or tuple(probe.shape) != (2, rows.shape[1]):
        raise RuntimeError(
            f"encoding: the 'input_ids' column came back as {probe.dtype} {tuple(probe.shape)},"
            f" expected {expected} (2, {rows.shape[1]})"
        )
    if encoding == "row" and not torch.equal(probe, torch.from_numpy(rows[:2])):
        raise RuntimeError("encoding: the float rows did not survive the Dataset round trip")
    return dataset


def make_loss_fn(x: Tensor, y: Tensor, encoding: str, noise_std: float) -> Any:
    """``loss_fn(model, input_ids) -> (batch, seq - 1)`` for devinterp (see module doc)."""
    h_in = x.shape[1]

    if encoding == "row":

        def loss_row(model: torch.nn.Module, input_ids: Tensor) -> Tensor:
            xb, yb = input_ids[:, :h_in], input_ids[:, h_in:]
            loss = per_example_loss(model, xb, yb, noise_std)
            return loss.unsqueeze(1).expand(-1, input_ids.shape[1] - 1)

        return loss_row

    def loss_index(model: torch.nn.Module, input_ids: Tensor) -> Tensor:
        idx = input_ids[:, 0]
        return per_example_loss(model, x[idx], y[idx], noise_std).unsqueeze(1)

    return loss_index


def _summarize(
    per_chain: np.ndarray, init_loss: float, wall: float, chains: int, steps: int, path: str,
    extra: dict[str, Any],
) -> DevinterpRun:
    finite = np.isfinite(per_chain)
    good = per_chain[finite]
    mean = float(good.mean()) if good.size else math.nan
    stderr = float(good.std(ddof=1) / math.sqrt(good.size)) if good.size > 1 else math.nan
    return DevinterpRun(
        path=path,
        llc_mean=mean,
        llc_stderr=stderr,
        llc_per_chain=[float(v) for v in per_chain],
        init_loss=init_loss,
        wall_time=wall,
        chains=chains,
        steps=steps,
        extra={**extra, "nonfinite_chains": int((~finite).sum())},
    )


def run_devinterp_llc(
    module: torch.nn.Module,
    x: Tensor,
    y: Tensor,
    *,
    lr: float,
    nbeta: float,
    localization: float,
    chains: int,
    steps: int,
    burnin: int,
    batch_size: int,
    noise_std: float = 1.0,
    seed: int = 0,
    encoding: str = "index",
) -> DevinterpRun:
    """devinterp's high-level ``llc`` on the DLN; wall time covers the whole call (dataset
    construction excluded; init loss, zarr writing and sampling included)."""
    from devinterp.slt.llc import llc

    dataset = make_dataset(x, y, encoding)
    loss_fn = make_loss_fn(x, y, encoding, noise_std)
    out_dir = Path(tempfile.mkdtemp(prefix="bench_devinterp_"))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            start = time.perf_counter()
            result = llc(
                module,
                dataset,
                {},
                lr=lr,
                n_beta=nbeta,
                loss_fn=loss_fn,
                num_chains=chains,
                num_draws=steps - burnin,
                num_burnin_steps=burnin,
                batch_size=batch_size,
                # init loss over one full epoch (drop_last), close to rlct's full-data L_n(w*)
                num_init_loss_batches=x.shape[0] // batch_size,
                init_seed=seed,
                localization=localization,
                device="cpu",
                output_path=out_dir / "samples.zarr",
            )
            trace = np.asarray(result["loss_trace"].values, dtype=np.float64)  # (chain, step)
            init_loss = float(result["init_loss"].values)
            wall = time.perf_counter() - start
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)
    per_chain = nbeta * (trace[:, burnin:].mean(axis=1) - init_loss)
    return _summarize(
        per_chain, init_loss, wall, chains, steps, f"devinterp.llc[{encoding}]",
        {"devinterp_llc_mean": float(result["llc_mean"].values), "encoding": encoding},
    )


def run_sgmcmc_loop(
    module: torch.nn.Module,
    x: Tensor,
    y: Tensor,
    *,
    lr: float,
    nbeta: float,
    localization: float,
    chains: int,
    steps: int,
    burnin: int,
    batch_size: int,
    noise_std: float = 1.0,
    seed: int = 0,
) -> DevinterpRun:
    """devinterp's ``SGMCMC.sgld`` optimizer, one deep-copied model per chain, chains in turn;
    wall time covers the full-data baseline loss and all chains."""
    from devinterp.optim import SGMCMC

    loader_generator = torch.Generator().manual_seed(seed)
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(x, y),
        batch_size=batch_size,
        shuffle=True,
        drop_last=True,
        generator=loader_generator,
    )
    start = time.perf_counter()
    with torch.no_grad():
        init_loss = float(per_example_loss(module, x, y, noise_std).mean())
    trace = torch.empty(chains, steps, dtype=torch.float64)
    for chain in range(chains):
        model = copy.deepcopy(module)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            optimizer = SGMCMC.sgld(
                model.parameters(), lr=lr, nbeta=nbeta, localization=localization
            )
        noise = torch.Generator().manual_seed(seed * 100_003 + chain)
        batches = iter(loader)
        for step in range(steps):
            try:
                xb, yb = next(batches)
            except StopIteration:
                batches = iter(loader)
                xb, yb = next(batches)
            loss = per_example_loss(model, xb, yb, noise_std).mean()
            loss.backward()
            optimizer.step(noise_generator=noise)
            optimizer.zero_grad(set_to_none=True)
            trace[chain, step] = loss.detach()
    wall = time.perf_counter() - start
    trace_np = trace.numpy()
    per_chain = nbeta * (trace_np[:, burnin:].mean(axis=1) - init_loss)
    return _summarize(per_chain, init_loss, wall, chains, steps, "devinterp SGMCMC.sgld loop", {})
