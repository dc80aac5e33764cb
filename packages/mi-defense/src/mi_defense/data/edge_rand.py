"""EdgeRand and LapGraph: differentially private adjacency matrices for GNN training.

Wu, Long, Zhang, Li, "LinkTeller: recovering private edges from graph neural networks via
influence analysis", IEEE S&P 2022 (survey [51], Sec. VI-A 1): the GNN is trained (and
served) on a perturbed graph that is epsilon-edge-DP, which bounds what LinkTeller and link
stealing can learn of the private edges.

* **EdgeRand** (randomised response): each unordered pair is, with probability
  ``s = 2 / (exp(epsilon) + 1)``, replaced by a fair coin flip, else kept. Dense in output
  for small epsilon (about ``s / 2`` of all pairs become edges).
* **LapGraph**: Laplace noise ``Lap(1 / epsilon_2)`` is added to every entry of the upper
  triangle and the ``T`` largest entries become the edges, with ``T = |E| + Lap(1 /
  epsilon_1)`` the privately estimated edge count (``epsilon_1 = 0.01 epsilon``, as in the
  paper), so the density is kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from mi_core.config import check_positive, check_range
from mi_core.defense import DataDefense
from mi_defense._util import check_epsilon
from mi_defense.data._graph import (
    edge_index_of,
    num_pairs,
    pair_ids,
    read_graph,
    with_edges,
)


@dataclass
class EdgeRandConfig:
    """Attributes:
    epsilon: edge-level privacy budget.
    seed: seed of the randomisation.
    """

    epsilon: float = 4.0
    seed: int = 0

    def __post_init__(self) -> None:
        check_epsilon("epsilon", self.epsilon)
        check_positive("seed", self.seed, allow_zero=True)


@dataclass
class LapGraphConfig:
    """Attributes:
    epsilon: edge-level privacy budget (split 1% / 99% between the edge count and the entries).
    count_share: share of epsilon spent on the edge count.
    chunk: entries of the upper triangle processed at once.
    seed: seed of the noise.
    """

    epsilon: float = 4.0
    count_share: float = 0.01
    chunk: int = 4_000_000
    seed: int = 0

    def __post_init__(self) -> None:
        check_epsilon("epsilon", self.epsilon)
        check_range("count_share", self.count_share, 1e-6, 0.5)
        check_positive("chunk", self.chunk)
        check_positive("seed", self.seed, allow_zero=True)


def edge_rand(edge_index: torch.Tensor, n: int, epsilon: float, seed: int) -> torch.Tensor:
    """Randomised response on every unordered pair (EdgeRand of LinkTeller)."""
    rng = np.random.default_rng(seed)
    s = 2.0 / (np.exp(epsilon) + 1.0)
    total = num_pairs(n)
    m = int(rng.binomial(total, s))
    chosen = np.sort(rng.choice(total, size=m, replace=False)) if m else np.zeros(0, np.int64)
    bits = rng.random(m) < 0.5
    edges = pair_ids(edge_index, n)
    kept = np.setdiff1d(edges, chosen, assume_unique=True)
    new = np.union1d(kept, chosen[bits])
    return edge_index_of(new, n)


def lap_graph(
    edge_index: torch.Tensor, n: int, epsilon: float, count_share: float, chunk: int, seed: int
) -> torch.Tensor:
    """Laplace noise on the upper triangle, keep the top ``|E| + Lap`` entries (LapGraph)."""
    g = torch.Generator().manual_seed(seed)
    eps1 = count_share * epsilon
    eps2 = epsilon - eps1
    edges = pair_ids(edge_index, n)
    total = num_pairs(n)

    def laplace(size: int, scale: float) -> torch.Tensor:
        u = torch.rand(size, generator=g, dtype=torch.float64) - 0.5
        return -scale * torch.sign(u) * torch.log1p(-2 * u.abs())

    t = round(len(edges) + float(laplace(1, 1.0 / eps1)[0]))
    t = max(0, min(total, t))
    if t == 0:
        return edge_index_of(np.zeros(0, np.int64), n)
    edge_set = torch.from_numpy(edges)
    best_v = torch.empty(0, dtype=torch.float64)
    best_k = torch.empty(0, dtype=torch.long)
    for start in range(0, total, chunk):
        stop = min(total, start + chunk)
        vals = laplace(stop - start, 1.0 / eps2)
        lo = torch.searchsorted(edge_set, torch.tensor(start))
        hi = torch.searchsorted(edge_set, torch.tensor(stop))
        vals[edge_set[lo:hi] - start] += 1.0
        keys = torch.arange(start, stop)
        v = torch.cat([best_v, vals])
        k = torch.cat([best_k, keys])
        top = torch.topk(v, min(t, v.numel())).indices
        best_v, best_k = v[top], k[top]
    return edge_index_of(np.sort(best_k.numpy()), n)


class EdgeRand(DataDefense):
    """Randomised response on the adjacency matrix (LinkTeller's EdgeRand, epsilon-edge-DP)."""

    name = "edge-rand"
    modalities = ("graph",)
    paper = "Wu et al., IEEE S&P 2022 (LinkTeller, survey [51])"
    summary = "randomised response on every node pair (epsilon-edge-DP)"
    Config = EdgeRandConfig

    def transform(self, data: Any) -> Any:
        """A copy of the graph with randomised edges."""
        ei, n = read_graph(data)
        return with_edges(data, edge_rand(ei, n, self.config.epsilon, self.config.seed))


class LapGraph(DataDefense):
    """Laplace noise on the adjacency matrix, top-|E| kept (LinkTeller's LapGraph)."""

    name = "lap-graph"
    modalities = ("graph",)
    paper = "Wu et al., IEEE S&P 2022 (LinkTeller, survey [51])"
    summary = "Laplace noise on the adjacency, keep the noisy top-|E| pairs (epsilon-edge-DP)"
    Config = LapGraphConfig

    def transform(self, data: Any) -> Any:
        ei, n = read_graph(data)
        cfg = self.config
        return with_edges(data, lap_graph(ei, n, cfg.epsilon, cfg.count_share, cfg.chunk, cfg.seed))
