"""Negative label smoothing (survey Eq. 15-16).

Struppek, Hintersdorf, Kersting, "Be careful what you smooth for: label smoothing can be a privacy
shield but also a catalyst for model inversion attacks", ICLR 2024 (survey [126]):

    y_LS = (1 - alpha) y + alpha / C                                          (Eq. 15)
    L_LS = (1 - alpha) CE(y_hat, y) + alpha / C * sum_k CE(y_hat, e_k)         (Eq. 16)

Positive alpha (ordinary smoothing) makes models more vulnerable to MI; negative alpha makes them
more robust at small utility cost. Following the paper, the smoothing factor may be ramped from 0
to ``alpha`` over the first ``warmup`` fraction of the epochs (training with a strongly negative
factor from the start is unstable).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from mi_core import device as devices
from mi_core.config import check_range
from mi_core.errors import ConfigError
from mi_defense.training._common import ClassifierTrainingDefense


@dataclass
class NegativeLabelSmoothingConfig:
    """Attributes:
    alpha: smoothing factor; negative for the defense (the paper uses about -0.05).
    warmup: fraction of the epochs over which alpha is ramped from 0 (``fit`` only).
    device: where to train: ``auto`` (CUDA when present, else the CPU), ``cpu``, ``cuda`` or
        ``cuda:N``; the module is moved there and stays there.
    """

    alpha: float = -0.05
    warmup: float = 0.0
    device: str = "auto"

    def __post_init__(self) -> None:
        devices.check_device(self.device)
        if not -1.0 <= self.alpha < 1.0:
            raise ConfigError(f"alpha: must lie in [-1, 1), got {self.alpha!r}")
        check_range("warmup", self.warmup, 0.0, 1.0)


def smoothed_cross_entropy(logits: torch.Tensor, targets: torch.Tensor, alpha: float) -> Any:
    """Eq. 16: ``(1 - alpha) CE(y_hat, y) + alpha / C * sum_k CE(y_hat, e_k)``."""
    logp = F.log_softmax(logits, dim=-1)
    c = logits.shape[-1]
    ce_true = F.nll_loss(logp, targets)
    ce_all = -logp.sum(dim=-1).mean()
    return (1 - alpha) * ce_true + (alpha / c) * ce_all


class NegativeLabelSmoothing(ClassifierTrainingDefense):
    """Train with label smoothing of negative factor (Struppek et al. 2024)."""

    name = "negative-label-smoothing"
    paper = "Struppek et al., ICLR 2024 (survey [126], Eq. 15-16)"
    summary = "label smoothing with a negative factor: L = (1-a) CE(y) + a/C sum_k CE(k)"
    Config = NegativeLabelSmoothingConfig

    def __init__(self, config: Any = None, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        self.current_alpha = self.config.alpha

    def start_epoch(self, epoch: int, epochs: int) -> None:
        ramp = self.config.warmup * epochs
        self.current_alpha = (
            self.config.alpha if ramp <= 0 else self.config.alpha * min(1.0, (epoch + 1) / ramp)
        )

    def loss(self, outputs: torch.Tensor, targets: torch.Tensor, inputs: Any = None) -> Any:
        return smoothed_cross_entropy(outputs, targets, self.current_alpha)
