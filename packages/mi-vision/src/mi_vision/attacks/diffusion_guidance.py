"""Target-gradient classifier guidance of a diffusion prior (white-box; Dhariwal & Nichol 2021's
classifier guidance with the target as the classifier, in the training-free "universal
guidance" form of Bansal et al. 2023).

The attacker's diffusion prior (class-conditional on the target's pseudo labels, or
unconditional) is sampled for every private class; at each reverse step the denoised estimate
is pushed up the target's log-probability of the class (:class:`~mi_vision.diffusion_inversion.
TargetGuidance`), optionally under augmentation, so the sampler itself does the inversion: no
latent search, no fine-tuning. It is the diffusion counterpart of a GAN latent search.

Baseline (``arrays["prior_samples"]``): samples of the same prior with the same sampler and
classifier-free guidance, without the target's gradient. With ``strength=0`` the attack draws
exactly such samples and the tests check that it then no longer beats them.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from mi_core import device as devices
from mi_core.attack import BaseAttack
from mi_core.config import check_positive, check_range
from mi_core.result import AttackResult
from mi_core.threat import Access, Knowledge
from mi_core.views import TargetView
from mi_vision.augment import get_augment
from mi_vision.diffusion_inversion import (
    DiffusionAttackConfig,
    TargetGuidance,
    freeze_target,
    own_prior_samples,
    resolve_diffusion_prior,
    sample_rows,
    sampling,
    timer,
)
from mi_vision.inversion import target_input
from mi_vision.targets import target_classes


@dataclass
class DiffusionGuidanceConfig(DiffusionAttackConfig):
    """Hyper-parameters of target-guided sampling.

    Attributes:
        strength: size of the guidance step, as a fraction of the noise prediction's norm
            (0 = plain sampling).
        t_max: guide only the steps at or below this fraction of the schedule.
        conditional: use a class-conditional prior (pseudo-labelled by the target) with
            classifier-free guidance, or an unconditional one (the public distribution only).
        augment: augmentation preset applied to the denoised estimate before the target sees
            it (robust gradients, fewer adversarial pixels).
        sampler: ``ddim`` by default (guidance edits each step's noise prediction).
    """

    strength: float = 0.3
    t_max: float = 1.0
    conditional: bool = True
    augment: str = "noflip"
    sampler: str | None = "ddim"
    sample_steps: int | None = 25

    def __post_init__(self) -> None:
        super().__post_init__()
        check_positive("strength", self.strength, allow_zero=True)
        check_range("t_max", self.t_max, 0.0, 1.0)
        get_augment(self.augment)


class DiffusionGuidance(BaseAttack):
    """White-box: sample the diffusion prior for each class under the target's gradient."""

    name = "diffusion-guidance"
    modality = "image"
    access = Access.WHITE_BOX
    paper = "Dhariwal & Nichol 2021; Bansal et al. 2023 (target as the guiding classifier)"
    summary = "diffusion prior sampled under the target's class gradient (classifier guidance)"
    Config = DiffusionGuidanceConfig

    def _run(self, view: TargetView, knowledge: Knowledge, seed: int) -> AttackResult:
        cfg: DiffusionGuidanceConfig = self.config
        elapsed = timer()
        dev = devices.attack_device(cfg.device, view)
        prior = resolve_diffusion_prior(
            view,
            knowledge,
            who=f"attack {self.name!r}",
            train={**(cfg.prior or {}), "progress": cfg.progress},
            seed=seed,
            conditional=cfg.conditional,
            device=dev,
        )
        prior_seconds = elapsed()
        freeze_target(view)
        classes = target_classes(view, knowledge, dev)
        to_input = target_input(view, knowledge)
        rows = classes.repeat_interleave(cfg.samples_per_class)
        g = torch.Generator().manual_seed(seed)
        kw = sampling(cfg, prior)
        guide = TargetGuidance(
            prior,
            view,
            to_input,
            cfg.strength,
            t_max=cfg.t_max,
            augment=get_augment(cfg.augment),
            rng=g,
        )
        q0 = view.queries
        cond = prior.num_classes is not None
        if cond:
            images = sample_rows(
                prior,
                rows,
                rows.numel(),
                g,
                batch=cfg.batch,
                progress=cfg.progress,
                desc=self.name,
                guide=guide,
                **kw,
            )
        else:  # an unconditional prior: the rows' classes reach the sampler through the guide
            images = torch.cat(
                [
                    prior.sample(
                        min(cfg.batch, rows.numel() - i),
                        g,
                        None,
                        guide=_with_labels(guide, rows[i : i + cfg.batch]),
                        **kw,
                    )
                    for i in range(0, rows.numel(), cfg.batch)
                ]
            )
        guidance_queries = view.queries - q0
        with torch.no_grad():
            probs = torch.softmax(view(to_input(images)).float(), 1)
        baseline = own_prior_samples(prior, rows, seed, conditional=cond, batch=cfg.batch, **kw)
        return self._result(
            images,
            targets=rows,
            scores=probs.gather(1, rows[:, None]).squeeze(1),
            arrays={"prior_samples": baseline},
            info={
                "prior": repr(prior),
                "prior_seconds": prior_seconds,
                "guidance_queries": guidance_queries,
                "sampling": kw,
                "strength": cfg.strength,
                "classes": classes.tolist(),
                "baseline": "samples of the same prior and sampler without target guidance",
            },
        )


def _with_labels(guide: TargetGuidance, rows: torch.Tensor):  # type: ignore[no-untyped-def]
    def f(x, t, eps, labels):  # type: ignore[no-untyped-def]
        return guide(x, t, eps, rows)

    return f
