"""The audit file (TOML): targets, the access to grant, the attacker's knowledge, the attacks and
the defenses to compare. Validated up front; every error names the line and the field.

    [audit]
    title = "Release audit"
    out = "mi-audit"
    seed = 0
    seeds = 1                       # run every cell with seeds seed, seed+1, ... (mean, spread)
    shards = 1                      # split image attacks' target classes into this many tasks
    device = "auto"                 # where cells compute: auto (CUDA when present), cpu, cuda,
                                    # cuda:N; targets, attacks, priors and defenses go there
    precision = "fp32"              # or bf16 / fp16: mixed precision of searches and priors
    deterministic = false           # torch's deterministic algorithms (GPU runs; slower)

    [[targets]]
    name = "faces"                  # unique; defaults to the case name
    case = "digits-softmax"         # a built-in case (`mi list cases`) or a modality's generic
                                    # case for your own model (e.g. "image-model")
    access = ["white-box", "label-only"]
    budget = 20000                  # query budget for black-box access
    k = 3                           # released scores for black-box-topk access
    device = "cuda:1"               # this target's cells elsewhere (overrides [audit] device)
    [targets.options]               # the case's own options (`mi list cases --options CASE`)
    model = "mypkg.models:build"

    [attacks]
    names = "all"                   # or a list; "all" = every installed attack of the target's
                                    # modality that the granted access allows and whose
                                    # knowledge the case gives (the rest are listed, skipped)
    [attacks.config.mi-face]        # per-attack settings (`mi run mi-face --help-config`)
    max_iter = 2000

    [[defenses]]                    # compared against every attack they apply to
    name = "top-k"
    [defenses.config]
    k = 1

An audit file is code: the import paths in ``[targets.options]`` import and run your modules
(and ``model = "os:system"`` would name a function of the standard library, which is refused).
Read audit files only from people you would take code from. The file's folder is appended to
``sys.path`` so that modules beside it import, after every installed package.
"""

from __future__ import annotations

import json
import os
import re
import stat
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mi_core.errors import ConfigError
from mi_core.threat import Access

AUDIT_FIELDS = {"title", "out", "seed", "seeds", "shards", "device", "precision", "deterministic"}
TARGET_FIELDS = {"name", "case", "access", "budget", "k", "options", "device", "precision"}


@dataclass(frozen=True)
class TargetSpec:
    """One ``[[targets]]`` table (``[target]`` of a ``mi run`` file).

    Attributes:
        name: the audit's name for the target (unique; default: the case name).
        case: a built-in case (``mi list cases``) or a modality's generic case.
        access: the access levels granted (white-box, black-box-scores, black-box-topk,
            label-only).
        budget: query budget of black-box access.
        k: released scores of black-box-topk access.
        options: the case's own options (``mi list cases --options CASE``).
        device: where this target's cells compute (overrides ``[audit] device``; None: the
            audit's).
        precision: this target's cells' precision (overrides ``[audit] precision``).
    """

    name: str
    case: str
    access: tuple[str, ...]
    budget: int | None = None
    k: int | None = None
    options: dict[str, Any] = field(default_factory=dict)
    device: str | None = None
    precision: str | None = None


@dataclass(frozen=True)
class DefenseSpec:
    name: str
    config: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AuditConfig:
    """An audit file, validated.

    Attributes:
        title: the report's title.
        out: the results folder.
        seed, seeds: cells run with seeds ``seed`` .. ``seed + seeds - 1`` (mean and spread).
        shards: image attacks' target classes split into this many tasks.
        device: where cells compute: ``auto`` (CUDA when present, else the CPU), ``cpu``,
            ``cuda`` or ``cuda:N``; each case puts its target there and attacks, priors and
            training defenses run there (their own ``device`` setting wins); results come back
            on the CPU. With the ray executor, CUDA cells request a GPU each.
        precision: ``fp32`` (default), or ``bf16`` / ``fp16``: mixed precision of the latent
            searches and prior training (attacks with a ``precision`` setting).
        deterministic: torch's deterministic algorithms where it has them (GPU runs; slower).
    """

    title: str
    out: str
    seed: int
    shards: int
    targets: tuple[TargetSpec, ...]
    attacks: tuple[str, ...] | None  # None: all that apply
    attack_config: dict[str, dict[str, Any]]
    defenses: tuple[DefenseSpec, ...]
    path: str | None = None
    seeds: int = 1  # cells run with seeds seed, seed + 1, ..., seed + seeds - 1
    device: str = "auto"
    precision: str = "fp32"
    deterministic: bool = False

    @property
    def seed_list(self) -> list[int]:
        return list(range(self.seed, self.seed + self.seeds))


# ------------------------------------------------------------------------------------------------
# reading files


def read_text_file(path: str | Path, what: str = "audit file") -> str:
    """The text of a UTF-8 file, with errors that name the file and the fix: a missing path, a
    folder, a named pipe / socket / device (refused without opening it, so nothing hangs), an
    unreadable file, text that is not UTF-8."""
    p = Path(path)
    try:
        st = os.stat(p)
    except FileNotFoundError:
        raise ConfigError(f"{p}: the {what} does not exist") from None
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read the {what} ({exc.strerror or exc})") from None
    if stat.S_ISDIR(st.st_mode):
        raise ConfigError(f"{p}: is a folder; give the {what} itself (a .toml file)")
    if not stat.S_ISREG(st.st_mode):
        raise ConfigError(
            f"{p}: is not a regular file (a named pipe, socket or device); give the {what} as "
            "a plain .toml file"
        )
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read the {what} ({exc.strerror or exc})") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ConfigError(
            f"{p}:{line}: the {what} is not UTF-8 text (byte 0x{data[exc.start]:02x}); save it "
            "as UTF-8"
        ) from None


def check_output_folder(path: str | Path, where: str = "out") -> Path:
    """``path`` can hold the audit's results: an existing folder we can write to, or a path
    whose nearest existing parent is such a folder. Errors name ``where`` and the folder."""
    p = Path(path).expanduser()
    if p.exists() and not p.is_dir():
        raise ConfigError(f"{where}: {p} is a file, not a folder; choose a folder for the results")
    probe = p
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if not probe.is_dir():
        raise ConfigError(f"{where}: {probe} is a file, so {p} cannot be created")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise ConfigError(
            f"{where}: cannot write to {probe} (read-only or not yours); choose another folder "
            "(--out)"
        )
    return p


def add_to_import_path(folder: str | Path) -> None:
    """Append ``folder`` to ``sys.path`` (after installed packages, so that a ``sklearn.py``
    beside an audit file cannot shadow scikit-learn)."""
    folder = str(Path(folder).resolve())
    if folder not in sys.path:
        sys.path.append(folder)


# ------------------------------------------------------------------------------------------------
# locating fields


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
                # an inline table or a dotted key: the line that names it
                if key is None:
                    head = table.split(".")[0]
                    return self.line(None, None, head)
                return self.line(None, None, key)
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
        if table is None:  # a top-level key may be a table header
            heads = self._header_lines(key)
            return heads[0] + 1 if heads else None
        return start + 1

    def where(
        self, table: str | None = None, index: int | None = None, key: str | None = None
    ) -> str:
        ln = self.line(table, index, key)
        return f"{self.path}:{ln}" if ln else self.path

    def error(
        self, msg: str, table: str | None = None, index: int | None = None, key: str | None = None
    ) -> ConfigError:
        return ConfigError(f"{self.where(table, index, key)}: {msg}")


def _check_keys(
    loc: _Locator,
    section: dict[str, Any],
    allowed: set[str],
    label: str,
    table: str | None,
    index: int | None = None,
    hints: dict[str, str] | None = None,
) -> None:
    for key in section:
        if key not in allowed:
            hint = (hints or {}).get(key, "")
            raise loc.error(
                f"{label}.{key}: unknown field{hint}; allowed fields: {', '.join(sorted(allowed))}",
                table,
                index,
                key,
            )


def _table(
    loc: _Locator, value: Any, label: str, table: str | None, index: int | None = None
) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise loc.error(
            f"{label}: must be a table ([{label.split('[')[0]}] section or {{key = value}}), got "
            f"{value!r} ({type(value).__name__})",
            table,
            index,
            None if table else label.split(".")[-1],
        )
    return value


def _int(
    loc: _Locator,
    section: dict[str, Any],
    key: str,
    label: str,
    table: str | None,
    index: int | None = None,
    *,
    minimum: int,
    default: int | None,
) -> int | None:
    value = section.get(key, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        kind = {0: "a non-negative integer", 1: "a positive integer"}.get(
            minimum, f"an integer >= {minimum}"
        )
        raise loc.error(
            f"{label + '.' if label else ''}{key}: must be {kind}, got {value!r}"
            + (" (a boolean is not an integer)" if isinstance(value, bool) else ""),
            table,
            index,
            key,
        )
    return value


def _str(
    loc: _Locator,
    section: dict[str, Any],
    key: str,
    label: str,
    table: str | None,
    index: int | None = None,
    *,
    default: str | None,
    what: str = "a non-empty string",
) -> str | None:
    value = section.get(key, default)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise loc.error(
            f"{label + '.' if label else ''}{key}: must be {what}, got {value!r}", table, index, key
        )
    return value


def _device_fields(
    loc: _Locator,
    section: dict[str, Any],
    label: str,
    table: str | None,
    index: int | None = None,
    *,
    default_device: str | None,
    default_precision: str | None,
) -> tuple[str | None, str | None]:
    """``device`` and ``precision`` of a section, checked (syntax only: a CUDA device may be on
    the workers of a cluster, not here)."""
    from mi_core.device import check_device, check_precision

    prefix = f"{label}." if label else ""
    out: list[str | None] = []
    for key, check, default in (
        ("device", check_device, default_device),
        ("precision", check_precision, default_precision),
    ):
        value = section.get(key, default)
        if value is None:
            out.append(None)
            continue
        try:
            out.append(check(value, f"{prefix}{key}"))
        except ConfigError as exc:
            raise loc.error(str(exc), table, index, key) from None
    return out[0], out[1]


# ------------------------------------------------------------------------------------------------
# targets (shared with `mi run`)

#: cases built from options while the file is read, picked up by the runner in this process
#: (so a user's model is imported and its data read once)
_READ: dict[tuple[str, str], Any] = {}
_READ_LIMIT = 16


def _options_key(case: str, options: dict[str, Any]) -> tuple[str, str]:
    return case, json.dumps(options, sort_keys=True, default=str)


def built_case(case: str, options: dict[str, Any]) -> Any:
    """The case instance built from ``options`` while the audit file was read, if any (the
    runner takes it once instead of building it again)."""
    return _READ.pop(_options_key(case, options), None)


def case_instance(case: str, options: dict[str, Any]) -> Any:
    """The case built from ``options`` when the file was read (kept for the runner), or a new
    one."""
    key = _options_key(case, options)
    if key in _READ:
        return _READ[key]
    from mi_core.registry import get_case

    return get_case(case).from_options(dict(options))


def parse_target(
    loc: _Locator,
    t: Any,
    label: str,
    table: str,
    index: int | None,
    options_index: int,
    *,
    names: set[str] | None = None,
    single_access: bool = False,
) -> TargetSpec:
    """One ``[[targets]]`` table (``[target]`` in a ``mi run`` file), checked: field types and
    ranges, the case, the access, and the case's options (built now: files read, modules
    imported, checkpoints matched)."""
    from mi_core.registry import case_entries

    t = _table(loc, t, label, table, index)
    _check_keys(loc, t, TARGET_FIELDS, label, table, index)
    cases = case_entries()
    case = t.get("case")
    if not isinstance(case, str):
        raise loc.error(
            f"{label}.case: required: a case name; installed cases: {', '.join(cases) or 'none'}",
            table,
            index,
            "case",
        )
    if case not in cases:
        raise loc.error(
            f"{label}.case: unknown case {case!r}; installed cases: {', '.join(cases) or 'none'}",
            table,
            index,
            "case",
        )
    name = _str(loc, t, "name", label, table, index, default=case)
    assert name is not None
    if names is not None:
        if name in names:
            raise loc.error(
                f"{label}.name: {name!r} is used twice; target names must be unique",
                table,
                index,
                "name",
            )
        names.add(name)
    access_raw = t.get("access", ["white-box"])
    if isinstance(access_raw, str):
        access_raw = [access_raw]
    if not isinstance(access_raw, list) or not access_raw:
        raise loc.error(
            f"{label}.access: an access level or a non-empty list of them "
            "(white-box, black-box-scores, black-box-topk, label-only), got "
            f"{t.get('access')!r}",
            table,
            index,
            "access",
        )
    if single_access and len(access_raw) != 1:
        raise loc.error(
            f"{label}.access: one access level for a single run, got {access_raw!r}",
            table,
            index,
            "access",
        )
    access: list[str] = []
    for a in access_raw:
        if not isinstance(a, str):
            raise loc.error(
                f"{label}.access: access levels are strings, got {a!r}", table, index, "access"
            )
        try:
            value = Access.parse(a, f"{label}.access").value
        except ConfigError as exc:
            raise loc.error(str(exc), table, index, "access") from None
        if value in access:
            raise loc.error(f"{label}.access: {value!r} is listed twice", table, index, "access")
        access.append(value)
    budget = _int(loc, t, "budget", label, table, index, minimum=1, default=None)
    k = _int(loc, t, "k", label, table, index, minimum=1, default=None)
    topk = Access.BLACK_BOX_TOPK.value in access
    if topk and k is None:
        raise loc.error(
            f"{label}.k: black-box-topk access needs k, how many scores are released "
            "(an integer >= 1)",
            table,
            index,
            "access",
        )
    if k is not None and not topk:
        raise loc.error(
            f"{label}.k: k applies to black-box-topk access only; add it to access or drop k",
            table,
            index,
            "k",
        )
    options = t.get("options", {})
    if not isinstance(options, dict):
        raise loc.error(
            f"{label}.options: must be a table ([{table}.options]), got {options!r}",
            table,
            index,
            "options",
        )
    entry = cases[case]
    try:  # the case checks its options now (fields, files, modules), not when its cells run
        obj = entry.load().from_options(dict(options))
    except ConfigError as exc:
        msg = str(exc)
        key = None
        if msg.startswith("targets.options."):
            key = re.split(r"[.:\[ ]", msg.removeprefix("targets.options."), maxsplit=1)[0]
        ln = loc.line(f"{table}.options", options_index, key) if key else None
        if key and ln is None:
            ln = loc.line(table, index, "options")
        where = f"{loc.path}:{ln}" if ln else loc.where(table, index, "options")
        raise ConfigError(f"{where}: {label}.{msg.removeprefix('targets.')}") from None
    except Exception as exc:  # the user's code or data failed in a way the case did not foresee
        raise loc.error(
            f"{label}.options: case {case!r} could not use these options: "
            f"{type(exc).__name__}: {exc}",
            table,
            index,
            "options",
        ) from None
    key = _options_key(case, dict(options))
    _READ.pop(key, None)
    _READ[key] = obj
    while len(_READ) > _READ_LIMIT:  # files read but never run: keep memory bounded
        _READ.pop(next(iter(_READ)))
    device, precision = _device_fields(
        loc, t, label, table, index, default_device=None, default_precision=None
    )
    return TargetSpec(name, case, tuple(access), budget, k, dict(options), device, precision)


def _check_attack_config(loc: _Locator, entry: Any, name: str, cfg: Any, table: str) -> None:
    """Build the attack with ``cfg`` now (types, ranges), not after an hour of other cells."""
    try:
        entry.load()(cfg)
    except ConfigError as exc:
        msg = str(exc)
        key = re.split(r"[.:\[ ]", msg.split(".config.", 1)[-1], maxsplit=1)[0]
        raise loc.error(msg, table, None, key) from None
    except Exception as exc:
        raise loc.error(
            f"{name}.config: the attack refused these settings: {type(exc).__name__}: {exc}",
            table,
        ) from None


# ------------------------------------------------------------------------------------------------
# the audit file


def parse_audit_config(text: str, path: str = "<audit>") -> AuditConfig:
    """Parse and validate an audit file (see the module docstring for the format)."""
    from mi_core.registry import attack_entries, defense_entries

    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from exc
    loc = _Locator(text, path)
    _check_keys(loc, raw, {"audit", "targets", "attacks", "defenses"}, "(top level)", None)

    audit = _table(loc, raw.get("audit", {}), "audit", None)
    _check_keys(
        loc,
        audit,
        AUDIT_FIELDS,
        "audit",
        "audit",
        hints={
            "executor": " in the file: choose it on the command line (mi audit FILE --executor ray)"
        },
    )
    title = _str(loc, audit, "title", "audit", "audit", default=f"Model inversion audit: {path}")
    out = _str(loc, audit, "out", "audit", "audit", default="mi-audit", what="a folder path")
    assert title is not None and out is not None
    if Path(out).expanduser().exists() and not Path(out).expanduser().is_dir():
        raise loc.error(
            f"audit.out: {out} is a file, not a folder; choose a folder for the results",
            "audit",
            None,
            "out",
        )
    seed = _int(loc, audit, "seed", "audit", "audit", minimum=0, default=0)
    seeds = _int(loc, audit, "seeds", "audit", "audit", minimum=1, default=1)
    shards = _int(loc, audit, "shards", "audit", "audit", minimum=1, default=1)
    assert seed is not None and seeds is not None and shards is not None
    device, precision = _device_fields(
        loc, audit, "audit", "audit", default_device="auto", default_precision="fp32"
    )
    assert device is not None and precision is not None
    deterministic = audit.get("deterministic", False)
    if not isinstance(deterministic, bool):
        raise loc.error(
            f"audit.deterministic: must be true or false, got {deterministic!r}",
            "audit",
            None,
            "deterministic",
        )

    targets_raw = raw.get("targets")
    if isinstance(targets_raw, dict):
        raise loc.error(
            "targets: write each target as an array table, [[targets]] (two brackets)",
            "targets",
        )
    if not isinstance(targets_raw, list) or not targets_raw:
        raise loc.error("targets: at least one [[targets]] table is required")
    targets: list[TargetSpec] = []
    names: set[str] = set()
    n_options = 0
    for i, t in enumerate(targets_raw):
        targets.append(parse_target(loc, t, f"targets[{i}]", "targets", i, n_options, names=names))
        n_options += bool(isinstance(t, dict) and t.get("options"))

    attacks_raw = _table(loc, raw.get("attacks", {}), "attacks", None)
    _check_keys(loc, attacks_raw, {"names", "config"}, "attacks", "attacks")
    installed = attack_entries()
    names_raw = attacks_raw.get("names", "all")
    attacks: tuple[str, ...] | None
    if names_raw == "all":
        attacks = None
    elif isinstance(names_raw, list) and names_raw and all(isinstance(a, str) for a in names_raw):
        for a in names_raw:
            if a not in installed:
                raise loc.error(
                    f"attacks.names: unknown attack {a!r}; installed attacks: "
                    f"{', '.join(installed) or 'none'}",
                    "attacks",
                    None,
                    "names",
                )
        dup = sorted({a for a in names_raw if names_raw.count(a) > 1})
        if dup:
            raise loc.error(f"attacks.names: {dup} listed twice", "attacks", None, "names")
        attacks = tuple(names_raw)
    else:
        raise loc.error(
            f'attacks.names: a non-empty list of attack names or "all", got {names_raw!r}',
            "attacks",
            None,
            "names",
        )
    attack_config = _table(loc, attacks_raw.get("config", {}), "attacks.config", None)
    for a, cfg in attack_config.items():
        table = f"attacks.config.{a}"
        if a not in installed:
            raise loc.error(
                f"attacks.config.{a}: unknown attack; installed attacks: {', '.join(installed)}",
                table,
            )
        if attacks is not None and a not in attacks:
            raise loc.error(
                f"attacks.config.{a}: {a!r} is not in attacks.names; add it there or drop "
                "these settings",
                table,
            )
        _table(loc, cfg, table, table)
        _check_attack_config(loc, installed[a], a, cfg, table)

    defenses: list[DefenseSpec] = []
    installed_def = defense_entries()
    defenses_raw = raw.get("defenses", [])
    if isinstance(defenses_raw, dict) or not isinstance(defenses_raw, list):
        raise loc.error(
            "defenses: write each defense as an array table, [[defenses]] (two brackets)",
            "defenses",
        )
    for i, d in enumerate(defenses_raw):
        label = f"defenses[{i}]"
        d = _table(loc, d, label, "defenses", i)
        _check_keys(loc, d, {"name", "config"}, label, "defenses", i)
        dname = d.get("name")
        if not isinstance(dname, str) or dname not in installed_def:
            raise loc.error(
                f"{label}.name: unknown defense {dname!r}; installed defenses: "
                f"{', '.join(installed_def) or 'none'}",
                "defenses",
                i,
                "name",
            )
        dcfg = d.get("config", {})
        if not isinstance(dcfg, dict):
            raise loc.error(
                f"{label}.config: must be a table ([defenses.config]), got {dcfg!r}",
                "defenses",
                i,
                "config",
            )
        try:
            installed_def[dname].load()(dcfg)
        except ConfigError as exc:
            raise loc.error(str(exc), "defenses", i, None) from None
        defenses.append(DefenseSpec(dname, dict(dcfg)))

    return AuditConfig(
        title=title,
        out=out,
        seed=seed,
        shards=shards,
        targets=tuple(targets),
        attacks=attacks,
        attack_config={k: dict(v) for k, v in attack_config.items()},
        defenses=tuple(defenses),
        path=path,
        seeds=seeds,
        device=device,
        precision=precision,
        deterministic=deterministic,
    )


def load_audit_config(path: str | Path) -> AuditConfig:
    """Read and validate the audit file at ``path``. Its folder is appended to ``sys.path``
    first, so that model modules beside it import (after installed packages)."""
    text = read_text_file(path, "audit file")
    add_to_import_path(Path(path).parent)
    return parse_audit_config(text, str(path))


# ------------------------------------------------------------------------------------------------
# `mi run` files


@dataclass(frozen=True)
class RunConfig:
    """A ``mi run`` file: one target, one access, the attack's settings."""

    target: TargetSpec
    seed: int
    out: str | None
    attack_config: dict[str, Any]
    path: str


def parse_run_config(text: str, path: str, attack: str) -> RunConfig:
    """Parse and validate a ``mi run`` file (see ``mi run --help``) for ``attack``."""
    from mi_core.registry import attack_entries

    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from exc
    loc = _Locator(text, path)
    installed = attack_entries()
    if attack not in installed:
        raise ConfigError(
            f"attack: unknown attack {attack!r}; installed attacks: "
            f"{', '.join(installed) or 'none'} (see mi list attacks)"
        )
    _check_keys(loc, raw, {"seed", "out", "target", "attack"}, "(top level)", None)
    seed = _int(loc, raw, "seed", "", None, minimum=0, default=0)
    assert seed is not None
    out = _str(loc, raw, "out", "", None, default=None, what="a folder path")
    if "target" not in raw:
        raise ConfigError(f"{path}: [target] with a `case` is required (see mi run --help)")
    target = parse_target(loc, raw["target"], "target", "target", None, 0, single_access=True)
    cfg = _table(loc, raw.get("attack", {}), "attack", "attack")
    _check_attack_config(loc, installed[attack], attack, cfg, "attack")
    return RunConfig(target, seed, out, dict(cfg), path)
