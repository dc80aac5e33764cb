"""Tabular attacks, one module per method."""
