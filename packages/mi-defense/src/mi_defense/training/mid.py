"""MID: mutual-information regularisation through a variational information bottleneck.

Wang, Zhang, Jia, "Improving robustness to model inversion attacks via mutual information
regularization", AAAI 2021 (survey [25], Eq. 13):

    min_theta  E[ L(f_theta(x), y) ] + lambda I(X, Y_hat)

``I(X, Y_hat)`` is bounded by ``I(X, Z)`` for a stochastic encoding ``Z`` of ``X``, estimated
with the variational information bottleneck (Alemi et al. [122]): the classifier's final linear
layer is replaced by an encoder to ``(mu, sigma)`` of a ``bottleneck``-dimensional Gaussian code
``z = mu + sigma * eps`` and a linear decoder ``z -> logits``; the loss is
``CE + beta * KL(N(mu, sigma^2) || N(0, I))``. At evaluation the code is its mean.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from mi_core import device as devices
from mi_core.config import check_positive
from mi_defense.training._common import ClassifierTrainingDefense, find_head, rebuild_optimizer


@dataclass
class MIDConfig:
    """Attributes:
    beta: weight of the information term [lambda of Eq. 13].
    bottleneck: size of the stochastic code Z.
    head: dotted path of the classifier's final linear layer (found when None).
    device: where to train: ``auto`` (CUDA when present, else the CPU), ``cpu``, ``cuda`` or
        ``cuda:N``; the module is moved there and stays there.
    """

    beta: float = 0.01
    bottleneck: int = 32
    head: str | None = None
    device: str = "auto"

    def __post_init__(self) -> None:
        devices.check_device(self.device)
        check_positive("beta", self.beta, allow_zero=True)
        check_positive("bottleneck", self.bottleneck)


class VIBHead(nn.Module):
    """Stochastic bottleneck + linear decoder replacing a classifier's final layer; keeps the KL
    of its last forward pass in ``self.kl``."""

    def __init__(self, in_features: int, bottleneck: int, num_classes: int) -> None:
        super().__init__()
        self.bottleneck = bottleneck
        self.encoder = nn.Linear(in_features, 2 * bottleneck)
        self.decoder = nn.Linear(bottleneck, num_classes)
        self.kl = torch.zeros(())

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        stats = self.encoder(h)
        mu, raw = stats[:, : self.bottleneck], stats[:, self.bottleneck :]
        std = F.softplus(raw - 5.0) + 1e-6
        z = mu + std * torch.randn_like(std) if self.training else mu
        self.kl = 0.5 * (mu.pow(2) + std.pow(2) - 2 * torch.log(std) - 1).sum(1).mean()
        return self.decoder(z)


class MID(ClassifierTrainingDefense):
    """Variational information bottleneck before the classifier's head (Wang et al. 2021)."""

    name = "mid"
    paper = "Wang et al., AAAI 2021 (survey [25], Eq. 13)"
    summary = "CE + beta KL of a stochastic bottleneck replacing the final layer (VIB)"
    Config = MIDConfig

    def wrap(self, module: nn.Module, optimizer: Any, data_loader: Any) -> tuple[Any, Any, Any]:
        """Replace the module's final linear layer by a :class:`VIBHead` (in place) and rebuild
        the optimizer over the new parameters."""
        parent, attr, linear = find_head(module, self.config.head)
        if isinstance(linear, VIBHead):  # already wrapped
            self.vib = linear
        else:
            self.vib = devices.build(  # where the replaced layer was
                lambda: VIBHead(linear.in_features, self.config.bottleneck, linear.out_features),
                linear.weight.device,
            )
            setattr(parent, attr, self.vib)
        optimizer = rebuild_optimizer(optimizer, module.parameters()) if optimizer else None
        return module, optimizer, data_loader

    def loss(self, outputs: torch.Tensor, targets: torch.Tensor, inputs: Any = None) -> Any:
        return F.cross_entropy(outputs, targets) + self.config.beta * self.vib.kl
