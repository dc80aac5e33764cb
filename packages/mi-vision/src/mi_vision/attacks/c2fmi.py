"""C2FMI: coarse-to-fine black-box model inversion (Ye et al., IEEE TDSC 2023; survey
Sec. IV-A-3-b and IV-A-4, [34]).

1. **Inversion network** (coarse): the attacker feeds public images to the target (counted
   queries) and to a public feature extractor ``xi`` it holds white-box, and trains a network
   ``M`` from the target's truncated confidence vectors to ``xi``'s features (the shared
   :func:`~mi_vision.attacks.inversion_model.train_inversion` with an unbounded output).
2. **Coarse search**: for each class, ``M`` maps a prediction concentrated on the class
   (C2FMI: a large value on the class over small random ones) to a feature ``e_c``; a
   population of latents is optimised with Adam to minimise ``||xi(G(z)) - e_c||^2``, a
   white-box attack on the attacker's own models: no target query.
3. **Fine search**: a genetic algorithm (the shared
   :class:`~mi_vision.optimizers.GeneticOptimizer`) from that population, fitness the target's
   confidence (black-box, counted); the ``samples_per_class`` fittest are the reconstructions.

``xi`` is ``knowledge.extra["feature_extractor"]`` (images in [0, 1] -> features; C2FMI uses a
public face-recognition network) or, when none is given, the prior's discriminator features
(trained on the public data only).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from mi_core import device as devices
from mi_core.config import check_positive
from mi_core.errors import ConfigError
from mi_core.threat import Access
from mi_vision.attacks.inversion_model import batched, train_inversion, truncate_topk
from mi_vision.data import ImageSource
from mi_vision.inversion import (
    Context,
    GANAttackConfig,
    GANInversion,
    ScoreObjective,
)
from mi_vision.optimizers import (
    GeneticOptimizer,
    GradientOptimizer,
    LatentOptimizer,
    SearchProblem,
    SearchResult,
    run_search,
)
from mi_vision.targets import scores_fn


@dataclass
class C2FMIConfig(GANAttackConfig):
    """Hyper-parameters of C2FMI (the authors' code in brackets).

    Attributes:
        public_samples: public images queried to train the inversion network.
        truncate: top-k of the confidence vectors the inversion network reads [1].
        epochs, hidden: inversion-network training.
        population: latents per class [32].
        coarse_steps, coarse_lr: Adam on the coarse objective [20, 0.02].
        steps: genetic generations [300].
        elite, mutation_prob, mutation_std: the genetic algorithm (``mutation_std`` times the
            per-dimension spread of the search space).
    """

    public_samples: int = 2000
    truncate: int | None = 1
    epochs: int = 30
    hidden: int = 256
    population: int = 16
    coarse_steps: int = 50
    coarse_lr: float = 0.05
    steps: int = 30
    elite: int = 2
    mutation_prob: float = 0.1
    mutation_std: float = 0.5

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("public_samples", "epochs", "hidden", "population"):
            check_positive(name, getattr(self, name))
        check_positive("coarse_lr", self.coarse_lr)
        check_positive("coarse_steps", self.coarse_steps, allow_zero=True)  # 0: no coarse search
        check_positive("steps", self.steps, allow_zero=True)  # 0: no genetic search
        if self.truncate is not None:
            check_positive("truncate", self.truncate)
        if not 1 <= self.elite < self.population:
            raise ConfigError(f"elite: must lie in [1, population - 1], got {self.elite}")
        if self.samples_per_class > self.population:
            raise ConfigError("samples_per_class: cannot exceed population")


class C2FMI(GANInversion):
    """Inversion network to a coarse latent, then a genetic search from black-box scores."""

    name = "c2fmi"
    modality = "image"
    access = Access.BLACK_BOX_SCORES
    paper = "Ye et al., IEEE TDSC 2023"
    summary = (
        "black-box: inversion network to public features, coarse latent search, genetic search"
    )
    Config = C2FMIConfig
    default_prior = (("kind", "gmi"), ("mapping_layers", 3))

    def _extractor(self, ctx: Context) -> Any:
        xi = ctx.knowledge.extra.get("feature_extractor")
        if xi is not None:
            ctx.info["feature_extractor"] = "knowledge.extra['feature_extractor']"
            if isinstance(xi, nn.Module):  # the attacker's own network: moved to its device
                xi.to(ctx.device)
            return lambda x: xi(x).to(ctx.device)
        disc = ctx.prior.discriminator
        if disc is None or not hasattr(disc, "features"):
            raise ConfigError(
                "knowledge.extra['feature_extractor']: C2FMI needs a public feature extractor "
                "(images -> features); give one, or a prior whose discriminator has `features`"
            )
        ctx.info["feature_extractor"] = "the prior's discriminator features"
        return lambda x: disc.features(x).flatten(1)

    def _initial(self, ctx: Context) -> tuple[torch.Tensor, torch.Tensor]:
        cfg: C2FMIConfig = self.config
        if ctx.prior.num_classes is not None:
            raise ConfigError("knowledge.prior: C2FMI searches an unconditional generator")
        xi = self._extractor(ctx)
        aux = ctx.knowledge.require("auxiliary", "C2FMI trains its inversion network on them")
        src = aux if isinstance(aux, ImageSource) else ImageSource(aux)
        public = src.get(torch.arange(min(len(src), cfg.public_samples), device="cpu"))
        public = public.to(ctx.device)
        probs = scores_fn(ctx.view, ctx.device)
        s = truncate_topk(batched(lambda x: probs(ctx.to_input(x)), public, 256), cfg.truncate)
        with torch.no_grad():
            feats = batched(xi, public, 256).flatten(1)
        net = train_inversion(
            s,
            feats,
            epochs=cfg.epochs,
            hidden=cfg.hidden,
            input_range=None,
            reads="scores",
            seed=ctx.seed,
            progress=cfg.progress,
        )
        k = s.shape[1]
        # a prediction concentrated on the class: small random entries, the class dominant
        pred = 1e-3 * devices.rand(ctx.classes.shape[0], k, generator=ctx.rng, device=ctx.device)
        pred[torch.arange(ctx.classes.shape[0], device=ctx.device), ctx.classes] = 1.0
        pred = truncate_topk(pred / pred.sum(1, keepdim=True), cfg.truncate)
        with torch.no_grad():
            goal = net(pred).flatten(1)  # (C, d)
        rows = ctx.classes.repeat_interleave(cfg.population)
        z = ctx.prior.to_search(ctx.prior.sample_z(rows.shape[0], ctx.rng))
        target = goal.repeat_interleave(cfg.population, 0)

        def coarse(lat: torch.Tensor, classes: torch.Tensor) -> torch.Tensor:
            del classes
            f = xi(ctx.prior.generate(lat)).flatten(1)
            return (f - target[: f.shape[0]]).pow(2).mean(1)

        search = run_search(
            GradientOptimizer(z, "adam", cfg.coarse_lr, project=ctx.prior.clip),
            SearchProblem(rows, ctx.rng, loss=coarse, precision=cfg.precision),
            cfg.coarse_steps,
            desc=f"{self.name} coarse",
            progress=cfg.progress,
        )
        pop = search.latents.view(ctx.classes.shape[0], cfg.population, *z.shape[1:])
        ctx.scratch["population"] = pop
        if search.steps:
            ctx.info["coarse_feature_error"] = float(search.best_loss.mean())
        ctx.info["public_queries"] = int(public.shape[0])
        with torch.no_grad():
            ctx.scratch["spread"] = ctx.prior.to_search(ctx.prior.sample_z(2000, ctx.rng)).std(0)
        return ctx.classes.clone(), pop

    def _problem(self, ctx: Context, rows: torch.Tensor, plugin: Any) -> SearchProblem:
        objective = ScoreObjective(ctx.prior, ctx.to_input, scores_fn(ctx.view, ctx.device))
        return SearchProblem(rows, ctx.rng, loss=objective, remaining=lambda: ctx.view.remaining)

    def _optimizer(
        self, ctx: Context, rows: torch.Tensor, latents: torch.Tensor
    ) -> LatentOptimizer:
        cfg: C2FMIConfig = self.config
        return GeneticOptimizer(
            ctx.scratch["population"],
            elite=cfg.elite,
            mutation_prob=cfg.mutation_prob,
            mutation_std=cfg.mutation_std * ctx.scratch["spread"],
            project=ctx.prior.clip,
        )

    def _final(
        self, ctx: Context, optimizer: LatentOptimizer, search: SearchResult, rows: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        assert isinstance(optimizer, GeneticOptimizer)
        k = self.config.samples_per_class
        fit = torch.nan_to_num(optimizer.fit, nan=float("-inf"))
        top = fit.topk(k, dim=1).indices
        rows_idx = torch.arange(rows.shape[0], device=top.device)[:, None]
        latents = optimizer.pop[rows_idx, top].flatten(0, 1)
        return rows.repeat_interleave(k), latents
