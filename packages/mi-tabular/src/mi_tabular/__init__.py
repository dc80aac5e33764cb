"""mi-tabular: tabular attacks (Fredrikson MAP, decision-tree inversion, black-box attribute
inference).
"""

__version__ = "0.1.0"
