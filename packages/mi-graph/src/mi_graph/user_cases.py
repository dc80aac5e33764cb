"""``graph-model``: audit your own GNN node classifier for link inference (``mi audit``; see
the root README).

    [[targets]]
    case = "graph-model"
    access = ["white-box", "black-box-scores"]
    [targets.options]
    model = "mypkg.models:GCN"            # a class or factory returning model(x, edge_index)
    model_kwargs = {in_channels = 1433, num_classes = 7}
    checkpoint = "gcn.safetensors"        # or a torch state-dict file (weights_only=True)
    graph = "cora.npz"                    # CSR npz (mi_graph.data.load_npz) or "pkg.mod:fn"
    target_nodes = 200                    # links among this many nodes (drawn, seeded)

The service answers node queries on the private graph (:class:`~mi_graph.targets.GraphTarget`);
the attacker knows every node's features, the target nodes' labels and the edge density, and
what the service gives away about the target nodes on the private graph (their embeddings and
posteriors: MC-GRA's priors; the embeddings are left out when the model has no ``embed`` method
and no PyG message-passing layer); the evaluator (:class:`~mi_graph.metrics.LinkEvaluator`)
scores the recovered links against the private edges, beside the no-model baseline built from
the knowledge the attack's read-out used (feature cosine, plus label agreement for attacks that
use the labels), as in ``sbm-gcn``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from mi_core.audit.case import AuditCase
from mi_core.audit.imports import build_module, check_options, load_object, option_path
from mi_core.errors import ConfigError
from mi_core.metrics.base import Figure
from mi_core.result import AttackResult
from mi_core.threat import Access, Knowledge
from mi_core.views import TargetInfo, TargetView
from mi_graph.cases import no_model_baseline
from mi_graph.data import _data, clean_edge_index, edge_density, load_npz, sample_nodes
from mi_graph.knowledge import graph_knowledge
from mi_graph.metrics import LinkEvaluator
from mi_graph.targets import OUTPUTS, GraphTarget, NodeQuery

REQUIRED = ("model", "graph")
OPTIONAL = ("model_kwargs", "checkpoint", "target_nodes", "output", "labels_known")


def load_graph(spec: str) -> Any:
    """The private graph named by ``targets.options.graph``: a CSR ``.npz`` file or an import
    path to a PyG ``Data`` (or a function returning one), with its edges made undirected."""
    where = "targets.options.graph"
    if spec.endswith(".npz"):
        graph = load_npz(spec)
    else:
        graph = load_object(spec, where)
        graph = graph() if callable(graph) and not hasattr(graph, "edge_index") else graph
    for name in ("x", "edge_index"):
        if getattr(graph, name, None) is None:
            raise ConfigError(f"{where}: {spec!r} gave a graph without {name!r}")
    n = int(graph.num_nodes)
    out = _data(
        x=torch.as_tensor(graph.x).float(),
        edge_index=clean_edge_index(graph.edge_index, n),
        y=getattr(graph, "y", None),
        num_nodes=n,
    )
    if getattr(graph, "test_mask", None) is not None:
        out.test_mask = graph.test_mask
    return out


class GraphModelCase(AuditCase):
    """A user's GNN serving their private graph, audited for the links among target nodes."""

    name = "graph-model"
    modality = "graph"
    description = "your own GNN on your graph (options: model, checkpoint, graph, target_nodes)"

    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> GraphModelCase:
        check_options(options, cls.name, REQUIRED, OPTIONAL)
        count = options.get("target_nodes", 100)
        if not isinstance(count, int) or count < 2:
            raise ConfigError(
                f"targets.options.target_nodes: how many nodes to attack (>= 2), got {count!r}"
            )
        if options.get("output", "logits") not in OUTPUTS:
            raise ConfigError(
                f"targets.options.output: one of {OUTPUTS} (what the service releases), got "
                f"{options['output']!r}"
            )
        if not isinstance(options.get("labels_known", True), bool):
            raise ConfigError("targets.options.labels_known: true or false")
        if not isinstance(options.get("model_kwargs", {}), dict):
            raise ConfigError("targets.options.model_kwargs: must be a table of keyword arguments")
        graph = options["graph"]
        if not isinstance(graph, str) or (not graph.endswith(".npz") and ":" not in graph):
            raise ConfigError(
                f"targets.options.graph: a CSR .npz file or an import path 'pkg.mod:graph', "
                f"got {graph!r}"
            )
        if graph.endswith(".npz"):
            option_path(options, "graph", (".npz",))
        option_path(options, "checkpoint", (".safetensors", ".pt", ".pth", ".bin"))
        return cls(dict(options))

    def prepare(self, workdir: Path, seed: int) -> None:
        o = self.options
        self.seed = seed
        self.graph = load_graph(o["graph"])
        count = o.get("target_nodes", 100)
        if count > self.graph.num_nodes:
            raise ConfigError(
                f"targets.options.target_nodes: {count} exceeds the graph's "
                f"{self.graph.num_nodes} nodes"
            )
        self.model = build_module(
            o["model"], o.get("checkpoint"), o.get("model_kwargs"), "targets.options.model"
        )
        self.target_nodes = sample_nodes(self.graph.num_nodes, count, seed + 1)
        self._target = GraphTarget(self.model, self.graph, output=o.get("output", "logits"))
        self.labels_known = o.get("labels_known", True) and self.graph.y is not None

    def target(self) -> GraphTarget:
        return self._target

    def target_info(self) -> TargetInfo:
        y = self.graph.y
        return TargetInfo(modality="graph", num_classes=None if y is None else int(y.max()) + 1)

    def view_kwargs(self, access: Access) -> dict[str, Any]:
        return self._target.view_kwargs()

    def knowledge(self, access: Access) -> Knowledge:
        from mi_graph.attacks.mc_gra import released_outputs

        g = self.graph
        try:
            emb, post = released_outputs(self.model, g, self.target_nodes)
        except ConfigError:  # no embed() and no message-passing layer: no embeddings to give
            emb, post = None, None
        return graph_knowledge(
            self.target_nodes,
            features=g.x,
            feature_nodes=torch.arange(g.num_nodes),
            labels=g.y[self.target_nodes] if self.labels_known else None,
            density=edge_density(g.edge_index, g.num_nodes),
            embeddings=emb,
            posteriors=post,
        )

    def evaluate(self, result: AttackResult) -> list[Figure]:
        # an attacker who uses the labels is compared with a baseline that uses them too
        return LinkEvaluator(
            self.graph, baseline=no_model_baseline(result), seed=self.seed
        ).evaluate(result)

    def utility(self, view: TargetView | None = None) -> dict[str, float]:
        """Accuracy on the graph's ``test_mask`` nodes (all nodes when it has none)."""
        y = self.graph.y
        if y is None or self._target.output != "logits":
            return {}
        mask = getattr(self.graph, "test_mask", None)
        idx = torch.arange(self.graph.num_nodes) if mask is None else torch.nonzero(mask).flatten()
        with torch.no_grad():
            out = torch.as_tensor((view or self._target)(NodeQuery(idx)))
        pred = out.argmax(1) if out.ndim == 2 else out
        key = "test_accuracy" if mask is not None else "accuracy_all_nodes"
        return {key: float((pred == y[idx]).float().mean())}
