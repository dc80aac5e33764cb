"""Top-k graph posteriors: a GNN service releases only the k largest posteriors of each node.

He et al., "Stealing links from graph neural networks", USENIX Security 2021 (survey [50],
Sec. VI-A): link stealing compares the posteriors of node pairs; keeping only the top-k of each
node removes most of the signal while the predicted label is unchanged. The mechanism is the
top-k of :mod:`mi_defense.output.topk` applied to node posteriors (``(nodes, classes)``).
"""

from __future__ import annotations

from dataclasses import dataclass

from mi_defense.output.topk import TopK, TopKConfig


@dataclass
class GraphTopKConfig(TopKConfig):
    """Attributes:
    k: posteriors kept per node (He et al. evaluate k = 1, 2, 3).
    renormalize: rescale the kept posteriors to sum to one.
    """

    k: int = 2


class GraphTopK(TopK):
    """Release the top-k posteriors of each node (He et al. 2021)."""

    name = "graph-topk"
    modalities = ("graph",)
    paper = "He et al., USENIX Security 2021 (survey [50])"
    summary = "GNN service releases only the k largest posteriors per node"
    Config = GraphTopKConfig
