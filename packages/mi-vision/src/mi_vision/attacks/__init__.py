"""Image attacks, one module per method."""
