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

Plugin API: mi-core offers the version :data:`PLUGIN_API` (major, minor) of the interfaces
plugins build on (views, attack / defense / case protocols, results, figures). The top-level
package of every plugin declares the versions it supports, e.g. in ``mi_text/__init__.py``::

    MI_CORE_PLUGIN_API = ">=1.0,<2"

A minor version adds to the API, a major one breaks it. Before a plugin's entry point is
loaded, the registry checks the pair and refuses an incompatible (or undeclared) plugin with
:class:`~mi_core.errors.PluginAPIError` naming both versions and the fix.
"""

from __future__ import annotations

import importlib
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from typing import Any

from mi_core.errors import ConfigError, PluginAPIError

#: The plugin API version this mi-core offers: (major, minor).
PLUGIN_API: tuple[int, int] = (1, 0)

#: The attribute of a plugin's top-level package that declares the API versions it supports.
PLUGIN_API_ATTRIBUTE = "MI_CORE_PLUGIN_API"

_OPS: dict[str, Callable[[Any, Any], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
    ">": operator.gt,
    "<": operator.lt,
}
_CLAUSE = re.compile(r"^\s*(>=|<=|==|!=|>|<)\s*(\d+)(?:\.(\d+))?\s*$")


def parse_api_range(
    spec: str, where: str = PLUGIN_API_ATTRIBUTE
) -> list[tuple[str, tuple[int, int]]]:
    """Parse ``">=1.0,<2"`` into ``[(">=", (1, 0)), ("<", (2, 0))]`` (a missing minor is 0)."""
    if not isinstance(spec, str) or not spec.strip():
        raise PluginAPIError(f"{where}: expected a version range such as '>=1.0,<2', got {spec!r}")
    clauses = []
    for part in spec.split(","):
        m = _CLAUSE.match(part)
        if m is None:
            raise PluginAPIError(
                f"{where}: cannot read {part.strip()!r} in {spec!r}; write clauses such as "
                "'>=1.0,<2' (operators >=, <=, ==, !=, >, <; versions MAJOR or MAJOR.MINOR)"
            )
        clauses.append((m.group(1), (int(m.group(2)), int(m.group(3) or 0))))
    return clauses


def api_supported(spec: str, api: tuple[int, int] = PLUGIN_API) -> bool:
    """Whether the API version ``api`` satisfies every clause of the range ``spec``."""
    return all(_OPS[op](api, version) for op, version in parse_api_range(spec))


_CHECKED: dict[str, None] = {}


def check_plugin_api(package: str, distribution: str | None = None) -> None:
    """Refuse the plugin package ``package`` unless it supports this mi-core's plugin API.

    Raises:
        PluginAPIError: naming the package, the range it supports and the version offered.
    """
    if package in _CHECKED or package == "mi_core":
        return
    from mi_core import __version__

    who = distribution or package
    try:
        module = importlib.import_module(package)
    except ImportError as exc:
        raise ConfigError(
            f"plugin package {package!r} failed to import: {exc}. Reinstall {who} with its "
            "dependencies."
        ) from exc
    spec = getattr(module, PLUGIN_API_ATTRIBUTE, None)
    offered = ".".join(map(str, PLUGIN_API))
    if spec is None:
        raise PluginAPIError(
            f"{who}: declares no {PLUGIN_API_ATTRIBUTE} in {package}/__init__.py, so its "
            f"compatibility with mi-core {__version__} (plugin API {offered}) is unknown; "
            f"the plugin author should add e.g. {PLUGIN_API_ATTRIBUTE} = '>={PLUGIN_API[0]}.0,"
            f"<{PLUGIN_API[0] + 1}'."
        )
    if not api_supported(spec, PLUGIN_API):
        raise PluginAPIError(
            f"{who} supports mi-core plugin API {spec}, but the installed mi-core {__version__} "
            f"offers plugin API {offered}; install versions that fit (upgrade {who}, or "
            f"install an mi-core whose plugin API is in {spec}; see each package's CHANGELOG)."
        )
    _CHECKED[package] = None


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

    @property
    def package(self) -> str | None:
        """The plugin's top-level package (None for classes registered at run time)."""
        if self.target == "<local>":
            return None
        return self.target.split(":", 1)[0].split(".", 1)[0]

    def load(self) -> Any:
        """Import the plugin's object, after checking that its package supports this mi-core's
        plugin API (:func:`check_plugin_api`)."""
        if self.package is not None:
            check_plugin_api(self.package, self.distribution)
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
