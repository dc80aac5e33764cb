"""Training-data extraction from a GAN by repeated sampling (survey [84], Sec. IV-B: "by
repeatedly sampling images from the generator's output distribution, it is highly likely to
generate raw samples from the GAN's training set"; the discriminator ranking follows the
white-box attack of Hayes et al., LOGAN, PETS 2019).

1. Query the generator for ``n_samples`` images.
2. Rank them: ``density`` (default), by the distance to their ``min_size - 1``-th nearest
   neighbour among the samples (a GAN that memorised an image returns to it again and again:
   its copies crowd together); ``discriminator``, by the GAN's discriminator score, highest
   first (it was trained to call its training images real; ``knowledge.extra["discriminator"]``,
   e.g. a released checkpoint's).
3. Flag the ranked samples that pass (``density``: at least ``min_size - 1`` neighbours within
   ``threshold`` *and* a neighbourhood radius below ``crowd`` times the median radius of all
   samples: copies of a memorised image crowd far tighter than the generator's typical
   samples, which also crowd in collapsed modes; ``discriminator``: the ``max_flagged``
   best), one per group of near-identical samples (non-maximum suppression).

Access: the generator as a sampler (black box). Evaluation as for ``diffusion-extraction``;
``min_size=1`` turns the filter off and the tests check that the attack then no longer beats
random sampling.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

from mi_core.attack import BaseAttack
from mi_core.config import check_choice, check_positive
from mi_core.errors import ConfigError
from mi_core.result import AttackResult
from mi_core.threat import Access, Knowledge
from mi_core.views import TargetView
from mi_vision.extraction import (
    ExtractionConfig,
    extraction_result_arrays,
    knn_radius,
    pairwise,
    sample_generations,
    suppress_near_duplicates,
)


@dataclass
class GANExtractionConfig(ExtractionConfig):
    """Sample, rank, suppress near-duplicates.

    Attributes:
        ranking: ``density`` (crowded neighbourhoods) or ``discriminator`` (see the module doc).
        crowd: a flagged sample's neighbourhood radius is below this fraction of the median
            radius (``None``: the absolute ``threshold`` only).
        label: the class queried from a conditional generator (``None``: every class in turn).
    """

    ranking: Literal["density", "discriminator"] = "density"
    crowd: float | None = 0.6
    label: int | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        check_choice("ranking", self.ranking, ("density", "discriminator"))
        if self.crowd is not None:
            check_positive("crowd", self.crowd)
        if self.ranking == "discriminator" and self.max_flagged is None:
            raise ConfigError("max_flagged: ranking='discriminator' flags the max_flagged best")


class GANExtraction(BaseAttack):
    """Sample a GAN many times; flag the samples its output distribution crowds around."""

    name = "gan-extraction"
    modality = "image"
    access = Access.BLACK_BOX_SCORES
    paper = "survey [84] (Xu et al., TIFS 2019); Hayes et al., PETS 2019"
    summary = "extraction: sample the generator, flag crowded (or discriminator-approved) samples"
    Config = GANExtractionConfig

    def _run(self, view: TargetView, knowledge: Knowledge, seed: int) -> AttackResult:
        cfg: GANExtractionConfig = self.config
        images = sample_generations(view, cfg, seed, who=self.name, label=cfg.label)
        dist = pairwise(images, cfg.tiles)
        limit: float | None = None
        if cfg.ranking == "density":
            k = max(1, cfg.min_size - 1)
            radius = (
                knn_radius(dist, k)
                if cfg.min_size > 1
                else torch.zeros(images.shape[0], device=images.device)
            )
            limit = cfg.threshold
            if cfg.crowd is not None and cfg.min_size > 1:
                limit = min(limit, cfg.crowd * float(radius.median()))
            order = torch.argsort(radius, stable=True).tolist()
            order = [i for i in order if cfg.min_size == 1 or float(radius[i]) < limit]
            score = -radius
        else:
            disc = knowledge.require("discriminator", "ranking='discriminator' scores samples")
            with torch.no_grad():
                score = torch.as_tensor(disc(images), device=images.device).float().reshape(-1)
            order = torch.argsort(score, descending=True, stable=True).tolist()
        flagged = suppress_near_duplicates(dist, order, cfg.threshold, cfg.max_flagged)
        return self._result(
            images[flagged],
            targets=torch.as_tensor(flagged, dtype=torch.long, device="cpu"),
            scores=score[flagged],
            arrays=extraction_result_arrays(images, flagged),
            info={
                "generated": int(images.shape[0]),
                "flagged": len(flagged),
                "ranking": cfg.ranking,
                "threshold": cfg.threshold,
                "min_size": cfg.min_size,
                "radius_limit": limit,
            },
        )
