"""Data defenses: deduplication of LM text and the edge perturbations of training graphs."""

import numpy as np
import pytest
import torch

from mi_core import ConfigError
from mi_defense.data._graph import edge_index_of, pair_ids
from mi_defense.data.dedup import Deduplication, near_dedup
from mi_defense.data.edge_rand import EdgeRand, LapGraph
from mi_defense.data.edge_rewiring import EdgeFlip, EdgeRewire

DOCS = [
    "Alice Moore's social security number is 512-44-1093.",
    "The weather in the harbour was calm for most of the week.",
    "alice moore's social   security number is 512-44-1093.",
    "The weather in the harbour was calm for most of the week!",
    "A completely different sentence about trains and timetables.",
]


def test_exact_dedup_keeps_the_first_copy():
    out = Deduplication(method="exact").transform(DOCS * 3)
    assert out == [DOCS[0], DOCS[1], DOCS[3], DOCS[4]]


def test_near_dedup_merges_near_copies_only():
    keep = near_dedup(DOCS, threshold=0.6, shingle=2, num_perm=128, bands=32, seed=0)
    assert keep == [0, 1, 4]
    assert near_dedup(DOCS, 0.99, 2, 128, 32, 0) == [0, 1, 3, 4]  # "!" still differs


def test_substring_dedup_cuts_repeated_runs():
    secret = "the access code for the north gate is 7731 and it changes every monday"
    docs = [f"memo one: {secret}.", f"memo two says {secret} so remember"]
    out = Deduplication(method="substring", min_tokens=6).transform(docs)
    assert out[0] == docs[0] and "7731" not in out[1] and out[1].startswith("memo two says")


def test_dedup_bad_input():
    with pytest.raises(ConfigError, match="combine"):
        Deduplication(method="exact+fuzzy")
    with pytest.raises(ConfigError, match="list of documents"):
        Deduplication().transform("one long text")
    with pytest.raises(ConfigError, match="multiple of bands"):
        Deduplication(num_perm=10, bands=3)


def ring(n=60):
    u = torch.arange(n)
    ei = torch.stack([u, (u + 1) % n])
    return torch.cat([ei, ei.flip(0)], 1), n


def test_edge_rand_is_randomised_response():
    ei, n = ring(1000)
    eps = 1.0
    s = 2 / (np.exp(eps) + 1)
    out, _ = EdgeRand(epsilon=eps, seed=0).transform((ei, n))
    new = pair_ids(out, n)
    old = pair_ids(ei, n)
    kept = np.isin(old, new).mean()
    assert kept == pytest.approx(1 - s / 2, abs=0.05)  # an edge survives unless flipped to 0
    pairs = n * (n - 1) // 2 - len(old)
    assert (len(new) - np.isin(old, new).sum()) / pairs == pytest.approx(s / 2, rel=0.05)


def test_lap_graph_keeps_density_and_more_edges_at_larger_epsilon():
    ei, n = ring(200)
    old = pair_ids(ei, n)
    weak = pair_ids(LapGraph(epsilon=8.0, seed=1).transform((ei, n))[0], n)
    strong = pair_ids(LapGraph(epsilon=1.0, seed=1).transform((ei, n))[0], n)
    assert abs(len(weak) - len(old)) < 0.2 * len(old) + 5
    assert np.isin(old, weak).mean() > np.isin(old, strong).mean()


def test_flip_and_rewire_change_a_share_of_the_edges():
    ei, n = ring(300)
    old = pair_ids(ei, n)
    flipped = pair_ids(EdgeFlip(ratio=0.3, seed=0).transform((ei, n))[0], n)
    assert len(flipped) == len(old) and np.isin(old, flipped).mean() == pytest.approx(0.7, 0.02)
    rewired = pair_ids(EdgeRewire(ratio=0.3, seed=0).transform((ei, n))[0], n)
    assert len(rewired) == len(old) and np.isin(old, rewired).mean() == pytest.approx(0.7, 0.02)


class Graph:
    """A PyG-like graph (``x``, ``edge_index``, ``num_nodes``, ``clone``)."""

    def __init__(self, x, edge_index):
        self.x, self.edge_index, self.num_nodes = x, edge_index, x.shape[0]

    def clone(self):
        return Graph(self.x.clone(), self.edge_index.clone())


def test_graph_defenses_take_graph_objects_and_keep_their_features():
    ei, n = ring(50)
    data = Graph(torch.randn(n, 3), ei)
    out = EdgeFlip(ratio=0.5).transform(data)
    assert torch.equal(out.x, data.x) and out.edge_index.shape[0] == 2
    assert torch.equal(data.edge_index, ei)  # the input is not modified
    key = out.edge_index[0] * n + out.edge_index[1]
    assert torch.equal(torch.sort(key).values, key)  # sorted like a clean PyG edge_index
    with pytest.raises(ConfigError, match="epsilon must be > 0"):
        EdgeRand(epsilon=0.0)
    with pytest.raises(ConfigError, match="expected a graph"):
        LapGraph().transform([1, 2, 3])
    assert edge_index_of(np.array([0]), 3).tolist() == [[0, 1], [1, 0]]
