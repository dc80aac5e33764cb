"""Config helpers: build a config dataclass from a mapping (e.g. TOML) with errors that name the
field, the allowed values and what was given; small validators for ``__post_init__``."""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from mi_core.errors import ConfigError

C = TypeVar("C")


def _type_ok(value: Any, tp: Any) -> tuple[bool, Any]:
    """Check (and gently coerce: int -> float, list -> tuple) a value against an annotation."""
    origin = typing.get_origin(tp)
    if tp is Any:
        return True, value
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(tp):
            ok, v = _type_ok(value, arg)
            if ok:
                return True, v
        return False, value
    if origin is typing.Literal:
        return value in typing.get_args(tp), value
    if tp is type(None):
        return value is None, value
    if tp is float:
        if isinstance(value, bool):
            return False, value
        if isinstance(value, int | float):
            return True, float(value)
        return False, value
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool), value
    if tp is bool:
        return isinstance(value, bool), value
    if tp is str:
        return isinstance(value, str), value
    if origin is tuple or tp is tuple:
        if not isinstance(value, list | tuple):
            return False, value
        args = typing.get_args(tp)
        if not args:
            return True, tuple(value)
        if len(args) == 2 and args[1] is Ellipsis:
            out = []
            for v in value:
                ok, cv = _type_ok(v, args[0])
                if not ok:
                    return False, value
                out.append(cv)
            return True, tuple(out)
        if len(args) != len(value):
            return False, value
        out = []
        for v, a in zip(value, args, strict=True):
            ok, cv = _type_ok(v, a)
            if not ok:
                return False, value
            out.append(cv)
        return True, tuple(out)
    if origin in (list, dict) or tp in (list, dict):
        return isinstance(value, origin or tp), value
    return True, value  # unknown annotation: leave it to __post_init__


def build_config(
    cls: type[C], data: Mapping[str, Any] | C | None = None, where: str = "config", **overrides: Any
) -> C:
    """Instantiate the dataclass ``cls`` from ``data`` plus keyword overrides.

    Unknown fields and wrong types raise :class:`ConfigError` naming ``where.field``.
    """
    if isinstance(data, cls):
        if not overrides:
            return data
        data = {f.name: getattr(data, f.name) for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    merged: dict[str, Any] = dict(data or {})  # type: ignore[arg-type]
    merged.update(overrides)
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    hints = typing.get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    for key, value in merged.items():
        if key not in fields:
            allowed = ", ".join(sorted(fields))
            raise ConfigError(f"{where}.{key}: unknown field; allowed fields: {allowed}")
        ok, coerced = _type_ok(value, hints.get(key, Any))
        if not ok and typing.get_origin(hints[key]) is typing.Literal:
            allowed = ", ".join(map(repr, typing.get_args(hints[key])))
            raise ConfigError(f"{where}.{key}: unknown value {value!r}; allowed values: {allowed}")
        if not ok:
            raise ConfigError(
                f"{where}.{key}: expected {_type_name(hints[key])}, got {value!r} "
                f"({type(value).__name__})"
            )
        kwargs[key] = coerced
    try:
        return cls(**kwargs)
    except ConfigError as exc:
        msg = str(exc)
        raise ConfigError(msg if msg.startswith(where) else f"{where}.{msg}") from None


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def check_positive(name: str, value: float | int, *, allow_zero: bool = False) -> None:
    if allow_zero:
        if not value >= 0:
            raise ConfigError(f"{name}: must be >= 0, got {value!r}")
    elif not value > 0:
        raise ConfigError(f"{name}: must be > 0, got {value!r}")


def check_range(name: str, value: float, low: float, high: float) -> None:
    if not low <= value <= high:
        raise ConfigError(f"{name}: must lie in [{low}, {high}], got {value!r}")


def check_choice(name: str, value: Any, allowed: Iterable[Any]) -> None:
    allowed = list(allowed)
    if value not in allowed:
        raise ConfigError(
            f"{name}: unknown value {value!r}; allowed values: {', '.join(map(repr, allowed))}"
        )


def config_to_dict(config: Any) -> dict[str, Any]:
    from mi_core.io import to_jsonable

    if config is None:
        return {}
    out: dict[str, Any] = to_jsonable(config)
    return out
