"""mi-core: threat model, access-enforcing target views, attack / defense protocols, results,
metrics, plugin registry, the ``mi`` CLI and reports."""

from typing import TYPE_CHECKING, Any

from mi_core.device import get_device
from mi_core.errors import (
    AccessError,
    ConfigError,
    DeviceUnavailable,
    MetricError,
    MIError,
    NonFiniteOutputError,
    PluginAPIError,
    QueryBudgetExceeded,
)
from mi_core.registry import PLUGIN_API
from mi_core.result import AttackResult
from mi_core.seed import seed_everything
from mi_core.threat import Access, Knowledge

__version__ = "0.1.0"

# Names whose modules deal in torch models are imported on first use, so that ``import mi_core``
# works without torch (``pip install mi-core`` for tabular audits; ``mi-core[torch]`` otherwise).
_LAZY = {
    "Attack": "mi_core.attack",
    "BaseAttack": "mi_core.attack",
    "BaseDefense": "mi_core.defense",
    "DataDefense": "mi_core.defense",
    "DefenseKind": "mi_core.defense",
    "OutputDefense": "mi_core.defense",
    "TrainingDefense": "mi_core.defense",
    "BlackBoxView": "mi_core.views",
    "TargetInfo": "mi_core.views",
    "TargetView": "mi_core.views",
    "WhiteBoxView": "mi_core.views",
    "make_view": "mi_core.views",
    "require_access": "mi_core.views",
    "view_from_callable": "mi_core.views",
    "view_from_module": "mi_core.views",
    "view_from_sklearn": "mi_core.views",
}

if TYPE_CHECKING:
    from mi_core.attack import Attack, BaseAttack
    from mi_core.defense import (
        BaseDefense,
        DataDefense,
        DefenseKind,
        OutputDefense,
        TrainingDefense,
    )
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


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'mi_core' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


__all__ = [
    "PLUGIN_API",
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
    "DeviceUnavailable",
    "Knowledge",
    "MIError",
    "MetricError",
    "NonFiniteOutputError",
    "OutputDefense",
    "PluginAPIError",
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
