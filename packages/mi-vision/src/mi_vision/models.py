"""Small image classifiers, torchvision-style (``nn.Module`` taking ``(N, C, H, W)`` tensors and
returning logits), used as demo targets and evaluation models. Users pass their own modules."""

from __future__ import annotations

import math

import torch
from torch import nn


class SoftmaxRegression(nn.Module):
    """Multinomial logistic regression on pixels (Fredrikson et al. 2015's softmax target)."""

    def __init__(self, in_shape: tuple[int, int, int], num_classes: int) -> None:
        super().__init__()
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(math.prod(in_shape), num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.flatten(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.flatten(x))


class MLP(nn.Module):
    """One hidden layer of sigmoid units (Fredrikson et al. 2015's MLP target: 3000 units)."""

    def __init__(
        self,
        in_shape: tuple[int, int, int],
        num_classes: int,
        hidden: int = 3000,
        activation: str = "sigmoid",
    ) -> None:
        super().__init__()
        act: nn.Module = nn.Sigmoid() if activation == "sigmoid" else nn.ReLU()
        self.body = nn.Sequential(nn.Flatten(), nn.Linear(math.prod(in_shape), hidden), act)
        self.head = nn.Linear(hidden, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


class SmallCNN(nn.Module):
    """A small convolutional classifier; ``features`` gives the penultimate layer (used by the
    evaluation metrics)."""

    def __init__(
        self, in_channels: int, num_classes: int, width: int = 32, feature_dim: int = 128
    ) -> None:
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(in_channels, width, 3, padding=1),
            nn.BatchNorm2d(width),
            nn.ReLU(),
            nn.Conv2d(width, width, 3, padding=1),
            nn.BatchNorm2d(width),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(width, 2 * width, 3, padding=1),
            nn.BatchNorm2d(2 * width),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(2),
            nn.Flatten(),
            nn.Linear(8 * width, feature_dim),
            nn.ReLU(),
        )
        self.head = nn.Linear(feature_dim, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.conv(x))
