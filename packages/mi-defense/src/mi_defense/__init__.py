"""mi-defense: defenses against model inversion (output processing, robust training, data
preprocessing, output filtering)."""

__version__ = "0.1.0"
