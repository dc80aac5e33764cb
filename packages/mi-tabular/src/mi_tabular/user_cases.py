"""``tabular-model``: audit your own fitted scikit-learn estimator for attribute inference
(``mi audit``; see the root README).

    [[targets]]
    case = "tabular-model"
    access = ["white-box", "black-box-scores", "label-only"]
    [targets.options]
    model = "mypkg.models:fitted_model"   # a fitted estimator, or a factory returning one
    data = "records.csv"                  # the records under attack, with their true values
    sensitive = "smoker"                  # the attribute to infer (a model input column)
    label = "disease"                     # the model's label column (known to the attacker)
    member = "in_training"                # optional 0/1 column: record was a training record
    auxiliary = "public.csv"              # optional public records: the no-model baseline

Models are never unpickled: the import path runs your own code, which fits or loads the model.
The attacker gets the known columns of ``data`` (``known``, default every model input but the
sensitive one; the other inputs are summed out under their public prior), the labels, the
public records and the sensitive attribute's prior; the evaluator compares the inferred values
with the true ones, beside the no-model imputation from the same knowledge (the gap is the
leakage the model causes), as in the built-in ``cohort-tree`` case.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mi_core.audit.case import AuditCase
from mi_core.audit.imports import check_options, load_object, option_path
from mi_core.errors import ConfigError
from mi_core.metrics.base import Figure
from mi_core.result import AttackResult
from mi_core.threat import Access, Knowledge
from mi_core.views import TargetInfo, TargetView
from mi_tabular.data import from_frame
from mi_tabular.evaluate import AttributeEvaluator

REQUIRED = ("model", "data", "sensitive")
OPTIONAL = (
    "model_kwargs",
    "label",
    "features",
    "known",
    "member",
    "auxiliary",
    "input_format",
)


def _columns(options: dict[str, Any], key: str) -> list[str] | None:
    value = options.get(key)
    if value is not None and (
        not isinstance(value, list) or not all(isinstance(c, str) for c in value)
    ):
        raise ConfigError(f"targets.options.{key}: a list of column names, got {value!r}")
    return value


def _csv(path: Path, key: str, need: list[str]) -> pd.DataFrame:
    frame = pd.read_csv(path)
    lacking = [c for c in need if c not in frame.columns]
    if lacking:
        raise ConfigError(
            f"targets.options.{key}: {path} lacks columns {lacking}; its columns are "
            f"{list(frame.columns)}"
        )
    return frame


class TabularModelCase(AuditCase):
    """A user's fitted scikit-learn estimator, audited for inference of a sensitive input
    attribute of the records in their CSV file."""

    name = "tabular-model"
    modality = "tabular"
    description = "your own fitted sklearn estimator (options: model, data, sensitive, ...)"

    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> TabularModelCase:
        check_options(options, cls.name, REQUIRED, OPTIONAL)
        for key in ("sensitive", "label", "member"):
            if options.get(key) is not None and not isinstance(options[key], str):
                raise ConfigError(f"targets.options.{key}: a column name, got {options[key]!r}")
        _columns(options, "features")
        _columns(options, "known")
        if options.get("input_format", "frame") not in ("frame", "array"):
            raise ConfigError(
                "targets.options.input_format: 'frame' (the model takes a DataFrame) or 'array' "
                f"(a float array in `features` order), got {options['input_format']!r}"
            )
        if not isinstance(options.get("model_kwargs", {}), dict):
            raise ConfigError("targets.options.model_kwargs: must be a table of keyword arguments")
        option_path(options, "data", (".csv",))
        option_path(options, "auxiliary", (".csv",))
        return cls(dict(options))

    def _model(self) -> Any:
        o = self.options
        obj = load_object(o["model"], "targets.options.model")
        if callable(obj) and not hasattr(obj, "predict"):
            try:
                obj = obj(**o.get("model_kwargs", {}))
            except TypeError as exc:
                raise ConfigError(
                    f"targets.options.model_kwargs: calling {o['model']!r} failed: {exc}"
                ) from exc
        if not hasattr(obj, "predict"):
            raise ConfigError(
                f"targets.options.model: {o['model']!r} gave a {type(obj).__name__}, not a "
                "fitted estimator with predict()"
            )
        from sklearn.exceptions import NotFittedError
        from sklearn.utils.validation import check_is_fitted

        try:
            check_is_fitted(obj)
        except NotFittedError as exc:
            raise ConfigError(
                f"targets.options.model: {o['model']!r} is not fitted; the factory must return "
                "a fitted estimator"
            ) from exc
        except TypeError:  # not a scikit-learn estimator: trust its predict()
            pass
        return obj

    def prepare(self, workdir: Path, seed: int) -> None:
        o = self.options
        sens, label, member = o["sensitive"], o.get("label"), o.get("member")
        features = _columns(o, "features")
        need = [sens, *(c for c in (label, member) if c), *(features or [])]
        frame = _csv(Path(o["data"]), "data", need)
        if features is None:
            features = [c for c in frame.columns if c not in (label, member)]
        ds = from_frame(frame, sens, label, features, name=str(o["data"]))
        known = _columns(o, "known")
        if known is not None:
            bad = [c for c in known if c not in features or c == sens]
            if bad:
                raise ConfigError(
                    f"targets.options.known: {bad} are not non-sensitive model inputs; "
                    f"choose from {[c for c in features if c != sens]}"
                )
        unknown = [] if known is None else [c for c in features if c != sens and c not in known]
        aux_path = option_path(o, "auxiliary", (".csv",))
        aux = (
            None if aux_path is None else _csv(aux_path, "auxiliary", [*features, *[label or sens]])
        )
        if unknown and aux is None:
            raise ConfigError(
                f"targets.options.auxiliary: the attacker does not know {unknown}; give public "
                "records to draw their prior from (or list them in `known`)"
            )
        self.model = self._model()
        self.data, self.frame = ds, frame
        self.member = None if member is None else frame[member].astype(bool).to_numpy()
        self.ak = ds.knowledge(
            frame, aux, unknown=unknown, input_format=o.get("input_format", "frame")
        )
        private = None if self.member is None else frame[self.member]
        self.evaluator = AttributeEvaluator.build(
            self.ak,
            frame[sens],
            member=self.member,
            private=private if aux is not None and label else None,
            label_column=label,
            seed=seed,
        )

    def target(self) -> Any:
        return self.model

    def target_info(self) -> TargetInfo:
        classes = getattr(self.model, "classes_", None)
        return TargetInfo(modality="tabular", num_classes=None if classes is None else len(classes))

    def knowledge(self, access: Access) -> Knowledge:
        return self.ak.to_knowledge()

    def evaluate(self, result: AttackResult) -> list[Figure]:
        return self.evaluator.evaluate(result)

    def utility(self, view: TargetView | None = None) -> dict[str, float]:
        """Accuracy of the model (or of the labels a defended view releases) on the records
        outside its training set (all records when ``member`` is not given)."""
        label = self.options.get("label")
        if label is None or not hasattr(self.model, "classes_"):
            return {}
        rows = self.frame if self.member is None else self.frame[~self.member]
        if len(rows) == 0:
            return {}
        x = self.ak.to_model_input(rows)
        y = rows[label].to_numpy()
        out = np.asarray(self.model.predict(x) if view is None else view(x))
        pred = self.model.classes_[out.argmax(1)] if out.ndim == 2 else out
        key = "test_accuracy" if self.member is not None else "accuracy_on_data"
        return {key: float((pred == y).mean())}
