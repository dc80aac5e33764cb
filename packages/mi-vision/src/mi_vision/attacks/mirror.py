"""Mirror: model inversion with a StyleGAN prior (An et al., NDSS 2022), white-box (Mirror-w)
and black-box (Mirror-b).

Both start from an *initial selection*: many random latents are mapped to W and the ones the
target finds most confident for each class seed the search. Both search W (the output of the
mapping network) and apply *P-space clipping* after each change: ``w`` is projected to P (the
input of the mapping network's last LeakyReLU), clipped to ``[mu - k sigma, mu + k sigma]`` of
P-space activations of random z, and projected back, keeping the styles in distribution (survey
Sec. IV-A-4-c). Clipping needs a mapping network; on a plain generator the search runs in Z
without it (noted in the result).

* Mirror-w: Adam on w minimising the cross-entropy of the target.
* Mirror-b: a genetic algorithm over w (population per class, elitism, uniform crossover,
  Gaussian mutation scaled by the spread of W) whose fitness is the target's confidence; it
  only calls the black-box view.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from mi_core.config import check_positive
from mi_core.errors import ConfigError
from mi_core.threat import Access
from mi_vision.augment import get_augment
from mi_vision.inversion import (
    Context,
    GANAttackConfig,
    GANInversion,
    GeneratorObjective,
    ScoreObjective,
)
from mi_vision.losses import get_identity_loss
from mi_vision.optimizers import (
    GeneticOptimizer,
    GradientOptimizer,
    LatentOptimizer,
    SearchProblem,
    SearchResult,
)
from mi_vision.selection import initial_selection
from mi_vision.targets import scores_fn


def p_space_clip(
    prior, k: float | None, rng: torch.Generator, samples: int = 5000
) -> tuple[Callable[[torch.Tensor], torch.Tensor] | None, dict]:
    """Mirror's P-space clipping as a projection (``None`` without a mapping network)."""
    if k is None or prior.p_space is None or prior.space != "w":
        why = "off" if k is None else "no mapping network: no P space"
        return None, {"p_clip": why}
    mu, sigma = prior.p_stats(samples, rng)
    lo, hi = mu - k * sigma, mu + k * sigma

    def project(w: torch.Tensor) -> torch.Tensor:
        return prior.from_p(torch.max(torch.min(prior.to_p(w), hi), lo))

    return project, {"p_clip": f"[mu - {k} sigma, mu + {k} sigma] over {samples} samples"}


@dataclass
class MirrorConfig(GANAttackConfig):
    """Fields shared by Mirror-w and Mirror-b.

    Attributes:
        candidates: random latents scored for the initial selection.
        p_clip: clip P-space activations to ``mu +- p_clip * sigma`` (``None``: off).
        p_samples: random z used to estimate mu and sigma of P.
    """

    candidates: int = 1000
    p_clip: float | None = 1.0
    p_samples: int = 5000

    def __post_init__(self) -> None:
        super().__post_init__()
        check_positive("candidates", self.candidates)
        check_positive("p_samples", self.p_samples)
        if self.p_clip is not None:
            check_positive("p_clip", self.p_clip)
        if self.samples_per_class > self.candidates:
            raise ConfigError("samples_per_class: cannot exceed candidates")


class _Mirror(GANInversion):
    modality = "image"
    paper = "An et al., NDSS 2022"
    default_prior = (("kind", "gmi"), ("mapping_layers", 3))

    def _project(self, ctx: Context):  # type: ignore[no-untyped-def]
        if "project" not in ctx.scratch:
            proj, info = p_space_clip(ctx.prior, self.config.p_clip, ctx.rng, self.config.p_samples)
            ctx.scratch["project"] = proj
            ctx.info.update(info)
        return ctx.scratch["project"]

    def _select(self, ctx: Context, per_class: int) -> tuple[torch.Tensor, torch.Tensor]:
        latents, rows = initial_selection(
            ctx.prior,
            ctx.classes,
            per_class,
            self.config.candidates,
            scores_fn(ctx.view, ctx.device),
            ctx.to_input,
            rng=ctx.rng,
        )
        project = self._project(ctx)
        return rows, project(latents) if project is not None else latents


@dataclass
class MirrorWConfig(MirrorConfig):
    """Mirror-w: ``steps`` Adam updates of w at learning rate ``lr`` on ``identity_loss``.

    Attributes:
        steps: Adam updates of the latents.
        lr: Adam learning rate.
        identity_loss: ``ce``, ``poincare``, ``max-margin``, ``logit`` or ``1-p``.
        augment, n_aug: augmentation preset and copies per step for the identity loss.
    """

    steps: int = 200
    lr: float = 0.05
    identity_loss: str = "ce"
    augment: str = "none"
    n_aug: int = 1

    def __post_init__(self) -> None:
        super().__post_init__()
        check_positive("steps", self.steps)
        check_positive("lr", self.lr)
        get_identity_loss(self.identity_loss)
        get_augment(self.augment)


class MirrorW(_Mirror):
    """White-box Mirror: initial selection, Adam in W, P-space clipping."""

    name = "mirror-w"
    access = Access.WHITE_BOX
    summary = "initial selection, Adam in StyleGAN's W space with P-space clipping"
    Config = MirrorWConfig

    def _initial(self, ctx: Context) -> tuple[torch.Tensor, torch.Tensor]:
        return self._select(ctx, self.config.samples_per_class)

    def _problem(self, ctx: Context, rows: torch.Tensor, plugin: object) -> SearchProblem:
        cfg = self.config
        objective = GeneratorObjective(
            ctx.prior,
            ctx.to_input,
            [ctx.view],
            get_identity_loss(cfg.identity_loss),
            augment=get_augment(cfg.augment),
            n_aug=cfg.n_aug,
            rng=ctx.rng,
        )
        return SearchProblem(rows, ctx.rng, loss=objective)

    def _optimizer(
        self, ctx: Context, rows: torch.Tensor, latents: torch.Tensor
    ) -> LatentOptimizer:
        return GradientOptimizer(latents, "adam", self.config.lr, project=self._project(ctx))


@dataclass
class MirrorBConfig(MirrorConfig):
    """Mirror-b: a genetic search of ``steps`` generations.

    Attributes:
        steps: generations of the genetic search.
        population: latents per class (the most confident of the initial pool).
        elite: survivors per generation.
        mutation_prob, mutation_std: per-gene mutation probability and scale (times the
            per-dimension standard deviation of the search space).
    """

    steps: int = 50
    population: int = 32
    elite: int = 4
    mutation_prob: float = 0.1
    mutation_std: float = 0.5

    def __post_init__(self) -> None:
        super().__post_init__()
        check_positive("steps", self.steps)
        check_positive("population", self.population)
        if not 1 <= self.elite < self.population:
            raise ConfigError(f"elite: must lie in [1, population - 1], got {self.elite}")
        if self.population > self.candidates:
            raise ConfigError("population: cannot exceed candidates")
        check_positive("mutation_prob", self.mutation_prob, allow_zero=True)
        check_positive("mutation_std", self.mutation_std, allow_zero=True)


class MirrorB(_Mirror):
    """Black-box Mirror: initial selection, genetic search in W with P-space clipping."""

    name = "mirror-b"
    access = Access.BLACK_BOX_SCORES
    summary = "black-box: genetic search in W from the target's scores, P-space clipping"
    Config = MirrorBConfig

    def _initial(self, ctx: Context) -> tuple[torch.Tensor, torch.Tensor]:
        cfg: MirrorBConfig = self.config
        _, pop = self._select(ctx, cfg.population)
        ctx.scratch["population"] = pop.view(ctx.classes.shape[0], cfg.population, *pop.shape[1:])
        with torch.no_grad():
            sample = ctx.prior.to_search(ctx.prior.sample_z(2000, ctx.rng))
        ctx.scratch["spread"] = sample.std(0)
        return ctx.classes.clone(), pop

    def _problem(self, ctx: Context, rows: torch.Tensor, plugin: object) -> SearchProblem:
        objective = ScoreObjective(ctx.prior, ctx.to_input, scores_fn(ctx.view, ctx.device))
        return SearchProblem(rows, ctx.rng, loss=objective, remaining=lambda: ctx.view.remaining)

    def _optimizer(
        self, ctx: Context, rows: torch.Tensor, latents: torch.Tensor
    ) -> LatentOptimizer:
        cfg: MirrorBConfig = self.config
        return GeneticOptimizer(
            ctx.scratch["population"],
            elite=cfg.elite,
            mutation_prob=cfg.mutation_prob,
            mutation_std=cfg.mutation_std * ctx.scratch["spread"],
            project=self._project(ctx),
        )

    def _final(
        self, ctx: Context, optimizer: LatentOptimizer, search: SearchResult, rows: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        assert isinstance(optimizer, GeneticOptimizer)
        k = self.config.samples_per_class
        fit = torch.nan_to_num(optimizer.fit, nan=float("-inf"))
        top = fit.topk(k, dim=1).indices  # the k fittest of each class's population
        rows_idx = torch.arange(rows.shape[0], device=top.device)[:, None]
        latents = optimizer.pop[rows_idx, top].flatten(0, 1)
        return rows.repeat_interleave(k), latents
