"""Ranking and decision metrics: AUC, average precision, precision / recall, attribute accuracy.

Definitions (no silent flips): AUC is the probability that a random positive scores above a
random negative (ties count one half), computed exactly from ranks; it is *not* flipped when it
falls below 0.5. Average precision is the step-wise area under the precision-recall curve
(sklearn's definition).
"""

from __future__ import annotations

import numpy as np

from mi_core.errors import MetricError
from mi_core.metrics.base import register_metric


def _binary(scores: object, labels: object) -> tuple[np.ndarray, np.ndarray]:
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    y = np.asarray(labels).reshape(-1)
    if s.shape != y.shape:
        raise MetricError(f"scores and labels differ in length: {s.shape[0]} vs {y.shape[0]}")
    if not np.isfinite(s).all():
        raise MetricError("scores: hold NaN or inf values")
    uniq = np.unique(y)
    if not set(uniq.tolist()) <= {0, 1}:
        raise MetricError(f"labels: must be binary 0/1, got values {uniq[:5].tolist()}")
    y = y.astype(bool)
    if y.all() or (~y).all():
        raise MetricError("labels: AUC / AP need both positives and negatives")
    return s, y


def _rankdata(a: np.ndarray) -> np.ndarray:
    """Average ranks (1-based) with ties sharing the mean rank."""
    order = np.argsort(a, kind="mergesort")
    sa = a[order]
    n = len(a)
    # group ties (vectorised: millions of distinct scores, e.g. all node pairs of a graph)
    boundaries = np.flatnonzero(np.diff(sa)) + 1
    starts = np.concatenate([[0], boundaries])
    ends = np.concatenate([boundaries, [n]])
    ranks = np.empty(n, dtype=np.float64)
    ranks[order] = np.repeat((starts + ends + 1) / 2.0, ends - starts)
    return ranks


@register_metric("auc", higher_is_better=True, unit_interval=True)
def roc_auc(scores: object, labels: object) -> float:
    """Area under the ROC curve (Mann-Whitney form, ties = 1/2); never flipped."""
    s, y = _binary(scores, labels)
    ranks = _rankdata(s)
    n_pos = int(y.sum())
    n_neg = len(y) - n_pos
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


@register_metric("average_precision", higher_is_better=True, unit_interval=True)
def average_precision(scores: object, labels: object) -> float:
    """Average precision: sum over thresholds of (R_n - R_{n-1}) P_n (sklearn's definition)."""
    s, y = _binary(scores, labels)
    order = np.argsort(-s, kind="mergesort")
    s_sorted, y_sorted = s[order], y[order]
    distinct = np.flatnonzero(np.diff(s_sorted)) if len(s_sorted) > 1 else np.array([], int)
    thresh_idx = np.concatenate([distinct, [len(s_sorted) - 1]])
    tps = np.cumsum(y_sorted)[thresh_idx]
    fps = 1 + thresh_idx - tps
    precision = tps / (tps + fps)
    recall = tps / y.sum()
    recall_prev = np.concatenate([[0.0], recall[:-1]])
    return float(np.sum((recall - recall_prev) * precision))


def roc_curve(scores: object, labels: object) -> tuple[np.ndarray, np.ndarray]:
    """False and true positive rates over all thresholds (for ROC plots)."""
    s, y = _binary(scores, labels)
    order = np.argsort(-s, kind="mergesort")
    s_sorted, y_sorted = s[order], y[order]
    distinct = np.flatnonzero(np.diff(s_sorted))
    idx = np.concatenate([distinct, [len(s_sorted) - 1]])
    tps = np.cumsum(y_sorted)[idx]
    fps = 1 + idx - tps
    tpr = np.concatenate([[0.0], tps / y.sum()])
    fpr = np.concatenate([[0.0], fps / (~y).sum()])
    return fpr, tpr


def precision_recall(predicted: object, labels: object) -> dict[str, float]:
    """Precision, recall and F1 of binary decisions.

    Raises:
        MetricError: when nothing is predicted positive (precision undefined) or there are no
            positives (recall undefined).
    """
    p = np.asarray(predicted).reshape(-1).astype(bool)
    y = np.asarray(labels).reshape(-1).astype(bool)
    if p.shape != y.shape:
        raise MetricError(f"predicted and labels differ in length: {p.shape[0]} vs {y.shape[0]}")
    tp = int((p & y).sum())
    if p.sum() == 0:
        raise MetricError("precision is undefined: nothing was predicted positive")
    if y.sum() == 0:
        raise MetricError("recall is undefined: there are no positives")
    precision = tp / int(p.sum())
    recall = tp / int(y.sum())
    f1 = 0.0 if tp == 0 else 2 * precision * recall / (precision + recall)
    return {"precision": precision, "recall": recall, "f1": f1}


@register_metric("precision", higher_is_better=True, unit_interval=True)
def precision(predicted: object, labels: object) -> float:
    """Precision of binary decisions (e.g. recovered edges)."""
    return precision_recall(predicted, labels)["precision"]


@register_metric("recall", higher_is_better=True, unit_interval=True)
def recall(predicted: object, labels: object) -> float:
    """Recall of binary decisions (e.g. recovered edges)."""
    return precision_recall(predicted, labels)["recall"]


@register_metric("attribute_accuracy", higher_is_better=True, unit_interval=True)
def attribute_accuracy(predicted: object, true: object) -> float:
    """Fraction of records whose sensitive attribute was inferred exactly."""
    p = np.asarray(predicted).reshape(-1)
    t = np.asarray(true).reshape(-1)
    if p.shape != t.shape:
        raise MetricError(f"predicted and true differ in length: {p.shape[0]} vs {t.shape[0]}")
    if p.size == 0:
        raise MetricError("attribute_accuracy: no records")
    return float((p == t).mean())
