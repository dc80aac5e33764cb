"""IF-GMI: intermediate-feature generative model inversion (Qiu et al., ECCV 2024; survey
Eq. 7, [68]).

The generator is split into blocks, ``G = G_L o ... o G_1 o G_0`` (:meth:`GeneratorPrior.stages`:
the mapping network of a mapping generator searched in Z, or the class conditioning, is block 0).
The attack first optimises the latent through the whole generator (stage 0), then, stage by
stage, the *input of the next block*: ``h_i = G_{i-1}(h*_{i-1})`` is the start of stage ``i``
and ``h`` is optimised through ``G_L o ... o G_i`` inside an L1 ball around ``h_i`` (radius
``l1_ball`` times ``||h_i||_1``), so the search gains the expressiveness of the intermediate
features while staying near the generator's manifold. Each stage is an Adam search (PPA's
setting: Poincaré loss under random augmentations); PPA's initial and final selections are
options (``candidates``, ``keep``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from mi_core.config import check_positive
from mi_core.errors import ConfigError
from mi_core.result import AttackResult
from mi_core.threat import Access, Knowledge
from mi_core.views import TargetView
from mi_vision.augment import get_augment
from mi_vision.inversion import (
    Context,
    GANAttackConfig,
    GANInversion,
    GeneratorObjective,
    prior_baseline,
)
from mi_vision.losses import get_identity_loss
from mi_vision.optimizers import GradientOptimizer, SearchProblem, l1_ball, run_search
from mi_vision.selection import final_selection, initial_selection
from mi_vision.targets import scores_fn


def compose(fns: Sequence[Callable[[torch.Tensor], torch.Tensor]]):  # type: ignore[no-untyped-def]
    """``fns[-1] o ... o fns[0]``."""

    def run(h: torch.Tensor) -> torch.Tensor:
        for fn in fns:
            h = fn(h)
        return h

    return run


class StageObjective(GeneratorObjective):
    """The Eq. 3 objective of a search in an intermediate space: images come from the blocks
    after it (``tail``) instead of the whole generator."""

    def __init__(self, tail: Callable[[torch.Tensor], torch.Tensor], *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.tail = tail

    def images(self, latent: torch.Tensor, classes: torch.Tensor) -> torch.Tensor:
        return self.tail(latent)


@dataclass
class IFGMIConfig(GANAttackConfig):
    """Hyper-parameters of IF-GMI (the authors' in brackets).

    Attributes:
        steps: Adam steps of each stage: stage 0 searches the latent, stage ``i`` the input of
            block ``i`` [70, 25, 25, 25 on StyleGAN2]; as many stages as entries (at most the
            number of blocks); all 0: no search (the starting latents' images).
        l1_ball: radius of the L1 ball of each intermediate stage, relative to the L1 norm of
            its start (one value for all stages, or one per stage after the first).
        lr: Adam step of every stage.
        identity_loss: ``poincare`` [PPA's, as the authors] or another identity loss.
        augment, n_aug: augmentation preset and copies per step.
        candidates: > 0: PPA's initial selection of the ``samples_per_class`` most confident
            of that many random latents; 0: random latents.
        keep, n_aug_final: final selection of the ``keep`` rows per class most confident under
            ``n_aug_final`` augmentations (``None``: keep all).
        n_aug_final: augmentations of that final selection.
        prior_weight: weight of the discriminator's realism loss (0 in the paper).
    """

    steps: tuple[int, ...] = (70, 25, 25)
    l1_ball: tuple[float, ...] = (0.5,)
    lr: float = 0.05
    identity_loss: str = "poincare"
    augment: str = "standard"
    n_aug: int = 1
    candidates: int = 0
    keep: int | None = None
    n_aug_final: int = 8
    prior_weight: float = 0.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.steps:
            raise ConfigError("steps: give the steps of at least one stage")
        for s in self.steps:
            check_positive("steps", s, allow_zero=True)  # 0: a stage without search
        if not self.l1_ball:
            raise ConfigError("l1_ball: give one radius, or one per stage after the first")
        for r in self.l1_ball:
            check_positive("l1_ball", r, allow_zero=True)
        if len(self.l1_ball) not in (1, len(self.steps) - 1):
            raise ConfigError(
                f"l1_ball: one radius or {len(self.steps) - 1} (one per stage after the "
                f"first), got {len(self.l1_ball)}"
            )
        check_positive("lr", self.lr)
        get_identity_loss(self.identity_loss)
        get_augment(self.augment)
        check_positive("n_aug", self.n_aug)
        check_positive("candidates", self.candidates, allow_zero=True)
        if self.candidates and self.candidates < self.samples_per_class:
            raise ConfigError("candidates: must be 0 or at least samples_per_class")
        if self.keep is not None and not 1 <= self.keep <= self.samples_per_class:
            raise ConfigError(f"keep: must lie in [1, samples_per_class], got {self.keep}")
        check_positive("prior_weight", self.prior_weight, allow_zero=True)


class IFGMI(GANInversion):
    """Latent search, then search of each block's input inside an L1 ball (Qiu et al. 2024)."""

    name = "if-gmi"
    modality = "image"
    access = Access.WHITE_BOX
    paper = "Qiu et al., ECCV 2024"
    summary = (
        "split the generator into blocks; search the latent, then each block's input in an L1 ball"
    )
    Config = IFGMIConfig
    default_prior = (("kind", "gmi"), ("mapping_layers", 3))

    def _initial(self, ctx: Context) -> tuple[torch.Tensor, torch.Tensor]:
        cfg: IFGMIConfig = self.config
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

    def _objective(self, ctx: Context, tail: Callable | None) -> GeneratorObjective:  # type: ignore[type-arg]
        cfg: IFGMIConfig = self.config
        weight = cfg.prior_weight if ctx.prior.discriminator is not None else 0.0
        args = (ctx.prior, ctx.to_input, [ctx.view], get_identity_loss(cfg.identity_loss))
        kwargs = {
            "prior_weight": weight,
            "augment": get_augment(cfg.augment),
            "n_aug": cfg.n_aug,
            "rng": ctx.rng,
        }
        if tail is None:
            return GeneratorObjective(*args, **kwargs)  # type: ignore[arg-type]
        return StageObjective(tail, *args, **kwargs)

    def _run(self, view: TargetView, knowledge: Knowledge, seed: int) -> AttackResult:
        cfg: IFGMIConfig = self.config
        ctx = self._context(view, knowledge, seed)
        rows, h = self._initial(ctx)
        labels = rows if ctx.prior.num_classes is not None else None
        blocks = ctx.prior.stages(labels)
        if len(cfg.steps) > len(blocks):
            raise ConfigError(
                f"steps: {len(cfg.steps)} stages, but the generator splits into {len(blocks)} "
                "blocks; give at most that many stages"
            )
        radii = list(cfg.l1_ball) * (len(cfg.steps) - 1 if len(cfg.l1_ball) == 1 else 1)
        stage_info = []
        q0 = view.queries
        for i, steps in enumerate(cfg.steps):
            if i == 0:
                objective, project = self._objective(ctx, None), ctx.prior.clip
            else:
                with torch.no_grad():
                    h = blocks[i - 1](h)  # the start of stage i: the input of block i
                radius = radii[i - 1] * h.flatten(1).abs().sum(1)
                objective = self._objective(ctx, compose(blocks[i:]))
                project = l1_ball(h, radius)
            search = run_search(
                GradientOptimizer(h, "adam", cfg.lr, project=project),
                SearchProblem(rows, ctx.rng, loss=objective, precision=cfg.precision),
                steps,
                checkpoint=f"{cfg.checkpoint}.stage{i}" if cfg.checkpoint else None,
                checkpoint_every=cfg.checkpoint_every,
                meta={"attack": self.name, "config": cfg, "rows": rows, "seed": seed, "stage": i},
                desc=f"{self.name} stage {i}",
                progress=cfg.progress,
            )
            h = search.latents
            stage_info.append({"stage": i, "steps": search.steps, "dim": int(h[0].numel())})
        tail = compose(blocks[len(cfg.steps) - 1 :])
        with torch.no_grad():
            images = torch.cat([tail(h[j : j + 256]) for j in range(0, h.shape[0], 256)])
        images = images.clamp(0.0, 1.0)
        ctx.info["search_queries"] = view.queries - q0
        if cfg.keep is not None:
            kept = final_selection(
                images,
                rows,
                cfg.keep,
                scores_fn(view, ctx.device),
                ctx.to_input,
                augment=get_augment(cfg.augment),
                n_aug=cfg.n_aug_final,
                rng=ctx.rng,
            )
            images, rows = images[kept], rows[kept]
        return self._result(
            images,
            targets=rows,
            scores=self._scores(ctx, images, rows),
            arrays={"prior_samples": prior_baseline(ctx.prior, rows, seed)},
            info={
                **ctx.info,
                "stages": stage_info,
                "prior": repr(ctx.prior),
                "classes": ctx.classes.tolist(),
            },
        )
