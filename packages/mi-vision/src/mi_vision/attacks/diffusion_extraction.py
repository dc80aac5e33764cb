"""Training-data extraction from a diffusion model by generate-and-filter (Carlini et al.,
"Extracting training data from diffusion models", USENIX Security 2023; survey [37],
Sec. IV-B).

1. Query the generator for ``n_samples`` images (for a conditional model, of one class or of
   every class in turn: Carlini et al. query one prompt 500 times).
2. Link every pair of generations whose tiled l2 distance is below ``threshold`` and report
   the cliques of at least ``min_size`` near-identical generations as memorised (a model emits
   a training image it memorised again and again; novel samples differ from each other).
3. Output one image per clique (its medoid), largest cliques first.

Access: the generator as a sampler (black box: images out, one query per image); the target is
a generator view (:func:`mi_vision.extraction.generator_view`); on a classifier the attack is
not applicable. Evaluation: :class:`mi_vision.extraction.ExtractionEvaluator` (precision of the
flagged images and distinct training images extracted, beside as many unfiltered random
samples, ``arrays["random_samples"]``). ``min_size=1`` turns the filter off (every generation
is its own clique), and the tests check that the attack then no longer beats random sampling.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from mi_core.attack import BaseAttack
from mi_core.result import AttackResult
from mi_core.threat import Access, Knowledge
from mi_core.views import TargetView
from mi_vision.extraction import (
    ExtractionConfig,
    extraction_result_arrays,
    find_cliques,
    medoid,
    pairwise,
    sample_generations,
)


@dataclass
class DiffusionExtractionConfig(ExtractionConfig):
    """Carlini et al.'s generate-and-filter.

    Attributes:
        label: the class queried from a conditional model (``None``: every class in turn, or
            the unconditional model).
    """

    label: int | None = None


def filter_cliques(images: torch.Tensor, cfg: ExtractionConfig) -> tuple[list[int], list[int]]:
    """``(flagged, sizes)``: the medoid of every clique of near-identical generations, largest
    clique first (``max_flagged`` at most)."""
    dist = pairwise(images, cfg.tiles)
    cliques = find_cliques(dist, cfg.threshold, cfg.min_size)
    if cfg.max_flagged is not None:
        cliques = cliques[: cfg.max_flagged]
    return [medoid(dist, c) for c in cliques], [len(c) for c in cliques]


class DiffusionExtraction(BaseAttack):
    """Generate many images, flag cliques of near-identical generations as memorised."""

    name = "diffusion-extraction"
    modality = "image"
    access = Access.BLACK_BOX_SCORES
    paper = "Carlini et al., USENIX Security 2023"
    summary = "extraction: sample the generator, flag cliques of near-identical generations"
    Config = DiffusionExtractionConfig

    def _run(self, view: TargetView, knowledge: Knowledge, seed: int) -> AttackResult:
        cfg: DiffusionExtractionConfig = self.config
        images = sample_generations(view, cfg, seed, who=self.name, label=cfg.label)
        flagged, sizes = filter_cliques(images, cfg)
        return self._result(
            images[flagged],
            targets=torch.as_tensor(flagged, dtype=torch.long, device="cpu"),
            scores=torch.as_tensor(sizes, dtype=torch.float, device="cpu"),
            arrays=extraction_result_arrays(images, flagged),
            info={
                "generated": int(images.shape[0]),
                "flagged": len(flagged),
                "clique_sizes": sizes,
                "threshold": cfg.threshold,
                "tiles": cfg.tiles,
                "min_size": cfg.min_size,
            },
        )
