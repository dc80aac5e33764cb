"""Edge flipping and rewiring of the training graph.

Zhang et al., "Model inversion attacks against graph neural networks", IEEE TKDE 2023 (survey
[105], Sec. VI-B 3): differential privacy does not stop GraphMI-style attacks, but pre-processing
the training graph does: randomly flipping or rewiring edges conceals the real ones, so the
attacker reconstructs a graph that differs from the private one.

* **flip**: a ``ratio`` of the edges is removed and as many random non-edges are added (the
  density is kept);
* **rewire**: a ``ratio`` of the edges ``(u, v)`` become ``(u, w)`` with ``w`` a random node not
  yet linked to ``u`` (the degree of ``u`` is kept).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from mi_core.config import check_positive, check_range
from mi_core.defense import DataDefense
from mi_defense.data._graph import (
    edge_index_of,
    linear_id,
    num_pairs,
    pair_ids,
    pair_of,
    read_graph,
    with_edges,
)


@dataclass
class EdgeRewiringConfig:
    """Attributes:
    ratio: share of the edges flipped / rewired.
    seed: seed of the choice.
    """

    ratio: float = 0.2
    seed: int = 0

    def __post_init__(self) -> None:
        check_range("ratio", self.ratio, 0.0, 1.0)
        check_positive("seed", self.seed, allow_zero=True)


def flip_edges(edge_index: torch.Tensor, n: int, ratio: float, seed: int) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    edges = pair_ids(edge_index, n)
    m = round(ratio * len(edges))
    removed = rng.choice(len(edges), size=m, replace=False) if m else np.zeros(0, np.int64)
    kept = np.delete(edges, removed)
    total = num_pairs(n)
    added: set[int] = set()
    taken = set(edges.tolist())
    while len(added) < m and len(taken) + len(added) < total:
        for k in rng.integers(0, total, size=2 * (m - len(added)) + 8).tolist():
            if k not in taken and k not in added:
                added.add(k)
                if len(added) == m:
                    break
    return edge_index_of(np.union1d(kept, np.fromiter(added, np.int64, len(added))), n)


def rewire_edges(edge_index: torch.Tensor, n: int, ratio: float, seed: int) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    edges = pair_ids(edge_index, n)
    m = round(ratio * len(edges))
    chosen = rng.choice(len(edges), size=m, replace=False) if m else np.zeros(0, np.int64)
    current = set(edges.tolist())
    i, j = pair_of(edges[chosen], n)
    for a, b in zip(i.tolist(), j.tolist()):
        u = a if rng.random() < 0.5 else b  # the endpoint that keeps the edge
        old = int(linear_id(np.array([min(a, b)]), np.array([max(a, b)]), n)[0])
        for _ in range(32):
            w = int(rng.integers(0, n))
            if w == u:
                continue
            k = int(linear_id(np.array([min(u, w)]), np.array([max(u, w)]), n)[0])
            if k not in current:
                current.discard(old)
                current.add(k)
                break
    return edge_index_of(np.array(sorted(current), dtype=np.int64), n)


class EdgeFlip(DataDefense):
    """Replace a share of the edges by random non-edges (density kept)."""

    name = "edge-flip"
    modalities = ("graph",)
    paper = "Zhang et al., IEEE TKDE 2023 (survey [105])"
    summary = "flip a share of the edges to random non-edges before training"
    Config = EdgeRewiringConfig

    def transform(self, data: Any) -> Any:
        ei, n = read_graph(data)
        return with_edges(data, flip_edges(ei, n, self.config.ratio, self.config.seed))


class EdgeRewire(DataDefense):
    """Move one endpoint of a share of the edges to a random node (degrees kept on one side)."""

    name = "edge-rewire"
    modalities = ("graph",)
    paper = "Zhang et al., IEEE TKDE 2023 (survey [105])"
    summary = "rewire a share of the edges to random endpoints before training"
    Config = EdgeRewiringConfig

    def transform(self, data: Any) -> Any:
        ei, n = read_graph(data)
        return with_edges(data, rewire_edges(ei, n, self.config.ratio, self.config.seed))
