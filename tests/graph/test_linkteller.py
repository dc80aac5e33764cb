"""LinkTeller (Wu et al. 2022) through an inductive view that answers feature queries only."""

import pytest
import torch

from mi_core import AccessError, QueryBudgetExceeded
from mi_graph.attacks.linkteller import LinkTeller
from mi_graph.data import dense_adjacency, edge_density
from mi_graph.knowledge import graph_knowledge
from mi_graph.metrics import correlation_scores, precision_at_density
from mi_graph.targets import GraphTarget, graph_view


@pytest.fixture(scope="module")
def inductive(sbm, gcn):
    return GraphTarget(gcn, sbm, modes=("features",))


def _knowledge(sbm, nodes):
    # the attacker supplies the features of every inference node, and knows the density
    return graph_knowledge(
        nodes,
        features=sbm.x,
        feature_nodes=torch.arange(sbm.num_nodes),
        density=edge_density(sbm.edge_index, sbm.num_nodes),
    )


def test_linkteller_beats_lsa2_at_the_true_density(sbm, inductive, target_nodes):
    view = graph_view(inductive, "black-box-scores")
    result = LinkTeller(progress=False).run(view, _knowledge(sbm, target_nodes), seed=0)
    truth = dense_adjacency(sbm.edge_index, target_nodes, sbm.num_nodes)
    ours = precision_at_density(result.reconstructions, truth)
    lsa2_post = precision_at_density(correlation_scores(result.arrays["posteriors"]), truth)
    lsa2_attr = precision_at_density(correlation_scores(sbm.x[target_nodes]), truth)
    assert ours >= max(lsa2_post, lsa2_attr) + 0.15, (ours, lsa2_post, lsa2_attr)
    # k + 1 feature queries, each returning one posterior per inference node
    assert result.queries == (len(target_nodes) + 1) * sbm.num_nodes
    assert "predicted" in result.arrays


def test_linkteller_queries_features_only_and_respects_the_budget(sbm, gcn, inductive):
    nodes = torch.arange(10)
    transductive = GraphTarget(gcn, sbm, modes=("nodes",))
    with pytest.raises(AccessError, match="not feature queries"):
        LinkTeller(progress=False).run(
            graph_view(transductive, "black-box-scores"), _knowledge(sbm, nodes)
        )
    budget = 5 * sbm.num_nodes
    view = graph_view(inductive, "black-box-scores", budget=budget)
    with pytest.raises(QueryBudgetExceeded, match=f"of {budget}"):
        LinkTeller(progress=False).run(view, _knowledge(sbm, nodes))


def test_linkteller_recovers_a_single_edge_exactly(gcn, sbm):
    # on a 3-node inference graph with one private edge, only that pair has influence
    from types import SimpleNamespace

    x = sbm.x[:3]
    graph = SimpleNamespace(x=x, edge_index=torch.tensor([[0, 1], [1, 0]]), num_nodes=3)
    view = graph_view(GraphTarget(gcn, graph, modes=("features",)), "black-box-scores")
    res = LinkTeller(progress=False).run(view, graph_knowledge([0, 1, 2], features=x))
    s = res.reconstructions
    assert float(s[0, 1]) > 0 and float(s[0, 2]) == 0 and float(s[1, 2]) == 0
