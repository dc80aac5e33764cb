"""Seeding and device choice: the same seed gives the same numbers on the CPU."""

from __future__ import annotations

import os
import random

import numpy as np
import torch

from mi_core.errors import ConfigError


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, numpy and torch; return a torch generator seeded the same way."""
    if not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"seed: must be a non-negative integer, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    os.environ.setdefault("PYTHONHASHSEED", str(seed))
    return torch.Generator().manual_seed(seed)


def rng(seed: int) -> np.random.Generator:
    """A numpy generator for ``seed`` (prefer passing generators to global state)."""
    return np.random.default_rng(seed)


def get_device(device: str | torch.device | None = None) -> torch.device:
    """``None`` / ``"auto"`` picks CUDA when present, else the CPU; otherwise validates."""
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ConfigError(
            f"device: {device!r} is not a device; use 'cpu', 'cuda' or 'auto'"
        ) from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device: 'cuda' was asked for but no CUDA device is present; use 'cpu'")
    return dev
