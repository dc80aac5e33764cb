"""RL-GraphMI: GraphMI against a hard-label black box, with policy-gradient estimates.

Zhang, Liu, Huang, Wang, Lee, Chen, "Model inversion attacks against graph neural networks",
IEEE TKDE 35(9), 2023 (survey Sec. V-B-1, [105]). The attacker sees only the labels a GNN
service predicts (a label-only view): it may ask for the labels of the target nodes on the
private graph (``NodeQuery``) and for the labels the GNN gives the target nodes on a graph of its
own making (``GraphQuery``; one query per node output, :func:`mi_graph.targets.graph_query_cost`).
It pursues GraphMI's objective (fit the labels of the target nodes; sparsity and feature
smoothness on the relaxed adjacency) without gradients of the model:

* the relaxed adjacency is a policy: each candidate pair ``(i, j)`` among the ``k`` targets is an
  edge with probability ``a_ij = sigmoid(theta_ij)``;
* each step samples ``samples`` graphs from the policy, queries the labels the GNN predicts on
  each, and scores every node (1 when its label is wrong);
* the gradient of the expected error is estimated by the score function (REINFORCE):
  ``sum_s c_s,ij (G_s,ij - a_ij)``, with the credit ``c_s,ij`` of a pair the errors of its two end
  nodes in sample ``s`` minus their mean over the step's other samples (a leave-one-out
  baseline). Crediting only the end nodes is our choice: it ignores the 2-hop effects of a
  2-layer GNN but cuts the variance by the number of nodes;
* the gradients of GraphMI's regularisers, which need no model, are exact; the step is Adam on
  ``theta`` followed by the edge budget (a shift of the logits so that ``sum a <= m``), in
  GraphMI's loop (:func:`mi_graph.relax.descend`).

The labels to fit are the attacker's (``knowledge.target_labels``, GraphMI's setting) or, when it
has none, the labels the service predicts for the targets on the private graph (``k`` queries).
The query budget is the view's: the attack runs the steps it can pay for and reports
``info["steps"]`` and ``info["stopped_by_budget"]``; it never asks for more than the budget.

Read-outs: ``"relaxed"`` (default, the paper's): the edge probabilities ``a``;
``"relaxed+knowledge"``: ``a / max(a)`` plus ``knowledge_weight`` times the attacker's evidence,
raw-feature cosine plus agreement of the labels it fitted (``result.arrays["knowledge_scores"]``,
the attack's starting point). When those labels were queried from the service, the evidence is
not model-free: the no-model baseline is feature cosine alone (``info["no_model_baseline"]``).

What it recovers, measured: hard labels on graphs of the attacker's making reveal the GNN's
function, not the private edges, so ``a`` learns mostly which pairs the model puts in one class.
On a 4-block SBM (120 targets, labels queried) ``a`` reaches AUC 0.76 against 0.56 for feature
cosine, but agreement of the queried labels alone scores 0.78; on Cora (10% targets) ``a`` scores
AUC 0.78 against 0.82 for feature cosine, and any weight of ``a`` in the fused read-out lowers the
all-pairs AP of the evidence it is fused with (``knowledge_weight`` 10: 0.148 against 0.155).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

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
    descend,
    feature_smoothness,
    pair_gram,
    pairs_to_matrix,
    symmetric_edges,
    triu_pairs,
)
from mi_graph.targets import GraphQuery, NodeQuery

READOUTS = ("relaxed", "relaxed+knowledge")


@dataclass
class RLGraphMIConfig:
    """Hyper-parameters of RL-GraphMI (module docstring).

    Attributes:
        epochs: policy-gradient steps (fewer when the query budget runs out first).
        samples: graphs sampled (and queried) per step; a step costs ``samples * k`` queries.
        lr: Adam step on the logits ``theta``.
        init_scale: the initial edge probability is ``init_scale * density``: denser samples
            than the prior let more pairs be tried per query.
        sparsity_weight / smooth_weight / smooth_after: GraphMI's regularisers (exact).
        density: edge-density prior; ``None`` takes ``knowledge.extra["density"]``.
        budget_scale: the edge budget ``m = budget_scale * density * pairs``.
        readout: ``"relaxed+knowledge"`` or ``"relaxed"``.
        knowledge_weight: weight of the attacker's own evidence in the read-out.
        device: where the attacker's estimates compute (``auto``: CUDA when present, else the
            CPU); queries go through the view, results come back on the CPU.
    """

    epochs: int = 100
    samples: int = 8
    lr: float = 0.05
    init_scale: float = 3.0
    sparsity_weight: float = 1e-3
    smooth_weight: float = 1e-4
    smooth_after: int = 50
    density: float | None = None
    budget_scale: float = 10.0
    readout: Literal["relaxed", "relaxed+knowledge"] = "relaxed"
    knowledge_weight: float = 10.0
    checkpoint: str | None = None
    checkpoint_every: int = 25
    progress: bool = True
    device: str = "auto"

    def __post_init__(self) -> None:
        devices.check_device(self.device)
        check_positive("epochs", self.epochs, allow_zero=True)
        check_positive("samples", self.samples)
        if self.samples < 2:
            raise ConfigError(
                f"samples: the leave-one-out baseline needs at least 2 samples, got {self.samples}"
            )
        check_positive("lr", self.lr)
        check_positive("init_scale", self.init_scale)
        check_positive("sparsity_weight", self.sparsity_weight, allow_zero=True)
        check_positive("smooth_weight", self.smooth_weight, allow_zero=True)
        check_positive("smooth_after", self.smooth_after, allow_zero=True)
        if self.density is not None:
            check_range("density", self.density, 0.0, 1.0)
        check_positive("budget_scale", self.budget_scale)
        check_choice("readout", self.readout, READOUTS)
        check_positive("knowledge_weight", self.knowledge_weight, allow_zero=True)
        check_positive("checkpoint_every", self.checkpoint_every)


def project_logits(theta: torch.Tensor, budget: float, iters: int = 60) -> torch.Tensor:
    """Shift the logits so that the edge probabilities sum to at most ``budget`` (bisection on
    the shift; the logits stay in ``[-15, 15]`` so that every pair can still be drawn)."""
    theta = theta.clamp(-15.0, 15.0)
    if float(torch.sigmoid(theta).sum()) <= budget:
        return theta
    lo, hi = 0.0, 30.0
    for _ in range(iters):
        mu = (lo + hi) / 2
        if float(torch.sigmoid(theta - mu).sum()) > budget:
            lo = mu
        else:
            hi = mu
    return (theta - hi).clamp(-15.0, 15.0)


class RLGraphMI(BaseAttack):
    """GraphMI's objective under hard-label access, by policy-gradient estimation (Zhang et al.,
    TKDE 2023)."""

    name = "rl-graphmi"
    modality = "graph"
    access = Access.LABEL_ONLY
    paper = "Zhang et al., TKDE 2023"
    summary = "GraphMI with gradients estimated from hard-label queries (policy gradient)"
    Config = RLGraphMIConfig

    def _run(self, view: TargetView, knowledge: Knowledge, seed: int) -> AttackResult:
        cfg: RLGraphMIConfig = self.config
        gk = GraphKnowledge(knowledge)
        why = "RL-GraphMI queries the GNN on graphs among the target nodes"
        dev = devices.attack_device(cfg.device, view)
        x = gk.target_features(why).to(dev)
        density = cfg.density if cfg.density is not None else gk.density("RL-GraphMI's edge budget")
        k = gk.k
        own_labels = gk.has_labels
        label_cost = 0 if own_labels else k
        step_cost = cfg.samples * k
        remaining = view.remaining
        if remaining is not None and remaining < label_cost + step_cost:
            raise ConfigError(
                f"budget: RL-GraphMI needs at least {label_cost + step_cost} queries "
                f"({'' if own_labels else f'{k} for the targets labels, '}{step_cost} per step "
                f"= samples x {k} target nodes); the view has {remaining} left. Raise the budget "
                "or lower config.samples"
            )
        if own_labels:
            y = gk.labels(why).to(dev)
        else:
            y = torch.as_tensor(view(NodeQuery(gk.nodes)), dtype=torch.long, device=dev)
            y = y.reshape(-1)
            if y.numel() != k:
                raise ConfigError(
                    f"view: a NodeQuery of {k} nodes returned {y.numel()} labels; RL-GraphMI "
                    "needs a graph target's label-only view (graph_view(target, 'label-only'))"
                )
        steps = cfg.epochs
        if remaining is not None:
            steps = min(steps, (remaining - label_cost) // step_cost)
        pairs = triu_pairs(k, dev)
        n_pairs = pairs.shape[1]
        budget = cfg.budget_scale * density * n_pairs
        p0 = min(0.5, cfg.init_scale * density)
        logit0 = float(torch.logit(torch.tensor(p0, device="cpu")))
        theta0 = torch.full((n_pairs,), logit0, device=dev)
        gram_diag = (x * x).sum(1)
        gram_pairs = pair_gram(x, pairs)
        gen = torch.Generator().manual_seed(seed)
        i_idx, j_idx = pairs
        stats = {"queries": 0, "error": 0.0}

        def estimate(theta: torch.Tensor, step: int) -> tuple[torch.Tensor, float]:
            a = torch.sigmoid(theta)
            draws = devices.rand(cfg.samples, n_pairs, generator=gen, device=dev) < a
            errors = torch.empty(cfg.samples, k, device=dev)
            for s in range(cfg.samples):
                chosen = pairs[:, draws[s]]
                labels = view(GraphQuery(x, symmetric_edges(chosen)))
                labels = torch.as_tensor(labels, dtype=torch.long, device=dev).reshape(-1)
                errors[s] = (labels != y).float()
            stats["queries"] += cfg.samples * k
            loo = (errors.sum(0, keepdim=True) - errors) / (cfg.samples - 1)
            adv = errors - loo  # (samples, k): each node's error beside the other samples'
            credit = adv[:, i_idx] + adv[:, j_idx]
            grad = (credit * (draws.float() - a)).mean(0)
            err = float(errors.mean())
            stats["error"] = err
            # GraphMI's regularisers: exact gradients, no model involved
            av = a.detach().clone().requires_grad_(True)
            reg = cfg.sparsity_weight * av.norm()
            if cfg.smooth_weight > 0 and step >= cfg.smooth_after:
                reg = reg + cfg.smooth_weight * feature_smoothness(av, pairs, gram_diag, gram_pairs)
            (g_reg,) = torch.autograd.grad(reg, av)
            grad = grad + g_reg * a * (1 - a)
            return grad, err + float(reg.detach())

        run = descend(
            theta0,
            estimate,
            lambda t: project_logits(t, budget),
            steps=steps,
            lr=cfg.lr,
            optimizer="adam",
            checkpoint=cfg.checkpoint,
            checkpoint_every=cfg.checkpoint_every,
            meta={"attack": self.name, "config": cfg, "nodes": gk.nodes, "seed": seed},
            desc="RL-GraphMI",
            progress=cfg.progress,
            state={"sampler": gen},
        )
        a = torch.sigmoid(run.variable)
        relaxed = pairs_to_matrix(a, pairs, k).cpu()  # results live on the CPU
        yc = y.cpu()
        evidence = feature_cosine_scores(x) + (yc[:, None] == yc[None, :]).float()
        evidence.fill_diagonal_(0)
        if cfg.readout == "relaxed":
            scores = relaxed.clone()
        else:
            scores = relaxed / relaxed.max().clamp_min(1e-12) + cfg.knowledge_weight * evidence
        scores.fill_diagonal_(0)
        return self._result(
            scores,
            targets=gk.nodes,
            arrays={
                "relaxed_adjacency": relaxed,
                "knowledge_scores": evidence,
                "predicted": top_m_prediction(scores, round(density * n_pairs)),
            },
            info={
                "pairs": n_pairs,
                "edge_budget": budget,
                "steps": run.steps,
                "steps_asked": cfg.epochs,
                "stopped_by_budget": run.steps < cfg.epochs,
                "query_cost_per_step": step_cost,
                "labels": "knowledge" if own_labels else "queried (the service's predictions)",
                "final_error": stats["error"],
                "readout": cfg.readout,
                "no_model_baseline": "feature-cosine+label" if own_labels else "feature-cosine",
            },
        )
