"""``tabular-model``: audit your own fitted scikit-learn estimator for attribute inference
(``mi audit``; see the root README; ``mi list cases --options tabular-model`` lists the options).

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

``data`` and ``auxiliary`` may also be Hugging Face datasets: a table such as
``data = {dataset = "records/", split = "train"}`` names a ``save_to_disk`` folder or a hub name.

Models are never unpickled: the import path runs your own code, which fits or loads the model.
Everything is checked when the audit file is read: the columns exist, the model imports, is
fitted and predicts on the records. The attacker gets the known columns of ``data`` (``known``,
default every model input but the sensitive one; the other inputs are summed out under their
public prior), the labels, the public records and the sensitive attribute's prior; the evaluator
compares the inferred values with the true ones, beside the no-model imputation from the same
knowledge (the gap is the leakage the model causes), as in the built-in ``cohort-tree`` case.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd

from mi_core.audit.case import AuditCase
from mi_core.audit.imports import (
    call_factory,
    is_dataset_option,
    load_dataset_option,
    load_object,
    option_path,
)
from mi_core.config import build_config
from mi_core.errors import ConfigError
from mi_core.metrics.base import Figure
from mi_core.result import AttackResult
from mi_core.threat import Access, Knowledge
from mi_core.views import TargetInfo, TargetView
from mi_tabular.data import from_frame
from mi_tabular.evaluate import AttributeEvaluator


@dataclass
class TabularModelOptions:
    """Options of the ``tabular-model`` case (``[targets.options]``).

    Attributes:
        model: import path ``package.module:attribute`` of a fitted estimator, or of a class or
            function returning one (called with ``model_kwargs``).
        data: the records under attack, with their true values: a ``.csv`` file, or a Hugging
            Face dataset ``{dataset = "save_to_disk folder or hub name", split = "train"}``.
        sensitive: the attribute to infer: a column of ``data`` and an input of the model.
        model_kwargs: keyword arguments for the function or class ``model`` names.
        label: the model's label column in ``data``, known to the attacker (attacks that need
            each record's label are skipped without it).
        features: the model's input columns, in the order it expects (default: every column of
            ``data`` but ``label`` and ``member``).
        known: the non-sensitive inputs the attacker knows (default: all); the others are summed
            out under their public prior, which needs ``auxiliary``.
        member: a 0/1 column of ``data``: 1 for the records the model was trained on (figures
            inside and outside the training set).
        auxiliary: public records of the same population (a ``.csv`` or a dataset table as for
            ``data``): the attacker's data and the no-model baseline.
        input_format: ``frame`` (the model takes a DataFrame) or ``array`` (a float array in
            ``features`` order).
    """

    model: str
    data: str | dict[str, Any]
    sensitive: str
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    label: str | None = None
    features: list[str] | None = None
    known: list[str] | None = None
    member: str | None = None
    auxiliary: str | dict[str, Any] | None = None
    input_format: Literal["frame", "array"] = "frame"

    def __post_init__(self) -> None:
        for key in ("features", "known"):
            cols = getattr(self, key)
            if cols is not None and (not cols or len(set(cols)) != len(cols)):
                raise ConfigError(f"{key}: a non-empty list of distinct column names, got {cols!r}")


def _frame(value: Any, key: str) -> tuple[pd.DataFrame, str]:
    """The records an option names (a CSV file or a Hugging Face dataset) and a label for
    messages."""
    where = f"targets.options.{key}"
    if is_dataset_option(value):
        ds, _ = load_dataset_option(value, where, {})
        return ds.to_pandas(), f"dataset {value['dataset']!r}"
    path = option_path({key: value}, key, (".csv",))
    assert path is not None
    try:
        frame = pd.read_csv(path)
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise ConfigError(f"{where}: cannot read {path} as CSV ({exc})") from None
    if len(frame) == 0:
        raise ConfigError(f"{where}: {path} holds no records")
    return frame, str(path)


def _has_columns(frame: pd.DataFrame, source: str, key: str, cols: list[str]) -> None:
    lacking = [c for c in cols if c not in frame.columns]
    if lacking:
        what = repr(lacking[0]) if len(lacking) == 1 else str(lacking)
        raise ConfigError(
            f"targets.options.{key}: {source} has no column {what}; its columns are "
            f"{list(frame.columns)}"
        )


class TabularModelCase(AuditCase):
    """A user's fitted scikit-learn estimator, audited for inference of a sensitive input
    attribute of the records in their CSV file (or dataset)."""

    name = "tabular-model"
    modality = "tabular"
    description = "your own fitted sklearn estimator (options: model, data, sensitive, ...)"
    Options = TabularModelOptions
    knowledge_options: ClassVar[dict[str, str]] = {
        "target_labels": "label",
        "auxiliary": "auxiliary",
    }

    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> TabularModelCase:
        """Check the options and read the records and the model now (the audit file's read)."""
        given = {k: v for k, v in options.items() if v is not None}
        opts = build_config(TabularModelOptions, given, where="targets.options")
        case = cls(given)
        case._read(opts)
        return case

    def _read(self, o: TabularModelOptions) -> None:
        sens, label, member = o.sensitive, o.label, o.member
        frame, source = _frame(o.data, "data")
        _has_columns(frame, source, "sensitive", [sens])
        for key in ("label", "member"):
            if getattr(o, key) is not None:
                _has_columns(frame, source, key, [getattr(o, key)])
        if o.features is not None:
            _has_columns(frame, source, "features", o.features)
        features = o.features or [c for c in frame.columns if c not in (label, member)]
        if sens not in features:
            raise ConfigError(
                f"targets.options.sensitive: {sens!r} is not among the model's inputs "
                f"(features) {features}"
            )
        if label is not None and label in features:
            raise ConfigError(
                f"targets.options.features: the label {label!r} cannot be a model input"
            )
        if member is not None:
            values = set(pd.unique(frame[member]).tolist())
            if not values <= {0, 1}:
                raise ConfigError(
                    f"targets.options.member: column {member!r} must hold 0/1 (1: a training "
                    f"record), it holds {sorted(values, key=str)[:5]}"
                )
        known = o.known
        if known is not None:
            bad = [c for c in known if c not in features or c == sens]
            if bad:
                raise ConfigError(
                    f"targets.options.known: {bad} are not non-sensitive model inputs; "
                    f"choose from {[c for c in features if c != sens]}"
                )
        unknown = [] if known is None else [c for c in features if c != sens and c not in known]
        aux = None
        if o.auxiliary is not None:
            aux, aux_source = _frame(o.auxiliary, "auxiliary")
            _has_columns(aux, aux_source, "auxiliary", [*features, *([label] if label else [])])
        if unknown and aux is None:
            raise ConfigError(
                f"targets.options.auxiliary: the attacker does not know {unknown}; give public "
                "records to draw their prior from (or list them in `known`)"
            )
        ds = from_frame(frame, sens, label, features, name=source)
        try:
            self.ak = ds.knowledge(frame, aux, unknown=unknown, input_format=o.input_format)
        except ConfigError as exc:
            raise ConfigError(f"targets.options.data: {exc}") from None
        self.model = self._model(o)
        self._check_predict(o, frame, source)
        self.data, self.frame, self.features = ds, frame, features
        self.member = None if member is None else frame[member].astype(bool).to_numpy()
        self.aux = aux

    def _model(self, o: TabularModelOptions) -> Any:
        obj = load_object(o.model, "targets.options.model")
        if not hasattr(obj, "predict"):
            obj = call_factory(
                obj, o.model, o.model_kwargs, "targets.options.model", "a fitted estimator"
            )
        if not hasattr(obj, "predict") or isinstance(obj, type):
            raise ConfigError(
                f"targets.options.model: {o.model!r} gave a {type(obj).__name__}, not a "
                "fitted estimator with predict()"
            )
        from sklearn.exceptions import NotFittedError
        from sklearn.utils.validation import check_is_fitted

        try:
            check_is_fitted(obj)
        except NotFittedError:
            raise ConfigError(
                f"targets.options.model: {o.model!r} is not fitted; the factory must return "
                "a fitted estimator"
            ) from None
        except TypeError:  # not a scikit-learn estimator: trust its predict()
            pass
        return obj

    def _check_predict(self, o: TabularModelOptions, frame: pd.DataFrame, source: str) -> None:
        """The model predicts on a few records of ``data`` (inputs as the attacks send them),
        and knows every label the records carry."""
        rows = frame.head(3)
        try:
            out = np.asarray(self.model.predict(self.ak.to_model_input(rows)))
        except Exception as exc:
            raise ConfigError(
                f"targets.options.model: predict() fails on records of {source} "
                f"({type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}); "
                "check `features` (the model's input columns, in order) and `input_format`"
            ) from None
        if out.shape[:1] != (len(rows),):
            raise ConfigError(
                f"targets.options.model: predict() gave shape {out.shape} for {len(rows)} records"
            )
        classes = getattr(self.model, "classes_", None)
        if o.label is not None and classes is not None:
            unseen = sorted(
                set(frame[o.label].tolist()) - set(np.asarray(classes).tolist()), key=str
            )
            if unseen:
                raise ConfigError(
                    f"targets.options.label: values {unseen[:5]} of column {o.label!r} are not "
                    f"classes of the model ({list(classes)[:10]})"
                )

    def provides(self, access: Access) -> set[str]:
        have = {"known_attributes", "prior", "attribute", "columns"}
        if self.options.get("label") is not None:
            have.add("target_labels")
        if self.options.get("auxiliary") is not None:
            have.add("auxiliary")
        return have

    def prepare(self, workdir: Path, seed: int) -> None:
        o = self.options
        label = o.get("label")
        private = None if self.member is None else self.frame[self.member]
        self.evaluator = AttributeEvaluator.build(
            self.ak,
            self.frame[o["sensitive"]],
            member=self.member,
            private=private if self.aux is not None and label else None,
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
