"""Built-in audit case for graphs: a GCN serving a synthetic citation-like graph (offline)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from mi_core.audit.case import AuditCase, CellDefaults
from mi_core.io import load_state_dict, save_state_dict
from mi_core.metrics.base import Figure
from mi_core.result import AttackResult
from mi_core.threat import Access, Knowledge
from mi_core.views import TargetInfo, TargetView
from mi_graph.data import edge_density, sample_nodes, sbm_graph
from mi_graph.knowledge import graph_knowledge
from mi_graph.metrics import LinkEvaluator
from mi_graph.targets import GraphTarget, NodeQuery


class SBMGCNCase(AuditCase):
    """A two-layer GCN trained (10% labelled nodes) on a 4-block stochastic block model with
    bag-of-words features; the attacker aims at the links among 120 target nodes, knowing all
    node features, the targets' labels and the edge density."""

    name = "sbm-gcn"
    modality = "graph"
    description = "GCN on a 400-node stochastic block model; links among 120 target nodes"
    default_cells = (
        CellDefaults("graphmi", "white-box", {"epochs": 60, "smooth_after": 30}),
        CellDefaults("link-stealing", "black-box-scores", {"setting": 0}),
        CellDefaults("linkteller", "black-box-scores", {}),
    )
    #: the demo's defense: the service releases only the top posterior of each node (He et al.)
    default_defenses = (("graph-topk", {"k": 1}),)

    def prepare(self, workdir: Path, seed: int) -> None:
        from mi_graph.models import build_model
        from mi_graph.training import split_nodes, train_node_classifier

        workdir.mkdir(parents=True, exist_ok=True)
        self.graph = sbm_graph(seed=seed)
        self.seed = seed
        torch.manual_seed(seed)
        self.model = build_model("gcn", self.graph.x.shape[1], 4)
        path = workdir / f"gcn-seed{seed}.safetensors"
        if path.exists():
            self.model.load_state_dict(load_state_dict(path))
            self.model.eval()
            self.test_idx = split_nodes(self.graph.num_nodes, 0.1, 0.1, seed)[2]
        else:
            report = train_node_classifier(self.model, self.graph, seed=seed, progress=False)
            self.test_idx = report.test_idx
            save_state_dict(path, self.model.state_dict())
        self.target_nodes = sample_nodes(self.graph.num_nodes, 120, seed + 1)
        self._target = GraphTarget(self.model, self.graph)

    def target(self) -> GraphTarget:
        return self._target

    def target_info(self) -> TargetInfo:
        return TargetInfo(modality="graph", num_classes=4)

    def view_kwargs(self, access: Access) -> dict[str, Any]:
        return self._target.view_kwargs()

    def provides(self, access: Access) -> set[str]:
        return {"target_nodes", "feature_nodes", "known_attributes", "target_labels", "density"}

    def knowledge(self, access: Access) -> Knowledge:
        g = self.graph
        return graph_knowledge(
            self.target_nodes,
            features=g.x,
            feature_nodes=torch.arange(g.num_nodes),
            labels=g.y[self.target_nodes],
            density=edge_density(g.edge_index, g.num_nodes),
        )

    def evaluate(self, result: AttackResult) -> list[Figure]:
        # GraphMI's attacker knows the labels too: its no-model baseline uses them
        baseline = "feature-cosine+label" if result.attack == "graphmi" else "feature-cosine"
        return LinkEvaluator(self.graph, baseline=baseline, seed=self.seed).evaluate(result)

    def utility(self, view: TargetView | None = None) -> dict[str, float]:
        """Test accuracy of the GCN, or of the labels a defended view releases."""
        from mi_graph.training import accuracy

        if view is None:
            return {"test_accuracy": accuracy(self.model, self.graph, self.test_idx)}
        out = torch.as_tensor(view(NodeQuery(self.test_idx)))
        pred = out.argmax(1) if out.ndim == 2 else out
        return {"test_accuracy": float((pred == self.graph.y[self.test_idx]).float().mean())}
