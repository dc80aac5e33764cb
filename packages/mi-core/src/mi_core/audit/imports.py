"""Loading a user's objects named in an audit file: ``"package.module:attribute"`` import paths
and safe checkpoints. Generic cases (a user's own model) build their targets with these."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mi_core.errors import ConfigError
from mi_core.io import load_state_dict

if TYPE_CHECKING:
    from torch import nn


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
    from torch import nn

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


def check_options(
    options: dict[str, Any], case: str, required: tuple[str, ...], optional: tuple[str, ...]
) -> None:
    """Check an audit target's ``[targets.options]`` table: every required field is there and
    no unknown one; errors name ``targets.options.<field>`` and list the allowed fields."""
    allowed = set(required) | set(optional)
    for key in options:
        if key not in allowed:
            raise ConfigError(
                f"targets.options.{key}: unknown field for case {case!r}; allowed fields: "
                f"{', '.join(sorted(allowed))}"
            )
    for key in required:
        if options.get(key) is None:
            raise ConfigError(f"targets.options.{key}: required by case {case!r}")


def option_path(
    options: dict[str, Any], key: str, suffixes: tuple[str, ...] = (), *, directory: bool = False
) -> Path | None:
    """The existing file (or, with ``directory``, folder) named by option ``key`` (None when
    unset); errors name ``targets.options.<key>`` and the path."""
    value = options.get(key)
    if value is None:
        return None
    if not isinstance(value, str | Path):
        raise ConfigError(f"targets.options.{key}: expected a path string, got {value!r}")
    path = Path(value).expanduser()
    if not path.exists():
        raise ConfigError(f"targets.options.{key}: {path} does not exist")
    if path.is_dir():
        if not directory:
            raise ConfigError(f"targets.options.{key}: {path} is a folder; expected a file")
        return path
    if suffixes and path.suffix.lower() not in suffixes:
        raise ConfigError(f"targets.options.{key}: {path} should be a {' or '.join(suffixes)} file")
    return path
