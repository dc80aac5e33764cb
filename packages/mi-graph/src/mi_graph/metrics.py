"""Link-recovery metrics over node pairs, and an evaluator that sets them beside baselines.

An attack on the links among ``k`` target nodes returns a symmetric ``(k, k)`` score matrix
(higher = more likely linked). Every figure below is computed over the **unordered pairs**
``i < j`` of distinct target nodes (no diagonal), optionally minus pairs the attacker already
knew (e.g. the partial graph it trained on). Two pair sets are reported:

* **all pairs** (``balanced=False``): every such pair; the positives are the true edges, so AP
  is dominated by the graph's sparsity (on Cora about 0.2% of pairs are edges);
* **balanced** (``balanced=True``): every positive pair plus as many negative pairs drawn
  uniformly without replacement (seeded), the figure averaged over ``draws`` draws. This is the
  AP definition of the GraphMI and LinkTeller code (which draw once).

AUC is the Mann-Whitney probability that a random linked pair outscores a random unlinked one
(ties count one half); it is never flipped when below 0.5 (the link-stealing reference code
does flip it). Precision / recall "at the true density" predict the top ``m`` pairs as edges,
``m`` = the number of true edges among the evaluated pairs, so precision = recall there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from mi_core.errors import MetricError
from mi_core.metrics import average_precision, precision_recall, roc_auc
from mi_core.metrics.base import Figure, register_metric
from mi_core.result import AttackResult
from mi_graph.data import dense_adjacency
from mi_graph.pairs import pairwise_distance


def _square(m: Any, name: str) -> torch.Tensor:
    t = torch.as_tensor(m, device="cpu")
    if t.ndim != 2 or t.shape[0] != t.shape[1]:
        raise MetricError(f"{name}: expected a square (k, k) matrix, got shape {tuple(t.shape)}")
    return t


def pair_vectors(scores: Any, truth: Any, exclude: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """Scores and 0/1 labels of the evaluated pairs ``i < j`` (minus ``exclude``)."""
    s = _square(scores, "scores").double()
    t = _square(truth, "truth").bool()
    if s.shape != t.shape:
        raise MetricError(f"scores {tuple(s.shape)} and truth {tuple(t.shape)} differ in shape")
    keep = torch.triu(torch.ones_like(t), 1)
    if exclude is not None:
        ex = _square(exclude, "exclude").bool()
        keep &= ~(ex | ex.T)
    if not bool(keep.any()):
        raise MetricError("no node pairs are left to evaluate")
    return s[keep].numpy(), t[keep].numpy().astype(np.int64)


def _balanced(fn: Any, s: np.ndarray, t: np.ndarray, draws: int, seed: int) -> float:
    pos = np.flatnonzero(t == 1)
    neg = np.flatnonzero(t == 0)
    if len(pos) == 0 or len(neg) == 0:
        raise MetricError("balanced metrics need both linked and unlinked pairs")
    if len(neg) < len(pos):
        raise MetricError(
            f"balanced sampling needs at least as many unlinked pairs ({len(neg)}) as linked "
            f"pairs ({len(pos)})"
        )
    rng = np.random.default_rng(seed)
    vals = []
    for _ in range(draws):
        idx = np.concatenate([pos, rng.choice(neg, len(pos), replace=False)])
        vals.append(fn(s[idx], t[idx]))
    return float(np.mean(vals))


@register_metric("link_auc", higher_is_better=True, modality="graph", unit_interval=True)
def link_auc(
    scores: Any,
    truth: Any,
    *,
    exclude: Any = None,
    balanced: bool = False,
    draws: int = 10,
    seed: int = 0,
) -> float:
    """AUC of link scores over target-node pairs (all pairs, or balanced; module docstring)."""
    s, t = pair_vectors(scores, truth, exclude)
    return _balanced(roc_auc, s, t, draws, seed) if balanced else roc_auc(s, t)


@register_metric("link_ap", higher_is_better=True, modality="graph", unit_interval=True)
def link_ap(
    scores: Any,
    truth: Any,
    *,
    exclude: Any = None,
    balanced: bool = False,
    draws: int = 10,
    seed: int = 0,
) -> float:
    """Average precision of link scores over target-node pairs (all pairs, or balanced)."""
    s, t = pair_vectors(scores, truth, exclude)
    return _balanced(average_precision, s, t, draws, seed) if balanced else average_precision(s, t)


def top_m_prediction(scores: Any, m: int, exclude: Any = None) -> torch.Tensor:
    """Boolean ``(k, k)`` matrix of the ``m`` highest-scoring pairs ``i < j`` (symmetric); ties
    broken by pair order."""
    s = _square(scores, "scores").double()
    k = s.shape[0]
    iu = torch.triu_indices(k, k, 1, device="cpu")
    v = s[iu[0], iu[1]].clone()
    if exclude is not None:
        ex = _square(exclude, "exclude").bool()
        v[(ex | ex.T)[iu[0], iu[1]]] = -float("inf")
    m = int(max(0, min(m, v.numel())))
    top = (
        torch.topk(v, m, sorted=False).indices
        if m
        else torch.empty(0, dtype=torch.long, device="cpu")
    )
    out = torch.zeros(k, k, dtype=torch.bool, device="cpu")
    out[iu[0, top], iu[1, top]] = True
    return out | out.T


@register_metric(
    "link_precision_at_density", higher_is_better=True, modality="graph", unit_interval=True
)
def precision_at_density(scores: Any, truth: Any, *, exclude: Any = None) -> float:
    """Precision (= recall) when the top-m pairs are called edges, m = the true edge count."""
    s, t = pair_vectors(scores, truth, exclude)
    m = int(t.sum())
    if m == 0:
        raise MetricError("precision at density: the evaluated pairs hold no edge")
    top = np.argsort(-s, kind="mergesort")[:m]
    return float(t[top].sum() / m)


def edge_recovery(predicted: Any, truth: Any, *, exclude: Any = None) -> dict[str, float]:
    """Precision, recall and F1 of a predicted edge set (a boolean ``(k, k)`` matrix)."""
    p, t = pair_vectors(torch.as_tensor(predicted, device="cpu").double(), truth, exclude)
    return precision_recall(p > 0.5, t)


def feature_cosine_scores(x: Any) -> torch.Tensor:
    """Cosine similarity of raw node features: the no-model baseline of link recovery."""
    return 1.0 - pairwise_distance(torch.as_tensor(x, device="cpu").float(), "cosine")


def feature_label_scores(x: Any, y: Any) -> torch.Tensor:
    """Feature cosine plus 1 for equal labels: the no-model baseline of an attacker who knows
    node features *and labels* (GraphMI's knowledge)."""
    yy = torch.as_tensor(y, device="cpu").reshape(-1)
    return feature_cosine_scores(x) + (yy[:, None] == yy[None, :]).float()


def correlation_scores(v: Any) -> torch.Tensor:
    """Minus the correlation distance of rows: LSA2-post / LSA2-attr of LinkTeller [51] (the
    unsupervised link-stealing attack with the correlation distance)."""
    return -pairwise_distance(torch.as_tensor(v, device="cpu").float(), "correlation")


@dataclass
class LinkEvaluator:
    """Figures of a link-recovery result against the private graph, each beside a baseline.

    Args:
        graph: the private graph (``x``, ``edge_index``, ``num_nodes``; ``y`` for the
            feature+label baseline).
        baseline: ``"feature-cosine"`` (raw-feature cosine of the target nodes),
            ``"feature-cosine+label"`` (for attackers who know labels too), or ``None``.
        draws: negative draws of the balanced figures.
        seed: seed of the balanced draws and of the evidence subsample.
        evidence_pairs: at most this many evaluated pairs are kept in ``result.arrays`` by
            :meth:`evaluate` for the report's ROC / PR curves (all linked pairs, then unlinked
            ones drawn uniformly, seeded).
    """

    graph: Any
    baseline: str | None = "feature-cosine"
    draws: int = 10
    seed: int = 0
    evidence_pairs: int = 20_000

    def truth(self, nodes: torch.Tensor) -> torch.Tensor:
        return dense_adjacency(self.graph.edge_index, nodes, int(self.graph.num_nodes))

    def baseline_scores(self, nodes: torch.Tensor) -> torch.Tensor | None:
        if self.baseline is None:
            return None
        x = self.graph.x[nodes]
        if self.baseline == "feature-cosine":
            return feature_cosine_scores(x)
        if self.baseline == "feature-cosine+label":
            return feature_label_scores(x, self.graph.y[nodes])
        raise MetricError(
            f"baseline: unknown value {self.baseline!r}; allowed: 'feature-cosine', "
            "'feature-cosine+label', None"
        )

    def figures(
        self, scores: Any, nodes: Any, *, exclude: Any = None, predicted: Any = None
    ) -> list[Figure]:
        nodes = torch.as_tensor(nodes, dtype=torch.long, device="cpu")
        truth = self.truth(nodes)
        base = self.baseline_scores(nodes)
        name = self.baseline
        labels = pair_vectors(truth.double(), truth, exclude)[1]
        details = {"pairs": len(labels), "edges": int(labels.sum()), "draws": self.draws}
        specs = [
            ("link_auc", lambda s: link_auc(s, truth, exclude=exclude)),
            ("link_ap", lambda s: link_ap(s, truth, exclude=exclude)),
            (
                "link_auc_balanced",
                lambda s: link_auc(
                    s, truth, exclude=exclude, balanced=True, draws=self.draws, seed=self.seed
                ),
            ),
            (
                "link_ap_balanced",
                lambda s: link_ap(
                    s, truth, exclude=exclude, balanced=True, draws=self.draws, seed=self.seed
                ),
            ),
            (
                "link_precision_at_density",
                lambda s: precision_at_density(s, truth, exclude=exclude),
            ),
        ]
        out = []
        for metric, fn in specs:
            out.append(
                Figure(
                    metric=metric,
                    value=fn(scores),
                    higher_is_better=True,
                    baseline=None if base is None else fn(base),
                    baseline_name=name,
                    details=dict(details),
                )
            )
        if predicted is not None:
            pr = edge_recovery(predicted, truth, exclude=exclude)
            base_pr = None
            if base is not None:
                m = int(torch.triu(torch.as_tensor(predicted, device="cpu").bool(), 1).sum())
                base_pr = edge_recovery(top_m_prediction(base, m, exclude), truth, exclude=exclude)
            for metric in ("precision", "recall", "f1"):
                out.append(
                    Figure(
                        metric=f"edge_{metric}",
                        value=pr[metric],
                        higher_is_better=True,
                        baseline=None if base_pr is None else base_pr[metric],
                        baseline_name=None if base_pr is None else f"{name}, same edge count",
                        details=dict(details),
                    )
                )
        return out

    def evidence(
        self, scores: Any, nodes: Any, *, exclude: Any = None
    ) -> tuple[torch.Tensor, torch.Tensor, dict[str, int]]:
        """Scores and 0/1 labels of the evaluated pairs for ROC / PR curves: every linked pair
        plus unlinked pairs drawn uniformly (seeded) up to ``evidence_pairs`` in all (linked
        pairs beyond half of that are drawn too). Returns
        ``(scores, labels, counts)``; the counts say how the sample relates to all pairs, since
        subsampling unlinked pairs raises the precision curve (ROC is unaffected in
        expectation)."""
        nodes = torch.as_tensor(nodes, dtype=torch.long, device="cpu")
        s, t = pair_vectors(scores, self.truth(nodes), exclude)
        pos, neg = np.flatnonzero(t == 1), np.flatnonzero(t == 0)
        rng = np.random.default_rng(self.seed)
        cap = int(self.evidence_pairs)
        if cap < 2:
            raise MetricError(f"evidence_pairs: must be at least 2, got {cap}")
        if len(pos) + len(neg) > cap:
            if len(pos) > cap // 2 and len(neg) > cap - len(pos):
                pos = rng.choice(pos, max(cap // 2, cap - len(neg)), replace=False)
            neg = rng.choice(neg, min(len(neg), cap - len(pos)), replace=False)
        idx = np.sort(np.concatenate([pos, neg]))
        counts = {
            "pairs": len(t),
            "edges": int(t.sum()),
            "kept_pairs": len(idx),
            "kept_edges": len(pos),
        }
        return torch.from_numpy(s[idx]), torch.from_numpy(t[idx]), counts

    def evaluate(self, result: AttackResult) -> list[Figure]:
        """Figures of ``result`` (its ``targets`` are the node ids; pairs the attacker trained
        on, ``result.arrays["known_pairs"]``, are left out). Also stores the report's evidence:
        ``result.arrays["eval_scores"]`` / ``["eval_labels"]`` (a seeded subsample of the
        evaluated pairs, :meth:`evidence`) and ``result.info["eval_pairs"]`` (its counts)."""
        if result.targets is None:
            raise MetricError("result.targets: the target node ids are needed to evaluate")
        exclude = result.arrays.get("known_pairs")
        figures = self.figures(
            result.reconstructions,
            result.targets,
            exclude=exclude,
            predicted=result.arrays.get("predicted"),
        )
        scores, labels, counts = self.evidence(
            result.reconstructions, result.targets, exclude=exclude
        )
        result.arrays["eval_scores"] = scores
        result.arrays["eval_labels"] = labels
        result.info["eval_pairs"] = counts
        return figures
