"""Generator and discriminator networks of the GAN priors (DCGAN-style, 8x8 to 64x64).

* :class:`DCGANGenerator`: latent (and optionally a class) -> image in [0, 1]; split into
  ``blocks`` so that ``G = G_L o ... o G_1`` (survey Eq. 7) for intermediate-layer search.
* :class:`MappingGenerator`: a StyleGAN-like generator, an MLP mapping network ``z -> w`` ending
  in a LeakyReLU (so the P space of Mirror exists) followed by a synthesis network.
* :class:`DCGANDiscriminator`: critic (GMI's WGAN-GP), K-way semi-supervised discriminator
  (KEDMI) or projection discriminator (PLG-MI), with a ``features`` method.

Users may bring their own networks: attacks only see a :class:`~mi_vision.priors.GeneratorPrior`.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from mi_core.errors import ConfigError


def _check_size(size: int) -> int:
    if not isinstance(size, int) or size < 8 or size & (size - 1):
        raise ConfigError(
            f"size: image side must be a power of two >= 8 (8, 16, 32, 64), got {size}"
        )
    return int(math.log2(size)) - 2


class DCGANGenerator(nn.Module):
    """Transposed-convolution generator (Radford et al. 2016), GMI's architecture at small scale.

    Args:
        latent_dim: input dimension.
        channels: image channels.
        size: image side (power of two, >= 8).
        width: channels of the last hidden layer (doubling towards the input).
        num_classes: conditional generator (class embedding concatenated to the latent).
    """

    def __init__(
        self,
        latent_dim: int = 100,
        channels: int = 1,
        size: int = 32,
        width: int = 64,
        num_classes: int | None = None,
    ) -> None:
        super().__init__()
        n_up = _check_size(size)
        self.config: dict[str, Any] = {
            "latent_dim": latent_dim,
            "channels": channels,
            "size": size,
            "width": width,
            "num_classes": num_classes,
        }
        self.latent_dim = latent_dim
        self.num_classes = num_classes
        chs = [width * 2 ** (n_up - 1 - i) for i in range(n_up)]
        in_dim = latent_dim
        self.embed: nn.Module | None = None
        if num_classes is not None:
            self.embed = nn.Embedding(num_classes, latent_dim)
            in_dim = 2 * latent_dim
        blocks: list[nn.Module] = [
            nn.Sequential(
                nn.Linear(in_dim, chs[0] * 16, bias=False),
                nn.BatchNorm1d(chs[0] * 16),
                nn.ReLU(),
                nn.Unflatten(1, (chs[0], 4, 4)),
            )
        ]
        for i in range(n_up - 1):
            blocks.append(
                nn.Sequential(
                    nn.ConvTranspose2d(chs[i], chs[i + 1], 4, 2, 1, bias=False),
                    nn.BatchNorm2d(chs[i + 1]),
                    nn.ReLU(),
                )
            )
        blocks.append(nn.Sequential(nn.ConvTranspose2d(chs[-1], channels, 4, 2, 1), nn.Sigmoid()))
        self.blocks = nn.ModuleList(blocks)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        h = z.flatten(1)
        if self.embed is not None:
            if y is None:
                raise ConfigError("y: this generator is conditional; pass the class labels")
            h = torch.cat([h, self.embed(y)], dim=1)
        for block in self.blocks:
            h = block(h)
        return h


class PixelNorm(nn.Module):
    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return z * torch.rsqrt(z.pow(2).mean(dim=1, keepdim=True) + 1e-8)


class MappingNetwork(nn.Module):
    """StyleGAN's mapping network ``z -> w``: pixel norm, then fully connected layers each followed
    by LeakyReLU(``slope``); the input of the last LeakyReLU is Mirror's P space."""

    def __init__(self, latent_dim: int, w_dim: int, layers: int = 3, slope: float = 0.2) -> None:
        super().__init__()
        self.slope = slope
        mods: list[nn.Module] = [PixelNorm()]
        d = latent_dim
        for _ in range(layers):
            mods += [nn.Linear(d, w_dim), nn.LeakyReLU(slope)]
            d = w_dim
        self.net = nn.Sequential(*mods)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


class MappingGenerator(nn.Module):
    """A StyleGAN-like generator: ``synthesis(mapping(z))`` with a W space and a P space."""

    def __init__(
        self,
        latent_dim: int = 100,
        channels: int = 1,
        size: int = 32,
        width: int = 64,
        w_dim: int | None = None,
        mapping_layers: int = 3,
    ) -> None:
        super().__init__()
        w_dim = w_dim or latent_dim
        self.config: dict[str, Any] = {
            "latent_dim": latent_dim,
            "channels": channels,
            "size": size,
            "width": width,
            "w_dim": w_dim,
            "mapping_layers": mapping_layers,
        }
        self.latent_dim = latent_dim
        self.w_dim = w_dim
        self.num_classes = None
        self.mapping = MappingNetwork(latent_dim, w_dim, mapping_layers)
        self.synthesis = DCGANGenerator(w_dim, channels, size, width)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.synthesis(self.mapping(z))


class DCGANDiscriminator(nn.Module):
    """Strided-convolution discriminator.

    Args:
        out_dim: 1 for a critic / real-fake logit, K for KEDMI's K-way discriminator whose
            real/fake score is ``logsumexp`` of the K logits (Salimans et al. 2016).
        num_classes: projection discriminator (Miyato & Koyama 2018), as in PLG-MI.
        norm: ``layer`` (group norm with one group; WGAN-GP needs no batch norm in the critic),
            ``spectral`` (spectral normalisation, PLG-MI) or ``none``.
        aux_classes: an auxiliary classifier head ``classify(x)`` on the features (ACGAN; LOKT's
            T-ACGAN), beside the real / fake output.
    """

    def __init__(
        self,
        channels: int = 1,
        size: int = 32,
        width: int = 64,
        out_dim: int = 1,
        num_classes: int | None = None,
        norm: str = "layer",
        aux_classes: int | None = None,
    ) -> None:
        super().__init__()
        n_down = _check_size(size)
        if norm not in ("layer", "spectral", "none"):
            raise ConfigError(f"norm: unknown value {norm!r}; allowed: 'layer', 'spectral', 'none'")
        self.config: dict[str, Any] = {
            "channels": channels,
            "size": size,
            "width": width,
            "out_dim": out_dim,
            "num_classes": num_classes,
            "norm": norm,
        }
        if aux_classes is not None:
            self.config["aux_classes"] = aux_classes
        sn = nn.utils.parametrizations.spectral_norm if norm == "spectral" else (lambda m: m)
        chs = [width * 2**i for i in range(n_down)]
        layers: list[nn.Module] = [sn(nn.Conv2d(channels, chs[0], 4, 2, 1)), nn.LeakyReLU(0.2)]
        for i in range(n_down - 1):
            layers.append(sn(nn.Conv2d(chs[i], chs[i + 1], 4, 2, 1)))
            if norm == "layer":
                layers.append(nn.GroupNorm(1, chs[i + 1]))
            layers.append(nn.LeakyReLU(0.2))
        layers.append(nn.Flatten())
        self.body = nn.Sequential(*layers)
        self.feature_dim = chs[-1] * 16
        self.out = sn(nn.Linear(self.feature_dim, out_dim))
        self.out_dim = out_dim
        self.num_classes = num_classes
        self.embed: nn.Module | None = None
        if num_classes is not None:
            self.embed = sn(nn.Embedding(num_classes, self.feature_dim))
        self.aux_classes = aux_classes
        self.head: nn.Module | None = None
        if aux_classes is not None:
            self.head = sn(nn.Linear(self.feature_dim, aux_classes))

    def classify(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits of the auxiliary classifier (ACGAN's ``C o D``)."""
        if self.head is None:
            raise ConfigError("aux_classes: this discriminator has no auxiliary classifier head")
        return self.head(self.body(x))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        h = self.body(x)
        out = self.out(h)
        if self.embed is not None:
            if y is None:
                raise ConfigError("y: this is a projection discriminator; pass the class labels")
            out = out + (self.embed(y) * h).sum(dim=1, keepdim=True)
        return out.squeeze(1) if self.out_dim == 1 else out


NETS: dict[str, type[nn.Module]] = {
    "DCGANGenerator": DCGANGenerator,
    "MappingGenerator": MappingGenerator,
    "DCGANDiscriminator": DCGANDiscriminator,
}


def build_net(spec: dict[str, Any]) -> nn.Module:
    """Rebuild a network of this module from ``{"class": name, "kwargs": {...}}``."""
    name = spec.get("class")
    if name not in NETS:
        raise ConfigError(f"prior: unknown network {name!r}; known: {', '.join(NETS)}")
    return NETS[name](**spec.get("kwargs", {}))


def net_spec(net: nn.Module) -> dict[str, Any]:
    return {"class": type(net).__name__, "kwargs": dict(net.config)}  # type: ignore[arg-type]
