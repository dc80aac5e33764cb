"""BMI-S: sparse black-box inversion with limited information (Xu et al., ICASSP 2023; survey
Table I, [33]).

BREP-MI's pipeline with soft labels: the latent of each row climbs the gradient of the
target's cross-entropy estimated from black-box scores on a sphere of *fixed* radius (survey
Eq. 6 with the loss in place of the label indicator; the shared
:class:`~mi_vision.optimizers.ZerothOrderOptimizer`), starting from a *style-vector selection*:
the ``samples_per_class`` most confident of ``candidates`` random latents of the prior's search
space (W for a mapping generator). Every generated image is a counted query of the view.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from mi_core.config import check_positive
from mi_core.errors import ConfigError
from mi_core.threat import Access
from mi_vision.inversion import Context, GANAttackConfig, GANInversion, ScoreObjective
from mi_vision.optimizers import LatentOptimizer, SearchProblem, ZerothOrderOptimizer
from mi_vision.selection import initial_selection
from mi_vision.targets import scores_fn


@dataclass
class BMISConfig(GANAttackConfig):
    """Hyper-parameters of BMI-S.

    Attributes:
        steps: gradient-estimation steps.
        points: sphere directions per row and step (``points + 1`` queries per row and step).
        radius: the fixed sphere radius, relative to the latents' per-dimension spread (the
            search space's standard deviation times ``sqrt(dim)`` is 1).
        lr: Adam step on the estimated gradient.
        candidates: random latents scored for the style-vector selection (0: random start).
    """

    steps: int = 200
    points: int = 16
    radius: float = 0.3
    lr: float = 0.05
    candidates: int = 500

    def __post_init__(self) -> None:
        super().__post_init__()
        check_positive("steps", self.steps, allow_zero=True)  # 0: no search
        for name in ("points", "radius", "lr"):
            check_positive(name, getattr(self, name))
        check_positive("candidates", self.candidates, allow_zero=True)
        if self.candidates and self.candidates < self.samples_per_class:
            raise ConfigError("candidates: must be 0 or at least samples_per_class")


class BMIS(GANInversion):
    """Zeroth-order gradient estimation of the CE from black-box scores (Xu et al. 2023)."""

    name = "bmi-s"
    modality = "image"
    access = Access.BLACK_BOX_SCORES
    paper = "Xu et al., ICASSP 2023"
    summary = "black-box: style-vector selection, then gradient estimation on a fixed sphere"
    Config = BMISConfig
    default_prior = (("kind", "gmi"), ("mapping_layers", 3))

    def _spread(self, ctx: Context) -> torch.Tensor:
        if "spread" not in ctx.scratch:
            g = torch.Generator().manual_seed(ctx.seed + 977)
            with torch.no_grad():
                ctx.scratch["spread"] = ctx.prior.to_search(ctx.prior.sample_z(2000, g)).std(0)
        return ctx.scratch["spread"]

    def _initial(self, ctx: Context) -> tuple[torch.Tensor, torch.Tensor]:
        cfg: BMISConfig = self.config
        if not cfg.candidates or ctx.prior.num_classes is not None:
            return super()._initial(ctx)
        latents, rows = initial_selection(
            ctx.prior,
            ctx.classes,
            cfg.samples_per_class,
            cfg.candidates,
            scores_fn(ctx.view, ctx.device),
            ctx.to_input,
            rng=ctx.rng,
        )
        return rows, latents

    def _problem(self, ctx: Context, rows: torch.Tensor, plugin: Any) -> SearchProblem:
        objective = ScoreObjective(ctx.prior, ctx.to_input, scores_fn(ctx.view, ctx.device))
        spread = self._spread(ctx)

        def loss(u: torch.Tensor, classes: torch.Tensor) -> torch.Tensor:
            return objective(u * spread, classes)  # the search runs in standardised coordinates

        return SearchProblem(rows, ctx.rng, loss=loss, remaining=lambda: ctx.view.remaining)

    def _optimizer(
        self, ctx: Context, rows: torch.Tensor, latents: torch.Tensor
    ) -> LatentOptimizer:
        cfg: BMISConfig = self.config
        spread = self._spread(ctx)
        dim = latents[0].numel()
        clip = ctx.prior.clip

        return ZerothOrderOptimizer(
            latents / spread,
            points=cfg.points,
            radius=cfg.radius * dim**0.5,
            lr=cfg.lr,
            project=lambda u: clip(u * spread) / spread,
        )

    def _final(self, ctx, optimizer, search, rows):  # type: ignore[no-untyped-def]
        return rows, search.best * self._spread(ctx)
