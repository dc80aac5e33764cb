"""``image-model``: audit your own image classifier (``mi audit``; see the root README).

    [[targets]]
    case = "image-model"
    access = ["white-box", "black-box-scores"]
    [targets.options]
    model = "mypkg.models:build"          # a class or factory returning an nn.Module
    model_kwargs = {num_classes = 10}
    checkpoint = "target.safetensors"     # or a torch state-dict file (weights_only=True)
    input_shape = [1, 28, 28]
    num_classes = 10
    private = "private.npz"               # arrays x (N, C, H, W) or (N, H, W), y: evaluator only
    public = "public/"                    # .npz (array x) or an image folder: attacker's data

The private data never reaches an attack: an evaluation model is trained on most of it (unless
``eval_model`` names one), reconstructions are judged as in the built-in cases
(:class:`~mi_vision.evaluate.ImageEvaluator`, beside uniform noise or unoptimised prior samples),
and the target's utility is its accuracy on the held-out rest.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from mi_core.audit.case import AuditCase
from mi_core.audit.imports import build_module, check_options, option_path
from mi_core.errors import ConfigError
from mi_core.metrics.base import Figure
from mi_core.result import AttackResult
from mi_core.threat import Access, Knowledge
from mi_core.views import TargetInfo, TargetView
from mi_vision.cases import _test_accuracy
from mi_vision.data import ImageFolderDataset, train_test_split
from mi_vision.evaluate import ImageEvaluator

REQUIRED = ("model", "input_shape", "num_classes", "private")
OPTIONAL = (
    "model_kwargs",
    "checkpoint",
    "public",
    "target_labels",
    "eval_model",
    "eval_model_kwargs",
    "eval_checkpoint",
    "eval_epochs",
    "test_fraction",
)


def _images(x: np.ndarray, where: str, shape: tuple[int, ...]) -> torch.Tensor:
    """Images ``(N, C, H, W)`` in [0, 1] (uint8 is scaled), checked against ``shape``."""
    t = torch.as_tensor(x)
    if t.ndim == 3:
        t = t[:, None]
    t = t.float() / 255.0 if t.dtype == torch.uint8 else t.float()
    if t.ndim != 4 or tuple(t.shape[1:]) != shape:
        raise ConfigError(
            f"{where}: images of shape {tuple(t.shape[1:])} do not match "
            f"targets.options.input_shape {list(shape)}"
        )
    return t


def _npz(path: Path, keys: tuple[str, ...], field: str) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as z:
        missing = [k for k in keys if k not in z]
        if missing:
            raise ConfigError(
                f"targets.options.{field}: {path} lacks array(s) {missing}; it holds {list(z)}"
            )
        return {k: z[k] for k in keys}


class ImageModelCase(AuditCase):
    """A user's image classifier, named by import path and checkpoint, audited against their
    private images (evaluation only) with their public images as the attacker's knowledge."""

    name = "image-model"
    modality = "image"
    description = "your own image classifier (options: model, checkpoint, private, public, ...)"

    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> ImageModelCase:
        check_options(options, cls.name, REQUIRED, OPTIONAL)
        shape = options["input_shape"]
        if (
            not isinstance(shape, list | tuple)
            or len(shape) != 3
            or not all(isinstance(s, int) and s > 0 for s in shape)
        ):
            raise ConfigError(
                f"targets.options.input_shape: give [channels, height, width], got {shape!r}"
            )
        k = options["num_classes"]
        if not isinstance(k, int) or k < 2:
            raise ConfigError(f"targets.options.num_classes: an integer >= 2, got {k!r}")
        labels = options.get("target_labels")
        if labels is not None and (
            not isinstance(labels, list)
            or not labels
            or not all(isinstance(c, int) and 0 <= c < k for c in labels)
        ):
            raise ConfigError(
                f"targets.options.target_labels: a list of class ids in [0, {k}), got {labels!r}"
            )
        for key in ("model_kwargs", "eval_model_kwargs"):
            if not isinstance(options.get(key, {}), dict):
                raise ConfigError(f"targets.options.{key}: must be a table of keyword arguments")
        epochs = options.get("eval_epochs", 30)
        if not isinstance(epochs, int) or epochs < 1:
            raise ConfigError(f"targets.options.eval_epochs: a positive integer, got {epochs!r}")
        frac = options.get("test_fraction", 0.2)
        if not isinstance(frac, float) or not 0.0 < frac < 1.0:
            raise ConfigError(f"targets.options.test_fraction: a float in (0, 1), got {frac!r}")
        option_path(options, "private", (".npz",))
        option_path(options, "public", (".npz",), directory=True)
        for key in ("checkpoint", "eval_checkpoint"):
            option_path(options, key, (".safetensors", ".pt", ".pth", ".bin"))
        return cls(dict(options))

    def prepare(self, workdir: Path, seed: int) -> None:
        o = self.options
        workdir.mkdir(parents=True, exist_ok=True)
        self.shape = tuple(o["input_shape"])
        self.num_classes = int(o["num_classes"])
        self.seed = seed
        self.model = build_module(
            o["model"], o.get("checkpoint"), o.get("model_kwargs"), "targets.options.model"
        )
        arrays = _npz(Path(o["private"]), ("x", "y"), "private")
        x = _images(arrays["x"], "targets.options.private", self.shape)
        y = torch.as_tensor(arrays["y"]).long().reshape(-1)
        if len(y) != len(x) or int(y.min()) < 0 or int(y.max()) >= self.num_classes:
            raise ConfigError(
                f"targets.options.private: y must hold {len(x)} class ids in "
                f"[0, {self.num_classes})"
            )
        (self.x_train, self.y_train), (self.x_test, self.y_test) = train_test_split(
            x, y, o.get("test_fraction", 0.2), seed
        )
        self.labels = list(o.get("target_labels") or range(self.num_classes))
        absent = sorted(set(self.labels) - set(self.y_train.tolist()))
        if absent:
            raise ConfigError(
                f"targets.options.target_labels: classes {absent} have no private images to "
                "judge reconstructions by; drop them or add their images"
            )
        if o.get("eval_model"):
            self.eval_model = build_module(
                o["eval_model"],
                o.get("eval_checkpoint"),
                o.get("eval_model_kwargs"),
                "targets.options.eval_model",
            )
        else:  # another architecture than (most) targets, augmented and calibrated
            from mi_vision.evaluation_model import EvalModelConfig, load_or_train_evaluation_model

            self.eval_model, _ = load_or_train_evaluation_model(
                workdir / f"eval-seed{seed}.safetensors",
                self.x_train,
                self.y_train,
                EvalModelConfig(epochs=o.get("eval_epochs", 30), seed=seed + 1),
                progress=False,
            )
        self.public = self._public()

    def _public(self) -> Any:
        path = option_path(self.options, "public", (".npz",), directory=True)
        if path is None:
            return None
        if path.is_dir():
            c, h, w = self.shape
            return ImageFolderDataset(path, (h, w), c, labels=None)
        return _images(_npz(path, ("x",), "public")["x"], "targets.options.public", self.shape)

    def target(self) -> nn.Module:
        return self.model

    def target_info(self) -> TargetInfo:
        return TargetInfo(
            modality="image",
            input_shape=self.shape,
            num_classes=self.num_classes,
            input_range=(0.0, 1.0),
        )

    def knowledge(self, access: Access) -> Knowledge:
        return Knowledge(target_labels=list(self.labels), auxiliary=self.public)

    def evaluate(self, result: AttackResult) -> list[Figure]:
        ev = ImageEvaluator(self.eval_model, self.x_train, self.y_train, seed=self.seed)
        return ev.evaluate(result)

    def utility(self, view: TargetView | None = None) -> dict[str, float]:
        """Accuracy of the target (or of what a defended view releases) on held-out private
        images."""
        return _test_accuracy(self.model, view, self.x_test, self.y_test)
