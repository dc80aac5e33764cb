"""A resumable loop: checkpoint every N steps, resume after a kill, show progress.

Every long-running routine in the toolbox (latent optimisation, GAN / inverter training) runs its
steps through :class:`ResumableLoop` instead of owning checkpoint logic::

    z = torch.randn(8, 100, requires_grad=True)
    opt = torch.optim.Adam([z], lr=0.01)
    loop = ResumableLoop(1000, state={"z": TensorState(z=z), "opt": opt},
                         checkpoint="run/ckpt.pt", every=50, desc="inverting")
    for step in loop:
        ...  # one optimisation step
        if converged:
            loop.finish()
            break

A rerun with the same checkpoint path restores every stateful object and continues from the last
saved step; a finished loop yields nothing. Checkpoints are written atomically and read with
``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from tqdm.auto import tqdm

from mi_core.errors import ConfigError
from mi_core.io import PathLike, atomic_write_bytes, is_tensor, to_jsonable

if TYPE_CHECKING:
    import torch


class Stateful(Protocol):
    def state_dict(self) -> Mapping[str, Any]: ...

    def load_state_dict(self, state: Mapping[str, Any], /) -> Any: ...


class TensorState:
    """Named tensors (and plain scalars) made stateful; loading copies values in place."""

    def __init__(self, **values: Any) -> None:
        self.values: dict[str, Any] = dict(values)

    def __getitem__(self, name: str) -> Any:
        return self.values[name]

    def __setitem__(self, name: str, value: Any) -> None:
        self.values[name] = value

    def state_dict(self) -> dict[str, Any]:
        return {k: (v.detach().clone() if is_tensor(v) else v) for k, v in self.values.items()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        for k, v in state.items():
            cur = self.values.get(k)
            if is_tensor(cur) and is_tensor(v):
                import torch

                with torch.no_grad():
                    if cur.shape != v.shape:
                        raise ConfigError(
                            f"checkpoint: tensor {k!r} has shape {tuple(v.shape)}, the run "
                            f"expects {tuple(cur.shape)}; delete the checkpoint or fix the config"
                        )
                    cur.copy_(v)
            else:
                self.values[k] = v


class GeneratorState:
    """A torch.Generator made stateful."""

    def __init__(self, generator: torch.Generator) -> None:
        self.generator = generator

    def state_dict(self) -> dict[str, Any]:
        return {"state": self.generator.get_state()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.generator.set_state(state["state"])


def save_checkpoint(path: PathLike, obj: Any) -> Path:
    """``torch.save`` to bytes, then an atomic write."""
    import torch

    buf = io.BytesIO()
    torch.save(obj, buf)
    return atomic_write_bytes(path, buf.getvalue())


def load_checkpoint(path: PathLike) -> Any:
    """Read a checkpoint with ``weights_only=True``: tensors, numbers, strings, containers."""
    import torch

    return torch.load(Path(path), map_location="cpu", weights_only=True)


def _as_stateful(obj: Any, name: str) -> Stateful:
    mod = sys.modules.get("torch")
    if mod is not None and isinstance(obj, mod.Generator):
        return GeneratorState(obj)
    if is_tensor(obj):
        return TensorState(**{name: obj})
    if hasattr(obj, "state_dict") and hasattr(obj, "load_state_dict"):
        return obj
    raise ConfigError(
        f"state[{name!r}]: {type(obj).__name__} has no state_dict()/load_state_dict(); wrap "
        "tensors in TensorState"
    )


class ResumableLoop:
    """Iterate ``range(total)`` with checkpoints every ``every`` steps and a progress bar.

    Args:
        total: number of steps.
        state: named stateful objects (modules, optimizers, schedulers, tensors, generators).
        checkpoint: file to save to / resume from; ``None`` disables checkpointing.
        every: save every ``every`` completed steps (and at the end).
        meta: JSON-able description of the run (e.g. its config); a checkpoint written for other
            meta is refused instead of silently mixing two runs.
        desc: progress-bar label; ``progress=False`` hides the bar.
    """

    def __init__(
        self,
        total: int,
        *,
        state: Mapping[str, Any] | None = None,
        checkpoint: PathLike | None = None,
        every: int = 100,
        meta: Any = None,
        desc: str | None = None,
        progress: bool = True,
    ) -> None:
        if not isinstance(total, int) or total < 0:
            raise ConfigError(f"total: must be a non-negative integer, got {total!r}")
        if not isinstance(every, int) or every < 1:
            raise ConfigError(f"every: must be a positive integer, got {every!r}")
        self.total = total
        self.every = every
        self.checkpoint = Path(checkpoint) if checkpoint is not None else None
        self.meta = to_jsonable(meta)
        self.desc = desc
        self.progress = progress
        self.state = {k: _as_stateful(v, k) for k, v in (state or {}).items()}
        self.step = 0
        self.done = False
        self.extra: dict[str, Any] = {}
        self.resumed = False
        if self.checkpoint is not None and self.checkpoint.exists():
            self._restore()

    def _restore(self) -> None:
        assert self.checkpoint is not None
        ck = load_checkpoint(self.checkpoint)
        if ck.get("meta") != self.meta:
            raise ConfigError(
                f"checkpoint: {self.checkpoint} was written by a run with another config; "
                "delete it to start afresh, or resume with the same config"
            )
        missing = set(self.state) - set(ck["state"])
        if missing:
            raise ConfigError(f"checkpoint: {self.checkpoint} lacks state for {sorted(missing)}")
        for k, obj in self.state.items():
            obj.load_state_dict(ck["state"][k])
        self.step = int(ck["step"])
        self.done = bool(ck["done"])
        self.extra = dict(ck.get("extra", {}))
        self.resumed = True

    def save(self) -> None:
        """Write a checkpoint now (no-op without a checkpoint path)."""
        if self.checkpoint is None:
            return
        save_checkpoint(
            self.checkpoint,
            {
                "meta": self.meta,
                "step": self.step,
                "done": self.done,
                "extra": self.extra,
                "state": {k: v.state_dict() for k, v in self.state.items()},
            },
        )

    def finish(self) -> None:
        """Mark the loop finished (e.g. early stopping) and save."""
        self.done = True
        self.save()

    def __iter__(self) -> Iterator[int]:
        if self.done:
            return
        bar = tqdm(
            total=self.total,
            initial=self.step,
            desc=self.desc,
            disable=not self.progress,
            leave=False,
            dynamic_ncols=True,
        )
        try:
            while self.step < self.total:
                step = self.step
                yield step
                if self.done:  # finish() was called inside the body
                    return
                self.step = step + 1
                bar.update(1)
                if self.step % self.every == 0 and self.step < self.total:
                    self.save()
            self.done = True
            self.save()
        finally:
            bar.close()
