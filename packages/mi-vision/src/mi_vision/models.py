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


class _ResBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.skip: nn.Module = nn.Identity()
        if stride != 1 or cin != cout:
            self.skip = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(h)) + self.skip(x))


class ResNetSmall(nn.Module):
    """A small residual network (three stages), a different architecture from
    :class:`SmallCNN`: the evaluation model of the benchmarks (survey Sec. IV-A-6 asks for an
    evaluation classifier of another architecture than the target)."""

    def __init__(self, in_channels: int, num_classes: int, width: int = 16) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, width, 3, 1, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU()
        )
        self.stages = nn.Sequential(
            _ResBlock(width, width, 1),
            _ResBlock(width, 2 * width, 2),
            _ResBlock(2 * width, 4 * width, 2),
        )
        self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Linear(4 * width, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.stages(self.stem(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))
