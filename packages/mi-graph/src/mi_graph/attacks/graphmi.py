"""GraphMI: projected gradient descent on a relaxed adjacency, then an auto-encoder read-out.

Zhang, Liu, Huang, Wang, Lu, Liu, Chen, "GraphMI: Extracting private graph data from graph
neural networks", IJCAI 2021 (survey Sec. V-B-1, [21], Eq. 9). White-box: the attacker holds the
trained GNN ``f``, the features ``X`` and labels ``Y`` of the target nodes, and a prior on the
edge density. It solves

    min_a  CE(f(X, A(a)), Y) + beta ||a||_F + alpha tr(X^T L~(a) X),   a in [0, 1]^P, sum a <= m

by projected gradient descent (Eq. 9 plus the projection onto the box and the edge budget ``m``),
then reads the graph out with the target's first layer as encoder of a graph auto-encoder:
``H = f_1(X, A(a))``, ``A_hat = relu(cos(H_i, H_j))`` (the reference code's decoder).

Scale: the relaxed variables are the ``P = k (k - 1) / 2`` pairs among the ``k`` target nodes,
fed to the model as a weighted ``edge_index``, so one step costs O(P d) and memory is O(P); the
regularisers are computed on the pair vector (:mod:`mi_graph.relax`). The reference code instead
relaxes all ``N (N - 1) / 2`` pairs of the whole graph as a dense N x N matrix and normalises it
with dense N x N products every step (O(N^3)). With the rest of the relaxed graph empty, the
targets' outputs depend on the target-target pairs only, so the GNN runs on the ``k`` target
nodes alone. The reference's AUC counts ordered pairs and the diagonal; ours counts unordered
pairs of distinct nodes (:mod:`mi_graph.metrics`).

Read-outs: ``"embedding"`` (the paper's), ``"embedding+features"`` (the paper's read-out plus the
cosine of the raw features, i.e. the feature-smoothness prior of the objective applied once more
at read-out; a documented extension) and ``"relaxed"`` (the optimised ``a`` itself).

Needs a model whose ``forward(x, edge_index, edge_weight)`` takes edge weights (GCN, SGC, any
PyG model built on ``GCNConv`` / ``SGConv`` / ``GraphConv``), not one with cached normalisation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

from mi_core import device as devices
from mi_core.attack import BaseAttack
from mi_core.config import check_choice, check_positive, check_range
from mi_core.errors import ConfigError
from mi_core.result import AttackResult
from mi_core.threat import Access, Knowledge
from mi_core.views import TargetView
from mi_graph.knowledge import GraphKnowledge
from mi_graph.metrics import feature_cosine_scores, top_m_prediction
from mi_graph.relax import (
    autograd_grad,
    descend,
    feature_smoothness,
    pair_gram,
    pairs_to_matrix,
    project_budget,
    symmetric_edges,
    triu_pairs,
)
from mi_graph.targets import unwrap_gnn

READOUTS = ("embedding", "embedding+features", "relaxed")


@dataclass
class GraphMIConfig:
    """Hyper-parameters (reference-code values unless said otherwise).

    Attributes:
        epochs: projected-gradient steps (reference: 100).
        lr: step size (reference: 0.1 on its N x N variables; 1.0 here, on target pairs).
        sparsity_weight: weight of ``||a||_F`` (reference: 0.001).
        smooth_weight: weight of the feature-smoothness term (reference: 1e-4).
        smooth_after: the smoothness term joins after this many steps (reference: 50).
        density: edge-density prior; ``None`` takes ``knowledge.extra["density"]``.
        budget_scale: the edge budget is ``budget_scale * density * P`` (reference ``--density``).
        readout: ``embedding`` (paper), ``embedding+features`` or ``relaxed`` (module docstring).
        checkpoint: file to checkpoint the relaxed adjacency to / resume from.
        device: where the search runs: ``auto`` (the white-box model's device), ``cpu``,
            ``cuda``, ``cuda:N``; results come back on the CPU.
    """

    epochs: int = 100
    lr: float = 1.0
    sparsity_weight: float = 1e-3
    smooth_weight: float = 1e-4
    smooth_after: int = 50
    density: float | None = None
    budget_scale: float = 1.0
    readout: Literal["embedding", "embedding+features", "relaxed"] = "embedding"
    checkpoint: str | None = None
    checkpoint_every: int = 25
    progress: bool = True
    device: str = "auto"

    def __post_init__(self) -> None:
        devices.check_device(self.device)
        check_positive("epochs", self.epochs)
        check_positive("lr", self.lr)
        check_positive("sparsity_weight", self.sparsity_weight, allow_zero=True)
        check_positive("smooth_weight", self.smooth_weight, allow_zero=True)
        check_positive("smooth_after", self.smooth_after, allow_zero=True)
        if self.density is not None:
            check_range("density", self.density, 0.0, 1.0)
        check_positive("budget_scale", self.budget_scale)
        check_choice("readout", self.readout, READOUTS)
        check_positive("checkpoint_every", self.checkpoint_every)


def first_layer_embedding(
    gnn: nn.Module, x: torch.Tensor, edge_index: torch.Tensor, edge_weight: torch.Tensor
) -> torch.Tensor:
    """The encoder of GraphMI's read-out: ``gnn.embed(...)`` if the model has it, else the
    output of its first message-passing layer (after a ReLU, as the reference's encoder)."""
    embed = getattr(gnn, "embed", None)
    if embed is not None:
        return embed(x, edge_index, edge_weight)
    from torch_geometric.nn import MessagePassing

    first = next((m for m in gnn.modules() if isinstance(m, MessagePassing)), None)
    if first is None:
        raise ConfigError(
            "model: GraphMI's read-out needs the first graph layer; the model has no embed() "
            "method and no torch_geometric MessagePassing layer"
        )
    box: dict[str, torch.Tensor] = {}

    def hook(_module: nn.Module, _inp: Any, out: Any) -> None:
        box.setdefault("h", out[0] if isinstance(out, tuple) else out)

    handle = first.register_forward_hook(hook)
    try:
        gnn(x, edge_index, edge_weight)
    finally:
        handle.remove()
    return F.relu(box["h"])


def check_relaxable(gnn: nn.Module) -> None:
    """Raise unless ``gnn`` can be differentiated through edge weights."""
    from mi_graph.models import accepts_edge_weight, has_cached_normalisation

    if not accepts_edge_weight(gnn):
        raise ConfigError(
            f"model: GraphMI differentiates through edge weights, but "
            f"{type(gnn).__name__}.forward takes no edge_weight argument (PyG's GraphSAGE and "
            "GAT do not); use a GCN / SGC-style model, or a black-box attack (link-stealing, "
            "linkteller)"
        )
    if has_cached_normalisation(gnn):
        raise ConfigError(
            "model: a layer caches its normalised adjacency (cached=True), so the relaxed "
            "adjacency would never reach it; rebuild the layers with cached=False"
        )


class GraphMI(BaseAttack):
    """Projected gradient on the relaxed adjacency + auto-encoder read-out (Zhang et al. 2021)."""

    name = "graphmi"
    modality = "graph"
    access = Access.WHITE_BOX
    paper = "Zhang et al., IJCAI 2021"
    summary = "projected gradient on a relaxed adjacency, then a graph auto-encoder read-out"
    Config = GraphMIConfig
    requires = ("target_nodes", "known_attributes", "target_labels", "density")

    def required_knowledge(self) -> tuple[str, ...]:
        if self.config.density is not None:  # the config gives the edge-density prior
            return tuple(r for r in self.requires if r != "density")
        return tuple(self.requires)

    def _run(self, view: TargetView, knowledge: Knowledge, seed: int) -> AttackResult:
        cfg: GraphMIConfig = self.config
        gk = GraphKnowledge(knowledge)
        why = "GraphMI fits the model's outputs on the target nodes"
        dev = devices.attack_device(cfg.device, view)
        x = gk.target_features(why).to(dev)
        y = gk.labels(why).to(dev)
        density = cfg.density if cfg.density is not None else gk.density("GraphMI's edge budget")
        gnn = unwrap_gnn(view.module)
        check_relaxable(gnn)
        k = gk.k
        pairs = triu_pairs(k, dev)
        n_pairs = pairs.shape[1]
        budget = cfg.budget_scale * density * n_pairs
        edge_index = symmetric_edges(pairs)
        gram_diag = (x * x).sum(1)
        gram_pairs = pair_gram(x, pairs)

        was_training = gnn.training
        grads = {p: p.requires_grad for p in gnn.parameters()}
        gnn.eval()
        for p in gnn.parameters():
            p.requires_grad_(False)
        try:

            def objective(av: torch.Tensor, step: int) -> torch.Tensor:
                out = gnn(x, edge_index, torch.cat([av, av]))
                loss = F.cross_entropy(out, y) + cfg.sparsity_weight * av.norm()
                if cfg.smooth_weight > 0 and step >= cfg.smooth_after:
                    loss = loss + cfg.smooth_weight * feature_smoothness(
                        av, pairs, gram_diag, gram_pairs
                    )
                return loss

            run = descend(
                torch.zeros(n_pairs, device=dev),
                autograd_grad(objective),
                lambda v: project_budget(v, budget),
                steps=cfg.epochs,
                lr=cfg.lr,
                optimizer="pgd",
                checkpoint=cfg.checkpoint,
                checkpoint_every=cfg.checkpoint_every,
                meta={"attack": self.name, "config": cfg, "nodes": gk.nodes, "seed": seed},
                desc="GraphMI",
                progress=cfg.progress,
            )
            a = run.variable
            with torch.no_grad():
                w = torch.cat([a, a])
                fitted = float((gnn(x, edge_index, w).argmax(1) == y).float().mean())
                relaxed = pairs_to_matrix(a, pairs, k).cpu()  # results live on the CPU
                if cfg.readout == "relaxed":
                    scores = relaxed
                else:
                    h = F.normalize(first_layer_embedding(gnn, x, edge_index, w), dim=1)
                    scores = (h @ h.T).clamp_min(0).cpu()
                    if cfg.readout == "embedding+features":
                        scores = scores + feature_cosine_scores(x)
                    scores.fill_diagonal_(0)
        finally:
            for p, flag in grads.items():
                p.requires_grad_(flag)
            gnn.train(was_training)
        predicted = top_m_prediction(scores, round(budget))
        return self._result(
            scores,
            targets=gk.nodes,
            arrays={"relaxed_adjacency": relaxed, "predicted": predicted},
            info={
                "pairs": n_pairs,
                "edge_budget": budget,
                "density_prior": density,
                "final_loss": run.loss,
                "no_model_baseline": "feature-cosine+label",
                "label_fit": fitted,
                "readout": cfg.readout,
            },
        )
