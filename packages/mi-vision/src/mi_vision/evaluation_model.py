"""The evaluation model that judges image reconstructions: independent of the target, at least as
accurate, and calibrated.

Survey Sec. IV-A-6: reconstructions are classified by an *evaluation model* of another
architecture trained on the private data. A judge that shares the target's architecture and
training recipe rewards adversarial examples of the target (they transfer), and an
over-confident judge turns near-random images into confident "hits". So the judge here

* has another architecture (a small ResNet beside the SmallCNN / MLP targets),
* is trained on its own with augmentation (random resized crop, rotation, jitter),
* holds out part of the private data and fits a temperature on it (Guo et al. 2017, "On
  Calibration of Modern Neural Networks"), reporting its expected calibration error (ECE) before
  and after, and its accuracy beside the target's on the same test data.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from mi_core.config import check_choice, check_positive, check_range
from mi_core.errors import ConfigError, MetricError
from mi_core.metrics.classification import predict_batched

ARCHS = ("resnet", "cnn")


@dataclass
class EvalModelConfig:
    """How the evaluation model is built and trained.

    Attributes:
        arch: ``resnet`` (:class:`~mi_vision.models.ResNetSmall`, default) or ``cnn``; pick one
            that differs from the target's.
        width: channel width of the network.
        epochs, lr, batch_size: Adam training.
        augment: an augmentation preset of :mod:`mi_vision.augment` (``noflip`` for digits).
        heldout_fraction: share of each class's private images kept out of training to fit the
            temperature and measure calibration.
        seed: seed of the split, the initialisation and the training order.
    """

    arch: str = "resnet"
    width: int = 16
    epochs: int = 20
    lr: float = 2e-3
    batch_size: int = 64
    augment: str = "standard"
    heldout_fraction: float = 0.2
    seed: int = 1

    def __post_init__(self) -> None:
        check_choice("arch", self.arch, ARCHS)
        check_positive("width", self.width)
        check_positive("epochs", self.epochs)
        check_positive("lr", self.lr)
        check_positive("batch_size", self.batch_size)
        check_range("heldout_fraction", self.heldout_fraction, 0.05, 0.5)


class CalibratedClassifier(nn.Module):
    """``model``'s logits divided by a fitted temperature; ``features`` passes through."""

    def __init__(self, model: nn.Module, temperature: float = 1.0) -> None:
        super().__init__()
        if temperature <= 0:
            raise ConfigError(f"temperature: must be positive, got {temperature}")
        self.model = model
        self.register_buffer("temperature", torch.tensor(float(temperature)))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        feats = getattr(self.model, "features", None)
        if feats is None:
            raise MetricError("evaluation model: the wrapped model has no features() method")
        return feats(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x) / self.temperature


def expected_calibration_error(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, bins: int = 10
) -> float:
    """ECE (Guo et al. 2017): the confidence-weighted gap between confidence and accuracy over
    ``bins`` equal-width confidence bins."""
    if x.shape[0] == 0:
        raise MetricError("ece: no samples")
    model.eval()
    p = torch.softmax(predict_batched(model, x.float()).float(), 1)
    conf, pred = p.max(1)
    hit = (pred == y).float()
    edges = torch.linspace(0, 1, bins + 1)
    ece = torch.zeros(())
    for lo, hi in itertools.pairwise(edges):
        m = (conf > lo) & (conf <= hi)
        if bool(m.any()):
            ece += m.float().mean() * (conf[m].mean() - hit[m].mean()).abs()
    return float(ece)


def fit_temperature(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """The temperature minimising the negative log-likelihood on held-out data (a 1-d convex
    problem, solved by a golden-section search on log T in [-3, 3])."""
    model.eval()
    logits = predict_batched(model, x.float()).float()

    def nll(log_t: float) -> float:
        return float(F.cross_entropy(logits / float(torch.tensor(log_t).exp()), y))

    lo, hi = -3.0, 3.0
    ratio = (5**0.5 - 1) / 2
    a, b = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
    fa, fb = nll(a), nll(b)
    for _ in range(60):
        if fa < fb:
            hi, b, fb = b, a, fa
            a = hi - ratio * (hi - lo)
            fa = nll(a)
        else:
            lo, a, fa = a, b, fb
            b = lo + ratio * (hi - lo)
            fb = nll(b)
    return float(torch.tensor((lo + hi) / 2).exp())


def stratified_split(
    y: torch.Tensor, fraction: float, seed: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Index tensors ``(train, heldout)``: ``fraction`` of each class (at least one image of every
    class with two or more) held out."""
    g = torch.Generator().manual_seed(seed)
    train, held = [], []
    for c in torch.unique(y):
        idx = torch.nonzero(y == c).flatten()
        idx = idx[torch.randperm(idx.numel(), generator=g)]
        n = round(fraction * idx.numel())
        n = min(max(n, 1 if idx.numel() >= 2 else 0), idx.numel() - 1)
        held.append(idx[:n])
        train.append(idx[n:])
    return torch.cat(train).sort().values, torch.cat(held).sort().values


def build_eval_model(arch: str, in_channels: int, num_classes: int, width: int) -> nn.Module:
    from mi_vision.models import ResNetSmall, SmallCNN

    if arch == "resnet":
        return ResNetSmall(in_channels, num_classes, width=width)
    if arch == "cnn":
        return SmallCNN(in_channels, num_classes, width=width)
    raise ConfigError(f"arch: unknown {arch!r}; allowed values: {', '.join(ARCHS)}")


def train_evaluation_model(
    x: torch.Tensor,
    y: torch.Tensor,
    config: EvalModelConfig | dict[str, Any] | None = None,
    *,
    progress: bool = True,
    device: Any = "cpu",
) -> tuple[CalibratedClassifier, dict[str, float]]:
    """Train and calibrate an evaluation model on the private images ``(x, y)``; it trains on
    ``device`` (built on the CPU from the seeded generator) and is returned on the CPU, where
    results are judged.

    Returns the calibrated model and a report: ``heldout_accuracy``, ``ece_before``,
    ``ece_after``, ``temperature``, ``train_size``, ``heldout_size``.
    """
    from mi_vision.training import TrainConfig, accuracy, train_classifier

    cfg = config if isinstance(config, EvalModelConfig) else EvalModelConfig(**(config or {}))
    if x.ndim != 4 or x.shape[0] != y.shape[0]:
        raise ConfigError(
            f"private data: expected images (N, C, H, W) with one label each, got "
            f"{tuple(x.shape)} and {tuple(y.shape)}"
        )
    tr, ho = stratified_split(y, cfg.heldout_fraction, cfg.seed)
    if ho.numel() == 0:
        raise ConfigError("private data: too few images per class to hold any out for calibration")
    k = int(y.max()) + 1
    torch.manual_seed(cfg.seed)
    model = build_eval_model(cfg.arch, x.shape[1], k, cfg.width).to(device)
    train_classifier(
        model,
        x[tr],
        y[tr],
        TrainConfig(epochs=cfg.epochs, lr=cfg.lr, batch_size=cfg.batch_size, augment=cfg.augment),
        seed=cfg.seed,
        progress=progress,
        desc="evaluation model",
    )
    model = model.cpu()
    ece_before = expected_calibration_error(model, x[ho], y[ho])
    t = fit_temperature(model, x[ho], y[ho])
    calibrated = CalibratedClassifier(model, t).eval()
    return calibrated, {
        "heldout_accuracy": accuracy(calibrated, x[ho], y[ho]),
        "ece_before": ece_before,
        "ece_after": expected_calibration_error(calibrated, x[ho], y[ho]),
        "temperature": t,
        "train_size": int(tr.numel()),
        "heldout_size": int(ho.numel()),
    }


def load_or_train_evaluation_model(
    path: Any,
    x: torch.Tensor,
    y: torch.Tensor,
    config: EvalModelConfig | dict[str, Any] | None = None,
    *,
    progress: bool = True,
    device: Any = "cpu",
) -> tuple[CalibratedClassifier, dict[str, float]]:
    """:func:`train_evaluation_model` (on ``device``), cached: weights in ``path`` (safetensors)
    and the calibration report beside it (``.json``); a cache written with another config is
    retrained."""
    import json
    from dataclasses import asdict
    from pathlib import Path

    from mi_core.io import atomic_write_json, load_state_dict, save_state_dict

    cfg = config if isinstance(config, EvalModelConfig) else EvalModelConfig(**(config or {}))
    path = Path(path)
    meta = path.with_suffix(".json")
    if path.exists() and meta.exists():
        report = json.loads(meta.read_text())
        if report.get("config") == asdict(cfg):
            model = CalibratedClassifier(
                build_eval_model(cfg.arch, x.shape[1], int(y.max()) + 1, cfg.width),
                report["temperature"],
            )
            model.load_state_dict(load_state_dict(path))
            return model.eval(), report
    model, report = train_evaluation_model(x, y, cfg, progress=progress, device=device)
    report = {**report, "config": asdict(cfg)}
    path.parent.mkdir(parents=True, exist_ok=True)
    save_state_dict(path, model.state_dict())
    atomic_write_json(meta, report)
    return model, report


__all__ = [
    "ARCHS",
    "CalibratedClassifier",
    "EvalModelConfig",
    "build_eval_model",
    "expected_calibration_error",
    "fit_temperature",
    "load_or_train_evaluation_model",
    "stratified_split",
    "train_evaluation_model",
]
