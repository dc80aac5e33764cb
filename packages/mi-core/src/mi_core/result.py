"""Attack results: what an attack returns, saved to and loaded from a directory.

Layout of a saved result::

    result.json          metadata, config, scores, metrics (JSON)
    tensors.safetensors  reconstructions and any other arrays
    reconstructions.png  an image grid, for image results
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mi_core.errors import ConfigError
from mi_core.io import (
    PathLike,
    atomic_write_json,
    is_tensor,
    load_tensors,
    read_json,
    save_tensors,
    to_jsonable,
)

RESULT_FORMAT = 1


@dataclass
class AttackResult:
    """The output of one attack run.

    Attributes:
        attack: registry name of the attack.
        modality: ``image``, ``text``, ``graph`` or ``tabular``.
        access: access level the attack ran with.
        reconstructions: the recovered data: an image tensor ``(N, C, H, W)`` in [0, 1], a list
            of strings, an edge-score matrix, an array of inferred attribute values ...
        targets: what each reconstruction aims at (class ids, record ids, node pairs).
        scores: the attack's own per-item confidence (e.g. target-class probability, perplexity).
        queries: items queried through the target view.
        seconds: wall time of the run.
        seed: the seed the run used.
        config: the attack's configuration (JSON-able).
        arrays: further named arrays worth keeping (saved with safetensors).
        info: further JSON-able facts (iterations used, stopping reasons ...).
        metrics: figures filled in by an evaluator, each ``{"value", "baseline", ...}``.
    """

    attack: str
    modality: str
    access: str
    reconstructions: Any
    targets: Any = None
    scores: Any = None
    queries: int = 0
    seconds: float = 0.0
    seed: int | None = None
    config: dict[str, Any] = field(default_factory=dict)
    arrays: dict[str, Any] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    created: str = field(default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))

    def to_cpu(self) -> AttackResult:
        """Move every tensor of the result (reconstructions, targets, scores, arrays) to the CPU,
        in place; returns the result. Attacks on a GPU return CPU results through this."""
        from mi_core.device import to_cpu

        for name in ("reconstructions", "targets", "scores"):
            if is_tensor(getattr(self, name)) or isinstance(getattr(self, name), list | tuple):
                setattr(self, name, to_cpu(getattr(self, name)))
        self.arrays = {k: to_cpu(v) for k, v in self.arrays.items()}
        return self

    def save(self, directory: PathLike) -> Path:
        """Write the result to ``directory`` (created); every file is written atomically."""
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        tensors: dict[str, Any] = {}
        meta: dict[str, Any] = {
            "format": RESULT_FORMAT,
            "attack": self.attack,
            "modality": self.modality,
            "access": self.access,
            "queries": self.queries,
            "seconds": self.seconds,
            "seed": self.seed,
            "config": to_jsonable(self.config),
            "info": to_jsonable(self.info),
            "metrics": to_jsonable(self.metrics),
            "created": self.created,
            "fields": {},
        }
        for name in ("reconstructions", "targets", "scores"):
            value = getattr(self, name)
            if is_tensor(value) or isinstance(value, np.ndarray):
                tensors[name] = value
                meta["fields"][name] = "tensor"
            else:
                meta["fields"][name] = "json"
                meta[name] = to_jsonable(value)
        for name, value in self.arrays.items():
            tensors[f"arrays.{name}"] = value
        if tensors:
            save_tensors(d / "tensors.safetensors", tensors)
        atomic_write_json(d / "result.json", meta)
        if self.modality == "image" and is_tensor(self.reconstructions):
            from mi_core.report.images import save_grid

            save_grid(self.reconstructions, d / "reconstructions.png")
        return d

    @classmethod
    def load(cls, directory: PathLike) -> AttackResult:
        d = Path(directory)
        meta_path = d / "result.json"
        if not meta_path.exists():
            raise FileNotFoundError(f"result: {meta_path} does not exist (not a saved result)")
        meta = read_json(meta_path)
        if meta.get("format") != RESULT_FORMAT:
            raise ConfigError(
                f"result: {meta_path} has format {meta.get('format')!r}; this version reads "
                f"format {RESULT_FORMAT}"
            )
        tensors = (
            load_tensors(d / "tensors.safetensors") if (d / "tensors.safetensors").exists() else {}
        )
        values: dict[str, Any] = {}
        for name, kind in meta["fields"].items():
            values[name] = tensors[name] if kind == "tensor" else meta.get(name)
        arrays = {k[len("arrays.") :]: v for k, v in tensors.items() if k.startswith("arrays.")}
        return cls(
            attack=meta["attack"],
            modality=meta["modality"],
            access=meta["access"],
            queries=meta["queries"],
            seconds=meta["seconds"],
            seed=meta["seed"],
            config=meta["config"],
            info=meta["info"],
            metrics=meta["metrics"],
            created=meta["created"],
            arrays=arrays,
            **values,
        )

    def summary(self) -> dict[str, Any]:
        """A short JSON-able summary (no arrays)."""
        return {
            "attack": self.attack,
            "modality": self.modality,
            "access": self.access,
            "queries": self.queries,
            "seconds": round(self.seconds, 3),
            "seed": self.seed,
            "metrics": to_jsonable(self.metrics),
        }
