"""Identity and prior losses shared by image attacks (survey Eq. 3-5).

Identity losses take the target's logits ``(N, K)`` and the target classes ``(N,)`` and return a
per-sample loss ``(N,)``: attacks batch many classes and stop samples independently.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from mi_core.errors import ConfigError

IdentityLoss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """-log p_c (GMI, KEDMI, ...)."""
    return F.cross_entropy(logits, targets, reduction="none")


def one_minus_confidence(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """1 - p_c: MI-Face's cost (Fredrikson et al. 2015, Algorithm 1)."""
    p = torch.softmax(logits, dim=1)
    return 1.0 - p.gather(1, targets[:, None]).squeeze(1)


def total_variation(x: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference of neighbouring pixels, per sample (a smoothness prior)."""
    dh = (x[..., 1:, :] - x[..., :-1, :]).abs().flatten(1).mean(1)
    dw = (x[..., :, 1:] - x[..., :, :-1]).abs().flatten(1).mean(1)
    return dh + dw


IDENTITY_LOSSES: dict[str, IdentityLoss] = {
    "ce": cross_entropy,
    "1-p": one_minus_confidence,
}


def get_identity_loss(name: str) -> IdentityLoss:
    if name not in IDENTITY_LOSSES:
        raise ConfigError(
            f"loss: unknown identity loss {name!r}; allowed values: "
            f"{', '.join(map(repr, IDENTITY_LOSSES))}"
        )
    return IDENTITY_LOSSES[name]
