"""Evaluation of image reconstructions against the private data (which attacks never see).

The figures of survey Sec. IV-A-6, each beside the same figure for a baseline of images the
attacker gets without the model's help (uniform noise, or unoptimized prior samples):
evaluation-model accuracy (top-1 / top-5), feature distance to the class centroid, KNN distance.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from mi_core.errors import MetricError
from mi_core.metrics import (
    eval_accuracy,
    feature_distance,
    knn_distance,
    per_class_accuracy,
    prediction_histogram,
)
from mi_core.metrics.base import Figure
from mi_core.result import AttackResult
from mi_vision.data import class_means


@dataclass
class ImageEvaluator:
    """Judges reconstructions with an evaluation model trained on the private data.

    Args:
        eval_model: a classifier of a different architecture than the target, trained on the
            private data; its ``features`` method (if any) gives the feature space for distances.
        private_x, private_y: the private images and labels (in the target's label space).
        baseline: images for the baseline figure (``None``: uniform noise of the same shape).
        baseline_name: how reports name the baseline.
    """

    eval_model: nn.Module
    private_x: torch.Tensor
    private_y: torch.Tensor
    baseline: torch.Tensor | None = None
    baseline_name: str = "uniform noise images"
    seed: int = 0

    def _features(self) -> Callable[[torch.Tensor], torch.Tensor]:
        feats = getattr(self.eval_model, "features", None)
        if feats is None:
            raise MetricError("eval_model has no features() method; feature distances need one")
        return feats  # type: ignore[no-any-return]

    def _baseline_images(self, like: torch.Tensor) -> torch.Tensor:
        if self.baseline is not None:
            if self.baseline.shape[0] < like.shape[0]:
                raise MetricError(
                    f"baseline: {self.baseline.shape[0]} images for {like.shape[0]} reconstructions"
                )
            return self.baseline[: like.shape[0]]
        g = torch.Generator().manual_seed(self.seed)
        return torch.rand(like.shape, generator=g)

    def evaluate(self, result: AttackResult, *, evidence: bool = True) -> list[Figure]:
        """Figures for ``result``; adds ``class_means`` to ``result.arrays`` for reports."""
        x = result.reconstructions
        y = torch.as_tensor(result.targets, dtype=torch.long)
        if not isinstance(x, torch.Tensor) or x.ndim != 4:
            raise MetricError("reconstructions: expected an image tensor (N, C, H, W)")
        self.eval_model.eval()
        base = self._baseline_images(x)
        k = int(self.private_y.max()) + 1
        ks = (1, 5) if k >= 5 else (1,)
        acc = eval_accuracy(self.eval_model, x, y, ks)
        acc_b = eval_accuracy(self.eval_model, base, y, ks)
        figs = [
            Figure(
                "eval_top1",
                acc["top1"],
                True,
                acc_b["top1"],
                self.baseline_name,
                {
                    "per_class": per_class_accuracy(self.eval_model, x, y),
                    "baseline_histogram": prediction_histogram(self.eval_model, base, k),
                },
            ),
        ]
        if "top5" in acc:
            figs.append(Figure("eval_top5", acc["top5"], True, acc_b["top5"], self.baseline_name))
        feats = getattr(self.eval_model, "features", None)
        if feats is not None:
            args = (self.private_x, self.private_y)
            figs.append(
                Figure(
                    "feature_distance",
                    feature_distance(feats, x, y, *args),
                    False,
                    feature_distance(feats, base, y, *args),
                    self.baseline_name,
                )
            )
            figs.append(
                Figure(
                    "knn_distance",
                    knn_distance(feats, x, y, *args),
                    False,
                    knn_distance(feats, base, y, *args),
                    self.baseline_name,
                )
            )
        if evidence:
            result.arrays["class_means"] = class_means(self.private_x, self.private_y, y)
        return figs
