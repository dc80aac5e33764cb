"""Audits: a grid of (target, attack, defense) cells run by an executor, and a report."""

from mi_core.audit.case import AuditCase, CellDefaults
from mi_core.audit.runner import CellSpec, run_cell, run_cells

__all__ = ["AuditCase", "CellDefaults", "CellSpec", "run_cell", "run_cells"]
