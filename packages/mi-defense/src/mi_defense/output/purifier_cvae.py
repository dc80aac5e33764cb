"""Purifier with a conditional VAE: the predicted label conditions the encoder and decoder.

Yang, Wang, Yang, Wan, Zhao, Chang, Zhang, Ren, "Purifier: defending data inference attacks via
transforming confidence scores", AAAI 2023 (survey [119], Sec. VI-A 2): the pipeline of
:mod:`mi_defense.output.purifier` (Eq. 11-12) with the autoencoder replaced by a conditional VAE
``q(z | s, y) p(s | z, y)`` whose condition ``y`` is the predicted label, so that the released
vector depends on the input only through a low-dimensional code given the label. The KL term
``beta * KL(q(z | s, y) || N(0, I))`` joins the purifier's loss; at release the code is the
posterior mean (``sample=False``) or a draw.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from mi_core.config import check_positive
from mi_defense import inversion as _inversion
from mi_defense.output.purifier import Purifier, PurifierConfig


@dataclass
class PurifierCVAEConfig(PurifierConfig):
    """Attributes (besides the purifier's):
    latent: size of the code z.
    beta: weight of the KL term.
    sample: release a draw of z (else its posterior mean).
    """

    latent: int = 4
    beta: float = 0.1
    sample: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        check_positive("latent", self.latent)
        check_positive("beta", self.beta, allow_zero=True)


class CVAENet(nn.Module):
    """Conditional VAE on score vectors, conditioned on the one-hot predicted label."""

    def __init__(self, num_classes: int, hidden: int = 16, latent: int = 4) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.enc = nn.Sequential(nn.Linear(2 * num_classes, 4 * hidden), nn.ReLU())
        self.mu = nn.Linear(4 * hidden, latent)
        self.logvar = nn.Linear(4 * hidden, latent)
        self.dec = nn.Sequential(
            nn.Linear(latent + num_classes, 4 * hidden),
            nn.ReLU(),
            nn.Linear(4 * hidden, num_classes),
        )

    def forward(
        self, scores: torch.Tensor, labels: torch.Tensor, *, sample: bool, generator: Any = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        y = F.one_hot(labels, self.num_classes).float()
        h = self.enc(torch.cat([_inversion.score_features(scores), y], dim=1))
        mu, logvar = self.mu(h), self.logvar(h).clamp(-10, 10)
        if sample:
            eps = torch.randn(mu.shape, generator=generator)
            z = mu + torch.exp(0.5 * logvar) * eps
        else:
            z = mu
        return torch.softmax(self.dec(torch.cat([z, y], dim=1)), dim=-1), mu, logvar


class PurifierCVAE(Purifier):
    """Conditional-VAE purifier conditioned on the predicted label (Yang et al. 2023)."""

    name = "purifier-cvae"
    paper = "Yang et al., AAAI 2023 (survey [119])"
    summary = "conditional-VAE purifier (label-conditioned) against an inversion model"
    Config = PurifierCVAEConfig

    def build(self, meta: dict[str, Any]) -> dict[str, nn.Module]:
        cfg = self.config
        return {
            "purifier": CVAENet(meta["num_classes"], cfg.hidden, cfg.latent),
            "inversion": _inversion.InversionNet(
                meta["num_classes"], tuple(meta["input_shape"]), input_range=meta["input_range"]
            ),
        }

    def purify(self, scores: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, Any]:
        net = self.nets["purifier"]
        # training samples z (the reparameterisation trick); release follows config.sample
        sample = net.training or self.config.sample
        out, mu, logvar = net(scores, labels, sample=sample, generator=None)
        return out, (mu, logvar)

    def extra_loss(self, extra: Any) -> torch.Tensor:
        mu, logvar = extra
        kl = -0.5 * (1 + logvar - mu**2 - logvar.exp()).sum(1).mean()
        return self.config.beta * kl
