"""Identity and prior losses shared by image attacks (survey Eq. 3-5).

Identity losses take the target's logits ``(N, K)`` and the target classes ``(N,)`` and return a
per-sample loss ``(N,)``: attacks batch many classes and stop samples independently.

* ``ce``: cross-entropy ``-log p_c`` (GMI, KEDMI, Mirror);
* ``1-p``: ``1 - p_c`` (MI-Face, Fredrikson et al. 2015);
* ``poincare``: hyperbolic distance of the L1-normalised logits to the (shrunk) one-hot vector
  (PPA, survey Eq. 4);
* ``max-margin``: ``-l_c + max_{j != c} l_j`` (PLG-MI, survey Eq. 5);
* ``logit``: ``-l_c``, the target logit without the softmax (LOMMA).

Prior losses: :func:`discriminator_realism` (the GAN discriminator's realism penalty, GMI /
KEDMI), :func:`kl_standard_normal` (KL of a latent Gaussian to the prior, VMI / KEDMI),
:func:`feature_regularizer` (LOMMA's penultimate-feature term) and
:class:`BatchNormStatistics` (DeepInversion's match of the target's batch-norm statistics).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from mi_core.errors import ConfigError

IdentityLoss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """-log p_c (GMI, KEDMI, ...)."""
    return F.cross_entropy(logits, targets, reduction="none")


def one_minus_confidence(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """1 - p_c: MI-Face's cost (Fredrikson et al. 2015, Algorithm 1)."""
    p = torch.softmax(logits, dim=1)
    return 1.0 - p.gather(1, targets[:, None]).squeeze(1)


def poincare(logits: torch.Tensor, targets: torch.Tensor, delta: float = 1e-4) -> torch.Tensor:
    """Poincaré loss of PPA (Struppek et al. 2022; survey Eq. 4): the hyperbolic distance
    ``arccosh(1 + 2 |u - v|^2 / ((1 - |u|^2)(1 - |v|^2)))`` between the L1-normalised logits
    ``u`` and the one-hot target ``v`` shrunk to ``1 - delta`` (the paper's 0.9999)."""
    u = logits / logits.abs().sum(dim=1, keepdim=True).clamp_min(1e-12)
    v = F.one_hot(targets, logits.shape[1]).to(logits.dtype) * (1.0 - delta)
    uu = (u * u).sum(1).clamp(max=1.0 - 1e-6)
    vv = (v * v).sum(1)
    d = ((u - v) ** 2).sum(1)
    return torch.acosh(1.0 + 2.0 * d / ((1.0 - uu) * (1.0 - vv)))


def max_margin(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Max-margin loss of PLG-MI (Yuan et al. 2023; survey Eq. 5): ``-l_c + max_{j != c} l_j``."""
    target_logit = logits.gather(1, targets[:, None]).squeeze(1)
    others = logits.scatter(1, targets[:, None], float("-inf"))
    return -target_logit + others.max(dim=1).values


def logit_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """LOMMA's identity loss (Nguyen et al. 2023): ``-l_c``, the target logit, no softmax."""
    return -logits.gather(1, targets[:, None]).squeeze(1)


def total_variation(x: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference of neighbouring pixels, per sample (a smoothness prior)."""
    dh = (x[..., 1:, :] - x[..., :-1, :]).abs().flatten(1).mean(1)
    dw = (x[..., :, 1:] - x[..., :, :-1]).abs().flatten(1).mean(1)
    return dh + dw


IDENTITY_LOSSES: dict[str, IdentityLoss] = {
    "ce": cross_entropy,
    "1-p": one_minus_confidence,
    "poincare": poincare,
    "max-margin": max_margin,
    "logit": logit_loss,
}


def get_identity_loss(name: str, field: str = "identity_loss") -> IdentityLoss:
    """The identity loss called ``name``; errors name ``field``."""
    if name not in IDENTITY_LOSSES:
        raise ConfigError(
            f"{field}: unknown identity loss {name!r}; allowed values: "
            f"{', '.join(map(repr, IDENTITY_LOSSES))}"
        )
    return IDENTITY_LOSSES[name]


def discriminator_realism(d_out: torch.Tensor, kind: str) -> torch.Tensor:
    """Per-image realism penalty from a discriminator's output (survey Eq. 3, ``L_prior``).

    * ``gmi`` (WGAN-GP critic): ``-D(x)``, unbounded: keep its weight small (GMI: 1/100 of the
      identity term);
    * ``kedmi`` (K-way discriminator): ``-log D_real(x)`` with ``D_real = Z / (Z + 1)``,
      ``Z = sum_k exp(l_k)``, i.e. ``softplus(lse) - lse = softplus(-lse)``;
    * ``dcgan`` / ``plg-mi`` / ``lokt`` (logit of real vs fake): ``-log sigmoid(D(x))``.
    """
    if kind == "gmi":
        return -d_out
    if kind == "kedmi":
        return F.softplus(-torch.logsumexp(d_out, dim=1))
    if kind in ("dcgan", "plg-mi", "lokt"):
        return F.softplus(-d_out)
    raise ConfigError(
        f"prior.kind: no realism loss for a {kind!r} prior; set prior_weight=0 for custom priors"
    )


def kl_standard_normal(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL( N(mu, exp(logvar)) || N(0, I) ) per row: keeps a learned latent distribution near the
    generator's prior (VMI's KL term, Wang et al. 2021)."""
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).flatten(1).sum(1)


def feature_regularizer(features: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """LOMMA's feature term: mean squared distance of the target's penultimate features to a
    reference (the mean public feature), per sample."""
    return (features.flatten(1) - reference.flatten()[None]).pow(2).mean(1)


class BatchNormStatistics:
    """DeepInversion's feature-distribution regulariser (Yin et al., CVPR 2020, Eq. 4):
    ``sum_l ||mu_l(x) - mu_l^BN||_2 + ||sigma^2_l(x) - sigma^2_l^BN||_2`` over the target's
    ``BatchNorm2d`` layers, the batch statistics of their inputs against the running statistics
    stored by training. Forward hooks record the terms during the target's forward pass;
    :meth:`pop` returns their sum (one scalar per batch) and clears them. Use as a context
    manager so the hooks are removed.

    Raises:
        ConfigError: the module has no ``BatchNorm2d`` layer.
    """

    def __init__(self, module: nn.Module, first_weight: float = 1.0) -> None:
        self.layers = [m for m in module.modules() if isinstance(m, nn.BatchNorm2d)]
        if not self.layers:
            raise ConfigError(
                "target: no BatchNorm2d layer, so there are no batch-norm statistics to match"
            )
        self.first_weight = first_weight
        self.terms: list[torch.Tensor] = []
        self.handles = [m.register_forward_hook(self._hook) for m in self.layers]

    def _hook(self, mod: nn.Module, inp: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
        x = inp[0]
        mean = x.mean(dim=(0, 2, 3))
        var = x.permute(1, 0, 2, 3).flatten(1).var(dim=1, unbiased=False)
        assert isinstance(mod, nn.BatchNorm2d)
        term = torch.linalg.vector_norm(mean - mod.running_mean) + torch.linalg.vector_norm(
            var - mod.running_var
        )
        self.terms.append(term * (self.first_weight if not self.terms else 1.0))

    def pop(self) -> torch.Tensor:
        """The summed statistics loss of the forward passes since the last call."""
        if not self.terms:
            return torch.zeros((), device=self.layers[0].running_mean.device)
        total = torch.stack(self.terms).sum()
        self.terms = []
        return total

    def remove(self) -> None:
        for h in self.handles:
            h.remove()
        self.handles = []

    def __enter__(self) -> BatchNormStatistics:
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()
