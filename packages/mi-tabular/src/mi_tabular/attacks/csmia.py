"""CSMIA: confidence-score-based model inversion attribute inference (Mehnaz et al. 2022).

Mehnaz, Dibbo, Kabir, Li, Bertino, "Are your sensitive attributes private? Novel model
inversion attribute inference attacks on classification models", USENIX Security 2022, Sec. 4.
The attacker knows a record's non-sensitive attributes and its true label ``y`` and queries the
model once per candidate value ``v`` of the sensitive attribute, reading the predicted label and
the confidence scores. Then:

1. exactly one candidate makes the model predict ``y``: pick it;
2. several candidates predict ``y``: pick the one with the highest confidence in ``y``;
3. no candidate predicts ``y``: pick the one with the lowest confidence in its (wrong)
   prediction.

Unknown non-sensitive attributes (the paper's partial-knowledge extension) are summed out with
their priors before the cases are applied. Per-record case numbers are kept in
``result.arrays["case"]``; the paper reports that case-1 records are inverted most accurately.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mi_core.config import check_positive
from mi_core.result import AttackResult
from mi_core.threat import Access, Knowledge
from mi_core.views import TargetView
from mi_tabular.attacks._base import AttributeAttack
from mi_tabular.candidates import candidate_grid, query_candidates
from mi_tabular.posterior import class_index, require_scores


@dataclass
class CSMIAConfig:
    """Hyper-parameters.

    Attributes:
        max_candidates: cap on sensitive values x unknown combinations per record.
        chunk_rows: candidate rows per model call.
        progress: show a progress bar.
    """

    max_candidates: int = 4096
    chunk_rows: int = 200_000
    progress: bool = True

    def __post_init__(self) -> None:
        check_positive("max_candidates", self.max_candidates)
        check_positive("chunk_rows", self.chunk_rows)


def csmia_decide(
    scores: np.ndarray, y_idx: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The three cases of CSMIA on ``(n, V, K)`` expected scores: returns ``(codes, case,
    posterior-like score (n, V))``."""
    pred = scores.argmax(axis=2)  # (n, V)
    conf_y = np.take_along_axis(scores, y_idx[:, None, None], axis=2)[..., 0]  # (n, V)
    conf_pred = scores.max(axis=2)
    match = pred == y_idx[:, None]
    n_match = match.sum(axis=1)
    case = np.where(n_match == 1, 1, np.where(n_match > 1, 2, 3))
    # one ranking covers cases 1 and 2: candidates predicting y first, by confidence in y
    rank_match = np.where(match, 1.0 + conf_y, -np.inf)
    rank_none = -conf_pred  # case 3: least confident wrong prediction
    rank = np.where((n_match > 0)[:, None], rank_match, rank_none)
    codes = rank.argmax(axis=1)
    # a score per candidate for AUC: the confidence in y, shifted up for matching candidates
    score = np.where(match, 1.0 + conf_y, conf_y) + 1e-9
    score = score / score.sum(axis=1, keepdims=True)
    return codes, case, score


class CSMIA(AttributeAttack):
    """Confidence-score-based attribute inversion (Mehnaz et al., USENIX Security 2022)."""

    name = "csmia"
    access = Access.BLACK_BOX_SCORES
    paper = "Mehnaz et al., USENIX Security 2022"
    summary = "pick the candidate whose query reproduces the true label most confidently"
    Config = CSMIAConfig
    requires = ("known_attributes", "prior", "target_labels")

    def _run(self, view: TargetView, knowledge: Knowledge, seed: int) -> AttackResult:
        cfg: CSMIAConfig = self.config
        ak = self._knowledge(knowledge)
        y = ak.require_labels(self.name)
        grid = candidate_grid(ak, cfg.max_candidates)
        outs = query_candidates(
            view, ak, grid, chunk_rows=cfg.chunk_rows, progress=cfg.progress, desc=self.name
        )
        require_scores(outs, self.name)
        classes = self.classes(view, ak)
        y_idx = class_index(y, classes, "knowledge.target_labels")
        # expected scores over the unknown attributes' completions (weights sum to one)
        w = np.exp(grid.log_weight - np.max(grid.log_weight))
        w = w / w.sum()
        scores = np.einsum("nvuk,u->nvk", outs.astype(np.float64), w)
        codes, case, score = csmia_decide(scores, y_idx)
        info = {"cases": {str(c): int((case == c).sum()) for c in (1, 2, 3)}}
        return self._posterior_result(
            ak, score, codes=codes, info=info, arrays={"case": case.astype(np.int64)}
        )
