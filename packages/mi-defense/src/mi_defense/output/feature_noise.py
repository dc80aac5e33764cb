"""Laplace noise on released features or embeddings.

Titcombe et al., "Practical defences against model inversion attacks for split neural
networks" (survey [117]): a client adds Laplace noise to the intermediate features it sends;
Zhang et al., "Inference attacks against graph neural networks", USENIX Security 2022 ([49]):
a service releases noisy graph embeddings ``H + Lap``. Applies to any view releasing
real-valued vectors (features, embeddings), not to class scores (no renormalisation).
With ``epsilon`` and ``sensitivity`` (the L1 bound of one released vector, e.g. after clipping
with ``clip_norm``) the scale is ``sensitivity / epsilon``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from mi_core.config import check_positive
from mi_core.errors import ConfigError
from mi_defense._util import as_float_tensor, check_epsilon
from mi_defense.output._base import ScoreDefense


@dataclass
class FeatureNoiseConfig:
    """Attributes:
    scale: Laplace scale b per coordinate (ignored when epsilon is given).
    epsilon: privacy budget per released vector; ``b = sensitivity / epsilon``.
    sensitivity: L1 sensitivity of one released vector (needed with epsilon).
    clip_norm: clip each vector to this L1 norm before adding noise (bounds the sensitivity
        at ``2 * clip_norm``; sets ``sensitivity`` when that is not given).
    seed: seed of the noise stream.
    """

    scale: float = 0.1
    epsilon: float | None = None
    sensitivity: float | None = None
    clip_norm: float | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        check_positive("scale", self.scale)
        check_epsilon("epsilon", self.epsilon)
        if self.sensitivity is not None:
            check_positive("sensitivity", self.sensitivity)
        if self.clip_norm is not None:
            check_positive("clip_norm", self.clip_norm)
        if self.epsilon is not None and self.sensitivity is None and self.clip_norm is None:
            raise ConfigError(
                "sensitivity: a budget epsilon needs the L1 sensitivity of one released vector; "
                "give sensitivity= or clip_norm= (then sensitivity = 2 * clip_norm)"
            )
        check_positive("seed", self.seed, allow_zero=True)

    @property
    def b(self) -> float:
        if self.epsilon is None:
            return self.scale
        sens = self.sensitivity if self.sensitivity is not None else 2 * float(self.clip_norm or 0)
        return sens / self.epsilon


class FeatureNoise(ScoreDefense):
    """Laplace noise on released features / embeddings (split learning, graph embeddings)."""

    name = "feature-noise"
    modalities = ("image", "text", "graph", "tabular")
    paper = "Titcombe et al. 2021 (survey [117]); Zhang et al., USENIX Security 2022 ([49])"
    summary = "add Laplace noise to released features or embeddings"
    Config = FeatureNoiseConfig

    def transform(self, outputs: Any) -> Any:
        t, back = as_float_tensor(outputs, f"{self.name}: released features")
        if t.ndim < 2:
            raise ConfigError(
                f"{self.name}: expected a batch of released vectors (N, d), got shape "
                f"{tuple(t.shape)}"
            )
        return back(self.process(t))

    def process(self, feats: torch.Tensor) -> torch.Tensor:
        cfg = self.config
        if cfg.clip_norm is not None:
            norm = feats.abs().flatten(1).sum(1).clamp_min(1e-12)
            factor = (cfg.clip_norm / norm).clamp(max=1.0)
            feats = feats * factor.view(-1, *([1] * (feats.ndim - 1)))
        return feats + self.noise(feats.shape, "laplace", cfg.b)
