"""From an audit file (or the demo) to the plan: the cells to run, the attacks skipped (with the
reason), the priors to train, and a rough estimate of the time (``mi audit FILE --dry-run``)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from mi_core.audit.config import AuditConfig, DefenseSpec, TargetSpec, case_instance
from mi_core.audit.runner import CellSpec
from mi_core.defense import DefenseKind
from mi_core.errors import ConfigError
from mi_core.threat import Access

#: rough seconds of one cell at an attack's default settings on one laptop CPU core, at the
#: scale of the built-in cases (small models, a few classes); by modality when an attack sets
#: no ``rough_seconds`` of its own. Only an order of magnitude: real targets, settings and
#: machines differ by 10x either way.
ROUGH_SECONDS = {"image": 30.0, "text": 20.0, "graph": 10.0, "tabular": 3.0}
#: rough seconds to prepare one case (train or load its target and evaluation model)
ROUGH_CASE_SECONDS = 10.0


@dataclass(frozen=True)
class Skipped:
    """An attack an audit does not run on a target, and why."""

    target: str
    case: str
    attack: str
    access: str
    reason: str


@dataclass
class AuditPlan:
    """What an audit will do: the cells, the attacks skipped, the priors trained before the
    attacks that need them (shared ones once), and a rough estimate of the time."""

    cells: list[CellSpec]
    skipped: list[Skipped] = field(default_factory=list)
    priors: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    title: str = ""

    def skipped_records(self) -> list[dict[str, Any]]:
        """One record per skipped (target, attack), as the runner writes cell records (status
        ``not-applicable``, the reason as the message), for the report."""
        out = []
        for s in self.skipped:
            spec = CellSpec(case=s.case, attack=s.attack, access=s.access, target=s.target)
            out.append(
                {
                    "id": f"skipped__{spec.id}",
                    "spec": asdict(spec),
                    "target": s.target,
                    "status": "not-applicable",
                    "skipped": True,
                    "message": f"skipped before running: {s.reason}",
                }
            )
        return out

    def describe(self) -> str:
        """The plan as text (``mi audit FILE --dry-run``)."""
        lines = [f"{self.title or 'Audit'}: {len(self.cells)} cells"]
        for c in self.cells:
            extra = f" · defense {c.defense}" if c.defense else ""
            if c.device != "auto" or c.precision != "fp32":
                extra += f" · {c.device}" + (f" {c.precision}" if c.precision != "fp32" else "")
            lines.append(
                f"  cell     {c.target_name} · {c.attack} · {c.access}{extra} · seed {c.seed}"
            )
        if self.skipped:
            lines.append(f"skipped ({len(self.skipped)}, not run):")
            for s in self.skipped:
                lines.append(f"  skipped  {s.target} · {s.attack}: {s.reason}")
        if self.priors:
            lines.append(f"priors to train ({len(self.priors)}):")
            for p in self.priors:
                cfg = ", ".join(f"{k}={v}" for k, v in sorted(p["config"].items()))
                who = ", ".join(p["attacks"])
                how = "once, shared by" if p["shared"] else "for"
                lines.append(
                    f"  prior    {p['target']} · {p['kind']} ({cfg}) · seed {p['seed']}: "
                    f"{how} {who}"
                )
        else:
            lines.append("priors to train: none")
        lines.append(
            f"estimated time: about {_human(self.seconds)} on one CPU core (rough: a per-attack "
            "table at the built-in cases' scale; your models, settings and machine may differ "
            "by 10x)"
        )
        return "\n".join(lines)


def rough_seconds(cells: list[CellSpec]) -> float:
    """A rough estimate of the seconds ``cells`` take (see :data:`ROUGH_SECONDS`), with each
    distinct case prepared once."""
    from mi_core.registry import get_attack

    total = 0.0
    for c in cells:
        cls = get_attack(c.attack)
        total += cls.rough_seconds or ROUGH_SECONDS.get(cls.modality, 60.0)
    cases = {(c.case, json.dumps(c.options, sort_keys=True, default=str), c.seed) for c in cells}
    return total + ROUGH_CASE_SECONDS * len(cases)


def _human(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


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


def skip_reason(attack: str, missing: list[str], case: Any) -> str:
    """Why ``attack`` cannot run on ``case``: ``needs `reference` in [targets.options]
    (knowledge.prior (causal-lm))`` when an option of the case would give what is missing,
    else ``needs knowledge.target_labels (embeddings), which case 'hf-causal-lm' does not
    give``."""
    from mi_core.attack import describe_knowledge

    hints: dict[str, str] = dict(getattr(case, "knowledge_options", {}) or {})

    def hint(req: str) -> str | None:
        name = req.partition(":")[0]
        if req in hints:
            return hints[req]
        # an untyped hint gives any kind; an untyped requirement takes any kind's hint
        if name in hints:
            return hints[name]
        if ":" not in req:
            return next((v for k, v in hints.items() if k.partition(":")[0] == name), None)
        return None

    hinted, plain = [], []
    for req in missing:
        alts = [a.strip() for a in req.split("|")]
        what = " or ".join(describe_knowledge(a) for a in alts)
        opts = [o for o in dict.fromkeys(hint(a) for a in alts) if o]
        if opts:
            hinted.append(f"{' or '.join(f'`{o}`' for o in opts)} ({what})")
        else:
            plain.append(what)
    if plain:  # no option of this case gives it: naming options would mislead
        return f"needs {', '.join(plain)}, which case {case.name!r} does not give"
    return f"needs {', '.join(hinted)} in [targets.options]"


def plan_audit(cfg: AuditConfig) -> AuditPlan:
    """Every (target, attack, defense, seed) cell of an audit, the attacks skipped and why,
    the priors to train and a rough estimate of the time.

    With ``attacks.names = "all"``, a target gets every installed attack of its modality that
    one of its granted accesses allows; each attack runs once, at the weakest granted access
    that allows it. An attack named explicitly that no granted access allows still gets a cell,
    which reports it as not applicable. An attack whose required knowledge
    (:attr:`~mi_core.attack.BaseAttack.requires`) the case does not give
    (:meth:`~mi_core.audit.case.AuditCase.provides`) is skipped and listed with the reason.
    Output defenses pair with black-box cells; training and data defenses with every cell.
    Each cell runs once per seed (``[audit] seeds``).
    """
    from mi_core.registry import attack_entries, get_attack, get_case

    installed = attack_entries()
    plan = AuditPlan(cells=[], title=cfg.title)
    shared: dict[str, dict[str, Any]] = {}
    seconds = 0.0
    for t in cfg.targets:
        modality = get_case(t.case).modality
        case = case_instance(t.case, t.options)
        granted = [Access.parse(a) for a in t.access]
        names = cfg.attacks if cfg.attacks is not None else tuple(installed)
        seconds += ROUGH_CASE_SECONDS * cfg.seeds
        for name in names:
            cls = get_attack(name)
            if cls.modality != modality:
                continue
            access = _weakest_covering(granted, cls.access)
            if access is None:
                if cfg.attacks is None:
                    continue
                access = max(granted, key=lambda a: a.rank)
            attack = cls(dict(cfg.attack_config.get(name, {})))
            provided = case.provides(access)
            missing = attack.missing_knowledge(provided)
            if missing:
                plan.skipped.append(
                    Skipped(t.name, t.case, name, access.value, skip_reason(name, missing, case))
                )
                continue
            new = []
            for seed in cfg.seed_list:
                new.extend(_cells_for(t, name, access, cfg, modality, seed))
            plan.cells.extend(new)
            per_cell = cls.rough_seconds or ROUGH_SECONDS.get(modality, 60.0)
            seconds += per_cell * len(new)
            for p in attack.priors_to_train(provided):
                for seed in cfg.seed_list:
                    if p.get("shared"):
                        key = json.dumps(
                            [t.case, t.options, seed, p["kind"], p["config"]],
                            sort_keys=True,
                            default=str,
                        )
                        if key in shared:
                            shared[key]["attacks"].append(name)
                            continue
                        entry = {
                            "target": t.name,
                            "seed": seed,
                            "kind": p["kind"],
                            "config": dict(p["config"]),
                            "shared": True,
                            "attacks": [name],
                        }
                        shared[key] = entry
                        plan.priors.append(entry)
                        seconds += float(p.get("seconds") or 0.0)
                    else:  # trained through the target: once per cell of this seed
                        n = sum(1 for c in new if c.seed == seed)
                        plan.priors.append(
                            {
                                "target": t.name,
                                "seed": seed,
                                "kind": p["kind"],
                                "config": dict(p["config"]),
                                "shared": False,
                                "attacks": [name] * n,
                            }
                        )
                        seconds += float(p.get("seconds") or 0.0) * n
    plan.seconds = seconds
    if not plan.cells:
        why = "".join(f"\n  {s.target} · {s.reason}" for s in plan.skipped)
        raise ConfigError(
            f"{cfg.path or 'audit'}: no attack applies to any target (check the targets' "
            "modality and access against `mi list attacks`" + (f"; skipped:{why}" if why else ")")
        )
    return plan


def plan_cells(cfg: AuditConfig) -> list[CellSpec]:
    """The cells of :func:`plan_audit` (attacks that do not apply are left out)."""
    return plan_audit(cfg).cells


def _cells_for(
    t: TargetSpec, attack: str, access: Access, cfg: AuditConfig, modality: str, seed: int
) -> list[CellSpec]:
    base = CellSpec(
        case=t.case,
        attack=attack,
        access=access.value,
        config=dict(cfg.attack_config.get(attack, {})),
        budget=None if access is Access.WHITE_BOX else t.budget,
        seed=seed,
        target=t.name,
        options=dict(t.options),
        k=t.k if access is Access.BLACK_BOX_TOPK else None,
        shards=cfg.shards,
        device=t.device or cfg.device,
        precision=t.precision or cfg.precision,
        deterministic=cfg.deterministic,
    )
    return [base, *_defense_cells(base, modality, cfg.defenses)]


def demo_cells(
    seed: int = 0,
    shards: int = 1,
    device: str = "auto",
    precision: str = "fp32",
    deterministic: bool = False,
    cases: Sequence[str] = (),
) -> list[CellSpec]:
    """The demo: every installed built-in case's default cells and default defenses.

    ``cases`` keeps only the named cases (all of them when empty)."""
    from mi_core.registry import case_entries, defense_entries

    installed = defense_entries()  # a case's default defense runs when mi-defense is installed
    entries = case_entries()
    demo = [n for n, e in entries.items() if getattr(e.load(), "default_cells", ())]
    unknown = [c for c in cases if c not in demo]
    if unknown:
        raise ConfigError(
            f"audit --demo --case: unknown case {', '.join(map(repr, unknown))}; the installed "
            f"demo cases are {', '.join(sorted(demo)) or 'none'}"
        )
    cells: list[CellSpec] = []
    for name, entry in entries.items():
        if cases and name not in cases:
            continue
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
                device=device,
                precision=precision,
                deterministic=deterministic,
            )
            cells.extend([base, *_defense_cells(base, case_cls.modality, defenses)])
    if not cells:
        raise ConfigError(
            "audit --demo: no built-in cases are installed; install mi-vision, mi-text, mi-graph "
            "or mi-tabular"
        )
    return cells
