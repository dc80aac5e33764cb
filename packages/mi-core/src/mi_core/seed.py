"""Seeding: the same seed gives the same numbers on the CPU (devices: :mod:`mi_core.device`).

torch is optional (``mi-core[torch]``): it is seeded whenever it is installed, so that code
importing it later in the run draws the same numbers, and it is imported only for that.
"""

from __future__ import annotations

import os
import random
from typing import TYPE_CHECKING

import numpy as np

from mi_core.device import get_device
from mi_core.errors import ConfigError
from mi_core.io import torch_installed

if TYPE_CHECKING:
    import torch


def seed_everything(seed: int) -> torch.Generator | None:
    """Seed Python, numpy and (when installed) torch; return a torch generator seeded the same
    way, or None without torch."""
    if not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"seed: must be a non-negative integer, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    os.environ.setdefault("PYTHONHASHSEED", str(seed))
    if not torch_installed():
        return None
    import torch

    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def rng(seed: int) -> np.random.Generator:
    """A numpy generator for ``seed`` (prefer passing generators to global state)."""
    return np.random.default_rng(seed)


__all__ = ["get_device", "rng", "seed_everything"]
