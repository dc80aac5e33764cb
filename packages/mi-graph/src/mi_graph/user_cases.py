"""``graph-model``: audit your own GNN node classifier for link inference (``mi audit``; see
the root README; ``mi list cases --options graph-model`` lists the options).

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
Everything is checked when the audit file is read: the graph loads, the model imports and is
built, the checkpoint's names and shapes match it, and the model answers the graph.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from mi_core.audit.case import AuditCase
from mi_core.audit.imports import build_module, load_object, option_path
from mi_core.config import build_config
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


@dataclass
class GraphModelOptions:
    """Options of the ``graph-model`` case (``[targets.options]``).

    Attributes:
        model: import path ``package.module:attribute`` of an ``nn.Module`` class (or a
            function returning one) computing ``model(x, edge_index)``, called with
            ``model_kwargs``.
        graph: the private graph: a CSR ``.npz`` (the layout of ``mi_graph.data.load_npz``) or
            an import path ``"pkg.mod:graph"`` to a PyG ``Data`` (or a function returning one).
        model_kwargs: keyword arguments for the class or function ``model`` names.
        checkpoint: the model's weights: ``.safetensors`` or a torch state-dict file (read with
            ``weights_only=True``); its names and shapes must match the model's.
        target_nodes: how many nodes to attack (drawn with the audit's seed); the links among
            them are inferred.
        output: what the service releases per node: ``logits`` or ``embeddings``.
        labels_known: whether the attacker knows the target nodes' labels (GraphMI uses them).
    """

    model: str
    graph: str
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    checkpoint: str | None = None
    target_nodes: int = 100
    output: str = "logits"
    labels_known: bool = True

    def __post_init__(self) -> None:
        if self.target_nodes < 2:
            raise ConfigError(
                f"target_nodes: how many nodes to attack (>= 2), got {self.target_nodes!r}"
            )
        if self.output not in OUTPUTS:
            raise ConfigError(
                f"output: one of {OUTPUTS} (what the service releases), got {self.output!r}"
            )
        if not self.graph.endswith(".npz") and ":" not in self.graph:
            raise ConfigError(
                f"graph: a CSR .npz file or an import path 'pkg.mod:graph', got {self.graph!r}"
            )


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
    Options = GraphModelOptions

    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> GraphModelCase:
        """Check the options, load the graph and build the model now (the file's read)."""
        given = {k: v for k, v in options.items() if v is not None}
        o = build_config(GraphModelOptions, given, where="targets.options")
        if o.graph.endswith(".npz"):
            option_path(given, "graph", (".npz",))
        option_path(given, "checkpoint", (".safetensors", ".pt", ".pth", ".bin"))
        case = cls(given)
        try:
            case.graph = load_graph(o.graph)
        except ConfigError:
            raise
        except Exception as exc:
            raise ConfigError(
                f"targets.options.graph: cannot load {o.graph!r} ({type(exc).__name__}: {exc})"
            ) from None
        if o.target_nodes > case.graph.num_nodes:
            raise ConfigError(
                f"targets.options.target_nodes: {o.target_nodes} exceeds the graph's "
                f"{case.graph.num_nodes} nodes"
            )
        case.model = build_module(o.model, o.checkpoint, o.model_kwargs, "targets.options.model")
        case._check_outputs(o)
        return case

    def _check_outputs(self, o: GraphModelOptions) -> None:
        """The model answers the graph with one row per node (and, for logits, a column per
        class of the graph's labels)."""
        g = self.graph
        try:
            with torch.no_grad():
                out = self.model(g.x, g.edge_index)
        except Exception as exc:
            raise ConfigError(
                f"targets.options.model: the model fails on the graph ({g.num_nodes} nodes, "
                f"{g.x.shape[1]} features): {type(exc).__name__}: "
                f"{str(exc).splitlines()[0][:200] if str(exc) else ''}; check model_kwargs"
            ) from None
        if not isinstance(out, torch.Tensor) or out.ndim != 2 or out.shape[0] != g.num_nodes:
            got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            raise ConfigError(
                f"targets.options.model: expected one output row per node ({g.num_nodes}, d), "
                f"got {got}"
            )
        y = getattr(g, "y", None)
        if o.output == "logits" and y is not None and int(y.max()) >= out.shape[1]:
            raise ConfigError(
                f"targets.options.model: the model gives {out.shape[1]} scores per node but the "
                f"graph's labels go up to {int(y.max())}; check model_kwargs (num_classes)"
            )

    def provides(self, access: Access) -> set[str]:
        have = {"target_nodes", "feature_nodes", "known_attributes", "density"}
        if self.options.get("labels_known", True) and getattr(self.graph, "y", None) is not None:
            have.add("target_labels")
        return have

    def prepare(self, workdir: Path, seed: int) -> None:
        o = self.options
        self.seed = seed
        count = o.get("target_nodes", 100)
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
