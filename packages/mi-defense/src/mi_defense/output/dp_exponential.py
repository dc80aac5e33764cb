"""Differentially private release of score vectors with the exponential mechanism.

Ye, Shen, Zhu, Liu, Zhou, "One parameter defense: defending against data inference attacks via
differential privacy", IEEE TIFS 2022 (survey [116], Sec. VI-A 1): the range of the confidence
scores is divided into sub-ranges, and each score is replaced by a value of its sub-range drawn
with the exponential mechanism, then the vector is renormalised. The one parameter is
``epsilon``.

Our reading of the mechanism (the survey gives no equation): ``[0, 1]`` is cut into ``ranges``
equal sub-ranges of width ``w``; a score ``s`` in sub-range ``[a, a + w)`` is replaced by one of
``grid`` candidates ``c`` of that sub-range with probability ``exp(epsilon * u(c) / (2 w))``,
``u(c) = -|c - s|`` (sensitivity ``w``: two scores of one sub-range differ by less than ``w``),
so each released entry is epsilon-DP with respect to where its score lies inside its sub-range.
``keep_label`` keeps the model's top class on top after renormalising (the paper reports no
accuracy loss).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from mi_core.config import check_positive
from mi_defense._util import check_epsilon, keep_argmax, renormalize
from mi_defense.output._base import ScoreDefense


@dataclass
class DPExponentialConfig:
    """Attributes:
    epsilon: privacy budget per released score (smaller = more noise).
    ranges: sub-ranges of [0, 1].
    grid: candidate values per sub-range.
    keep_label: keep the model's top class on top.
    seed: seed of the sampling stream.
    """

    epsilon: float = 1.0
    ranges: int = 10
    grid: int = 16
    keep_label: bool = True
    seed: int = 0

    def __post_init__(self) -> None:
        check_epsilon("epsilon", self.epsilon)
        check_positive("ranges", self.ranges)
        check_positive("grid", self.grid)
        check_positive("seed", self.seed, allow_zero=True)


def exponential_mechanism_scores(
    scores: torch.Tensor, epsilon: float, ranges: int, grid: int, generator: torch.Generator
) -> torch.Tensor:
    """Replace each score by an exponential-mechanism draw from its sub-range (Ye et al. 2022)."""
    w = 1.0 / ranges
    s = scores.clamp(0.0, 1.0)
    j = torch.clamp(torch.floor(s / w), max=ranges - 1)
    offsets = (torch.arange(grid, dtype=scores.dtype) + 0.5) * (w / grid)
    cand = (j * w).unsqueeze(-1) + offsets  # (..., grid)
    logits = -epsilon * (cand - s.unsqueeze(-1)).abs() / (2 * w)
    u = torch.rand(cand.shape, generator=generator, dtype=scores.dtype).clamp(1e-12, 1 - 1e-12)
    gumbel = -torch.log(-torch.log(u))
    pick = (logits + gumbel).argmax(dim=-1, keepdim=True)
    return cand.gather(-1, pick).squeeze(-1)


class DPExponential(ScoreDefense):
    """Exponential-mechanism release of score vectors (Ye et al. 2022)."""

    name = "dp-exponential"
    paper = "Ye et al., IEEE TIFS 2022 (survey [116])"
    summary = "replace each score by an exponential-mechanism draw from its sub-range"
    Config = DPExponentialConfig

    def process(self, scores: torch.Tensor) -> torch.Tensor:
        cfg = self.config
        out = renormalize(
            exponential_mechanism_scores(scores, cfg.epsilon, cfg.ranges, cfg.grid, self.generator)
        )
        return keep_argmax(out, scores) if cfg.keep_label else out
