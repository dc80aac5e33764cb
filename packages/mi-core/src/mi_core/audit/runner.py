"""Run audit cells: (case, attack, access, defense) combinations, each result written atomically.

A rerun skips cells whose result is on disk, so a killed audit loses at most the cell in flight.
:func:`run_cell` is a plain module-level function of JSON-able arguments, so executors can ship it
to other processes or machines.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from mi_core.errors import AccessError, ConfigError
from mi_core.io import atomic_write_json, read_json
from mi_core.threat import Access


@dataclass(frozen=True)
class CellSpec:
    """One audit cell, JSON-able."""

    case: str
    attack: str
    access: str
    config: dict[str, Any] = field(default_factory=dict)
    defense: str | None = None
    defense_config: dict[str, Any] = field(default_factory=dict)
    budget: int | None = None
    seed: int = 0

    @property
    def id(self) -> str:
        parts = [self.case, self.attack, Access.parse(self.access).value, self.defense or "none"]
        slug = "__".join(re.sub(r"[^A-Za-z0-9_.-]+", "-", p) for p in parts)
        payload = json.dumps(
            [self.config, self.defense_config, self.budget, self.seed], sort_keys=True
        )
        return f"{slug}__{hashlib.sha1(payload.encode()).hexdigest()[:8]}"


_CASE_CACHE: dict[tuple[str, str, int], Any] = {}


def load_case(name: str, workdir: Path, seed: int) -> Any:
    """Instantiate and prepare the case registered as ``name`` (cached per process)."""
    from mi_core.registry import case_entries

    key = (name, str(workdir), seed)
    if key not in _CASE_CACHE:
        entries = case_entries()
        if name not in entries:
            known = ", ".join(entries) or "none installed"
            raise ConfigError(f"case: unknown case {name!r}; installed cases: {known}")
        case = entries[name].load()()
        case.prepare(workdir / "cases" / name, seed)
        _CASE_CACHE[key] = case
    return _CASE_CACHE[key]


def run_cell(spec_dict: dict[str, Any], workdir: str) -> dict[str, Any]:
    """Run one cell and write ``workdir/cells/<id>/``; returns the cell record.

    Outcomes: ``ok`` (figures computed), ``not-applicable`` (the attack needs more access than the
    cell grants: the access error is recorded), ``error`` (traceback recorded).
    """
    from mi_core.registry import get_attack, get_defense
    from mi_core.views import make_view

    spec = CellSpec(**spec_dict)
    root = Path(workdir)
    cell_dir = root / "cells" / spec.id
    record: dict[str, Any] = {"id": spec.id, "spec": asdict(spec)}
    t0 = time.perf_counter()
    try:
        case = load_case(spec.case, root, spec.seed)
        access = Access.parse(spec.access, "cell.access")
        attack_cls = get_attack(spec.attack)
        attack = attack_cls(spec.config)
        record.update(modality=case.modality, attack_access=attack_cls.access.value)
        view_kwargs = dict(case.view_kwargs(access))
        if spec.budget is not None:
            view_kwargs["budget"] = spec.budget
        view = make_view(case.target(), access, info=case.target_info(), **view_kwargs)
        if spec.defense:
            defense = get_defense(spec.defense)(spec.defense_config)
            view = defense.wrap(view)
        result = attack.run(view, case.knowledge(access), seed=spec.seed)
        figures = case.evaluate(result)
        result.metrics = {f.metric: f.to_dict() for f in figures}
        result.info["cell"] = spec.id
        result.save(cell_dir)
        record.update(
            status="ok",
            figures=[f.to_dict() for f in figures],
            queries=result.queries,
            seconds=result.seconds,
            utility=case.utility(),
        )
    except AccessError as exc:
        record.update(status="not-applicable", message=str(exc))
    except Exception as exc:
        record.update(
            status="error", message=f"{type(exc).__name__}: {exc}", traceback=traceback.format_exc()
        )
    record["wall_seconds"] = time.perf_counter() - t0
    atomic_write_json(cell_dir / "cell.json", record)
    return record


def cell_record(workdir: Path, spec: CellSpec) -> dict[str, Any] | None:
    path = workdir / "cells" / spec.id / "cell.json"
    if not path.exists():
        return None
    rec: dict[str, Any] = read_json(path)
    return rec


Executor = Callable[[list[dict[str, Any]], str], Iterable[dict[str, Any]]]


def local_executor(specs: list[dict[str, Any]], workdir: str) -> Iterable[dict[str, Any]]:
    for spec in specs:
        yield run_cell(spec, workdir)


def run_cells(
    specs: list[CellSpec],
    workdir: str | Path,
    *,
    executor: Executor = local_executor,
    resume: bool = True,
    progress: bool = True,
) -> list[dict[str, Any]]:
    """Run every cell not already finished; return all cell records in ``specs`` order."""
    root = Path(workdir)
    root.mkdir(parents=True, exist_ok=True)
    done: dict[str, dict[str, Any]] = {}
    todo: list[dict[str, Any]] = []
    for spec in specs:
        rec = cell_record(root, spec) if resume else None
        if rec is not None and rec.get("status") in ("ok", "not-applicable"):
            done[spec.id] = rec
        else:
            todo.append(asdict(spec))
    bar = tqdm(total=len(specs), initial=len(done), desc="audit cells", disable=not progress)
    try:
        for rec in executor(todo, str(root)):
            done[rec["id"]] = rec
            bar.set_postfix_str(f"{rec['id'][:40]}: {rec['status']}")
            bar.update(1)
    finally:
        bar.close()
    return [done[s.id] for s in specs]
