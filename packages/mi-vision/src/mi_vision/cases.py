"""Built-in audit cases for images (targets that install offline; see ``mi list cases``)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import torch
from torch import nn

from mi_core.audit.case import AuditCase, CellDefaults
from mi_core.io import load_state_dict, save_state_dict
from mi_core.metrics.base import Figure
from mi_core.result import AttackResult
from mi_core.threat import Access, Knowledge
from mi_core.views import TargetInfo, TargetView
from mi_vision.data import load_digits, train_test_split
from mi_vision.evaluate import ImageEvaluator
from mi_vision.models import SmallCNN, SoftmaxRegression
from mi_vision.training import TrainConfig, accuracy, train_classifier


def _cached(model: nn.Module, path: Path, train: Any) -> nn.Module:
    """Load ``model``'s weights from ``path`` (safetensors) or train and save them."""
    if path.exists():
        model.load_state_dict(load_state_dict(path))
        return model.eval()
    train(model)
    save_state_dict(path, model.state_dict())
    return model.eval()


class DigitsSoftmaxCase(AuditCase):
    """8x8 digits (sklearn), softmax-regression target; a CNN evaluation model judges the
    reconstructions. The MI-Face setting of Fredrikson et al. 2015 at digit scale."""

    name = "digits-softmax"
    modality = "image"
    description = "softmax regression on sklearn's 8x8 digits (MI-Face setting)"
    default_cells = (CellDefaults("mi-face", "white-box", {"max_iter": 3000, "gamma": 0.0}),)
    #: the demo compares MI-Face on a target retrained with MID (survey Eq. 13)
    default_defenses = (("mid", {"beta": 0.1, "bottleneck": 16}),)
    #: training of the target (also under a training defense)
    train_config = TrainConfig(epochs=60, lr=1e-2)

    def prepare(self, workdir: Path, seed: int) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        x, y = load_digits()
        (self.x_train, self.y_train), (self.x_test, self.y_test) = train_test_split(
            x, y, 0.25, seed
        )
        torch.manual_seed(seed)
        self.model = _cached(
            SoftmaxRegression((1, 8, 8), 10),
            workdir / f"target-seed{seed}.safetensors",
            lambda m: train_classifier(
                m,
                self.x_train,
                self.y_train,
                self.train_config,
                seed=seed,
                desc="target",
            ),
        )
        torch.manual_seed(seed + 1)
        self.eval_model = _cached(
            SmallCNN(1, 10, width=16, feature_dim=64),
            workdir / f"eval-seed{seed}.safetensors",
            lambda m: train_classifier(
                m,
                self.x_train,
                self.y_train,
                TrainConfig(epochs=40, lr=2e-3, augment_noise=0.05),
                seed=seed + 1,
                desc="evaluation model",
            ),
        )
        self.seed = seed

    def target(self) -> nn.Module:
        return self.model

    def target_info(self) -> TargetInfo:
        return TargetInfo(
            modality="image", input_shape=(1, 8, 8), num_classes=10, input_range=(0.0, 1.0)
        )

    def knowledge(self, access: Access) -> Knowledge:
        return Knowledge(target_labels=list(range(10)))

    def evaluate(self, result: AttackResult) -> list[Figure]:
        ev = ImageEvaluator(self.eval_model, self.x_train, self.y_train, seed=self.seed)
        return ev.evaluate(result)

    def with_defense(self, defense: Any, workdir: Path, seed: int) -> DigitsSoftmaxCase:
        """A copy whose target is retrained under a training defense (``defense.fit(module, x,
        y, ...)``, as mi-defense's training defenses provide); the evaluation model is shared."""
        if defense.kind.value != "training" or not hasattr(defense, "fit"):
            return super().with_defense(defense, workdir, seed)  # raises NotApplicable
        cfg = self.train_config
        torch.manual_seed(seed)
        model = defense.fit(
            SoftmaxRegression((1, 8, 8), 10),
            self.x_train,
            self.y_train,
            epochs=cfg.epochs,
            lr=cfg.lr,
            batch_size=cfg.batch_size,
            seed=seed,
            progress=False,
        )
        out = copy.copy(self)
        out.model = model.eval()
        return out

    def utility(self, view: TargetView | None = None) -> dict[str, float]:
        """Test accuracy of the target, or of what a defended view releases."""
        if view is None:
            return {"test_accuracy": accuracy(self.model, self.x_test, self.y_test)}
        pred = torch.as_tensor(view(self.x_test))
        pred = pred.argmax(1) if pred.ndim == 2 else pred
        return {"test_accuracy": float((pred == self.y_test).float().mean())}
