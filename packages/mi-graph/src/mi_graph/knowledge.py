"""What a graph attacker knows besides the target, in :class:`mi_core.Knowledge` fields.

Link-recovery attacks aim at the links among a set of *target nodes*. The knowledge dimensions of
the survey's graph attacks (Sec. V-B; He et al. 2021 [50] name three of them) map onto
:class:`~mi_core.threat.Knowledge` as follows:

==========================  =============================================  ====================
what                        field                                          used by
==========================  =============================================  ====================
target node ids             ``extra["target_nodes"]`` (k,)                 all
node attributes (F)         ``known_attributes`` (f, d), rows for           GraphMI, link
                            ``extra["feature_nodes"]`` (default: targets)   stealing, LinkTeller
node labels                 ``target_labels`` (k,), one per target node    GraphMI, MC-GRA,
                                                                           RL-GraphMI
node embeddings (H_A)       ``extra["embeddings"]`` (k, h): the target      MC-GRA
                            nodes' hidden representations on the private
                            graph (what a service releasing embeddings
                            gives away)
output posteriors (Y_A)     ``extra["posteriors"]`` (k, c) on the private   MC-GRA
                            graph
partial graph (A*)          ``extra["partial_edges"]`` (2, e) and           link stealing
                            optionally ``extra["partial_non_edges"]``
shadow / auxiliary graph    ``auxiliary`` (a PyG ``Data``)                  link stealing (D'),
(D')                                                                       inverse mapping
edge density prior          ``extra["density"]``                            GraphMI, LinkTeller
==========================  =============================================  ====================

Build it with :func:`graph_knowledge`; attacks read it through :class:`GraphKnowledge`, which
raises a :class:`~mi_core.errors.ConfigError` naming whatever is missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from mi_core.errors import ConfigError
from mi_core.threat import Knowledge


def _ids(value: Any, name: str) -> torch.Tensor:
    ids = torch.as_tensor(value, dtype=torch.long, device="cpu").reshape(-1)
    if ids.numel() == 0:
        raise ConfigError(f"{name}: empty; give at least one node id")
    if int(ids.min()) < 0:
        raise ConfigError(f"{name}: node ids must be non-negative")
    if torch.unique(ids).numel() != ids.numel():
        raise ConfigError(f"{name}: node ids must be distinct")
    return ids


def _pairs(value: Any, name: str) -> torch.Tensor:
    ei = torch.as_tensor(value, dtype=torch.long, device="cpu")
    if ei.ndim != 2 or ei.shape[0] != 2:
        raise ConfigError(f"{name}: expected shape (2, E) of node-id pairs, got {tuple(ei.shape)}")
    return ei


def graph_knowledge(
    target_nodes: Any,
    *,
    features: Any = None,
    feature_nodes: Any = None,
    labels: Any = None,
    partial_edges: Any = None,
    partial_non_edges: Any = None,
    auxiliary: Any = None,
    density: float | None = None,
    query_budget: int | None = None,
    embeddings: Any = None,
    posteriors: Any = None,
) -> Knowledge:
    """:class:`~mi_core.threat.Knowledge` for a graph attack (see the module table).

    Args:
        target_nodes: ids of the nodes whose mutual links are attacked.
        features: known node attributes, one row per ``feature_nodes`` node.
        feature_nodes: ids of the nodes whose attributes are known (default: ``target_nodes``).
        labels: labels of the target nodes (GraphMI).
        partial_edges / partial_non_edges: known links / known non-links, ``(2, e)`` node ids.
        auxiliary: a shadow / auxiliary graph (PyG ``Data``).
        density: the attacker's prior on the edge density ``|E| / (n (n - 1) / 2)``.
        embeddings: the target nodes' node embeddings computed on the private graph (MC-GRA's
            ``H_A``), one row per target node.
        posteriors: the target nodes' output posteriors on the private graph (``Y_A``).
    """
    extra: dict[str, Any] = {"target_nodes": _ids(target_nodes, "target_nodes")}
    if feature_nodes is not None:
        extra["feature_nodes"] = _ids(feature_nodes, "feature_nodes")
    if partial_edges is not None:
        extra["partial_edges"] = _pairs(partial_edges, "partial_edges")
    if partial_non_edges is not None:
        extra["partial_non_edges"] = _pairs(partial_non_edges, "partial_non_edges")
    if density is not None:
        if not 0 < float(density) < 1:
            raise ConfigError(f"density: must lie in (0, 1), got {density!r}")
        extra["density"] = float(density)
    if embeddings is not None:
        extra["embeddings"] = torch.as_tensor(embeddings, device="cpu").detach().float()
    if posteriors is not None:
        extra["posteriors"] = torch.as_tensor(posteriors, device="cpu").detach().float()
    know = Knowledge(
        auxiliary=auxiliary,
        known_attributes=None
        if features is None
        else torch.as_tensor(features, device="cpu").float(),
        target_labels=None
        if labels is None
        else torch.as_tensor(labels, dtype=torch.long, device="cpu"),
        query_budget=query_budget,
        extra=extra,
    )
    GraphKnowledge(know)  # validate shapes now, with errors naming the field
    return know


@dataclass
class GraphKnowledge:
    """Typed, validated access to graph knowledge held in a :class:`~mi_core.threat.Knowledge`."""

    knowledge: Knowledge

    def __post_init__(self) -> None:
        k = self.knowledge
        if "target_nodes" not in k.extra or k.extra["target_nodes"] is None:
            raise ConfigError(
                "knowledge.extra['target_nodes']: graph attacks need the ids of the target "
                "nodes (build the knowledge with mi_graph.knowledge.graph_knowledge)"
            )
        self.nodes = _ids(k.extra["target_nodes"], "knowledge.extra['target_nodes']")
        if len(self.nodes) < 2:
            raise ConfigError("knowledge.extra['target_nodes']: need at least two target nodes")
        fn = k.extra.get("feature_nodes")
        self.feature_nodes = (
            self.nodes if fn is None else _ids(fn, "knowledge.extra['feature_nodes']")
        )
        if k.known_attributes is not None:
            x = torch.as_tensor(k.known_attributes, device="cpu").float()
            if x.ndim != 2 or x.shape[0] != len(self.feature_nodes):
                raise ConfigError(
                    f"knowledge.known_attributes: expected one feature row per feature node "
                    f"({len(self.feature_nodes)}, d), got {tuple(x.shape)}"
                )
            self._x: torch.Tensor | None = x
        else:
            self._x = None
        if k.target_labels is not None:
            y = torch.as_tensor(k.target_labels, dtype=torch.long, device="cpu").reshape(-1)
            if y.numel() != len(self.nodes):
                raise ConfigError(
                    f"knowledge.target_labels: expected one label per target node "
                    f"({len(self.nodes)}), got {y.numel()}"
                )
            self._y: torch.Tensor | None = y
        else:
            self._y = None
        self._rows: dict[str, torch.Tensor] = {}
        for name in ("embeddings", "posteriors"):
            v = k.extra.get(name)
            if v is None:
                continue
            t = torch.as_tensor(v, device="cpu").float()
            if t.ndim != 2 or t.shape[0] != len(self.nodes):
                raise ConfigError(
                    f"knowledge.extra[{name!r}]: expected one row per target node "
                    f"({len(self.nodes)}, d), in target order; got {tuple(t.shape)}"
                )
            self._rows[name] = t

    @property
    def k(self) -> int:
        return len(self.nodes)

    @property
    def has_features(self) -> bool:
        return self._x is not None and bool(torch.isin(self.nodes, self.feature_nodes).all())

    @property
    def has_partial_graph(self) -> bool:
        return self.knowledge.extra.get("partial_edges") is not None

    @property
    def has_auxiliary(self) -> bool:
        return self.knowledge.auxiliary is not None

    def all_features(self, why: str) -> tuple[torch.Tensor, torch.Tensor]:
        """``(feature_nodes, features)``; raises if no attributes are known."""
        if self._x is None:
            raise ConfigError(f"knowledge.known_attributes: {why}, but none were given")
        return self.feature_nodes, self._x

    def target_features(self, why: str) -> torch.Tensor:
        """Feature rows of the target nodes, in target order."""
        fnodes, x = self.all_features(why)
        pos = {int(n): i for i, n in enumerate(fnodes.tolist())}
        missing = [int(n) for n in self.nodes.tolist() if int(n) not in pos]
        if missing:
            raise ConfigError(
                f"knowledge.known_attributes: {why}; features of target nodes {missing[:5]} "
                f"are missing (feature_nodes must contain every target node)"
            )
        return x[torch.tensor([pos[int(n)] for n in self.nodes.tolist()], device="cpu")]

    @property
    def has_labels(self) -> bool:
        return self._y is not None

    def outputs(self, name: str) -> torch.Tensor | None:
        """The target nodes' ``"embeddings"`` or ``"posteriors"`` on the private graph, if
        known."""
        return self._rows.get(name)

    def labels(self, why: str) -> torch.Tensor:
        if self._y is None:
            raise ConfigError(f"knowledge.target_labels: {why}, but none were given")
        return self._y

    def density(self, why: str) -> float:
        d = self.knowledge.extra.get("density")
        if d is None:
            raise ConfigError(
                f"knowledge.extra['density']: {why}; give the attacker's edge-density prior "
                "(graph_knowledge(..., density=...)) or set it in the attack config"
            )
        return float(d)

    def partial_pairs(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Known edges and known non-edges as ``(2, e)`` *positions* among the target nodes;
        pairs touching other nodes are dropped."""
        pos = torch.full((int(self.nodes.max()) + 1,), -1, dtype=torch.long, device="cpu")
        pos[self.nodes] = torch.arange(self.k, device="cpu")

        def local(ei: torch.Tensor) -> torch.Tensor:
            ei = _pairs(ei, "partial graph")
            inside = (ei < len(pos)).all(0)
            ei = ei[:, inside]
            p = pos[ei]
            keep = (p >= 0).all(0) & (p[0] != p[1])
            return p[:, keep]

        edges = self.knowledge.extra.get("partial_edges")
        if edges is None:
            raise ConfigError("knowledge.extra['partial_edges']: no partial graph was given")
        non = self.knowledge.extra.get("partial_non_edges")
        return local(edges), None if non is None else local(non)
