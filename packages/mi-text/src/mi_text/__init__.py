"""mi-text: text attacks (training-data extraction, embedding inversion, prompt extraction)."""

__version__ = "0.1.0"
