"""What the tabular attribute-inference attacks share: reading the knowledge, the model's task
and class order, the access an ``output`` setting needs, and packing a posterior into a result."""

from __future__ import annotations

from typing import Any

import numpy as np

from mi_core.attack import BaseAttack
from mi_core.errors import ConfigError
from mi_core.result import AttackResult
from mi_core.threat import Access, Knowledge
from mi_core.views import TargetView
from mi_tabular.knowledge import AttributeKnowledge, attribute_knowledge


class AttributeAttack(BaseAttack):
    """Base of the attribute-inference attacks (modality ``tabular``)."""

    modality = "tabular"
    #: the known attributes of the records under attack and the sensitive attribute's prior
    requires = ("known_attributes", "prior")

    def _set_access(self, output: str) -> None:
        """Attacks that read either scores or labels need the access their ``output`` implies;
        ``run`` then narrows the view to exactly that."""
        if output == "scores":
            self.access = Access.BLACK_BOX_SCORES  # type: ignore[misc]
        elif output == "labels":
            self.access = Access.LABEL_ONLY  # type: ignore[misc]

    def _knowledge(self, knowledge: Knowledge) -> AttributeKnowledge:
        return attribute_knowledge(knowledge)

    # the model's task -------------------------------------------------------------------
    @staticmethod
    def task(view: TargetView, ak: AttributeKnowledge) -> str:
        """``classification`` or ``regression``: the knowledge's ``task``, else a view with a
        class count is a classifier, else non-integer float labels mean a regressor."""
        if ak.task != "auto":
            return ak.task
        if view.num_classes is not None or ak.classes is not None:
            return "classification"
        if ak.labels is not None:
            lab = np.asarray(ak.labels)
            if np.issubdtype(lab.dtype, np.floating) and not np.all(np.mod(lab, 1) == 0):
                return "regression"
            if np.issubdtype(lab.dtype, np.number) and len(np.unique(lab)) > 50:
                return "regression"
        return "classification"

    @staticmethod
    def classes(view: TargetView, ak: AttributeKnowledge) -> tuple[Any, ...]:
        """Class labels in score-column order: given, else the sorted labels the attacker has
        seen (sklearn's ``classes_`` order)."""
        if ak.classes is not None:
            return tuple(ak.classes)
        seen: list[Any] = []
        if ak.labels is not None:
            seen.extend(np.unique(ak.labels).tolist())
        if ak.auxiliary is not None and ak.label_column is not None:
            seen.extend(np.unique(ak.auxiliary[ak.label_column].to_numpy()).tolist())
        uniq = sorted(set(seen), key=lambda v: (str(type(v)), v))
        k = view.num_classes
        if k is not None and len(uniq) != k:
            if all(isinstance(v, int | np.integer) for v in uniq) and max(uniq, default=0) < k:
                return tuple(range(k))
            raise ConfigError(
                f"knowledge.classes: the model has {k} classes but the labels seen are {uniq}; "
                "give classes= in the model's score-column order"
            )
        if len(uniq) < 2:
            raise ConfigError(
                "knowledge.classes: cannot tell the model's classes from a single label; give "
                "classes= in the model's score-column order"
            )
        return tuple(uniq)

    @staticmethod
    def log_prior(ak: AttributeKnowledge, kind: str, seed: int) -> np.ndarray:
        """``marginal``: the sensitive attribute's prior ``p_t`` (Eq. 1); ``auxiliary``: a
        per-record prior ``p(v | x_K)`` learned from the auxiliary records (no target access,
        no labels), so that the attack also uses how the known attributes relate to ``v``."""
        if kind == "marginal":
            return ak.sensitive.log_prior()
        from mi_tabular.baselines import no_model_imputation

        _, proba = no_model_imputation(ak, seed=seed, use_labels=False)
        return np.log(np.clip(proba, 1e-6, None))

    # results ----------------------------------------------------------------------------
    def _posterior_result(
        self,
        ak: AttributeKnowledge,
        post: np.ndarray,
        *,
        info: dict[str, Any] | None = None,
        arrays: dict[str, Any] | None = None,
        codes: np.ndarray | None = None,
    ) -> AttackResult:
        """A result whose reconstructions are the inferred values (a list, one per record) and
        whose scores are the ``(n, V)`` posterior."""
        post = np.asarray(post, dtype=np.float64)
        if codes is None:
            codes = post.argmax(axis=1)
        values = list(ak.sensitive.values)
        index = ak.known.index
        targets = (
            np.asarray(index, dtype=np.int64)
            if np.issubdtype(np.asarray(index).dtype, np.integer)
            else np.arange(len(index))
        )
        base_info = {
            "sensitive": ak.sensitive.column,
            "values": values,
            "prior": list(ak.sensitive.prior),
            "labels_are": ak.labels_are if ak.labels is not None else None,
        }
        base_info.update(info or {})
        return self._result(
            [values[int(c)] for c in codes],
            targets=targets,
            scores=post.astype(np.float32),
            info=base_info,
            arrays={"codes": np.asarray(codes, dtype=np.int64), **(arrays or {})},
        )
