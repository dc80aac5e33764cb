"""Rounding: release scores rounded to a coarse grid.

Fredrikson, Jha, Ristenpart, CCS 2015, Sec. 7: rounding confidences to multiples of ``r``
(0.001 ... 0.1) degrades MI-Face-style black-box inversion at no accuracy cost (ties aside).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from mi_core.config import check_range
from mi_defense.output._base import ScoreDefense


@dataclass
class RoundingConfig:
    """Attributes:
    step: released scores are multiples of ``step`` (Fredrikson et al.: 0.001 to 0.1).
    """

    step: float = 0.05

    def __post_init__(self) -> None:
        if not 0 < self.step <= 1:
            check_range("step", self.step, 1e-12, 1.0)


class Rounding(ScoreDefense):
    """Round released scores to multiples of ``step``."""

    name = "rounding"
    paper = "Fredrikson et al., CCS 2015, Sec. 7"
    summary = "round released scores to multiples of a step"
    Config = RoundingConfig

    def process(self, scores: torch.Tensor) -> torch.Tensor:
        step = self.config.step
        return torch.round(scores / step) * step
