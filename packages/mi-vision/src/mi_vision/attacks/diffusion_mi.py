"""Diffusion-MI: label-only model inversion with a conditional diffusion model (Liu, "Unstoppable
attack: label-only model inversion via conditional diffusion model", arXiv 2307.08424, 2023;
survey [19], Sec. IV-A-2).

1. The target labels the attacker's public images (hard labels: a label-only view suffices;
   every image is one counted query) and a class-conditional diffusion model is trained on these
   pairs, with the class dropped now and then so that it also learns the unconditional model.
2. Each private class ``c`` is sampled with classifier-free guidance (Ho & Salimans 2022,
   ``eps_u + s (eps_c - eps_u)``): ``candidates`` per class, no optimisation.
3. Selection: the target labels every candidate and ``n_aug`` augmented copies; the
   ``samples_per_class`` candidates whose label survives augmentation most often are kept.

Knowledge: public images (``knowledge.auxiliary``) to train the prior on, or a conditional
:class:`~mi_vision.priors.diffusion.DiffusionPrior` already trained on the target's labels
(``knowledge.prior`` or ``knowledge.extra["priors"]``); the target's classes
(``knowledge.target_labels`` or the view's ``num_classes``) and input shape.

Baseline (``arrays["prior_samples"]``): unconditional samples of the same diffusion model (the
null class), i.e. the public distribution without the target's labels. With guidance off
(``guidance_scale=0``) and no selection (``candidates=1``) the attack draws exactly such
samples, and the tests check it then no longer beats them.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from mi_core import device as devices
from mi_core.attack import BaseAttack
from mi_core.config import check_positive
from mi_core.result import AttackResult
from mi_core.threat import Access, Knowledge
from mi_core.views import TargetView
from mi_vision.augment import get_augment
from mi_vision.diffusion_inversion import (
    DiffusionAttackConfig,
    label_votes,
    own_prior_samples,
    resolve_diffusion_prior,
    sample_rows,
    sampling,
    timer,
)
from mi_vision.inversion import target_input
from mi_vision.targets import labels_fn, target_classes


@dataclass
class DiffusionMIConfig(DiffusionAttackConfig):
    """Hyper-parameters of Diffusion-MI.

    Attributes:
        candidates: guided samples drawn per class before the selection (1 = no selection).
        n_aug, augment: augmented copies labelled per candidate and their preset.
        guidance_scale: classifier-free guidance weight (``None``: the prior's, 3 by default;
            0 = unconditional samples).
    """

    candidates: int = 16
    n_aug: int = 4
    augment: str = "standard"

    def __post_init__(self) -> None:
        super().__post_init__()
        check_positive("candidates", self.candidates)
        check_positive("n_aug", self.n_aug, allow_zero=True)
        get_augment(self.augment)
        if self.candidates < self.samples_per_class:
            from mi_core.errors import ConfigError

            raise ConfigError(
                f"candidates: {self.candidates} per class cannot yield samples_per_class="
                f"{self.samples_per_class}"
            )


class DiffusionMI(BaseAttack):
    """Label-only: a conditional diffusion model trained on the target's labels of public
    images, sampled per class with classifier-free guidance, selected by the target's labels
    under augmentation."""

    name = "diffusion-mi"
    modality = "image"
    access = Access.LABEL_ONLY
    paper = "Liu, arXiv 2307.08424 (2023)"
    summary = (
        "label-only: conditional diffusion model trained on the target's labels of public "
        "images; classifier-free guidance; selection under augmentation"
    )
    Config = DiffusionMIConfig

    def _run(self, view: TargetView, knowledge: Knowledge, seed: int) -> AttackResult:
        cfg: DiffusionMIConfig = self.config
        elapsed = timer()
        dev = devices.attack_device(cfg.device, view)
        q0 = view.queries
        prior = resolve_diffusion_prior(
            view,
            knowledge,
            who=f"attack {self.name!r}",
            train={**(cfg.prior or {}), "progress": cfg.progress},
            seed=seed,
            conditional=True,
            device=dev,
        )
        prior_seconds, prior_queries = elapsed(), view.queries - q0
        classes = target_classes(view, knowledge, dev)
        to_input = target_input(view, knowledge)
        g = torch.Generator().manual_seed(seed)
        kw = sampling(cfg, prior)
        cand_rows = classes.repeat_interleave(cfg.candidates)
        images = sample_rows(
            prior,
            cand_rows,
            cand_rows.shape[0],
            g,
            batch=cfg.batch,
            progress=cfg.progress,
            desc=self.name,
            **kw,
        )
        q1 = view.queries
        if cfg.candidates > cfg.samples_per_class:
            votes = label_votes(
                images,
                cand_rows,
                labels_fn(view, dev),
                to_input,
                augment=get_augment(cfg.augment),
                n_aug=cfg.n_aug,
                rng=g,
            )
        else:
            votes = torch.zeros(images.shape[0], device=dev)
        keep = []
        for i in range(classes.numel()):
            block = torch.arange(i * cfg.candidates, (i + 1) * cfg.candidates, device=dev)
            order = torch.argsort(votes[block], descending=True, stable=True)
            keep.append(block[order[: cfg.samples_per_class]])
        idx = torch.cat(keep)
        rows = cand_rows[idx]
        baseline = own_prior_samples(
            prior, rows, seed, conditional=False, batch=cfg.batch, **{**kw, "guidance_scale": 1.0}
        )
        return self._result(
            images[idx],
            targets=rows,
            scores=votes[idx],
            arrays={"prior_samples": baseline},
            info={
                "prior": repr(prior),
                "prior_seconds": prior_seconds,
                "prior_queries": prior_queries,
                "selection_queries": view.queries - q1,
                "candidates": cfg.candidates,
                "label_agreement": float(votes[idx].mean()),
                "sampling": kw,
                "classes": classes.tolist(),
                "baseline": "unconditional samples of the same diffusion model (null class)",
            },
        )
