"""mi-vision: image attacks (pixel space, GAN and diffusion priors, white-box, black-box, label-
only).
"""

__version__ = "0.1.0"
