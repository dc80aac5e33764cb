"""DeepInversion: pixel-space inversion with batch-norm statistic matching (Yin et al., CVPR
2020, "Dreaming to distill").

No generator: a batch of images is optimised directly with Adam on

    CE(f(jitter(x)), c) + tv_weight * TV(x) + l2_weight * ||x||^2 + bn_weight * R_feature(x),

``R_feature`` being the distance of the batch statistics of every ``BatchNorm2d`` input to the
running statistics the target stored during training (Eq. 4; the first layer weighted
``first_bn_weight``), which pulls the batch towards the training distribution. Random jitter
(shifts up to ``jitter`` pixels) and flips are applied each step. A no-prior baseline for every
target with batch norm; the batch spans all target classes (``samples_per_class`` rows each).
Images start as uniform noise, the baseline they are judged against.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from mi_core import device as devices
from mi_core.attack import BaseAttack
from mi_core.config import check_positive
from mi_core.errors import ConfigError, NotApplicable
from mi_core.result import AttackResult
from mi_core.threat import Access, Knowledge
from mi_core.views import TargetView
from mi_vision.losses import BatchNormStatistics, cross_entropy, total_variation
from mi_vision.optimizers import GradientOptimizer, SearchProblem, run_search
from mi_vision.targets import input_spec, target_classes


@dataclass
class DeepInversionConfig:
    """Hyper-parameters (the paper's ImageNet setting in brackets).

    Attributes:
        steps, lr: Adam steps and step size on the pixels [2000, 0.25].
        samples_per_class: images per target class (one batch).
        bn_weight, first_bn_weight: weight of the batch-norm statistics loss and the extra
            factor of the first batch-norm layer [0.01, 10].
        tv_weight, l2_weight: total-variation and L2 priors [1e-4 (L2 TV), 1e-5].
        jitter: random shift of the images each step, in pixels [30 of 224].
        flip: random horizontal flips each step.
        checkpoint: file to checkpoint to / resume from.
        device: where the search runs: ``auto`` (the white-box target's device), ``cpu``,
            ``cuda``, ``cuda:N``; results come back on the CPU.
        precision: ``fp32``, or ``bf16`` / ``fp16``: the search's forward passes under
            ``torch.autocast``.
    """

    steps: int = 1000
    lr: float = 0.05
    samples_per_class: int = 4
    bn_weight: float = 0.05
    first_bn_weight: float = 10.0
    tv_weight: float = 0.05
    l2_weight: float = 0.0
    jitter: int = 1
    flip: bool = False
    checkpoint: str | None = None
    checkpoint_every: int = 200
    progress: bool = True
    device: str = "auto"
    precision: str = "fp32"

    def __post_init__(self) -> None:
        devices.check_device(self.device)
        devices.check_precision(self.precision)
        check_positive("steps", self.steps, allow_zero=True)  # 0: the initial noise
        for name in ("lr", "samples_per_class", "checkpoint_every"):
            check_positive(name, getattr(self, name))
        for name in ("bn_weight", "first_bn_weight", "tv_weight", "l2_weight", "jitter"):
            check_positive(name, getattr(self, name), allow_zero=True)


class _Objective:
    """Per-row loss of a batch; the batch-norm term is one scalar per batch, shared by the rows
    (its gradient reaches every image of the batch)."""

    def __init__(self, view: TargetView, stats: BatchNormStatistics, cfg: DeepInversionConfig,
                 rng: torch.Generator) -> None:  # fmt: skip
        self.view, self.stats, self.cfg, self.rng = view, stats, cfg, rng

    def _jitter(self, x: torch.Tensor) -> torch.Tensor:
        j = self.cfg.jitter
        if j > 0:
            shift = torch.randint(-j, j + 1, (2,), generator=self.rng, device="cpu")
            dx, dy = (int(v) for v in shift)
            x = torch.roll(x, shifts=(dx, dy), dims=(2, 3))
        if self.cfg.flip and bool(torch.rand((), generator=self.rng, device="cpu") < 0.5):
            x = x.flip(3)
        return x

    def __call__(self, x: torch.Tensor, classes: torch.Tensor) -> torch.Tensor:
        cfg = self.cfg
        self.stats.pop()
        loss = cross_entropy(self.view(self._jitter(x)), classes)
        bn = self.stats.pop()
        loss = loss + cfg.bn_weight * bn / x.shape[0]
        if cfg.tv_weight > 0:
            loss = loss + cfg.tv_weight * total_variation(x)
        if cfg.l2_weight > 0:
            loss = loss + cfg.l2_weight * x.flatten(1).pow(2).sum(1)
        return loss


class DeepInversion(BaseAttack):
    """Adam on pixels: cross-entropy plus batch-norm statistic matching (Yin et al. 2020)."""

    name = "deep-inversion"
    modality = "image"
    access = Access.WHITE_BOX
    paper = "Yin et al., CVPR 2020"
    summary = "pixel space: CE + batch-norm statistics + image priors, no generator"
    Config = DeepInversionConfig

    def _run(self, view: TargetView, knowledge: Knowledge, seed: int) -> AttackResult:
        cfg: DeepInversionConfig = self.config
        module = view.module
        shape, (lo, hi) = input_spec(view, knowledge)
        dev = devices.attack_device(cfg.device, view)
        classes = target_classes(view, knowledge, dev)
        rows = classes.repeat_interleave(cfg.samples_per_class)
        for p in module.parameters():
            p.requires_grad_(False)
        module.eval()
        try:
            stats = BatchNormStatistics(module, cfg.first_bn_weight)
        except ConfigError as exc:
            raise NotApplicable(
                f"deep-inversion matches the target's batch-norm statistics: {exc}"
            ) from None
        g = torch.Generator().manual_seed(seed)
        x0 = lo + (hi - lo) * devices.rand((rows.shape[0], *shape), generator=g, device=dev)
        with stats:
            search = run_search(
                GradientOptimizer(x0, "adam", cfg.lr, project=lambda x: x.clamp(lo, hi)),
                SearchProblem(
                    rows, g, loss=_Objective(view, stats, cfg, g), precision=cfg.precision
                ),
                cfg.steps,
                checkpoint=cfg.checkpoint,
                checkpoint_every=cfg.checkpoint_every,
                meta={"attack": self.name, "config": cfg, "rows": rows, "seed": seed},
                desc=self.name,
                progress=cfg.progress,
            )
        x = search.latents
        with torch.no_grad():
            p = torch.softmax(view(x), dim=1).gather(1, rows[:, None]).squeeze(1)
        unit = ((x - lo) / (hi - lo)).clamp(0, 1)
        return self._result(
            unit,
            targets=rows,
            scores=p,
            arrays={"initial": ((x0 - lo) / (hi - lo)).clamp(0, 1)},
            info={
                "steps": search.steps,
                "batchnorm_layers": len(stats.layers),
                "baseline": "uniform noise (the initial images)",
            },
        )
