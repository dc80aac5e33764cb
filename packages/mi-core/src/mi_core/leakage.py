"""The leakage rule, written once: when does a figure show that the model leaks?

Every table of this project (the audit's leakage column, the report's verdict, the README
benchmark tables) calls :func:`assess`. A figure (a metric value of an attack beside its baseline,
:class:`~mi_core.metrics.base.Figure`) shows leakage only when

1. its baseline never used the target (sampling the target is the attack, not a baseline:
   ``baseline_uses_target`` makes the figure *invalid*, never "none found");
2. for images, the reconstructions are on the image manifold (``on_manifold``: recognised and no
   farther from the private class than the attack's own unoptimised prior samples). An attack
   whose accuracy rises while its distances worsen is *adversarial*, not a reconstruction;
3. the gap (attack minus baseline, signed so that positive favours the attacker) exceeds the
   spread over seeds (``spread``): a gap inside the spread is *not shown*;
4. the gap is large enough to matter: for metrics on [0, 1] (accuracies, AUC, precision, recall)
   an absolute gap of at least ``SOME_ABS`` (``HIGH_ABS`` for "high"); for unbounded metrics
   (distances, PSNR, FID, perplexity) a gap relative to the baseline's magnitude of at least
   ``SOME_REL`` (``HIGH_REL``).

Levels, worst for the model first: ``high``, ``some``, ``not shown``; and three that are not a
judgement of the model: ``adversarial`` (the attack's output is off the data manifold),
``invalid baseline`` (the baseline used the target), ``no baseline``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mi_core.errors import MetricError

HIGH_ABS = 0.10
SOME_ABS = 0.02
HIGH_REL = 0.20
SOME_REL = 0.05

LEVELS = ("high", "some", "not shown", "adversarial", "invalid baseline", "no baseline")
#: how bad each level is for the model (higher = worse); non-judgements rank below "not shown"
_SEVERITY = {
    "high": 3,
    "some": 2,
    "not shown": 1,
    "adversarial": 0,
    "invalid baseline": 0,
    "no baseline": 0,
}
CSS = {
    "high": "bad",
    "some": "warn",
    "not shown": "ok",
    "adversarial": "warn",
    "invalid baseline": "bad",
    "no baseline": "",
}
EXPLAIN = {
    "high": "the attack beats a baseline that never used the model by a wide margin",
    "some": "the attack beats the baseline by more than the seed spread, by a small margin",
    "not shown": "the gap to the baseline is inside the seed spread or too small to matter",
    "adversarial": "the attack's output fools the evaluation model but is off the data manifold "
    "(no closer to the private data than its own unoptimised prior samples): not a "
    "reconstruction",
    "invalid baseline": "the baseline used the target itself; sampling the target is the attack, "
    "so no gap can be read from it",
    "no baseline": "no baseline figure to compare with",
}


@dataclass(frozen=True)
class Leakage:
    """The verdict on one figure."""

    level: str
    gap: float | None
    spread: float | None
    reason: str

    @property
    def css(self) -> str:
        return CSS[self.level]

    @property
    def severity(self) -> int:
        return _SEVERITY[self.level]

    def to_dict(self) -> dict[str, Any]:
        return {"level": self.level, "gap": self.gap, "spread": self.spread, "reason": self.reason}


def _finite(x: Any) -> float | None:
    if x is None:
        return None
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def assess(
    value: float,
    baseline: float | None,
    *,
    higher_is_better: bool,
    spread: float | None = None,
    unit_interval: bool | None = None,
    baseline_uses_target: bool = False,
    on_manifold: bool | None = None,
) -> Leakage:
    """Apply the leakage rule to one figure (see the module docstring).

    Args:
        value: the attack's figure (the mean over seeds where there are several).
        baseline: the same figure for the baseline (mean over seeds), or None.
        higher_is_better: direction of the metric from the attacker's side.
        spread: the spread of the gap over seeds (e.g. the larger of the attack's and the
            baseline's standard deviations, or the standard deviation of per-seed gaps); None
            when only one seed ran.
        unit_interval: whether the metric lives on [0, 1] (absolute thresholds); None infers it
            from the two values.
        baseline_uses_target: the baseline was computed with the target (not a baseline).
        on_manifold: image figures: False when the reconstructions are off the manifold.
    """
    v = _finite(value)
    if v is None:
        raise MetricError(f"leakage: the figure's value {value!r} is not a finite number")
    b = _finite(baseline)
    if baseline_uses_target:
        return Leakage("invalid baseline", None, spread, EXPLAIN["invalid baseline"])
    if b is None:
        return Leakage("no baseline", None, spread, EXPLAIN["no baseline"])
    gap = v - b if higher_is_better else b - v
    s = _finite(spread)
    if on_manifold is False and gap > 0:
        return Leakage("adversarial", gap, s, EXPLAIN["adversarial"])
    if unit_interval is None:
        unit_interval = 0.0 <= v <= 1.0 and 0.0 <= b <= 1.0
    size = gap if unit_interval else gap / max(abs(b), 1e-12)
    high, some = (HIGH_ABS, SOME_ABS) if unit_interval else (HIGH_REL, SOME_REL)
    if s is not None and gap <= s:
        return Leakage("not shown", gap, s, f"the gap {gap:.3g} is inside the seed spread {s:.3g}")
    if size < some:
        return Leakage("not shown", gap, s, EXPLAIN["not shown"])
    level = "high" if size >= high else "some"
    reason = EXPLAIN[level]
    if s is None:
        reason += " (one seed: no spread measured)"
    return Leakage(level, gap, s, reason)


def assess_figure(fig: Any) -> Leakage:
    """:func:`assess` of a :class:`~mi_core.metrics.base.Figure` or its ``to_dict()`` form."""
    if isinstance(fig, Mapping):
        bl = fig.get("baseline")
        base = bl.get("value") if isinstance(bl, Mapping) else bl
        return assess(
            fig["value"],
            base,
            higher_is_better=bool(fig.get("higher_is_better_for_attacker", True)),
            spread=fig.get("spread"),
            unit_interval=fig.get("unit_interval"),
            baseline_uses_target=bool(fig.get("baseline_uses_target", False)),
            on_manifold=fig.get("on_manifold"),
        )
    return assess(
        fig.value,
        fig.baseline,
        higher_is_better=fig.higher_is_better,
        spread=fig.spread,
        unit_interval=fig.unit_interval,
        baseline_uses_target=fig.baseline_uses_target,
        on_manifold=fig.on_manifold,
    )


@dataclass(frozen=True)
class SeedStats:
    """Mean and spread of one figure over seeds."""

    mean: float
    std: float
    min: float
    max: float
    n: int

    def to_dict(self) -> dict[str, float | int]:
        return {"mean": self.mean, "std": self.std, "min": self.min, "max": self.max, "n": self.n}

    def fmt(self, nd: int = 3) -> str:
        """``mean ± std`` (``mean`` alone for one seed)."""
        if self.n < 2:
            return f"{self.mean:.{nd}f}"
        return f"{self.mean:.{nd}f} ± {self.std:.{nd}f}"


def seed_stats(values: Iterable[float]) -> SeedStats:
    """Mean, sample standard deviation (0 for one value), min and max of per-seed values."""
    vals = [float(v) for v in values]
    if not vals:
        raise MetricError("seed_stats: no values (run at least one seed)")
    if not all(math.isfinite(v) for v in vals):
        raise MetricError(f"seed_stats: non-finite values {vals}")
    n = len(vals)
    mean = sum(vals) / n
    std = math.sqrt(sum((v - mean) ** 2 for v in vals) / (n - 1)) if n > 1 else 0.0
    return SeedStats(mean, std, min(vals), max(vals), n)


def assess_seeds(
    values: Sequence[float],
    baselines: Sequence[float] | None,
    *,
    higher_is_better: bool,
    unit_interval: bool | None = None,
    baseline_uses_target: bool = False,
    on_manifold: bool | None = None,
) -> tuple[Leakage, SeedStats, SeedStats | None]:
    """The rule over several seeds: means compared, the spread is the standard deviation of the
    per-seed gaps (paired seeds) or, when the lengths differ, the larger of the two standard
    deviations. Returns the verdict and the statistics of the attack and of the baseline."""
    st = seed_stats(values)
    if not baselines:
        lk = assess(
            st.mean,
            None,
            higher_is_better=higher_is_better,
            baseline_uses_target=baseline_uses_target,
        )
        return lk, st, None
    sb = seed_stats(baselines)
    if st.n < 2 and sb.n < 2:
        spread = None
    elif len(values) == len(baselines):
        spread = seed_stats([a - b for a, b in zip(values, baselines, strict=True)]).std
    else:
        spread = max(st.std, sb.std)
    lk = assess(
        st.mean,
        sb.mean,
        higher_is_better=higher_is_better,
        spread=spread,
        unit_interval=unit_interval,
        baseline_uses_target=baseline_uses_target,
        on_manifold=on_manifold,
    )
    return lk, st, sb


def worst(items: Iterable[tuple[Any, Leakage]]) -> tuple[Any, Leakage] | None:
    """The item whose leakage is worst for the model (highest severity, then largest gap)."""
    best: tuple[Any, Leakage] | None = None
    for item, lk in items:
        key = (lk.severity, lk.gap if lk.gap is not None else -math.inf)
        if best is None or key > (
            best[1].severity,
            best[1].gap if best[1].gap is not None else -math.inf,
        ):
            best = (item, lk)
    return best


__all__ = [
    "CSS",
    "EXPLAIN",
    "HIGH_ABS",
    "HIGH_REL",
    "LEVELS",
    "SOME_ABS",
    "SOME_REL",
    "Leakage",
    "SeedStats",
    "assess",
    "assess_figure",
    "assess_seeds",
    "seed_stats",
    "worst",
]
