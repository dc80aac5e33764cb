"""MC-GRA: graph reconstruction by Markov-chain approximation of the target GNN.

Zhou, Zhou, Li, Yao, Yao, Han, "On strengthening and defending graph reconstruction attack with
Markov chain approximation", ICML 2023 (survey Sec. V-B-1, [47], Eq. 10). White-box. The GNN is
read as a Markov chain ``A -> H^1 -> ... -> H^L -> Y``; the attacker optimises a relaxed
adjacency ``A_hat`` so that the chain run on ``A_hat`` approximates what it knows of the chain run
on the private ``A``:

    max_A_hat  lam_p I(H_A; H^i_A_hat)              propagation approximation
             + lam_o I(Y_A; Y_A_hat) + lam_s I(Y; Y_A_hat)   output approximation
             - lam_c S(A_hat)                        complexity

with the prior-knowledge sets of the paper: node features ``X`` (always), node embeddings
``H_A`` (``knowledge.extra["embeddings"]``: the hidden layer a service releases, the model's
``embed()``, else its first message-passing layer after a ReLU), output posteriors ``Y_A``
(``knowledge.extra["posteriors"]``) and labels ``Y`` (``knowledge.target_labels``); a term whose
prior is unknown is left out.

Implementation (what follows the paper, what is ours):

* The relaxed variables are the ``k (k - 1) / 2`` pairs among the target nodes and the loop is
  GraphMI's (:func:`mi_graph.relax.descend`: a step, then the projection onto ``[0, 1]`` and an
  optional edge budget), so MC-GRA scales like GraphMI (O(pairs) per step); the reference code
  relaxes all ``N^2`` pairs of the graph densely.
* The mutual-information terms are replaced by alignment measures between the chain on
  ``A_hat`` and the known representations, summed over target nodes, as the reference code does
  (it offers HSIC, MSE, KL, KDE, CKA and dot product): ``"cosine"`` (``1 - cos`` per node;
  default: insensitive to the degree normalisation the GNN applies, which differs between the
  private graph and the relaxed one), ``"mse"`` and ``"cka"`` (linear CKA over nodes). The label
  term is GraphMI's cross-entropy. ``S(A_hat)`` is the entropy of the pair weights
  (:func:`mi_graph.relax.pair_entropy`, summed over pairs), plus GraphMI's ``||a||_F``.
* Default weights: ``lam_p = 1``; ``lam_o`` and ``lam_s`` are 0 when the embeddings are known and
  1 otherwise (``None`` = this rule). Measured on Cora (10% target nodes, draws 0-4), adding the
  posterior term (weight 0.3) to the propagation term lowered all-pairs AP from 0.28 to 0.21, and
  posteriors and labels at 0.1 to 0.11: they pull the relaxed graph towards same-class pairs,
  which the read-out already rewards through the labels.
* Measured with the defaults on Cora (10 draws of 10% targets, K = {X, H_A, Y_A, Y}): all-pairs
  AP 0.228 (0.092-0.414) against 0.089 for features + labels and 0.137 for the embeddings'
  cosine alone; precision at the true density 0.280 against 0.140 / 0.167; AUC 0.939 against
  0.897 / 0.944 (the embeddings alone rank better on average, the optimisation sharpens the top).
* Read-outs: ``"relaxed"`` (the optimised pair weights), ``"relaxed+knowledge"`` (default: the
  pair weights plus ``knowledge_weight`` times the attacker's own evidence, raw-feature cosine
  and label agreement; the no-model baseline built from the same features and labels is that
  evidence alone, so the model's contribution is the optimised weights) and ``"chain"`` (the
  reference code's sum: pair weights, the similarity of the chain's representations on
  ``A_hat``, of the known ``H_A`` and ``Y_A``, features and labels).

Needs a model whose ``forward(x, edge_index, edge_weight)`` takes edge weights (as GraphMI).
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
from mi_graph.attacks.graphmi import check_relaxable
from mi_graph.knowledge import GraphKnowledge
from mi_graph.metrics import feature_cosine_scores, top_m_prediction
from mi_graph.relax import (
    OPTIMIZERS,
    autograd_grad,
    descend,
    pair_entropy,
    pairs_to_matrix,
    project_budget,
    symmetric_edges,
    triu_pairs,
)
from mi_graph.targets import unwrap_gnn

MEASURES = ("cosine", "mse", "cka")
READOUTS = ("relaxed+knowledge", "relaxed", "chain")
PRIORS = ("embeddings", "posteriors", "labels")


@dataclass
class MCGRAConfig:
    """Hyper-parameters of MC-GRA (module docstring for what each term is).

    Attributes:
        epochs: optimisation steps (reference: 100).
        lr: step size; with ``"pgd"`` it multiplies the gradient of losses summed over target
            nodes (so it does not depend on how many targets there are).
        optimizer: ``"pgd"`` (GraphMI's projected gradient, default) or ``"adam"`` (the
            reference's optimiser; measured on Cora: the same AP at lr 0.02, but it moves every
            pair alike in the first steps, which needs more steps on large target sets).
        measure: the approximation of the mutual-information terms.
        propagation_weight: ``lam_p`` (used when ``embeddings`` are known).
        output_weight: ``lam_o`` (used when ``posteriors`` are known); None: module rule.
        label_weight: ``lam_s`` (used when labels are known); None: module rule.
        complexity_weight: ``lam_c``, weight of the pair-weight entropy.
        sparsity_weight: weight of GraphMI's ``||a||_F`` (reference: 0.001).
        priors: the known outputs to use, a subset of ``("embeddings", "posteriors",
            "labels")``; None: whatever the knowledge holds.
        density / budget_scale: an optional edge budget ``budget_scale * density * pairs`` (the
            reference's default density makes it vacuous: ``None`` = box ``[0, 1]`` only).
        readout: ``"relaxed+knowledge"``, ``"relaxed"`` or ``"chain"``.
        knowledge_weight: weight of the attacker's own evidence in ``"relaxed+knowledge"``.
        device: where the search runs: ``auto`` (the white-box model's device), ``cpu``,
            ``cuda``, ``cuda:N``; the read-out is combined on the CPU, where results live.
    """

    epochs: int = 100
    lr: float = 0.1
    optimizer: Literal["pgd", "adam"] = "pgd"
    measure: Literal["cosine", "mse", "cka"] = "cosine"
    propagation_weight: float = 1.0
    output_weight: float | None = None
    label_weight: float | None = None
    complexity_weight: float = 1e-3
    sparsity_weight: float = 1e-3
    priors: tuple[str, ...] | None = None
    density: float | None = None
    budget_scale: float | None = None
    readout: Literal["relaxed+knowledge", "relaxed", "chain"] = "relaxed+knowledge"
    knowledge_weight: float = 0.5
    checkpoint: str | None = None
    checkpoint_every: int = 25
    progress: bool = True
    device: str = "auto"

    def __post_init__(self) -> None:
        devices.check_device(self.device)
        check_positive("epochs", self.epochs, allow_zero=True)
        check_positive("lr", self.lr)
        check_choice("optimizer", self.optimizer, OPTIMIZERS)
        check_choice("measure", self.measure, MEASURES)
        for name in ("propagation_weight", "complexity_weight", "sparsity_weight"):
            check_positive(name, getattr(self, name), allow_zero=True)
        for name in ("output_weight", "label_weight"):
            if getattr(self, name) is not None:
                check_positive(name, getattr(self, name), allow_zero=True)
        if self.priors is not None:
            self.priors = tuple(self.priors)
            bad = [p for p in self.priors if p not in PRIORS]
            if bad or not self.priors:
                raise ConfigError(
                    f"priors: a non-empty subset of {PRIORS} (or None for all that are known), "
                    f"got {self.priors!r}"
                )
        if self.density is not None:
            check_range("density", self.density, 0.0, 1.0)
        if self.budget_scale is not None:
            check_positive("budget_scale", self.budget_scale)
        check_choice("readout", self.readout, READOUTS)
        check_positive("knowledge_weight", self.knowledge_weight, allow_zero=True)
        check_positive("checkpoint_every", self.checkpoint_every)


def embedding_and_logits(
    gnn: nn.Module, x: torch.Tensor, edge_index: torch.Tensor, edge_weight: Any = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(H^1, logits)`` of ``gnn`` in one forward pass: ``H^1`` is what ``gnn.embed`` returns
    (caught while ``forward`` calls it, else computed), or the first message-passing layer's
    output after a ReLU for models without ``embed``."""
    args = (x, edge_index) if edge_weight is None else (x, edge_index, edge_weight)
    box: list[torch.Tensor] = []
    embed = getattr(gnn, "embed", None)
    if embed is not None and "embed" not in vars(gnn):

        def spy(*a: Any, **kw: Any) -> torch.Tensor:
            h = embed(*a, **kw)
            box.append(h)
            return h

        gnn.embed = spy  # an instance attribute shadows the method while forward runs
        try:
            out = gnn(*args)
        finally:
            del gnn.embed
        return (box[0] if box else embed(*args)), out
    from torch_geometric.nn import MessagePassing

    first = next((m for m in gnn.modules() if isinstance(m, MessagePassing)), None)
    if first is None:
        raise ConfigError(
            "model: MC-GRA compares hidden representations; the model has no embed() method and "
            "no torch_geometric MessagePassing layer"
        )

    def hook(_m: nn.Module, _i: Any, o: Any) -> None:
        if not box:
            box.append(o[0] if isinstance(o, tuple) else o)

    handle = first.register_forward_hook(hook)
    try:
        out = gnn(*args)
    finally:
        handle.remove()
    return F.relu(box[0]), out


@torch.no_grad()
def released_outputs(model: nn.Module, graph: Any, nodes: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """What a service holding ``graph`` gives away about ``nodes``: their embeddings ``H_A``
    (:func:`embedding_and_logits`) and posteriors ``Y_A`` on the whole private graph: the
    ``embeddings`` / ``posteriors`` knowledge of MC-GRA."""
    from mi_core.device import module_device

    gnn = unwrap_gnn(model)
    dev = module_device(gnn) or torch.device("cpu")  # run where the model lives
    was = gnn.training
    gnn.eval()
    try:
        h, out = embedding_and_logits(gnn, graph.x.to(dev), graph.edge_index.to(dev))
    finally:
        gnn.train(was)
    idx = torch.as_tensor(nodes, dtype=torch.long, device=h.device)
    return h[idx].detach().cpu(), torch.softmax(out[idx], 1).detach().cpu()


def _discrepancy(measure: str, pred: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
    """Summed over nodes: how far ``pred`` is from ``known`` (minimised: the negative of the
    alignment that stands for the mutual information)."""
    if measure == "cosine":
        return (1 - F.cosine_similarity(pred, known, dim=1, eps=1e-8)).sum()
    if measure == "mse":
        return ((pred - known) ** 2).mean(1).sum()
    p = pred - pred.mean(0)
    q = known - known.mean(0)
    cka = (p.T @ q).pow(2).sum() / ((p.T @ p).norm() * (q.T @ q).norm()).clamp_min(1e-12)
    return pred.shape[0] * (1 - cka)


def _cos(h: torch.Tensor) -> torch.Tensor:
    z = F.normalize(h.float(), dim=1)
    s = (z @ z.T).clamp_min(0)
    s.fill_diagonal_(0)
    return s


class MCGRA(BaseAttack):
    """Markov-chain approximation on a relaxed adjacency (Zhou et al., ICML 2023, Eq. 10)."""

    name = "mc-gra"
    modality = "graph"
    access = Access.WHITE_BOX
    paper = "Zhou et al., ICML 2023"
    summary = (
        "relaxed adjacency fitted so the GNN's chain on it matches the known embeddings, "
        "posteriors and labels"
    )
    Config = MCGRAConfig

    def _priors(self, gk: GraphKnowledge) -> dict[str, torch.Tensor]:
        cfg: MCGRAConfig = self.config
        known: dict[str, torch.Tensor] = {}
        for name in ("embeddings", "posteriors"):
            v = gk.outputs(name)
            if v is not None:
                known[name] = v
        if gk.has_labels:
            known["labels"] = gk.labels("MC-GRA")
        if cfg.priors is not None:
            missing = [p for p in cfg.priors if p not in known]
            if missing:
                field = {
                    "embeddings": "knowledge.extra['embeddings']",
                    "posteriors": "knowledge.extra['posteriors']",
                    "labels": "knowledge.target_labels",
                }
                raise ConfigError(
                    f"{field[missing[0]]}: MC-GRA was asked to use {missing[0]} "
                    f"(config.priors={cfg.priors!r}) but the knowledge holds none; give them "
                    "with graph_knowledge(...) or drop them from priors"
                )
            known = {k: v for k, v in known.items() if k in cfg.priors}
        if not known:
            raise ConfigError(
                "knowledge: MC-GRA approximates the GNN's chain on the private graph and needs "
                "at least one of node embeddings (graph_knowledge(embeddings=...)), output "
                "posteriors (posteriors=...) or the target labels (labels=...)"
            )
        return known

    def weights(self, known: dict[str, Any]) -> dict[str, float]:
        """The weights ``lam_p``, ``lam_o``, ``lam_s`` used for the priors in ``known``."""
        cfg: MCGRAConfig = self.config
        rich = "embeddings" in known
        out = {}
        if "embeddings" in known:
            out["embeddings"] = cfg.propagation_weight
        if "posteriors" in known:
            out["posteriors"] = (
                cfg.output_weight if cfg.output_weight is not None else (0.0 if rich else 1.0)
            )
        if "labels" in known:
            auto = 0.0 if rich or "posteriors" in known else 1.0
            out["labels"] = cfg.label_weight if cfg.label_weight is not None else auto
        return out

    def _run(self, view: TargetView, knowledge: Knowledge, seed: int) -> AttackResult:
        cfg: MCGRAConfig = self.config
        gk = GraphKnowledge(knowledge)
        dev = devices.attack_device(cfg.device, view)
        x = gk.target_features("MC-GRA runs the GNN on the target nodes").to(dev)
        known = {name: v.to(dev) for name, v in self._priors(gk).items()}
        lam = self.weights(known)
        if not any(w > 0 for w in lam.values()):
            raise ConfigError(
                f"MC-GRA: every weight of the known priors is 0 ({lam}); nothing to fit"
            )
        gnn = unwrap_gnn(view.module)
        check_relaxable(gnn)
        k = gk.k
        pairs = triu_pairs(k, dev)
        n_pairs = pairs.shape[1]
        budget = float(n_pairs)
        if cfg.budget_scale is not None:
            prior = cfg.density if cfg.density is not None else gk.density("MC-GRA's edge budget")
            budget = cfg.budget_scale * prior * n_pairs
        edge_index = symmetric_edges(pairs)
        h_known, y_known = known.get("embeddings"), known.get("posteriors")
        labels = known.get("labels")
        if h_known is not None and h_known.shape[1] == 0:
            raise ConfigError("knowledge.extra['embeddings']: zero-width embeddings")

        def objective(av: torch.Tensor, step: int) -> torch.Tensor:
            h, out = embedding_and_logits(gnn, x, edge_index, torch.cat([av, av]))
            loss = cfg.sparsity_weight * av.norm()
            if cfg.complexity_weight > 0:
                loss = loss + cfg.complexity_weight * n_pairs * pair_entropy(av)
            if lam.get("embeddings", 0) > 0:
                if h.shape != h_known.shape:  # type: ignore[union-attr]
                    raise ConfigError(
                        f"knowledge.extra['embeddings']: shape {tuple(h_known.shape)} "  # type: ignore[union-attr]
                        f"differs from the model's embeddings {tuple(h.shape)}; give the "
                        "target nodes' embed() outputs on the private graph"
                    )
                loss = loss + lam["embeddings"] * _discrepancy(cfg.measure, h, h_known)
            if lam.get("posteriors", 0) > 0:
                p = torch.softmax(out, 1)
                if p.shape != y_known.shape:  # type: ignore[union-attr]
                    raise ConfigError(
                        f"knowledge.extra['posteriors']: shape {tuple(y_known.shape)} differs "  # type: ignore[union-attr]
                        f"from the model's outputs {tuple(p.shape)}"
                    )
                loss = loss + lam["posteriors"] * _discrepancy(cfg.measure, p, y_known)
            if lam.get("labels", 0) > 0:
                loss = loss + lam["labels"] * F.cross_entropy(out, labels, reduction="sum")
            return loss

        was_training = gnn.training
        grads = {p: p.requires_grad for p in gnn.parameters()}
        gnn.eval()
        for p in gnn.parameters():
            p.requires_grad_(False)
        try:
            run = descend(
                torch.zeros(n_pairs, device=dev),
                autograd_grad(objective),
                lambda v: project_budget(v, budget),
                steps=cfg.epochs,
                lr=cfg.lr,
                optimizer=cfg.optimizer,
                checkpoint=cfg.checkpoint,
                checkpoint_every=cfg.checkpoint_every,
                meta={"attack": self.name, "config": cfg, "nodes": gk.nodes, "seed": seed},
                desc="MC-GRA",
                progress=cfg.progress,
            )
            a = run.variable
            with torch.no_grad():
                relaxed = pairs_to_matrix(a, pairs, k).cpu()  # results live on the CPU
                evidence = self.knowledge_scores(x, labels)
                if cfg.readout == "relaxed":
                    scores = relaxed.clone()
                elif cfg.readout == "relaxed+knowledge":
                    scores = relaxed + cfg.knowledge_weight * evidence
                else:
                    h, out = embedding_and_logits(gnn, x, edge_index, torch.cat([a, a]))
                    chain = _cos(h) + _cos(torch.softmax(out, 1))
                    for v in (h_known, y_known):
                        if v is not None:
                            chain = chain + _cos(v)
                    scores = relaxed + chain.cpu() + evidence
                scores.fill_diagonal_(0)
        finally:
            for p, flag in grads.items():
                p.requires_grad_(flag)
            gnn.train(was_training)
        density = cfg.density if cfg.density is not None else knowledge.extra.get("density")
        arrays = {"relaxed_adjacency": relaxed, "knowledge_scores": evidence}
        if density is not None:  # the density prior names how many edges to predict
            arrays["predicted"] = top_m_prediction(scores, round(float(density) * n_pairs))
        return self._result(
            scores,
            targets=gk.nodes,
            arrays=arrays,
            info={
                "pairs": n_pairs,
                "edge_budget": budget,
                "priors": sorted(known),
                "weights": lam,
                "final_loss": run.loss,
                "steps": run.steps,
                "readout": cfg.readout,
                "no_model_baseline": "feature-cosine+label"
                if labels is not None
                else "feature-cosine",
            },
        )

    @staticmethod
    def knowledge_scores(x: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        """The attacker's own evidence, no model: raw-feature cosine, plus 1 for equal labels
        when the labels are known (:func:`mi_graph.metrics.feature_label_scores`)."""
        s = feature_cosine_scores(x)  # on the CPU
        if labels is not None:
            y = labels.cpu()
            s = s + (y[:, None] == y[None, :]).float()
        s.fill_diagonal_(0)
        return s
