"""GMI: the generative model-inversion attack (Zhang et al., CVPR 2020; survey Table I).

A WGAN-GP generator trained on public data is the prior; the attack searches its latent space
with momentum SGD (Nesterov, as in the authors' code) for

    z* = argmin_z  lambda_iden * CE(f(G(z)), c) + L_prior(G(z)),   L_prior = -D(G(z))

clipping z to [-1, 1] after each step. We write the objective as ``CE + prior_weight * L_prior``
(the paper's lambda_iden = 100 is prior_weight = 0.01): the WGAN critic is unbounded, and a large
weight on it trades identity for public-data realism (the issue's probe: weight 1 dropped
accuracy). All target classes are optimised in one batch, ``samples_per_class`` rows each.
LOMMA (``mi_vision.attacks.lomma``) plugs into this attack.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import torch

from mi_core.config import check_choice, check_positive
from mi_core.threat import Access
from mi_vision.augment import get_augment
from mi_vision.inversion import Context, GANAttackConfig, GANInversion, GeneratorObjective
from mi_vision.losses import get_identity_loss
from mi_vision.optimizers import GradientOptimizer, LatentOptimizer, SearchProblem


@dataclass
class GMIConfig(GANAttackConfig):
    """Hyper-parameters of GMI (paper defaults in brackets).

    Attributes:
        steps: latent updates [1500 in the authors' code].
        lr, momentum: SGD step and momentum [0.02, 0.9].
        optimizer: ``sgd`` (momentum SGD, the paper) or ``adam``.
        identity_loss: ``ce`` (the paper), ``poincare``, ``max-margin``, ``logit``, ``1-p``.
        prior_weight: weight of the discriminator's realism loss [1/100].
        latent_clip: clip z to [-latent_clip, latent_clip] after each step [1.0]; ``None``: off.
        augment, n_aug: augmentation preset and copies per step for the identity loss (off in
            the paper).
    """

    steps: int = 1500
    lr: float = 0.02
    momentum: float = 0.9
    optimizer: Literal["sgd", "adam"] = "sgd"
    identity_loss: str = "ce"
    prior_weight: float = 0.01
    latent_clip: float | None = 1.0
    augment: str = "none"
    n_aug: int = 1

    def __post_init__(self) -> None:
        super().__post_init__()
        check_positive("steps", self.steps)
        check_positive("lr", self.lr)
        check_positive("prior_weight", self.prior_weight, allow_zero=True)
        check_choice("optimizer", self.optimizer, ("sgd", "adam"))
        get_identity_loss(self.identity_loss)
        get_augment(self.augment)
        check_positive("n_aug", self.n_aug)
        if self.latent_clip is not None:
            check_positive("latent_clip", self.latent_clip)


class GMI(GANInversion):
    """Latent search of a WGAN-GP prior with identity + discriminator loss (Zhang et al. 2020)."""

    name = "gmi"
    modality = "image"
    access = Access.WHITE_BOX
    paper = "Zhang et al., CVPR 2020"
    summary = "momentum SGD in a WGAN-GP prior's latent space, CE + discriminator prior"
    Config = GMIConfig
    default_prior = (("kind", "gmi"),)

    def _project(self, ctx: Context) -> Any:
        clip = self.config.latent_clip
        if clip is None or ctx.prior.space != "z":
            return None
        return lambda z: z.clamp(-clip, clip)

    def _initial(self, ctx: Context) -> tuple[torch.Tensor, torch.Tensor]:
        rows, z = super()._initial(ctx)
        project = self._project(ctx)
        return rows, project(z) if project is not None else z

    def _objective(self, ctx: Context, plugin: Any) -> GeneratorObjective:
        cfg = self.config
        extra = plugin.classifiers if plugin is not None else []
        weight = cfg.prior_weight
        if weight > 0 and ctx.prior.discriminator is None:
            ctx.info["note"] = "the prior has no discriminator: the realism term is off"
            weight = 0.0
        return GeneratorObjective(
            ctx.prior,
            ctx.to_input,
            [ctx.view, *extra],
            get_identity_loss(cfg.identity_loss),
            prior_weight=weight,
            augment=get_augment(cfg.augment),
            n_aug=cfg.n_aug,
            rng=ctx.rng,
            features=plugin.features if plugin is not None else None,
            feature_reference=plugin.reference if plugin is not None else None,
            feature_weight=plugin.feature_weight if plugin is not None else 0.0,
        )

    def _problem(self, ctx: Context, rows: torch.Tensor, plugin: Any) -> SearchProblem:
        return SearchProblem(rows, ctx.rng, loss=self._objective(ctx, plugin))

    def _optimizer(
        self, ctx: Context, rows: torch.Tensor, latents: torch.Tensor
    ) -> LatentOptimizer:
        cfg = self.config
        return GradientOptimizer(
            latents, cfg.optimizer, cfg.lr, cfg.momentum, project=self._project(ctx)
        )
