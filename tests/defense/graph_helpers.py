"""A tiny GCN and a posterior-similarity link inference (He et al. 2021, attack-0) for the graph
defense tests, so that they need neither torch_geometric nor mi-graph."""

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.metrics import roc_auc_score
from torch import nn


def sbm(blocks=4, size=50, p_in=0.15, p_out=0.01, features=40, seed=0):
    """A stochastic block model whose bag-of-words features hint at the block."""
    g = torch.Generator().manual_seed(seed)
    n = blocks * size
    y = torch.arange(n) // size
    same = y[:, None] == y[None, :]
    p = torch.where(same, torch.tensor(p_in), torch.tensor(p_out))
    upper = torch.triu(torch.rand(n, n, generator=g) < p, diagonal=1)
    adj = upper | upper.T
    topic = torch.rand(blocks, features, generator=g) < 0.25
    x = (
        (torch.rand(n, features, generator=g) < 0.1)
        | (topic[y] & (torch.rand(n, features, generator=g) < 0.3))
    ).float()
    u, v = torch.nonzero(adj, as_tuple=True)
    return x, torch.stack([u, v]), y, adj


class DenseGCN(nn.Module):
    """Two-layer GCN, ``model(x, edge_index) -> logits`` (Kipf & Welling), dense adjacency."""

    def __init__(self, d, k, hidden=16):
        super().__init__()
        self.lin1, self.lin2 = nn.Linear(d, hidden), nn.Linear(hidden, k)

    def forward(self, x, edge_index):
        n = x.shape[0]
        a = torch.zeros(n, n)
        a[edge_index[0], edge_index[1]] = 1.0
        a = a + torch.eye(n)
        dinv = a.sum(1).pow(-0.5)
        a = dinv[:, None] * a * dinv[None, :]
        return a @ self.lin2(F.relu(a @ self.lin1(x)))


def train_gcn(x, edge_index, y, train_idx, epochs=100, seed=0):
    torch.manual_seed(seed)
    model = DenseGCN(x.shape[1], int(y.max()) + 1)
    opt = torch.optim.Adam(model.parameters(), lr=0.01, weight_decay=5e-4)
    for _ in range(epochs):
        opt.zero_grad()
        F.cross_entropy(model(x, edge_index)[train_idx], y[train_idx]).backward()
        opt.step()
    return model.eval()


def link_auc(scores_of_nodes, adj, nodes):
    """AUC of the cosine similarity of the released vectors of node pairs (among ``nodes``)
    for telling true edges from non-edges."""
    s = torch.as_tensor(scores_of_nodes, dtype=torch.float64)
    s = s / s.norm(dim=1, keepdim=True).clamp_min(1e-12)
    sim = (s @ s.T).numpy()
    iu = np.triu_indices(len(nodes), 1)
    truth = adj[nodes][:, nodes].numpy()[iu]
    return float(roc_auc_score(truth, sim[iu]))


class DenseConv(nn.Module):
    """One GCN layer on a dense normalised adjacency: ``a @ lin(x)``."""

    def __init__(self, d, k):
        super().__init__()
        self.lin = nn.Linear(d, k)

    def forward(self, x, a):
        return a @ self.lin(x)


class LayeredGCN(nn.Module):
    """The two-layer GCN of :class:`DenseGCN` with its layers as sub-modules ``conv1`` /
    ``conv2`` (so a defense can hook the node representations), plus ``embed``."""

    def __init__(self, d, k, hidden=16):
        super().__init__()
        self.conv1, self.conv2 = DenseConv(d, hidden), DenseConv(hidden, k)

    @staticmethod
    def norm_adj(n, edge_index):
        a = torch.zeros(n, n)
        a[edge_index[0], edge_index[1]] = 1.0
        a = a + torch.eye(n)
        dinv = a.sum(1).pow(-0.5)
        return dinv[:, None] * a * dinv[None, :]

    def embed(self, x, edge_index):
        return F.relu(self.conv1(x, self.norm_adj(x.shape[0], edge_index)))

    def forward(self, x, edge_index):
        a = self.norm_adj(x.shape[0], edge_index)
        return self.conv2(F.relu(self.conv1(x, a)), a)
