"""A self-contained HTML report (images and charts inlined, readable offline).

Sections, in the order a release manager reads them:

1. **Verdict** per target: high / some / not shown (or why no verdict can be given), with the
   worst attack, its access, its headline figure against its baseline and the seed spread, and a
   recommendation drawn from the defense cells that ran.
2. **Risk summary**: one headline row per attack (its evaluator's first figure), the other
   figures folded under it.
3. **Privacy-utility** of the defenses that ran.
4. **Evidence** per cell (reconstructions, recovered text, curves, confusion matrices).
5. **How to read this report**: the leakage levels, a line per metric and per attack.

Every leakage level comes from :mod:`mi_core.leakage` (the one rule): :func:`assess_figure` for a
cell that ran one seed, :func:`assess_seeds` for cells that differ only in their seed (they are
aggregated: mean ± standard deviation, the spread of the gap from the per-seed gaps), and
:func:`worst` for the verdict. This module writes no threshold of its own.

Evidence comes from the saved :class:`~mi_core.result.AttackResult` by these conventions, which
evaluators follow:

* images: ``reconstructions`` (N, C, H, W), ``targets`` (class per reconstruction),
  ``arrays["class_means"]`` (the mean private image of each reconstruction's class) and
  ``arrays["eval_pred"]`` (the evaluation model's prediction per reconstruction) and
  ``arrays["leaked"]`` (recognised and on the manifold): shown as wrapping tiles, each labelled
  with its class, the prediction and whether it leaked;
* text: ``reconstructions`` a list of strings and ``info["secrets"]`` the private strings (PII,
  canaries) to highlight where they were recovered; ``info`` mappings whose key names a rank or
  an exposure (``canary_ranks``, ``exposures`` ...) are shown as tables;
* scores against ground truth (edges, attributes): ``arrays["eval_scores"]`` and
  ``arrays["eval_labels"]`` (binary) give ROC and precision-recall curves;
* attribute inference: ``arrays["confusion"]`` (K x K, rows true) and ``info["classes"]`` give a
  confusion matrix;
* timing: ``seconds`` is the attack's wall time; ``info["prior_seconds"]`` the part of it spent
  training (or loading) a generative prior, shown apart.

Modality packages may add renderers with :func:`register_evidence`.
"""

from __future__ import annotations

import base64
import html
import json
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mi_core.errors import MetricError
from mi_core.io import atomic_write_json, atomic_write_text, read_json
from mi_core.leakage import (
    EXPLAIN,
    LEVELS,
    Leakage,
    SeedStats,
    assess_figure,
    assess_seeds,
    seed_stats,
    worst,
)
from mi_core.report import glossary
from mi_core.report.svg import line_chart, scatter_chart

EvidenceRenderer = Callable[[Any], str]
_EVIDENCE: dict[str, EvidenceRenderer] = {}

#: the levels that are no judgement of the model (see :mod:`mi_core.leakage`)
NON_JUDGEMENT = ("adversarial", "invalid baseline", "no baseline")
#: a short CSS class per level (display only: the level itself comes from mi_core.leakage)
_LEVEL_CLASS = {
    "high": "lv-high",
    "some": "lv-some",
    "not shown": "lv-none",
    "adversarial": "lv-adv",
    "invalid baseline": "lv-invalid",
    "no baseline": "lv-nobase",
}
VERDICT_WORDS = {
    "high": "High leakage",
    "some": "Some leakage",
    "not shown": "No leakage shown",
    "adversarial": "No reconstruction: the attacks' outputs are adversarial",
    "invalid baseline": "No verdict: the baselines used the target",
    "no baseline": "No verdict: no baseline to compare with",
}
MAX_TILES = 48


def register_evidence(modality: str) -> Callable[[EvidenceRenderer], EvidenceRenderer]:
    def deco(fn: EvidenceRenderer) -> EvidenceRenderer:
        _EVIDENCE[modality] = fn
        return fn

    return deco


def esc(x: Any) -> str:
    return html.escape(str(x), quote=True)


def img_tag(png: bytes, alt: str, width: int | None = None) -> str:
    data = base64.b64encode(png).decode("ascii")
    w = f' width="{width}"' if width else ""
    return f'<img alt="{esc(alt)}" src="data:image/png;base64,{data}"{w}>'


def _finite(x: Any) -> float | None:
    if x is None or isinstance(x, bool):
        return None
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def decimals(*values: Any) -> int:
    """Decimals that suit the largest of ``values`` (3 below 10, 2 below 100, 1 below 1000)."""
    xs = [abs(x) for v in values if (x := _finite(v)) is not None]
    a = max(xs, default=0.0)
    return 0 if a >= 1000 else 1 if a >= 100 else 2 if a >= 10 else 3


def num(v: Any, sign: bool = False, nd: int | None = None) -> str:
    """A number with as many decimals as its size needs (``nd`` to fix them; ``–`` for none)."""
    x = _finite(v)
    if x is None:
        return "–" if v is None else esc(v)
    nd = decimals(x) if nd is None else nd
    return format(x, ("+" if sign else "") + ("," if nd == 0 else "") + f".{nd}f")


def fmt(v: Any) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return num(v)
    return esc(v)


def _stat(st: SeedStats | None, nd: int | None = None) -> str:
    if st is None:
        return "–"
    nd = decimals(st.mean) if nd is None else nd
    if st.n < 2:
        return num(st.mean, nd=nd)
    return f"{num(st.mean, nd=nd)} ± {num(st.std, nd=nd)}"


def _cstat(st: SeedStats | None, nd: int | None = None) -> str:
    """:func:`_stat` for a table cell: no line break inside ``mean ± sd``."""
    return _stat(st, nd).replace(" ± ", "\u00a0±\u00a0")


def _pair_nd(r: Row) -> int:
    """One number of decimals for a figure, its baseline and its gap."""
    return decimals(r.stats.mean if r.stats else None, r.bstats.mean if r.bstats else None)


def badge(level: str | None, text: str | None = None) -> str:
    """A leakage level as a coloured badge, explained on hover."""
    if level is None:
        return "<span class='lv lv-nobase'>–</span>"
    cls = _LEVEL_CLASS.get(level, "lv-nobase")
    return (
        f"<span class='lv {cls}' title='{esc(EXPLAIN.get(level, ''))}'>{esc(text or level)}</span>"
    )


def _wrap(table: str) -> str:
    """Tables scroll inside their wrapper on narrow screens instead of widening the page."""
    return f"<div class=tablewrap>{table}</div>"


def _slug(s: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", s).strip("-") or "x"


# ---------------------------------------------------------------------------------- aggregation
@dataclass
class Row:
    """One metric of one group of cells (seeds aggregated)."""

    metric: str
    higher: bool
    stats: SeedStats | None
    bstats: SeedStats | None
    baseline_name: str
    baseline_uses_target: bool
    leak: Leakage | None
    error: str = ""


@dataclass
class Group:
    """Cells that differ only in their seed (one target, attack, access, defense, config)."""

    key: str
    base_key: str  # the same without the defense: pairs a defended group with its undefended one
    target: str
    attack: str
    access: str
    defense: str | None
    defense_label: str
    ok: list[dict[str, Any]] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)
    utility: dict[str, SeedStats] = field(default_factory=dict)
    attack_seconds: SeedStats | None = None
    prior_seconds: SeedStats | None = None
    queries: SeedStats | None = None

    @property
    def headline(self) -> Row | None:
        return self.rows[0] if self.rows else None

    @property
    def seeds(self) -> list[Any]:
        return [r["spec"].get("seed") for r in self.ok]

    def row(self, metric: str) -> Row | None:
        return next((r for r in self.rows if r.metric == metric), None)


def _target(rec: dict[str, Any]) -> str:
    spec = rec.get("spec") or {}
    return str(rec.get("target") or spec.get("target") or spec.get("case") or "target")


def _defense_label(spec: dict[str, Any]) -> str:
    if not spec.get("defense"):
        return "undefended"
    cfg = spec.get("defense_config") or {}
    extra = " ".join(f"{k}={v}" for k, v in cfg.items())
    return f"{spec['defense']} {extra}".strip()


def _keys(rec: dict[str, Any]) -> tuple[str, str]:
    spec = dict(rec.get("spec") or {})
    spec.pop("seed", None)
    spec.pop("shards", None)
    spec["target"] = _target(rec)
    key = json.dumps(spec, sort_keys=True, default=str)
    spec.pop("defense", None)
    spec.pop("defense_config", None)
    return key, json.dumps(spec, sort_keys=True, default=str)


def _baseline_value(fig: dict[str, Any]) -> float | None:
    bl = fig.get("baseline")
    return _finite(bl.get("value") if isinstance(bl, dict) else bl)


def _baseline_name(fig: dict[str, Any]) -> str:
    bl = fig.get("baseline")
    return str(bl.get("name") or "") if isinstance(bl, dict) else ""


def aggregate_figures(figs: list[dict[str, Any]]) -> Row:
    """One metric's figures over seeds -> mean ± spread and the leakage level of the one rule
    (:func:`assess_figure` for one seed, :func:`assess_seeds` for several)."""
    first = figs[0]
    metric = str(first.get("metric"))
    higher = bool(first.get("higher_is_better_for_attacker", True))
    uses = any(bool(f.get("baseline_uses_target")) for f in figs)
    name = next((n for f in figs if (n := _baseline_name(f))), "")
    vals = [v for f in figs if (v := _finite(f.get("value"))) is not None]
    if not vals:
        return Row(metric, higher, None, None, name, uses, None, "no finite value")
    # paired per-seed baselines only when every seed has one (else the spread is the larger sd)
    bls = [b for f in figs if (b := _baseline_value(f)) is not None]
    unit = next((f["unit_interval"] for f in figs if f.get("unit_interval") is not None), None)
    manifold = [bool(f["on_manifold"]) for f in figs if f.get("on_manifold") is not None]
    on_manifold = None if not manifold else 2 * sum(manifold) >= len(manifold)
    try:
        if len(figs) == 1:
            leak = assess_figure(first)
            st = seed_stats(vals)
            bst = seed_stats(bls) if bls else None
        else:
            leak, st, bst = assess_seeds(
                vals,
                bls or None,
                higher_is_better=higher,
                unit_interval=unit,
                baseline_uses_target=uses,
                on_manifold=on_manifold,
            )
    except MetricError as exc:
        return Row(metric, higher, None, None, name, uses, None, str(exc))
    return Row(metric, higher, st, bst, name, uses, leak)


def _cell_info(root: Path, rec: dict[str, Any]) -> dict[str, Any]:
    """The saved result's ``info`` (JSON only: no tensors are loaded)."""
    path = root / "cells" / str(rec.get("id")) / "result.json"
    try:
        info = read_json(path).get("info") or {}
    except (OSError, ValueError, AttributeError):
        return {}
    return info if isinstance(info, dict) else {}


def _times(root: Path, rec: dict[str, Any]) -> tuple[float | None, float | None]:
    """``(attack seconds, prior-training seconds)`` of a cell; the attack's seconds exclude the
    prior's."""
    total = _finite(rec.get("seconds"))
    prior = _finite(rec.get("prior_seconds"))
    if prior is None:
        prior = _finite(_cell_info(root, rec).get("prior_seconds"))
    if total is None:
        return None, prior
    return (max(0.0, total - prior) if prior is not None else total), prior


def group_records(records: list[dict[str, Any]], root: Path | None = None) -> list[Group]:
    """Group cells that differ only in their seed and aggregate their figures, utility and
    times."""
    groups: dict[str, Group] = {}
    for rec in records:
        spec = rec.get("spec") or {}
        key, base = _keys(rec)
        g = groups.get(key)
        if g is None:
            g = groups[key] = Group(
                key=key,
                base_key=base,
                target=_target(rec),
                attack=str(spec.get("attack", "?")),
                access=str(spec.get("access", "?")),
                defense=spec.get("defense") or None,
                defense_label=_defense_label(spec),
            )
        (g.ok if rec.get("status") == "ok" else g.failed).append(rec)
    for g in groups.values():
        if not g.ok:
            continue
        metrics: dict[str, list[dict[str, Any]]] = {}
        for rec in g.ok:
            for fig in rec.get("figures") or []:
                if isinstance(fig, dict) and "metric" in fig:
                    metrics.setdefault(str(fig["metric"]), []).append(fig)
        g.rows = [aggregate_figures(figs) for figs in metrics.values()]
        util: dict[str, list[float]] = {}
        for rec in g.ok:
            for k, v in (rec.get("utility") or {}).items():
                if (x := _finite(v)) is not None:
                    util.setdefault(str(k), []).append(x)
        g.utility = {k: seed_stats(v) for k, v in util.items()}
        if root is not None:
            times = [_times(root, r) for r in g.ok]
            att = [a for a, _ in times if a is not None]
            pri = [p for _, p in times if p is not None]
            g.attack_seconds = seed_stats(att) if att else None
            g.prior_seconds = seed_stats(pri) if pri else None
        q = [x for r in g.ok if (x := _finite(r.get("queries"))) is not None]
        g.queries = seed_stats(q) if q else None
    return list(groups.values())


# -------------------------------------------------------------------------------------- verdict
@dataclass
class Verdict:
    """The verdict on one target: the worst headline figure of its undefended attacks."""

    target: str
    level: str | None
    group: Group | None
    row: Row | None
    defended_only: bool = False
    secondary: list[tuple[Group, Row]] = field(default_factory=list)
    unjudged: list[tuple[Group, Row]] = field(default_factory=list)
    not_run: list[dict[str, Any]] = field(default_factory=list)
    recommendation: list[str] = field(default_factory=list)
    advice: str = ""

    def sentence(self) -> str:
        """The verdict in one plain sentence."""
        if self.level is None or self.group is None or self.row is None:
            return "No attack ran on this target."
        g, r = self.group, self.row
        s = f"{VERDICT_WORDS[self.level]}. Worst attack: {g.attack} ({g.access} access)"
        if g.defense:
            s += f" under {g.defense_label}"
        s += f": {r.metric} {_stat(r.stats, _pair_nd(r))}"
        if r.bstats is not None:
            s += f" against {_stat(r.bstats, _pair_nd(r))} for the baseline"
            if r.baseline_name:
                s += f" ({r.baseline_name})"
        if r.leak is not None and r.leak.gap is not None:
            s += f"; gap {num(r.leak.gap, sign=True, nd=_pair_nd(r))}"
        if r.leak is not None and r.leak.spread is not None:
            s += f", seed spread {num(r.leak.spread, nd=_pair_nd(r))}"
        n = r.stats.n if r.stats is not None else 0
        s += f" over {n} seed{'s' if n != 1 else ''}" if n else ""
        if n == 1 and (r.leak is None or r.leak.spread is None):
            s += " (one seed: no spread measured)"
        return s + "."

    def to_dict(self) -> dict[str, Any]:
        g, r = self.group, self.row
        return {
            "target": self.target,
            "level": self.level,
            "attack": g.attack if g else None,
            "access": g.access if g else None,
            "defense": g.defense if g else None,
            "metric": r.metric if r else None,
            "value": r.stats.to_dict() if r and r.stats else None,
            "baseline": r.bstats.to_dict() if r and r.bstats else None,
            "baseline_name": r.baseline_name if r else None,
            "gap": r.leak.gap if r and r.leak else None,
            "spread": r.leak.spread if r and r.leak else None,
            "verdict": self.sentence(),
            "defenses": self.recommendation,
            "recommendation": self.advice,
        }


def _pool(groups: list[Group], target: str) -> tuple[list[Group], bool]:
    ran = [g for g in groups if g.target == target and g.headline and g.headline.leak]
    undefended = [g for g in ran if g.defense is None]
    return (undefended, False) if undefended else (ran, bool(ran))


def deciding_row(g: Group) -> Row | None:
    """The figure that speaks for an attack: its headline figure, unless that one cannot be
    judged (its baseline used the target, or it has none): then the worst of its other figures
    that can be (a valid baseline's "high" is not hidden behind an invalid headline)."""
    head = g.headline
    if head is None or head.leak is None:
        return None
    if head.leak.level not in ("invalid baseline", "no baseline"):
        return head
    judged = [(r, r.leak) for r in g.rows[1:] if r.leak and r.leak.level not in NON_JUDGEMENT]
    w = worst(judged)
    return w[0] if w is not None else head


def verdict_for(groups: list[Group], target: str) -> Verdict:
    """The target's verdict: :func:`mi_core.leakage.worst` over its undefended attacks'
    deciding figures (:func:`deciding_row`), and the figures that qualify it."""
    pool, defended_only = _pool(groups, target)
    not_run = [r for g in groups if g.target == target for r in g.failed]
    rows: dict[str, Row] = {}
    judged: list[tuple[Group, Leakage]] = []
    for g in pool:
        r = deciding_row(g)
        if r is not None and r.leak is not None:
            rows[g.key] = r
            judged.append((g, r.leak))
    w = worst(judged)
    if w is None:
        return Verdict(target, None, None, None, not_run=not_run)
    g, lk = w
    v = Verdict(target, lk.level, g, rows[g.key], defended_only, not_run=not_run)
    for h in pool:
        head = h.headline
        assert head is not None and head.leak is not None
        if head.leak.level in NON_JUDGEMENT and (h is not g or rows[h.key] is not head):
            v.unjudged.append((h, head))
        for r in h.rows:
            if r is rows.get(h.key) or r is head:
                continue
            worse = r.leak is not None and r.leak.severity > lk.severity
            if worse and r.leak is not None and r.leak.level in ("high", "some"):
                v.secondary.append((h, r))
    v.recommendation, v.advice = recommend(groups, target, v)
    return v


def _util_pair(u: Group, d: Group) -> tuple[str, SeedStats, SeedStats] | None:
    for k, st in d.utility.items():
        if k in u.utility:
            return k, u.utility[k], st
    return None


def recommend(groups: list[Group], target: str, verdict: Verdict) -> tuple[list[str], str]:
    """Drawn from the defense cells that ran: a sentence per defense (what it did to each
    attack's headline figure: the value and the leakage level by the one rule, before -> after,
    and at what utility), and the advice that follows."""
    undefended = {g.base_key: g for g in groups if g.target == target and g.defense is None}
    by_defense: dict[str, list[tuple[Group, Group, Row, Row]]] = {}
    for d in groups:
        if d.target != target or d.defense is None:
            continue
        u = undefended.get(d.base_key)
        ru = deciding_row(u) if u is not None else None
        if u is None or ru is None or ru.leak is None:
            continue
        rd = d.row(ru.metric)
        if rd is None or rd.leak is None:
            continue
        by_defense.setdefault(d.defense_label, []).append((u, d, ru, rd))
    out: list[str] = []
    # defense -> (worst level left, its severity, utility drop, "at utility u -> d")
    outcome: dict[str, tuple[str, int, float, str]] = {}
    stays: dict[str, list[str]] = {}  # defense -> attacks it leaves at high / some
    lowered_by: dict[str, list[str]] = {}  # defense -> attacks whose level it lowered
    for label, pairs in by_defense.items():
        phrases = []
        left: Leakage | None = None
        drop, util_note = 0.0, ""
        for u, d, ru, rd in pairs:
            assert ru.leak is not None and rd.leak is not None
            values = (
                f"{ru.metric} {_stat(ru.stats, _pair_nd(ru))} → {_stat(rd.stats, _pair_nd(ru))}"
            )
            a, lu, ld = u.attack, ru.leak.level, rd.leak.level
            unjudgeable = ("invalid baseline", "no baseline")
            if lu in unjudgeable or ld in unjudgeable:
                phrases.append(f"cannot be compared on {a} ({values}; leakage {lu} → {ld})")
            elif rd.leak.severity < ru.leak.severity:
                phrases.append(f"lowered {a}'s leakage from {lu} to {ld} ({values})")
                lowered_by.setdefault(label, []).append(a)
            elif rd.leak.severity > ru.leak.severity:
                phrases.append(f"raised {a}'s leakage from {lu} to {ld} ({values})")
            else:
                phrases.append(f"left {a}'s leakage {ld} ({values})")
            if ld in ("high", "some"):
                stays.setdefault(label, []).append(f"{a} ({ld})")
            if left is None or rd.leak.severity > left.severity:
                left = rd.leak
            up = _util_pair(u, d)
            if up is not None and not util_note:
                k, su, sd = up
                util_note = f" at {k} {_stat(su)} → {_stat(sd)}"
                lower_better = "perplexity" in k.lower() or "loss" in k.lower()
                drop = (sd.mean - su.mean) if lower_better else (su.mean - sd.mean)
        out.append(f"{label} " + "; ".join(phrases) + util_note + ".")
        if left is not None:
            outcome[label] = (left.level, left.severity, drop, util_note)
    advice = ""
    level = verdict.level
    if level in ("high", "some"):
        before = verdict.row.leak if verdict.row is not None else None
        if not outcome:
            advice = (
                "No defense cells ran for this target: add [[defenses]] to the audit file (for "
                "example top-k or label-only for a released API, a training defense for the "
                "weights) to see which one lowers the leakage and what it costs."
            )
        else:
            best = min(outcome, key=lambda k: (outcome[k][1], outcome[k][2]))
            worst_left, sev, _, note = outcome[best]
            if before is not None and sev < before.severity:
                advice = (
                    f"{best}: the worst leakage left among the attacks it was tried against is "
                    f"{worst_left}{',' if note else ''}{note}."
                )
                covered = {u.base_key for u, *_ in by_defense[best]}
                untried = [
                    f"{g.attack} ({g.access}, {r.leak.level})"
                    for g in undefended.values()
                    if g.base_key not in covered
                    and (r := deciding_row(g)) is not None
                    and r.leak is not None
                    and r.leak.level in ("high", "some")
                ]
                if untried:
                    advice += (
                        f" It was not tried against {', '.join(untried)}: those leak as they do "
                        "until a defense that applies to them is audited."
                    )
            else:
                advice = (
                    "None of the defenses tried lowers the worst leakage across the attacks it "
                    "was tried against"
                )
                partial = [k for k in outcome if lowered_by.get(k)]
                if partial:
                    k = partial[0]
                    advice += (
                        f" ({k} lowered {', '.join(lowered_by[k])} but leaves "
                        f"{', '.join(stays.get(k, []))})"
                    )
                advice += (
                    ": try a stronger setting or a defense at another stage (training, release)."
                )
    elif level == "not shown":
        advice = (
            "No attack that ran beat its baseline by more than the seed spread. This is evidence, "
            "not proof: stronger attacks, more queries or more seeds may show leakage."
        )
    elif level is not None:
        advice = f"No verdict on leakage: {EXPLAIN[level]}."
    return out, advice


# ------------------------------------------------------------------------------------- evidence
def _class_name(c: Any, names: Any) -> str:
    if isinstance(names, list) and isinstance(c, int) and 0 <= c < len(names):
        return str(names[c])
    return str(c)


def _as_list(x: Any) -> list[Any] | None:
    if x is None:
        return None
    if hasattr(x, "tolist"):
        out = x.tolist()
        return out if isinstance(out, list) else [out]
    return list(x) if isinstance(x, list | tuple) else None


@register_evidence("image")
def image_evidence(result: Any) -> str:
    """Reconstructions as wrapping tiles, each above the mean private image of its class and
    labelled with the class and the evaluation model's prediction."""
    from mi_core.report.images import grid_image, png_bytes

    rec = result.reconstructions
    if not hasattr(rec, "ndim") or rec.ndim != 4 or rec.shape[0] == 0:
        return "<p>No image reconstructions.</p>"
    n = min(int(rec.shape[0]), MAX_TILES)
    targets = _as_list(result.targets)
    preds = _as_list(result.arrays.get("eval_pred"))
    leaked = _as_list(result.arrays.get("leaked"))
    means = result.arrays.get("class_means")
    names = result.info.get("class_names")
    has_means = (
        means is not None and len(means) >= n and tuple(means.shape[1:]) == tuple(rec.shape[1:])
    )
    scale = max(1, 64 // int(rec.shape[-1]))
    tiles = []
    for i in range(n):
        rows = [rec[i : i + 1]] + ([means[i : i + 1]] if has_means else [])
        png = png_bytes(grid_image(rows, scale=scale, pad=1))
        cap = []
        t = targets[i] if targets is not None and i < len(targets) else None
        if t is not None:
            cap.append(f"class {esc(_class_name(t, names))}")
        if preds is not None and i < len(preds):
            p = preds[i]
            ok = t is not None and p == t
            mark = "✓" if ok else "✗"
            cls = "ok" if ok else "bad"
            cap.append(f"<span class={cls}>eval {esc(_class_name(p, names))} {mark}</span>")
        if leaked is not None and i < len(leaked) and bool(leaked[i]):
            cap.append("<b class=bad>leaked</b>")
        alt = f"reconstruction {i}" + (
            f" of class {_class_name(t, names)}" if t is not None else ""
        )
        tiles.append(
            f"<figure class=tile>{img_tag(png, alt)}<figcaption>{'<br>'.join(cap)}"
            "</figcaption></figure>"
        )
    more = (
        f"<p class=small>{int(rec.shape[0]) - n} more reconstructions not shown.</p>"
        if rec.shape[0] > n
        else ""
    )
    legend = "Each tile: a reconstruction"
    if has_means:
        legend += (
            " (top) above the mean private image of its class (bottom; never seen by the attack)"
        )
    legend += "; caption: the class the attack aimed at"
    if preds is not None:
        legend += ", and what the evaluation model predicts for the reconstruction (✓: that class)"
    if leaked is not None:
        legend += "; leaked: recognised and on the image manifold"
    return f"<div class=tiles>{''.join(tiles)}</div>{more}<p class=small>{esc(legend)}.</p>"


def _info_tables(result: Any) -> str:
    """Mappings in ``info`` whose key names ranks or exposures (e.g. per canary)."""
    out = []
    for key, val in (result.info or {}).items():
        low = str(key).lower()
        if not isinstance(val, dict) or not ("rank" in low or "exposure" in low):
            continue
        items = [(k, v) for k, v in val.items() if _finite(v) is not None or v is None][:50]
        if not items:
            continue
        body = "".join(
            f"<tr><td><code>{esc(k)}</code></td><td class=num>{fmt(v)}</td></tr>" for k, v in items
        )
        out.append(
            _wrap(
                f"<table class=narrow><caption>{esc(key)}</caption><tr><th>item</th>"
                f"<th>{esc(key)}</th></tr>{body}</table>"
            )
        )
    return "".join(out)


@register_evidence("text")
def text_evidence(result: Any) -> str:
    """Recovered strings, private strings highlighted where they were recovered."""
    rec = result.reconstructions
    tables = _info_tables(result)
    if not isinstance(rec, list) or not rec or not all(isinstance(r, str) for r in rec):
        return tables
    secrets = [s for s in result.info.get("secrets", []) if isinstance(s, str) and s]
    items = []
    for text in rec[:12]:
        body = esc(text)
        for sec in sorted(secrets, key=len, reverse=True):
            body = body.replace(esc(sec), f"<mark>{esc(sec)}</mark>")
        items.append(f"<li><code>{body}</code></li>")
    more = f"<p class=small>{len(rec) - 12} more not shown.</p>" if len(rec) > 12 else ""
    note = (
        "<p class=small>Highlighted: private strings of the training data found in the "
        "recovered text.</p>"
        if secrets
        else ""
    )
    return f"<ol class=texts>{''.join(items)}</ol>{more}{note}{tables}"


def curves_evidence(result: Any) -> str:
    """ROC and precision-recall curves of scores against ground truth."""
    from mi_core.metrics.ranking import average_precision, roc_auc, roc_curve

    s, y = result.arrays.get("eval_scores"), result.arrays.get("eval_labels")
    if s is None or y is None:
        return ""
    s_np = np.asarray(s, dtype=np.float64).reshape(-1)
    y_np = np.asarray(y).reshape(-1).astype(int)
    try:
        fpr, tpr = roc_curve(s_np, y_np)
        auc, ap = roc_auc(s_np, y_np), average_precision(s_np, y_np)
    except MetricError as exc:
        return f"<p class=small>No curves: {esc(exc)}</p>"
    order = np.argsort(-s_np, kind="mergesort")
    tp = np.cumsum(y_np[order])
    precision = tp / np.arange(1, len(tp) + 1)
    recall = tp / max(1, y_np.sum())
    roc = line_chart(
        [(f"AUC {auc:.3f}", fpr.tolist(), tpr.tolist())],
        title="ROC",
        xlabel="false positive rate",
        ylabel="true positive rate",
        diagonal=True,
    )
    base = float(y_np.mean())
    pr = line_chart(
        [
            (f"AP {ap:.3f}", recall.tolist(), precision.tolist()),
            (f"chance {base:.3f}", [0.0, 1.0], [base, base]),
        ],
        title="Precision-recall",
        xlabel="recall",
        ylabel="precision",
    )
    return f"<div class=charts>{roc}{pr}</div>"


def confusion_evidence(result: Any) -> str:
    """A confusion matrix of inferred vs true attribute values."""
    cm = result.arrays.get("confusion")
    if cm is None:
        return ""
    m = np.asarray(cm, dtype=np.float64)
    classes = result.info.get("classes") or [str(i) for i in range(m.shape[0])]
    top = m.max() or 1.0
    head = "".join(f"<th>{esc(c)}</th>" for c in classes)
    rows = []
    for i, c in enumerate(classes):
        cells = "".join(
            f"<td class=num style='background:rgba(31,119,180,{m[i, j] / top:.2f})'>"
            f"{int(m[i, j])}</td>"
            for j in range(m.shape[1])
        )
        rows.append(f"<tr><th>{esc(c)}</th>{cells}</tr>")
    return _wrap(
        "<table class=confusion><caption>Confusion matrix (rows: true value, columns: "
        f"inferred)</caption><tr><th></th>{head}</tr>{''.join(rows)}</table>"
    )


# ------------------------------------------------------------------------------------- sections
_CSS = """
*,*::before,*::after{box-sizing:border-box}
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:1.5rem auto;
max-width:1100px;padding:0 1rem;color:#1d1d1f;line-height:1.45;overflow-wrap:break-word}
h1{font-size:1.6rem;margin-bottom:.2rem} h2{margin-top:2.2rem;border-bottom:1px solid #ddd}
h3{overflow-wrap:anywhere}
.tablewrap{overflow-x:auto;max-width:100%;margin:.6rem 0}
table{border-collapse:collapse;width:100%;font-size:.9rem}
table.narrow,table.confusion{width:auto}
th,td{border:1px solid #ddd;padding:.3rem .45rem;text-align:left;vertical-align:top}
th{background:#f5f5f7} td.num{text-align:right;font-variant-numeric:tabular-nums}
td.base .bname{display:block;text-align:left;min-width:9rem}
caption{caption-side:top;text-align:left;font-size:.85rem;color:#555}
tr.more>td{background:#fafafa;padding:.2rem .45rem} tr.head td{font-weight:500}
details>summary{cursor:pointer;color:#0b57d0;font-size:.88rem}
.ok{color:#0a7d32}.warn{color:#b25000}.bad{color:#b00020}.small{font-size:.85rem;color:#555}
.lv{display:inline-block;padding:.05rem .45rem;border-radius:.7rem;font-size:.82rem;
font-weight:600;white-space:nowrap;border:1px solid transparent}
.lv-high{background:#b00020;color:#fff}.lv-some{background:#f4a300;color:#1d1d1f}
.lv-none{background:#d8f0de;color:#0a5d26;border-color:#0a7d32}
.lv-adv{background:#efe3fb;color:#5b1c99;border:1px dashed #5b1c99}
.lv-invalid{background:#fff;color:#b00020;border:1px dashed #b00020}
.lv-nobase{background:#eee;color:#444}
section.verdict{border:2px solid #ddd;border-radius:10px;padding:.5rem 1rem;margin:1rem 0}
section.verdict.v-high{border-color:#b00020}section.verdict.v-some{border-color:#f4a300}
section.verdict.v-none{border-color:#0a7d32}section.verdict.v-adv{border-color:#5b1c99}
section.verdict.v-invalid{border-color:#b00020;border-style:dashed}
section.verdict h3{margin:.4rem 0}
section.cell{border:1px solid #e5e5e5;border-radius:8px;padding:.4rem 1rem;margin:1rem 0;
min-width:0}
figure{margin:.6rem 0} figcaption{font-size:.85rem;color:#555}
img{image-rendering:pixelated;max-width:100%;height:auto}
.tiles{display:flex;flex-wrap:wrap;gap:.5rem;margin:.6rem 0}
.tiles figure.tile{margin:0;text-align:center;max-width:100%}
.tiles figure.tile figcaption{font-size:.75rem;line-height:1.25}
.charts{display:flex;flex-wrap:wrap;gap:1rem;align-items:flex-start}
.putable{flex:1 1 320px;min-width:0}
figure.chart{margin:.4rem 0;max-width:100%} figure.chart svg{display:block;max-width:100%;
height:auto} figure.chart>figcaption{font-weight:600;color:#1d1d1f;max-width:340px}
ul.legend{list-style:none;padding:0;margin:.2rem 0;font-size:.8rem;max-width:340px}
ul.legend li{display:inline-flex;align-items:center;margin:0 .8rem .1rem 0}
ul.legend svg.swatch{margin-right:.3rem;flex:none}
mark{background:#ffd54f} ol.texts code{white-space:break-spaces;overflow-wrap:anywhere}
pre{overflow-x:auto;max-width:100%;font-size:.78rem;background:#f7f7f7;padding:.4rem}
nav{display:flex;flex-wrap:wrap;gap:.2rem .8rem}
dl.terms dt{font-weight:600} dl.terms dd{margin:0 0 .4rem 1rem}
"""

# After load, report broken images on the console and count them on <body> (tests read it).
_CHECK_IMAGES = (
    "<script>window.addEventListener('load',function(){var bad=0;for(const i of "
    "document.images){if(!(i.complete&&i.naturalWidth>0)){bad++;"
    "console.error('image failed to load: '+i.alt)}}"
    "document.body.setAttribute('data-broken-images',String(bad))});</script>"
)
_VERDICT_CLASS = {
    "high": "v-high",
    "some": "v-some",
    "not shown": "v-none",
    "adversarial": "v-adv",
    "invalid baseline": "v-invalid",
    "no baseline": "",
}


def _verdict_html(v: Verdict) -> str:
    slug = _slug(v.target)
    if v.level is None:
        why = "".join(
            f"<li>{esc(r['spec'].get('attack'))} ({esc(r['spec'].get('access'))}): "
            f"{esc(r.get('status'))}: {esc(r.get('message', ''))}</li>"
            for r in v.not_run[:8]
        )
        return (
            f"<section class=verdict id='verdict-{slug}'><h3>{esc(v.target)}: "
            f"{badge(None, 'no verdict')}</h3><p>No attack ran on this target.</p>"
            f"<ul class=small>{why}</ul></section>"
        )
    assert v.group is not None and v.row is not None
    parts = [
        f"<section class='verdict {_VERDICT_CLASS[v.level]}' id='verdict-{slug}'>",
        f"<h3>{esc(v.target)}: {badge(v.level, VERDICT_WORDS[v.level])}</h3>",
        f"<p>{esc(v.sentence())}</p>",
    ]
    if v.row.leak is not None:
        parts.append(f"<p class=small>Why this level: {esc(v.row.leak.reason)}.</p>")
    notes = []
    if v.defended_only:
        notes.append(
            "Every cell of this target ran under a defense: the verdict is on the defended model."
        )
    if v.secondary:
        items = []
        for g, r in v.secondary:
            assert r.leak is not None
            base = f", baseline: {r.baseline_name}" if r.baseline_name else ""
            items.append(f"{g.attack}'s {r.metric} ({r.leak.level}{base})")
        notes.append(
            "Other figures rate higher, each against its own baseline: " + "; ".join(items) + "."
        )
    for g, r in v.unjudged:
        assert r.leak is not None
        note = f"{g.attack} ({g.access}): {r.metric} {r.leak.level}: {EXPLAIN[r.leak.level]}"
        if r is g.headline and g is v.group and v.row is not r and v.row is not None:
            note += f"; the verdict reads its {v.row.metric} instead"
        notes.append(note + ".")
    if v.not_run:
        ok_skip = sum(r.get("status") == "not-applicable" for r in v.not_run)
        err = len(v.not_run) - ok_skip
        s = f"{len(v.not_run)} cell(s) of this target did not run"
        s += f" ({ok_skip} not applicable, {err} failed)" if err else " (not applicable)"
        notes.append(s + "; see the risk summary.")
    if notes:
        parts.append("<ul class=small>" + "".join(f"<li>{esc(n)}</li>" for n in notes) + "</ul>")
    if v.advice:
        parts.append(f"<p class=advice><b>Recommendation:</b> {esc(v.advice)}</p>")
    if v.recommendation:
        parts.append(
            "<p class=small><b>Defenses that ran:</b></p><ul class=small>"
            + "".join(f"<li>{esc(s)}</li>" for s in v.recommendation)
            + "</ul>"
        )
    parts.append("</section>")
    return "".join(parts)


def _time_cell(g: Group) -> str:
    """The attack's own seconds, and apart from them the prior's training seconds."""
    if g.attack_seconds is None:
        return "<td class=num>–</td>"
    cell = f"{_cstat(g.attack_seconds, 1)}"
    if g.prior_seconds is not None:
        cell += f"<br><span class=small>+ prior {_cstat(g.prior_seconds, 1)}</span>"
    return f"<td class=num>{cell}</td>"


def _row_cells(r: Row) -> str:
    """figure | attack | baseline (and what it is) | gap ± spread | leakage"""
    nd = _pair_nd(r)
    base = _cstat(r.bstats, nd) if r.bstats is not None else "–"
    name = esc(r.baseline_name)
    if r.baseline_uses_target:
        name += " <span class=bad>(used the target)</span>"
    if name:
        base += f"<br><span class='small bname'>{name}</span>"
    gap = "–"
    if r.leak is not None and r.leak.gap is not None:
        gap = num(r.leak.gap, sign=True, nd=nd)
        if r.leak.spread is not None:
            gap += f"<br><span class=small>± {num(r.leak.spread, nd=nd)}</span>"
    level = badge(r.leak.level if r.leak else None)
    if r.error:
        level = f"<span class=bad>{esc(r.error)}</span>"
    line = glossary.metric_line(r.metric, r.higher)
    return (
        f"<td><span title='{esc(line.meaning)}; {esc(line.direction)}'>{esc(r.metric)}</span>"
        f" <span class=small>{'↑' if r.higher else '↓'}</span></td>"
        f"<td class=num>{_cstat(r.stats, nd)}</td><td class='num base'>{base}</td>"
        f"<td class=num>{gap}</td><td>{level}</td>"
    )


def _summary(groups: list[Group], targets: list[str]) -> str:
    """Per target: one headline row per attack (its first figure), the other figures folded
    under it, and the cells that did not run."""
    parts = []
    head = (
        "<tr><th>attack (access)</th><th>defense</th><th>figure</th><th>attack</th>"
        "<th>baseline</th><th>gap ± spread</th><th>leakage</th><th>seeds</th>"
        "<th>attack s (+ prior)</th></tr>"
    )
    for t in targets:
        rows = []
        not_run = []
        for g in (g for g in groups if g.target == t):
            not_run.extend(g.failed)
            if not g.ok or g.headline is None:
                continue
            link = f"<a href='#{esc(g.ok[0]['id'])}'>{esc(g.attack)}</a>"
            seeds = len(g.ok)
            rows.append(
                f"<tr class=head><td>{link}<br><span class=small>{esc(g.access)}</span></td>"
                f"<td>{esc(g.defense_label)}</td>{_row_cells(g.headline)}"
                f"<td class=num>{seeds}</td>{_time_cell(g)}</tr>"
            )
            if len(g.rows) > 1:
                sub = "".join(f"<tr>{_row_cells(r)}</tr>" for r in g.rows[1:])
                table = _wrap(
                    "<table><tr><th>figure</th><th>attack</th><th>baseline</th>"
                    f"<th>gap ± spread</th><th>leakage</th></tr>{sub}</table>"
                )
                rows.append(
                    f"<tr class=more><td colspan=9><details><summary>{len(g.rows) - 1} more "
                    f"figure{'s' if len(g.rows) > 2 else ''} of {esc(g.attack)}</summary>{table}"
                    "</details></td></tr>"
                )
        parts.append(f"<h3 id='summary-{_slug(t)}'>Target: {esc(t)}</h3>")
        if rows:
            parts.append(_wrap(f"<table class=summary>{head}{''.join(rows)}</table>"))
        if not_run:
            items = "".join(_not_run_item(r) for r in not_run)
            parts.append(
                f"<p class=small>Did not run ({len(not_run)}):</p><ul class=small>{items}</ul>"
            )
    return "".join(parts)


def _not_run_item(rec: dict[str, Any]) -> str:
    spec = rec.get("spec") or {}
    where = esc(spec.get("access"))
    if spec.get("defense"):
        where += ", " + esc(_defense_label(spec))
    cls = "warn" if rec.get("status") == "not-applicable" else "bad"
    return (
        f"<li><a href='#{esc(rec.get('id', ''))}'>{esc(spec.get('attack'))}</a> ({where}): "
        f"<span class={cls}>{esc(rec.get('status'))}</span>: {esc(rec.get('message', ''))}</li>"
    )


def _privacy_utility(groups: list[Group]) -> str:
    """Per (target, attack): the attack's deciding figure against the target's utility,
    undefended and under each defense: a chart beside a table."""
    blocks = []
    bases: dict[str, list[Group]] = {}
    for g in groups:
        if g.ok and g.headline is not None:
            bases.setdefault(g.base_key, []).append(g)
    for members in bases.values():
        undefended = next((g for g in members if g.defense is None), None)
        if undefended is None or not any(g.defense for g in members):
            continue
        head = deciding_row(undefended)
        if head is None or not undefended.utility:
            continue
        umetric = next(iter(undefended.utility))
        points: list[tuple[str, float, float]] = []
        errors: list[tuple[float | None, float | None]] = []
        rows = []
        for g in [undefended] + [g for g in members if g.defense]:
            r = g.row(head.metric)
            us = g.utility.get(umetric)
            if r is None or r.stats is None or us is None:
                continue
            points.append((g.defense_label, us.mean, r.stats.mean))
            errors.append((us.std or None, r.stats.std or None))
            rows.append(
                f"<tr><td>{esc(g.defense_label)}</td><td class=num>{_cstat(us)}</td>"
                f"<td class=num>{_cstat(r.stats, _pair_nd(head))}</td>"
                f"<td>{badge(r.leak.level if r.leak else None)}</td></tr>"
            )
        if len(points) < 2:
            continue
        title = f"{undefended.target}: {undefended.attack} ({undefended.access})"
        hline = None
        if head.bstats is not None:
            hline = (f"baseline: {head.baseline_name or 'baseline'}", head.bstats.mean)
        chart = scatter_chart(
            points,
            title=title,
            xlabel=f"{umetric} (utility)",
            ylabel=f"{head.metric} {'↑' if head.higher else '↓'} attacker",
            errors=errors,
            yunit=glossary.metric_line(head.metric, head.higher).unit_interval,
            hline=hline,
        )
        table = _wrap(
            f"<table class=narrow><caption>{esc(title)}</caption><tr><th>defense</th>"
            f"<th>{esc(umetric)}</th><th>{esc(head.metric)}</th><th>leakage</th></tr>"
            f"{''.join(rows)}</table>"
        )
        blocks.append(f"<div class=charts>{chart}<div class=putable>{table}</div></div>")
    if not blocks:
        return "<p>No defenses were compared in this audit.</p>"
    return (
        "<p class=small>Each point is the target undefended or under one defense: the attack's "
        "figure (mean over seeds, bars: ± one standard deviation) against the target's utility. "
        "A good defense moves the point toward the baseline line without moving it left.</p>"
        + "".join(blocks)
    )


def _glossary(groups: list[Group], records: list[dict[str, Any]]) -> str:
    """A line per leakage level, per metric, per attack, per access level and per term."""
    modalities = {str(r["modality"]) for r in records if r.get("modality")}
    glossary.load_metric_modules(modalities or None)
    levels = "".join(f"<tr><td>{badge(lv)}</td><td>{esc(EXPLAIN[lv])}</td></tr>" for lv in LEVELS)
    metrics: dict[str, bool] = {}
    utility: set[str] = set()
    for g in groups:
        for r in g.rows:
            metrics.setdefault(r.metric, r.higher)
        utility.update(g.utility)
    mrows = []
    for m, hib in metrics.items():
        line = glossary.metric_line(m, hib)
        rng = (
            "[0, 1]" if line.unit_interval else ("unbounded" if line.unit_interval is False else "")
        )
        mrows.append(
            f"<tr><td><code>{esc(m)}</code></td><td>{esc(line.meaning)}</td>"
            f"<td>{'↑ ' if hib else '↓ '}{esc(line.direction)}</td><td class=small>{rng}</td></tr>"
        )
    for u in sorted(utility):
        mrows.append(
            f"<tr><td><code>{esc(u)}</code></td><td>{esc(glossary.utility_line(u))}</td>"
            "<td>utility of the target, not an attack figure</td><td></td></tr>"
        )
    attacks: dict[str, set[str]] = {}
    for rec in records:
        spec = rec.get("spec") or {}
        if spec.get("attack"):
            attacks.setdefault(str(spec["attack"]), set()).add(str(spec.get("access", "")))
    arows = "".join(
        f"<tr><td>{esc(a)}</td><td>{esc(', '.join(sorted(acc)))}</td>"
        f"<td>{esc(glossary.attack_summary(a) or '–')}</td></tr>"
        for a, acc in attacks.items()
    )
    defenses = sorted({str(g.defense) for g in groups if g.defense})
    drows = "".join(
        f"<tr><td>{esc(d)}</td><td>{esc(glossary.defense_summary(d) or '–')}</td></tr>"
        for d in defenses
    )
    accesses = sorted({g.access for g in groups if g.access in glossary.ACCESS})
    terms = {**{f"{a} access": glossary.ACCESS[a] for a in accesses}, **glossary.TERMS}
    dl = "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in terms.items())
    out = [
        "<h3>Leakage levels</h3>",
        _wrap(f"<table><tr><th>level</th><th>meaning</th></tr>{levels}</table>"),
        "<h3>Figures</h3>",
        _wrap(
            "<table><tr><th>figure</th><th>what it measures</th><th>direction</th>"
            f"<th>range</th></tr>{''.join(mrows)}</table>"
        ),
        "<h3>Attacks</h3>",
        _wrap(
            "<table><tr><th>attack</th><th>access used</th><th>what it does</th></tr>"
            f"{arows}</table>"
        ),
    ]
    if drows:
        out += [
            "<h3>Defenses</h3>",
            _wrap(f"<table><tr><th>defense</th><th>what it does</th></tr>{drows}</table>"),
        ]
    out += ["<h3>Terms</h3>", f"<dl class=terms>{dl}</dl>"]
    return "".join(out)


def _cell_meta(root: Path, rec: dict[str, Any]) -> str:
    att, prior = _times(root, rec)
    bits = [f"queries: {fmt(rec.get('queries'))}", f"attack s: {num(att, nd=1)}"]
    bits.append(
        f"prior training s: {num(prior, nd=1)}" if prior is not None else "no prior trained"
    )
    if rec.get("utility"):
        bits.append(
            "utility: " + ", ".join(f"{esc(k)} {num(v)}" for k, v in rec["utility"].items())
        )
    return "<p class=small>" + " · ".join(bits) + "</p>"


def _cell_figures(rec: dict[str, Any]) -> str:
    """This cell's figures (one seed), each judged by :func:`assess_figure`."""
    rows = []
    for i, fig in enumerate(rec.get("figures") or []):
        try:
            lk: Leakage | None = assess_figure(fig)
        except (MetricError, KeyError, TypeError):
            lk = None
        bl = fig.get("baseline") or {}
        bname = esc(_baseline_name(fig)) if isinstance(bl, dict) else ""
        if fig.get("baseline_uses_target"):
            bname += " <span class=bad>(used the target)</span>"
        cls = " class=head" if i == 0 else ""
        nd = decimals(fig.get("value"), _baseline_value(fig))
        gap = num(lk.gap, sign=True, nd=nd) if lk and lk.gap is not None else "–"
        rows.append(
            f"<tr{cls}><td>{esc(fig.get('metric'))}</td>"
            f"<td class=num>{num(fig.get('value'), nd=nd)}</td>"
            f"<td class=num>{num(_baseline_value(fig), nd=nd)}</td><td class=small>{bname}</td>"
            f"<td class=num>{gap}</td><td>{badge(lk.level if lk else None)}</td></tr>"
        )
    return _wrap(
        "<table><tr><th>figure (this seed)</th><th>attack</th><th>baseline</th><th>baseline is</th>"
        f"<th>gap</th><th>leakage</th></tr>{''.join(rows)}</table>"
    )


def _evidence(root: Path, groups: list[Group]) -> str:
    from mi_core.result import AttackResult

    parts = []
    for g in groups:
        for i, rec in enumerate(g.ok + g.failed):
            spec = rec.get("spec") or {}
            head = f"{g.target} · {g.attack} · {g.access}"
            if g.defense:
                head += f" · defense {g.defense_label}"
            if "seed" in spec:
                head += f" · seed {spec['seed']}"
            parts.append(f"<section class=cell id='{esc(rec.get('id', ''))}'><h3>{esc(head)}</h3>")
            if rec.get("status") != "ok":
                parts.append(
                    f"<p class={'warn' if rec.get('status') == 'not-applicable' else 'bad'}>"
                    f"{esc(rec.get('status'))}: {esc(rec.get('message', ''))}</p>"
                )
                if rec.get("traceback"):
                    parts.append(
                        f"<details><summary>traceback</summary><pre>{esc(rec['traceback'])}</pre>"
                        "</details>"
                    )
                parts.append("</section>")
                continue
            parts.append(_cell_meta(root, rec))
            body = []
            try:
                result = AttackResult.load(root / "cells" / str(rec["id"]))
            except (OSError, ValueError, KeyError) as exc:
                body.append(f"<p class=small>No saved result to show: {esc(exc)}</p>")
            else:
                renderer = _EVIDENCE.get(result.modality)
                if renderer is not None:
                    body.append(renderer(result))
                body.append(curves_evidence(result))
                body.append(confusion_evidence(result))
            body.append(_cell_figures(rec))
            inner = "".join(body)
            if i == 0:
                parts.append(inner)
            else:
                parts.append(f"<details><summary>evidence of this seed</summary>{inner}</details>")
            parts.append("</section>")
    return "".join(parts)


def _intro(records: list[dict[str, Any]]) -> str:
    n_ok = sum(r.get("status") == "ok" for r in records)
    n_na = sum(r.get("status") == "not-applicable" for r in records)
    n_err = len(records) - n_ok - n_na
    counts = f"{len(records)} cells: {n_ok} ran"
    if n_na:
        counts += f", {n_na} not applicable"
    if n_err:
        counts += f", {n_err} failed"
    return (
        f"<p class=small>{counts}. Each attack's figure stands beside a baseline, named in its "
        "row. The gap (signed so that a positive gap favours the attacker) is read as the model's "
        "leakage by one rule (mi_core.leakage): only when the baseline never used the target, "
        "only beyond the spread over seeds, and for images only when the reconstructions are on "
        "the data manifold. A baseline computed from the target itself is flagged "
        f"{badge('invalid baseline')}; outputs that fool the evaluation model without resembling "
        f"the private data are flagged {badge('adversarial')}. See "
        "<a href='#how-to-read'>how to read this report</a>.</p>"
    )


def render_report(
    records: list[dict[str, Any]], workdir: str | Path, *, title: str = "Model inversion audit"
) -> Path:
    """Write ``workdir/report/index.html`` and ``workdir/report/results.json`` (the cell records
    and the verdicts); return the HTML path."""
    root = Path(workdir)
    out = root / "report"
    groups = group_records(records, root)
    targets = list(dict.fromkeys(_target(r) for r in records))
    verdicts = [verdict_for(groups, t) for t in targets]
    parts = [
        "<!doctype html><html lang=en><head><meta charset=utf-8>",
        "<meta name=viewport content='width=device-width, initial-scale=1'>",
        f"<title>{esc(title)}</title><style>{_CSS}</style>{_CHECK_IMAGES}</head><body>",
        f"<h1>{esc(title)}</h1>",
        _intro(records),
        "<nav class=small><a href='#verdict'>Verdict</a><a href='#summary'>Risk summary</a>"
        "<a href='#privacy-utility'>Privacy-utility</a><a href='#evidence'>Evidence</a>"
        "<a href='#how-to-read'>How to read</a></nav>",
        "<section id=verdict><h2>Verdict</h2>",
        "".join(_verdict_html(v) for v in verdicts),
        "</section><section id=summary><h2>Risk summary</h2>",
        "<p class=small>One headline row per attack: its evaluator's first figure, mean ± "
        "standard deviation over the seeds that ran; ↑ / ↓: higher / lower favours the attacker. "
        "The other figures are folded under it. Hover a figure's name for its meaning.</p>",
        _summary(groups, targets),
        "</section><section id=privacy-utility><h2>Privacy-utility</h2>",
        _privacy_utility(groups),
        "</section><section id=evidence><h2>Evidence</h2>",
        _evidence(root, groups),
        "</section><section id=how-to-read><h2>How to read this report</h2>",
        _glossary(groups, records),
        "</section></body></html>",
    ]
    path = atomic_write_text(out / "index.html", "\n".join(parts))
    atomic_write_json(
        out / "results.json",
        {"title": title, "verdicts": [v.to_dict() for v in verdicts], "cells": records},
    )
    return path


def verdicts(records: Iterable[dict[str, Any]]) -> list[Verdict]:
    """The verdict per target of cell records (as :func:`render_report` shows them)."""
    recs = list(records)
    groups = group_records(recs)
    return [verdict_for(groups, t) for t in dict.fromkeys(_target(r) for r in recs)]
