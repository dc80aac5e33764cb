"""mi-graph: graph attacks (GraphMI, inverse mapping, link stealing, LinkTeller)."""

__version__ = "0.1.0"

#: mi-core plugin API versions this package works with (checked by mi_core.registry on load)
MI_CORE_PLUGIN_API = ">=1.0,<2"
