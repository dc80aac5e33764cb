"""Training-data extraction from generative image models (survey Sec. IV-B): the generator as a
target, the distances and filters the extraction attacks share, and their evaluation.

**The target.** A generative model is wrapped as :class:`GenerativeTarget`, an ``nn.Module``
mapping query rows to images in [0, 1]: a row is a seed (one image drawn from the generator's
noise with ``torch.Generator().manual_seed(seed)``), or ``(seed, class)`` for a conditional
model. :func:`generator_view` puts it behind a view whose :class:`GeneratorInfo` tells attacks
that they face a generator: black-box views release images only (one query per image);
a white-box view hands out the module and so the score network (``module.prior``) for attacks
that guide the sampler (SIDE). Extraction attacks raise
:class:`~mi_core.errors.NotApplicable` on any other image target (a classifier).

**Distances** (Carlini et al. 2023): the normalised ``l2(a, b) = sqrt(mean((a - b)^2))`` on
images in [0, 1], and its tiled form, the largest ``l2`` over a grid of tiles, which two
images only pass when they agree everywhere.

**Evaluation** (:class:`ExtractionEvaluator`): a flagged image counts as extracted when its
nearest training image lies within ``threshold`` (normalised ``l2``). Figures: the precision of
the flagged images beside that of a random sample (over all the attack's unfiltered
generations: the expectation of as many random samples, without their noise), and the number
of distinct training images extracted beside the same number of *unfiltered random samples* of
the same generator (what the filter adds over plain sampling), with the share extracted per
duplication level when the training set's duplication counts are known. A generator that
never saw the private images extracts none: that no-model figure is 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from mi_core import device as devices
from mi_core.errors import ConfigError, MetricError, NotApplicable
from mi_core.metrics.base import Figure, register_metric
from mi_core.result import AttackResult
from mi_core.threat import Access
from mi_core.views import TargetInfo, TargetView, make_view


@dataclass(frozen=True)
class GeneratorInfo(TargetInfo):
    """What an attacker knows about a generator's interface: it is one (``kind``), the shape
    of its images and how many classes it is conditioned on (``num_classes``; ``None`` for an
    unconditional model). ``input_shape`` stays ``None``: queries are seeds."""

    kind: str = "generator"
    image_shape: tuple[int, ...] | None = None
    family: str = "diffusion"


class GenerativeTarget(nn.Module):
    """A generator behind the view protocol: rows of seeds (``(N,)``) or ``(seed, class)``
    (``(N, 2)``) in, images in [0, 1] out.

    Args:
        prior: a :class:`~mi_vision.priors.DiffusionPrior` (sampled with its own sampler
            defaults unless ``sample_kwargs`` say otherwise) or a GAN
            :class:`~mi_vision.priors.GeneratorPrior`.
        sample_kwargs: keyword arguments of ``DiffusionPrior.sample`` (``steps``, ``sampler``,
            ``guidance_scale``).
    """

    def __init__(self, prior: Any, **sample_kwargs: Any) -> None:
        super().__init__()
        from mi_vision.priors.diffusion import DiffusionPrior

        self.prior = prior
        self.family = "diffusion" if isinstance(prior, DiffusionPrior) else "gan"
        self.sample_kwargs = dict(sample_kwargs)
        for name, m in getattr(prior, "modules", {}).items():
            self.add_module(name, m)

    def image_shape(self) -> tuple[int, int, int]:
        if self.family == "diffusion":
            return tuple(self.prior.image_shape)  # type: ignore[return-value]
        x = self.prior.sample(1, torch.Generator().manual_seed(0), self._one_label())
        return tuple(int(s) for s in x.shape[1:])  # type: ignore[return-value]

    def _one_label(self) -> torch.Tensor | None:
        return torch.zeros(1, dtype=torch.long) if self.prior.num_classes is not None else None

    def forward(self, rows: torch.Tensor) -> torch.Tensor:
        rows = torch.as_tensor(rows, dtype=torch.long, device="cpu")
        if rows.ndim == 1:
            seeds, labels = rows, None
        elif rows.ndim == 2 and rows.shape[1] == 2:
            seeds, labels = rows[:, 0], rows[:, 1]
        else:
            raise ConfigError(
                f"query: rows of seeds (N,) or (seed, class) pairs (N, 2), got {tuple(rows.shape)}"
            )
        if labels is None and self.prior.num_classes is not None and self.family == "gan":
            raise ConfigError("query: this generator is conditional; query (seed, class) rows")
        dev = self.prior.device or torch.device("cpu")
        labels = labels.to(dev) if labels is not None else None
        if self.family == "diffusion":
            c, h, w = self.prior.image_shape
            noise = torch.stack(
                [
                    devices.randn(
                        c, h, w, generator=torch.Generator().manual_seed(int(s)), device=dev
                    )
                    for s in seeds
                ]
            )
            x = self.prior.denoise(noise, labels, **_denoise_kwargs(self.sample_kwargs))
            return self.prior._to_unit(x)
        z = torch.stack(
            [self.prior.sample_z(1, torch.Generator().manual_seed(int(s)))[0] for s in seeds]
        )
        with torch.no_grad():
            return self.prior.generate(self.prior.to_search(z, labels), labels).clamp(0, 1)


def _denoise_kwargs(kw: dict[str, Any]) -> dict[str, Any]:
    return {k: kw[k] for k in ("steps", "sampler", "guidance_scale") if k in kw}


def generator_view(
    prior: Any,
    access: Access | str = Access.BLACK_BOX_SCORES,
    *,
    budget: int | None = None,
    **sample_kwargs: Any,
) -> TargetView:
    """A view of a generative model for the extraction attacks (see the module doc)."""
    target = GenerativeTarget(prior, **sample_kwargs)
    info = GeneratorInfo(
        modality="image",
        num_classes=prior.num_classes,
        input_range=(0.0, 1.0),
        image_shape=target.image_shape(),
        family=target.family,
    )
    return make_view(target, access, budget=budget, postprocess=None, info=info)


def require_generator(view: TargetView, who: str) -> GeneratorInfo:
    """The view's :class:`GeneratorInfo`, or :class:`NotApplicable` for other targets."""
    if not isinstance(view.info, GeneratorInfo):
        raise NotApplicable(
            f"{who} extracts training images from a generative model; this target is not one "
            "(wrap a generator with mi_vision.extraction.generator_view(prior))"
        )
    return view.info


def charge(view: TargetView, n: int) -> None:
    """Count ``n`` images that a white-box attack generated with the score network itself
    (guided sampling bypasses the view's forward pass, but each image is still a query)."""
    if view.access is not Access.WHITE_BOX:
        raise ConfigError("charge: black-box queries are counted by the view itself")
    view._counter.charge(n, what="guided sampling generates")


def query_images(
    view: TargetView,
    seeds: torch.Tensor,
    *,
    labels: torch.Tensor | None = None,
    batch: int = 128,
    progress: bool = False,
    desc: str = "sampling",
    device: Any = "cpu",
) -> torch.Tensor:
    """Images for ``seeds`` (and classes) through the view, in batches (one query each), on
    ``device`` (where the attack computes its distances)."""
    from tqdm.auto import tqdm

    out = []
    for i in tqdm(range(0, seeds.numel(), batch), desc=desc, disable=not progress, leave=False):
        s = seeds[i : i + batch]
        rows = s if labels is None else torch.stack([s, labels[i : i + batch]], 1)
        with torch.no_grad():
            out.append(torch.as_tensor(view(rows), device=device).float())
    return torch.cat(out)


def sample_generations(
    view: TargetView, cfg: Any, seed: int, *, who: str, label: int | None = None
) -> torch.Tensor:
    """The ``cfg.n_samples`` generations a black-box extraction attack starts from, on its
    device: seeds drawn from the run's ``seed`` and, for a conditional generator, the class
    ``label`` (``None``: every class in turn), queried through the view (one query per image).

    Raises:
        NotApplicable: the view is not a generator's.
    """
    info = require_generator(view, f"attack {who!r}")
    dev = devices.attack_device(cfg.device, view)
    g = torch.Generator().manual_seed(seed)
    seeds = devices.randint(0, 2**62, (cfg.n_samples,), generator=g, device="cpu")
    labels = None
    if info.num_classes is not None:
        labels = (
            torch.full((cfg.n_samples,), label, dtype=torch.long, device="cpu")
            if label is not None
            else torch.arange(cfg.n_samples, device="cpu") % info.num_classes
        )
    return query_images(
        view, seeds, labels=labels, batch=cfg.batch, progress=cfg.progress, desc=who, device=dev
    )


# ------------------------------------------------------------------------------------------
# distances and filters
# ------------------------------------------------------------------------------------------


def l2_distances(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Pairwise normalised l2 ``sqrt(mean((a_i - b_j)^2))`` ``(len(a), len(b))``."""
    fa, fb = a.flatten(1).double(), b.flatten(1).double()
    d = torch.cdist(fa, fb).pow(2) / fa.shape[1]
    return d.clamp_min(0).sqrt().float()


def tiled_l2(a: torch.Tensor, b: torch.Tensor, tiles: int = 4) -> torch.Tensor:
    """Pairwise tiled distance (Carlini et al. 2023): split each image into ``tiles x tiles``
    tiles and take the largest normalised l2 between corresponding tiles."""
    h, w = a.shape[-2:]
    if tiles < 1 or h % tiles or w % tiles:
        raise ConfigError(f"tiles: {tiles} does not divide {h}x{w} images")
    th, tw = h // tiles, w // tiles
    out = torch.zeros(a.shape[0], b.shape[0], device=a.device)
    for i in range(tiles):
        for j in range(tiles):
            ta = a[..., i * th : (i + 1) * th, j * tw : (j + 1) * tw]
            tb = b[..., i * th : (i + 1) * th, j * tw : (j + 1) * tw]
            out = torch.maximum(out, l2_distances(ta, tb))
    return out


def pairwise(images: torch.Tensor, tiles: int = 1, batch: int = 1024) -> torch.Tensor:
    """Pairwise (tiled) distances of a set of images with itself, in row blocks."""
    rows = []
    for i in range(0, images.shape[0], batch):
        blk = images[i : i + batch]
        rows.append(tiled_l2(blk, images, tiles) if tiles > 1 else l2_distances(blk, images))
    return torch.cat(rows)


def find_cliques(dist: torch.Tensor, threshold: float, min_size: int) -> list[list[int]]:
    """Disjoint cliques of at least ``min_size`` nodes in the graph linking images closer than
    ``threshold`` (Carlini et al. 2023), found greedily: nodes in order of degree, each grows a
    clique from its neighbours nearest first; a node joins at most one clique. Largest first."""
    n = dist.shape[0]
    adj = dist < threshold
    adj.fill_diagonal_(False)
    deg = adj.sum(1)
    used = torch.zeros(n, dtype=torch.bool, device=dist.device)
    cliques = []
    for v in torch.argsort(deg, descending=True, stable=True).tolist():
        if used[v] or int(deg[v]) < min_size - 1:
            continue
        members = [v]
        inside = adj[v] & ~used
        for u in torch.argsort(dist[v], stable=True).tolist():
            if not inside[u]:
                continue
            members.append(u)
            inside &= adj[u]
        if len(members) >= min_size:
            used[members] = True
            cliques.append(members)
    cliques.sort(key=len, reverse=True)
    return cliques


def medoid(dist: torch.Tensor, members: Sequence[int]) -> int:
    """The member with the smallest mean distance to the others."""
    idx = torch.as_tensor(list(members), device=dist.device)
    return int(idx[dist[idx][:, idx].mean(1).argmin()])


def suppress_near_duplicates(
    dist: torch.Tensor, order: Sequence[int], threshold: float, limit: int | None = None
) -> list[int]:
    """Walk ``order`` and keep an item only when it is at least ``threshold`` from every item
    kept so far (non-maximum suppression: one flag per memorised image)."""
    kept: list[int] = []
    for i in order:
        if kept and bool((dist[i, kept] < threshold).any()):
            continue
        kept.append(int(i))
        if limit is not None and len(kept) >= limit:
            break
    return kept


def knn_radius(dist: torch.Tensor, k: int) -> torch.Tensor:
    """Distance of every item to its ``k``-th nearest other item."""
    d = dist.clone()
    d.fill_diagonal_(float("inf"))
    k = min(k, d.shape[0] - 1)
    if k < 1:
        raise ConfigError("samples: need at least two samples to rank by neighbours")
    return d.topk(k, dim=1, largest=False).values[:, -1]


@dataclass
class ExtractionConfig:
    """Fields every extraction attack shares.

    Attributes:
        n_samples: images generated from the target (one query each).
        threshold: normalised l2 below which two generations are near-identical.
        tiles: tiles per side of the tiled distance (1 = the whole image).
        min_size: a group of at least this many near-identical generations is flagged
            (Carlini et al.: cliques of 10 among 500 generations of a prompt).
        max_flagged: flag at most this many images (``None``: all that pass).
        batch: images generated per query batch.
        device: where the attack computes (distances, filters; SIDE's classifier and guided
            sampling: the white-box generator's device with ``auto``); results come back on
            the CPU.
    """

    n_samples: int = 1000
    threshold: float = 0.1
    tiles: int = 4
    min_size: int = 5
    max_flagged: int | None = None
    batch: int = 128
    progress: bool = True
    device: str = "auto"

    def __post_init__(self) -> None:
        from mi_core.config import check_positive

        devices.check_device(self.device)
        for name in ("n_samples", "threshold", "tiles", "min_size", "batch"):
            check_positive(name, getattr(self, name))
        if self.max_flagged is not None:
            check_positive("max_flagged", self.max_flagged)
        if self.min_size > self.n_samples:
            raise ConfigError(
                f"min_size: {self.min_size} near-identical images cannot be found among "
                f"n_samples={self.n_samples}"
            )


def extraction_result_arrays(images: torch.Tensor, flagged: list[int]) -> dict[str, torch.Tensor]:
    """``random_samples``: every generation, unfiltered, in the order drawn (the baseline: the
    evaluator reads the first ``len(flagged)`` for distinct images and all of them for the
    expected precision of a random sample); ``flagged_index``: where each flagged image sits."""
    return {
        "random_samples": images.clone(),
        "flagged_index": torch.as_tensor(flagged, dtype=torch.long, device="cpu"),
    }


# ------------------------------------------------------------------------------------------
# evaluation
# ------------------------------------------------------------------------------------------


@register_metric("flagged_precision", higher_is_better=True, modality="image", unit_interval=True)
def flagged_precision(nearest: torch.Tensor, threshold: float) -> float:
    """Share of flagged images whose nearest training image lies within the threshold."""
    if nearest.numel() == 0:
        raise MetricError("flagged_precision: no image was flagged")
    return float((nearest < threshold).float().mean())


@register_metric("distinct_extracted", higher_is_better=True, modality="image")
def distinct_extracted(nearest: torch.Tensor, which: torch.Tensor, threshold: float) -> float:
    """Number of distinct training images within the threshold of some flagged image."""
    return float(torch.unique(which[nearest < threshold]).numel())


@dataclass
class ExtractionEvaluator:
    """Judges extracted images against the generator's training set (which attacks never see).

    Args:
        train_images: the *distinct* training images ``(M, C, H, W)`` in [0, 1].
        threshold: normalised l2 within which a generation reproduces a training image.
        copies: optional ``(M,)`` number of times each image appeared in the training data (the
            figures then break the extracted share down per duplication level).
    """

    train_images: torch.Tensor
    threshold: float = 0.1
    copies: torch.Tensor | None = None
    levels: dict[str, Any] = field(default_factory=dict)

    def nearest(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Distance to, and index of, the nearest training image of every image."""
        if images.shape[0] == 0:
            return torch.empty(0), torch.empty(0, dtype=torch.long)
        d = l2_distances(images.float(), self.train_images.float())
        v, i = d.min(1)
        return v, i

    def _per_level(self, nearest: torch.Tensor, which: torch.Tensor) -> dict[str, float]:
        if self.copies is None:
            return {}
        hit = torch.zeros(self.train_images.shape[0], dtype=torch.bool)
        hit[which[nearest < self.threshold]] = True
        out = {}
        for c in torch.unique(self.copies).tolist():
            mask = self.copies == c
            out[f"x{int(c)}"] = float(hit[mask].float().mean())
        return out

    def evaluate(self, result: AttackResult) -> list[Figure]:
        flagged = result.reconstructions
        if not isinstance(flagged, torch.Tensor) or flagged.ndim != 4:
            raise MetricError("reconstructions: expected flagged images (N, C, H, W)")
        rand = result.arrays.get("random_samples")
        if not isinstance(rand, torch.Tensor) or rand.shape[0] < max(1, flagged.shape[0]):
            raise MetricError(
                "arrays['random_samples']: an extraction result carries its unfiltered "
                "generations (at least as many as it flags): the baseline"
            )
        nv, ni = self.nearest(flagged)
        av, ai = self.nearest(rand)  # every generation: the precision of a random sample
        rv, ri = av[: flagged.shape[0]], ai[: flagged.shape[0]]  # as many as were flagged
        base = "unfiltered random samples (same number)"
        base_p = "a random sample (all unfiltered generations)"
        details = {
            "threshold": self.threshold,
            "flagged": int(flagged.shape[0]),
            "no_model_baseline": 0.0,
            "per_level": self._per_level(nv, ni),
            "baseline_per_level": self._per_level(rv, ri),
        }
        if self.copies is not None:
            details["level_sizes"] = {
                f"x{int(c)}": int((self.copies == c).sum()) for c in torch.unique(self.copies)
            }
        figs = [
            Figure(
                "distinct_extracted",
                distinct_extracted(nv, ni, self.threshold),
                True,
                distinct_extracted(rv, ri, self.threshold),
                base,
                details,
            )
        ]
        if flagged.shape[0] > 0:
            figs.insert(
                0,
                Figure(
                    "flagged_precision",
                    flagged_precision(nv, self.threshold),
                    True,
                    flagged_precision(av, self.threshold),
                    base_p,
                    {
                        "threshold": self.threshold,
                        "flagged": int(flagged.shape[0]),
                        "generated": int(rand.shape[0]),
                    },
                ),
            )
        result.arrays["nearest_distance"] = nv
        result.arrays["nearest_index"] = ni
        return figs


__all__ = [
    "ExtractionConfig",
    "ExtractionEvaluator",
    "GenerativeTarget",
    "GeneratorInfo",
    "distinct_extracted",
    "find_cliques",
    "flagged_precision",
    "generator_view",
    "knn_radius",
    "l2_distances",
    "medoid",
    "pairwise",
    "query_images",
    "require_generator",
    "sample_generations",
    "suppress_near_duplicates",
    "tiled_l2",
]
