"""Will a job fit in memory? Estimate the bytes first, refuse clearly instead of crashing.

A job allocates its data and w* (the case's `build`), then per step a few (chains, d) tensors
(positions, gradients, noise, proposals), the loss trace, and each chain's minibatch. The counts
below are upper estimates of the (chains, d) tensors alive at once in one step of each sampler
(read off `rlct.numeric.samplers` and `rlct.numeric.potential`); a job whose estimate exceeds what
the device has free gets a `MemoryBudgetError` (a `ValueError`: exit code 2 and one line on the
command line, an error row in a sweep) naming the size and what to lower, before anything large
is allocated.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import torch

from rlct.numeric.settings import SamplerSettings

# (chains, d) tensors alive at once during one step (upper estimates):
#   sgld:  w, grad L, grad U, noise, new w (+ autograd's copy)                           6
#   psgld: sgld's + the RMSProp moment V and the preconditioner G                        8
#   mala:  w, proposal, noise, grad L and grad U at both points, torch.where results    12
#   gibbs: the layers, the products of the layers above and below, one layer's draw      6
WORKING_COPIES = {"sgld": 6, "psgld": 8, "mala": 12, "hmc": 12, "gibbs": 6}
CONTROL_VARIATE_COPIES = 4  # [w; w*] stacked and its gradient: two (2C, d) tensors
SAFETY = 1.25  # allocator slack and the model's own intermediates
ENV_LIMIT = "RLCT_MEMORY_LIMIT"  # bytes: cap what this process may plan to use (tests, shared hosts)


class MemoryBudgetError(ValueError):
    """A job needs more memory than the device has free."""


@dataclass(frozen=True)
class Footprint:
    """What a case's data costs before sampling: ``dim`` parameters, ``n`` rows of
    ``row_elements`` floating-point numbers each, and ``build_elements`` more numbers allocated
    while building (w*, sufficient statistics, float64 temporaries counted twice)."""

    dim: int
    n: int
    row_elements: int
    build_elements: int = 0

    def data_bytes(self, itemsize: int) -> int:
        return itemsize * (self.dim + self.n * self.row_elements + self.build_elements)


def format_bytes(count: float) -> str:
    for unit, size in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if count >= size:
            return f"{count / size:.1f} {unit}"
    return f"{int(count)} B"


def _cgroup_free() -> int | None:
    """Bytes left under this process's cgroup (v2, then v1) memory limit, if it has one."""
    for limit_file, usage_file in (
        ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
        ("/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes"),
    ):
        try:
            limit_text = Path(limit_file).read_text().strip()
            usage = int(Path(usage_file).read_text().strip())
        except (OSError, ValueError):
            continue
        if limit_text == "max" or int(limit_text) >= 1 << 60:
            return None
        return max(0, int(limit_text) - usage)
    return None


def _host_free() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def available_bytes(device: torch.device | str) -> int | None:
    """Free memory of ``device`` now: CUDA's free device memory, or on the CPU the smaller of
    the host's available memory and the cgroup's remaining limit; capped by the environment
    variable ``RLCT_MEMORY_LIMIT`` (bytes) when set. None if it cannot be read."""
    device = torch.device(device)
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        found: list[int] = [int(free)]
    else:
        found = [b for b in (_host_free(), _cgroup_free()) if b is not None]
    override = os.environ.get(ENV_LIMIT)
    if override:
        try:
            found.append(int(float(override)))
        except ValueError:
            raise ValueError(f"{ENV_LIMIT}: expected a number of bytes, got {override!r}") from None
    return min(found) if found else None


def sampler_bytes(
    settings: SamplerSettings,
    *,
    dim: int,
    n: int,
    row_elements: int,
    itemsize: int,
    full_data_loss: bool,
) -> int:
    """Bytes one estimate allocates beyond the data: working copies of the (chains, d) state,
    the loss trace (on the device and as float64 on the host) and the minibatches (or, for a
    full-batch sampler without sufficient statistics, the model's (chains, n, ...) outputs)."""
    chains = settings.chains
    full_batch = settings.full_batch
    copies = WORKING_COPIES[settings.sampler]
    if settings.control_variate and not full_batch:
        copies += CONTROL_VARIATE_COPIES
    state = copies * chains * dim * itemsize
    trace = chains * settings.steps * (itemsize + 2 * 8)
    if full_batch:
        rows = 0 if full_data_loss else min(n, 65536) * chains * row_elements * 2
    else:
        assert settings.batch_size is not None
        rows = chains * settings.batch_size * row_elements * (2 if settings.control_variate else 1) * 2
    return state + trace + rows * itemsize


def advice(what: str, dtype: torch.dtype) -> str:
    """``what``, then float32 if the job is in float64, then another device."""
    half = ", use float32 instead of float64" if dtype == torch.float64 else ""
    return f"{what}{half}, or use a device with more memory"


def check_fits(required: int, device: torch.device | str, *, what: str, lower: str) -> None:
    """Raise `MemoryBudgetError` if ``required`` bytes (times a safety margin) exceed what
    ``device`` has free. ``what`` describes the job, ``lower`` what the user can change."""
    free = available_bytes(device)
    if free is None:
        return
    needed = math.ceil(required * SAFETY)
    if needed > free:
        raise MemoryBudgetError(
            f"memory: {what} needs about {format_bytes(needed)} on {torch.device(device)} but "
            f"{format_bytes(free)} is free; lower {lower}"
        )


def check_job_fits(
    footprint: Footprint, settings: SamplerSettings, device: torch.device | str, dtype: torch.dtype
) -> None:
    """Before building a case: its data plus one estimate at ``settings`` must fit."""
    itemsize = torch.empty((), dtype=dtype).element_size()
    total = footprint.data_bytes(itemsize) + sampler_bytes(
        settings,
        dim=footprint.dim,
        n=footprint.n,
        row_elements=footprint.row_elements,
        itemsize=itemsize,
        full_data_loss=True,
    )
    check_fits(
        total,
        device,
        what=(
            f"a model with d = {footprint.dim:,} parameters and n = {footprint.n:,} rows of data "
            f"({settings.chains} chains, {str(dtype).removeprefix('torch.')})"
        ),
        lower=advice("the model size (d), n, chains", dtype),
    )
