"""Loading a user's objects named in an audit file: ``"package.module:attribute"`` import paths
and safe checkpoints. Generic cases (a user's own model) build their targets with these."""

from __future__ import annotations

import importlib
from typing import Any

from torch import nn

from mi_core.errors import ConfigError
from mi_core.io import load_state_dict


def load_object(path: str, field: str = "model") -> Any:
    """The attribute named by ``"package.module:attribute"`` (dots after the colon walk into it)."""
    if not isinstance(path, str) or ":" not in path:
        raise ConfigError(
            f"{field}: expected an import path 'package.module:attribute', got {path!r}"
        )
    module_name, attr = path.split(":", 1)
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(
            f"{field}: cannot import {module_name!r} ({exc}); is it installed or on PYTHONPATH?"
        ) from exc
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ConfigError(f"{field}: {module_name!r} has no attribute {attr!r}")
        obj = getattr(obj, part)
    return obj


def build_module(
    path: str,
    checkpoint: str | None = None,
    kwargs: dict[str, Any] | None = None,
    field: str = "model",
) -> nn.Module:
    """Build an ``nn.Module`` from an import path (a class or factory, called with ``kwargs``),
    then load ``checkpoint`` (safetensors, or a torch file read with ``weights_only=True``)."""
    obj = load_object(path, field)
    module = obj(**(kwargs or {})) if callable(obj) and not isinstance(obj, nn.Module) else obj
    if not isinstance(module, nn.Module):
        raise ConfigError(f"{field}: {path!r} gave a {type(module).__name__}, not an nn.Module")
    if checkpoint is not None:
        state = load_state_dict(checkpoint)
        try:
            module.load_state_dict(state)
        except RuntimeError as exc:
            raise ConfigError(f"checkpoint: {checkpoint} does not fit {path!r}: {exc}") from exc
    return module.eval()
