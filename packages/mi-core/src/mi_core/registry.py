"""Plugin registry: attacks, defenses and demo cases found through entry points.

A modality package declares in its ``pyproject.toml``::

    [project.entry-points."mi.attacks"]
    mi-face = "mi_vision.attacks.mi_face:MIFace"

    [project.entry-points."mi.defenses"]
    top-k = "mi_defense.output.topk:TopK"

    [project.entry-points."mi.cases"]
    digits-softmax = "mi_vision.cases:DigitsSoftmaxCase"

so ``mi list`` and the audit find whatever is installed (cases are built-in audit
targets). Classes registered at run time with
:func:`register_attack` (e.g. a user's own attack in a notebook) are found too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from typing import Any

from mi_core.errors import ConfigError

ATTACK_GROUP = "mi.attacks"
DEFENSE_GROUP = "mi.defenses"
CASE_GROUP = "mi.cases"

_LOCAL: dict[str, dict[str, Any]] = {ATTACK_GROUP: {}, DEFENSE_GROUP: {}, CASE_GROUP: {}}


@dataclass(frozen=True)
class Entry:
    name: str
    target: str  # "module:attr" or "<local>"
    distribution: str | None
    loader: Callable[[], Any]

    def load(self) -> Any:
        try:
            return self.loader()
        except ImportError as exc:
            raise ConfigError(
                f"plugin {self.name!r} ({self.target}) failed to import: {exc}. Reinstall "
                f"{self.distribution or 'its package'} with its dependencies."
            ) from exc


def _constant(obj: Any) -> Callable[[], Any]:
    def load() -> Any:
        return obj

    return load


def _entries(group: str) -> dict[str, Entry]:
    found: dict[str, Entry] = {}
    for ep in metadata.entry_points(group=group):
        dist = getattr(ep, "dist", None)
        found[ep.name] = Entry(ep.name, ep.value, dist.name if dist else None, ep.load)
    for name, obj in _LOCAL[group].items():
        found[name] = Entry(name, "<local>", None, _constant(obj))
    return dict(sorted(found.items()))


def register_attack(cls: type) -> type:
    """Register an attack class in this process (decorator)."""
    _LOCAL[ATTACK_GROUP][cls.name] = cls  # type: ignore[attr-defined]
    return cls


def register_case(cls: type) -> type:
    """Register an audit case class in this process (decorator)."""
    _LOCAL[CASE_GROUP][cls.name] = cls  # type: ignore[attr-defined]
    return cls


def register_defense(cls: type) -> type:
    """Register a defense class in this process (decorator)."""
    _LOCAL[DEFENSE_GROUP][cls.name] = cls  # type: ignore[attr-defined]
    return cls


def attack_entries() -> dict[str, Entry]:
    return _entries(ATTACK_GROUP)


def defense_entries() -> dict[str, Entry]:
    return _entries(DEFENSE_GROUP)


def case_entries() -> dict[str, Entry]:
    """Audit cases (built-in targets with private data and evaluators)."""
    return _entries(CASE_GROUP)


def _get(group: str, kind: str, name: str) -> Any:
    entries = _entries(group)
    if name not in entries:
        known = ", ".join(entries) or "none installed"
        raise ConfigError(
            f"{kind}: unknown {kind} {name!r}; installed {kind}s: {known}. Install the package "
            f"that provides it (mi-vision, mi-text, mi-graph, mi-tabular, mi-defense)."
        )
    return entries[name].load()


def get_attack(name: str) -> Any:
    """The attack class registered as ``name``."""
    return _get(ATTACK_GROUP, "attack", name)


def get_defense(name: str) -> Any:
    """The defense class registered as ``name``."""
    return _get(DEFENSE_GROUP, "defense", name)


def get_case(name: str) -> Any:
    """The audit case class registered as ``name``."""
    return _get(CASE_GROUP, "case", name)


def list_attacks() -> list[dict[str, str]]:
    """Metadata of every installed attack (name, modality, access, paper, summary)."""
    rows = []
    for name, entry in attack_entries().items():
        cls = entry.load()
        row = cls.describe()
        row["name"] = name
        rows.append(row)
    return rows


def list_defenses() -> list[dict[str, str]]:
    rows = []
    for name, entry in defense_entries().items():
        cls = entry.load()
        row = cls.describe()
        row["name"] = name
        rows.append(row)
    return rows
