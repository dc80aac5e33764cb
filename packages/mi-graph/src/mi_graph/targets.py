"""Graph targets: a trained GNN together with the private graph it serves, behind mi-core views.

A node-classification service holds a private graph and answers queries about it. Three query
kinds cover the threat models of the graph attacks (survey Sec. V-B):

* :class:`NodeQuery` (transductive; link stealing [50], released embeddings [48], [49]): the
  outputs of some nodes of the private graph, computed on the whole private graph.
* :class:`FeatureQuery` (inductive; LinkTeller [51]): the attacker sends node ids *with features
  of its choosing*; the service runs the GNN on the private edges among those nodes and returns
  their outputs. Only features can be chosen; edges stay private.
* :class:`GraphQuery` (inverse mapping [49]): the outputs of the GNN on a graph the attacker
  supplies (features and edges), e.g. its auxiliary graph.

:class:`GraphTarget` wraps the user's model and the private graph into one ``nn.Module``: called
with one query it answers it; called like the GNN (``target(x, edge_index, ...)``) it *is* the
GNN, so a white-box view of it hands out the model (weights, gradients) and no edge of the
private graph. Which query kinds a target answers is fixed when it is built (``modes=``).

**What a query costs.** One query is one node output returned: a ``NodeQuery`` of 50 nodes costs
50, a ``FeatureQuery`` over 500 nodes costs 500 (whatever was perturbed), a ``GraphQuery`` costs
the number of nodes of the supplied graph. Pass :func:`graph_query_cost` as ``cost=`` to
:func:`mi_core.make_view` (``graph_view`` does), or a function of your own, e.g. ``lambda q: 1``
to count API calls instead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from mi_core.errors import AccessError, ConfigError
from mi_core.threat import Access
from mi_core.views import TargetInfo, TargetView, make_view

MODES = ("nodes", "features", "graph")
OUTPUTS = ("logits", "embeddings")


@dataclass(frozen=True)
class NodeQuery:
    """Outputs of ``nodes`` (ids of the private graph), computed on the whole private graph."""

    nodes: torch.Tensor

    def __len__(self) -> int:
        return int(torch.as_tensor(self.nodes).numel())


@dataclass(frozen=True)
class FeatureQuery:
    """Outputs of ``nodes`` given attacker-chosen features ``x`` (one row per node), computed on
    the private edges among ``nodes`` (the inductive API of LinkTeller)."""

    nodes: torch.Tensor
    x: torch.Tensor

    def __len__(self) -> int:
        return int(torch.as_tensor(self.nodes).numel())


@dataclass(frozen=True)
class GraphQuery:
    """Outputs of the GNN on a graph the attacker supplies (``x``, ``edge_index``)."""

    x: torch.Tensor
    edge_index: torch.Tensor

    def __len__(self) -> int:
        return int(self.x.shape[0])


def graph_query_cost(query: Any) -> int:
    """Cost of a graph query: the number of node outputs it returns (see module docstring)."""
    if isinstance(query, NodeQuery | FeatureQuery | GraphQuery):
        return len(query)
    raise ConfigError(
        f"query: a graph target takes NodeQuery, FeatureQuery or GraphQuery, got "
        f"{type(query).__name__}"
    )


def _check_nodes(nodes: Any, num_nodes: int, what: str) -> torch.Tensor:
    ids = torch.as_tensor(nodes, dtype=torch.long, device="cpu").reshape(-1)
    if ids.numel() == 0:
        raise ConfigError(f"{what}.nodes: empty; query at least one node")
    if int(ids.min()) < 0 or int(ids.max()) >= num_nodes:
        raise ConfigError(
            f"{what}.nodes: ids must lie in [0, {num_nodes}) (the private graph's nodes)"
        )
    if torch.unique(ids).numel() != ids.numel():
        raise ConfigError(f"{what}.nodes: ids must be distinct")
    return ids


def _private_answerer(
    model: nn.Module,
    x: torch.Tensor,
    edge_index: torch.Tensor,
    num_nodes: int,
    modes: tuple[str, ...],
    release: Callable[..., torch.Tensor],
) -> Callable[[Any], torch.Tensor]:
    """A closure holding the private graph (no attribute of the target leads to it). Queries
    are answered where the model lives: the graph is copied there once per device, and query
    tensors (an attacker's, on the CPU) are moved there."""
    from mi_core.device import module_device

    graph = {"cpu": (x.detach().cpu(), edge_index.detach().cpu())}

    def where() -> tuple[torch.device, torch.Tensor, torch.Tensor]:
        dev = module_device(model) or torch.device("cpu")
        if str(dev) not in graph:
            cx, cei = graph["cpu"]
            graph[str(dev)] = (cx.to(dev), cei.to(dev))
        gx, gei = graph[str(dev)]
        return dev, gx, gei

    def full_outputs() -> torch.Tensor:
        _, gx, gei = where()
        return release(model, gx, gei)

    def answer(query: Any) -> torch.Tensor:
        if isinstance(query, NodeQuery):
            if "nodes" not in modes:
                raise AccessError(_refusal("node", modes))
            ids = _check_nodes(query.nodes, num_nodes, "NodeQuery")
            out = full_outputs()
            return out[ids.to(out.device)]
        if isinstance(query, FeatureQuery):
            if "features" not in modes:
                raise AccessError(_refusal("feature", modes))
            ids = _check_nodes(query.nodes, num_nodes, "FeatureQuery")
            dev, gx, gei = where()
            fx = torch.as_tensor(query.x, dtype=gx.dtype, device=dev)
            if fx.shape != (ids.numel(), x.shape[1]):
                raise ConfigError(
                    f"FeatureQuery.x: expected shape ({ids.numel()}, {x.shape[1]}) (one feature "
                    f"row per queried node), got {tuple(fx.shape)}"
                )
            pos = torch.full((num_nodes,), -1, dtype=torch.long, device=dev)
            pos[ids.to(dev)] = torch.arange(ids.numel(), device=dev)
            u, v = gei
            keep = (pos[u] >= 0) & (pos[v] >= 0)
            sub = torch.stack([pos[u[keep]], pos[v[keep]]])
            return release(model, fx, sub)
        if isinstance(query, GraphQuery):
            if "graph" not in modes:
                raise AccessError(_refusal("graph", modes))
            dev, own_x, _ = where()
            gx = torch.as_tensor(query.x, dtype=own_x.dtype, device=dev)
            gei = torch.as_tensor(query.edge_index, dtype=torch.long, device=dev)
            if gx.ndim != 2 or gx.shape[1] != x.shape[1]:
                raise ConfigError(
                    f"GraphQuery.x: expected (n, {x.shape[1]}) features, got {tuple(gx.shape)}"
                )
            if gei.ndim != 2 or gei.shape[0] != 2:
                raise ConfigError(
                    f"GraphQuery.edge_index: expected shape (2, E), got {tuple(gei.shape)}"
                )
            if gei.numel() and (int(gei.min()) < 0 or int(gei.max()) >= gx.shape[0]):
                raise ConfigError("GraphQuery.edge_index: node ids out of range of GraphQuery.x")
            return release(model, gx, gei)
        raise ConfigError(
            f"query: expected NodeQuery, FeatureQuery or GraphQuery, got {type(query).__name__}"
        )

    return answer


def _refusal(kind: str, modes: tuple[str, ...]) -> str:
    return (
        f"this graph target answers {', '.join(modes)} queries only, not {kind} queries; "
        "build it with GraphTarget(..., modes=(...)) to allow them"
    )


def _release_logits(model: nn.Module, x: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
    return model(x, edge_index)


def _release_embeddings(
    model: nn.Module, x: torch.Tensor, edge_index: torch.Tensor
) -> torch.Tensor:
    embed = getattr(model, "embed", None)
    if embed is None:
        raise ConfigError(
            "output='embeddings': the model has no embed(x, edge_index) method; add one or "
            "release logits"
        )
    return embed(x, edge_index)


def check_graph(x: Any, edge_index: Any, what: str = "graph") -> None:
    """Named errors for a malformed graph: ``x`` must be an (n, d) tensor and
    ``edge_index`` a (2, E) integer tensor of node ids in ``[0, n)``."""
    if not isinstance(x, torch.Tensor) or x.ndim != 2:
        shape = tuple(x.shape) if hasattr(x, "shape") else type(x).__name__
        raise ConfigError(f"{what}.x: expected an (n, d) tensor of node features, got {shape}")
    if not isinstance(edge_index, torch.Tensor):
        raise ConfigError(
            f"{what}.edge_index: expected a (2, E) integer tensor, got {type(edge_index).__name__}"
        )
    if edge_index.ndim != 2 or edge_index.shape[0] != 2:
        hint = (
            " (transpose it: edge_index.T)"
            if edge_index.ndim == 2 and edge_index.shape[1] == 2
            else ""
        )
        raise ConfigError(
            f"{what}.edge_index: expected shape (2, E), got {tuple(edge_index.shape)}{hint}"
        )
    if edge_index.is_floating_point() or edge_index.dtype == torch.bool:
        raise ConfigError(
            f"{what}.edge_index: node ids must be integers, got {edge_index.dtype}; "
            "use edge_index.long()"
        )
    n = int(x.shape[0])
    if edge_index.numel() and (int(edge_index.min()) < 0 or int(edge_index.max()) >= n):
        raise ConfigError(
            f"{what}.edge_index: node ids must lie in [0, {n}) (the rows of {what}.x), got "
            f"[{int(edge_index.min())}, {int(edge_index.max())}]"
        )


class GraphTarget(nn.Module):
    """A GNN serving a private graph.

    Args:
        model: a PyG-style node classifier ``model(x, edge_index[, edge_weight]) -> logits``.
        graph: the private graph (``x``, ``edge_index``, ``num_nodes``; a PyG ``Data``).
        output: what the service releases: ``"logits"`` (views turn them into posteriors with
            ``postprocess="softmax"``) or ``"embeddings"`` (``model.embed(x, edge_index)``).
        modes: the query kinds answered, a subset of ``("nodes", "features", "graph")``.
    """

    #: query types the target takes (views copy their fields into plain tensors)
    mi_query_types = (NodeQuery, FeatureQuery, GraphQuery)

    def __init__(
        self,
        model: nn.Module,
        graph: Any,
        *,
        output: str = "logits",
        modes: tuple[str, ...] = MODES,
    ) -> None:
        super().__init__()
        if not isinstance(model, nn.Module):
            raise ConfigError(f"model: expected a torch.nn.Module, got {type(model).__name__}")
        if output not in OUTPUTS:
            raise ConfigError(f"output: unknown value {output!r}; allowed values: {OUTPUTS}")
        modes = tuple(modes)
        bad = [m for m in modes if m not in MODES]
        if bad or not modes:
            raise ConfigError(f"modes: must be a non-empty subset of {MODES}, got {modes!r}")
        for name in ("x", "edge_index"):
            if getattr(graph, name, None) is None:
                raise ConfigError(f"graph.{name}: the private graph needs it")
        check_graph(graph.x, graph.edge_index, "graph")
        if int(graph.num_nodes) != int(graph.x.shape[0]):
            raise ConfigError(
                f"graph.num_nodes: {int(graph.num_nodes)} nodes, but graph.x has "
                f"{int(graph.x.shape[0])} rows (one feature row per node)"
            )
        self.gnn = model
        self.output = output
        self.modes = modes
        self.num_nodes = int(graph.num_nodes)
        self.num_features = int(graph.x.shape[1])
        release = _release_logits if output == "logits" else _release_embeddings
        self._answer = _private_answerer(
            model, graph.x, graph.edge_index, self.num_nodes, modes, release
        )

    def forward(self, *args: Any, **kwargs: Any) -> torch.Tensor:
        if len(args) == 1 and not kwargs:
            return self._answer(args[0])
        return self.gnn(*args, **kwargs)

    def embed(self, *args: Any, **kwargs: Any) -> torch.Tensor:
        embed = getattr(self.gnn, "embed", None)
        if embed is None:
            raise ConfigError("the wrapped model has no embed() method")
        return embed(*args, **kwargs)

    def view_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for :func:`mi_core.make_view` matching this target's release."""
        return {
            "cost": graph_query_cost,
            "postprocess": "softmax" if self.output == "logits" else None,
        }


def graph_view(
    target: GraphTarget,
    access: Access | str = Access.BLACK_BOX_SCORES,
    *,
    budget: int | None = None,
    num_classes: int | None = None,
) -> TargetView:
    """A view of a :class:`GraphTarget`: black-box views count one query per node output
    (:func:`graph_query_cost`) and release posteriors (or embeddings)."""
    if not isinstance(target, GraphTarget):
        raise ConfigError(
            f"target: expected a GraphTarget(model, graph), got {type(target).__name__}"
        )
    access = Access.parse(access)
    info = TargetInfo(modality="graph", num_classes=num_classes)
    kwargs = target.view_kwargs()
    if access is Access.WHITE_BOX:
        return make_view(target, access, info=info, postprocess=kwargs["postprocess"])
    return make_view(target, access, budget=budget, info=info, **kwargs)


def unwrap_gnn(module: nn.Module) -> nn.Module:
    """The GNN inside a white-box view's module (a :class:`GraphTarget` or a bare model)."""
    return module.gnn if isinstance(module, GraphTarget) else module
