"""Metrics on reconstructions judged by a model: evaluation-model accuracy, feature distances.

Survey Sec. IV-A-6: an *evaluation model* of a different architecture, trained on the private
data, classifies the reconstructions; its top-1 / top-5 accuracy on the target classes is the
standard attack figure. Feature distance and KNN distance compare the reconstructions' features
(under the evaluation model's penultimate layer) with the private images of the target class.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from mi_core.errors import MetricError
from mi_core.metrics.base import register_metric

if TYPE_CHECKING:
    import torch


def _as_tensor(x: object, name: str) -> torch.Tensor:
    import torch

    if isinstance(x, torch.Tensor):
        return x.detach()
    try:
        return torch.as_tensor(np.asarray(x))
    except Exception as exc:
        raise MetricError(f"{name}: cannot be turned into a tensor ({exc})") from exc


def _check_pairs(n_recon: int, targets: torch.Tensor) -> None:
    if n_recon == 0:
        raise MetricError("reconstructions: empty; there is nothing to evaluate")
    if targets.shape[0] != n_recon:
        raise MetricError(
            f"targets: {targets.shape[0]} labels for {n_recon} reconstructions; give one label "
            "per reconstruction"
        )


def predict_batched(
    model: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, batch_size: int = 256
) -> torch.Tensor:
    import torch

    with torch.no_grad():
        outs = [model(x[i : i + batch_size]) for i in range(0, x.shape[0], batch_size)]
        return torch.cat(outs)


@register_metric("eval_top1", higher_is_better=True, unit_interval=True)
def eval_accuracy_top1(
    eval_model: Callable[[torch.Tensor], torch.Tensor],
    reconstructions: torch.Tensor,
    targets: object,
) -> float:
    """Top-1 accuracy of the evaluation model on reconstructions (Sec. IV-A-6)."""
    return eval_accuracy(eval_model, reconstructions, targets, ks=(1,))["top1"]


@register_metric("eval_top5", higher_is_better=True, unit_interval=True)
def eval_accuracy_top5(
    eval_model: Callable[[torch.Tensor], torch.Tensor],
    reconstructions: torch.Tensor,
    targets: object,
) -> float:
    """Top-5 accuracy of the evaluation model on reconstructions (Sec. IV-A-6)."""
    return eval_accuracy(eval_model, reconstructions, targets, ks=(5,))["top5"]


def eval_accuracy(
    eval_model: Callable[[torch.Tensor], torch.Tensor],
    reconstructions: object,
    targets: object,
    ks: tuple[int, ...] = (1, 5),
) -> dict[str, float]:
    """Top-k accuracies (``{"top1": ..., "top5": ...}``) of ``eval_model`` on reconstructions.

    Raises:
        MetricError: if k exceeds the number of classes or the inputs do not pair up.
    """
    x = _as_tensor(reconstructions, "reconstructions").float()
    y = _as_tensor(targets, "targets").long().reshape(-1)
    _check_pairs(x.shape[0], y)
    logits = predict_batched(eval_model, x)
    if logits.ndim != 2:
        raise MetricError(f"eval_model: expected (N, classes) outputs, got {tuple(logits.shape)}")
    out: dict[str, float] = {}
    for k in ks:
        if k > logits.shape[1]:
            raise MetricError(
                f"top-{k} accuracy needs at least {k} classes, the model has {logits.shape[1]}"
            )
        top = logits.topk(k, dim=1).indices
        out[f"top{k}"] = float((top == y[:, None]).any(dim=1).float().mean())
    return out


def per_class_accuracy(
    eval_model: Callable[[torch.Tensor], torch.Tensor], reconstructions: object, targets: object
) -> dict[int, float]:
    """Top-1 accuracy per target class."""
    import torch

    x = _as_tensor(reconstructions, "reconstructions").float()
    y = _as_tensor(targets, "targets").long().reshape(-1)
    _check_pairs(x.shape[0], y)
    pred = predict_batched(eval_model, x).argmax(1)
    return {int(c): float((pred[y == c] == c).float().mean()) for c in torch.unique(y)}


def prediction_histogram(
    eval_model: Callable[[torch.Tensor], torch.Tensor], images: object, num_classes: int
) -> list[int]:
    """How many of ``images`` the evaluation model puts in each class (a model that piles random
    samples into one class inflates every accuracy figure)."""
    import torch

    x = _as_tensor(images, "images").float()
    pred = predict_batched(eval_model, x).argmax(1)
    return torch.bincount(pred, minlength=num_classes).tolist()


def _features(feature_fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    f = predict_batched(feature_fn, x)
    return f.reshape(f.shape[0], -1).float()


def _per_class_feature_distances(
    feature_fn: Callable[[torch.Tensor], torch.Tensor],
    reconstructions: object,
    targets: object,
    private_x: object,
    private_y: object,
    reduce: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
) -> float:
    """Mean over reconstructions of ``reduce(recon_features, private_features_of_class)``."""
    import torch

    x = _as_tensor(reconstructions, "reconstructions").float()
    y = _as_tensor(targets, "targets").long().reshape(-1)
    _check_pairs(x.shape[0], y)
    px = _as_tensor(private_x, "private_x").float()
    py = _as_tensor(private_y, "private_y").long().reshape(-1)
    fr, fp = _features(feature_fn, x), _features(feature_fn, px)
    dists = []
    for c in torch.unique(y):
        mask = py == c
        if not bool(mask.any()):
            raise MetricError(f"private_y: class {int(c)} has no private samples to compare with")
        dists.append(reduce(fr[y == c], fp[mask]))
    return float(torch.cat(dists).mean())


def knn_distances(
    feature_fn: Callable[[torch.Tensor], torch.Tensor],
    reconstructions: object,
    targets: object,
    private_x: object,
    private_y: object,
) -> torch.Tensor:
    """Per reconstruction: squared L2 distance of its features to the nearest private sample of
    its target class (the items whose mean is :func:`knn_distance`), in input order."""
    import torch

    x = _as_tensor(reconstructions, "reconstructions").float()
    y = _as_tensor(targets, "targets").long().reshape(-1)
    _check_pairs(x.shape[0], y)
    px = _as_tensor(private_x, "private_x").float()
    py = _as_tensor(private_y, "private_y").long().reshape(-1)
    fr, fp = _features(feature_fn, x), _features(feature_fn, px)
    out = torch.empty(x.shape[0])
    for c in torch.unique(y):
        mask = py == c
        if not bool(mask.any()):
            raise MetricError(f"private_y: class {int(c)} has no private samples to compare with")
        rows = y == c
        out[rows] = (torch.cdist(fr[rows], fp[mask]) ** 2).min(1).values
    return out


@register_metric("feature_distance", higher_is_better=False, unit_interval=False)
def feature_distance(
    feature_fn: Callable[[torch.Tensor], torch.Tensor],
    reconstructions: object,
    targets: object,
    private_x: object,
    private_y: object,
) -> float:
    """Mean squared L2 distance between each reconstruction's features and the centroid of its
    target class's private features (Sec. IV-A-6)."""
    return _per_class_feature_distances(
        feature_fn,
        reconstructions,
        targets,
        private_x,
        private_y,
        lambda fr, fp: ((fr - fp.mean(0)) ** 2).sum(1),
    )


@register_metric("knn_distance", higher_is_better=False, unit_interval=False)
def knn_distance(
    feature_fn: Callable[[torch.Tensor], torch.Tensor],
    reconstructions: object,
    targets: object,
    private_x: object,
    private_y: object,
) -> float:
    """Mean squared L2 distance from each reconstruction's features to the nearest private
    sample of its target class (Sec. IV-A-6, "KNN Dist")."""
    import torch

    return _per_class_feature_distances(
        feature_fn,
        reconstructions,
        targets,
        private_x,
        private_y,
        lambda fr, fp: (torch.cdist(fr, fp) ** 2).min(1).values,
    )
