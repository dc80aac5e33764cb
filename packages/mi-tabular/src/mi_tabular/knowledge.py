"""What an attribute-inference attacker knows, validated in one place.

Fredrikson et al. (USENIX Security 2014, survey Eq. 1) fix the threat model every tabular attack
here shares: the attacker holds the non-sensitive attributes of the records under attack
(``known``), often their label or the model's output for them (``labels``), the marginal prior
of the sensitive attribute (a :class:`Marginal`), and access to the model. Attributes that are
neither known nor sensitive are marginalised with their own priors (``unknown``). Some attacks
also use public records from the same population (``auxiliary``).

:class:`AttributeKnowledge` holds all of it and checks it; ``to_knowledge()`` packs it into the
:class:`mi_core.Knowledge` every attack takes, and :func:`attribute_knowledge` unpacks it again.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from mi_core.errors import ConfigError
from mi_core.threat import Knowledge

Task = Literal["auto", "classification", "regression"]


def _py(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v


@dataclass(frozen=True)
class Marginal:
    """A discrete attribute: its column, candidate values (as the model's input holds them) and
    marginal prior ``p_i`` of survey Eq. 1.

    Raises:
        ConfigError: fewer than two values (a constant attribute has nothing to infer),
            duplicate values, a prior of the wrong length, negative, or not summing to one.
    """

    column: str
    values: tuple[Any, ...]
    prior: tuple[float, ...]

    def __post_init__(self) -> None:
        values = tuple(_py(v) for v in self.values)
        object.__setattr__(self, "values", values)
        object.__setattr__(self, "prior", tuple(float(p) for p in self.prior))
        where = f"sensitive attribute {self.column!r}"
        if len(values) < 2:
            raise ConfigError(
                f"{where}: values holds {len(values)} value(s) {list(values)}; a constant "
                "column has nothing to infer (choose an attribute that varies)"
            )
        if len(set(values)) != len(values):
            raise ConfigError(f"{where}: values holds duplicates: {list(values)}")
        if len(self.prior) != len(values):
            raise ConfigError(
                f"{where}: prior has {len(self.prior)} entries for {len(values)} values"
            )
        if any(not math.isfinite(p) or p < 0 for p in self.prior):
            raise ConfigError(f"{where}: prior must be finite and non-negative, got {self.prior}")
        total = sum(self.prior)
        if abs(total - 1.0) > 1e-6:
            raise ConfigError(
                f"{where}: prior sums to {total:.6g}, not 1; normalise it (divide by the sum) "
                "or give frequencies with Marginal.from_data"
            )

    @classmethod
    def from_data(
        cls,
        data: pd.Series | Sequence[Any],
        column: str | None = None,
        values: Sequence[Any] | None = None,
        smoothing: float = 0.0,
    ) -> Marginal:
        """Empirical marginal of ``data`` (e.g. the attacker's public sample or published
        frequencies); ``values`` fixes the order / adds unseen values (with ``smoothing``)."""
        s = pd.Series(data)
        name = column or (str(s.name) if s.name is not None else "attribute")
        if s.isna().any():
            raise ConfigError(
                f"sensitive attribute {name!r}: {int(s.isna().sum())} missing values; drop or "
                "impute them before estimating the prior"
            )
        if values is None:
            uniq = pd.unique(s)
            try:
                values = sorted(uniq.tolist())
            except TypeError:
                values = uniq.tolist()
        counts = s.value_counts()
        freq = np.array([float(counts.get(v, 0)) for v in values]) + smoothing
        unseen = set(pd.unique(s).tolist()) - set(values)
        if unseen:
            raise ConfigError(
                f"sensitive attribute {name!r}: data holds values {sorted(map(str, unseen))} "
                f"outside values={list(values)}"
            )
        if freq.sum() <= 0:
            raise ConfigError(f"sensitive attribute {name!r}: no data to estimate a prior from")
        return cls(name, tuple(values), tuple((freq / freq.sum()).tolist()))

    @property
    def most_likely(self) -> Any:
        return self.values[int(np.argmax(self.prior))]

    def codes(self, values: Any, what: str = "values") -> np.ndarray:
        """Indices of ``values`` in :attr:`values`; raises naming values outside the set."""
        arr = np.asarray(values, dtype=object).reshape(-1)
        index = {v: i for i, v in enumerate(self.values)}
        out = np.empty(arr.shape[0], dtype=np.int64)
        bad: set[Any] = set()
        for i, v in enumerate(arr):
            j = index.get(_py(v))
            if j is None:
                bad.add(v)
                j = -1
            out[i] = j
        if bad:
            raise ConfigError(
                f"{what}: values {sorted(map(str, bad))[:5]} are not among the candidate values "
                f"{list(self.values)} of {self.column!r}"
            )
        return out

    def log_prior(self) -> np.ndarray:
        with np.errstate(divide="ignore"):
            return np.log(np.asarray(self.prior, dtype=np.float64))


def _check_frame(frame: Any, name: str) -> pd.DataFrame:
    if not isinstance(frame, pd.DataFrame):
        raise ConfigError(
            f"{name}: expected a pandas DataFrame with named columns, got {type(frame).__name__}"
            " (wrap an array with pd.DataFrame(x, columns=[...]))"
        )
    return frame


def check_no_missing(frame: pd.DataFrame, name: str) -> None:
    """Raise naming the columns of ``frame`` that hold missing values."""
    na = frame.isna().sum()
    na = na[na > 0]
    if len(na):
        detail = ", ".join(f"{c!r} ({n})" for c, n in na.items())
        raise ConfigError(
            f"{name}: missing values in {detail}; impute or drop those records first "
            "(the model cannot be queried with missing attributes)"
        )


@dataclass
class AttributeKnowledge:
    """The attacker's knowledge for attribute inference (see the module docstring).

    Attributes:
        known: the records under attack: one row per record, the known non-sensitive columns.
        sensitive: the attribute under attack, its candidate values and prior.
        columns: the model's input columns, in the order the model expects.
        labels: per record, the label (``labels_are="true"``) or the model's output
            (``"predicted"``) the attacker knows; ``None`` if unknown.
        unknown: marginals of input columns the attacker does not know (summed out, Eq. 1).
        auxiliary: public records of the same population, with every input column and, when
            ``label_column`` is set, the label.
        label_column: the label's column in ``auxiliary``.
        classes: class labels in the order of the model's score columns (classification);
            default: the sorted labels seen.
        input_format: how candidate records reach the model: ``"frame"`` (a DataFrame),
            ``"array"`` (a float array in ``columns`` order) or ``"encoded"`` (``encode``).
        encode: frame -> model input (e.g. a scaler then ``torch.tensor``) for ``"encoded"``.
        task: ``classification``, ``regression`` or ``auto`` (from the view and labels).
    """

    known: pd.DataFrame
    sensitive: Marginal
    columns: tuple[str, ...]
    labels: np.ndarray | None = None
    labels_are: Literal["true", "predicted"] = "true"
    unknown: tuple[Marginal, ...] = ()
    auxiliary: pd.DataFrame | None = None
    label_column: str | None = None
    classes: tuple[Any, ...] | None = None
    input_format: Literal["frame", "array", "encoded"] = "frame"
    encode: Callable[[pd.DataFrame], Any] | None = field(default=None, repr=False)
    task: Task = "auto"

    def __post_init__(self) -> None:
        known = _check_frame(self.known, "knowledge.known_attributes")
        if not isinstance(self.sensitive, Marginal):
            raise ConfigError(
                "knowledge.prior: expected a mi_tabular.Marginal for the sensitive attribute "
                f"(column, values, prior), got {type(self.sensitive).__name__}"
            )
        self.columns = tuple(str(c) for c in self.columns)
        s = self.sensitive.column
        if s not in self.columns:
            raise ConfigError(
                f"sensitive column {s!r} is unknown: it is not one of the model's input columns "
                f"{list(self.columns)}"
            )
        if s in known.columns:
            raise ConfigError(
                f"knowledge.known_attributes holds the sensitive column {s!r}: drop it, the "
                "attacker must not know the value under attack"
            )
        unknown_cols = [m.column for m in self.unknown]
        for m in self.unknown:
            if not isinstance(m, Marginal):
                raise ConfigError("knowledge.unknown: expected Marginal objects")
            if m.column not in self.columns:
                raise ConfigError(
                    f"knowledge.unknown: column {m.column!r} is not a model input column"
                )
            if m.column == s or m.column in known.columns:
                raise ConfigError(
                    f"knowledge.unknown: column {m.column!r} is also sensitive or known"
                )
        missing = [c for c in self.columns if c != s and c not in unknown_cols and c not in known]
        if missing:
            raise ConfigError(
                f"knowledge.known_attributes lacks model input columns {missing}: give them, or "
                "declare them unknown with a Marginal (knowledge.unknown)"
            )
        check_no_missing(known[[c for c in self.columns if c in known.columns]], "known_attributes")
        if len(known) == 0:
            raise ConfigError("knowledge.known_attributes: no records to attack")
        if self.labels is not None:
            labels = np.asarray(self.labels)
            if labels.ndim != 1 or labels.shape[0] != len(known):
                raise ConfigError(
                    f"knowledge.target_labels: {labels.size} labels for {len(known)} records; "
                    "give one label per record"
                )
            if pd.isna(labels).any():
                raise ConfigError("knowledge.target_labels: holds missing values")
            self.labels = labels
        if self.labels_are not in ("true", "predicted"):
            raise ConfigError(
                f"knowledge.labels_are: unknown value {self.labels_are!r}; allowed: 'true', "
                "'predicted'"
            )
        if self.auxiliary is not None:
            aux = _check_frame(self.auxiliary, "knowledge.auxiliary")
            need = [*self.columns] + ([self.label_column] if self.label_column else [])
            lacking = [c for c in need if c not in aux.columns]
            if lacking:
                raise ConfigError(f"knowledge.auxiliary lacks columns {lacking}")
            check_no_missing(aux[need], "knowledge.auxiliary")
            self.sensitive.codes(aux[s].to_numpy(), "knowledge.auxiliary[sensitive]")
        if self.input_format not in ("frame", "array", "encoded"):
            raise ConfigError(
                f"knowledge.input_format: unknown value {self.input_format!r}; allowed: 'frame', "
                "'array', 'encoded'"
            )
        if self.input_format == "encoded" and self.encode is None:
            raise ConfigError("knowledge.encode: input_format='encoded' needs an encode callable")
        if self.encode is not None and self.input_format != "encoded":
            self.input_format = "encoded"
        if self.task not in ("auto", "classification", "regression"):
            raise ConfigError(
                f"knowledge.task: unknown value {self.task!r}; allowed: 'auto', "
                "'classification', 'regression'"
            )

    # -----------------------------------------------------------------------------------------
    @property
    def n(self) -> int:
        return len(self.known)

    @property
    def known_columns(self) -> list[str]:
        """Known model-input columns (in model order)."""
        return [c for c in self.columns if c in self.known.columns]

    def require_labels(self, who: str) -> np.ndarray:
        if self.labels is None:
            raise ConfigError(
                f"knowledge.target_labels: {who} needs the label (or model output) of each "
                "record under attack, but none was given"
            )
        return self.labels

    def require_auxiliary(self, who: str, *, labelled: bool = False) -> pd.DataFrame:
        if self.auxiliary is None:
            raise ConfigError(
                f"knowledge.auxiliary: {who} needs public records of the same population "
                "(every input column and the sensitive one), but none were given"
            )
        if labelled and self.label_column is None:
            raise ConfigError(
                f"knowledge.label_column: {who} needs the label column of the auxiliary records"
            )
        return self.auxiliary

    def to_model_input(self, frame: pd.DataFrame) -> Any:
        """Candidate records (a frame in ``columns`` order) as the model takes them."""
        frame = frame[list(self.columns)]
        if self.input_format == "array":
            return frame.to_numpy(dtype=np.float64)
        if self.input_format == "encoded":
            assert self.encode is not None
            return self.encode(frame)
        return frame

    def to_knowledge(self, **extra: Any) -> Knowledge:
        """Pack into :class:`mi_core.Knowledge` (what ``attack.run`` takes)."""
        return Knowledge(
            auxiliary=self.auxiliary,
            known_attributes=self.known,
            target_labels=self.labels,
            prior=self.sensitive,
            extra={"attribute": self, **extra},
        )


_EXTRA_FIELDS = (
    "columns",
    "labels_are",
    "unknown",
    "label_column",
    "classes",
    "input_format",
    "encode",
    "task",
)


def attribute_knowledge(knowledge: Knowledge) -> AttributeKnowledge:
    """The :class:`AttributeKnowledge` inside ``knowledge`` (built by
    :meth:`AttributeKnowledge.to_knowledge`, or from plain fields: ``known_attributes``,
    ``prior`` (a :class:`Marginal`), ``target_labels``, ``auxiliary`` and ``extra`` keys
    ``columns``, ``unknown``, ``label_column``, ``classes``, ``input_format``, ``encode``,
    ``task``, ``labels_are``)."""
    ak = knowledge.extra.get("attribute")
    if isinstance(ak, AttributeKnowledge):
        return ak
    if knowledge.known_attributes is None:
        raise ConfigError(
            "knowledge.known_attributes: attribute inference needs the known attributes of the "
            "records under attack (a DataFrame without the sensitive column)"
        )
    if knowledge.prior is None:
        raise ConfigError(
            "knowledge.prior: attribute inference needs the sensitive attribute as a "
            "mi_tabular.Marginal(column, values, prior)"
        )
    kwargs = {k: knowledge.extra[k] for k in _EXTRA_FIELDS if k in knowledge.extra}
    if "columns" not in kwargs:
        known = _check_frame(knowledge.known_attributes, "knowledge.known_attributes")
        kwargs["columns"] = (*known.columns, knowledge.prior.column)
    return AttributeKnowledge(
        known=knowledge.known_attributes,
        sensitive=knowledge.prior,
        labels=knowledge.target_labels,
        auxiliary=knowledge.auxiliary,
        **kwargs,
    )
