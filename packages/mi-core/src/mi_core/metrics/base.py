"""One API for every metric: a registered function with a declared direction.

A metric is a plain function returning a float (or a dict of named floats); ``register_metric``
records its name and whether a higher value means a stronger attack. Modality packages add their
own metrics with the same decorator. A metric that cannot be computed raises
:class:`~mi_core.errors.MetricError`; it never returns 0 instead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mi_core.errors import ConfigError


@dataclass(frozen=True)
class MetricSpec:
    name: str
    fn: Callable[..., Any]
    higher_is_better: bool
    modality: str | None = None
    description: str = ""
    unit_interval: bool | None = None


_METRICS: dict[str, MetricSpec] = {}


def register_metric(
    name: str,
    *,
    higher_is_better: bool,
    modality: str | None = None,
    unit_interval: bool | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: register ``fn`` as metric ``name``; ``higher_is_better`` is from the attacker's
    side (a larger accuracy of reconstructions means a stronger attack; a larger distance a
    weaker one); ``unit_interval`` says whether its values live on [0, 1] (accuracies, AUC) so
    that the leakage rule reads absolute gaps, or are unbounded (distances) and read relative
    ones."""

    def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
        if name in _METRICS and _METRICS[name].fn is not fn:
            raise ConfigError(f"metric {name!r} is registered twice")
        doc = (fn.__doc__ or "").strip().splitlines()
        _METRICS[name] = MetricSpec(
            name, fn, higher_is_better, modality, doc[0] if doc else "", unit_interval
        )
        fn.higher_is_better = higher_is_better  # type: ignore[attr-defined]
        fn.metric_name = name  # type: ignore[attr-defined]
        return fn

    return deco


def get_metric(name: str) -> MetricSpec:
    if name not in _METRICS:
        raise ConfigError(
            f"metric: unknown metric {name!r}; known: {', '.join(sorted(_METRICS)) or 'none'}"
        )
    return _METRICS[name]


def list_metrics() -> list[MetricSpec]:
    return sorted(_METRICS.values(), key=lambda m: m.name)


@dataclass
class Figure:
    """A metric value beside its baseline, as reports show it.

    Besides the value and the baseline, a figure carries what the leakage rule
    (:mod:`mi_core.leakage`) needs: the spread over seeds, whether the baseline used the target
    (then it is no baseline), whether image reconstructions are on the data manifold, and
    whether the metric lives on [0, 1] (inferred from the metric's registration when unset).
    """

    metric: str
    value: float
    higher_is_better: bool
    baseline: float | None = None
    baseline_name: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    spread: float | None = None
    baseline_uses_target: bool = False
    on_manifold: bool | None = None
    unit_interval: bool | None = None

    def __post_init__(self) -> None:
        if self.unit_interval is None and self.metric in _METRICS:
            self.unit_interval = _METRICS[self.metric].unit_interval

    @property
    def leakage(self) -> Any:
        """The verdict of :func:`mi_core.leakage.assess` on this figure."""
        from mi_core.leakage import assess_figure

        return assess_figure(self)

    @property
    def gap(self) -> float | None:
        """Attack minus baseline, signed so that positive means the attack does better."""
        if self.baseline is None:
            return None
        d = self.value - self.baseline
        return d if self.higher_is_better else -d

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "value": self.value,
            "higher_is_better_for_attacker": self.higher_is_better,
            "baseline": None
            if self.baseline is None
            else {"name": self.baseline_name, "value": self.baseline},
            "gap": self.gap,
            "spread": self.spread,
            "baseline_uses_target": self.baseline_uses_target,
            "on_manifold": self.on_manifold,
            "unit_interval": self.unit_interval,
            "leakage": self.leakage.level,
            "details": self.details,
        }
