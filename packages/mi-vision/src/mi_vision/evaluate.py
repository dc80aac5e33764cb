"""Evaluation of image reconstructions against the private data (which attacks never see).

The figures of survey Sec. IV-A-6, each beside the same figure for a baseline of images the
attacker gets without the model's help (unoptimised prior samples when the result carries them,
else uniform noise): evaluation-model accuracy (top-1 / top-5, overall and per class, with the
evaluation model's prediction histogram on the baseline), feature distance to the class
centroid, KNN distance, PSNR / SSIM to the nearest private image of the class, precision /
recall / density / coverage, and the Fréchet distance on evaluation-model features.
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
from mi_core.metrics.classification import predict_batched
from mi_core.result import AttackResult
from mi_vision.data import class_means
from mi_vision.metrics import fid_eval_features, prdc_per_class, psnr_nearest, ssim_nearest


def per_class_topk(
    eval_model: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, y: torch.Tensor, k: int
) -> dict[int, float]:
    """Top-k accuracy of the evaluation model per target class."""
    top = predict_batched(eval_model, x.float()).topk(k, dim=1).indices
    hit = (top == y[:, None]).any(1).float()
    return {int(c): float(hit[y == c].mean()) for c in torch.unique(y)}


@dataclass
class ImageEvaluator:
    """Judges reconstructions with an evaluation model trained on the private data.

    Args:
        eval_model: a classifier of a different architecture than the target, trained on the
            private data; its ``features`` method (if any) gives the feature space for distances,
            diversity and FID.
        private_x, private_y: the private images and labels (in the target's label space).
        baseline: images for the baseline figures (``None``: the result's unoptimised prior
            samples ``arrays["prior_samples"]`` if present, else uniform noise).
        pixel: add PSNR / SSIM to the nearest private image of the class.
        diversity: add precision / recall / density / coverage (``None``: when every class has
            more than ``k`` reconstructions).
        fid: add the Fréchet distance on evaluation-model features (``None``: when there are at
            least two reconstructions).
    """

    eval_model: nn.Module
    private_x: torch.Tensor
    private_y: torch.Tensor
    baseline: torch.Tensor | None = None
    baseline_name: str = "uniform noise images"
    seed: int = 0
    pixel: bool = True
    diversity: bool | None = None
    fid: bool | None = None
    k: int = 3

    def _baseline_images(
        self, result: AttackResult, like: torch.Tensor
    ) -> tuple[torch.Tensor, str]:
        base, name = self.baseline, self.baseline_name
        if base is None and isinstance(result.arrays.get("prior_samples"), torch.Tensor):
            base, name = result.arrays["prior_samples"], "unoptimized prior samples"
        if base is not None:
            if base.shape[0] < like.shape[0]:
                raise MetricError(
                    f"baseline: {base.shape[0]} images for {like.shape[0]} reconstructions"
                )
            return base[: like.shape[0]].float(), name
        g = torch.Generator().manual_seed(self.seed)
        return torch.rand(like.shape, generator=g), name

    def evaluate(self, result: AttackResult, *, evidence: bool = True) -> list[Figure]:
        """Figures for ``result``; adds ``class_means`` to ``result.arrays`` for reports."""
        x = result.reconstructions
        y = torch.as_tensor(result.targets, dtype=torch.long)
        if not isinstance(x, torch.Tensor) or x.ndim != 4:
            raise MetricError("reconstructions: expected an image tensor (N, C, H, W)")
        self.eval_model.eval()
        base, bname = self._baseline_images(result, x)
        k = int(self.private_y.max()) + 1
        ks = (1, 5) if k > 5 else (1,)  # top-5 of 5 classes is 1 by construction
        acc = eval_accuracy(self.eval_model, x, y, ks)
        acc_b = eval_accuracy(self.eval_model, base, y, ks)
        details = {
            "per_class": per_class_accuracy(self.eval_model, x, y),
            "baseline_per_class": per_class_accuracy(self.eval_model, base, y),
            "histogram": prediction_histogram(self.eval_model, x, k),
            "baseline_histogram": prediction_histogram(self.eval_model, base, k),
        }
        figs = [Figure("eval_top1", acc["top1"], True, acc_b["top1"], bname, details)]
        if "top5" in acc:
            figs.append(
                Figure(
                    "eval_top5",
                    acc["top5"],
                    True,
                    acc_b["top5"],
                    bname,
                    {"per_class": per_class_topk(self.eval_model, x, y, 5)},
                )
            )
        px, py = self.private_x, self.private_y
        feats = getattr(self.eval_model, "features", None)
        if feats is not None:
            for name, fn in (
                ("feature_distance", feature_distance),
                ("knn_distance", knn_distance),
            ):
                figs.append(
                    Figure(name, fn(feats, x, y, px, py), False, fn(feats, base, y, px, py), bname)
                )
        if self.pixel:
            for name, fn in (("psnr", psnr_nearest), ("ssim", ssim_nearest)):
                figs.append(Figure(name, fn(x, y, px, py), True, fn(base, y, px, py), bname))
        counts = torch.bincount(y)
        enough = bool((counts[counts > 0] > self.k).all())
        if feats is not None and (self.diversity or (self.diversity is None and enough)):
            d = prdc_per_class(feats, x, y, px, py, self.k)
            db = prdc_per_class(feats, base, y, px, py, self.k)
            for name in ("precision", "recall", "density", "coverage"):
                figs.append(Figure(f"prdc_{name}", d[name], True, db[name], bname, {"k": self.k}))
        if feats is not None and (self.fid or (self.fid is None and x.shape[0] >= 2)):
            figs.append(
                Figure(
                    "fid_eval_features",
                    fid_eval_features(feats, x, px[torch.isin(py, y)]),
                    False,
                    fid_eval_features(feats, base, px[torch.isin(py, y)]),
                    bname,
                    {"features": "evaluation model's penultimate layer (no Inception weights)"},
                )
            )
        if evidence:
            result.arrays["class_means"] = class_means(self.private_x, self.private_y, y)
        return figs
