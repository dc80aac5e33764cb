"""Config helpers: build a config dataclass from a mapping (e.g. TOML) with errors that name the
field, the allowed values and what was given; small validators for ``__post_init__``."""

from __future__ import annotations

import dataclasses
import inspect
import re
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
    if origin is list or tp is list:
        if not isinstance(value, list):
            return False, value
        args = typing.get_args(tp)
        if not args:
            return True, value
        items = []
        for v in value:
            ok, cv = _type_ok(v, args[0])
            if not ok:
                return False, value
            items.append(cv)
        return True, items
    if origin is dict or tp is dict:
        if not isinstance(value, dict):
            return False, value
        args = typing.get_args(tp)
        if args and not all(_type_ok(k, args[0])[0] for k in value):
            return False, value
        return True, value
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
    if data is not None and not isinstance(data, Mapping):
        raise ConfigError(
            f"{where}: expected a table of fields, got {data!r} ({type(data).__name__})"
        )
    merged: dict[str, Any] = dict(data or {})
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
    missing = [n for n, f in fields.items() if n not in kwargs and _required(f)]
    if missing:
        raise ConfigError(
            f"{where}.{missing[0]}: required ({_type_name(hints.get(missing[0], Any))}): "
            + (field_docs(cls).get(missing[0]) or "see the documentation of its fields")
        )
    try:
        return cls(**kwargs)
    except ConfigError as exc:
        msg = str(exc)
        raise ConfigError(msg if msg.startswith(where) else f"{where}.{msg}") from None


def _required(f: dataclasses.Field[Any]) -> bool:
    return f.init and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING


def _type_name(tp: Any) -> str:
    if typing.get_origin(tp) is typing.Literal:
        return " | ".join(map(repr, typing.get_args(tp)))
    if typing.get_origin(tp) in (typing.Union, types.UnionType) or typing.get_args(tp):
        return str(tp).replace("typing.", "").replace("NoneType", "None")
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


# ------------------------------------------------------------------------------------------------
# documentation of config fields, generated from the dataclasses (``mi run ATTACK --help-config``,
# ``mi list cases --options CASE``)

#: help of fields many configs share, used when a config's docstring does not document them
COMMON_HELP = {
    "progress": "show progress bars",
    "checkpoint": "file to checkpoint the run to and resume from (None: no checkpoint)",
    "checkpoint_every": "steps between checkpoints",
    "device": "where to compute: 'auto' (CUDA when present, else the CPU; a white-box target's "
    "own device), 'cpu', 'cuda' or 'cuda:N'; results come back on the CPU",
    "precision": "'fp32' (default), or mixed precision 'bf16' / 'fp16' (torch.autocast) for the "
    "forward passes of the search / training",
}

_ENTRY = re.compile(r"^(?P<names>\w+(?:\s*[,/]\s*\w+)*)(?:\s*\([^)]*\))?\s*:\s*(?P<text>.*)$")


def field_docs(cls: type) -> dict[str, str]:
    """Per-field help from the ``Attributes:`` section of the docstrings of ``cls`` and its
    bases (Google style; ``a, b: text`` documents both), falling back on :data:`COMMON_HELP`.

    This is the one scheme the toolbox documents config fields with: each config dataclass
    lists its fields under ``Attributes:`` in its docstring."""
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        doc = inspect.getdoc(klass) or ""
        if klass is object or "Attributes:" not in doc:
            continue
        section = doc.split("Attributes:", 1)[1].splitlines()
        names: list[str] = []
        indent = None
        for line in section:
            if not line.strip():
                continue
            lead = len(line) - len(line.lstrip())
            if indent is None:
                indent = lead
            if lead < indent:  # the section ended (a new section or text at a lower level)
                break
            m = _ENTRY.match(line.strip()) if lead == indent else None
            if m:
                names = [n for n in re.split(r"\s*[,/]\s*", m.group("names")) if n]
                for n in names:
                    docs[n] = m.group("text").strip()
            elif lead > indent and names:
                for n in names:
                    docs[n] = (docs[n] + " " + line.strip()).strip()
            else:
                break
    out = dict(COMMON_HELP)
    out.update({k: re.sub(r"``([^`]+)``", r"`\1`", v) for k, v in docs.items()})
    return out


def describe_fields(cls: type) -> list[dict[str, Any]]:
    """Every field of the config dataclass ``cls``: name, type, default (or required) and
    help, in declaration order."""
    docs = field_docs(cls)
    hints = typing.get_type_hints(cls)
    rows = []
    for f in dataclasses.fields(cls):
        if not f.init:
            continue
        if f.default is not dataclasses.MISSING:
            default = repr(f.default)
        elif f.default_factory is not dataclasses.MISSING:
            default = repr(f.default_factory())
        else:
            default = "required"
        rows.append(
            {
                "name": f.name,
                "type": _type_name(hints.get(f.name, Any)),
                "default": default,
                "help": docs.get(f.name, ""),
            }
        )
    return rows


def format_fields(cls: type, width: int = 100) -> str:
    """:func:`describe_fields` as text: one block per field (name, type, default, help)."""
    import textwrap

    out = []
    for row in describe_fields(cls):
        out.append(f"  {row['name']}  ({row['type']}; default {row['default']})")
        text = row["help"] or "(undocumented)"
        out.extend(
            textwrap.wrap(text, width - 6, initial_indent="      ", subsequent_indent="      ")
        )
    return "\n".join(out)


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
