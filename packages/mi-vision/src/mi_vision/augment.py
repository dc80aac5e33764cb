"""Differentiable, seeded image augmentations (survey Sec. IV-A-5-b).

PLG-MI augments generated images before the target judges them (stable convergence towards
realistic images); PPA and Mirror score candidates under augmentations to select the ones whose
class survives small changes (results selection, better transfer to other models). One random
affine warp (resized crop, rotation, horizontal flip) per image, then brightness / contrast
jitter; gradients flow through ``grid_sample``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from mi_core import device as devices
from mi_core.config import check_positive, check_range
from mi_core.errors import ConfigError


@dataclass(frozen=True)
class Augment:
    """Random resized crop (area fraction in ``crop_scale``), rotation up to ``rotate`` degrees,
    horizontal flip (``flip``), brightness and contrast jitter (multiplicative, +-)."""

    crop_scale: tuple[float, float] = (0.8, 1.0)
    rotate: float = 5.0
    flip: bool = True
    brightness: float = 0.2
    contrast: float = 0.2

    def __post_init__(self) -> None:
        lo, hi = self.crop_scale
        check_range("crop_scale[0]", lo, 0.05, 1.0)
        check_range("crop_scale[1]", hi, lo, 1.0)
        check_positive("rotate", self.rotate, allow_zero=True)
        check_range("brightness", self.brightness, 0.0, 1.0)
        check_range("contrast", self.contrast, 0.0, 1.0)

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        n, dev = x.shape[0], x.device

        def u(lo: float, hi: float) -> torch.Tensor:  # drawn on the CPU generator, then moved
            return lo + (hi - lo) * devices.rand(n, generator=generator, device=dev)

        s = u(*self.crop_scale).sqrt()
        tx = u(-1.0, 1.0) * (1.0 - s)
        ty = u(-1.0, 1.0) * (1.0 - s)
        ang = u(-self.rotate, self.rotate) * math.pi / 180.0
        flip = (
            torch.where(devices.rand(n, generator=generator, device=dev) < 0.5, -1.0, 1.0)
            if self.flip
            else torch.ones(n, device=dev)
        )
        cos, sin = torch.cos(ang) * s, torch.sin(ang) * s
        theta = torch.stack(
            [torch.stack([cos * flip, -sin, tx], 1), torch.stack([sin * flip, cos, ty], 1)], 1
        ).to(x.dtype)
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)
        out = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
        if self.brightness > 0:
            out = out * u(1 - self.brightness, 1 + self.brightness).view(n, 1, 1, 1)
        if self.contrast > 0:
            mean = out.mean(dim=(1, 2, 3), keepdim=True)
            out = (out - mean) * u(1 - self.contrast, 1 + self.contrast).view(n, 1, 1, 1) + mean
        return out.clamp(0.0, 1.0)


AUGMENTS: dict[str, Augment | None] = {
    "none": None,
    "standard": Augment(),
    "noflip": Augment(flip=False),
    "crop": Augment(rotate=0.0, flip=False, brightness=0.0, contrast=0.0),
}


def get_augment(name: str, field: str = "augment") -> Augment | None:
    """A named augmentation preset: ``none``, ``standard`` (PLG-MI / PPA: crop 0.8-1, rotation
    5 degrees, flip, jitter 0.2), ``noflip`` (the same without flips, for digits and text-like
    images) or ``crop``."""
    if name not in AUGMENTS:
        raise ConfigError(
            f"{field}: unknown preset {name!r}; allowed values: {', '.join(map(repr, AUGMENTS))}"
        )
    return AUGMENTS[name]
