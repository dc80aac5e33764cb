"""Attribute-inference metrics: accuracy, balanced accuracy, per-class precision / recall, AUC
(binary attributes), and the G-mean and Matthews correlation that Mehnaz et al. (USENIX
Security 2022) recommend when the attribute is unbalanced (accuracy rewards always guessing the
majority value). Each raises :class:`~mi_core.errors.MetricError` when it cannot be computed.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mi_core.errors import MetricError
from mi_core.metrics import attribute_accuracy, roc_auc
from mi_core.metrics.base import register_metric


def _pair(pred: Any, true: Any) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(pred, dtype=np.int64).reshape(-1)
    t = np.asarray(true, dtype=np.int64).reshape(-1)
    if p.shape != t.shape:
        raise MetricError(f"predicted and true differ in length: {p.shape[0]} vs {t.shape[0]}")
    if p.size == 0:
        raise MetricError("no records to evaluate")
    return p, t


def per_class(pred: Any, true: Any, k: int) -> dict[int, dict[str, float | None]]:
    """Precision, recall and support per value code (``None`` where undefined)."""
    p, t = _pair(pred, true)
    out: dict[int, dict[str, float | None]] = {}
    for c in range(k):
        tp = int(((p == c) & (t == c)).sum())
        n_pred, n_true = int((p == c).sum()), int((t == c).sum())
        out[c] = {
            "precision": tp / n_pred if n_pred else None,
            "recall": tp / n_true if n_true else None,
            "support": n_true,
        }
    return out


@register_metric("balanced_accuracy", higher_is_better=True, modality="tabular", unit_interval=True)
def balanced_accuracy(pred: Any, true: Any) -> float:
    """Mean recall over the attribute values present in ``true``."""
    p, t = _pair(pred, true)
    recalls = [float((p[t == c] == c).mean()) for c in np.unique(t)]
    return float(np.mean(recalls))


@register_metric("g_mean", higher_is_better=True, modality="tabular", unit_interval=True)
def g_mean(pred: Any, true: Any) -> float:
    """Geometric mean of the recalls of the values present (Mehnaz et al. 2022)."""
    p, t = _pair(pred, true)
    recalls = [float((p[t == c] == c).mean()) for c in np.unique(t)]
    return float(np.prod(recalls) ** (1.0 / len(recalls)))


@register_metric("mcc", higher_is_better=True, modality="tabular", unit_interval=True)
def mcc(pred: Any, true: Any) -> float:
    """Matthews correlation coefficient (multi-class form, Gorodkin 2004).

    Raises:
        MetricError: when the predictions or the truth hold a single value (undefined).
    """
    p, t = _pair(pred, true)
    k = int(max(p.max(), t.max())) + 1
    c = np.zeros((k, k))
    np.add.at(c, (t, p), 1.0)
    s = c.sum()
    correct = np.trace(c)
    tk, pk = c.sum(axis=1), c.sum(axis=0)
    den = np.sqrt(s * s - pk @ pk) * np.sqrt(s * s - tk @ tk)
    if den == 0:
        raise MetricError("mcc is undefined when predictions or truth hold a single value")
    return float((correct * s - tk @ pk) / den)


def summarize(
    codes: np.ndarray, true: np.ndarray, proba: np.ndarray | None, k: int
) -> dict[str, Any]:
    """Every figure of one predictor on one set of records (``None`` where undefined)."""
    out: dict[str, Any] = {
        "n": len(true),
        "accuracy": attribute_accuracy(codes, true),
        "balanced_accuracy": balanced_accuracy(codes, true),
        "g_mean": g_mean(codes, true),
    }
    try:
        out["mcc"] = mcc(codes, true)
    except MetricError:
        out["mcc"] = None
    out["auc"] = None
    if k == 2 and proba is not None:
        try:
            out["auc"] = roc_auc(np.asarray(proba)[:, 1], (np.asarray(true) == 1).astype(int))
        except MetricError:
            out["auc"] = None
    out["per_class"] = per_class(codes, true, k)
    return out
