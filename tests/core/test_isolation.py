"""The isolated executor: an attack in a child process reaches the target only through counted
queries. A malicious plugin that finds the model, the runner's case cache and the private data
in process (where views guard honest code only) finds none of them isolated."""

import copy
import gc
import pickle
import warnings
from dataclasses import dataclass

import numpy as np
import pytest
import torch
from torch import nn

from mi_core import (
    Access,
    AccessError,
    BaseAttack,
    ConfigError,
    Knowledge,
    QueryBudgetExceeded,
    TargetInfo,
    make_view,
    registry,
)
from mi_core.audit import runner
from mi_core.audit.case import AuditCase
from mi_core.audit.executors import get_executor
from mi_core.audit.runner import CellSpec, run_cells
from mi_core.errors import IsolationError
from mi_core.isolation import _decode, _unpack, run_isolated
from mi_core.metrics.base import Figure
from mi_core.result import AttackResult

PRIVATE_SHAPE = (37, 8)  # how the snoop recognises the private data in memory
INFO = TargetInfo(modality="image", input_shape=(8,), num_classes=3)


@dataclass
class SnoopConfig:
    tries: int = 12


class Snoop(BaseAttack):
    """A malicious plugin declared label-only: it looks for the model, the private data and the
    runner's case cache, and queries past its budget."""

    name = "snoop-test"
    modality = "image"
    access = Access.LABEL_ONLY
    Config = SnoopConfig

    def _run(self, view, knowledge, seed):
        arrays, info = {}, {}
        # 1. the runner's case cache (the case holds the target and the private data)
        cached = list(runner._CASE_CACHE.values())
        info["cached_cases"] = len(cached)
        for case in cached:
            if getattr(case, "private", None) is not None:  # other tests' cases may be cached too
                arrays["private_from_cache"] = case.private
        # 2. the garbage collector: every live module and the private data by its shape
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            objs = [o for o in gc.get_objects() if isinstance(o, nn.Module | torch.Tensor)]
        # modules shaped like the target (libraries preloaded in the worker may hold others)
        info["modules"] = sum(
            isinstance(o, nn.Linear) and (o.in_features, o.out_features) == (8, 3) for o in objs
        )
        private = [o for o in objs if isinstance(o, torch.Tensor) and o.shape == PRIVATE_SHAPE]
        if private:
            arrays["private_from_gc"] = private[0].detach().clone()
        # 3. closure walk from the view to the model: answers that no counter sees
        module = _module_in_closures(view)
        info["module_in_closures"] = module is not None
        if module is not None:
            with torch.no_grad():
                arrays["uncounted_scores"] = module(torch.rand(50, 8))
        # 4. a copy of the view for a fresh budget, and queries past the budget
        info["answered"] = 0
        for v in (view, copy.deepcopy(view)):
            for _ in range(self.config.tries):
                try:
                    v(torch.rand(1, 8))
                    info["answered"] += 1
                except QueryBudgetExceeded:
                    break
        return self._result(torch.zeros(1, 1, 8, 8), arrays=arrays, info=info)


def _module_in_closures(obj, depth=0, seen=None):
    seen = set() if seen is None else seen
    if depth > 8 or id(obj) in seen:
        return None
    seen.add(id(obj))
    if isinstance(obj, nn.Module):
        return obj
    values = list(vars(obj).values()) if hasattr(obj, "__dict__") else []
    for cell in getattr(obj, "__closure__", None) or ():
        values.append(cell.cell_contents)
    for v in values:
        if callable(v) or isinstance(v, nn.Module):
            found = _module_in_closures(v, depth + 1, seen)
            if found is not None:
                return found
    return None


@dataclass
class ProbeConfig:
    n: int = 6


class Probe(BaseAttack):
    """An honest attack: scores of seeded random inputs, then narrower views of the target."""

    name = "probe-test"
    modality = "image"
    access = Access.BLACK_BOX_SCORES
    Config = ProbeConfig

    def _run(self, view, knowledge, seed):
        x = torch.rand(self.config.n, 8)
        scores = view(x)
        top = view.restrict("black-box-topk", k=1)
        labels = view.restrict("label-only")(x[:2])
        return self._result(
            x,
            targets=labels,
            scores=scores,
            arrays={"aux": knowledge.auxiliary, "top": top(x[:2])},
            info={"k": top.k, "remaining": view.remaining, "labels": top.labels(x[:2])},
        )


def _target():
    torch.manual_seed(0)
    return nn.Linear(8, 3)


def test_malicious_attack_gets_everything_in_process_and_nothing_isolated():
    target = _target()
    private = torch.randn(PRIVATE_SHAPE)  # lives in this process only
    knowledge = Knowledge(auxiliary=torch.rand(10, 8))

    inproc = Snoop().run(make_view(target, "label-only", budget=4, info=INFO), knowledge)
    # in process the guarantee is for honest code: the snoop walks past the view
    assert torch.equal(inproc.arrays["private_from_gc"], private)
    assert inproc.info["module_in_closures"] and inproc.info["modules"] >= 1
    assert inproc.arrays["uncounted_scores"].shape == (50, 3) and inproc.queries == 4
    # ... but not past the counter: its copy shares the budget
    assert inproc.info["answered"] == 4

    view = make_view(target, "label-only", budget=4, info=INFO)
    iso = run_isolated(Snoop, {}, view, knowledge, seed=0)
    assert iso.info["modules"] == 0 and not iso.info["module_in_closures"]
    assert "private_from_gc" not in iso.arrays and "uncounted_scores" not in iso.arrays
    assert iso.info["answered"] == 4 and iso.queries == 4 and view.queries == 4
    assert isinstance(iso, AttackResult) and iso.info["executor"] == "isolated"


def test_honest_attack_gives_the_same_result_isolated():
    target = _target()
    knowledge = Knowledge(auxiliary=np.arange(6.0).reshape(2, 3))
    here = Probe().run(
        make_view(target, "black-box-scores", budget=50, info=INFO), knowledge, seed=5
    )
    view = make_view(target, "black-box-scores", budget=50, info=INFO)
    there = run_isolated(Probe, {"n": 6}, view, knowledge, seed=5)
    for name in ("reconstructions", "targets", "scores"):
        assert torch.equal(getattr(here, name), getattr(there, name)), name
    np.testing.assert_array_equal(there.arrays["aux"], knowledge.auxiliary)
    assert torch.equal(here.arrays["top"], there.arrays["top"])
    assert here.queries == there.queries == view.queries == 12
    assert there.access == "black-box-scores" and there.info["k"] == 1
    assert there.info["remaining"] == 40 and there.config == {"n": 6}
    assert there.info["labels"] == here.info["labels"].tolist()


def test_isolation_refuses_white_box_views_and_keeps_child_errors_named():
    target = _target()
    with pytest.raises(IsolationError, match="white-box view hands out the model"):
        run_isolated(Probe, {}, make_view(target, "white-box", info=INFO))
    with pytest.raises(IsolationError, match="knowledge: holds a Linear"):
        run_isolated(
            Probe,
            {},
            make_view(target, "black-box-scores", info=INFO),
            Knowledge(extra={"model": target}),
            forbid=[target],
        )
    # the attack's own errors come back by name: a label-only view is too weak for Probe
    with pytest.raises(AccessError, match="needs black-box-scores access"):
        run_isolated(Probe, {}, make_view(target, "label-only", info=INFO))
    with pytest.raises(ConfigError, match=r"probe-test\.config"):
        run_isolated(Probe, {"m": 1}, make_view(target, "black-box-scores", info=INFO))


def test_the_parent_never_unpickles_what_the_child_sends():
    with pytest.raises(IsolationError, match="malformed message"):
        _unpack(pickle.dumps({"op": "result"}))
    # dataclasses come back only as query types the target declares
    with pytest.raises(IsolationError, match="not a query type the target declares"):
        _decode({"$dc": "os:system", "fields": {}}, {})


class TinyCase(AuditCase):
    """A case whose private data and target live in the runner's case cache."""

    name = "tiny-private-test"
    modality = "image"

    def prepare(self, workdir, seed):
        self.model = _target()
        self.private = torch.randn(PRIVATE_SHAPE, generator=torch.Generator().manual_seed(seed))

    def target(self):
        return self.model

    def target_info(self):
        return INFO

    def knowledge(self, access):
        return Knowledge(auxiliary=torch.rand(4, 8))

    def evaluate(self, result):
        leaked = "private_from_cache" in result.arrays or "private_from_gc" in result.arrays
        return [Figure("snoop_leak", float(leaked), True, baseline=0.0)]


def test_audit_executor_isolated_keeps_the_case_cache_and_budget_from_a_plugin(
    tmp_path, monkeypatch
):
    monkeypatch.setattr(registry, "_LOCAL", {k: dict(v) for k, v in registry._LOCAL.items()})
    monkeypatch.setattr(runner, "_CASE_CACHE", {})
    registry.register_attack(Snoop)
    registry.register_case(TinyCase)
    specs = [CellSpec("tiny-private-test", "snoop-test", "black-box-scores", budget=3)]
    local = run_cells(specs, tmp_path / "local", executor=get_executor("local"), progress=False)
    iso = run_cells(specs, tmp_path / "iso", executor=get_executor("isolated"), progress=False)
    assert local[0]["status"] == iso[0]["status"] == "ok", (local, iso)
    leak_local = AttackResult.load(tmp_path / "local" / "cells" / specs[0].id)
    leak_iso = AttackResult.load(tmp_path / "iso" / "cells" / specs[0].id)
    # in process the plugin reads the cache: the private data, with no query spent on it
    case = next(iter(runner._CASE_CACHE.values()))
    assert torch.equal(leak_local.arrays["private_from_cache"], case.private)
    assert local[0]["figures"][0]["value"] == 1.0
    # isolated: an empty cache, no model, nothing private, and the budget holds
    assert leak_iso.info["cached_cases"] == 0 and leak_iso.info["modules"] == 0
    assert not any(k.startswith("private") for k in leak_iso.arrays)
    assert iso[0]["figures"][0]["value"] == 0.0
    assert iso[0]["queries"] == 3 and iso[0]["executor"] == "isolated"
    # white-box cells are refused, not silently run in process
    wb = [CellSpec("tiny-private-test", "snoop-test", "white-box")]
    rec = run_cells(wb, tmp_path / "wb", executor=get_executor("isolated"), progress=False)
    assert rec[0]["status"] == "error" and "cannot run isolated" in rec[0]["message"]


def test_cli_offers_the_isolated_executor():
    from mi_core.audit.executors import EXECUTORS
    from mi_core.cli import build_parser

    args = build_parser().parse_args(["audit", "--demo", "--executor", "isolated"])
    assert args.executor == "isolated" and "isolated" in EXECUTORS
    with pytest.raises(ConfigError, match="only the ray executor"):
        get_executor("isolated", address="ray://x:1")
