"""Black-box attribute inference with a learned attack model.

The attacker holds public records of the population with the sensitive attribute
(``knowledge.auxiliary``, a shadow / auxiliary set) and black-box access to the model. It trains
an attack model on the auxiliary records to map what it can observe about a record to the
sensitive attribute, then applies it to the records under attack. This is the learned attack of
Mehnaz et al. (USENIX Security 2022, "confidence modeling") and of ART's
``AttributeInferenceBlackBox``, which feeds the known attributes and the model's prediction for
the true record to a neural network.

The features here (``candidate_features=True``) also hold, for every candidate value ``v`` of
the sensitive attribute, the model's answer to ``(x_K, v)``: its scores, its confidence in the
record's label ``y`` (or, label-only, whether it predicts ``y``). That is what the model knows
about the record that the data alone does not; the attack model learns how much to trust it.
Works with any target behind a black-box view: an sklearn estimator (``predict_proba`` or
``predict``), a torch model (with ``knowledge.encode``), a remote function.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from mi_core.config import check_choice, check_positive
from mi_core.errors import ConfigError
from mi_core.result import AttackResult
from mi_core.threat import Access, Knowledge
from mi_core.views import TargetView
from mi_tabular.attacks._base import AttributeAttack
from mi_tabular.candidates import candidate_grid, query, query_candidates
from mi_tabular.encoding import (
    FrameEncoder,
    attacker_features,
    fit_predict_proba,
    make_classifier,
)
from mi_tabular.knowledge import AttributeKnowledge
from mi_tabular.posterior import class_index, require_scores


@dataclass
class BlackBoxAttributeInferenceConfig:
    """Hyper-parameters.

    Attributes:
        output: read class ``scores`` (black-box scores access) or ``labels`` (label-only).
        estimator: the attack model: ``auto`` (boosted trees from 3000 records on, else
            logistic regression), ``hgb``, ``logistic``, ``forest``.
        candidate_features: add the model's answers for every candidate value (see module
            docstring); ``False`` is ART's feature set (known attributes + label).
        fit_iterations: training of the attack model: boosting rounds / solver iterations /
            trees (``None``: the learner's default); ``0`` switches training off (the attack
            model predicts the auxiliary class frequencies; a check that the gain is learned).
        max_auxiliary: use at most this many auxiliary records (``None``: all).
        max_candidates: cap on sensitive values x unknown combinations per record.
        chunk_rows: candidate rows per model call.
        progress: show a progress bar.
    """

    output: Literal["scores", "labels"] = "scores"
    estimator: str = "auto"
    candidate_features: bool = True
    fit_iterations: int | None = None
    max_auxiliary: int | None = None
    max_candidates: int = 4096
    chunk_rows: int = 200_000
    progress: bool = True

    def __post_init__(self) -> None:
        check_choice("output", self.output, ("scores", "labels"))
        check_choice("estimator", self.estimator, ("auto", "hgb", "logistic", "forest"))
        if self.fit_iterations is not None:
            check_positive("fit_iterations", self.fit_iterations, allow_zero=True)
        if self.max_auxiliary is not None:
            check_positive("max_auxiliary", self.max_auxiliary)
        check_positive("max_candidates", self.max_candidates)
        check_positive("chunk_rows", self.chunk_rows)


class BlackBoxAttributeInference(AttributeAttack):
    """Attack model trained on auxiliary records and the model's answers."""

    name = "bb-attribute-inference"
    access = Access.BLACK_BOX_SCORES
    paper = "Mehnaz et al., USENIX Security 2022 (learned attack); ART AttributeInferenceBlackBox"
    summary = "attack model on auxiliary data: known attributes + model answers -> attribute"
    Config = BlackBoxAttributeInferenceConfig
    requires = ("known_attributes", "prior", "auxiliary")

    def __init__(self, config=None, **overrides) -> None:
        super().__init__(config, **overrides)
        self._set_access(self.config.output)

    def _features(
        self,
        view: TargetView,
        ak: AttributeKnowledge,
        records: pd.DataFrame,
        labels: np.ndarray | None,
        classes: tuple | None,
    ) -> pd.DataFrame:
        cfg: BlackBoxAttributeInferenceConfig = self.config
        feats = attacker_features(records[ak.known_columns], labels)
        if not cfg.candidate_features:
            return feats
        grid = candidate_grid(ak, cfg.max_candidates)
        outs = query_candidates(
            view,
            ak,
            grid,
            records=records,
            chunk_rows=cfg.chunk_rows,
            progress=cfg.progress,
            desc=self.name,
        )
        w = np.exp(grid.log_weight - np.max(grid.log_weight))
        w = w / w.sum()
        cols: dict[str, np.ndarray] = {}
        if view.access is Access.LABEL_ONLY:
            assert classes is not None
            pred = outs.reshape(outs.shape[:3])
            p_idx = class_index(pred.reshape(-1), classes, "model labels").reshape(pred.shape)
            for j in range(len(grid.sensitive)):
                onehot = np.eye(len(classes))[p_idx[:, j, :]]  # (n, U, K)
                dist = np.einsum("nuk,u->nk", onehot, w)
                for k in range(len(classes)):
                    cols[f"__p{j}_{k}__"] = dist[:, k]
                if labels is not None:
                    y_idx = class_index(labels, classes, "labels")
                    cols[f"__hit{j}__"] = dist[np.arange(len(records)), y_idx]
        else:
            require_scores(outs, self.name)
            scores = np.einsum("nvuk,u->nvk", outs.astype(np.float64), w)
            for j in range(scores.shape[1]):
                for k in range(scores.shape[2]):
                    cols[f"__s{j}_{k}__"] = scores[:, j, k]
            if labels is not None and classes is not None:
                y_idx = class_index(labels, classes, "labels")
                conf = scores[np.arange(len(records)), :, y_idx]  # (n, V)
                for j in range(conf.shape[1]):
                    cols[f"__conf{j}__"] = conf[:, j]
        return pd.concat([feats, pd.DataFrame(cols)], axis=1)

    def _run(self, view: TargetView, knowledge: Knowledge, seed: int) -> AttackResult:
        cfg: BlackBoxAttributeInferenceConfig = self.config
        ak = self._knowledge(knowledge)
        aux = ak.require_auxiliary(self.name, labelled=ak.labels is not None)
        if ak.labels is None and not cfg.candidate_features:
            raise ConfigError(
                "candidate_features: with no labels known and no candidate features the attack "
                "model sees only the known attributes (that is the no-model baseline); set "
                "candidate_features=True or give knowledge.target_labels"
            )
        if cfg.max_auxiliary is not None and len(aux) > cfg.max_auxiliary:
            aux = aux.sample(n=cfg.max_auxiliary, random_state=seed)
        task = self.task(view, ak)
        if task != "classification" and ak.labels is not None:
            raise ConfigError(
                "target: bb-attribute-inference reads class labels or scores; for a regressor "
                "use fredrikson-map (Gaussian error model)"
            )
        classes = self.classes(view, ak) if ak.labels is not None or ak.classes else None
        aux_labels = None
        if ak.labels is not None:
            if ak.labels_are == "predicted":
                aux_labels = query(view, ak, aux[list(ak.columns)], "labels")
            else:
                aux_labels = aux[ak.label_column].to_numpy()
        target = ak.sensitive.codes(aux[ak.sensitive.column].to_numpy(), "auxiliary")
        f_aux = self._features(view, ak, aux, aux_labels, classes)
        f_tgt = self._features(view, ak, ak.known, ak.labels, classes)
        enc = FrameEncoder().fit(f_aux)
        clf = make_classifier(
            cfg.estimator, seed, enc.categorical_mask, len(f_aux), cfg.fit_iterations
        )
        proba = fit_predict_proba(
            clf, enc.transform(f_aux), target, enc.transform(f_tgt), len(ak.sensitive.values)
        )
        info = {"auxiliary_records": len(aux), "features": int(f_aux.shape[1])}
        return self._posterior_result(ak, proba, info=info)
