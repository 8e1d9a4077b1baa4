"""Device and dtype resolution: the only place that branches on the device."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch

DEVICES = ("auto", "cpu", "cuda")
DTYPES = {"float32": torch.float32, "float64": torch.float64}


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` picks CUDA when present, else the CPU."""
    if isinstance(device, torch.device):
        return device
    if not isinstance(device, str) or device.split(":")[0] not in DEVICES:
        raise ValueError(f"device: expected one of {DEVICES}, got {device!r}")
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError("device: 'cuda' was requested but CUDA is not available here")
    return torch.device(device)


def resolve_dtype(dtype: str | torch.dtype) -> torch.dtype:
    if isinstance(dtype, torch.dtype):
        if dtype not in DTYPES.values():
            raise ValueError(f"dtype: expected float32 or float64, got {dtype}")
        return dtype
    if dtype not in DTYPES:
        raise ValueError(f"dtype: expected one of {tuple(DTYPES)}, got {dtype!r}")
    return DTYPES[dtype]


SINGLE_THREAD_MAX_ELEMENTS = 100_000  # chains x d at or below which the CPU samples on one thread


@contextmanager
def cpu_threads_for(device: torch.device, elements: int) -> Iterator[int]:
    """Run the block on one torch thread when it works on the CPU with at most
    `SINGLE_THREAD_MAX_ELEMENTS` state elements (chains x d), restoring the thread count after.

    Why (measured on 2 cores, DLN d = 200, 8 chains x 5000 SGLD steps, batch 100): 5.1 s on one
    thread; on two threads 65-107 s while another process kept the cores busy, because the
    OpenMP workers of each tiny kernel spin waiting for a core. Larger problems keep the
    thread count they were given. Yields the thread count in force."""
    previous = torch.get_num_threads()
    if device.type != "cpu" or elements > SINGLE_THREAD_MAX_ELEMENTS or previous == 1:
        yield previous
        return
    torch.set_num_threads(1)
    try:
        yield 1
    finally:
        torch.set_num_threads(previous)
