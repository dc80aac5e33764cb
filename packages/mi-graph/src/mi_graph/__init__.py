"""mi-graph: graph attacks (GraphMI, inverse mapping, link stealing, LinkTeller)."""

__version__ = "0.1.0"
