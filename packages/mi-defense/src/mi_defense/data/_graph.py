"""Edge sets of undirected graphs for the graph data defenses: read a PyG ``Data`` (or an
``(edge_index, num_nodes)`` pair), work on unordered pairs ``i < j`` as linear indices of the
upper triangle, and write a copy of the graph with new edges (nothing imports torch_geometric)."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import torch

from mi_core.errors import ConfigError


def read_graph(data: Any) -> tuple[torch.Tensor, int]:
    """``(edge_index, num_nodes)`` of a PyG-style ``Data`` or an ``(edge_index, n)`` pair."""
    if isinstance(data, tuple) and len(data) == 2:
        ei, n = data
    elif hasattr(data, "edge_index"):
        ei = data.edge_index
        n = getattr(data, "num_nodes", None)
        if n is None and getattr(data, "x", None) is not None:
            n = int(data.x.shape[0])
    else:
        raise ConfigError(
            f"data: expected a graph (torch_geometric Data with edge_index, or a pair "
            f"(edge_index, num_nodes)), got {type(data).__name__}"
        )
    ei = torch.as_tensor(ei, dtype=torch.long)
    if ei.ndim != 2 or ei.shape[0] != 2:
        raise ConfigError(f"edge_index: expected shape (2, E), got {tuple(ei.shape)}")
    if n is None:
        n = int(ei.max()) + 1 if ei.numel() else 0
    return ei, int(n)


def pair_ids(edge_index: torch.Tensor, n: int) -> np.ndarray:
    """Sorted unique linear ids of the undirected edges (upper triangle, no self-loops)."""
    u, v = edge_index.numpy()
    keep = u != v
    a, b = np.minimum(u[keep], v[keep]), np.maximum(u[keep], v[keep])
    return np.unique(linear_id(a, b, n))


def num_pairs(n: int) -> int:
    return n * (n - 1) // 2


def linear_id(i: np.ndarray, j: np.ndarray, n: int) -> np.ndarray:
    """Id of pair ``(i, j)``, ``i < j``, in row-major order of the strict upper triangle."""
    i = i.astype(np.int64)
    j = j.astype(np.int64)
    return i * n - i * (i + 1) // 2 + (j - i - 1)


def pair_of(k: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of :func:`linear_id`."""
    k = np.asarray(k, dtype=np.int64)
    i = (n - 2 - np.floor(np.sqrt(-8.0 * k + 4.0 * n * (n - 1) - 7) / 2.0 - 0.5)).astype(np.int64)
    # guard against floating-point off-by-one
    start = linear_id(i, i + 1, n)
    i = np.where(start > k, i - 1, i)
    start = linear_id(i, i + 1, n)
    nxt = linear_id(i + 1, i + 2, n)
    i = np.where((k >= nxt) & (i + 1 < n - 1), i + 1, i)
    start = linear_id(i, i + 1, n)
    j = k - start + i + 1
    return i, j


def edge_index_of(ids: np.ndarray, n: int) -> torch.Tensor:
    """Both directions of the pairs ``ids``, sorted like a clean PyG ``edge_index``."""
    i, j = pair_of(np.asarray(ids, dtype=np.int64), n)
    src = np.concatenate([i, j])
    dst = np.concatenate([j, i])
    order = np.lexsort((dst, src))
    return torch.from_numpy(np.stack([src[order], dst[order]]).astype(np.int64))


def with_edges(data: Any, edge_index: torch.Tensor) -> Any:
    """A copy of ``data`` whose edges are ``edge_index`` (edge attributes dropped)."""
    if isinstance(data, tuple):
        return edge_index, data[1]
    out = data.clone() if hasattr(data, "clone") else copy.copy(data)
    out.edge_index = edge_index
    for attr in ("edge_attr", "edge_weight"):
        if getattr(out, attr, None) is not None:
            setattr(out, attr, None)
    return out
