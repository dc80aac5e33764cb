"""Safe I/O: atomic writes, JSON with numpy/torch values, safe checkpoints.

Nothing here unpickles: tensors go through safetensors, and torch checkpoints written by others
are read with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import dataclasses
import enum
import importlib.util
import json
import os
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeGuard

import numpy as np

from mi_core.errors import ConfigError

if TYPE_CHECKING:
    import torch

PathLike = str | os.PathLike[str]


def is_tensor(obj: Any) -> TypeGuard[torch.Tensor]:
    """``isinstance(obj, torch.Tensor)`` without importing torch: an object can only be a tensor
    once torch was imported by whoever made it (mi-core runs without torch installed)."""
    mod = sys.modules.get("torch")
    return mod is not None and isinstance(obj, mod.Tensor)


def torch_installed() -> bool:
    """Whether torch can be imported (an optional dependency: ``mi-core[torch]``)."""
    if sys.modules.get("torch") is not None:
        return True
    try:
        return importlib.util.find_spec("torch") is not None
    except (ImportError, ValueError):  # blocked, or a broken install
        return False


def atomic_write_bytes(path: PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` so that readers see the old file or the new one, never half.

    The file gets the mode an ordinary ``open`` would give it (``0o666`` less the umask, so
    0644 under the usual umask 022), not the private 0600 of a temporary file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        if hasattr(os, "fchmod"):
            os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: PathLike, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def _umask() -> int:
    """The process's umask, read without changing it where the OS allows (Linux ``/proc``), else
    by the set-and-restore idiom."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def to_jsonable(obj: Any) -> Any:
    """Convert dataclasses, enums, numpy and torch scalars/arrays, paths to JSON values."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, enum.Enum):
        return obj.value
    if isinstance(obj, Mapping):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | set | frozenset):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if is_tensor(obj):
        return obj.detach().cpu().tolist()
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, float) and (obj != obj or obj in (float("inf"), float("-inf"))):
        return None
    if obj is None or isinstance(obj, bool | int | float | str):
        return obj
    return repr(obj)


def atomic_write_json(path: PathLike, obj: Any) -> Path:
    return atomic_write_text(path, json.dumps(to_jsonable(obj), indent=2, sort_keys=False) + "\n")


def read_json(path: PathLike) -> Any:
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def save_tensors(path: PathLike, tensors: Mapping[str, torch.Tensor | np.ndarray]) -> Path:
    """Save named tensors (torch or numpy) with safetensors, atomically. Without a torch tensor
    among them the numpy writer is used (same file format; torch need not be installed)."""
    if any(is_tensor(v) for v in tensors.values()):
        import torch
        from safetensors.torch import save

        clean: dict[str, torch.Tensor] = {}
        for k, v in tensors.items():
            t = v if isinstance(v, torch.Tensor) else torch.as_tensor(np.asarray(v))
            clean[k] = t.detach().cpu().contiguous()
        return atomic_write_bytes(path, save(clean))
    from safetensors.numpy import save as save_numpy

    arrays = {k: np.ascontiguousarray(np.asarray(v)) for k, v in tensors.items()}
    return atomic_write_bytes(path, save_numpy(arrays))


def load_tensors(path: PathLike) -> dict[str, Any]:
    """Named tensors of a safetensors file: torch tensors when torch is installed, else numpy
    arrays."""
    if torch_installed():
        from safetensors.torch import load_file

        return dict(load_file(str(path)))
    from safetensors.numpy import load_file as load_numpy

    return dict(load_numpy(str(path)))


def save_state_dict(path: PathLike, state: Mapping[str, torch.Tensor]) -> Path:
    """Save a module's state dict as safetensors (atomic). Shared storage is copied apart."""
    return save_tensors(path, {k: v.clone() for k, v in state.items()})


def load_state_dict(path: PathLike) -> dict[str, torch.Tensor]:
    """Load a state dict from ``.safetensors`` or, for files written elsewhere, a torch file
    read with ``weights_only=True`` (no arbitrary unpickling)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"checkpoint: {path} does not exist")
    if path.suffix == ".safetensors":
        return load_tensors(path)
    import torch

    obj = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(obj, Mapping) and "state_dict" in obj and isinstance(obj["state_dict"], Mapping):
        obj = obj["state_dict"]
    if not isinstance(obj, Mapping):
        raise ConfigError(f"checkpoint: {path} holds a {type(obj).__name__}, not a state dict")
    return dict(obj)
