"""Output defenses: transform what a black-box target releases (survey Sec. VI-A)."""
