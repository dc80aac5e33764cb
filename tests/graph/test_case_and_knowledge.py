"""The built-in audit case, graph knowledge validation and the training helper."""

import pytest
import torch

from mi_core import ConfigError
from mi_core.registry import case_entries, list_attacks
from mi_graph.knowledge import GraphKnowledge, graph_knowledge
from mi_graph.models import ARCHS, build_model
from mi_graph.training import TrainConfig, train_node_classifier


def test_all_six_attacks_and_the_case_are_registered():
    graph = {r["name"] for r in list_attacks() if r["modality"] == "graph"}
    assert graph == {
        "graphmi",
        "mc-gra",
        "rl-graphmi",
        "inverse-mapping",
        "link-stealing",
        "linkteller",
    }
    assert "sbm-gcn" in case_entries()


def test_audit_case_cells_run_and_beat_their_baselines(tmp_path):
    from mi_core.audit.runner import CellSpec, run_cell
    from mi_core.result import AttackResult
    from mi_graph.cases import SBMGCNCase

    for cell in SBMGCNCase.default_cells:
        config = {**cell.config, "progress": False}
        spec = CellSpec("sbm-gcn", cell.attack, cell.access, config, budget=cell.budget)
        rec = run_cell(spec.__dict__, str(tmp_path))
        assert rec["status"] == "ok", rec.get("message")
        auc = next(f for f in rec["figures"] if f["metric"] == "link_auc")
        if cell.attack in ("graphmi", "rl-graphmi"):
            # judged against features *and* labels, which they know: no margin asked
            assert auc["baseline"]["name"] == "feature-cosine+label"
        elif cell.attack == "mc-gra":  # beyond features and labels: the released embeddings
            assert auc["baseline"]["name"] == "feature-cosine+label"
            assert auc["value"] > auc["baseline"]["value"] + 0.03, rec["id"]
        else:
            assert auc["value"] > auc["baseline"]["value"] + 0.15, rec["id"]
        assert rec["utility"]["test_accuracy"] > 0.8
        # the report's ROC / PR evidence is saved with the cell
        saved = AttackResult.load(tmp_path / "cells" / rec["id"])
        labels = saved.arrays["eval_labels"]
        assert len(saved.arrays["eval_scores"]) == len(labels) == 120 * 119 // 2
        assert int(labels.sum()) == auc["details"]["edges"] > 0


@pytest.mark.slow
def test_audit_case_retrains_under_graph_defenses(tmp_path):
    from mi_core.audit.runner import CellSpec, run_cell

    accs = {}
    for defense, cfg in (("mc-gpb", {}), ("edge-rand", {"epsilon": 1.0})):
        spec = CellSpec(
            "sbm-gcn",
            "mc-gra",
            "white-box",
            {"epochs": 20, "progress": False},
            defense=defense,
            defense_config=cfg,
        )
        rec = run_cell(spec.__dict__, str(tmp_path))
        assert rec["status"] == "ok", (defense, rec.get("message"))
        accs[defense] = rec["utility"]["test_accuracy"]
    assert accs["mc-gpb"] > 0.8 and accs["edge-rand"] < accs["mc-gpb"]
    spec = CellSpec("sbm-gcn", "mc-gra", "white-box", {"epochs": 2}, defense="dedup")
    rec = run_cell(spec.__dict__, str(tmp_path))
    assert rec["status"] == "not-applicable", rec


def test_graph_knowledge_names_bad_fields():
    with pytest.raises(ConfigError, match="target_nodes: node ids must be distinct"):
        graph_knowledge([1, 1, 2])
    with pytest.raises(ConfigError, match=r"known_attributes: expected one feature row"):
        graph_knowledge([1, 2, 3], features=torch.zeros(2, 4))
    with pytest.raises(ConfigError, match=r"target_labels: expected one label"):
        graph_knowledge([1, 2, 3], labels=[0, 1])
    with pytest.raises(ConfigError, match=r"density: must lie in \(0, 1\)"):
        graph_knowledge([1, 2], density=2.0)
    k = graph_knowledge([4, 2], features=torch.eye(5), feature_nodes=range(5))
    assert torch.equal(GraphKnowledge(k).target_features("x"), torch.eye(5)[[4, 2]])
    with pytest.raises(ConfigError, match="features of target nodes"):
        GraphKnowledge(
            graph_knowledge([7, 2], features=torch.eye(3), feature_nodes=range(3))
        ).target_features("LinkTeller")


@pytest.mark.parametrize("arch", ARCHS)
def test_each_architecture_learns_the_blocks(sbm, arch):
    torch.manual_seed(0)
    model = build_model(arch, sbm.x.shape[1], 4)
    report = train_node_classifier(model, sbm, TrainConfig(epochs=100), seed=0, progress=False)
    assert report.test_accuracy > 0.7, (arch, report.test_accuracy)
    assert len(report.train_idx) == 40 and not model.training


def test_train_config_errors_name_the_field():
    with pytest.raises(ConfigError, match="train_ratio \\+ val_ratio"):
        TrainConfig(train_ratio=0.6, val_ratio=0.5)
