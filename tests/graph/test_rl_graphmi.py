"""RL-GraphMI (Zhang et al., TKDE 2023): GraphMI's objective from hard-label queries only.

The attacker knows the target nodes' features and the edge density, not their labels: it asks
the label-only service for them, then samples graphs among the targets and queries the labels the
GCN predicts on each. The no-model baseline of that knowledge is feature cosine. Measured over
target draws 0-4 (120 targets of a 4-block SBM, 30 steps): AUC +0.13 or more over feature cosine;
with the optimisation off the relaxed adjacency is constant (AUC 0.5, below feature cosine).
"""

import pytest
import torch

from mi_core import ConfigError, QueryBudgetExceeded
from mi_core.registry import get_attack, list_attacks
from mi_graph.attacks.rl_graphmi import RLGraphMI, project_logits
from mi_graph.data import edge_density, sample_nodes
from mi_graph.knowledge import graph_knowledge
from mi_graph.metrics import LinkEvaluator
from mi_graph.targets import GraphTarget, graph_view

SEEDS = range(5)


def _knowledge(sbm, nodes, **kw):
    return graph_knowledge(
        nodes, features=sbm.x[nodes], density=edge_density(sbm.edge_index, sbm.num_nodes), **kw
    )


def _gaps(sbm, gcn, epochs):
    """Per target draw: AUC of RL-GraphMI minus AUC of feature cosine (its no-model baseline)."""
    target = GraphTarget(gcn, sbm)
    out = []
    for seed in SEEDS:
        nodes = sample_nodes(sbm.num_nodes, 120, seed)
        res = RLGraphMI(epochs=epochs, progress=False).run(
            graph_view(target, "label-only"), _knowledge(sbm, nodes), seed=seed
        )
        assert res.info["no_model_baseline"] == "feature-cosine"
        ev = LinkEvaluator(sbm, baseline=res.info["no_model_baseline"])
        auc = next(f for f in ev.figures(res.reconstructions, nodes) if f.metric == "link_auc")
        out.append(auc.value - auc.baseline)
    return out


def _leaks(gaps):
    return all(g >= 0.07 for g in gaps)


def test_rl_graphmi_is_registered_as_label_only():
    assert get_attack("rl-graphmi") is RLGraphMI
    row = next(r for r in list_attacks() if r["name"] == "rl-graphmi")
    assert row["modality"] == "graph" and row["access"] == "label-only"


def test_rl_graphmi_beats_feature_cosine_on_every_draw(sbm, gcn):
    gaps = _gaps(sbm, gcn, epochs=30)
    assert _leaks(gaps), gaps


def test_rl_graphmi_check_fails_without_optimisation(sbm, gcn):
    gaps = _gaps(sbm, gcn, epochs=0)
    assert not _leaks(gaps), gaps


def test_rl_graphmi_stays_within_its_budget(sbm, gcn, target_nodes):
    target = GraphTarget(gcn, sbm)
    nodes = target_nodes[:40]
    per_step = 4 * 40
    budget = 40 + 3 * per_step + per_step // 2  # the labels, 3.5 steps
    view = graph_view(target, "label-only", budget=budget)
    res = RLGraphMI(epochs=50, samples=4, progress=False).run(view, _knowledge(sbm, nodes))
    assert view.queries == res.queries == 40 + 3 * per_step <= budget
    assert res.info["steps"] == 3 and res.info["stopped_by_budget"]
    # a wider view is narrowed to labels and shares the same counter
    scores = graph_view(target, "black-box-scores", budget=10 * per_step)
    res = RLGraphMI(epochs=2, samples=4, progress=False).run(
        scores, _knowledge(sbm, nodes, labels=sbm.y[nodes])
    )
    assert scores.queries == 2 * per_step and res.info["labels"] == "knowledge"
    assert res.info["no_model_baseline"] == "feature-cosine+label"
    with pytest.raises(ConfigError, match="needs at least 200 queries"):
        RLGraphMI(samples=4, progress=False).run(
            graph_view(target, "label-only", budget=199), _knowledge(sbm, nodes)
        )


def test_rl_graphmi_never_overspends_a_budget_the_view_enforces(sbm, gcn, target_nodes):
    """The view raises before any call that would overspend: the attack plans so it never
    triggers that error, whatever the budget."""
    target = GraphTarget(gcn, sbm)
    nodes = target_nodes[:20]
    for budget in (20 + 3 * 20, 20 + 3 * 20 + 59, 1000):
        view = graph_view(target, "label-only", budget=budget)
        try:
            RLGraphMI(epochs=100, samples=3, progress=False).run(view, _knowledge(sbm, nodes))
        except QueryBudgetExceeded as exc:  # pragma: no cover - the failure this test guards
            pytest.fail(f"overspent budget {budget}: {exc}")
        assert view.queries <= budget


def test_rl_graphmi_is_seeded_and_reads_out(sbm, gcn, target_nodes):
    target = GraphTarget(gcn, sbm)
    k = _knowledge(sbm, target_nodes[:30])
    a = RLGraphMI(epochs=5, progress=False).run(graph_view(target, "label-only"), k, seed=2)
    b = RLGraphMI(epochs=5, progress=False).run(graph_view(target, "label-only"), k, seed=2)
    assert torch.equal(a.reconstructions, b.reconstructions)
    fused = RLGraphMI(epochs=5, readout="relaxed+knowledge", progress=False).run(
        graph_view(target, "label-only"), k, seed=2
    )
    expected = a.reconstructions / a.reconstructions.max() + 10.0 * fused.arrays["knowledge_scores"]
    expected.fill_diagonal_(0)
    assert torch.allclose(fused.reconstructions, expected, atol=1e-6)
    relaxed = torch.triu(a.arrays["relaxed_adjacency"], 1)
    assert float(relaxed.sum()) <= a.info["edge_budget"] + 1e-3


def test_project_logits_meets_the_budget():
    theta = torch.linspace(-3, 3, 100)
    out = project_logits(theta, 10.0)
    assert abs(float(torch.sigmoid(out).sum()) - 10.0) < 1e-3
    assert torch.equal(out.argsort(), theta.argsort())  # a shift keeps the order
    assert torch.equal(project_logits(theta, 1e6), theta)


def test_rl_graphmi_config_errors():
    with pytest.raises(ConfigError, match="samples: the leave-one-out baseline needs at least 2"):
        RLGraphMI(samples=1)
    with pytest.raises(ConfigError, match=r"rl-graphmi\.config\.readout: unknown value 'chain'"):
        RLGraphMI(readout="chain")


def test_rl_graphmi_resumes_from_its_checkpoint(sbm, gcn, target_nodes, tmp_path):
    """The policy, its Adam moments and the sampler's generator are checkpointed: a rerun with
    the same checkpoint finds the run finished and spends no query on graphs."""
    target = GraphTarget(gcn, sbm)
    k = _knowledge(sbm, target_nodes[:20])
    cfg = {"epochs": 6, "samples": 3, "checkpoint": str(tmp_path / "rl.ckpt"), "progress": False}
    first = RLGraphMI(checkpoint_every=2, **cfg).run(graph_view(target, "label-only"), k, seed=4)
    view = graph_view(target, "label-only")
    again = RLGraphMI(checkpoint_every=2, **cfg).run(view, k, seed=4)
    assert torch.equal(first.reconstructions, again.reconstructions)
    assert view.queries == 20  # only the targets' labels
