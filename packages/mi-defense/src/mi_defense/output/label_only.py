"""Label-only release: the service answers with the predicted class and nothing else.

The strongest output processing (survey Sec. VI-A): score-based black-box attacks lose their
signal; label-only attacks (LOMIA, BREP-MI) are untouched by design. ``release="labels"``
narrows the view to label-only access (score attacks then refuse to run, as against a real
label-only API); ``release="one-hot"`` keeps the score format and answers one-hot vectors, so
score attacks run and show how much they lose.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F

from mi_core.config import check_choice
from mi_core.threat import Access
from mi_core.views import BlackBoxView, TargetView
from mi_defense.output._base import ScoreDefense


@dataclass
class LabelOnlyConfig:
    """Attributes:
    release: ``labels`` (a label-only view) or ``one-hot`` (score-shaped one-hot vectors).
    """

    release: Literal["labels", "one-hot"] = "one-hot"

    def __post_init__(self) -> None:
        check_choice("release", self.release, ("labels", "one-hot"))


class LabelOnly(ScoreDefense):
    """Release the predicted label only."""

    name = "label-only"
    paper = "survey Sec. VI-A (Fredrikson et al. 2015; Mehnaz et al. 2022)"
    summary = "release the predicted label (or its one-hot vector) only"
    Config = LabelOnlyConfig

    def wrap(self, view: TargetView) -> BlackBoxView:
        if isinstance(view, BlackBoxView) and view.access is Access.LABEL_ONLY:
            # already label-only: nothing more to withhold (label-only attacks are untouched)
            if view.modality is not None and view.modality not in self.modalities:
                super().wrap(view)  # raises the modality error
            return view
        wrapped = super().wrap(view)
        if self.config.release == "labels":
            out = wrapped.restrict(Access.LABEL_ONLY)
            assert isinstance(out, BlackBoxView)
            return out
        return wrapped

    def process(self, scores: torch.Tensor) -> torch.Tensor:
        return F.one_hot(scores.argmax(dim=-1), scores.shape[-1]).to(scores.dtype)
