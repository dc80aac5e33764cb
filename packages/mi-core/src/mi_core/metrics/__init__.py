"""Metrics with one API and a declared direction (see :mod:`mi_core.metrics.base`)."""

from mi_core.metrics.base import Figure, MetricSpec, get_metric, list_metrics, register_metric
from mi_core.metrics.classification import (
    eval_accuracy,
    feature_distance,
    knn_distance,
    knn_distances,
    per_class_accuracy,
    prediction_histogram,
)
from mi_core.metrics.ranking import (
    attribute_accuracy,
    average_precision,
    precision_recall,
    roc_auc,
    roc_curve,
)

__all__ = [
    "Figure",
    "MetricSpec",
    "attribute_accuracy",
    "average_precision",
    "eval_accuracy",
    "feature_distance",
    "get_metric",
    "knn_distance",
    "knn_distances",
    "list_metrics",
    "per_class_accuracy",
    "precision_recall",
    "prediction_histogram",
    "register_metric",
    "roc_auc",
    "roc_curve",
]
