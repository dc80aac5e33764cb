"""GAN priors: networks, the generator interface attacks search, and resumable training."""

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
    "GeneratorPrior",
    "MappingGenerator",
    "MappingNetwork",
    "PriorConfig",
    "load_or_train_prior",
    "train_prior",
]
