"""Graph attacks, one module per method (survey Sec. V-B)."""
