"""Inverse mapping: a graph auto-encoder's decoder maps released node outputs back to edges.

Duddu, Boutet, Shejwalkar, "Quantifying privacy leakage in graph embedding", MobiQuitous 2020
([48]) and Zhang, Chen, Backes, Shen, Zhang, "Inference attacks against graph neural networks",
USENIX Security 2022 ([49]); survey Sec. V-B-2. Black-box: the service releases the outputs
``H`` (posteriors or embeddings) of the target nodes. The attacker holds an auxiliary graph
``G_aux`` from the same distribution (same feature space).

1. ``autoencoder`` ([48]): train a graph auto-encoder on ``G_aux``, an encoder GCN with as
   many outputs as ``H`` has columns and a pair decoder, to reconstruct ``A_aux`` from
   ``(X_aux, A_aux)``; then decode ``H``: ``A_hat = F_dec(H)``.
2. ``finetune`` ([49], default): the encoder's latent space differs from ``H``'s, so query the
   target on ``G_aux`` (:class:`~mi_graph.targets.GraphQuery`) to get ``H_aux = f(G_aux)`` and
   fine-tune the decoder on the pairs ``(H_aux, A_aux)`` before decoding ``H``.

The decoder is symmetric: an MLP on ``[h_u * h_v, |h_u - h_v|]`` giving a link logit. Training
uses every auxiliary link and as many sampled non-links, resampled each epoch (seeded).
Cost: the ``k`` target outputs plus, for ``finetune``, one output per auxiliary node.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

from mi_core import device as devices
from mi_core.attack import BaseAttack
from mi_core.config import check_choice, check_positive
from mi_core.errors import ConfigError
from mi_core.loop import ResumableLoop
from mi_core.result import AttackResult
from mi_core.threat import Access, Knowledge
from mi_core.views import TargetView
from mi_graph.knowledge import GraphKnowledge
from mi_graph.pairs import sample_pairs
from mi_graph.relax import pairs_to_matrix, triu_pairs
from mi_graph.targets import GraphQuery, NodeQuery


class PairDecoder(nn.Module):
    """Symmetric edge decoder: ``MLP([h_u * h_v, |h_u - h_v|]) -> link logit``."""

    def __init__(self, dim: int, hidden: int = 64) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(
            nn.Linear(2 * dim, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU()
        )
        self.out = nn.Linear(hidden, 1)

    def forward(self, h: torch.Tensor, pairs: torch.Tensor) -> torch.Tensor:
        z = self.norm(h)
        u, v = z[pairs[0]], z[pairs[1]]
        return self.out(self.mlp(torch.cat([u * v, (u - v).abs()], dim=1))).squeeze(1)


class _Encoder(nn.Module):
    def __init__(self, in_dim: int, hidden: int, out_dim: int, simplex: bool) -> None:
        super().__init__()
        from torch_geometric.nn import GCNConv

        self.conv1 = GCNConv(in_dim, hidden)
        self.conv2 = GCNConv(hidden, out_dim)
        self.simplex = simplex

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        h = self.conv2(F.relu(self.conv1(x, edge_index)), edge_index)
        return torch.softmax(h, dim=1) if self.simplex else h


@dataclass
class InverseMappingConfig:
    """Attributes:
    mode: ``finetune`` ([49]) or ``autoencoder`` ([48]); see the module docstring.
    ae_epochs / finetune_epochs: full-batch epochs of the two stages.
    encoder_hidden / decoder_hidden: widths.
    lr: Adam step of both stages.
    negatives: sampled non-links per auxiliary link.
    device: where the auto-encoder trains (``auto``: CUDA when present, else the CPU); results
        come back on the CPU.
    """

    mode: Literal["finetune", "autoencoder"] = "finetune"
    ae_epochs: int = 200
    finetune_epochs: int = 300
    encoder_hidden: int = 64
    decoder_hidden: int = 64
    lr: float = 0.01
    negatives: float = 1.0
    progress: bool = True
    device: str = "auto"

    def __post_init__(self) -> None:
        devices.check_device(self.device)
        check_choice("mode", self.mode, ("finetune", "autoencoder"))
        check_positive("ae_epochs", self.ae_epochs)
        check_positive("finetune_epochs", self.finetune_epochs)
        check_positive("encoder_hidden", self.encoder_hidden)
        check_positive("decoder_hidden", self.decoder_hidden)
        check_positive("lr", self.lr)
        check_positive("negatives", self.negatives)


def _aux_graph(aux: Any) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    from mi_graph.data import clean_edge_index

    for name in ("x", "edge_index"):
        if getattr(aux, name, None) is None:
            raise ConfigError(
                f"knowledge.auxiliary.{name}: inverse mapping trains on an auxiliary graph with "
                "features and edges"
            )
    n = int(aux.x.shape[0])
    ei = clean_edge_index(aux.edge_index, n)
    links = ei[:, ei[0] < ei[1]]
    if links.shape[1] == 0:
        raise ConfigError("knowledge.auxiliary.edge_index: the auxiliary graph has no links")
    adj = torch.zeros(n, n, dtype=torch.bool, device="cpu")
    adj[ei[0], ei[1]] = True
    adj.fill_diagonal_(True)
    return aux.x.float(), ei, links, adj


def _train_pairs(
    params: list[torch.Tensor],
    logits: Any,
    links: torch.Tensor,
    avoid: torch.Tensor,
    epochs: int,
    lr: float,
    negatives: float,
    gen: torch.Generator,
    desc: str,
    progress: bool,
) -> float:
    """Full-batch link / non-link training of ``logits(pairs)``; returns the last loss."""
    opt = torch.optim.Adam(params, lr=lr)
    n_neg = max(1, round(negatives * links.shape[1]))
    dev = links.device
    target = torch.cat([torch.ones(links.shape[1], device=dev), torch.zeros(n_neg, device=dev)])
    loss = torch.zeros((), device=dev)
    for _ in ResumableLoop(epochs, desc=desc, progress=progress):
        neg = sample_pairs(avoid.shape[0], n_neg, gen, avoid=avoid).to(dev)
        loss = F.binary_cross_entropy_with_logits(logits(torch.cat([links, neg], 1)), target)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return float(loss.detach())


class InverseMapping(BaseAttack):
    """Decode released node outputs into edges with a (fine-tuned) graph auto-encoder."""

    name = "inverse-mapping"
    modality = "graph"
    access = Access.BLACK_BOX_SCORES
    paper = "Duddu et al., MobiQuitous 2020; Zhang et al., USENIX Security 2022"
    summary = "auto-encoder decoder, fine-tuned on (queried outputs, auxiliary graph) pairs"
    Config = InverseMappingConfig
    requires = ("target_nodes", "auxiliary:graph")

    def _run(self, view: TargetView, knowledge: Knowledge, seed: int) -> AttackResult:
        cfg: InverseMappingConfig = self.config
        gk = GraphKnowledge(knowledge)
        if knowledge.auxiliary is None:
            raise ConfigError(
                "knowledge.auxiliary: inverse mapping needs an auxiliary graph (a PyG Data with "
                "x and edge_index) from the target's domain"
            )
        dev = devices.attack_device(cfg.device, view)
        ax, aei, links, avoid = _aux_graph(knowledge.auxiliary)
        ax, aei, links = ax.to(dev), aei.to(dev), links.to(dev)
        h = torch.as_tensor(view(NodeQuery(gk.nodes)), device=dev).float()
        if h.ndim != 2 or h.shape[0] != gk.k:
            raise ConfigError(
                f"view: expected ({gk.k}, d) outputs for the target nodes, got {tuple(h.shape)}"
            )
        dim = h.shape[1]
        simplex = bool((h >= 0).all()) and bool(
            torch.allclose(h.sum(1), torch.ones(gk.k, device=dev))
        )
        gen = torch.Generator().manual_seed(seed)
        torch.manual_seed(seed)
        # built on the CPU from the seeded generator (the same weights on every device)
        encoder = devices.build(
            lambda: _Encoder(ax.shape[1], cfg.encoder_hidden, dim, simplex), dev
        )
        decoder = devices.build(lambda: PairDecoder(dim, cfg.decoder_hidden), dev)
        ae_loss = _train_pairs(
            list(encoder.parameters()) + list(decoder.parameters()),
            lambda p: decoder(encoder(ax, aei), p),
            links,
            avoid,
            cfg.ae_epochs,
            cfg.lr,
            cfg.negatives,
            gen,
            "graph auto-encoder",
            cfg.progress,
        )
        info: dict[str, Any] = {"mode": cfg.mode, "ae_loss": ae_loss, "released_dim": dim}
        if cfg.mode == "finetune":
            h_aux = torch.as_tensor(view(GraphQuery(ax, aei)), device=dev).float()
            if h_aux.shape != (ax.shape[0], dim):
                raise ConfigError(
                    f"view: expected ({ax.shape[0]}, {dim}) outputs for the auxiliary graph, got "
                    f"{tuple(h_aux.shape)}"
                )
            info["finetune_loss"] = _train_pairs(
                list(decoder.parameters()),
                lambda p: decoder(h_aux, p),
                links,
                avoid,
                cfg.finetune_epochs,
                cfg.lr,
                cfg.negatives,
                gen,
                "decoder fine-tuning",
                cfg.progress,
            )
        decoder.eval()
        pairs = triu_pairs(gk.k, dev)
        with torch.no_grad():
            proba = torch.cat(
                [
                    torch.sigmoid(decoder(h, pairs[:, s : s + (1 << 20)]))
                    for s in range(0, pairs.shape[1], 1 << 20)
                ]
            )
        scores = pairs_to_matrix(proba, pairs, gk.k).cpu()  # results live on the CPU
        return self._result(scores, targets=gk.nodes, arrays={"predicted": scores > 0.5}, info=info)
