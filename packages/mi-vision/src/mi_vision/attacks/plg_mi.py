"""PLG-MI: pseudo-label-guided model inversion with a conditional GAN (Yuan et al., AAAI 2023).

Stage 1 (``PriorConfig(kind="plg-mi")``): the target labels the public images, the ``top_n``
most confident per class become pseudo-labelled training pairs of a conditional GAN (projection
discriminator, hinge loss), and the generator also minimises the target's max-margin loss on
augmented generated images of the conditioned class. Stage 2 (this attack): for each class c,
Adam on z of ``G(z, c)`` minimising the max-margin loss (survey Eq. 5)

    L_MM = -l_c(x) + max_{j != c} l_j(x)

averaged over two random augmentations per step (the authors' code: lr 0.1, 600 steps).
"""

from __future__ import annotations

from dataclasses import dataclass

from mi_vision.attacks.gmi import GMI, GMIConfig


@dataclass
class PLGMIConfig(GMIConfig):
    """Hyper-parameters of PLG-MI (the authors' code in brackets); GMI's fields with these
    defaults: ``steps`` [600], ``lr`` [0.1], ``optimizer`` adam, ``identity_loss`` max-margin,
    ``augment`` standard with ``n_aug`` [2] copies, no realism term, no latent clipping."""

    steps: int = 600
    lr: float = 0.1
    optimizer: str = "adam"
    identity_loss: str = "max-margin"
    prior_weight: float = 0.0
    latent_clip: float | None = None
    augment: str = "standard"
    n_aug: int = 2


class PLGMI(GMI):
    """Latent search of a target-pseudo-labelled conditional GAN with the max-margin loss."""

    name = "plg-mi"
    paper = "Yuan et al., AAAI 2023"
    summary = "conditional GAN trained on target pseudo labels; Adam on z with max-margin loss"
    Config = PLGMIConfig
    prior_kinds = ("plg-mi",)
    conditional = True
    default_prior = (("kind", "plg-mi"),)
