"""VMI: variational model inversion (Wang et al., NeurIPS 2021; survey Table I, [10]).

Model inversion as variational inference: per target class ``y`` a distribution ``q(z)`` over
the generator's latent space approximates the posterior ``p(z | y)`` by minimising

    E_{z ~ q} [ -log p_f(y | G(z)) ]  +  lambda * KL( q(z) || p(z) ),

``p(z)`` being the latent distribution of the public data under the generator (its input
noise, or the distribution of mapped latents in W). This is the paper's simpler variant: ``q``
is a diagonal Gaussian (the paper's main results use a flow), optimised through the
reparameterisation trick (the shared :class:`~mi_vision.optimizers.DistributionOptimizer`).
In W space ``p(z)`` is the diagonal Gaussian fitted to mapped latents, and the search runs in
its standardised coordinates, where the KL is to ``N(0, I)``. The KL term trades accuracy for
diversity: the reconstructions are ``samples_per_class`` draws of each learned ``q``; judge them
with precision / recall / density / coverage (:func:`mi_vision.metrics.prdc_per_class`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from mi_core.config import check_positive
from mi_core.threat import Access
from mi_vision.augment import get_augment
from mi_vision.inversion import Context, GANAttackConfig, GANInversion, GeneratorObjective
from mi_vision.losses import get_identity_loss, kl_standard_normal
from mi_vision.optimizers import (
    DistributionOptimizer,
    LatentOptimizer,
    SearchProblem,
    SearchResult,
)


@dataclass
class VMIConfig(GANAttackConfig):
    """Hyper-parameters of VMI (the paper's in brackets).

    Attributes:
        steps, lr: Adam steps and step size on the distribution's parameters.
        samples: draws of ``q`` per class and step (the expectation's Monte-Carlo estimate).
        kl_weight: lambda, the weight of ``KL(q || p)`` (per latent dimension summed).
        init_logvar: initial log-variance of ``q`` (0: ``q`` starts as the prior).
        identity_loss: ``ce`` [-log p(y | x), the paper].
        augment, n_aug: augmentation of generated images (off in the paper).
        samples_per_class: draws of each learned ``q`` returned as reconstructions.
        w_samples: latents mapped to fit ``p(w)`` when the search runs in W.
    """

    steps: int = 300
    lr: float = 0.05
    samples: int = 8
    kl_weight: float = 0.01
    init_logvar: float = 0.0
    identity_loss: str = "ce"
    augment: str = "none"
    n_aug: int = 1
    samples_per_class: int = 16
    w_samples: int = 5000

    def __post_init__(self) -> None:
        super().__post_init__()
        check_positive("steps", self.steps, allow_zero=True)  # 0: q stays the prior
        for name in ("lr", "samples", "n_aug", "w_samples"):
            check_positive(name, getattr(self, name))
        check_positive("kl_weight", self.kl_weight, allow_zero=True)
        get_identity_loss(self.identity_loss)
        get_augment(self.augment)


class _Standardised:
    """The Eq. 3 objective of latents ``m + s * u`` given ``u`` (the search's coordinates)."""

    def __init__(self, objective: GeneratorObjective, m: torch.Tensor, s: torch.Tensor) -> None:
        self.objective, self.m, self.s = objective, m, s

    def __call__(self, u: torch.Tensor, classes: torch.Tensor) -> torch.Tensor:
        return self.objective(self.m + self.s * u, classes)


class VMI(GANInversion):
    """A diagonal Gaussian per class in the latent space, fit by variational inference."""

    name = "vmi"
    modality = "image"
    access = Access.WHITE_BOX
    paper = "Wang et al., NeurIPS 2021"
    summary = "variational inference: a latent Gaussian per class, CE + KL to the latent prior"
    Config = VMIConfig
    default_prior = (("kind", "gmi"),)

    def _prior_moments(self, ctx: Context) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and standard deviation of ``p`` in the search space (exact in Z)."""
        if "moments" not in ctx.scratch:
            shape = ctx.prior.to_search(ctx.prior.sample_z(1)).shape[1:]
            if ctx.prior.space == "z":
                m, s = torch.zeros(shape, device=ctx.device), torch.ones(shape, device=ctx.device)
            else:
                g = torch.Generator().manual_seed(ctx.seed + 4099)
                w = ctx.prior.to_search(ctx.prior.sample_z(self.config.w_samples, g))
                m, s = w.mean(0), w.std(0).clamp_min(1e-4)
            ctx.scratch["moments"] = (m, s)
        return ctx.scratch["moments"]

    def _initial(self, ctx: Context) -> tuple[torch.Tensor, torch.Tensor]:
        m, _ = self._prior_moments(ctx)
        return ctx.classes.clone(), torch.zeros(ctx.classes.shape[0], *m.shape, device=ctx.device)

    def _problem(self, ctx: Context, rows: torch.Tensor, plugin: Any) -> SearchProblem:
        cfg: VMIConfig = self.config
        objective = GeneratorObjective(
            ctx.prior,
            ctx.to_input,
            [ctx.view],
            get_identity_loss(cfg.identity_loss),
            augment=get_augment(cfg.augment),
            n_aug=cfg.n_aug,
            rng=ctx.rng,
        )
        m, s = self._prior_moments(ctx)
        return SearchProblem(rows, ctx.rng, loss=_Standardised(objective, m, s))

    def _optimizer(
        self, ctx: Context, rows: torch.Tensor, latents: torch.Tensor
    ) -> LatentOptimizer:
        cfg: VMIConfig = self.config
        return DistributionOptimizer(
            latents,
            lr=cfg.lr,
            init_logvar=cfg.init_logvar,
            samples=cfg.samples,
            kl_weight=cfg.kl_weight,
        )

    def _final(
        self, ctx: Context, optimizer: LatentOptimizer, search: SearchResult, rows: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        assert isinstance(optimizer, DistributionOptimizer)
        k = self.config.samples_per_class
        m, s = self._prior_moments(ctx)
        with torch.no_grad():
            u = optimizer.draw(k, ctx.rng)
            sigma = (0.5 * optimizer.logvar).exp()
            kl = kl_standard_normal(optimizer.mu, optimizer.logvar)
        ctx.info["q_std_mean"] = float(sigma.mean())
        ctx.info["kl_to_prior"] = float(kl.mean())  # per class, in the standardised space
        return rows.repeat_interleave(k), m + s * u
