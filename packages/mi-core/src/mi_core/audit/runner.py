"""Run audit cells: (target, attack, access, defense) combinations, each result written atomically.

A cell may be split into shards (image attacks: disjoint sets of target classes), each a task of
its own; the cell's result merges the shards and is evaluated once. A rerun skips cells whose
result is on disk (and shards already done), so a killed audit loses at most the work in flight.

:func:`run_shard` and :func:`finish_cell` are module-level functions of JSON-able arguments and
return picklable values, so executors ship them to other processes or machines
(:mod:`mi_core.audit.executors`).
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from mi_core.errors import AccessError, ConfigError, NotApplicable
from mi_core.io import atomic_write_json, is_tensor, read_json
from mi_core.result import AttackResult
from mi_core.threat import Access, Knowledge


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
    target: str | None = None  # the audit's name for the target (default: the case)
    options: dict[str, Any] = field(default_factory=dict)  # the case's options
    k: int | None = None  # released scores for top-k access
    shards: int = 1
    device: str = "auto"  # where the cell computes (the case's target, the attack, defenses)
    precision: str = "fp32"  # of attacks / priors with a precision setting
    deterministic: bool = False  # torch's deterministic algorithms during the cell

    @property
    def target_name(self) -> str:
        return self.target or self.case

    @property
    def id(self) -> str:
        parts = [
            self.target_name,
            self.attack,
            Access.parse(self.access).value,
            self.defense or "none",
        ]
        slug = "__".join(re.sub(r"[^A-Za-z0-9_.-]+", "-", p) for p in parts)
        fields: list[Any] = [
            self.case,
            self.config,
            self.defense_config,
            self.budget,
            self.seed,
            self.options,
            self.k,
            self.shards,
        ]
        if self.precision != "fp32":  # mixed precision is another result; the device is not
            fields.append(self.precision)
        payload = json.dumps(fields, sort_keys=True)
        return f"{slug}__{hashlib.sha1(payload.encode()).hexdigest()[:8]}"


_CASE_CACHE: dict[tuple[str, str, str, int, str], Any] = {}


def load_case(
    name: str,
    workdir: Path,
    seed: int,
    options: dict[str, Any] | None = None,
    device: str = "auto",
) -> Any:
    """Instantiate and prepare the case registered as ``name`` (cached per process). The case's
    ``device`` attribute is set before :meth:`~mi_core.audit.case.AuditCase.prepare`: cases put
    their target there."""
    from mi_core.registry import case_entries

    options = options or {}
    key = (name, str(workdir), json.dumps(options, sort_keys=True), seed, device)
    if key not in _CASE_CACHE:
        entries = case_entries()
        if name not in entries:
            known = ", ".join(entries) or "none installed"
            raise ConfigError(f"case: unknown case {name!r}; installed cases: {known}")
        from mi_core.audit.config import built_case

        case = built_case(name, options)  # built when the audit file was read, if it was
        if case is None:
            case = entries[name].load().from_options(options)
        suffix = hashlib.sha1(key[2].encode()).hexdigest()[:8] if options else ""
        case.device = device
        case.prepare(workdir / "cases" / (name + (f"-{suffix}" if suffix else "")), seed)
        _CASE_CACHE[key] = case
    return _CASE_CACHE[key]


def _shard_labels(knowledge: Knowledge, index: int, shards: int) -> Knowledge:
    if shards == 1:
        return knowledge
    labels = knowledge.target_labels
    if labels is None:
        raise ConfigError("shards: this cell has no target classes to split; use shards = 1 for it")
    arr = np.asarray(labels.tolist() if hasattr(labels, "tolist") else list(labels))
    part = np.array_split(arr, shards)[index]
    return replace(knowledge, target_labels=part.tolist())


def effective_shards(spec: CellSpec) -> int:
    """Image attacks split their target classes; other cells run whole."""
    from mi_core.registry import get_attack

    if spec.shards <= 1:
        return 1
    try:
        cls = get_attack(spec.attack)
    except ConfigError:
        return 1
    return spec.shards if getattr(cls, "modality", None) == "image" else 1


def _case_for(spec: CellSpec, root: Path) -> Any:
    """The cell's case; under a training or data defense, the case retrained with it."""
    from mi_core.defense import DefenseKind
    from mi_core.registry import get_defense

    case = load_case(spec.case, root, spec.seed, spec.options, spec.device)
    if spec.defense:
        cls = get_defense(spec.defense)
        defense = cls(with_device(cls, spec.defense_config, spec.device))
        if defense.kind is not DefenseKind.OUTPUT:
            key = (
                "defended",
                spec.case,
                spec.defense,
                json.dumps([spec.defense_config, spec.options], sort_keys=True),
                spec.seed,
                str(root),
                spec.device,
            )
            if key not in _DEFENDED:
                tag = hashlib.sha1(json.dumps(key).encode()).hexdigest()[:8]
                _DEFENDED[key] = case.with_defense(
                    defense, root / "cases" / f"{spec.case}-{spec.defense}-{tag}", spec.seed
                )
            case = _DEFENDED[key]
    return case


_DEFENDED: dict[tuple[Any, ...], Any] = {}


def with_device(
    cls: Any, config: dict[str, Any], device: str, precision: str | None = None
) -> dict[str, Any]:
    """``config`` with the cell's ``device`` (and ``precision``) for a class whose ``Config``
    has those fields and that the config does not set itself (an attack's or defense's own
    setting wins)."""
    import dataclasses

    names = {f.name for f in dataclasses.fields(cls.Config)} if hasattr(cls, "Config") else set()
    out = dict(config)
    if "device" in names and "device" not in out:
        out["device"] = device
    if precision is not None and "precision" in names and "precision" not in out:
        out["precision"] = precision
    return out


def _view_for(case: Any, spec: CellSpec, *, budget: int | None) -> Any:
    from mi_core.defense import DefenseKind
    from mi_core.registry import get_defense
    from mi_core.views import make_view

    access = Access.parse(spec.access, "cell.access")
    kwargs = dict(case.view_kwargs(access))
    if budget is not None:
        kwargs["budget"] = budget
    if access is Access.BLACK_BOX_TOPK:
        kwargs["k"] = spec.k
    view = make_view(case.target(), access, info=case.target_info(), **kwargs)
    if spec.defense:
        cls = get_defense(spec.defense)
        defense = cls(with_device(cls, spec.defense_config, spec.device))
        if defense.kind is DefenseKind.OUTPUT:
            view = defense.wrap(view)
    return view


def run_shard(spec_dict: dict[str, Any], index: int, workdir: str) -> dict[str, Any]:
    """Run shard ``index`` of a cell; returns ``{"status", "result" | "message", ...}``.

    The shard's result is also saved under ``cells/<id>/shards/<index>/`` when the work
    directory is reachable, so a rerun skips it.
    """
    from mi_core.registry import get_attack

    spec = CellSpec(**spec_dict)
    root = Path(workdir)
    n = effective_shards(spec)
    shard_dir = root / "cells" / spec.id / "shards" / str(index)
    if (shard_dir / "result.json").exists():
        return {"status": "ok", "result": AttackResult.load(shard_dir)}
    try:
        from mi_core.artifacts import sharing
        from mi_core.device import deterministic
        from mi_core.device import where as resolve

        where = resolve(spec.device, "cell.device")
        with deterministic(spec.deterministic):
            case = _case_for(spec, root)
            cls = get_attack(spec.attack)
            attack = cls(with_device(cls, spec.config, spec.device, spec.precision))
            view = _view_for(case, spec, budget=spec.budget)
            knowledge = _shard_labels(case.knowledge(Access.parse(spec.access)), index, n)
            with sharing(root / "shared"):  # priors several attacks train alike: trained once
                result = attack.run(view, knowledge, seed=spec.seed)
        result.info.setdefault("device", where)
        if n > 1:
            result.save(shard_dir)
        return {"status": "ok", "result": result, "device": where}
    except (AccessError, NotApplicable) as exc:
        return {"status": "not-applicable", "message": str(exc)}
    except Exception as exc:
        return {
            "status": "error",
            "message": f"{type(exc).__name__}: {exc}",
            "traceback": traceback.format_exc(),
        }


def merge_results(parts: list[AttackResult]) -> AttackResult:
    """Concatenate shard results of one cell (reconstructions, targets, scores, arrays)."""
    if len(parts) == 1:
        return parts[0]

    def cat(values: list[Any]) -> Any:
        if all(v is None for v in values):
            return None
        if all(is_tensor(v) for v in values):
            import torch

            return torch.cat([v if v.ndim else v[None] for v in values])
        if all(isinstance(v, np.ndarray) for v in values):
            return np.concatenate(values)
        out: list[Any] = []
        for v in values:
            out.extend(v.tolist() if hasattr(v, "tolist") else list(v))
        return out

    first = parts[0]
    arrays = {}
    for key in first.arrays:
        if all(key in p.arrays for p in parts):
            arrays[key] = cat([p.arrays[key] for p in parts])
    return AttackResult(
        attack=first.attack,
        modality=first.modality,
        access=first.access,
        reconstructions=cat([p.reconstructions for p in parts]),
        targets=cat([p.targets for p in parts]),
        scores=cat([p.scores for p in parts]),
        queries=sum(p.queries for p in parts),
        seconds=sum(p.seconds for p in parts),
        seed=first.seed,
        config=first.config,
        arrays=arrays,
        info={"shards": [p.info for p in parts]},
    )


def finish_cell(
    spec_dict: dict[str, Any], workdir: str, *shard_outputs: dict[str, Any]
) -> tuple[dict[str, Any], AttackResult | None]:
    """Merge the shards of a cell, evaluate, and return ``(record, result)`` (not saved)."""
    spec = CellSpec(**spec_dict)
    root = Path(workdir)
    record: dict[str, Any] = {"id": spec.id, "spec": asdict(spec), "target": spec.target_name}
    bad = [s for s in shard_outputs if s["status"] != "ok"]
    if bad:
        record.update({k: v for k, v in bad[0].items() if k != "result"})
        return record, None
    try:
        case = _case_for(spec, root)
        result = merge_results([s["result"] for s in shard_outputs])
        figures = case.evaluate(result)
        result.metrics = {f.metric: f.to_dict() for f in figures}
        result.info["cell"] = spec.id
        utility_view = (
            _view_for(case, spec, budget=None)
            if spec.defense and Access.parse(spec.access) is not Access.WHITE_BOX
            else None
        )
        where = sorted({s["device"] for s in shard_outputs if s.get("device")})
        if where:
            record["device"] = ", ".join(where)
        record.update(
            status="ok",
            modality=case.modality,
            figures=[f.to_dict() for f in figures],
            queries=result.queries,
            seconds=result.seconds,
            shards=len(shard_outputs),
            utility=case.utility() if utility_view is None else case.utility(utility_view),
        )
        return record, result
    except (AccessError, NotApplicable) as exc:
        record.update(status="not-applicable", message=str(exc))
    except Exception as exc:
        record.update(
            status="error", message=f"{type(exc).__name__}: {exc}", traceback=traceback.format_exc()
        )
    return record, None


def save_cell(workdir: str | Path, record: dict[str, Any], result: AttackResult | None) -> None:
    """Write a finished cell: the result directory first, the record (the "done" mark) last."""
    cell_dir = Path(workdir) / "cells" / record["id"]
    if result is not None:
        result.save(cell_dir)
    atomic_write_json(cell_dir / "cell.json", record)


def run_cell(
    spec_dict: dict[str, Any],
    workdir: str,
    shard: Callable[[dict[str, Any], int, str], dict[str, Any]] | None = None,
    executor: str | None = None,
) -> dict[str, Any]:
    """Run one cell (all its shards, each by ``shard``: :func:`run_shard` in this process by
    default), save it, return its record (``executor`` noted in it when given)."""
    spec = CellSpec(**spec_dict)
    t0 = time.perf_counter()
    run = shard or run_shard
    outputs = [run(spec_dict, i, workdir) for i in range(effective_shards(spec))]
    record, result = finish_cell(spec_dict, workdir, *outputs)
    record["wall_seconds"] = time.perf_counter() - t0
    if executor is not None:
        record["executor"] = executor
    save_cell(workdir, record, result)
    return record


def cell_record(workdir: Path, spec: CellSpec) -> dict[str, Any] | None:
    path = workdir / "cells" / spec.id / "cell.json"
    if not path.exists():
        return None
    rec: dict[str, Any] = read_json(path)
    return rec


Executor = Callable[[list[dict[str, Any]], str], Iterable[dict[str, Any]]]


def local_executor(specs: list[dict[str, Any]], workdir: str) -> Iterable[dict[str, Any]]:
    """Run cells one after another in this process."""
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
    if not resume:
        for spec in specs:
            shutil.rmtree(root / "cells" / spec.id, ignore_errors=True)
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
