"""KEDMI: knowledge-enriched distributional model inversion (Chen et al., ICCV 2021).

Two changes to GMI (survey Table I): (1) an *inversion-specific GAN* whose discriminator is a
K-way classifier distilled from the target's soft labels on public data, with its generator
pushed to class-like images (``PriorConfig(kind="kedmi")``, trained with the target); (2)
*distributional recovery*: per class a learnable Gaussian ``N(mu, sigma^2)`` over z, optimised
with Adam through the reparameterisation trick on

    CE(f(G(z)), c) + prior_weight * (-log D_real(G(z))),   z = clip(mu + sigma * eps, -1, 1),

after which reconstructions are samples of the learned distribution (``samples_per_class``
of them per class). The authors' code weighs the identity term 100x (prior_weight 0.01),
initialises mu = 0 and clips z to [-1, 1]. LOMMA plugs into this attack.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from mi_core.config import check_positive
from mi_vision.attacks.gmi import GMI, GMIConfig
from mi_vision.inversion import Context
from mi_vision.optimizers import DistributionOptimizer, LatentOptimizer, SearchResult


@dataclass
class KEDMIConfig(GMIConfig):
    """Hyper-parameters of KEDMI (the authors' code in brackets); GMI's fields plus:

    Attributes:
        samples: draws of the distribution per class and step [1 per identity].
        init_logvar: initial log-variance of each class's Gaussian.
        kl_weight: KL(N(mu, sigma) || N(0, I)) weight (VMI-style; 0 in KEDMI).
        samples_per_class: reconstructions drawn from each learned distribution.
    """

    lr: float = 0.02
    optimizer: str = "adam"
    samples: int = 4
    init_logvar: float = 0.0
    kl_weight: float = 0.0
    samples_per_class: int = 5

    def __post_init__(self) -> None:
        super().__post_init__()
        check_positive("samples", self.samples)
        check_positive("kl_weight", self.kl_weight, allow_zero=True)


class KEDMI(GMI):
    """Distributional latent search in an inversion-specific GAN (Chen et al. 2021)."""

    name = "kedmi"
    paper = "Chen et al., ICCV 2021"
    summary = "learned latent Gaussian per class in a target-distilled GAN (K-way discriminator)"
    Config = KEDMIConfig
    prior_kinds = ("kedmi",)
    default_prior = (("kind", "kedmi"),)

    def _initial(self, ctx: Context) -> tuple[torch.Tensor, torch.Tensor]:
        mu = torch.zeros(
            ctx.classes.shape[0],
            *ctx.prior.to_search(ctx.prior.sample_z(1)).shape[1:],
            device=ctx.device,
        )
        return ctx.classes.clone(), mu

    def _optimizer(
        self, ctx: Context, rows: torch.Tensor, latents: torch.Tensor
    ) -> LatentOptimizer:
        cfg = self.config
        return DistributionOptimizer(
            latents,
            lr=cfg.lr,
            init_logvar=cfg.init_logvar,
            samples=cfg.samples,
            kl_weight=cfg.kl_weight,
            project=self._project(ctx),
        )

    def _final(
        self, ctx: Context, optimizer: LatentOptimizer, search: SearchResult, rows: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        assert isinstance(optimizer, DistributionOptimizer)
        k = self.config.samples_per_class
        with torch.no_grad():
            z = optimizer.draw(k, ctx.rng)
        return rows.repeat_interleave(k), z
