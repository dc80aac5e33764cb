"""From an audit file (or the demo) to the list of cells to run."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from mi_core.audit.config import AuditConfig, DefenseSpec, TargetSpec
from mi_core.audit.runner import CellSpec
from mi_core.defense import DefenseKind
from mi_core.errors import ConfigError
from mi_core.threat import Access


def _weakest_covering(granted: list[Access], needed: Access) -> Access | None:
    covering = [g for g in granted if g.covers(needed)]
    return min(covering, key=lambda a: a.rank) if covering else None


def _defense_cells(
    base: CellSpec, modality: str, defenses: tuple[DefenseSpec, ...]
) -> list[CellSpec]:
    from mi_core.registry import get_defense

    out = []
    for d in defenses:
        cls = get_defense(d.name)
        if modality not in cls.modalities:
            continue
        if cls.kind is DefenseKind.OUTPUT and Access.parse(base.access) is Access.WHITE_BOX:
            continue  # a white-box attacker reads the weights, not the released outputs
        out.append(replace(base, defense=d.name, defense_config=dict(d.config)))
    return out


def plan_cells(cfg: AuditConfig) -> list[CellSpec]:
    """Every (target, attack, defense) cell of an audit.

    With ``attacks.names = "all"``, a target gets every installed attack of its modality that
    one of its granted accesses allows; each attack runs once, at the weakest granted access
    that allows it. An attack named explicitly that no granted access allows still gets a cell,
    which reports it as not applicable. Output defenses pair with black-box cells; training and
    data defenses with every cell.
    """
    from mi_core.registry import attack_entries, case_entries, get_attack

    cases = case_entries()
    installed = attack_entries()
    cells: list[CellSpec] = []
    for t in cfg.targets:
        modality = cases[t.case].load().modality
        granted = [Access.parse(a) for a in t.access]
        names = cfg.attacks if cfg.attacks is not None else tuple(installed)
        for name in names:
            cls = get_attack(name)
            if cls.modality != modality:
                continue
            access = _weakest_covering(granted, cls.access)
            if access is None:
                if cfg.attacks is None:
                    continue
                access = max(granted, key=lambda a: a.rank)
            cells.extend(_cells_for(t, name, access, cfg, modality))
    if not cells:
        raise ConfigError(
            f"{cfg.path or 'audit'}: no attack applies to any target (check the targets' "
            "modality and access against `mi list attacks`)"
        )
    return cells


def _cells_for(
    t: TargetSpec, attack: str, access: Access, cfg: AuditConfig, modality: str
) -> list[CellSpec]:
    base = CellSpec(
        case=t.case,
        attack=attack,
        access=access.value,
        config=dict(cfg.attack_config.get(attack, {})),
        budget=None if access is Access.WHITE_BOX else t.budget,
        seed=cfg.seed,
        target=t.name,
        options=dict(t.options),
        k=t.k if access is Access.BLACK_BOX_TOPK else None,
        shards=cfg.shards,
    )
    return [base, *_defense_cells(base, modality, cfg.defenses)]


def demo_cells(seed: int = 0, shards: int = 1) -> list[CellSpec]:
    """The demo: every installed built-in case's default cells and default defenses."""
    from mi_core.registry import case_entries, defense_entries

    installed = defense_entries()  # a case's default defense runs when mi-defense is installed
    cells: list[CellSpec] = []
    for name, entry in case_entries().items():
        case_cls = entry.load()
        defaults: Any = getattr(case_cls, "default_cells", ())
        if not defaults:
            continue
        defenses = tuple(
            DefenseSpec(d, dict(c)) for d, c in case_cls.default_defenses if d in installed
        )
        for cell in defaults:
            base = CellSpec(
                name,
                cell.attack,
                Access.parse(cell.access).value,
                dict(cell.config),
                budget=cell.budget,
                seed=seed,
                shards=shards,
                k=getattr(cell, "k", None),
            )
            cells.extend([base, *_defense_cells(base, case_cls.modality, defenses)])
    if not cells:
        raise ConfigError(
            "audit --demo: no built-in cases are installed; install mi-vision, mi-text, mi-graph "
            "or mi-tabular"
        )
    return cells
