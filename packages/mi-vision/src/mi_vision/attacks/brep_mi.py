"""BREP-MI: label-only model inversion by boundary repulsion (Kahla et al., CVPR 2022).

Only the target's predicted labels are used (a label-only view; every generated image costs a
counted query). For each class the attack first finds a latent whose image the target labels as
that class (random prior samples, in rounds of ``init_batch``), then climbs away from the class
boundary with the zeroth-order estimate of survey Eq. 6,

    g_z = 1/N sum_i Phi_c(z + r u_i) u_i,   Phi_c = 0 if f labels G(.) as c, else -1,

moving only to points that stay in the class and growing the radius r (x ``expansion``) when
more than ``expand_fraction`` of the sphere lies inside the class (the authors' code; the
survey's "all points" is ``expand_fraction=1``). A class stops after ``patience`` steps without
growing its radius, or when the budget / step cap is reached. All classes run in one batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from mi_core.config import check_positive, check_range
from mi_core.threat import Access
from mi_vision.inversion import Context, GANAttackConfig, GANInversion, LabelOracle
from mi_vision.optimizers import BoundaryRepulsion, LatentOptimizer, SearchProblem
from mi_vision.targets import labels_fn


@dataclass
class BREPMIConfig(GANAttackConfig):
    """Hyper-parameters of BREP-MI (the authors' code in brackets).

    Attributes:
        steps: cap on repulsion steps per class.
        points: sphere points per step [32].
        radius, expansion, expand_fraction: initial radius [2.0], growth factor [1.3] and the
            inside fraction that triggers growth [0.75].
        latent_clip: clamp z to [-latent_clip, latent_clip] [1.5] (z-space priors only).
        patience: steps without radius growth before a class stops [1000 in the code].
        init_batch, init_rounds: random latents labelled per round while looking for a first
            point inside each class, and the maximum number of rounds.
        max_radius: a class stops when its radius exceeds this (default: the half-diagonal of
            the clipping box, ``latent_clip * sqrt(dim)``, beyond which spheres leave the box).
    """

    steps: int = 1000
    points: int = 32
    radius: float = 2.0
    expansion: float = 1.3
    expand_fraction: float = 0.75
    latent_clip: float | None = 1.5
    patience: int = 200
    init_batch: int = 256
    init_rounds: int = 40
    max_radius: float | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("steps", "points", "radius", "patience", "init_batch", "init_rounds"):
            check_positive(name, getattr(self, name))
        check_range("expand_fraction", self.expand_fraction, 0.0, 1.0)
        if self.expansion <= 1.0:
            from mi_core.errors import ConfigError

            raise ConfigError(f"expansion: must be > 1, got {self.expansion}")


class BREPMI(GANInversion):
    """Boundary-repelling zeroth-order search from hard labels (Kahla et al. 2022)."""

    name = "brep-mi"
    modality = "image"
    access = Access.LABEL_ONLY
    paper = "Kahla et al., CVPR 2022"
    summary = "label-only: find an in-class latent, then repel it from the class boundary"
    Config = BREPMIConfig
    default_prior = (("kind", "gmi"),)

    def _clip(self, ctx: Context) -> float | None:
        return self.config.latent_clip if ctx.prior.space == "z" else None

    def _initial(self, ctx: Context) -> tuple[torch.Tensor, torch.Tensor]:
        cfg: BREPMIConfig = self.config
        rows = ctx.classes.repeat_interleave(cfg.samples_per_class)
        clip = self._clip(ctx)
        label = labels_fn(ctx.view, ctx.device)
        # one in-class starting point per class (the rows of a class share it and then diverge
        # through their own random spheres), found from random prior samples in rounds
        found: dict[int, torch.Tensor] = {}
        wanted = set(ctx.classes.tolist())
        rounds = 0
        while wanted - set(found) and rounds < cfg.init_rounds:
            remaining = ctx.view.remaining
            if remaining is not None and remaining < cfg.init_batch:
                break
            rounds += 1
            z = ctx.prior.to_search(ctx.prior.sample_z(cfg.init_batch, ctx.rng))
            if clip is not None:
                z = z.clamp(-clip, clip)
            with torch.no_grad():
                pred = label(ctx.to_input(ctx.prior.generate(z)))
            for c in sorted(wanted - set(found)):
                hit = torch.nonzero(pred == c).flatten()
                if hit.numel():
                    found[c] = z[hit[0]]
        ctx.info["init_rounds"] = rounds
        ctx.info["no_initial_point"] = sorted(wanted - set(found))
        fallback = ctx.prior.to_search(ctx.prior.sample_z(rows.shape[0], ctx.rng))
        latents = torch.stack([found.get(int(c), fallback[i]) for i, c in enumerate(rows.tolist())])
        # rows without an in-class point do not move (they count as failures)
        ctx.scratch["stuck"] = torch.tensor(
            [int(c) not in found for c in rows.tolist()], device=ctx.device
        )
        return rows, latents

    def _problem(self, ctx: Context, rows: torch.Tensor, plugin: object) -> SearchProblem:
        oracle = LabelOracle(ctx.prior, ctx.to_input, labels_fn(ctx.view, ctx.device))
        return SearchProblem(rows, ctx.rng, in_class=oracle, remaining=lambda: ctx.view.remaining)

    def _optimizer(
        self, ctx: Context, rows: torch.Tensor, latents: torch.Tensor
    ) -> LatentOptimizer:
        cfg: BREPMIConfig = self.config
        clip = self._clip(ctx)
        # a sphere wider than the clipping box's half-diagonal only samples outside the box
        box = clip * latents[0].numel() ** 0.5 if clip is not None else float("inf")
        opt = BoundaryRepulsion(
            latents,
            points=cfg.points,
            radius=cfg.radius,
            expansion=cfg.expansion,
            expand_fraction=cfg.expand_fraction,
            clip=clip,
            patience=cfg.patience,
            max_radius=min(cfg.max_radius or float("inf"), box),
        )
        assert opt.finished is not None
        opt.finished |= ctx.scratch["stuck"]
        return opt

    def _final(self, ctx, optimizer, search, rows):  # type: ignore[no-untyped-def]
        assert isinstance(optimizer, BoundaryRepulsion)
        ctx.info["final_radius"] = optimizer.radius.tolist()
        return rows, search.latents
