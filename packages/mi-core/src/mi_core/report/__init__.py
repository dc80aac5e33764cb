"""Reports: image grids and a self-contained HTML report of audit results."""

from mi_core.report.html import render_report
from mi_core.report.images import grid_image, save_grid

__all__ = ["grid_image", "render_report", "save_grid"]
