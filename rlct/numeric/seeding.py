"""Seeds: every random stream derives from one `numpy.random.SeedSequence`."""

from __future__ import annotations

import numpy as np
import torch


def seed_sequence(seed: int, *keys: int) -> np.random.SeedSequence:
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed: expected a non-negative integer, got {seed!r}")
    return np.random.SeedSequence([seed, *keys])


def numpy_generator(seed: int, *keys: int) -> np.random.Generator:
    """A numpy Generator for stream ``keys`` of root ``seed``."""
    return np.random.default_rng(seed_sequence(seed, *keys))


def torch_generator(seed: int, *keys: int, device: str | torch.device = "cpu") -> torch.Generator:
    """A torch Generator for stream ``keys`` of root ``seed`` (64-bit state from the sequence)."""
    words = seed_sequence(seed, *keys).generate_state(2, dtype=np.uint32)
    generator = torch.Generator(device=device)
    generator.manual_seed((int(words[0]) << 32 | int(words[1])) & ((1 << 63) - 1))
    return generator
