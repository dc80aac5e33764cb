"""mi-core: threat model, access-enforcing target views, attack / defense protocols, results,
metrics, plugin registry, the ``mi`` CLI and reports."""

from mi_core.attack import Attack, BaseAttack
from mi_core.defense import BaseDefense, DataDefense, DefenseKind, OutputDefense, TrainingDefense
from mi_core.errors import (
    AccessError,
    ConfigError,
    MetricError,
    MIError,
    NonFiniteOutputError,
    QueryBudgetExceeded,
)
from mi_core.result import AttackResult
from mi_core.seed import get_device, seed_everything
from mi_core.threat import Access, Knowledge
from mi_core.views import (
    BlackBoxView,
    TargetInfo,
    TargetView,
    WhiteBoxView,
    make_view,
    require_access,
    view_from_callable,
    view_from_module,
    view_from_sklearn,
)

__version__ = "0.1.0"

__all__ = [
    "Access",
    "AccessError",
    "Attack",
    "AttackResult",
    "BaseAttack",
    "BaseDefense",
    "BlackBoxView",
    "ConfigError",
    "DataDefense",
    "DefenseKind",
    "Knowledge",
    "MIError",
    "MetricError",
    "NonFiniteOutputError",
    "OutputDefense",
    "QueryBudgetExceeded",
    "TargetInfo",
    "TargetView",
    "TrainingDefense",
    "WhiteBoxView",
    "get_device",
    "make_view",
    "require_access",
    "seed_everything",
    "view_from_callable",
    "view_from_module",
    "view_from_sklearn",
]
