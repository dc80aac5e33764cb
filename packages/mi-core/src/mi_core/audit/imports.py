"""Loading a user's objects named in an audit file: ``"package.module:attribute"`` import paths,
safe checkpoints, data files and Hugging Face datasets. Generic cases (a user's own model) build
their targets with these, when the audit file is read.

An import path runs code: importing a module executes it, and the attribute is then called (a
class or a factory). Audit files are therefore code, to be read only from people whose code you
would run. What is checked before anything is called: the path has the form
``package.module:attribute``, the module is not part of Python's standard library (so
``"subprocess:run"`` or ``"os:system"`` are refused) and the attribute is a class or a Python
function (or, where a fitted object is expected, that object), never a builtin or another callable.
"""

from __future__ import annotations

import importlib
import inspect
import re
import stat
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mi_core.errors import ConfigError

_DOTTED = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


def load_object(path: str, field: str = "model") -> Any:
    """The attribute named by ``"package.module:attribute"`` (dots after the colon walk into it).

    Refused before importing: a value that is not such a path, and modules of Python's standard
    library (an audit file names your code, not ``subprocess:run``)."""
    if not isinstance(path, str) or path.count(":") != 1:
        raise ConfigError(
            f"{field}: expected an import path 'package.module:attribute', got {path!r}"
        )
    module_name, attr = path.split(":", 1)
    if not _DOTTED.match(module_name) or not _DOTTED.match(attr):
        raise ConfigError(
            f"{field}: {path!r} is not an import path 'package.module:attribute' (dotted Python "
            "names on both sides of the colon)"
        )
    top = module_name.split(".")[0]
    if top in sys.stdlib_module_names or top in ("builtins", "__main__"):
        raise ConfigError(
            f"{field}: {path!r} names Python's standard library, not your model; name your "
            "own module ('mypkg.models:build'). Audit files are code: their import paths run"
        )
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(
            f"{field}: cannot import {module_name!r} ({exc}); is it installed, on PYTHONPATH or "
            "beside the audit file?"
        ) from None
    except Exception as exc:  # the module itself raised (a syntax error, a failing import ...)
        raise ConfigError(
            f"{field}: importing {module_name!r} failed: {type(exc).__name__}: {exc}"
        ) from None
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ConfigError(f"{field}: {module_name!r} has no attribute {attr!r}")
        obj = getattr(obj, part)
    return obj


def is_factory(obj: Any) -> bool:
    """A class or a Python function / method: what an import path may name to be called."""
    return inspect.isclass(obj) or inspect.isfunction(obj) or inspect.ismethod(obj)


def call_factory(
    obj: Any, path: str, kwargs: Mapping[str, Any] | None, field: str, what: str
) -> Any:
    """Call the class or function ``obj`` (named by ``path``) with ``kwargs``; errors name
    ``field`` (the call) or ``field``_kwargs (the arguments)."""
    if not is_factory(obj):
        raise ConfigError(
            f"{field}: {path!r} is a {type(obj).__name__}, not {what} (a class, or a function "
            "returning one)"
        )
    try:
        return obj(**dict(kwargs or {}))
    except TypeError as exc:
        raise ConfigError(f"{field}_kwargs: calling {path!r} failed: {exc}") from None
    except ConfigError:
        raise
    except Exception as exc:
        raise ConfigError(
            f"{field}: calling {path!r} failed: {type(exc).__name__}: {exc}"
        ) from None


def load_checkpoint_into(module: Any, checkpoint: str | Path, path: str, field: str) -> None:
    """Load the state dict in ``checkpoint`` into ``module``, comparing names and shapes first;
    errors name ``field`` and what does not fit."""
    from mi_core.io import load_state_dict

    try:
        state = load_state_dict(checkpoint)
    except ConfigError as exc:
        raise ConfigError(f"{field}: {str(exc).removeprefix('checkpoint: ')}") from None
    except Exception as exc:
        raise ConfigError(
            f"{field}: cannot read {checkpoint} as safetensors or a torch state dict "
            f"(weights_only=True): {type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
        ) from None
    own = module.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shapes = [
        f"{k}: checkpoint {tuple(state[k].shape)} vs model {tuple(own[k].shape)}"
        for k in own
        if k in state
        and hasattr(state[k], "shape")
        and tuple(state[k].shape) != tuple(own[k].shape)
    ]
    problems = []
    if missing:
        problems.append(f"missing {missing[:3]}" + (" ..." if len(missing) > 3 else ""))
    if unexpected:
        problems.append(f"unexpected {unexpected[:3]}" + (" ..." if len(unexpected) > 3 else ""))
    if shapes:
        problems.append("shape " + "; ".join(shapes[:3]) + (" ..." if len(shapes) > 3 else ""))
    if problems:
        raise ConfigError(
            f"{field}: {checkpoint} does not fit {path!r}: {', '.join(problems)} (check the "
            "model's arguments, e.g. model_kwargs)"
        )
    try:
        module.load_state_dict(state)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0]
        raise ConfigError(f"{field}: {checkpoint} does not fit {path!r}: {first}") from None


def build_module(
    path: str,
    checkpoint: str | None = None,
    kwargs: dict[str, Any] | None = None,
    field: str = "model",
    checkpoint_field: str | None = None,
) -> Any:
    """Build an ``nn.Module`` from an import path (an ``nn.Module`` class or a function, called
    with ``kwargs``; or a module instance), then load ``checkpoint`` (safetensors, or a torch
    file read with ``weights_only=True``) after comparing its names and shapes with the
    model's."""
    from torch import nn

    obj = load_object(path, field)
    if isinstance(obj, nn.Module):
        module = obj
    else:
        if inspect.isclass(obj) and not issubclass(obj, nn.Module):
            raise ConfigError(f"{field}: {path!r} is a class but not an nn.Module")
        module = call_factory(obj, path, kwargs, field, "an nn.Module")
    if not isinstance(module, nn.Module):
        raise ConfigError(f"{field}: {path!r} gave a {type(module).__name__}, not an nn.Module")
    if checkpoint is not None:
        head, _, last = field.rpartition(".")
        sibling = last.replace("model", "checkpoint") if "model" in last else "checkpoint"
        where = checkpoint_field or (f"{head}.{sibling}" if head else sibling)
        load_checkpoint_into(module, checkpoint, path, where)
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


def regular_file(path: str | Path, where: str) -> Path:
    """``path`` if it is an existing regular file; a folder, a named pipe, a socket or a device
    is refused without being opened (a pipe would block the audit)."""
    p = Path(path).expanduser()
    try:
        st = p.stat()
    except FileNotFoundError:
        raise ConfigError(f"{where}: {p} does not exist") from None
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read {p} ({exc.strerror or exc})") from None
    if stat.S_ISDIR(st.st_mode):
        raise ConfigError(f"{where}: {p} is a folder; expected a file")
    if not stat.S_ISREG(st.st_mode):
        raise ConfigError(
            f"{where}: {p} is not a regular file (a named pipe, socket or device); give a file"
        )
    return p


def option_path(
    options: dict[str, Any], key: str, suffixes: tuple[str, ...] = (), *, directory: bool = False
) -> Path | None:
    """The existing regular file (or, with ``directory``, folder) named by option ``key`` (None
    when unset); errors name ``targets.options.<key>`` and the path."""
    value = options.get(key)
    if value is None:
        return None
    where = f"targets.options.{key}"
    if not isinstance(value, str | Path):
        raise ConfigError(f"{where}: expected a path string, got {value!r}")
    path = Path(value).expanduser()
    if path.is_dir():
        if not directory:
            raise ConfigError(f"{where}: {path} is a folder; expected a file")
        return path
    regular_file(path, where)
    if suffixes and path.suffix.lower() not in suffixes:
        raise ConfigError(f"{where}: {path} should be a {' or '.join(suffixes)} file")
    return path


# ------------------------------------------------------------------------------------------------
# Hugging Face datasets

#: keys of a dataset option table besides the modality's column names
DATASET_KEYS = ("dataset", "split", "name")


def is_dataset_option(value: Any) -> bool:
    """An option given as a table ``{dataset = "...", ...}``: a Hugging Face dataset."""
    return isinstance(value, Mapping) and "dataset" in value


def load_dataset_option(
    value: Any, where: str, columns: Mapping[str, str | None]
) -> tuple[Any, dict[str, str]]:
    """A Hugging Face ``datasets.Dataset`` named by an option table::

        private = {dataset = "faces-private/", split = "train", image = "image", label = "label"}

    ``dataset`` is a folder written by ``save_to_disk`` (a ``Dataset`` or a ``DatasetDict``, of
    which ``split`` is taken) or a hub name (``datasets.load_dataset(dataset, name, split=split)``,
    downloading once into the Hugging Face cache). ``columns`` maps each column role the case
    reads (``image``, ``label``, ``text`` ...) to its default name; the table may rename them.
    Returns the dataset and the resolved column names; errors name ``where``."""
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}: expected a table {{dataset = ...}}, got {value!r}")
    allowed = set(DATASET_KEYS) | set(columns)
    for key in value:
        if key not in allowed:
            raise ConfigError(
                f"{where}.{key}: unknown field; allowed fields: {', '.join(sorted(allowed))}"
            )
    for key, v in value.items():
        if not isinstance(v, str) or not v:
            raise ConfigError(f"{where}.{key}: a non-empty string, got {v!r}")
    try:
        import datasets
    except ImportError:
        raise ConfigError(
            f"{where}: Hugging Face datasets need the 'datasets' package (pip install datasets)"
        ) from None
    name = value["dataset"]
    split = value.get("split")
    local = Path(name).expanduser()
    try:
        if local.exists():
            if not local.is_dir():
                raise ConfigError(
                    f"{where}.dataset: {local} is a file; give a folder written by save_to_disk"
                )
            ds = datasets.load_from_disk(str(local))
        else:
            ds = datasets.load_dataset(name, value.get("name"), split=split)
    except ConfigError:
        raise
    except Exception as exc:
        raise ConfigError(
            f"{where}.dataset: cannot load {name!r} ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0][:200] if str(exc) else ''}); give a save_to_disk "
            "folder or a hub name"
        ) from None
    if isinstance(ds, datasets.DatasetDict):
        if split is None:
            if len(ds) != 1:
                raise ConfigError(
                    f"{where}.split: {name!r} holds splits {sorted(ds)}; name one (split = ...)"
                )
            split = next(iter(ds))
        if split not in ds:
            raise ConfigError(
                f"{where}.split: {name!r} has no split {split!r}; it has {sorted(ds)}"
            )
        ds = ds[split]
    resolved: dict[str, str] = {}
    for role, default in columns.items():
        col = value.get(role, default)
        if col is None:
            continue
        if col not in ds.column_names:
            raise ConfigError(
                f"{where}.{role}: the dataset has no column {col!r}; its columns are "
                f"{ds.column_names}"
            )
        resolved[role] = col
    if len(ds) == 0:
        raise ConfigError(f"{where}: the dataset {name!r} is empty")
    return ds, resolved
