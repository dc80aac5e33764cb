"""BiDO: bilateral dependency optimisation.

Peng, Liu, Zhang, Lan, Ye, Liu, Han, "Bilateral dependency optimization: defending against
model-inversion attacks", KDD 2022 (survey [26], Eq. 14):

    L_BiDO = CE(Y_hat, Y) + lambda_x sum_i d(X, Z_i) - lambda_y sum_i d(Z_i, Y)

over latent representations ``Z_i`` of chosen layers, with ``d`` the (normalised) HSIC or
COCO (:mod:`mi_defense.training.dependence`); the paper finds HSIC defends better. ``Y`` is the
one-hot label. Layers are named by their dotted module paths; by default the outputs of every
top-level child except the last (the classifier head) and except parameter-free ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

from mi_core import device as devices
from mi_core.config import check_choice, check_positive
from mi_core.errors import ConfigError
from mi_defense.training._common import Capture, ClassifierTrainingDefense
from mi_defense.training.dependence import dependence


@dataclass
class BiDOConfig:
    """Attributes:
    lambda_x: weight of d(X, Z_i) (minimised) [lambda_x].
    lambda_y: weight of d(Z_i, Y) (maximised) [lambda_y].
    measure: ``hsic`` or ``coco``.
    layers: dotted paths of the modules whose outputs are the Z_i (default: see module doc).
    device: where to train: ``auto`` (CUDA when present, else the CPU), ``cpu``, ``cuda`` or
        ``cuda:N``; the module is moved there and stays there.
    """

    lambda_x: float = 0.05
    lambda_y: float = 0.5
    measure: Literal["hsic", "coco"] = "hsic"
    layers: tuple[str, ...] = ()
    device: str = "auto"

    def __post_init__(self) -> None:
        devices.check_device(self.device)
        check_positive("lambda_x", self.lambda_x, allow_zero=True)
        check_positive("lambda_y", self.lambda_y, allow_zero=True)
        check_choice("measure", self.measure, ("hsic", "coco"))


def default_layers(module: nn.Module) -> list[str]:
    """Top-level children with parameters, except the last one (the head)."""
    names = [n for n, m in module.named_children() if any(True for _ in m.parameters())]
    if len(names) < 2:
        raise ConfigError(
            f"layers: {type(module).__name__} has fewer than two parametrised children, so no "
            "hidden layer to regularise; name the layers with layers=('block1', ...)"
        )
    return names[:-1]


class BiDO(ClassifierTrainingDefense):
    """Minimise d(X, Z) and maximise d(Z, Y) over hidden layers (Peng et al. 2022)."""

    name = "bido"
    paper = "Peng et al., KDD 2022 (survey [26], Eq. 14)"
    summary = "CE + lambda_x d(X, Z) - lambda_y d(Z, Y), d = HSIC or COCO"
    Config = BiDOConfig

    def wrap(self, module: nn.Module, optimizer: Any, data_loader: Any) -> tuple[Any, Any, Any]:
        """Register hooks capturing the latent representations (``remove()`` drops them)."""
        layers = list(self.config.layers) or default_layers(module)
        self.capture = Capture(module, layers)
        self.num_classes: int | None = None
        return module, optimizer, data_loader

    def loss(self, outputs: torch.Tensor, targets: torch.Tensor, inputs: Any = None) -> Any:
        if inputs is None:
            raise ConfigError("bido: the loss needs the batch inputs: defense.loss(out, y, x)")
        cfg = self.config
        ce = F.cross_entropy(outputs, targets)
        if outputs.shape[0] < 3:
            return ce
        y = F.one_hot(targets, outputs.shape[-1]).float()
        reg = torch.zeros((), device=outputs.device)
        for z in self.capture.outputs.values():
            reg = reg + cfg.lambda_x * dependence(cfg.measure, inputs, z)
            reg = reg - cfg.lambda_y * dependence(cfg.measure, z, y, b_is_labels=True)
        return ce + reg

    def remove(self) -> None:
        if getattr(self, "capture", None) is not None:
            self.capture.remove()

    def after_fit(self, module: nn.Module) -> None:
        self.remove()
