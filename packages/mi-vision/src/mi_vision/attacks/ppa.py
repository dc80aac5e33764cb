"""PPA: Plug & Play Attacks (Struppek et al., ICML 2022) on any generator of the interface.

A pretrained generator (StyleGAN-like, searched in W; a plain generator is searched in Z) is
plugged in without training it on the target:

1. *initial selection*: ``candidates`` random latents; per class the ``samples_per_class`` whose
   images the target finds most confident, averaged over ``n_aug_init`` augmentations;
2. *optimisation*: Adam on the latents minimising the Poincaré loss (survey Eq. 4) of the
   target on a fresh random augmentation of each image per step;
3. *final selection*: per class the ``keep`` results whose confidence survives ``n_aug_final``
   augmentations best (survey Sec. IV-A-5-c).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from mi_core.config import check_positive
from mi_core.errors import ConfigError
from mi_core.threat import Access
from mi_vision.augment import get_augment
from mi_vision.inversion import Context, GANAttackConfig, GANInversion, GeneratorObjective, generate
from mi_vision.losses import get_identity_loss
from mi_vision.optimizers import GradientOptimizer, LatentOptimizer, SearchProblem, SearchResult
from mi_vision.selection import final_selection, initial_selection
from mi_vision.targets import scores_fn


@dataclass
class PPAConfig(GANAttackConfig):
    """Hyper-parameters of PPA (the paper's in brackets).

    Attributes:
        candidates: random latents of the initial selection [5000].
        samples_per_class: latents optimised per class [50].
        keep: reconstructions kept per class by the final selection [25 of 50].
        steps, lr, betas: Adam on the latents [70 epochs, 0.005, (0.1, 0.1)].
        identity_loss: ``poincare`` [the paper] or another identity loss.
        augment: preset of the random augmentation applied each step and in both selections.
        n_aug_init, n_aug_final: augmented copies scored in the initial / final selection.
    """

    candidates: int = 1000
    samples_per_class: int = 4
    keep: int = 2
    steps: int = 100
    lr: float = 0.02
    betas: tuple[float, float] = (0.1, 0.1)
    identity_loss: str = "poincare"
    augment: str = "standard"
    n_aug_init: int = 4
    n_aug_final: int = 16

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("candidates", "keep", "steps", "lr"):
            check_positive(name, getattr(self, name))
        check_positive("n_aug_init", self.n_aug_init, allow_zero=True)
        check_positive("n_aug_final", self.n_aug_final, allow_zero=True)
        if self.keep > self.samples_per_class:
            raise ConfigError(
                f"keep: {self.keep} exceeds samples_per_class ({self.samples_per_class})"
            )
        if self.samples_per_class > self.candidates:
            raise ConfigError("samples_per_class: cannot exceed candidates")
        get_identity_loss(self.identity_loss)
        get_augment(self.augment)


class PPA(GANInversion):
    """Initial selection, Poincaré-loss Adam in W under augmentations, final selection."""

    name = "ppa"
    modality = "image"
    access = Access.WHITE_BOX
    paper = "Struppek et al., ICML 2022"
    summary = "pretrained-generator plug-in: initial selection, Poincaré loss, final selection"
    Config = PPAConfig
    default_prior = (("kind", "gmi"), ("mapping_layers", 3))

    def _initial(self, ctx: Context) -> tuple[torch.Tensor, torch.Tensor]:
        cfg: PPAConfig = self.config
        latents, rows = initial_selection(
            ctx.prior,
            ctx.classes,
            cfg.samples_per_class,
            cfg.candidates,
            scores_fn(ctx.view, ctx.device),
            ctx.to_input,
            augment=get_augment(cfg.augment),
            n_aug=cfg.n_aug_init,
            rng=ctx.rng,
        )
        return rows, latents

    def _problem(self, ctx: Context, rows: torch.Tensor, plugin: object) -> SearchProblem:
        cfg: PPAConfig = self.config
        objective = GeneratorObjective(
            ctx.prior,
            ctx.to_input,
            [ctx.view],
            get_identity_loss(cfg.identity_loss),
            augment=get_augment(cfg.augment),
            n_aug=1,
            rng=ctx.rng,
        )
        return SearchProblem(rows, ctx.rng, loss=objective)

    def _optimizer(
        self, ctx: Context, rows: torch.Tensor, latents: torch.Tensor
    ) -> LatentOptimizer:
        cfg: PPAConfig = self.config
        return GradientOptimizer(latents, "adam", cfg.lr, betas=cfg.betas, project=ctx.prior.clip)

    def _final(
        self, ctx: Context, optimizer: LatentOptimizer, search: SearchResult, rows: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        cfg: PPAConfig = self.config
        images = generate(ctx.prior, search.latents, rows)
        keep = final_selection(
            images,
            rows,
            cfg.keep,
            scores_fn(ctx.view, ctx.device),
            ctx.to_input,
            augment=get_augment(cfg.augment),
            n_aug=cfg.n_aug_final,
            rng=ctx.rng,
        )
        return rows[keep], search.latents[keep]
