"""Data defenses: transform the training data before the target is trained (survey Sec. VI-B 3)."""
