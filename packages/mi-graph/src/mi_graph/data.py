"""Graph data: the npz format of GraphMI / DeepRobust, PyG Planetoid for users, synthetic graphs.

Every loader returns a PyG :class:`~torch_geometric.data.Data` with ``x`` (float node features),
``edge_index`` (undirected: both directions, no self-loops, no duplicates), ``y`` (node labels)
and ``num_nodes``. Graph attacks read nothing else.

* :func:`load_npz` reads the scipy-CSR npz files (``adj_data, adj_indices, adj_indptr,
  adj_shape``, ``attr_*``, ``labels``) that GraphMI and DeepRobust use for Cora, Citeseer and
  Polblogs; a graph without attributes gets identity features, as those codes do.
* :func:`load_planetoid` wraps ``torch_geometric.datasets.Planetoid`` (downloads once; for users
  with internet, never used in tests).
* :func:`sbm_graph` draws a stochastic block model with bag-of-words features whose topics follow
  the blocks: a small, realistic, offline target for tests and demos.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from mi_core.config import check_positive, check_range
from mi_core.errors import ConfigError


def _data(**kwargs: Any) -> Any:
    from torch_geometric.data import Data

    return Data(**kwargs)


def clean_edge_index(edge_index: torch.Tensor, num_nodes: int) -> torch.Tensor:
    """Undirected, loop-free, duplicate-free ``edge_index`` (both directions), sorted."""
    ei = torch.as_tensor(edge_index, dtype=torch.long, device="cpu")
    if ei.ndim != 2 or ei.shape[0] != 2:
        raise ConfigError(f"edge_index: expected shape (2, E), got {tuple(ei.shape)}")
    if ei.numel() and (int(ei.min()) < 0 or int(ei.max()) >= num_nodes):
        raise ConfigError(
            f"edge_index: node ids must lie in [0, {num_nodes}), got out-of-range ids"
        )
    u, v = ei
    keep = u != v
    u, v = u[keep], v[keep]
    a, b = torch.minimum(u, v), torch.maximum(u, v)
    key = torch.unique(a * num_nodes + b)
    a, b = key // num_nodes, key % num_nodes
    both = torch.stack([torch.cat([a, b]), torch.cat([b, a])])
    order = torch.argsort(both[0] * num_nodes + both[1])
    return both[:, order]


def num_undirected_edges(edge_index: torch.Tensor) -> int:
    """Edges of a clean undirected ``edge_index`` (each stored in both directions)."""
    return int(edge_index.shape[1]) // 2


def edge_density(edge_index: torch.Tensor, num_nodes: int) -> float:
    """Fraction of linked node pairs, ``|E| / (n (n - 1) / 2)``: the density prior of GraphMI."""
    if num_nodes < 2:
        raise ConfigError(f"num_nodes: density needs at least two nodes, got {num_nodes}")
    return num_undirected_edges(edge_index) / (num_nodes * (num_nodes - 1) / 2)


def load_npz(path: str | Path) -> Any:
    """Load a graph in the scipy-CSR npz format of GraphMI / DeepRobust / gnn-meta-attack.

    The adjacency is symmetrised and binarised and self-loops are dropped (as GraphMI does);
    a graph without ``attr_*`` arrays (Polblogs) gets identity features.
    """
    import scipy.sparse as sp

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(
            f"graph file {path} does not exist; the npz files come from the data/ folder of "
            "danielzuegner/gnn-meta-attack, or use load_planetoid() to download Cora with PyG"
        )
    with np.load(path, allow_pickle=False) as z:
        for key in ("adj_data", "adj_indices", "adj_indptr", "adj_shape"):
            if key not in z:
                raise ConfigError(f"{path}: missing array {key!r}; not a CSR graph npz")
        adj = sp.csr_matrix(
            (z["adj_data"], z["adj_indices"], z["adj_indptr"]), shape=tuple(z["adj_shape"])
        )
        n = adj.shape[0]
        if "attr_data" in z:
            x = sp.csr_matrix(
                (z["attr_data"], z["attr_indices"], z["attr_indptr"]),
                shape=tuple(z["attr_shape"]),
            ).toarray()
        else:
            x = np.eye(n, dtype=np.float32)
        labels = z.get("labels")
    coo = adj.tocoo()
    ei = clean_edge_index(torch.from_numpy(np.vstack([coo.row, coo.col]).astype(np.int64)), n)
    y = torch.as_tensor(labels, dtype=torch.long, device="cpu") if labels is not None else None
    return _data(
        x=torch.as_tensor(x, dtype=torch.float32, device="cpu"), edge_index=ei, y=y, num_nodes=n
    )


def load_planetoid(name: str, root: str | Path) -> Any:
    """Cora / Citeseer / PubMed through PyG's ``Planetoid`` (downloads into ``root`` once)."""
    from torch_geometric.datasets import Planetoid

    allowed = ("Cora", "CiteSeer", "PubMed")
    match = {a.lower(): a for a in allowed}.get(str(name).lower())
    if match is None:
        raise ConfigError(f"name: unknown Planetoid data set {name!r}; allowed: {allowed}")
    data = Planetoid(str(root), match)[0]
    return _data(
        x=data.x.float(),
        edge_index=clean_edge_index(data.edge_index, data.num_nodes),
        y=data.y,
        num_nodes=data.num_nodes,
    )


def sbm_graph(
    block_sizes: tuple[int, ...] = (100, 100, 100, 100),
    *,
    p_in: float = 0.05,
    p_out: float = 0.004,
    num_features: int = 200,
    words_per_node: int = 12,
    topic_share: float = 0.3,
    shared_words: int = 0,
    seed: int = 0,
) -> Any:
    """A stochastic block model with bag-of-words features (an offline stand-in for Cora).

    Nodes of block ``c`` link with probability ``p_in`` inside the block and ``p_out`` across.
    Each node draws ``words_per_node`` distinct words: a share ``topic_share`` from its block's
    topic (a disjoint slice of the vocabulary), the rest uniformly, so features predict the class
    only in part and a GNN gains from the graph. Like citing papers, linked nodes share words:
    each node also takes ``shared_words`` of each neighbour's own words. Labels are the blocks.
    """
    if not block_sizes or any(int(b) < 1 for b in block_sizes):
        raise ConfigError(f"block_sizes: need positive sizes, got {block_sizes!r}")
    check_range("p_in", p_in, 0.0, 1.0)
    check_range("p_out", p_out, 0.0, 1.0)
    check_range("topic_share", topic_share, 0.0, 1.0)
    check_positive("num_features", num_features)
    check_positive("words_per_node", words_per_node)
    check_positive("shared_words", shared_words, allow_zero=True)
    c = len(block_sizes)
    if num_features < c * 2 or words_per_node > num_features // c:
        raise ConfigError(
            f"num_features: {num_features} words cannot give {c} topics of at least "
            f"words_per_node={words_per_node} words; raise num_features"
        )
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(c), block_sizes)
    n = len(y)
    starts = np.concatenate([[0], np.cumsum(block_sizes)])
    us, vs = [], []
    for a in range(c):  # each block pair: a binomial number of distinct uniform pairs
        for b in range(a, c):
            na, nb = int(block_sizes[a]), int(block_sizes[b])
            total = na * (na - 1) // 2 if a == b else na * nb
            count = rng.binomial(total, p_in if a == b else p_out)
            if count == 0:
                continue
            flat = rng.choice(total, count, replace=False)
            if a == b:  # unrank i < j from the row-major upper triangle
                i = na - 2 - np.floor(np.sqrt(-8 * flat + 4 * na * (na - 1) - 7) / 2 - 0.5)
                i = i.astype(np.int64)
                j = flat + i + 1 - na * (na - 1) // 2 + (na - i) * ((na - i) - 1) // 2
            else:
                i, j = flat // nb, flat % nb
            us.append(starts[a] + i)
            vs.append(starts[b] + j)
    u = np.concatenate(us) if us else np.zeros(0, np.int64)
    v = np.concatenate(vs) if vs else np.zeros(0, np.int64)
    topic = num_features // c
    x = np.zeros((n, num_features), dtype=np.float32)
    n_topic = round(words_per_node * topic_share)
    own_words = []
    for i in range(n):
        start = y[i] * topic
        own = rng.choice(topic, n_topic, replace=False) + start
        rest = rng.choice(num_features, words_per_node - n_topic, replace=False)
        own_words.append(np.concatenate([own, rest]))
        x[i, own_words[i]] = 1.0
    if shared_words:
        for a, b in zip(u.tolist(), v.tolist(), strict=True):
            x[a, rng.choice(own_words[b], shared_words, replace=False)] = 1.0
            x[b, rng.choice(own_words[a], shared_words, replace=False)] = 1.0
    ei = clean_edge_index(torch.from_numpy(np.vstack([u, v]).astype(np.int64)), n)
    return _data(x=torch.from_numpy(x), edge_index=ei, y=torch.from_numpy(y).long(), num_nodes=n)


def karate_club() -> Any:
    """Zachary's karate club (PyG built-in, no download), with identity features."""
    from torch_geometric.datasets import KarateClub

    data = KarateClub()[0]
    return _data(
        x=data.x.float(),
        edge_index=clean_edge_index(data.edge_index, data.num_nodes),
        y=data.y,
        num_nodes=data.num_nodes,
    )


def induced_subgraph(data: Any, nodes: torch.Tensor) -> Any:
    """The subgraph on ``nodes`` (relabelled ``0..len(nodes)-1`` in the given order)."""
    nodes = torch.as_tensor(nodes, dtype=torch.long, device="cpu")
    n = int(data.num_nodes)
    pos = torch.full((n,), -1, dtype=torch.long, device="cpu")
    pos[nodes] = torch.arange(len(nodes), device="cpu")
    u, v = data.edge_index
    keep = (pos[u] >= 0) & (pos[v] >= 0)
    ei = torch.stack([pos[u[keep]], pos[v[keep]]])
    y = data.y[nodes] if getattr(data, "y", None) is not None else None
    return _data(x=data.x[nodes], edge_index=ei, y=y, num_nodes=len(nodes))


def dense_adjacency(edge_index: torch.Tensor, nodes: torch.Tensor, num_nodes: int) -> torch.Tensor:
    """Boolean ``(k, k)`` adjacency among ``nodes`` (in their order): the ground truth of a
    link-recovery attack on those nodes."""
    nodes = torch.as_tensor(nodes, dtype=torch.long, device="cpu")
    pos = torch.full((num_nodes,), -1, dtype=torch.long, device="cpu")
    pos[nodes] = torch.arange(len(nodes), device="cpu")
    u, v = edge_index
    keep = (pos[u] >= 0) & (pos[v] >= 0)
    out = torch.zeros(len(nodes), len(nodes), dtype=torch.bool, device="cpu")
    out[pos[u[keep]], pos[v[keep]]] = True
    out.fill_diagonal_(False)
    return out | out.T


def sample_nodes(num_nodes: int, count: int, seed: int, *, exclude: Any = None) -> torch.Tensor:
    """``count`` distinct node ids drawn uniformly (seeded, sorted), avoiding ``exclude``."""
    pool = np.arange(num_nodes)
    if exclude is not None:
        pool = np.setdiff1d(pool, np.asarray(exclude))
    if not 1 <= count <= len(pool):
        raise ConfigError(f"count: must lie in [1, {len(pool)}], got {count}")
    rng = np.random.default_rng(seed)
    return torch.from_numpy(np.sort(rng.choice(pool, count, replace=False))).long()
