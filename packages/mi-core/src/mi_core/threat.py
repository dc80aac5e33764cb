"""Threat model: what access the attacker has to the target and what else they know.

The survey (Sec. II-B) splits attacks into white-box (weights and gradients) and black-box
(confidence scores or hard labels only). We refine black-box into full scores, top-k scores and
label-only, ordered from strongest to weakest: a view of a stronger access can always be narrowed
to a weaker one, never the reverse.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from mi_core.errors import ConfigError


class Access(enum.Enum):
    """Access an attacker has to a target model, strongest first."""

    WHITE_BOX = "white-box"
    BLACK_BOX_SCORES = "black-box-scores"
    BLACK_BOX_TOPK = "black-box-topk"
    LABEL_ONLY = "label-only"

    @property
    def rank(self) -> int:
        """Strength of the access: higher means more information."""
        return _RANK[self]

    def covers(self, needed: Access) -> bool:
        """True if an attacker with this access can run an attack that needs `needed`."""
        return self.rank >= needed.rank

    @classmethod
    def parse(cls, value: str | Access, field_name: str = "access") -> Access:
        """Parse a string such as ``"white-box"`` or ``"label_only"``; errors name the field."""
        if isinstance(value, Access):
            return value
        norm = str(value).strip().lower().replace("_", "-")
        aliases = {
            "whitebox": "white-box",
            "black-box": "black-box-scores",
            "blackbox": "black-box-scores",
            "scores": "black-box-scores",
            "top-k": "black-box-topk",
            "topk": "black-box-topk",
            "label": "label-only",
            "labels": "label-only",
        }
        norm = aliases.get(norm, norm)
        for member in cls:
            if member.value == norm:
                return member
        allowed = ", ".join(repr(m.value) for m in cls)
        raise ConfigError(f"{field_name}: unknown access {value!r}; allowed values: {allowed}")

    def __str__(self) -> str:
        return self.value


_RANK = {
    Access.WHITE_BOX: 3,
    Access.BLACK_BOX_SCORES: 2,
    Access.BLACK_BOX_TOPK: 1,
    Access.LABEL_ONLY: 0,
}


@dataclass
class Knowledge:
    """What the attacker holds besides the target view.

    Attributes:
        auxiliary: public / auxiliary data (a tensor, array, data set, corpus, graph ...). Never the
            private training data.
        known_attributes: for attribute inference, the non-sensitive attributes of the records
            under attack (e.g. a pandas frame without the sensitive column).
        target_labels: the classes / labels / outputs the attacker aims at (e.g. identities).
        prior: a prior model such as a pretrained generator.
        query_budget: how many items the attacker may query; enforced by the view, recorded here
            for reports.
        extra: anything modality specific, by name.
    """

    auxiliary: Any = None
    known_attributes: Any = None
    target_labels: Any = None
    prior: Any = None
    query_budget: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.query_budget is not None and (
            not isinstance(self.query_budget, int) or self.query_budget < 0
        ):
            raise ConfigError(
                f"query_budget: must be a non-negative integer or None, got {self.query_budget!r}"
            )

    def require(self, name: str, why: str = "") -> Any:
        """Return a piece of knowledge, or raise naming what is missing."""
        value = getattr(self, name) if hasattr(self, name) else self.extra.get(name)
        if value is None:
            hint = f" ({why})" if why else ""
            raise ConfigError(f"knowledge.{name}: this attack needs it{hint}, but none was given")
        return value
