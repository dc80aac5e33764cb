"""Evaluation of attribute inference against the private truth (which attacks never see).

Every figure stands beside the **no-model imputation** baseline (the same attacker knowledge,
no target access): the gap is the leakage the model causes. The **prior-only** guess and the
**ideal** predictor (trained on the true data, Fredrikson et al. 2014) are reported beside it,
and every figure is split into records inside and outside the model's training set (the
finding of Fredrikson et al. 2015: training records are the ones that leak).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from mi_core.errors import MetricError
from mi_core.metrics.base import Figure
from mi_core.result import AttackResult
from mi_tabular.baselines import ideal_predictor, no_model_imputation, prior_only
from mi_tabular.knowledge import AttributeKnowledge, Marginal
from mi_tabular.metrics import summarize

Prediction = tuple[np.ndarray, np.ndarray]


def prediction_of(result: AttackResult, sensitive: Marginal) -> Prediction:
    """``(codes, (n, V) scores)`` of an attack result."""
    codes = result.arrays.get("codes")
    if codes is None:
        codes = sensitive.codes(result.reconstructions, "result.reconstructions")
    codes = np.asarray(codes, dtype=np.int64).reshape(-1)
    scores = result.scores
    if scores is not None:
        scores = np.asarray(scores, dtype=np.float64)
        if scores.ndim != 2 or scores.shape[0] != codes.shape[0]:
            scores = None
    return codes, scores  # type: ignore[return-value]


@dataclass
class AttributeEvaluator:
    """Judges inferred attribute values.

    Args:
        true: the true sensitive values of the records under attack (in attack order).
        sensitive: the attribute (values and prior).
        member: per record, whether it was in the model's training set (``None``: unknown).
        no_model: the no-model imputation baseline's ``(codes, proba)``.
        ideal: the ideal predictor's ``(codes, proba)``.
    """

    true: Any
    sensitive: Marginal
    member: Any = None
    no_model: Prediction | None = None
    ideal: Prediction | None = None

    def __post_init__(self) -> None:
        self.true_codes = self.sensitive.codes(np.asarray(self.true, dtype=object), "true")
        n = len(self.true_codes)
        if self.member is not None:
            self.member = np.asarray(self.member, dtype=bool).reshape(-1)
            if len(self.member) != n:
                raise MetricError(f"member: {len(self.member)} flags for {n} records")
        self.prior = prior_only(self.sensitive, n)

    @classmethod
    def build(
        cls,
        ak: AttributeKnowledge,
        true: Any,
        *,
        member: Any = None,
        private: pd.DataFrame | None = None,
        label_column: str | None = None,
        estimator: str = "auto",
        seed: int = 0,
    ) -> AttributeEvaluator:
        """An evaluator with the no-model baseline (from ``ak.auxiliary``) and, given the
        private training records, the ideal predictor."""
        no_model = (
            no_model_imputation(ak, estimator=estimator, seed=seed)
            if ak.auxiliary is not None
            else None
        )
        ideal = (
            ideal_predictor(ak, private, label_column=label_column, estimator=estimator, seed=seed)
            if private is not None
            else None
        )
        return cls(true, ak.sensitive, member=member, no_model=no_model, ideal=ideal)

    # ------------------------------------------------------------------------------------
    def _summaries(self, pred: Prediction, mask: np.ndarray | None = None) -> dict[str, Any]:
        k = len(self.sensitive.values)
        codes, proba = pred
        t = self.true_codes
        if mask is not None:
            codes, t = codes[mask], t[mask]
            proba = None if proba is None else proba[mask]
        return summarize(codes, t, proba, k)

    def report(self, result: AttackResult | Prediction) -> dict[str, Any]:
        """Every figure of the attack and of each baseline, overall and per membership split."""
        pred = prediction_of(result, self.sensitive) if isinstance(result, AttackResult) else result
        if len(pred[0]) != len(self.true_codes):
            raise MetricError(
                f"result: {len(pred[0])} inferred values for {len(self.true_codes)} records"
            )
        rows = {"attack": pred, "prior_only": self.prior}
        if self.no_model is not None:
            rows["no_model"] = self.no_model
        if self.ideal is not None:
            rows["ideal"] = self.ideal
        out: dict[str, Any] = {"all": {k: self._summaries(v) for k, v in rows.items()}}
        if self.member is not None:
            for name, mask in (("in_training", self.member), ("out_of_training", ~self.member)):
                if mask.any():
                    out[name] = {k: self._summaries(v, mask) for k, v in rows.items()}
        return out

    def evaluate(self, result: AttackResult | Prediction) -> list[Figure]:
        """Figures: accuracy, balanced accuracy (and AUC for a binary attribute) beside the
        no-model baseline (the gap is the leakage), accuracy beside the prior, and accuracy
        inside / outside the training set."""
        rep = self.report(result)
        allr = rep["all"]
        if isinstance(result, AttackResult):  # evidence for reports: a confusion matrix
            codes, _ = prediction_of(result, self.sensitive)
            k = len(self.sensitive.values)
            cm = np.zeros((k, k), dtype=np.int64)
            np.add.at(cm, (self.true_codes, codes), 1)
            result.arrays["confusion"] = cm
            result.info["classes"] = [str(v) for v in self.sensitive.values]
        base_key = "no_model" if "no_model" in allr else "prior_only"
        base_name = "no-model imputation" if base_key == "no_model" else "prior only"

        def extra(metric: str, part: dict[str, Any]) -> dict[str, Any]:
            d = {
                "prior_only": part["prior_only"][metric],
                "no_model": part.get("no_model", {}).get(metric),
                "ideal": part.get("ideal", {}).get(metric),
                "n": part["attack"]["n"],
            }
            base = part[base_key][metric]
            val = part["attack"][metric]
            d["leakage"] = None if base is None or val is None else val - base
            return d

        figs = [
            Figure(
                "accuracy",
                allr["attack"]["accuracy"],
                True,
                allr[base_key]["accuracy"],
                base_name,
                {
                    **extra("accuracy", allr),
                    "per_class": _named(allr["attack"]["per_class"], self.sensitive),
                    "g_mean": allr["attack"]["g_mean"],
                    "mcc": allr["attack"]["mcc"],
                },
            ),
            Figure(
                "balanced_accuracy",
                allr["attack"]["balanced_accuracy"],
                True,
                allr[base_key]["balanced_accuracy"],
                base_name,
                extra("balanced_accuracy", allr),
            ),
            Figure(
                "accuracy_vs_prior",
                allr["attack"]["accuracy"],
                True,
                allr["prior_only"]["accuracy"],
                "prior only",
            ),
        ]
        if allr["attack"]["auc"] is not None and allr[base_key]["auc"] is not None:
            figs.append(
                Figure(
                    "auc",
                    allr["attack"]["auc"],
                    True,
                    allr[base_key]["auc"],
                    base_name,
                    extra("auc", allr),
                )
            )
        for split in ("in_training", "out_of_training"):
            if split in rep:
                part = rep[split]
                figs.append(
                    Figure(
                        f"accuracy_{split}",
                        part["attack"]["accuracy"],
                        True,
                        part[base_key]["accuracy"],
                        base_name,
                        extra("accuracy", part),
                    )
                )
        return figs


def _named(per_class: dict[int, Any], sensitive: Marginal) -> dict[str, Any]:
    return {str(sensitive.values[c]): v for c, v in per_class.items()}
