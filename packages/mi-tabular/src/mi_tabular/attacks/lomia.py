"""LOMIA: label-only model inversion attribute inference (Mehnaz et al. 2022).

Mehnaz, Dibbo, Kabir, Li, Bertino, "Are your sensitive attributes private? Novel model
inversion attribute inference attacks on classification models", USENIX Security 2022, Sec. 5.
The attacker sees labels only. It queries the model with every candidate value of the sensitive
attribute for each record under attack; records for which exactly one candidate reproduces the
record's true label (CSMIA's case 1) get that value. Those records and their inferred values
train an attack model (known attributes + label -> sensitive attribute), which then infers the
attribute of every other record. No auxiliary data is needed: the model itself labels the
attack model's training set.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mi_core.config import check_choice, check_positive
from mi_core.result import AttackResult
from mi_core.threat import Access, Knowledge
from mi_core.views import TargetView
from mi_tabular.attacks._base import AttributeAttack
from mi_tabular.candidates import candidate_grid, query_candidates
from mi_tabular.encoding import (
    FrameEncoder,
    attacker_features,
    fit_predict_proba,
    make_classifier,
)
from mi_tabular.posterior import class_index


@dataclass
class LOMIAConfig:
    """Hyper-parameters.

    Attributes:
        estimator: the attack model: ``auto`` (boosted trees from 3000 records on, else
            logistic regression), ``hgb``, ``logistic``,
            ``forest``.
        keep_case1: keep the value found by querying for case-1 records (else the attack model
            infers every record, as a pure learned attack).
        fit_iterations: training of the attack model: boosting rounds / solver iterations /
            trees (``None``: the learner's default); ``0`` switches training off (the attack
            model predicts the case-1 records' class frequencies).
        max_candidates: cap on sensitive values x unknown combinations per record.
        chunk_rows: candidate rows per model call.
        progress: show a progress bar.
    """

    estimator: str = "auto"
    keep_case1: bool = True
    fit_iterations: int | None = None
    max_candidates: int = 4096
    chunk_rows: int = 200_000
    progress: bool = True

    def __post_init__(self) -> None:
        check_choice("estimator", self.estimator, ("auto", "hgb", "logistic", "forest"))
        if self.fit_iterations is not None:
            check_positive("fit_iterations", self.fit_iterations, allow_zero=True)
        check_positive("max_candidates", self.max_candidates)
        check_positive("chunk_rows", self.chunk_rows)


class LOMIA(AttributeAttack):
    """Label-only attribute inversion (Mehnaz et al., USENIX Security 2022)."""

    name = "lomia"
    access = Access.LABEL_ONLY
    paper = "Mehnaz et al., USENIX Security 2022"
    summary = "label-only: records a single candidate explains train an attack model"
    Config = LOMIAConfig
    requires = ("known_attributes", "prior", "target_labels")

    def _run(self, view: TargetView, knowledge: Knowledge, seed: int) -> AttackResult:
        cfg: LOMIAConfig = self.config
        ak = self._knowledge(knowledge)
        y = ak.require_labels(self.name)
        grid = candidate_grid(ak, cfg.max_candidates)
        outs = query_candidates(
            view, ak, grid, chunk_rows=cfg.chunk_rows, progress=cfg.progress, desc=self.name
        )
        classes = self.classes(view, ak)
        y_idx = class_index(y, classes, "knowledge.target_labels")
        pred = outs.reshape(outs.shape[:3])
        p_idx = class_index(pred.reshape(-1), classes, "model labels").reshape(pred.shape)
        w = np.exp(grid.log_weight - np.max(grid.log_weight))
        w = w / w.sum()
        hit = np.einsum("nvu,u->nv", (p_idx == y_idx[:, None, None]).astype(np.float64), w)
        match = hit > 0.5
        case1 = match.sum(axis=1) == 1
        v_count = len(ak.sensitive.values)
        feats = attacker_features(ak.known[ak.known_columns], y)
        enc = FrameEncoder().fit(feats)
        x = enc.transform(feats)
        target = match.argmax(axis=1)
        info = {"case1": int(case1.sum()), "records": ak.n}
        if case1.sum() >= 2 and len(np.unique(target[case1])) >= 2:
            clf = make_classifier(
                cfg.estimator, seed, enc.categorical_mask, int(case1.sum()), cfg.fit_iterations
            )
            proba = fit_predict_proba(clf, x[case1], target[case1], x, v_count)
        else:
            proba = np.tile(np.asarray(ak.sensitive.prior), (ak.n, 1))
            info["fallback"] = "too few case-1 records to train an attack model: prior"
        codes = proba.argmax(axis=1)
        score = proba
        if cfg.keep_case1:
            codes = np.where(case1, target, codes)
            onehot = np.eye(v_count)[target]
            score = np.where(case1[:, None], 0.5 * onehot + 0.5 * proba, proba)
        return self._posterior_result(
            ak, score, codes=codes, info=info, arrays={"case1": case1.astype(np.int64)}
        )
