"""Text attacks, one module per method (see the package README for the table)."""
