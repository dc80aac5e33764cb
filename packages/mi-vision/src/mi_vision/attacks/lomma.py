"""LOMMA: logit loss and model augmentation (Nguyen et al., CVPR 2023), a plug-in for GMI and
KEDMI (survey Table I, "~": it rides on an existing generative attack).

Two changes to the base attack's objective:

* **logit loss**: maximise the target logit ``l_c`` directly (no softmax) plus
  ``feature_weight * |phi(x) - p_reg|^2``, where ``phi`` is the target's penultimate layer and
  ``p_reg`` the mean penultimate feature of public images (the authors' ``get_act_reg``);
* **model augmentation**: ``augmented_models`` students of other architectures are distilled
  from the target's soft labels on public images; the identity loss is averaged over the target
  and the students (the feature term uses the target only), so the reconstruction does not
  overfit the target's idiosyncrasies.

``base`` picks GMI or KEDMI; ``base_config`` passes that attack's own fields.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
from torch import nn

from mi_core import device as devices
from mi_core.attack import BaseAttack
from mi_core.config import build_config, check_choice, check_positive
from mi_core.errors import ConfigError
from mi_core.result import AttackResult
from mi_core.threat import Access, Knowledge
from mi_core.views import TargetView
from mi_vision.attacks.gmi import GMI
from mi_vision.attacks.kedmi import KEDMI
from mi_vision.data import ImageSource
from mi_vision.inversion import penultimate, target_input
from mi_vision.models import MLP, ResNetSmall, SmallCNN
from mi_vision.targets import scores_fn
from mi_vision.training import TrainConfig, distill_classifier


@dataclass
class LOMMAPlugin:
    """What LOMMA adds to a base attack's objective."""

    classifiers: list[Callable[[torch.Tensor], torch.Tensor]]
    features: Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]] | None
    reference: torch.Tensor | None
    feature_weight: float
    info: dict[str, Any] = field(default_factory=dict)


STUDENTS: dict[str, Callable[[tuple[int, int, int], int, int], nn.Module]] = {
    "cnn": lambda shape, k, w: SmallCNN(shape[0], k, width=w, feature_dim=4 * w),
    "resnet": lambda shape, k, w: ResNetSmall(shape[0], k, width=w),
    "mlp": lambda shape, k, w: MLP(shape, k, hidden=16 * w, activation="relu"),
}


@dataclass
class LOMMAConfig:
    """Hyper-parameters of LOMMA (the authors' code in brackets).

    Attributes:
        base: ``gmi`` or ``kedmi`` (the attack LOMMA plugs into).
        base_config: fields of the base attack's config (steps, lr, prior, ...).
        identity_loss: ``logit`` [logit_loss] (``ce`` keeps the base attack's loss).
        feature_weight: weight of the penultimate-feature term [lam = 1.0].
        augmented_models: number of distilled students [3].
        students: architectures cycled through for the students: ``cnn``, ``resnet``, ``mlp``.
        student_width: width of the students.
        distill_epochs, distill_lr, distill_temperature: distillation on the public images.
        public_samples: public images used for distillation and ``p_reg`` (the first ones).
        device, precision: where the students train and the base attack searches (``auto``:
            the white-box target's device), and the base attack's search precision.
    """

    base: Literal["gmi", "kedmi"] = "kedmi"
    base_config: dict[str, Any] | None = None
    identity_loss: str = "logit"
    feature_weight: float = 1.0
    augmented_models: int = 2
    students: tuple[str, ...] = ("resnet", "mlp")
    student_width: int = 16
    distill_epochs: int = 10
    distill_lr: float = 1e-3
    distill_temperature: float = 1.0
    public_samples: int = 5000
    progress: bool = True
    device: str = "auto"
    precision: str = "fp32"

    def __post_init__(self) -> None:
        devices.check_device(self.device)
        devices.check_precision(self.precision)
        check_choice("base", self.base, ("gmi", "kedmi"))
        check_positive("feature_weight", self.feature_weight, allow_zero=True)
        check_positive("augmented_models", self.augmented_models, allow_zero=True)
        for s in self.students:
            check_choice("students", s, tuple(STUDENTS))
        if self.augmented_models and not self.students:
            raise ConfigError("students: give at least one architecture for the students")
        for name in ("student_width", "distill_epochs", "distill_lr", "distill_temperature"):
            check_positive(name, getattr(self, name))
        check_positive("public_samples", self.public_samples)
        base_cls = GMI if self.base == "gmi" else KEDMI
        build_config(base_cls.Config, self.base_config, where=f"lomma.base_config ({self.base})")


class LOMMA(BaseAttack):
    """GMI or KEDMI with LOMMA's logit loss, feature regulariser and augmented models."""

    name = "lomma"
    modality = "image"
    access = Access.WHITE_BOX
    paper = "Nguyen et al., CVPR 2023"
    summary = "plug-in on GMI / KEDMI: logit loss + feature regulariser + distilled model ensemble"
    Config = LOMMAConfig
    requires = ("auxiliary",)  # public images distil its augmented models

    def priors_to_train(self, provided: Any) -> list[dict[str, Any]]:
        return self.base_attack().priors_to_train(provided)

    def base_attack(self) -> GMI:
        cfg: LOMMAConfig = self.config
        base_cls = GMI if cfg.base == "gmi" else KEDMI
        overrides = {
            "identity_loss": cfg.identity_loss,
            "progress": cfg.progress,
            "device": cfg.device,
            "precision": cfg.precision,
        }
        return base_cls({**(cfg.base_config or {}), **overrides})

    def _public(self, knowledge: Knowledge, shape: tuple[int, ...]) -> torch.Tensor:
        aux = knowledge.require(
            "auxiliary", "LOMMA distils its augmented models and p_reg from public images"
        )
        src = aux if isinstance(aux, ImageSource) else ImageSource(aux)
        n = min(len(src), self.config.public_samples)
        return src.get(torch.arange(n, device="cpu"))

    def plugin(self, view: TargetView, knowledge: Knowledge, seed: int) -> LOMMAPlugin:
        """Distil the augmented models and compute ``p_reg`` (white-box target)."""
        cfg: LOMMAConfig = self.config
        to_input = target_input(view, knowledge)
        module = view.module
        dev = devices.attack_device(cfg.device, view)
        x = to_input(self._public(knowledge, to_input.shape).to(dev))
        probs_of = scores_fn(view, dev)
        teacher = torch.cat([probs_of(x[i : i + 256]) for i in range(0, x.shape[0], 256)])
        k = teacher.shape[1]
        features = penultimate(module, view) if cfg.feature_weight > 0 else None
        reference = None
        if features is not None:
            with torch.no_grad():
                reference = torch.cat(
                    [features(x[i : i + 256])[0].flatten(1) for i in range(0, x.shape[0], 256)]
                ).mean(0)
        students: list[Callable[[torch.Tensor], torch.Tensor]] = []
        agreement = []
        for i in range(cfg.augmented_models):
            arch = cfg.students[i % len(cfg.students)]
            torch.manual_seed(seed + 101 + i)
            net = devices.build(
                lambda arch=arch: STUDENTS[arch](to_input.shape, k, cfg.student_width),  # type: ignore[misc,arg-type]
                dev,
            )
            distill_classifier(
                net,
                x,
                teacher,
                TrainConfig(epochs=cfg.distill_epochs, lr=cfg.distill_lr),
                temperature=cfg.distill_temperature,
                seed=seed + 101 + i,
                progress=cfg.progress,
                desc=f"LOMMA student {i} ({arch})",
            )
            for p in net.parameters():
                p.requires_grad_(False)
            with torch.no_grad():
                agreement.append(float((net(x).argmax(1) == teacher.argmax(1)).float().mean()))
            students.append(net)
        return LOMMAPlugin(
            students,
            features,
            reference,
            cfg.feature_weight,
            {"student_agreement": agreement, "public_samples": int(x.shape[0])},
        )

    def _run(self, view: TargetView, knowledge: Knowledge, seed: int) -> AttackResult:
        plugin = self.plugin(view, knowledge, seed)
        result = self.base_attack()._invert(view, knowledge, seed, plugin=plugin)
        result.info.update(base=self.config.base, lomma=plugin.info)
        return result
