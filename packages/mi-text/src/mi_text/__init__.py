"""mi-text: text attacks (training-data extraction, embedding inversion, prompt extraction)."""

__version__ = "0.1.0"

#: mi-core plugin API versions this package works with (checked by mi_core.registry on load)
MI_CORE_PLUGIN_API = ">=1.0,<2"
