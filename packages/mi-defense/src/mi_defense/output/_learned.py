"""Output defenses that are trained before they are used (adversarial noise against an inversion
model, the purifiers): ``fit`` on the defender's own model and data, ``save`` / load through the
``weights`` config field (so an audit file can name a fitted defense), then ``wrap``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from mi_core.errors import NotApplicable
from mi_core.io import atomic_write_json, load_state_dict, read_json, save_state_dict
from mi_core.views import BlackBoxView, TargetView
from mi_defense.output._base import ScoreDefense


class LearnedScoreDefense(ScoreDefense):
    """Base of output defenses holding trained networks (``self.nets``) built from ``meta``."""

    modalities = ("image",)

    def __init__(self, config: Any = None, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        self.nets: dict[str, nn.Module] = {}
        self.meta: dict[str, Any] = {}
        weights = getattr(self.config, "weights", None)
        if weights:
            self.load(weights)

    @property
    def fitted(self) -> bool:
        return bool(self.nets)

    def build(self, meta: dict[str, Any]) -> dict[str, nn.Module]:
        """The networks for ``meta`` (shapes), untrained."""
        raise NotImplementedError

    def wrap(self, view: TargetView) -> BlackBoxView:
        if not self.fitted:
            raise NotApplicable(
                f"defense {self.name!r} is trained before use: call .fit(model, x_defender) "
                f"and .save(dir), then give config weights='dir'"
            )
        return super().wrap(view)

    def save(self, directory: str | Path) -> Path:
        """Write the trained networks (safetensors) and their shapes (JSON)."""
        d = Path(directory)
        for key, net in self.nets.items():
            save_state_dict(d / f"{key}.safetensors", net.state_dict())
        atomic_write_json(d / "meta.json", {"defense": self.name, **self.meta})
        return d

    def load(self, directory: str | Path) -> None:
        d = Path(directory)
        meta_path = d / "meta.json"
        if not meta_path.exists():
            from mi_core.errors import ConfigError

            raise ConfigError(
                f"{self.name}.config.weights: {d} holds no meta.json; write it with "
                f"defense.fit(...) then defense.save('{d}')"
            )
        meta = read_json(meta_path)
        meta.pop("defense", None)
        self.meta = meta
        self.nets = self.build(meta)
        for key, net in self.nets.items():
            net.load_state_dict(load_state_dict(d / f"{key}.safetensors"))
            net.eval()

    @staticmethod
    def _freeze(net: nn.Module) -> nn.Module:
        for p in net.parameters():
            p.requires_grad_(False)
        return net.eval()


def as_images(x: Any) -> torch.Tensor:
    return torch.as_tensor(x).float()
