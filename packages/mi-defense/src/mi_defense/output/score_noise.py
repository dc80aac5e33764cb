"""Noise on released scores: Gaussian or Laplace noise added to each confidence vector.

The simplest additive-noise defense of the survey (Sec. VI-A 1): perturb what the service
releases, then clip to non-negative and renormalise. With ``epsilon`` the Laplace scale is
calibrated as the Laplace mechanism for one released probability vector (L1 sensitivity 2:
two probability vectors differ by at most 2 in L1), ``b = 2 / epsilon``; the Gaussian variant
takes its standard deviation directly. ``keep_label`` swaps entries so the top class stays the
model's (no accuracy cost; the ranking of the rest is still noisy).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from mi_core.config import check_positive
from mi_defense._util import check_epsilon, keep_argmax, renormalize
from mi_defense.output._base import ScoreDefense


@dataclass
class GaussianNoiseConfig:
    """Attributes:
    sigma: standard deviation of the noise added to each score.
    renormalize: clip to >= 0 and rescale rows to sum to one.
    keep_label: keep the model's top class on top.
    seed: seed of the noise stream (a fresh draw per query).
    """

    sigma: float = 0.1
    renormalize: bool = True
    keep_label: bool = False
    seed: int = 0

    def __post_init__(self) -> None:
        check_positive("sigma", self.sigma)
        check_positive("seed", self.seed, allow_zero=True)


@dataclass
class LaplaceNoiseConfig:
    """Attributes:
    scale: Laplace scale b of the noise added to each score (ignored when epsilon is given).
    epsilon: per-query privacy budget; sets ``b = 2 / epsilon`` (L1 sensitivity 2).
    renormalize: clip to >= 0 and rescale rows to sum to one.
    keep_label: keep the model's top class on top.
    seed: seed of the noise stream.
    """

    scale: float = 0.1
    epsilon: float | None = None
    renormalize: bool = True
    keep_label: bool = False
    seed: int = 0

    def __post_init__(self) -> None:
        check_positive("scale", self.scale)
        check_epsilon("epsilon", self.epsilon)
        check_positive("seed", self.seed, allow_zero=True)

    @property
    def b(self) -> float:
        return 2.0 / self.epsilon if self.epsilon is not None else self.scale


class _ScoreNoise(ScoreDefense):
    kind_of_noise = "gaussian"

    def _scale(self) -> float:
        raise NotImplementedError

    def process(self, scores: torch.Tensor) -> torch.Tensor:
        noisy = scores + self.noise(scores.shape, self.kind_of_noise, self._scale())
        if self.config.renormalize:
            noisy = renormalize(noisy)
        if self.config.keep_label:
            noisy = keep_argmax(noisy, scores)
        return noisy


class GaussianNoise(_ScoreNoise):
    """Gaussian noise on released scores."""

    name = "gaussian-noise"
    paper = "survey Sec. VI-A (additive noise on confidence scores)"
    summary = "add Gaussian noise to released scores, renormalise"
    Config = GaussianNoiseConfig
    kind_of_noise = "gaussian"

    def _scale(self) -> float:
        return float(self.config.sigma)


class LaplaceNoise(_ScoreNoise):
    """Laplace noise on released scores (the Laplace mechanism with ``epsilon``)."""

    name = "laplace-noise"
    paper = "survey Sec. VI-A (additive noise on confidence scores)"
    summary = "add Laplace noise (scale or epsilon) to released scores, renormalise"
    Config = LaplaceNoiseConfig
    kind_of_noise = "laplace"

    def _scale(self) -> float:
        return float(self.config.b)
