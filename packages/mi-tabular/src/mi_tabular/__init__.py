"""mi-tabular: attribute inference and model inversion on tabular models (Fredrikson et al. 2014
MAP, Fredrikson et al. 2015 decision-tree inversion, learned black-box attribute inference,
CSMIA / LOMIA of Mehnaz et al. 2022, poisoning-based inversion of Hidano et al. 2018)."""

from mi_tabular.data import (
    TabularDataset,
    from_frame,
    load_adult,
    load_iwpc,
    make_cohort,
    make_dosing_cohort,
    split_for_attack,
)
from mi_tabular.evaluate import AttributeEvaluator
from mi_tabular.knowledge import AttributeKnowledge, Marginal, attribute_knowledge

__version__ = "0.1.0"

#: mi-core plugin API versions this package works with (checked by mi_core.registry on load)
MI_CORE_PLUGIN_API = ">=1.0,<2"

__all__ = [
    "AttributeEvaluator",
    "AttributeKnowledge",
    "Marginal",
    "TabularDataset",
    "attribute_knowledge",
    "from_frame",
    "load_adult",
    "load_iwpc",
    "make_cohort",
    "make_dosing_cohort",
    "split_for_attack",
]
