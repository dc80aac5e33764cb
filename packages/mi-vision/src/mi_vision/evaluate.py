"""Evaluation of image reconstructions against the private data (which attacks never see).

The figures of survey Sec. IV-A-6: evaluation-model accuracy (top-1 / top-5, overall and per
class, with the evaluation model's prediction histogram), feature distance to the class
centroid, KNN distance, PSNR / SSIM to the nearest private image of the class, precision /
recall / density / coverage, and the Fréchet distance on evaluation-model features; plus the
figure that decides leakage, ``leak_rate``.

**Baselines.** Each figure stands beside the same figure for the attack's *own* starting point:
the unoptimised samples of its own prior (``result.arrays["prior_samples"]``, which every GAN
attack returns). The difference is what the search adds. A general baseline (e.g. samples of
the general GAN prior, or uniform noise) is reported beside it in ``details["general"]``.

**The manifold rule.** Top-1 of one evaluation model rewards images off the data manifold
(adversarial examples of the target that transfer). A reconstruction counts as *leaked* only
when it is

* recognised: the evaluation model's top-1 prediction is its target class, and
* on the image manifold: its KNN distance to the private images of its class (evaluation-model
  features) is no larger than the median KNN distance, to the same class, of the attack's own
  unoptimised prior samples for that class (i.e. it is at least as close to the private class
  as a typical starting point; a search that walks away from the data to fool the target fails
  this test).

``leak_rate`` is the fraction of leaked reconstructions beside the same fraction of the own
prior samples under the same thresholds. At figure level, an attack whose top-1 rises while its
KNN distance or its FID on evaluation features worsens against its own prior samples is flagged
``on_manifold=False``: :mod:`mi_core.leakage` then calls it "adversarial", not a reconstruction.
Without own prior samples (pixel-space attacks such as MI-Face) the general baseline images
play that role when given; with neither, no ``leak_rate`` is computed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from mi_core.errors import MetricError
from mi_core.metrics import (
    eval_accuracy,
    feature_distance,
    knn_distances,
    per_class_accuracy,
    prediction_histogram,
)
from mi_core.metrics.base import Figure, register_metric
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


def manifold_thresholds(ref_knn: torch.Tensor, ref_y: torch.Tensor) -> dict[int, float]:
    """Per class: the median KNN distance of the reference (own prior) samples of that class;
    classes with fewer than 3 reference samples use the median over all reference samples."""
    pooled = float(ref_knn.median())
    out = {}
    for c in torch.unique(ref_y):
        v = ref_knn[ref_y == c]
        out[int(c)] = float(v.median()) if v.numel() >= 3 else pooled
    return out


def leaked_mask(
    pred: torch.Tensor, y: torch.Tensor, knn: torch.Tensor, thresholds: dict[int, float]
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(recognised, on_manifold, leaked)`` boolean masks of the manifold rule."""
    recognised = pred == y
    tau = torch.tensor([thresholds.get(int(c), float("inf")) for c in y])
    on = knn <= tau
    return recognised, on, recognised & on


@register_metric("leak_rate", higher_is_better=True, modality="image", unit_interval=True)
def leak_rate(
    pred: torch.Tensor, y: torch.Tensor, knn: torch.Tensor, thresholds: dict[int, float]
) -> float:
    """Fraction of reconstructions recognised by the evaluation model AND no farther from their
    private class than the attack's own unoptimised prior samples (the manifold rule)."""
    if y.numel() == 0:
        raise MetricError("leak_rate: no reconstructions")
    return float(leaked_mask(pred, y, knn, thresholds)[2].float().mean())


#: arrays of a result that hold the attack's own starting point, in the order looked for, with the
#: name its figures give them: a GAN attack's unoptimised prior samples, a pixel-space attack's
#: initial images (DeepInversion), a model-free fit of the attacker's side knowledge (SecretGen)
OWN_START = {
    "prior_samples": "own prior samples (unoptimised)",
    "initial": "own initial images (unoptimised)",
    "no_model": "model-free fit (no target queried)",
}


@dataclass
class _Set:
    """Per-item evaluation of one set of images (reconstructions or a baseline)."""

    x: torch.Tensor
    pred: torch.Tensor
    knn: torch.Tensor | None


@dataclass
class ImageEvaluator:
    """Judges reconstructions with an evaluation model trained on the private data.

    Args:
        eval_model: a classifier of another architecture than the target, trained on the
            private data (ideally :func:`mi_vision.evaluation_model.train_evaluation_model`:
            augmented and calibrated); its ``features`` method gives the feature space for
            distances, the manifold rule, diversity and FID.
        private_x, private_y: the private images and labels (in the target's label space).
        baseline: general baseline images (``None``: uniform noise), reported beside the own
            prior samples (``details["general"]``) and used as the reference when the result
            has no ``arrays["prior_samples"]``.
        pixel: add PSNR / SSIM to the nearest private image of the class.
        diversity: add precision / recall / density / coverage (``None``: when every class has
            at least ``min_per_class_diversity`` reconstructions; fewer make them noise).
        fid: add the Fréchet distance on evaluation-model features (``None``: with at least
            ``min_fid`` reconstructions).
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
    min_per_class_diversity: int = 10
    min_fid: int = 40

    # ------------------------------------------------------------------------------------
    def _general(self, like: torch.Tensor) -> tuple[torch.Tensor, str]:
        if self.baseline is not None:
            if self.baseline.shape[0] < like.shape[0]:
                raise MetricError(
                    f"baseline: {self.baseline.shape[0]} images for {like.shape[0]} "
                    "reconstructions; give at least one baseline image per reconstruction"
                )
            return self.baseline[: like.shape[0]].float(), self.baseline_name
        g = torch.Generator().manual_seed(self.seed)
        return torch.rand(like.shape, generator=g), "uniform noise images"

    def _own(self, result: AttackResult, like: torch.Tensor) -> tuple[torch.Tensor, str] | None:
        """The attack's own starting point: the first of :data:`OWN_START` in its arrays."""
        for key, name in OWN_START.items():
            own = result.arrays.get(key)
            if not isinstance(own, torch.Tensor):
                continue
            if own.shape[0] < like.shape[0]:
                raise MetricError(
                    f"arrays[{key!r}]: {own.shape[0]} images for {like.shape[0]} reconstructions"
                )
            return own[: like.shape[0]].float(), name
        return None

    def _set(self, x: torch.Tensor, y: torch.Tensor) -> _Set:
        pred = predict_batched(self.eval_model, x.float()).argmax(1)
        feats = getattr(self.eval_model, "features", None)
        knn = (
            knn_distances(feats, x, y, self.private_x, self.private_y)
            if feats is not None
            else None
        )
        return _Set(x, pred, knn)

    # ------------------------------------------------------------------------------------
    def evaluate(self, result: AttackResult, *, evidence: bool = True) -> list[Figure]:
        """Figures for ``result``, each beside the attack's own prior samples (else the general
        baseline); adds per-reconstruction arrays (``eval_pred``, ``knn``, ``leaked``) and
        ``class_means`` to ``result.arrays`` for reports."""
        x = result.reconstructions
        if not isinstance(x, torch.Tensor) or x.ndim != 4:
            raise MetricError("reconstructions: expected an image tensor (N, C, H, W)")
        y = torch.as_tensor(result.targets, dtype=torch.long).reshape(-1)
        if y.numel() != x.shape[0]:
            raise MetricError(f"targets: {y.numel()} labels for {x.shape[0]} reconstructions")
        self.eval_model.eval()
        general, gname = self._general(x)
        found = self._own(result, x)
        own = None if found is None else found[0]
        ref, rname = found if found is not None else (general, gname)
        sets = {"attack": self._set(x, y), "ref": self._set(ref, y)}
        if own is not None:
            sets["general"] = self._set(general, y)
        k = int(self.private_y.max()) + 1
        feats = getattr(self.eval_model, "features", None)

        def fig(
            name: str,
            fn: Callable[[torch.Tensor], float],
            higher: bool,
            details: dict[str, Any] | None = None,
        ) -> Figure:
            d = dict(details or {})
            if "general" in sets:
                d["general"] = {"name": gname, "value": fn(sets["general"].x)}
            return Figure(name, fn(x), higher, fn(ref), rname, d)

        figs: list[Figure] = []
        ks = (1, 5) if k > 5 else (1,)  # top-5 of 5 classes is 1 by construction
        top1 = fig(
            "eval_top1",
            lambda imgs: eval_accuracy(self.eval_model, imgs, y, (1,))["top1"],
            True,
            {
                "per_class": per_class_accuracy(self.eval_model, x, y),
                "baseline_per_class": per_class_accuracy(self.eval_model, ref, y),
                "histogram": prediction_histogram(self.eval_model, x, k),
                "baseline_histogram": prediction_histogram(self.eval_model, ref, k),
            },
        )
        figs.append(top1)
        if 5 in ks:
            figs.append(
                fig(
                    "eval_top5",
                    lambda imgs: eval_accuracy(self.eval_model, imgs, y, (5,))["top5"],
                    True,
                    {"per_class": per_class_topk(self.eval_model, x, y, 5)},
                )
            )
        px, py = self.private_x, self.private_y
        knn_fig = fid_fig = None
        if feats is not None:
            assert sets["attack"].knn is not None and sets["ref"].knn is not None
            thresholds = manifold_thresholds(sets["ref"].knn, y)
            masks = {
                n: leaked_mask(s.pred, y, _knn_of(sets, s.x), thresholds) for n, s in sets.items()
            }
            rec, on, leaked = masks["attack"]
            lr_details: dict[str, Any] = {
                "rule": "recognised by the evaluation model and KNN distance <= the median KNN "
                "distance of the attack's own unoptimised prior samples of the class",
                "recognised": float(rec.float().mean()),
                "on_manifold": float(on.float().mean()),
                "baseline_recognised": float(masks["ref"][0].float().mean()),
                "thresholds": thresholds,
            }
            if "general" in masks:
                lr_details["general"] = {
                    "name": gname,
                    "value": float(masks["general"][2].float().mean()),
                }
            figs.insert(
                0,
                Figure(
                    "leak_rate",
                    float(leaked.float().mean()),
                    True,
                    float(masks["ref"][2].float().mean()),
                    rname,
                    lr_details,
                ),
            )
            knn_fig = fig("knn_distance", lambda imgs: float(_knn_of(sets, imgs).mean()), False)
            figs.append(knn_fig)
            figs.append(
                fig(
                    "feature_distance",
                    lambda imgs: feature_distance(feats, imgs, y, px, py),
                    False,
                )
            )
            if evidence:
                result.arrays["knn"] = sets["attack"].knn
                result.arrays["leaked"] = leaked.to(torch.uint8)
        if self.pixel:
            figs.append(fig("psnr", lambda imgs: psnr_nearest(imgs, y, px, py), True))
            figs.append(fig("ssim", lambda imgs: ssim_nearest(imgs, y, px, py), True))
        counts = torch.bincount(y)
        enough = bool((counts[counts > 0] >= self.min_per_class_diversity).all())
        if feats is not None and (self.diversity or (self.diversity is None and enough)):
            d = prdc_per_class(feats, x, y, px, py, self.k)
            db = prdc_per_class(feats, ref, y, px, py, self.k)
            for name in ("precision", "recall", "density", "coverage"):
                figs.append(Figure(f"prdc_{name}", d[name], True, db[name], rname, {"k": self.k}))
        if feats is not None and (self.fid or (self.fid is None and x.shape[0] >= self.min_fid)):
            priv = px[torch.isin(py, y)]
            fid_fig = fig(
                "fid_eval_features",
                lambda imgs: fid_eval_features(feats, imgs, priv),
                False,
                {
                    "features": "evaluation model's penultimate layer (no Inception weights)",
                    "n": int(x.shape[0]),
                },
            )
            figs.append(fid_fig)
        # the figure-level manifold flag: top-1 rises while KNN or FID worsens
        worse = []
        if (
            knn_fig is not None
            and knn_fig.baseline is not None
            and knn_fig.value > knn_fig.baseline
        ):
            worse.append("knn_distance")
        if (
            fid_fig is not None
            and fid_fig.baseline is not None
            and fid_fig.value > fid_fig.baseline
        ):
            worse.append("fid_eval_features")
        if knn_fig is not None:
            adversarial = top1.baseline is not None and top1.value > top1.baseline and bool(worse)
            for f in figs:
                if f.metric in ("eval_top1", "eval_top5", "leak_rate"):
                    f.on_manifold = not adversarial
                    if adversarial:
                        f.details["off_manifold"] = worse
        if evidence:
            result.arrays["eval_pred"] = sets["attack"].pred
            result.arrays["class_means"] = class_means(self.private_x, self.private_y, y)
        return figs


def _knn_of(sets: dict[str, _Set], imgs: torch.Tensor) -> torch.Tensor:
    for s in sets.values():
        if s.x is imgs:
            assert s.knn is not None
            return s.knn
    raise MetricError("knn: images not evaluated")  # pragma: no cover


__all__ = ["ImageEvaluator", "leak_rate", "leaked_mask", "manifold_thresholds", "per_class_topk"]
