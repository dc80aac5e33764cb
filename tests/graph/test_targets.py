"""Graph targets: query kinds, what a query costs, enforced modes, no edges through a view."""

import pytest
import torch

from mi_core import AccessError, ConfigError, QueryBudgetExceeded, make_view
from mi_graph.data import induced_subgraph
from mi_graph.targets import (
    FeatureQuery,
    GraphQuery,
    GraphTarget,
    NodeQuery,
    graph_query_cost,
    graph_view,
)


def test_node_query_returns_posteriors_and_costs_one_per_node(sbm, gcn):
    view = graph_view(GraphTarget(gcn, sbm), "black-box-scores", budget=100)
    post = view(NodeQuery(torch.tensor([3, 1, 4])))
    assert post.shape == (3, 4) and torch.allclose(post.sum(1), torch.ones(3))
    with torch.no_grad():
        full = torch.softmax(gcn(sbm.x, sbm.edge_index), 1)
    assert torch.allclose(post, full[[3, 1, 4]], atol=1e-6)
    assert view.queries == 3 and not post.requires_grad
    with pytest.raises(QueryBudgetExceeded, match="3 of 100"):
        view(NodeQuery(torch.arange(98)))


def test_feature_query_runs_on_the_private_induced_subgraph(sbm, gcn):
    target = GraphTarget(gcn, sbm, modes=("features",))
    view = graph_view(target, "black-box-scores")
    nodes = torch.arange(0, 400, 3)
    x = torch.rand(len(nodes), sbm.x.shape[1])
    out = view(FeatureQuery(nodes, x))
    sub = induced_subgraph(sbm, nodes)
    with torch.no_grad():
        ref = torch.softmax(gcn(x, sub.edge_index), 1)
    assert torch.allclose(out, ref, atol=1e-6)
    assert view.queries == len(nodes)
    with pytest.raises(AccessError, match="features queries only, not node queries"):
        view(NodeQuery(nodes))
    with pytest.raises(ConfigError, match=r"FeatureQuery.x: expected shape"):
        view(FeatureQuery(nodes, x[:, :5]))


def test_graph_query_costs_its_node_count(sbm, gcn):
    sub = induced_subgraph(sbm, torch.arange(50))
    q = GraphQuery(sub.x, sub.edge_index)
    assert graph_query_cost(q) == 50
    view = graph_view(GraphTarget(gcn, sbm), "black-box-scores")
    assert view(q).shape == (50, 4) and view.queries == 50
    # a user-defined cost: one per API call
    per_call = make_view(
        GraphTarget(gcn, sbm), "black-box-scores", cost=lambda q: 1, postprocess="softmax"
    )
    per_call(q)
    assert per_call.queries == 1


def test_white_box_view_hands_out_the_gnn_not_the_graph(sbm, gcn):
    target = GraphTarget(gcn, sbm)
    view = graph_view(target, "white-box")
    module = view.module
    out = module(sbm.x[:10], torch.empty(2, 0, dtype=torch.long))  # a plain GNN call
    assert out.shape == (10, 4)
    tensors = [v for v in vars(module).values() if isinstance(v, torch.Tensor)]
    assert all(t is not sbm.edge_index for t in tensors)
    assert not any(b.shape == sbm.edge_index.shape for b in module.buffers())


def test_bad_queries_are_named(sbm, gcn):
    view = graph_view(GraphTarget(gcn, sbm), "black-box-scores")
    with pytest.raises(ConfigError, match=r"NodeQuery.nodes: ids must lie in \[0, 400\)"):
        view(NodeQuery(torch.tensor([400])))
    with pytest.raises(
        ConfigError, match="takes NodeQuery, FeatureQuery or GraphQuery, got Tensor"
    ):
        view(sbm.x)
    with pytest.raises(ConfigError, match="modes"):
        GraphTarget(gcn, sbm, modes=("edges",))


def test_malformed_private_graph_is_refused_by_name(sbm, gcn):
    from types import SimpleNamespace

    def graph(**kw):
        g = {"x": sbm.x, "edge_index": sbm.edge_index, "num_nodes": sbm.num_nodes, **kw}
        return SimpleNamespace(**g)

    with pytest.raises(ConfigError, match=r"graph.edge_index: expected shape \(2, E\).*\.T"):
        GraphTarget(gcn, graph(edge_index=sbm.edge_index.T))
    with pytest.raises(ConfigError, match="node ids must be integers"):
        GraphTarget(gcn, graph(edge_index=sbm.edge_index.float()))
    with pytest.raises(ConfigError, match=r"node ids must lie in \[0, 400\)"):
        GraphTarget(gcn, graph(edge_index=sbm.edge_index + 1))
    with pytest.raises(ConfigError, match=r"graph\.num_nodes: 401 nodes"):
        GraphTarget(gcn, graph(num_nodes=401))


def test_graph_queries_reach_the_model_as_plain_tensors(sbm, gcn):
    # the query dataclasses are declared by the target; their fields are copied into plain
    # tensors, and a subclass of a query type is refused
    from mi_core.errors import QueryInputError

    class Sneaky(NodeQuery):
        pass

    view = graph_view(GraphTarget(gcn, sbm), "label-only", budget=10)
    assert view(NodeQuery([1, 2])).shape == (2,) and view.queries == 2
    with pytest.raises(QueryInputError, match="a Sneaky cannot be sent"):
        view(Sneaky(torch.tensor([1])))
