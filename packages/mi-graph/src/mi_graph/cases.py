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


def no_model_baseline(result: AttackResult) -> str:
    """The no-model baseline built from the knowledge the attack's read-out used (recorded by
    the attack as ``info["no_model_baseline"]``; feature cosine otherwise)."""
    return str(result.info.get("no_model_baseline") or "feature-cosine")


def retrain_case(case: Any, defense: Any, seed: int, *, num_classes: int) -> Any:
    """A shallow copy of a graph case (``graph``, ``model``, ``test_idx``) whose GCN is
    retrained under ``defense``: a training defense with ``fit(model, graph, train_idx, ...)``
    or a data defense transforming ``(edge_index, num_nodes)``. The target then serves the graph
    it was trained on; evaluation keeps the case's true graph."""
    import copy

    from mi_core.errors import NotApplicable
    from mi_graph.data import _data
    from mi_graph.models import build_model
    from mi_graph.training import split_nodes, train_node_classifier

    g = case.graph
    train_idx, val_idx, _ = split_nodes(g.num_nodes, 0.1, 0.1, seed)
    torch.manual_seed(seed)
    model = build_model("gcn", g.x.shape[1], num_classes)
    served = g
    if defense.kind.value == "training" and hasattr(defense, "fit"):
        kwargs: dict[str, Any] = {"seed": seed, "progress": False}
        if "val_idx" in defense.fit.__code__.co_varnames:
            kwargs["val_idx"] = val_idx
        model = defense.fit(model, g, train_idx, **kwargs)
    elif defense.kind.value == "data" and hasattr(defense, "transform"):
        try:
            ei, _ = defense.transform((g.edge_index, g.num_nodes))
        except Exception as exc:  # a data defense for another modality
            raise NotApplicable(
                f"data defense {defense.name!r} does not transform a graph: {exc}"
            ) from exc
        served = _data(x=g.x, edge_index=ei, y=g.y, num_nodes=g.num_nodes)
        train_node_classifier(model, served, seed=seed, progress=False)
    else:
        raise NotApplicable(
            f"case {case.name!r} retrains its GCN under training defenses with fit(model, graph, "
            f"train_idx) or graph data defenses, not {defense.kind.value} defense "
            f"{defense.name!r}"
        )
    out = copy.copy(case)
    out.model = model.eval()
    out.served = served
    out._target = GraphTarget(out.model, served)
    return out


class SBMGCNCase(AuditCase):
    """A two-layer GCN trained (10% labelled nodes) on a 4-block stochastic block model with
    bag-of-words features; the attacker aims at the links among 120 target nodes, knowing all
    node features, the targets' labels and the edge density, and what the service releases
    about the targets on the private graph (node embeddings and posteriors: MC-GRA's priors).
    Training defenses with ``fit(model, graph, train_idx, ...)`` (``dp-gnn``, ``mc-gpb``) and
    graph data defenses (``edge-rand``, ``lap-graph``, ...) retrain the GCN."""

    name = "sbm-gcn"
    modality = "graph"
    description = "GCN on a 400-node stochastic block model; links among 120 target nodes"
    default_cells = (
        CellDefaults("graphmi", "white-box", {"epochs": 60, "smooth_after": 30}),
        CellDefaults("mc-gra", "white-box", {"epochs": 50}),
        CellDefaults("rl-graphmi", "label-only", {"epochs": 30}, budget=200_000),
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
        dev = self.torch_device()  # the audit's device: the GCN is trained and served there
        if path.exists():
            self.model.load_state_dict(load_state_dict(path))
            self.model.to(dev).eval()
            self.test_idx = split_nodes(self.graph.num_nodes, 0.1, 0.1, seed)[2]
        else:
            report = train_node_classifier(
                self.model, self.graph, seed=seed, progress=False, device=dev
            )
            self.test_idx = report.test_idx
            save_state_dict(path, self.model.state_dict())
        self.target_nodes = sample_nodes(self.graph.num_nodes, 120, seed + 1)
        self.served = self.graph  # the graph the service runs on (a data defense changes it)
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
        from mi_graph.attacks.mc_gra import released_outputs

        g = self.graph
        emb, post = released_outputs(self.model, self.served, self.target_nodes)
        return graph_knowledge(
            self.target_nodes,
            features=g.x,
            feature_nodes=torch.arange(g.num_nodes),
            labels=g.y[self.target_nodes],
            density=edge_density(g.edge_index, g.num_nodes),
            embeddings=emb,
            posteriors=post,
        )

    def evaluate(self, result: AttackResult) -> list[Figure]:
        return LinkEvaluator(
            self.graph, baseline=no_model_baseline(result), seed=self.seed
        ).evaluate(result)

    def with_defense(self, defense: Any, workdir: Path, seed: int) -> SBMGCNCase:
        """A copy whose GCN is retrained under a training defense (``defense.fit(model, graph,
        train_idx, ...)``: ``dp-gnn``, ``mc-gpb``) or on the graph a data defense returns
        (``defense.transform((edge_index, num_nodes))``: ``edge-rand``, ``lap-graph``, ...);
        the service then runs on the graph it was trained on, and the attacks are judged
        against the true edges."""
        return retrain_case(self, defense, seed, num_classes=4)

    def utility(self, view: TargetView | None = None) -> dict[str, float]:
        """Test accuracy of the GCN as served (on the graph it serves), or of the labels a
        defended view releases."""
        with torch.no_grad():
            out = torch.as_tensor((view or self._target)(NodeQuery(self.test_idx)))
        pred = out.argmax(1) if out.ndim == 2 else out
        return {"test_accuracy": float((pred == self.graph.y[self.test_idx]).float().mean())}
