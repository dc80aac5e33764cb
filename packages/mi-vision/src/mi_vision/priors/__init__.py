"""GAN and diffusion priors: networks, the generator interface attacks search, and resumable
training (diffusion priors on ``diffusers``: :mod:`mi_vision.priors.diffusion`)."""

from mi_vision.priors.diffusion import (
    DiffusionConfig,
    DiffusionPrior,
    load_or_train_diffusion_prior,
    train_diffusion_prior,
)
from mi_vision.priors.nets import (
    DCGANDiscriminator,
    DCGANGenerator,
    MappingGenerator,
    MappingNetwork,
)
from mi_vision.priors.prior import GeneratorPrior
from mi_vision.priors.training import PriorConfig, load_or_train_prior, train_prior

__all__ = [
    "DCGANDiscriminator",
    "DCGANGenerator",
    "DiffusionConfig",
    "DiffusionPrior",
    "GeneratorPrior",
    "MappingGenerator",
    "MappingNetwork",
    "PriorConfig",
    "load_or_train_diffusion_prior",
    "load_or_train_prior",
    "train_diffusion_prior",
    "train_prior",
]
