"""Audit cases: a target model with its private data, the attacker's knowledge and an evaluator.

A case is what an audit runs attacks against. Modality packages ship built-in cases (small
targets that install offline) through the ``mi.cases`` entry point group; ``mi audit --demo``
runs every installed case's default cells. A case never hands its private data to an attack:
the attack gets a view and :class:`~mi_core.threat.Knowledge`, the evaluator gets the result.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from mi_core.errors import ConfigError, NotApplicable
from mi_core.metrics.base import Figure
from mi_core.result import AttackResult
from mi_core.threat import Access, Knowledge

if TYPE_CHECKING:
    from mi_core.views import TargetInfo, TargetView


@dataclass(frozen=True)
class CellDefaults:
    """A default (attack, access, config) cell of a case."""

    attack: str
    access: str
    config: dict[str, Any] = field(default_factory=dict)
    budget: int | None = None
    k: int | None = None


class AuditCase:
    """Base class of audit cases. Subclasses set ``name``, ``modality``, ``description`` and
    ``default_cells`` and implement :meth:`prepare`, :meth:`target`, :meth:`knowledge` and
    :meth:`evaluate`."""

    name: ClassVar[str]
    modality: ClassVar[str]
    description: ClassVar[str] = ""
    default_cells: ClassVar[tuple[CellDefaults, ...]] = ()
    #: (defense name, config) pairs the demo compares
    default_defenses: ClassVar[tuple[tuple[str, dict[str, Any]], ...]] = ()
    #: the dataclass of the case's ``[targets.options]`` (fields documented under
    #: ``Attributes:`` in its docstring; ``mi list cases --options CASE`` prints them); None:
    #: the case takes no options
    Options: ClassVar[type | None] = None
    #: for skip reasons: the option that gives a piece of knowledge (``{"prior": "reference"}``)
    knowledge_options: ClassVar[dict[str, str]] = {}
    #: where :meth:`prepare` puts the target (and trains what it trains): ``auto``, ``cpu``,
    #: ``cuda``, ``cuda:N``; the runner sets it from the cell before calling :meth:`prepare`
    #: (``[audit] device``, ``[[targets]] device``, ``mi run --device``). Cases that ignore it
    #: keep their target on the CPU; black-box views move inputs to a module's device anyway.
    device: str = "auto"

    def torch_device(self) -> Any:
        """:attr:`device` as a ``torch.device`` (:func:`mi_core.device.get_device`)."""
        from mi_core.device import get_device

        return get_device(self.device, "device")

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> AuditCase:
        """Build the case from the audit file's ``[targets.options]`` table. Built-in cases take
        none; generic cases for a user's own model take e.g. a model import path."""
        if options:
            raise ConfigError(
                f"targets.options: case {cls.name!r} takes no options, got {sorted(options)}"
            )
        return cls()

    def provides(self, access: Access) -> set[str] | None:
        """The knowledge this case gives attacks at ``access``, named as in
        :attr:`mi_core.attack.BaseAttack.requires` (``{"auxiliary", "prior:causal-lm", ...}``);
        called before :meth:`prepare`, so it depends on the options only. None (the default):
        unknown, and no attack is skipped for lack of knowledge."""
        return None

    def prepare(self, workdir: Path, seed: int) -> None:
        """Train or load (cached under ``workdir``) the target and the evaluation model; put
        the target on :attr:`device`."""
        raise NotImplementedError

    def target(self) -> Any:
        """The target model: nn.Module, sklearn estimator or callable."""
        raise NotImplementedError

    def target_info(self) -> TargetInfo:
        from mi_core.views import TargetInfo

        return TargetInfo(modality=self.modality)

    def view_kwargs(self, access: Access) -> dict[str, Any]:
        """Extra keyword arguments for :func:`mi_core.views.make_view` (e.g. postprocess)."""
        return {}

    def knowledge(self, access: Access) -> Knowledge:
        raise NotImplementedError

    def evaluate(self, result: AttackResult) -> list[Figure]:
        """Figures (each beside its baseline); may add evidence arrays to ``result.arrays``."""
        raise NotImplementedError

    def with_defense(self, defense: Any, workdir: Path, seed: int) -> AuditCase:
        """A copy of this case whose target was trained under a training defense (or on data
        transformed by a data defense). Cases that cannot retrain raise NotApplicable."""
        raise NotApplicable(
            f"case {self.name!r} cannot retrain its target under the {defense.kind.value} "
            f"defense {defense.name!r}"
        )

    def utility(self, view: TargetView | None = None) -> dict[str, float]:
        """The target's utility (e.g. test accuracy), for defense comparisons. ``view`` is the
        defended view when an output defense is on (utility as users see it), else None."""
        return {}
