"""The defense protocol, in three kinds (survey Sec. VI):

* **output** defenses wrap a black-box target view (top-k, rounding, noise, purifiers): the attack
  sees only the defended outputs;
* **training** defenses wrap a training routine, opacus-style: they take the user's module,
  optimizer and data loader and return wrapped ones (plus a loss hook where the method needs one);
* **data** defenses transform a data set before training (deduplication, edge randomisation).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any, ClassVar

from mi_core.config import build_config
from mi_core.errors import AccessError, ConfigError
from mi_core.threat import Access
from mi_core.views import BlackBoxView, TargetView


class DefenseKind(enum.Enum):
    OUTPUT = "output"
    TRAINING = "training"
    DATA = "data"


class BaseDefense:
    """Common behaviour of defenses. Subclasses set ``name``, ``kind``, ``modalities``,
    ``paper``, ``Config`` (a validated dataclass)."""

    name: ClassVar[str]
    kind: ClassVar[DefenseKind]
    modalities: ClassVar[tuple[str, ...]] = ("image", "text", "graph", "tabular")
    paper: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    Config: ClassVar[type]

    def __init__(self, config: Any = None, **overrides: Any) -> None:
        self.config = build_config(self.Config, config, where=f"{self.name}.config", **overrides)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> BaseDefense:
        return cls(dict(data or {}))

    @classmethod
    def describe(cls) -> dict[str, str]:
        return {
            "name": cls.name,
            "kind": cls.kind.value,
            "modality": ",".join(cls.modalities),
            "paper": cls.paper,
            "summary": cls.summary,
        }


class OutputDefense(BaseDefense):
    """Wraps a black-box view; implement ``transform(outputs)`` (and optionally ``min_access``)."""

    kind = DefenseKind.OUTPUT
    #: the access of the views this defense returns (None: same as the wrapped view)
    output_access: ClassVar[Access | None] = None

    def wrap(self, view: TargetView) -> BlackBoxView:
        if not isinstance(view, BlackBoxView):
            raise AccessError(
                f"defense {self.name!r} processes released outputs, so it wraps black-box views; "
                f"got a {view.access.value} view. Narrow it first: "
                "view.restrict('black-box-scores')"
            )
        if view.modality is not None and view.modality not in self.modalities:
            raise ConfigError(
                f"view.modality: defense {self.name!r} applies to {', '.join(self.modalities)}, "
                f"not {view.modality}"
            )
        self.check_view(view)
        return view.map_outputs(self.transform, access=self.output_access or view.access)

    def check_view(self, view: BlackBoxView) -> None:
        """Hook for defenses that need e.g. scores (not labels) or a class count."""
        if view.access is Access.LABEL_ONLY:
            raise AccessError(
                f"defense {self.name!r} transforms scores, but the view releases labels only"
            )

    def transform(self, outputs: Any) -> Any:
        raise NotImplementedError


class TrainingDefense(BaseDefense):
    """Wraps a training routine: ``wrap(module, optimizer, data_loader)`` returns the objects to
    train with; ``loss(outputs, targets, inputs)`` is the defended loss where the method changes
    it. Implementations may also provide ``fit(...)`` training end to end."""

    kind = DefenseKind.TRAINING

    def wrap(self, module: Any, optimizer: Any, data_loader: Any) -> tuple[Any, Any, Any]:
        return module, optimizer, data_loader


class DataDefense(BaseDefense):
    """Transforms a data set before training."""

    kind = DefenseKind.DATA

    def transform(self, data: Any) -> Any:
        raise NotImplementedError
