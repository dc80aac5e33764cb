"""Node classifiers in PyG style: ``model(x, edge_index[, edge_weight]) -> logits``.

These are ordinary PyG models (users can pass their own instead). Each has ``embed(...)``, the
hidden representation a service might release instead of posteriors, which is also the encoder
GraphMI's read-out uses. GCN and SGC take edge weights (so GraphMI can differentiate through a
relaxed adjacency); GraphSAGE and GAT, as in PyG, do not.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch_geometric.nn import GATConv, GCNConv, SAGEConv, SGConv

from mi_core.config import check_choice, check_positive, check_range

ARCHS = ("gcn", "sage", "gat", "sgc")


class GCN(nn.Module):
    """Two-layer GCN (Kipf and Welling 2017), the victim of GraphMI and link stealing."""

    def __init__(self, in_channels: int, num_classes: int, hidden: int = 16, dropout: float = 0.5):
        super().__init__()
        self.conv1 = GCNConv(in_channels, hidden)
        self.conv2 = GCNConv(hidden, num_classes)
        self.dropout = dropout

    def embed(self, x, edge_index, edge_weight=None):
        return F.relu(self.conv1(x, edge_index, edge_weight))

    def forward(self, x, edge_index, edge_weight=None):
        h = F.dropout(self.embed(x, edge_index, edge_weight), self.dropout, self.training)
        return self.conv2(h, edge_index, edge_weight)


class SGC(nn.Module):
    """Simplified graph convolution (Wu et al. 2019): K propagation steps, then a linear map."""

    def __init__(self, in_channels: int, num_classes: int, hidden: int = 16, k: int = 2):
        super().__init__()
        self.conv = SGConv(in_channels, num_classes, K=k)

    def embed(self, x, edge_index, edge_weight=None):
        return self.conv(x, edge_index, edge_weight)

    def forward(self, x, edge_index, edge_weight=None):
        return self.conv(x, edge_index, edge_weight)


class GraphSAGE(nn.Module):
    """Two-layer GraphSAGE with mean aggregation (Hamilton et al. 2017)."""

    def __init__(self, in_channels: int, num_classes: int, hidden: int = 16, dropout: float = 0.5):
        super().__init__()
        self.conv1 = SAGEConv(in_channels, hidden)
        self.conv2 = SAGEConv(hidden, num_classes)
        self.dropout = dropout

    def embed(self, x, edge_index):
        return F.relu(self.conv1(x, edge_index))

    def forward(self, x, edge_index):
        h = F.dropout(self.embed(x, edge_index), self.dropout, self.training)
        return self.conv2(h, edge_index)


class GAT(nn.Module):
    """Two-layer GAT (Velickovic et al. 2018), 8 heads in the hidden layer."""

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        hidden: int = 8,
        heads: int = 8,
        dropout: float = 0.5,
    ):
        super().__init__()
        self.conv1 = GATConv(in_channels, hidden, heads=heads, dropout=dropout)
        self.conv2 = GATConv(hidden * heads, num_classes, heads=1, dropout=dropout)
        self.dropout = dropout

    def embed(self, x, edge_index):
        return F.elu(self.conv1(x, edge_index))

    def forward(self, x, edge_index):
        h = F.dropout(self.embed(x, edge_index), self.dropout, self.training)
        return self.conv2(h, edge_index)


def build_model(
    arch: str, in_channels: int, num_classes: int, *, hidden: int = 16, dropout: float = 0.5
) -> nn.Module:
    """One of :data:`ARCHS` (``gcn``, ``sage``, ``gat``, ``sgc``) with the papers' sizes."""
    check_choice("arch", arch, ARCHS)
    check_positive("in_channels", in_channels)
    check_positive("num_classes", num_classes)
    check_positive("hidden", hidden)
    check_range("dropout", dropout, 0.0, 1.0)
    if arch == "gcn":
        return GCN(in_channels, num_classes, hidden, dropout)
    if arch == "sage":
        return GraphSAGE(in_channels, num_classes, hidden, dropout)
    if arch == "gat":
        return GAT(in_channels, num_classes, hidden=8, heads=8, dropout=dropout)
    return SGC(in_channels, num_classes)


def accepts_edge_weight(model: nn.Module) -> bool:
    """True if ``model.forward`` takes a third (edge weight) argument."""
    import inspect

    try:
        params = list(inspect.signature(model.forward).parameters.values())
    except (TypeError, ValueError):
        return False
    if any(p.kind is p.VAR_POSITIONAL for p in params):
        return True
    names = [p.name for p in params]
    return len(params) >= 3 or "edge_weight" in names


def has_cached_normalisation(model: nn.Module) -> bool:
    """True if a layer caches its normalised adjacency (``cached=True``), which would freeze
    the graph a relaxed-adjacency attack tries to change."""
    return any(bool(getattr(m, "cached", False)) for m in model.modules())


@torch.no_grad()
def predict(model: nn.Module, data) -> torch.Tensor:
    """Logits of ``model`` on the whole graph ``data`` (eval mode)."""
    model.eval()
    return model(data.x, data.edge_index)
