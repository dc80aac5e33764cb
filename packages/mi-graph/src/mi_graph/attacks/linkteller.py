"""LinkTeller: recover private edges by influence analysis through feature perturbation.

Wu, Long, Zhang, Li, "LinkTeller: Recovering private edges from graph neural networks via
influence analysis", IEEE S&P 2022 (survey Sec. V-B-3, [51]). Inductive black-box setting: the
graph owner runs the GNN on its private edges; the attacker supplies the node features of the
inference nodes and reads their posteriors (:class:`~mi_graph.targets.FeatureQuery`). If ``u``
and ``v`` are linked, perturbing ``x_u`` moves ``v``'s posterior. For each target node ``u`` the
attack sends one query with ``x_u`` scaled by ``(1 + delta)`` and scores

    I(u, v) = || P(X + delta e_u x_u) [v] - P(X) [v] || / delta

(the paper's influence value, a finite difference of the posterior of ``v`` in the direction of
``x_u``), then symmetrises ``I`` (``mean`` of both directions by default). Given a density prior
it predicts the top ``density * pairs`` pairs as edges (the paper's evaluation at a density
belief).

Cost: ``k + 1`` feature queries over the query nodes (``knowledge.extra["feature_nodes"]``,
default the target nodes), each returning one posterior per query node.

Baselines of the paper: LSA2-{post, attr}, the unsupervised link-stealing attack with the
correlation distance on the unperturbed posteriors or on the features
(:func:`mi_graph.metrics.correlation_scores`); the result keeps the unperturbed posteriors of the
target nodes in ``arrays["posteriors"]`` so they cost no further query.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

from mi_core import device as devices
from mi_core.attack import BaseAttack
from mi_core.config import check_choice, check_positive, check_range
from mi_core.errors import ConfigError
from mi_core.loop import ResumableLoop, TensorState
from mi_core.result import AttackResult
from mi_core.threat import Access, Knowledge
from mi_core.views import TargetView
from mi_graph.knowledge import GraphKnowledge
from mi_graph.metrics import top_m_prediction
from mi_graph.targets import FeatureQuery


@dataclass
class LinkTellerConfig:
    """Attributes:
    delta: relative feature perturbation (the paper's influence step).
    symmetric: how ``I(u, v)`` and ``I(v, u)`` combine: ``mean``, ``max`` or ``min``.
    density: density prior for the predicted edge set; ``None`` takes
        ``knowledge.extra["density"]`` if given, else no edge set is predicted.
    checkpoint: file to checkpoint the influence matrix to / resume from.
    device: checked like every attack's, for one interface: the queries run where the target
        lives, and LinkTeller's own arithmetic (one difference of outputs per query) runs on
        the CPU, where its results live.
    """

    delta: float = 1e-3
    symmetric: Literal["mean", "max", "min"] = "mean"
    density: float | None = None
    checkpoint: str | None = None
    checkpoint_every: int = 100
    progress: bool = True
    device: str = "auto"

    def __post_init__(self) -> None:
        devices.check_device(self.device)
        check_positive("delta", self.delta)
        check_choice("symmetric", self.symmetric, ("mean", "max", "min"))
        if self.density is not None:
            check_range("density", self.density, 0.0, 1.0)
        check_positive("checkpoint_every", self.checkpoint_every)


class LinkTeller(BaseAttack):
    """Influence analysis by feature perturbation (Wu et al. 2022)."""

    name = "linkteller"
    modality = "graph"
    access = Access.BLACK_BOX_SCORES
    paper = "Wu et al., IEEE S&P 2022"
    summary = "influence of a node's features on another's posterior reveals their edge"
    Config = LinkTellerConfig
    requires = ("target_nodes", "known_attributes")

    def _run(self, view: TargetView, knowledge: Knowledge, seed: int) -> AttackResult:
        cfg: LinkTellerConfig = self.config
        gk = GraphKnowledge(knowledge)
        qnodes, qx = gk.all_features("LinkTeller queries the model with node features")
        pos = {int(n): i for i, n in enumerate(qnodes.tolist())}
        missing = [int(n) for n in gk.nodes.tolist() if int(n) not in pos]
        if missing:
            raise ConfigError(
                f"knowledge.extra['feature_nodes']: LinkTeller perturbs the features of every "
                f"target node, but target nodes {missing[:5]} have no known features"
            )
        devices.attack_device(cfg.device, view)  # refuses an unavailable device
        rows = torch.tensor([pos[int(n)] for n in gk.nodes.tolist()], device="cpu")
        base = torch.as_tensor(view(FeatureQuery(qnodes, qx)), device="cpu").float()
        if base.ndim != 2 or base.shape[0] != len(qnodes):
            raise ConfigError(
                f"view: expected ({len(qnodes)}, classes) outputs for a feature query, got "
                f"{tuple(base.shape)}"
            )
        base_t = base[rows]
        k = gk.k
        influence = torch.zeros(k, k, device="cpu")
        state = TensorState(influence=influence)
        loop = ResumableLoop(
            k,
            state={"attack": state},
            checkpoint=cfg.checkpoint,
            every=cfg.checkpoint_every,
            meta={"attack": self.name, "config": cfg, "nodes": gk.nodes, "seed": seed},
            desc="LinkTeller",
            progress=cfg.progress,
        )
        for a in loop:
            x = qx.clone()
            x[rows[a]] = x[rows[a]] * (1.0 + cfg.delta)
            out = torch.as_tensor(view(FeatureQuery(qnodes, x)), device="cpu").float()
            influence[a] = (out[rows] - base_t).norm(dim=1) / cfg.delta
        influence.fill_diagonal_(0)
        if cfg.symmetric == "mean":
            scores = (influence + influence.T) / 2
        elif cfg.symmetric == "max":
            scores = torch.maximum(influence, influence.T)
        else:
            scores = torch.minimum(influence, influence.T)
        density = cfg.density
        if density is None:
            density = knowledge.extra.get("density")
        arrays = {"influence": influence, "posteriors": base_t}
        if density is not None:
            arrays["predicted"] = top_m_prediction(scores, round(density * k * (k - 1) / 2))
        return self._result(
            scores,
            targets=gk.nodes,
            arrays=arrays,
            info={"query_nodes": len(qnodes), "queries_sent": k + 1, "density_prior": density},
        )
