"""Top-k: release only the k largest scores of each prediction, the rest as zeros.

Shokri et al. 2017 and Fredrikson et al. 2015 list truncating the released confidence vector as
a basic countermeasure; the survey (Sec. VI-A) groups it with purification. ``k = 1`` keeps the
top score only.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from mi_core.config import check_positive
from mi_core.errors import ConfigError
from mi_core.views import BlackBoxView, topk_dense
from mi_defense._util import renormalize
from mi_defense.output._base import ScoreDefense, check_k


@dataclass
class TopKConfig:
    """Attributes:
    k: scores kept per prediction (1 <= k <= number of classes).
    renormalize: rescale the kept scores to sum to one (else the zeros stand for the rest).
    """

    k: int = 1
    renormalize: bool = False

    def __post_init__(self) -> None:
        check_positive("k", self.k)


class TopK(ScoreDefense):
    """Release the top-k scores of each prediction (zeros elsewhere)."""

    name = "top-k"
    paper = "Fredrikson et al., CCS 2015 (survey Sec. VI-A)"
    summary = "release only the k largest scores of each prediction"
    Config = TopKConfig

    def check_view(self, view: BlackBoxView) -> None:
        super().check_view(view)
        check_k(self.name, self.config.k, view)

    def process(self, scores: torch.Tensor) -> torch.Tensor:
        if self.config.k > scores.shape[-1]:
            raise ConfigError(
                f"{self.name}.config.k: {self.config.k} is larger than the number of classes "
                f"({scores.shape[-1]}); choose 1 <= k <= {scores.shape[-1]}"
            )
        out = topk_dense(scores, self.config.k)
        return renormalize(out) if self.config.renormalize else out
