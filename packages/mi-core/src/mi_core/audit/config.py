"""The audit file (TOML): targets, the access to grant, the attacker's knowledge, the attacks and
the defenses to compare. Validated up front; every error names the line and the field.

    [audit]
    title = "Release audit"
    out = "mi-audit"
    seed = 0
    shards = 1                      # split image attacks' target classes into this many tasks

    [[targets]]
    name = "faces"                  # unique; defaults to the case name
    case = "digits-softmax"         # a built-in case (`mi list cases`) or a modality's generic
                                    # case for your own model (e.g. "image-model")
    access = ["white-box", "label-only"]
    budget = 20000                  # query budget for black-box access
    k = 3                           # released scores for black-box-topk access
    [targets.options]               # the case's own options (model import path, checkpoint, ...)
    model = "mypkg.models:build"

    [attacks]
    names = "all"                   # or a list; "all" = every installed attack of the target's
                                    # modality that the granted access allows
    [attacks.config.mi-face]        # per-attack settings
    max_iter = 2000

    [[defenses]]                    # compared against every attack they apply to
    name = "top-k"
    [defenses.config]
    k = 1
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mi_core.errors import ConfigError
from mi_core.threat import Access


@dataclass(frozen=True)
class TargetSpec:
    name: str
    case: str
    access: tuple[str, ...]
    budget: int | None = None
    k: int | None = None
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DefenseSpec:
    name: str
    config: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AuditConfig:
    title: str
    out: str
    seed: int
    shards: int
    targets: tuple[TargetSpec, ...]
    attacks: tuple[str, ...] | None  # None: all that apply
    attack_config: dict[str, dict[str, Any]]
    defenses: tuple[DefenseSpec, ...]
    path: str | None = None


class _Locator:
    """Finds the line of a field in the TOML text, for error messages."""

    def __init__(self, text: str, path: str) -> None:
        self.lines = text.splitlines()
        self.path = path

    def _header_lines(self, header: str) -> list[int]:
        pat = re.compile(r"^\s*\[\[?\s*" + re.escape(header) + r"\s*\]\]?\s*(#.*)?$")
        return [i for i, ln in enumerate(self.lines) if pat.match(ln)]

    def line(self, table: str | None, index: int | None, key: str | None) -> int | None:
        start, end = 0, len(self.lines)
        if table is not None:
            heads = self._header_lines(table)
            pos = index or 0
            if pos >= len(heads):
                return None
            start = heads[pos]
            nxt = [
                i
                for i, ln in enumerate(self.lines)
                if i > start
                and ln.strip().startswith("[")
                and not ln.strip().startswith(f"[{table}.")
            ]
            end = nxt[0] if nxt else len(self.lines)
            if key is None:
                return start + 1
        if key is None:
            return None
        pat = re.compile(r"^\s*[\"']?" + re.escape(key) + r"[\"']?\s*=")
        for i in range(start, end):
            if pat.match(self.lines[i]):
                return i + 1
        return start + 1 if table is not None else None

    def error(
        self, msg: str, table: str | None = None, index: int | None = None, key: str | None = None
    ) -> ConfigError:
        ln = self.line(table, index, key)
        where = f"{self.path}:{ln}" if ln else self.path
        return ConfigError(f"{where}: {msg}")


def _check_keys(
    loc: _Locator,
    section: dict[str, Any],
    allowed: set[str],
    label: str,
    table: str | None,
    index: int | None = None,
) -> None:
    for key in section:
        if key not in allowed:
            raise loc.error(
                f"{label}.{key}: unknown field; allowed fields: {', '.join(sorted(allowed))}",
                table,
                index,
                key,
            )


def parse_audit_config(text: str, path: str = "<audit>") -> AuditConfig:
    """Parse and validate an audit file (see the module docstring for the format)."""
    from mi_core.registry import attack_entries, case_entries, defense_entries

    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from exc
    loc = _Locator(text, path)
    _check_keys(loc, raw, {"audit", "targets", "attacks", "defenses"}, "(top level)", None)

    audit = raw.get("audit", {})
    _check_keys(loc, audit, {"title", "out", "seed", "shards", "executor"}, "audit", "audit")
    seed = audit.get("seed", 0)
    if not isinstance(seed, int) or seed < 0:
        raise loc.error(
            f"audit.seed: must be a non-negative integer, got {seed!r}", "audit", None, "seed"
        )
    shards = audit.get("shards", 1)
    if not isinstance(shards, int) or shards < 1:
        raise loc.error(
            f"audit.shards: must be a positive integer, got {shards!r}", "audit", None, "shards"
        )

    cases = case_entries()
    targets_raw = raw.get("targets")
    if not isinstance(targets_raw, list) or not targets_raw:
        raise loc.error("targets: at least one [[targets]] table is required")
    targets: list[TargetSpec] = []
    names: set[str] = set()
    for i, t in enumerate(targets_raw):
        label = f"targets[{i}]"
        _check_keys(
            loc, t, {"name", "case", "access", "budget", "k", "options"}, label, "targets", i
        )
        case = t.get("case")
        if not isinstance(case, str):
            raise loc.error(
                f"{label}.case: required: a built-in case; installed: {', '.join(cases) or 'none'}",
                "targets",
                i,
                "case",
            )
        if case not in cases:
            raise loc.error(
                f"{label}.case: unknown case {case!r}; installed cases: "
                f"{', '.join(cases) or 'none'}",
                "targets",
                i,
                "case",
            )
        name = t.get("name", case)
        if name in names:
            raise loc.error(
                f"{label}.name: {name!r} is used twice; target names must be unique",
                "targets",
                i,
                "name",
            )
        names.add(name)
        access_raw = t.get("access", ["white-box"])
        if isinstance(access_raw, str):
            access_raw = [access_raw]
        access: list[str] = []
        for a in access_raw:
            try:
                access.append(Access.parse(a, f"{label}.access").value)
            except ConfigError as exc:
                raise loc.error(str(exc), "targets", i, "access") from None
        budget = t.get("budget")
        if budget is not None and (not isinstance(budget, int) or budget < 1):
            raise loc.error(
                f"{label}.budget: must be a positive integer, got {budget!r}",
                "targets",
                i,
                "budget",
            )
        k = t.get("k")
        if Access.BLACK_BOX_TOPK.value in access and not isinstance(k, int):
            raise loc.error(
                f"{label}.k: black-box-topk access needs an integer k (how many "
                "scores are released)",
                "targets",
                i,
                "access",
            )
        options = t.get("options", {})
        if not isinstance(options, dict):
            raise loc.error(f"{label}.options: must be a table", "targets", i, "options")
        try:  # the case checks its options now (fields, files), not when its cells run
            cases[case].load().from_options(dict(options))
        except ConfigError as exc:
            msg = str(exc)
            key = (
                msg.split(":")[0].rsplit(".", 1)[-1] if msg.startswith("targets.options.") else None
            )
            nth = sum(1 for t_ in targets_raw[:i] if t_.get("options"))  # [targets.options] no.
            ln = loc.line("targets.options", nth, key) if key else None
            where = f"{path}:{ln}" if ln else path
            raise ConfigError(f"{where}: {label}.{msg.removeprefix('targets.')}") from None
        targets.append(TargetSpec(name, case, tuple(access), budget, k, dict(options)))

    attacks_raw = raw.get("attacks", {})
    _check_keys(loc, attacks_raw, {"names", "config"}, "attacks", "attacks")
    installed = attack_entries()
    names_raw = attacks_raw.get("names", "all")
    attacks: tuple[str, ...] | None
    if names_raw == "all":
        attacks = None
    elif isinstance(names_raw, list) and all(isinstance(a, str) for a in names_raw):
        for a in names_raw:
            if a not in installed:
                raise loc.error(
                    f"attacks.names: unknown attack {a!r}; installed attacks: "
                    f"{', '.join(installed) or 'none'}",
                    "attacks",
                    None,
                    "names",
                )
        attacks = tuple(names_raw)
    else:
        raise loc.error('attacks.names: a list of attack names or "all"', "attacks", None, "names")
    attack_config = attacks_raw.get("config", {})
    for a, cfg in attack_config.items():
        if a not in installed:
            raise loc.error(
                f"attacks.config.{a}: unknown attack; installed attacks: {', '.join(installed)}",
                f"attacks.config.{a}",
                None,
                None,
            )
        try:  # validate the settings now, not after an hour of other cells
            installed[a].load()(cfg)
        except ConfigError as exc:
            raise loc.error(
                str(exc), f"attacks.config.{a}", None, str(exc).split(":")[0].split(".")[-1]
            ) from None

    defenses: list[DefenseSpec] = []
    installed_def = defense_entries()
    for i, d in enumerate(raw.get("defenses", [])):
        label = f"defenses[{i}]"
        _check_keys(loc, d, {"name", "config"}, label, "defenses", i)
        dname = d.get("name")
        if dname not in installed_def:
            raise loc.error(
                f"{label}.name: unknown defense {dname!r}; installed defenses: "
                f"{', '.join(installed_def) or 'none'}",
                "defenses",
                i,
                "name",
            )
        dcfg = d.get("config", {})
        try:
            installed_def[dname].load()(dcfg)
        except ConfigError as exc:
            raise loc.error(str(exc), "defenses", i, None) from None
        defenses.append(DefenseSpec(dname, dict(dcfg)))

    return AuditConfig(
        title=audit.get("title", f"Model inversion audit: {path}"),
        out=audit.get("out", "mi-audit"),
        seed=seed,
        shards=shards,
        targets=tuple(targets),
        attacks=attacks,
        attack_config={k: dict(v) for k, v in attack_config.items()},
        defenses=tuple(defenses),
        path=path,
    )


def load_audit_config(path: str | Path) -> AuditConfig:
    p = Path(path)
    if not p.exists():
        raise ConfigError(f"{p}: the audit file does not exist")
    return parse_audit_config(p.read_text(encoding="utf-8"), str(p))
