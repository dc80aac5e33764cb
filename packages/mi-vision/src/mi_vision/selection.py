"""Initial and final selection under augmentations (survey Sec. IV-A-3-b and IV-A-5-c).

* :func:`initial_selection` (PPA, Mirror): sample many latents, score their images with the
  target (averaged over augmentations) and start each class from its most confident ones;
* :func:`final_selection` (PPA): keep, per class, the results whose target confidence survives
  augmentations best (better transfer to other models than the raw confidence);
* :func:`cutout_scores` (SecretGen): target confidence averaged over *sequential cut-outs*, a
  square blanked at every position of a grid in turn, so a candidate counts only when no single
  region carries its class.

Scores come from a callable returning class probabilities: a white-box softmax or a black-box
view (then every scored image is a counted query).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from mi_core.errors import ConfigError
from mi_vision.augment import Augment
from mi_vision.inversion import generate
from mi_vision.priors.prior import GeneratorPrior
from mi_vision.targets import TargetInput

Probs = Callable[[torch.Tensor], torch.Tensor]


def augmented_scores(
    images: torch.Tensor,
    probs: Probs,
    to_input: TargetInput,
    *,
    augment: Augment | None = None,
    n_aug: int = 0,
    rng: torch.Generator | None = None,
    batch: int = 256,
) -> torch.Tensor:
    """Mean class probabilities ``(N, K)`` of ``images`` and ``n_aug`` augmented copies."""
    total = None
    reps = [None] + ([augment] * n_aug if augment is not None else [])
    for aug in reps:
        outs = []
        for i in range(0, images.shape[0], batch):
            x = images[i : i + batch]
            if aug is not None:
                x = aug(x, rng)
            with torch.no_grad():
                outs.append(probs(to_input(x)).float())
        p = torch.cat(outs)
        total = p if total is None else total + p
    assert total is not None
    return total / len(reps)


def initial_selection(
    prior: GeneratorPrior,
    classes: torch.Tensor,
    per_class: int,
    candidates: int,
    probs: Probs,
    to_input: TargetInput,
    *,
    augment: Augment | None = None,
    n_aug: int = 0,
    rng: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Search-space latents of the ``per_class`` most confident of ``candidates`` random
    samples for every class in ``classes``; returns ``(latents, row_classes)`` grouped by class
    (``len(classes) * per_class`` rows). Costs ``candidates * (1 + n_aug)`` target queries."""
    if prior.num_classes is not None:
        raise ConfigError("initial_selection: conditional priors are sampled per class already")
    if per_class > candidates:
        raise ConfigError(
            f"candidates: {candidates} random samples cannot yield {per_class} per class"
        )
    z = prior.sample_z(candidates, rng)
    lat = prior.to_search(z)
    images = generate(prior, lat, torch.zeros(candidates, dtype=torch.long, device=lat.device))
    p = augmented_scores(images, probs, to_input, augment=augment, n_aug=n_aug, rng=rng)
    picks = p[:, classes].topk(per_class, dim=0).indices  # (per_class, C)
    latents = lat[picks.T.reshape(-1)]
    return latents.clone(), classes.repeat_interleave(per_class)


def final_selection(
    images: torch.Tensor,
    classes: torch.Tensor,
    keep: int,
    probs: Probs,
    to_input: TargetInput,
    *,
    augment: Augment | None = None,
    n_aug: int = 0,
    rng: torch.Generator | None = None,
) -> torch.Tensor:
    """Indices of the ``keep`` rows per class whose mean target confidence for their class over
    ``n_aug`` augmentations (plus the image itself) is highest."""
    p = augmented_scores(images, probs, to_input, augment=augment, n_aug=n_aug, rng=rng)
    conf = p.gather(1, classes[:, None]).squeeze(1)
    kept = []
    for c in torch.unique(classes, sorted=True):
        rows = torch.nonzero(classes == c).flatten()
        order = conf[rows].argsort(descending=True)
        kept.append(rows[order[:keep]])
    return torch.cat(kept)


def sequential_cutout(x: torch.Tensor, size: int, stride: int | None = None) -> list[torch.Tensor]:
    """Copies of ``x`` with one ``size x size`` square set to each image's mean, the square
    stepping over the image by ``stride`` (default ``size``): SecretGen's sequential cut-out
    (Yuan et al., ECCV 2022)."""
    if size < 1 or size > min(x.shape[-2:]):
        raise ConfigError(f"cutout: size must lie in [1, {min(x.shape[-2:])}], got {size}")
    step = stride or size
    h, w = x.shape[-2:]
    fill = x.mean(dim=(1, 2, 3), keepdim=True)
    out = []
    for top in range(0, h - size + 1, step):
        for left in range(0, w - size + 1, step):
            m = torch.zeros(1, 1, h, w, dtype=torch.bool, device=x.device)
            m[..., top : top + size, left : left + size] = True
            out.append(torch.where(m, fill, x))
    return out


def cutout_scores(
    images: torch.Tensor,
    probs: Probs,
    to_input: TargetInput,
    size: int,
    stride: int | None = None,
    batch: int = 256,
) -> torch.Tensor:
    """Mean class probabilities ``(N, K)`` of ``images`` and their sequential cut-outs
    (:func:`sequential_cutout`); costs ``len(images) * (1 + positions)`` target queries."""
    total, n = None, 0
    for x in [images, *sequential_cutout(images, size, stride)]:
        outs = []
        for i in range(0, x.shape[0], batch):
            with torch.no_grad():
                outs.append(probs(to_input(x[i : i + batch])).float())
        p = torch.cat(outs)
        total = p if total is None else total + p
        n += 1
    assert total is not None
    return total / n
