"""Small helpers shared by the defenses: tensor / array round trips, probability vectors,
seeded generators and argument checks that name the fix."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from mi_core.config import check_positive
from mi_core.errors import ConfigError


def as_float_tensor(outputs: Any, what: str = "outputs") -> tuple[torch.Tensor, Callable]:
    """``outputs`` (tensor or array) as a float tensor, and a function turning a tensor back
    into the caller's type (numpy stays numpy, torch stays torch with its dtype)."""
    if isinstance(outputs, torch.Tensor):
        dtype = outputs.dtype if outputs.is_floating_point() else torch.float32
        return outputs.detach().double(), lambda t: t.to(dtype)
    if isinstance(outputs, np.ndarray | list | tuple):
        arr = np.asarray(outputs)
        if not np.issubdtype(arr.dtype, np.number):
            raise ConfigError(
                f"{what}: expected numeric scores, got an array of {arr.dtype}; this defense "
                "processes score vectors"
            )
        dtype = arr.dtype if np.issubdtype(arr.dtype, np.floating) else np.float64
        return torch.from_numpy(arr.astype(np.float64)), lambda t: t.numpy().astype(dtype)
    raise ConfigError(
        f"{what}: expected a tensor or array of scores, got {type(outputs).__name__}; this "
        "defense processes score vectors"
    )


def check_scores_2d(t: torch.Tensor, name: str) -> None:
    if t.ndim != 2:
        raise ConfigError(
            f"{name}: expected released scores of shape (N, classes), got {tuple(t.shape)}"
        )


def renormalize(p: torch.Tensor) -> torch.Tensor:
    """Clip to non-negative and rescale rows to sum to one (uniform where a row is all zero)."""
    p = p.clamp_min(0)
    s = p.sum(dim=-1, keepdim=True)
    uniform = torch.full_like(p, 1.0 / p.shape[-1])
    return torch.where(s > 0, p / s.clamp_min(1e-300), uniform)


def keep_argmax(noisy: torch.Tensor, clean: torch.Tensor) -> torch.Tensor:
    """Swap entries so that each row of ``noisy`` keeps the top class of ``clean`` (the label
    released to users does not change)."""
    top = clean.argmax(dim=-1, keepdim=True)
    cur = noisy.argmax(dim=-1, keepdim=True)
    out = noisy.clone()
    v_top = out.gather(-1, top)
    v_cur = out.gather(-1, cur)
    out.scatter_(-1, cur, v_top)
    out.scatter_(-1, top, v_cur)
    return out


def check_epsilon(name: str, value: float | None) -> None:
    """A privacy budget must be a positive number."""
    if value is not None and not value > 0:
        raise ConfigError(
            f"{name}: a privacy budget epsilon must be > 0, got {value!r}; smaller epsilon means "
            "more noise (e.g. 0.5, 1, 8)"
        )


def check_probability(name: str, value: float, *, open_low: bool = False) -> None:
    lo_ok = value > 0 if open_low else value >= 0
    if not (lo_ok and value <= 1):
        raise ConfigError(f"{name}: must lie in {'(0' if open_low else '[0'}, 1], got {value!r}")


def torch_generator(seed: int) -> torch.Generator:
    check_positive("seed", seed, allow_zero=True)
    return torch.Generator().manual_seed(int(seed))
