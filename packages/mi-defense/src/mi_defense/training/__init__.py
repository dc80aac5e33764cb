"""Robust training defenses: wrap the user's module / optimizer / loader (opacus-style) or train
end to end with ``fit`` (survey Sec. VI-B)."""
