"""Built-in audit case for tabular attribute inference (see ``mi list cases``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from mi_core.audit.case import AuditCase, CellDefaults
from mi_core.metrics.base import Figure
from mi_core.result import AttackResult
from mi_core.threat import Access, Knowledge
from mi_core.views import TargetInfo, TargetView
from mi_tabular.data import make_cohort, split_for_attack
from mi_tabular.evaluate import AttributeEvaluator


def cohort_tree(features: list[str], seed: int, min_samples_leaf: int = 1) -> Any:
    """A decision tree over the cohort's columns (``region`` one-hot encoded)."""
    from sklearn.compose import make_column_transformer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder
    from sklearn.tree import DecisionTreeClassifier

    pre = make_column_transformer(
        (OneHotEncoder(handle_unknown="ignore"), ["region"]),
        remainder="passthrough",
        verbose_feature_names_out=False,
    )
    tree = DecisionTreeClassifier(min_samples_leaf=min_samples_leaf, random_state=seed)
    return make_pipeline(pre, tree)


class CohortTreeCase(AuditCase):
    """A decision tree predicting a disease from a survey cohort that includes the sensitive
    ``smoker`` attribute (the lifestyle-survey setting of Fredrikson et al. 2015, generated
    with a known dependence). The attacker knows the other attributes and the outcome of 500
    training and 500 other records, the prior, and a public sample of 400 records; the
    evaluator reports each attack beside the prior, the no-model imputation from the same
    knowledge, and the ideal predictor, inside and outside the training set."""

    name = "cohort-tree"
    modality = "tabular"
    description = "decision tree on a generated survey cohort; infer 'smoker' (Fredrikson 2015)"
    default_cells = (
        CellDefaults("fredrikson-tree-wb", "white-box", {"progress": False}),
        CellDefaults("csmia", "black-box-scores", {"progress": False}),
        CellDefaults("lomia", "label-only", {"progress": False}),
    )
    #: the demo compares the attacks on a service that releases labels only (as one-hot
    #: vectors): CSMIA loses its scores, LOMIA is untouched (survey Sec. VI-A)
    default_defenses = (("label-only", {"release": "one-hot"}),)

    def prepare(self, workdir: Path, seed: int) -> None:
        self.data = make_cohort(6000, seed)
        ds = self.data
        self.split = split_for_attack(
            ds.frame, train=0.5, auxiliary=400, attacked_in=500, attacked_out=500, seed=seed
        )
        sp = self.split
        self.model = cohort_tree(ds.features, seed).fit(sp.train[ds.features], sp.train[ds.label])
        self.ak = ds.knowledge(sp.attacked, sp.auxiliary)
        self.evaluator = AttributeEvaluator.build(
            self.ak,
            sp.attacked[ds.sensitive],
            member=sp.member,
            private=sp.train,
            label_column=ds.label,
            seed=seed,
        )

    def target(self) -> Any:
        return self.model

    def target_info(self) -> TargetInfo:
        return TargetInfo(modality="tabular", num_classes=2)

    def provides(self, access: Access) -> set[str]:
        return {"known_attributes", "prior", "target_labels", "auxiliary", "attribute", "columns"}

    def knowledge(self, access: Access) -> Knowledge:
        return self.ak.to_knowledge()

    def evaluate(self, result: AttackResult) -> list[Figure]:
        return self.evaluator.evaluate(result)

    def utility(self, view: TargetView | None = None) -> dict[str, float]:
        """Hold-out accuracy of the tree, or of the labels a defended view releases."""
        ds, sp = self.data, self.split
        x, y = sp.holdout[ds.features], sp.holdout[ds.label]
        if view is None:
            return {"test_accuracy": float(self.model.score(x, y))}
        out = np.asarray(view(x))
        pred = self.model.classes_[out.argmax(1)] if out.ndim == 2 else out
        return {"test_accuracy": float((pred == y.to_numpy()).mean())}
