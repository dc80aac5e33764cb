"""Node-pair machinery shared by the link attacks: distances, pair features, pair classifiers.

* :func:`pairwise_distance`: the eight distances of link stealing (He et al., USENIX Security
  2021, [50]) between all rows of a matrix, with scipy's definitions: cosine, euclidean,
  correlation, chebyshev, braycurtis, canberra, cityblock, sqeuclidean. Computed blockwise with
  matrix products where the metric allows (a k x k matrix, never k x k x d at once).
* :func:`pair_operators`, :func:`entropy`: the symmetric pair features of its supervised attacks
  (average, Hadamard, weighted-L1, weighted-L2 of two vectors; entropy of a posterior).
* :class:`PairClassifier`: its MLP attack model (two hidden layers of 32 units, dropout 0.5,
  Adam, 50 epochs, batch 128, inputs standardised on the training pairs).
* :func:`sample_pairs`: uniform node pairs avoiding given pairs (negative sampling).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from mi_core import device as devices
from mi_core.config import check_positive, check_range
from mi_core.errors import ConfigError

DISTANCES = (
    "cosine",
    "euclidean",
    "correlation",
    "chebyshev",
    "braycurtis",
    "canberra",
    "cityblock",
    "sqeuclidean",
)


def _cosine_distance(a: torch.Tensor) -> torch.Tensor:
    n = a.norm(dim=1)
    sim = (a @ a.T) / (n[:, None] * n[None, :]).clamp_min(1e-12)
    sim = torch.where((n[:, None] == 0) | (n[None, :] == 0), torch.zeros_like(sim), sim)
    return 1.0 - sim


def _elementwise_blocks(a: torch.Tensor, fn, budget: int = 1 << 24) -> torch.Tensor:
    k, d = a.shape
    rows = max(1, budget // max(1, k * d))
    out = torch.empty(k, k, dtype=a.dtype, device="cpu")
    for r0 in range(0, k, rows):
        out[r0 : r0 + rows] = fn(a[r0 : r0 + rows, None, :], a[None, :, :])
    return out


def _canberra_terms(u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    num = (u - v).abs()
    den = u.abs() + v.abs()
    return torch.where(den > 0, num / den.clamp_min(1e-30), torch.zeros_like(num)).sum(-1)


def pairwise_distance(x: torch.Tensor, metric: str) -> torch.Tensor:
    """``(k, k)`` matrix of ``metric`` between the rows of ``x`` (scipy's definitions).

    Degenerate cases get the value of "no similarity known": cosine / correlation distance 1
    for a zero / constant row, braycurtis 0 for two zero rows (scipy returns NaN there).
    """
    if metric not in DISTANCES:
        raise ConfigError(f"distance: unknown value {metric!r}; allowed values: {DISTANCES}")
    a = torch.as_tensor(x, device="cpu").double()
    if a.ndim != 2:
        raise ConfigError(f"x: expected a (k, d) matrix, got shape {tuple(a.shape)}")
    if metric == "cosine":
        out = _cosine_distance(a)
    elif metric == "correlation":
        out = _cosine_distance(a - a.mean(1, keepdim=True))
    elif metric in ("euclidean", "sqeuclidean"):
        sq = (a * a).sum(1)
        d2 = (sq[:, None] + sq[None, :] - 2 * a @ a.T).clamp_min(0)
        out = d2 if metric == "sqeuclidean" else d2.sqrt()
    elif metric == "cityblock":
        out = torch.cdist(a, a, p=1)
    elif metric == "chebyshev":
        out = torch.cdist(a, a, p=float("inf"))
    elif metric == "braycurtis":
        num = torch.cdist(a, a, p=1)
        den = torch.cdist(a, -a, p=1)  # sum |u + v|
        out = torch.where(den > 0, num / den.clamp_min(1e-30), torch.zeros_like(num))
    else:  # canberra
        out = _elementwise_blocks(a, _canberra_terms)
    out.fill_diagonal_(0.0)
    return out.float()


def pair_distance(x: torch.Tensor, pairs: torch.Tensor, metric: str, chunk: int = 1 << 22):
    """``metric`` between rows ``x[i]`` and ``x[j]`` for each pair ``(i, j)`` of ``pairs``
    (``(2, P)``), with the definitions of :func:`pairwise_distance`; for sparse pair sets."""
    if metric not in DISTANCES:
        raise ConfigError(f"distance: unknown value {metric!r}; allowed values: {DISTANCES}")
    a = torch.as_tensor(x, device="cpu").double()
    out = torch.empty(pairs.shape[1], dtype=torch.float64, device="cpu")
    rows = max(1, chunk // max(1, a.shape[1]))
    for s in range(0, pairs.shape[1], rows):
        u, v = a[pairs[0, s : s + rows]], a[pairs[1, s : s + rows]]
        out[s : s + rows] = _row_distance(u, v, metric)
    return out.float()


def _row_distance(u: torch.Tensor, v: torch.Tensor, metric: str) -> torch.Tensor:
    if metric in ("cosine", "correlation"):
        if metric == "correlation":
            u = u - u.mean(1, keepdim=True)
            v = v - v.mean(1, keepdim=True)
        nu, nv = u.norm(dim=1), v.norm(dim=1)
        sim = (u * v).sum(1) / (nu * nv).clamp_min(1e-12)
        return 1.0 - torch.where((nu == 0) | (nv == 0), torch.zeros_like(sim), sim)
    diff = u - v
    if metric == "euclidean":
        return diff.norm(dim=1)
    if metric == "sqeuclidean":
        return (diff * diff).sum(1)
    if metric == "cityblock":
        return diff.abs().sum(1)
    if metric == "chebyshev":
        return diff.abs().amax(1)
    if metric == "braycurtis":
        num, den = diff.abs().sum(1), (u + v).abs().sum(1)
        return torch.where(den > 0, num / den.clamp_min(1e-30), torch.zeros_like(num))
    return _canberra_terms(u, v)


def pair_operators(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Average, Hadamard, weighted-L1 and weighted-L2 of row pairs, concatenated ([50])."""
    return torch.cat([(a + b) / 2, a * b, (a - b).abs(), (a - b) ** 2], dim=-1)


def entropy(p: torch.Tensor) -> torch.Tensor:
    """Shannon entropy of each row of a probability matrix (natural log, 0 log 0 = 0)."""
    p = p.clamp_min(0)
    return -(torch.where(p > 0, p * p.clamp_min(1e-30).log(), torch.zeros_like(p))).sum(-1)


def sample_pairs(
    k: int, count: int, generator: torch.Generator, *, avoid: torch.Tensor | None = None
) -> torch.Tensor:
    """``count`` distinct pairs ``i < j`` of ``k`` nodes drawn uniformly, none of them in the
    boolean ``(k, k)`` mask ``avoid``; returns ``(2, count)``."""
    total = k * (k - 1) // 2
    blocked = 0 if avoid is None else int(torch.triu(avoid, 1).sum())
    if count > total - blocked:
        raise ConfigError(
            f"count: asked for {count} pairs, only {total - blocked} are available among {k} nodes"
        )
    chosen = torch.zeros(k, k, dtype=torch.bool, device="cpu") if avoid is None else avoid.clone()
    out: list[torch.Tensor] = []
    need = count
    while need > 0:
        m = max(2 * need, 64)
        i = torch.randint(0, k, (m,), generator=generator, device="cpu")
        j = torch.randint(0, k, (m,), generator=generator, device="cpu")
        a, b = torch.minimum(i, j), torch.maximum(i, j)
        ok = a != b
        a, b = a[ok], b[ok]
        key = a * k + b
        # first occurrence of each new key, in draw order (deterministic)
        uniq, inverse = torch.unique(key, return_inverse=True)
        first = torch.full((uniq.numel(),), key.numel(), dtype=torch.long, device="cpu")
        first = first.scatter_reduce(
            0, inverse, torch.arange(key.numel(), device="cpu"), reduce="amin"
        )
        keep = torch.zeros(key.numel(), dtype=torch.bool, device="cpu")
        keep[first] = True
        keep &= ~chosen[a, b]
        a, b = a[keep][:need], b[keep][:need]
        chosen[a, b] = True
        chosen[b, a] = True
        out.append(torch.stack([a, b]))
        need -= a.numel()
    return torch.cat(out, dim=1)


@dataclass
class PairClassifierConfig:
    """The MLP attack model of link stealing ([50]): sizes and training schedule."""

    hidden: int = 32
    dropout: float = 0.5
    epochs: int = 50
    batch_size: int = 128
    lr: float = 1e-3

    def __post_init__(self) -> None:
        check_positive("hidden", self.hidden)
        check_range("dropout", self.dropout, 0.0, 1.0)
        check_positive("epochs", self.epochs)
        check_positive("batch_size", self.batch_size)
        check_positive("lr", self.lr)


class PairClassifier:
    """Binary classifier of pair feature vectors (link / no link), sklearn-style."""

    def __init__(self, config: PairClassifierConfig | None = None, device: Any = "cpu") -> None:
        self.config = config or PairClassifierConfig()
        self.net: nn.Module | None = None
        self.device = device  # where the network trains and predicts

    def fit(self, feats: torch.Tensor, labels: torch.Tensor, *, seed: int = 0) -> PairClassifier:
        cfg = self.config
        feats = torch.as_tensor(feats, device="cpu").float()
        y = torch.as_tensor(labels, device="cpu").float().reshape(-1)
        if feats.ndim != 2 or feats.shape[0] != y.numel():
            raise ConfigError(
                f"feats: expected ({y.numel()}, d) pair features, got {tuple(feats.shape)}"
            )
        if y.min() == y.max():
            raise ConfigError("labels: the pair classifier needs both linked and unlinked pairs")
        self.mean = feats.mean(0)
        self.std = feats.std(0).clamp_min(1e-6)
        dev = self.device
        z = ((feats - self.mean) / self.std).to(dev)
        y = y.to(dev)
        g = torch.Generator().manual_seed(seed)
        torch.manual_seed(seed)
        self.net = devices.build(  # built on the CPU from the seed: the same weights anywhere
            lambda: nn.Sequential(
                nn.Linear(z.shape[1], cfg.hidden),
                nn.ReLU(),
                nn.Dropout(cfg.dropout),
                nn.Linear(cfg.hidden, cfg.hidden),
                nn.ReLU(),
                nn.Dropout(cfg.dropout),
                nn.Linear(cfg.hidden, 1),
            ),
            dev,
        )
        opt = torch.optim.Adam(self.net.parameters(), lr=cfg.lr)
        self.net.train()
        for _ in range(cfg.epochs):
            perm = torch.randperm(z.shape[0], generator=g, device="cpu")
            for s in range(0, z.shape[0], cfg.batch_size):
                idx = perm[s : s + cfg.batch_size].to(dev)
                loss = F.binary_cross_entropy_with_logits(self.net(z[idx]).squeeze(1), y[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
        self.net.eval()
        return self

    @torch.no_grad()
    def predict_proba(self, feats: torch.Tensor, batch: int = 1 << 16) -> torch.Tensor:
        """Probability of a link for each row of ``feats``."""
        if self.net is None:
            raise ConfigError("PairClassifier: call fit() before predict_proba()")
        feats = torch.as_tensor(feats, device="cpu").float()
        out = torch.empty(feats.shape[0], device="cpu")
        for s in range(0, feats.shape[0], batch):
            z = ((feats[s : s + batch] - self.mean) / self.std).to(self.device)
            out[s : s + batch] = torch.sigmoid(self.net(z).squeeze(1)).cpu()
        return out
