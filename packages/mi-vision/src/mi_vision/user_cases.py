"""``image-model``: audit your own image classifier (``mi audit``; see the root README;
``mi list cases --options image-model`` lists the options).

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

``private`` and ``public`` may also be Hugging Face datasets: a table such as
``private = {dataset = "faces/", split = "train", image = "image", label = "label"}`` names a
``save_to_disk`` folder or a hub name (images are resized to ``input_shape``).

Everything is checked when the audit file is read: the model imports and is built, the
checkpoint's names and shapes match it, the images match ``input_shape``, the labels lie in
``[0, num_classes)`` and the model answers a batch of private images with ``num_classes``
scores. The private data never reaches an attack: an evaluation model is trained on most of it
(unless ``eval_model`` names one), reconstructions are judged as in the built-in cases
(:class:`~mi_vision.evaluate.ImageEvaluator`, beside uniform noise or unoptimised prior samples),
and the target's utility is its accuracy on the held-out rest.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from mi_core.audit.case import AuditCase
from mi_core.audit.imports import (
    build_module,
    is_dataset_option,
    load_dataset_option,
    option_path,
)
from mi_core.config import build_config
from mi_core.errors import ConfigError
from mi_core.metrics.base import Figure
from mi_core.result import AttackResult
from mi_core.threat import Access, Knowledge
from mi_core.views import TargetInfo, TargetView
from mi_vision.cases import _test_accuracy
from mi_vision.data import ImageFolderDataset, train_test_split
from mi_vision.evaluate import ImageEvaluator

CHECKPOINT_SUFFIXES = (".safetensors", ".pt", ".pth", ".bin")


@dataclass
class ImageModelOptions:
    """Options of the ``image-model`` case (``[targets.options]``).

    Attributes:
        model: import path ``package.module:attribute`` of an ``nn.Module`` class, or of a
            function returning a module (called with ``model_kwargs``).
        input_shape: the model's input ``[channels, height, width]`` (images in [0, 1]).
        num_classes: how many classes (scores) the model outputs.
        private: the private images, for the evaluator only: an ``.npz`` with arrays ``x``
            ((N, C, H, W) or (N, H, W); floats in [0, 1] or uint8) and ``y`` (class ids), or a
            Hugging Face dataset ``{dataset = "folder or hub name", split = "train", image =
            "image", label = "label"}``.
        model_kwargs: keyword arguments for the class or function ``model`` names.
        checkpoint: the model's weights: ``.safetensors`` or a torch state-dict file (read with
            ``weights_only=True``); its names and shapes must match the model's.
        public: the attacker's public images: an ``.npz`` with array ``x``, an image folder, or
            a dataset table as for ``private`` (``label`` not needed). GAN-prior attacks train
            their prior on it; without it they are skipped.
        target_labels: the classes to reconstruct (default: every class).
        eval_model: import path of the evaluation model that judges reconstructions (default:
            a small CNN trained here on most of the private images).
        eval_model_kwargs: keyword arguments for ``eval_model``.
        eval_checkpoint: the weights of ``eval_model``.
        eval_epochs: training epochs of the default evaluation model.
        test_fraction: the fraction of private images held out to measure the target's
            accuracy (the rest trains the evaluation model and judges reconstructions).
    """

    model: str
    input_shape: list[int]
    num_classes: int
    private: str | dict[str, Any]
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    checkpoint: str | None = None
    public: str | dict[str, Any] | None = None
    target_labels: list[int] | None = None
    eval_model: str | None = None
    eval_model_kwargs: dict[str, Any] = field(default_factory=dict)
    eval_checkpoint: str | None = None
    eval_epochs: int = 30
    test_fraction: float = 0.2

    def __post_init__(self) -> None:
        shape = self.input_shape
        if len(shape) != 3 or not all(s > 0 for s in shape):
            raise ConfigError(f"input_shape: give [channels, height, width], got {shape!r}")
        if self.num_classes < 2:
            raise ConfigError(f"num_classes: an integer >= 2, got {self.num_classes!r}")
        labels = self.target_labels
        if labels is not None and (
            not labels or not all(0 <= c < self.num_classes for c in labels)
        ):
            raise ConfigError(
                f"target_labels: a list of class ids in [0, {self.num_classes}), got {labels!r}"
            )
        if self.eval_epochs < 1:
            raise ConfigError(f"eval_epochs: a positive integer, got {self.eval_epochs!r}")
        if not 0.0 < self.test_fraction < 1.0:
            raise ConfigError(f"test_fraction: a float in (0, 1), got {self.test_fraction!r}")
        if self.eval_model is None and (self.eval_checkpoint or self.eval_model_kwargs):
            raise ConfigError("eval_checkpoint: set eval_model too (the model it belongs to)")


def _images(x: Any, where: str, shape: tuple[int, ...]) -> torch.Tensor:
    """Images ``(N, C, H, W)`` in [0, 1] (uint8 is scaled), checked against ``shape``."""
    t = torch.as_tensor(np.asarray(x))
    if t.ndim == 3:
        t = t[:, None]
    t = t.float() / 255.0 if t.dtype == torch.uint8 else t.float()
    if t.ndim != 4 or tuple(t.shape[1:]) != shape:
        raise ConfigError(
            f"{where}: images of shape {tuple(t.shape[1:])} do not match "
            f"targets.options.input_shape {list(shape)}"
        )
    if t.numel() and (not torch.isfinite(t).all() or t.min() < 0.0 or t.max() > 1.0):
        raise ConfigError(f"{where}: pixel values must lie in [0, 1] (or be uint8 0-255)")
    return t


def _npz(path: Path, keys: tuple[str, ...], field: str) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as z:
            missing = [k for k in keys if k not in z]
            if missing:
                raise ConfigError(
                    f"targets.options.{field}: {path} lacks array(s) {missing}; it holds {list(z)}"
                )
            return {k: z[k] for k in keys}
    except ConfigError:
        raise
    except Exception as exc:  # not an npz, object arrays (pickles are refused) ...
        raise ConfigError(
            f"targets.options.{field}: cannot read {path} as .npz arrays ({exc})"
        ) from None


def _dataset_images(ds: Any, column: str, shape: tuple[int, ...]) -> torch.Tensor:
    """The images of a Hugging Face dataset column (PIL images are converted to the channel
    count and resized to the size of ``shape``; arrays are taken as they are)."""
    from PIL import Image

    c, h, w = shape
    out = []
    for item in ds[column]:
        if isinstance(item, Image.Image):
            img = item.convert("L" if c == 1 else "RGB").resize((w, h), Image.BILINEAR)
            a = np.asarray(img)
            a = a[None] if a.ndim == 2 else a.transpose(2, 0, 1)
        else:
            a = np.asarray(item)
            if a.ndim == 3 and a.shape[-1] in (1, 3) and a.shape[0] not in (1, 3):
                a = a.transpose(2, 0, 1)
            elif a.ndim == 2:
                a = a[None]
        out.append(a)
    return torch.as_tensor(np.stack(out))


def _labelled_images(
    value: Any, key: str, shape: tuple[int, ...]
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``(x, y)`` from an ``.npz`` (``x``, ``y``) or a dataset table (``image``, ``label``)."""
    where = f"targets.options.{key}"
    labelled = key == "private"
    if is_dataset_option(value):
        cols = {"image": "image", "label": "label" if labelled else None}
        ds, names = load_dataset_option(value, where, cols)
        x = _images(_dataset_images(ds, names["image"], shape), where, shape)
        y = torch.as_tensor(np.asarray(ds[names["label"]])) if labelled else None
        return x, y
    path = option_path({key: value}, key, (".npz",), directory=not labelled)
    assert path is not None
    if path.is_dir():
        return ImageFolderDataset(path, shape[1:], shape[0], labels=None), None  # type: ignore[return-value]
    arrays = _npz(path, ("x", "y") if labelled else ("x",), key)
    y = torch.as_tensor(arrays["y"]) if labelled else None
    return _images(arrays["x"], where, shape), y


def _check_outputs(model: nn.Module, x: torch.Tensor, num_classes: int, field: str) -> None:
    """The model answers a batch of images with one row of ``num_classes`` scores each."""
    try:
        with torch.no_grad():
            out = model(x)
    except Exception as exc:
        raise ConfigError(
            f"targets.options.{field}: the model fails on images of shape "
            f"{list(x.shape[1:])} (input_shape): {type(exc).__name__}: "
            f"{str(exc).splitlines()[0][:200] if str(exc) else ''}"
        ) from None
    if not isinstance(out, torch.Tensor) or tuple(out.shape) != (x.shape[0], num_classes):
        got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ConfigError(
            f"targets.options.num_classes: the {field} answers {x.shape[0]} images with "
            f"{got}, not ({x.shape[0]}, {num_classes}) scores; check num_classes and "
            f"{field}_kwargs"
        )


class ImageModelCase(AuditCase):
    """A user's image classifier, named by import path and checkpoint, audited against their
    private images (evaluation only) with their public images as the attacker's knowledge."""

    name = "image-model"
    modality = "image"
    description = "your own image classifier (options: model, checkpoint, private, public, ...)"
    Options = ImageModelOptions
    knowledge_options: ClassVar[dict[str, str]] = {"auxiliary": "public", "prior": "public"}

    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> ImageModelCase:
        """Check the options, read the images and build the model now (the file's read)."""
        given = {k: v for k, v in options.items() if v is not None}
        opts = build_config(ImageModelOptions, given, where="targets.options")
        case = cls(given)
        case._read(opts)
        return case

    def _read(self, o: ImageModelOptions) -> None:
        self.shape = tuple(o.input_shape)
        self.num_classes = o.num_classes
        x, y = _labelled_images(o.private, "private", self.shape)
        assert y is not None
        y = y.long().reshape(-1)
        if len(y) != len(x) or len(y) == 0:
            raise ConfigError(
                f"targets.options.private: {len(x)} images but {len(y)} labels; give one class "
                "id per image"
            )
        if int(y.min()) < 0 or int(y.max()) >= self.num_classes:
            raise ConfigError(
                f"targets.options.private: labels must lie in [0, {self.num_classes}) "
                f"(num_classes), got {int(y.min())}..{int(y.max())}"
            )
        self.x, self.y = x, y
        self.public = (
            None if o.public is None else _labelled_images(o.public, "public", self.shape)[0]
        )
        for key in ("checkpoint", "eval_checkpoint"):
            option_path(self.options, key, CHECKPOINT_SUFFIXES)
        self.model = build_module(o.model, o.checkpoint, o.model_kwargs, "targets.options.model")
        probe = x[: min(4, len(x))]
        _check_outputs(self.model, probe, self.num_classes, "model")
        self.given_eval = None
        if o.eval_model is not None:
            self.given_eval = build_module(
                o.eval_model, o.eval_checkpoint, o.eval_model_kwargs, "targets.options.eval_model"
            )
            _check_outputs(self.given_eval, probe, self.num_classes, "eval_model")
        self.labels = list(o.target_labels or range(self.num_classes))
        absent = sorted(set(self.labels) - set(y.tolist()))
        if absent:
            key = "target_labels" if o.target_labels else "num_classes"
            raise ConfigError(
                f"targets.options.{key}: classes {absent} have no private images to judge "
                "reconstructions by; name the classes to reconstruct in target_labels, or add "
                "their images"
            )

    def provides(self, access: Access) -> set[str]:
        return {"target_labels"} | ({"auxiliary"} if self.public is not None else set())

    def prepare(self, workdir: Path, seed: int) -> None:
        o = self.options
        workdir.mkdir(parents=True, exist_ok=True)
        self.seed = seed
        self.model.to(self.torch_device())  # the user's model on the audit's device
        (self.x_train, self.y_train), (self.x_test, self.y_test) = train_test_split(
            self.x, self.y, o.get("test_fraction", 0.2), seed
        )
        absent = sorted(set(self.labels) - set(self.y_train.tolist()))
        if absent:
            raise ConfigError(
                f"targets.options.target_labels: classes {absent} have no private images left "
                "after holding out test_fraction; add images of them or lower test_fraction"
            )
        if self.given_eval is not None:
            self.eval_model = self.given_eval
        else:  # another architecture than (most) targets, augmented and calibrated
            from mi_vision.evaluation_model import EvalModelConfig, load_or_train_evaluation_model

            self.eval_model, _ = load_or_train_evaluation_model(
                workdir / f"eval-seed{seed}.safetensors",
                self.x_train,
                self.y_train,
                EvalModelConfig(epochs=o.get("eval_epochs", 30), seed=seed + 1),
                progress=False,
            )

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
