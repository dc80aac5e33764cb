"""Graph loaders, pair distances (against scipy), negative sampling and the GraphMI projection."""

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from scipy.spatial import distance as sd

from mi_core import ConfigError
from mi_graph.data import (
    clean_edge_index,
    dense_adjacency,
    edge_density,
    induced_subgraph,
    load_npz,
    sbm_graph,
)
from mi_graph.pairs import DISTANCES, pair_distance, pairwise_distance, sample_pairs
from mi_graph.relax import (
    feature_smoothness,
    pair_gram,
    pairs_to_matrix,
    project_budget,
    triu_pairs,
)


def _write_npz(path, with_attrs):
    # a directed, duplicated, self-looped 4-node graph as the GraphMI npz files store it
    adj = sp.csr_matrix(
        (np.ones(5), ([0, 1, 1, 2, 3], [1, 0, 2, 2, 0])), shape=(4, 4), dtype=np.float32
    )
    arrays = {
        "adj_data": adj.data,
        "adj_indices": adj.indices,
        "adj_indptr": adj.indptr,
        "adj_shape": np.array(adj.shape),
        "labels": np.array([0, 1, 0, 1]),
    }
    if with_attrs:
        x = sp.csr_matrix(np.eye(4, 3, dtype=np.float32))
        arrays.update(
            attr_data=x.data,
            attr_indices=x.indices,
            attr_indptr=x.indptr,
            attr_shape=np.array(x.shape),
        )
    np.savez(path, **arrays)


@pytest.mark.parametrize("with_attrs", [True, False])
def test_load_npz_symmetrises_and_drops_loops(tmp_path, with_attrs):
    _write_npz(tmp_path / "g.npz", with_attrs)
    g = load_npz(tmp_path / "g.npz")
    pairs = {tuple(p) for p in g.edge_index.T.tolist()}
    assert pairs == {(0, 1), (1, 0), (1, 2), (2, 1), (0, 3), (3, 0)}
    assert g.x.shape == ((4, 3) if with_attrs else (4, 4))  # identity features without attrs
    assert g.y.tolist() == [0, 1, 0, 1]
    assert edge_density(g.edge_index, 4) == pytest.approx(3 / 6)


def test_load_npz_names_the_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_npz(tmp_path / "cora.npz")


def test_sbm_is_seeded_homophilous_and_clean():
    a, b = sbm_graph(seed=3), sbm_graph(seed=3)
    assert torch.equal(a.edge_index, b.edge_index) and torch.equal(a.x, b.x)
    u, v = a.edge_index
    assert bool((u != v).all())
    assert torch.equal(clean_edge_index(a.edge_index, a.num_nodes), a.edge_index)
    assert float((a.y[u] == a.y[v]).float().mean()) > 0.7
    with pytest.raises(ConfigError, match="p_in"):
        sbm_graph(p_in=1.5)


def test_dense_adjacency_and_induced_subgraph_agree(sbm):
    nodes = torch.tensor([5, 0, 17, 101, 250, 399])
    sub = induced_subgraph(sbm, nodes)
    dense = dense_adjacency(sbm.edge_index, nodes, sbm.num_nodes)
    assert torch.equal(dense, dense_adjacency(sub.edge_index, torch.arange(6), 6))
    assert torch.equal(sub.x, sbm.x[nodes])


@pytest.mark.parametrize("metric", DISTANCES)
def test_pairwise_distances_match_scipy(metric):
    g = torch.Generator().manual_seed(0)
    post = torch.softmax(3 * torch.randn(12, 5, generator=g), 1)
    signed = torch.randn(12, 5, generator=g)
    for x in (post, signed):
        ours = pairwise_distance(x, metric).double()
        ref = sd.squareform(sd.pdist(x.double().numpy(), metric))
        np.testing.assert_allclose(ours.numpy(), ref, rtol=1e-5, atol=1e-6)
        pairs = triu_pairs(12)
        np.testing.assert_allclose(
            pair_distance(x, pairs, metric).numpy(),
            ours[pairs[0], pairs[1]].numpy(),
            rtol=1e-5,
            atol=1e-6,
        )


def test_sample_pairs_are_distinct_avoid_and_repeat():
    avoid = torch.zeros(30, 30, dtype=torch.bool)
    avoid[0, 1] = avoid[1, 0] = True
    a = sample_pairs(30, 200, torch.Generator().manual_seed(1), avoid=avoid)
    b = sample_pairs(30, 200, torch.Generator().manual_seed(1), avoid=avoid)
    assert torch.equal(a, b)
    assert bool((a[0] < a[1]).all())
    assert len({tuple(p) for p in a.T.tolist()}) == 200
    assert (0, 1) not in {tuple(p) for p in a.T.tolist()}
    with pytest.raises(ConfigError, match="only"):
        sample_pairs(4, 7, torch.Generator())


def test_projection_is_feasible_and_keeps_feasible_points():
    g = torch.Generator().manual_seed(0)
    a = 2 * torch.randn(500, generator=g)
    p = project_budget(a, 20.0)
    assert float(p.min()) >= 0 and float(p.max()) <= 1
    assert float(p.sum()) == pytest.approx(20.0, abs=1e-3)
    # a projection: the result is a shift-and-clip of the input (KKT of the capped simplex)
    inner = (p > 1e-6) & (p < 1 - 1e-6)
    shift = a[inner] - p[inner]
    assert float(shift.max() - shift.min()) < 1e-4
    small = torch.rand(50, generator=g) * 0.01
    assert torch.equal(project_budget(small, 10.0), small)


def test_feature_smoothness_equals_the_dense_trace():
    g = torch.Generator().manual_seed(0)
    k = 9
    x = torch.rand(k, 4, generator=g, dtype=torch.float64)
    pairs = triu_pairs(k)
    a = torch.rand(pairs.shape[1], generator=g, dtype=torch.float64)
    w = pairs_to_matrix(a, pairs, k)
    deg = w.sum(1)
    r = torch.diag((deg + 1e-3).rsqrt())
    dense = torch.trace(x.T @ r @ (torch.diag(deg) - w) @ r @ x)
    ours = feature_smoothness(a, pairs, (x * x).sum(1), pair_gram(x, pairs, rows=4))
    assert float(ours) == pytest.approx(float(dense), rel=1e-9)
