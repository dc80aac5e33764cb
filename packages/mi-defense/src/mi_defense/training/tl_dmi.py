"""TL-DMI: transfer learning as an MI defense, with the layers to fine-tune chosen by Fisher
information.

Ho, Hao, Chandrasegaran, Nguyen, Cheung, "Model inversion robustness: can transfer learning
help?", CVPR 2024 (survey [130], Sec. VI-B 2). The Fisher information of each layer shows that
the first layers matter most to MI attacks and the last ones to the private task; so the model is
pre-trained on public data and only its last layers are fine-tuned on the private data, the
first ones staying frozen at their public values.

Layers are the modules holding parameters, input side first. ``freeze`` fixes how many leading
layers stay frozen; otherwise the Fisher information decides: per layer, the trace of the
empirical Fisher information of the private task (mean over private samples of the squared
gradient of ``log p(y | x)``) at the public model; layers are fine-tuned from the last one
backwards until they hold ``fisher_share`` of the total, and the rest are frozen (our rule for
the paper's analysis, which reads the same ranking).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from mi_core import device as devices
from mi_core.config import check_positive, check_range
from mi_core.errors import ConfigError
from mi_defense.training._common import (
    ClassifierTrainingDefense,
    PlainTraining,
    cpu_batches,
    param_layers,
    rebuild_optimizer,
)


@dataclass
class TLDMIConfig:
    """Attributes:
    freeze: leading layers kept frozen (None: chosen by Fisher information).
    fisher_share: share of the private task's Fisher information the fine-tuned layers hold.
    fisher_samples: private samples the Fisher information is estimated on.
    pretrain_epochs: epochs of pre-training on public data in ``fit`` (when given public data).
    device: where to train: ``auto`` (CUDA when present, else the CPU), ``cpu``, ``cuda`` or
        ``cuda:N``; the module is moved there and stays there.
    """

    freeze: int | None = None
    fisher_share: float = 0.5
    fisher_samples: int = 128
    pretrain_epochs: int = 30
    device: str = "auto"

    def __post_init__(self) -> None:
        devices.check_device(self.device)
        if self.freeze is not None:
            check_positive("freeze", self.freeze, allow_zero=True)
        check_range("fisher_share", self.fisher_share, 0.0, 1.0)
        check_positive("fisher_samples", self.fisher_samples)
        check_positive("pretrain_epochs", self.pretrain_epochs)


def fisher_information(
    module: nn.Module, x: torch.Tensor, y: torch.Tensor, max_samples: int = 128
) -> list[tuple[str, float]]:
    """Per layer (modules holding parameters), the trace of the empirical Fisher information
    ``E ||d log p(y | x) / d theta_layer||^2`` over up to ``max_samples`` samples."""
    layers = param_layers(module)
    n = min(int(x.shape[0]), max_samples)
    if n == 0:
        raise ConfigError("x: the Fisher information needs at least one private sample")
    was_training = module.training
    module.eval()
    dev = devices.module_device(module) or x.device
    totals = [0.0 for _ in layers]
    for i in range(n):
        module.zero_grad(set_to_none=True)
        logp = F.log_softmax(module(x[i : i + 1].to(dev)), dim=-1)[0, int(y[i])]
        logp.backward()
        for j, (_, layer) in enumerate(layers):
            totals[j] += sum(
                float(p.grad.pow(2).sum())
                for p in layer.parameters(recurse=False)
                if p.grad is not None
            )
    module.zero_grad(set_to_none=True)
    module.train(was_training)
    return [(name or type(layer).__name__, t / n) for (name, layer), t in zip(layers, totals)]


def layers_to_freeze(fisher: list[tuple[str, float]], share: float) -> int:
    """Leading layers to freeze so that the fine-tuned tail holds ``share`` of the Fisher
    information (at least the last layer is fine-tuned)."""
    total = sum(v for _, v in fisher)
    if total <= 0:
        return 0
    acc = 0.0
    for k in range(len(fisher) - 1, -1, -1):
        acc += fisher[k][1]
        if acc >= share * total:
            return k
    return 0


class TLDMI(ClassifierTrainingDefense):
    """Pre-train on public data, fine-tune only the last layers on private data (Ho et al. 2024)."""

    name = "tl-dmi"
    modalities = ("image", "tabular", "text")
    paper = "Ho et al., CVPR 2024 (survey [130])"
    summary = "freeze the first layers (Fisher-information choice), fine-tune the rest"
    Config = TLDMIConfig

    def __init__(self, config: Any = None, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        self.fisher: list[tuple[str, float]] | None = None
        self.frozen: list[str] = []

    def choose(self, module: nn.Module, x: torch.Tensor, y: torch.Tensor) -> int:
        """How many leading layers to freeze: ``freeze`` or the Fisher-information rule."""
        if self.config.freeze is not None:
            return int(self.config.freeze)
        self.fisher = fisher_information(module, x, y, self.config.fisher_samples)
        return layers_to_freeze(self.fisher, self.config.fisher_share)

    def wrap(self, module: nn.Module, optimizer: Any, data_loader: Any) -> tuple[Any, Any, Any]:
        """Freeze the leading layers (chosen on the loader's first samples) and rebuild the
        optimizer over the rest."""
        layers = param_layers(module)
        if self.config.freeze is None:
            xs, ys = [], []
            for xb, yb in cpu_batches(data_loader):
                xs.append(xb)
                ys.append(yb)
                if sum(len(b) for b in xs) >= self.config.fisher_samples:
                    break
            k = self.choose(module, torch.cat(xs), torch.cat(ys))
        else:
            k = int(self.config.freeze)
        if k >= len(layers):
            raise ConfigError(
                f"tl-dmi.config.freeze: {k} leading layers of {len(layers)} would leave nothing "
                f"to fine-tune; choose freeze < {len(layers)}"
            )
        self.frozen = [name for name, _ in layers[:k]]
        for _, layer in layers[:k]:
            for p in layer.parameters(recurse=False):
                p.requires_grad_(False)
            layer.eval()  # frozen BatchNorm statistics stay the public ones
        self._frozen_modules = [layer for _, layer in layers[:k]]
        params = [p for p in module.parameters() if p.requires_grad]
        optimizer = rebuild_optimizer(optimizer, params) if optimizer else None
        return module, optimizer, data_loader

    def start_epoch(self, epoch: int, epochs: int) -> None:
        for layer in getattr(self, "_frozen_modules", []):
            layer.eval()

    def fit(
        self,
        module: nn.Module,
        x: Any,
        y: Any,
        *,
        x_public: Any = None,
        y_public: Any = None,
        **kwargs: Any,
    ) -> nn.Module:
        """Pre-train on ``(x_public, y_public)`` when given (all layers, plain cross-entropy),
        then fine-tune the chosen last layers on the private ``(x, y)``."""
        if (x_public is None) != (y_public is None):
            raise ConfigError("x_public / y_public: give both (public pre-training) or neither")
        if x_public is not None:
            PlainTraining(device=self.config.device).fit(
                module, x_public, y_public, **{**kwargs, "epochs": self.config.pretrain_epochs}
            )
        return super().fit(module, x, y, **kwargs)

    def after_fit(self, module: nn.Module) -> None:
        for p in module.parameters():
            p.requires_grad_(True)
