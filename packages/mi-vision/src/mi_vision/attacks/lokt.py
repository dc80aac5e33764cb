"""LOKT: label-only model inversion via knowledge transfer (Nguyen et al., NeurIPS 2023; survey
Sec. IV-A-4, [70]).

Three steps, the target seen through a label-only view (every labelled image a counted query):

1. **T-ACGAN** (``PriorConfig(kind="lokt")``, :func:`mi_vision.priors.train_prior`): a
   conditional generator and a discriminator with a classifier head ``C o D`` trained on public
   images labelled by the target's hard labels and on generated images labelled by the target;
   the generator is pushed to images ``C o D`` assigns to the conditioned class;
2. **surrogate models**: ``surrogates`` classifiers (the architectures of LOMMA's students)
   trained on ``surrogate_samples`` images of ``G(z, c)`` labelled by the target;
3. **white-box attack on the surrogates**: PLG-MI's search (Adam on ``z`` of ``G(z, c)``, the
   max-margin loss averaged over the surrogates and random augmentations), which costs no
   further query.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from mi_core import device as devices
from mi_core.config import check_choice, check_positive
from mi_core.threat import Access
from mi_vision.attacks.lomma import STUDENTS
from mi_vision.augment import get_augment
from mi_vision.inversion import (
    Context,
    GANAttackConfig,
    GANInversion,
    GeneratorObjective,
    generate,
)
from mi_vision.losses import get_identity_loss
from mi_vision.optimizers import GradientOptimizer, LatentOptimizer, SearchProblem
from mi_vision.targets import labels_fn
from mi_vision.training import TrainConfig, accuracy, train_classifier


@dataclass
class LOKTConfig(GANAttackConfig):
    """Hyper-parameters of LOKT (the authors' code in brackets).

    Attributes:
        surrogates: surrogate classifiers [3 DenseNets].
        students: their architectures, cycled: ``cnn``, ``resnet``, ``mlp``.
        student_width: their width.
        surrogate_samples: generated images labelled by the target to train them.
        surrogate_epochs, surrogate_lr: their training.
        steps, lr: Adam on the latents [600 in PLG-MI's attack, 0.1].
        identity_loss: ``max-margin`` [the authors] or another identity loss.
        augment, n_aug: augmentation preset and copies per step [2].
    """

    surrogates: int = 2
    students: tuple[str, ...] = ("cnn", "resnet")
    student_width: int = 16
    surrogate_samples: int = 2000
    surrogate_epochs: int = 10
    surrogate_lr: float = 2e-3
    steps: int = 300
    lr: float = 0.1
    identity_loss: str = "max-margin"
    augment: str = "standard"
    n_aug: int = 2

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("surrogates", "student_width", "surrogate_samples", "surrogate_epochs"):
            check_positive(name, getattr(self, name))
        check_positive("steps", self.steps, allow_zero=True)  # 0: no search
        for name in ("surrogate_lr", "lr", "n_aug"):
            check_positive(name, getattr(self, name))
        for s in self.students:
            check_choice("students", s, tuple(STUDENTS))
        get_identity_loss(self.identity_loss)
        get_augment(self.augment)


class LOKT(GANInversion):
    """T-ACGAN from hard labels, surrogates trained on its samples, white-box on the surrogates."""

    name = "lokt"
    modality = "image"
    access = Access.LABEL_ONLY
    paper = "Nguyen et al., NeurIPS 2023"
    summary = "label-only: target-labelled ACGAN, surrogate models, white-box attack on them"
    Config = LOKTConfig
    prior_kinds = ("lokt",)
    conditional = True
    default_prior = (("kind", "lokt"),)

    def _surrogates(self, ctx: Context) -> list[Callable[[torch.Tensor], torch.Tensor]]:
        """Train the surrogates on generated images labelled by the target (counted)."""
        cfg: LOKTConfig = self.config
        k = int(ctx.prior.num_classes or 0)
        n = cfg.surrogate_samples
        g = torch.Generator().manual_seed(ctx.seed + 211)
        y = devices.randint(0, k, (n,), generator=g, device=ctx.device)
        z = ctx.prior.sample_z(n, g)
        x = ctx.to_input(generate(ctx.prior, z, y))
        label = labels_fn(ctx.view, ctx.device)
        q0 = ctx.view.queries
        y_target = torch.cat([label(x[i : i + 256]) for i in range(0, n, 256)])
        ctx.info["surrogate_queries"] = ctx.view.queries - q0
        ctx.info["generator_label_agreement"] = float((y_target == y).float().mean())
        nets, agree = [], []
        for i in range(cfg.surrogates):
            arch = cfg.students[i % len(cfg.students)]
            torch.manual_seed(ctx.seed + 307 + i)
            net = devices.build(
                lambda arch=arch: STUDENTS[arch](ctx.to_input.shape, k, cfg.student_width),  # type: ignore[misc,arg-type]
                ctx.device,
            )
            train_classifier(
                net,
                x,
                y_target,
                TrainConfig(epochs=cfg.surrogate_epochs, lr=cfg.surrogate_lr),
                seed=ctx.seed + 307 + i,
                progress=cfg.progress,
                desc=f"LOKT surrogate {i} ({arch})",
            )
            for p in net.parameters():
                p.requires_grad_(False)
            agree.append(accuracy(net, x, y_target))
            nets.append(net)
        ctx.info["surrogate_train_agreement"] = agree
        return nets

    def _problem(self, ctx: Context, rows: torch.Tensor, plugin: Any) -> SearchProblem:
        cfg: LOKTConfig = self.config
        if cfg.steps == 0:  # no search: no surrogates to train (and no query to spend)
            return SearchProblem(rows, ctx.rng)
        objective = GeneratorObjective(
            ctx.prior,
            ctx.to_input,
            self._surrogates(ctx),
            get_identity_loss(cfg.identity_loss),
            augment=get_augment(cfg.augment),
            n_aug=cfg.n_aug,
            rng=ctx.rng,
        )
        return SearchProblem(rows, ctx.rng, loss=objective)

    def _optimizer(
        self, ctx: Context, rows: torch.Tensor, latents: torch.Tensor
    ) -> LatentOptimizer:
        return GradientOptimizer(latents, "adam", self.config.lr)
